//! Bulk provisioning from an HR export (CSV with a header row). Idempotent by employee id: a new
//! id creates an account, a changed row updates it (a name change renames it, the old address
//! kept as an alias), an unchanged row changes nothing. Bad rows are reported with their line
//! and do not stop the others. Departments are created on demand; supervisors are linked in a
//! second pass, so a supervisor may appear anywhere in the file.

use crate::authz::{Permission, require};
use crate::directory::{Placement, check_employee_id, name_of, row_fields};
use crate::{AccountStatus, Actor, Directory, IdentityError, NewAccount, PersonName};
use carepost_audit::action;
use carepost_store::{AccountRow, AuditRepo, DirectoryRepo, Tx};
use carepost_types::{AccountId, DepartmentId};
use serde::Serialize;
use serde_json::json;
use std::collections::HashMap;

/// Rows written per transaction: large enough that a commit's fsync is shared by many rows.
const BATCH: usize = 500;

#[derive(Debug, Clone, Serialize)]
pub struct ImportLineError {
    pub line: u64,
    pub employee_id: Option<String>,
    pub reason: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportSummary {
    pub rows: u64,
    pub created: u64,
    pub renamed: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub failed: u64,
    pub departments_created: u64,
    pub errors: Vec<ImportLineError>,
}

/// One validated row.
#[derive(Debug, Clone)]
struct Row {
    line: u64,
    employee_id: String,
    name: PersonName,
    category: String,
    department: String,
    supervisor: Option<String>,
    status: AccountStatus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Created,
    Renamed,
    Updated,
    Unchanged,
}

/// Column positions from the header row.
struct Columns {
    index: HashMap<&'static str, usize>,
}

const REQUIRED: [&str; 5] = ["employee_id", "first", "last", "category", "department"];
const OPTIONAL: [&str; 4] = ["middle", "preferred", "supervisor_employee_id", "status"];

impl Columns {
    fn from_header(h: &csv::StringRecord) -> Result<Columns, IdentityError> {
        let mut index = HashMap::new();
        for name in REQUIRED.iter().chain(&OPTIONAL) {
            if let Some(i) = h.iter().position(|c| c.trim().eq_ignore_ascii_case(name)) {
                index.insert(*name, i);
            }
        }
        let missing: Vec<&str> = REQUIRED
            .iter()
            .filter(|c| !index.contains_key(*c))
            .copied()
            .collect();
        if !missing.is_empty() {
            return Err(IdentityError::Invalid(format!(
                "the header row lacks the column(s) {}; expected {}",
                missing.join(", "),
                REQUIRED
                    .iter()
                    .chain(&OPTIONAL)
                    .copied()
                    .collect::<Vec<_>>()
                    .join(",")
            )));
        }
        Ok(Columns { index })
    }

    fn get<'r>(&self, r: &'r csv::StringRecord, name: &str) -> Option<&'r str> {
        let v = self.index.get(name).and_then(|i| r.get(*i))?.trim();
        (!v.is_empty()).then_some(v)
    }
}

impl Directory {
    pub async fn import_csv(
        &self,
        actor: &Actor,
        input: impl std::io::Read,
    ) -> Result<ImportSummary, IdentityError> {
        require(
            &self.store,
            &*self.clock,
            actor,
            Permission::ManageAccounts,
            "import",
        )
        .await?;
        let mut summary = ImportSummary::default();
        let rows = self.read_rows(input, &mut summary)?;
        let mut departments = HashMap::new();
        let mut accounts: HashMap<String, (AccountId, Outcome)> = HashMap::new();
        for batch in rows.chunks(BATCH) {
            let mut tx = self.store.begin().await?;
            for row in batch {
                match self
                    .apply_row(&mut tx, actor, row, &mut departments, &mut summary)
                    .await
                {
                    Ok((id, outcome)) => {
                        accounts.insert(row.employee_id.clone(), (id, outcome));
                    }
                    Err(IdentityError::Store(e)) => return Err(IdentityError::Store(e)),
                    Err(e) => fail(
                        &mut summary,
                        row.line,
                        Some(&row.employee_id),
                        e.to_string(),
                    ),
                }
            }
            tx.commit().await?;
        }
        self.link_supervisors(actor, &rows, &mut accounts, &mut summary)
            .await?;
        for (_, outcome) in accounts.values() {
            count(&mut summary, *outcome);
        }
        let mut tx = self.store.begin().await?;
        let event = self
            .audit(actor, action::IMPORT_RUN, "import".into())
            .with_details(json!({
                "rows": summary.rows, "created": summary.created, "renamed": summary.renamed,
                "updated": summary.updated, "unchanged": summary.unchanged,
                "failed": summary.failed, "departments_created": summary.departments_created,
            }));
        tx.append_audit(&event).await?;
        tx.commit().await?;
        Ok(summary)
    }

    /// Parses and validates every row; bad ones go into `summary` at once.
    fn read_rows(
        &self,
        input: impl std::io::Read,
        summary: &mut ImportSummary,
    ) -> Result<Vec<Row>, IdentityError> {
        let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(input);
        let header = reader
            .headers()
            .map_err(|e| IdentityError::Invalid(format!("cannot read the header row: {e}")))?;
        let columns = Columns::from_header(header)?;
        let mut rows = Vec::new();
        let mut seen: HashMap<String, u64> = HashMap::new();
        for record in reader.records() {
            summary.rows += 1;
            let record = match record {
                Ok(r) => r,
                Err(e) => {
                    let line = e.position().map_or(0, |p| p.line());
                    fail(summary, line, None, format!("unreadable row: {e}"));
                    continue;
                }
            };
            let line = record.position().map_or(0, |p| p.line());
            let employee_id = columns.get(&record, "employee_id").map(str::to_string);
            match self.parse_row(&columns, &record, line) {
                Ok(row) => match seen.insert(row.employee_id.clone(), line) {
                    Some(first) => fail(
                        summary,
                        line,
                        employee_id.as_deref(),
                        format!(
                            "employee id {} already appeared on line {first}",
                            row.employee_id
                        ),
                    ),
                    None => rows.push(row),
                },
                Err(e) => fail(summary, line, employee_id.as_deref(), e.to_string()),
            }
        }
        Ok(rows)
    }

    fn parse_row(
        &self,
        c: &Columns,
        r: &csv::StringRecord,
        line: u64,
    ) -> Result<Row, IdentityError> {
        let employee_id = check_employee_id(c.get(r, "employee_id").unwrap_or(""))?;
        let name = PersonName::new(
            c.get(r, "first").unwrap_or(""),
            c.get(r, "middle"),
            c.get(r, "last").unwrap_or(""),
            c.get(r, "preferred"),
        )?;
        // Surface a name the address policy cannot use now, not halfway through the import.
        self.policy.preferred_local_part(&name)?;
        let category = self.check_category(c.get(r, "category").unwrap_or(""))?;
        let department = c
            .get(r, "department")
            .ok_or_else(|| IdentityError::Invalid("the department is required".into()))?
            .to_string();
        let status = match c.get(r, "status") {
            None => AccountStatus::Active,
            Some(s) => match AccountStatus::parse(s)? {
                AccountStatus::Locked => {
                    return Err(IdentityError::Invalid(
                        "status 'locked' cannot be imported: use active, disabled or deprovisioned"
                            .into(),
                    ));
                }
                s => s,
            },
        };
        Ok(Row {
            line,
            employee_id,
            name,
            category,
            department,
            supervisor: c.get(r, "supervisor_employee_id").map(str::to_string),
            status,
        })
    }

    async fn apply_row(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        row: &Row,
        departments: &mut HashMap<String, DepartmentId>,
        summary: &mut ImportSummary,
    ) -> Result<(AccountId, Outcome), IdentityError> {
        let department = self
            .department_on_demand(tx, actor, &row.department, departments, summary)
            .await?;
        let Some(existing) = tx.find_account_by_employee_id(&row.employee_id).await? else {
            let new = NewAccount {
                name: row.name.clone(),
                employee_id: row.employee_id.clone(),
                category: row.category.clone(),
                department: row.department.clone(),
                supervisor: None,
            };
            let id = self
                .insert_account(
                    tx,
                    actor,
                    &new,
                    Placement {
                        status: row.status,
                        ..Placement::active(department, None)
                    },
                )
                .await?;
            return Ok((id, Outcome::Created));
        };
        let mut outcome = Outcome::Unchanged;
        if name_of(&existing) != row.name {
            self.rename_in(tx, actor, &existing, &row.name).await?;
            outcome = Outcome::Renamed;
        }
        let current = tx.find_account(existing.id).await?.unwrap_or(existing);
        if current.category != row.category || current.department_id != department {
            let mut fields = row_fields(&current);
            fields.category = row.category.clone();
            fields.department_id = department;
            self.update_fields(
                tx,
                actor,
                &current,
                fields,
                json!({
                    "category": row.category, "department": row.department,
                }),
            )
            .await?;
            outcome = outcome.max_with(Outcome::Updated);
        }
        if current.status != row.status.as_str() {
            self.change_status(tx, actor, &current, row.status).await?;
            outcome = outcome.max_with(Outcome::Updated);
        }
        Ok((current.id, outcome))
    }

    async fn department_on_demand(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        name: &str,
        cache: &mut HashMap<String, DepartmentId>,
        summary: &mut ImportSummary,
    ) -> Result<DepartmentId, IdentityError> {
        let key = name.to_lowercase();
        if let Some(id) = cache.get(&key) {
            return Ok(*id);
        }
        let id = match tx.find_department_by_name(name).await? {
            Some(d) => d.id,
            None => {
                summary.departments_created += 1;
                self.insert_department(tx, actor, name, None).await?
            }
        };
        cache.insert(key, id);
        Ok(id)
    }

    pub(crate) async fn update_fields(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        current: &AccountRow,
        fields: carepost_store::NewAccountRow,
        details: serde_json::Value,
    ) -> Result<(), IdentityError> {
        tx.update_account(current.id, &fields, self.clock.now())
            .await?;
        let event = self
            .audit(
                actor,
                action::ACCOUNT_UPDATE,
                format!("account:{}", current.primary_address),
            )
            .with_details(details);
        tx.append_audit(&event).await?;
        Ok(())
    }

    /// Second pass: points each imported account at its supervisor.
    async fn link_supervisors(
        &self,
        actor: &Actor,
        rows: &[Row],
        accounts: &mut HashMap<String, (AccountId, Outcome)>,
        summary: &mut ImportSummary,
    ) -> Result<(), IdentityError> {
        let linked: Vec<&Row> = rows
            .iter()
            .filter(|r| accounts.contains_key(&r.employee_id))
            .collect();
        for batch in linked.chunks(BATCH) {
            let mut tx = self.store.begin().await?;
            for row in batch {
                let Some((id, outcome)) = accounts.get_mut(&row.employee_id) else {
                    continue;
                };
                let Some(current) = tx.find_account(*id).await? else {
                    continue;
                };
                let supervisor = match &row.supervisor {
                    None => None,
                    Some(s) if *s == row.employee_id => {
                        fail(
                            summary,
                            row.line,
                            Some(&row.employee_id),
                            "an account cannot supervise itself".into(),
                        );
                        continue;
                    }
                    Some(s) => match tx.find_account_by_employee_id(s).await? {
                        Some(sup) => Some(sup),
                        None => {
                            fail(
                                summary,
                                row.line,
                                Some(&row.employee_id),
                                format!("supervisor {s} has no account"),
                            );
                            continue;
                        }
                    },
                };
                if current.supervisor_id == supervisor.as_ref().map(|s| s.id) {
                    continue;
                }
                let mut fields = row_fields(&current);
                fields.supervisor_id = supervisor.as_ref().map(|s| s.id);
                let details =
                    json!({ "supervisor": supervisor.as_ref().map(|s| &s.primary_address) });
                self.update_fields(&mut tx, actor, &current, fields, details)
                    .await?;
                *outcome = outcome.max_with(Outcome::Updated);
            }
            tx.commit().await?;
        }
        Ok(())
    }
}

impl Outcome {
    fn max_with(self, other: Outcome) -> Outcome {
        match self {
            Outcome::Unchanged => other,
            s => s,
        }
    }
}

fn count(s: &mut ImportSummary, o: Outcome) {
    match o {
        Outcome::Created => s.created += 1,
        Outcome::Renamed => s.renamed += 1,
        Outcome::Updated => s.updated += 1,
        Outcome::Unchanged => s.unchanged += 1,
    }
}

fn fail(s: &mut ImportSummary, line: u64, employee_id: Option<&str>, reason: String) {
    s.failed += 1;
    s.errors.push(ImportLineError {
        line,
        employee_id: employee_id.map(str::to_string),
        reason,
    });
}
