//! Bulk provisioning from an HR export (CSV with a header row). Idempotent by employee id: a new
//! id creates an account, a changed row updates it (a name change renames it, the old address
//! kept as an alias), an unchanged row changes nothing. Bad rows are reported with their line
//! and do not stop the others. Departments are created on demand; a supervisor may appear
//! anywhere in the file (later ones are linked in a second pass).
//!
//! The status column follows employment, not security: `deprovisioned` deprovisions, `disabled`
//! disables, and `active` brings back a deprovisioned colleague (a rehire, with a new address
//! if the old one went to someone else after its quarantine) but re-enables a disabled account
//! only where `directory.import_reactivates_disabled` says so, and never lifts a lockout.
//!
//! For speed the import reads the directory once and decides in memory; every write still
//! goes through the store, which has the last word on addresses (a stale guess falls back to
//! the policy's claim loop).

use crate::authz::Permission;
use crate::directory::{AddressChoice, Placement, check_employee_id, name_of, row_fields};
use crate::{AccountStatus, Actor, Directory, IdentityError, NewAccount, PersonName};
use carepost_audit::action;
use carepost_store::{AccountFilter, AccountRow, AddressRow, AuditRepo, DirectoryRepo, Tx};
use carepost_types::{AccountId, Address, DepartmentId, UnixMillis};
use serde::Serialize;
use serde_json::json;
use std::collections::HashMap;

/// Rows written per transaction: large enough that a commit's fsync is shared by many rows.
const BATCH: usize = 500;

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ImportLineError {
    pub line: u64,
    pub employee_id: Option<String>,
    pub reason: String,
}

#[derive(Debug, Clone, Default, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ImportSummary {
    pub rows: u64,
    pub created: u64,
    pub renamed: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub failed: u64,
    pub departments_created: u64,
    /// Rows that failed, in line order: nothing of them was applied.
    pub errors: Vec<ImportLineError>,
    /// Rows that were applied (and counted as created, updated...) with something left
    /// undone, in line order: a supervisor the file names but that has no account, say.
    pub warnings: Vec<ImportLineError>,
}

/// One validated row.
#[derive(Debug, Clone)]
struct Row {
    line: u64,
    employee_id: String,
    name: PersonName,
    category: String,
    department: String,
    /// The departments above it, top first (from `department_path`), created as needed.
    above: Vec<String>,
    supervisor: Option<String>,
    status: AccountStatus,
    /// The personal address from a `personal_email` column: `None` without the column,
    /// `Some(None)` for an empty cell (HR removed it).
    personal_email: Option<Option<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Created,
    Renamed,
    Updated,
    Unchanged,
}

/// The directory as the import sees it: read once, kept current as rows are applied.
struct Known {
    /// Accounts that existed before this run, by employee id.
    accounts: HashMap<String, AccountRow>,
    /// Every account id by employee id, including those created in this run.
    ids: HashMap<String, AccountId>,
    addresses: HashMap<String, AddressRow>,
    departments: HashMap<String, DepartmentId>,
    /// Employee id -> (account, what this run did to it).
    outcomes: HashMap<String, (AccountId, Outcome)>,
}

/// Column positions from the header row.
struct Columns {
    index: HashMap<&'static str, usize>,
}

const REQUIRED: [&str; 5] = ["employee_id", "first", "last", "category", "department"];
const OPTIONAL: [&str; 7] = [
    "middle",
    "preferred",
    "supervisor_employee_id",
    "status",
    "single_name",
    "department_path",
    "personal_email",
];

/// The separators spreadsheets write CSV with: commas, and semicolons or tabs where the
/// decimal separator is a comma (most of Europe).
const SEPARATORS: [u8; 3] = [b',', b';', b'\t'];

impl Columns {
    fn from_header(h: &csv::StringRecord) -> Result<Columns, IdentityError> {
        let mut index = HashMap::new();
        for name in REQUIRED.iter().chain(&OPTIONAL) {
            if let Some(i) = h.iter().position(|c| c.trim().eq_ignore_ascii_case(name)) {
                index.insert(*name, i);
            }
        }
        // A department_path (`Medicine/Cardiology`) stands in for the department column.
        let has_path = index.contains_key("department_path");
        let missing: Vec<&str> = REQUIRED
            .iter()
            .filter(|c| !index.contains_key(*c))
            .filter(|c| !(**c == "department" && has_path))
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
        self.require(actor, Permission::ManageAccounts, "import")
            .await?;
        let mut summary = ImportSummary::default();
        let rows = self.read_rows(input, &mut summary)?;
        let mut known = self.load_known().await?;
        let mut deferred = Vec::new();
        for batch in rows.chunks(BATCH) {
            let mut tx = self.store.begin().await?;
            for row in batch {
                match self
                    .apply_row(&mut tx, actor, row, &mut known, &mut summary)
                    .await
                {
                    Ok(true) => {}
                    Ok(false) => deferred.push(row),
                    Err(IdentityError::Store(source)) => {
                        return Err(IdentityError::ImportStopped {
                            line: row.line,
                            source,
                        });
                    }
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
        self.link_deferred(actor, &deferred, &mut known, &mut summary)
            .await?;
        for (_, outcome) in known.outcomes.values() {
            count(&mut summary, *outcome);
        }
        summary.errors.sort_by_key(|e| e.line);
        summary.warnings.sort_by_key(|e| e.line);
        let mut tx = self.store.begin().await?;
        let event = self
            .audit(actor, action::IMPORT_RUN, "import".into())
            .with_details(json!({
                "rows": summary.rows, "created": summary.created, "renamed": summary.renamed,
                "updated": summary.updated, "unchanged": summary.unchanged,
                "failed": summary.failed, "departments_created": summary.departments_created,
                "warnings": summary.warnings.len(),
            }));
        tx.append_audit(&event).await?;
        tx.commit().await?;
        Ok(summary)
    }

    async fn load_known(&self) -> Result<Known, IdentityError> {
        let mut tx = self.store.read().await?;
        let accounts = tx.list_accounts(&AccountFilter::default()).await?;
        let addresses = tx.list_addresses().await?;
        let departments = tx.list_departments().await?;
        Ok(Known {
            ids: accounts
                .iter()
                .map(|a| (a.employee_id.clone(), a.id))
                .collect(),
            accounts: accounts
                .into_iter()
                .map(|a| (a.employee_id.clone(), a))
                .collect(),
            addresses: addresses
                .into_iter()
                .map(|a| (a.address.clone(), a))
                .collect(),
            departments: departments
                .into_iter()
                .map(|d| (d.name.to_lowercase(), d.id))
                .collect(),
            outcomes: HashMap::new(),
        })
    }

    /// Parses and validates every row; bad ones go into `summary` at once.
    fn read_rows(
        &self,
        input: impl std::io::Read,
        summary: &mut ImportSummary,
    ) -> Result<Vec<Row>, IdentityError> {
        let mut input = input;
        let mut text = Vec::new();
        input
            .read_to_end(&mut text)
            .map_err(|e| IdentityError::Invalid(format!("cannot read the file: {e}")))?;
        let (separator, columns) = detect_separator(&text)?;
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .delimiter(separator)
            .from_reader(text.as_slice());
        // Read (and checked) by `detect_separator`; the reader must still pass it.
        reader
            .headers()
            .map_err(|e| IdentityError::Invalid(format!("cannot read the header row: {e}")))?;
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
        let single = match c.get(r, "single_name").map(str::to_ascii_lowercase) {
            None => false,
            Some(v) if ["yes", "y", "true", "1", "x"].contains(&v.as_str()) => true,
            Some(v) if ["no", "n", "false", "0"].contains(&v.as_str()) => false,
            Some(v) => {
                return Err(IdentityError::Invalid(format!(
                    "single_name '{v}' is not yes or no"
                )));
            }
        };
        let name = PersonName::from_form(
            c.get(r, "first").unwrap_or(""),
            c.get(r, "middle"),
            c.get(r, "last"),
            c.get(r, "preferred"),
            single,
        )?;
        // Surface a name the address policy cannot use now, not halfway through the import.
        self.policy.preferred_local_part(&name)?;
        let category = self.check_category(c.get(r, "category").unwrap_or(""))?;
        let (above, department) = match c.get(r, "department_path") {
            Some(path) => {
                let mut parts: Vec<String> =
                    path.split('/').map(|p| p.trim().to_string()).collect();
                if parts.iter().any(String::is_empty) {
                    return Err(IdentityError::Invalid(format!(
                        "department_path '{path}' has an empty part: write it like Medicine/Cardiology"
                    )));
                }
                let leaf = parts.pop().unwrap_or_default();
                (parts, leaf)
            }
            None => (
                Vec::new(),
                c.get(r, "department")
                    .ok_or_else(|| IdentityError::Invalid("the department is required".into()))?
                    .to_string(),
            ),
        };
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
        let personal_email = match c.index.contains_key("personal_email") {
            false => None,
            true => Some(match c.get(r, "personal_email") {
                None => None,
                Some(a) => Some(self.check_personal_email(a)?),
            }),
        };
        Ok(Row {
            line,
            employee_id,
            name,
            category,
            department,
            above,
            supervisor: c.get(r, "supervisor_employee_id").map(str::to_string),
            status,
            personal_email,
        })
    }

    /// A personal address is an address outside the organization: an invitation mailed to
    /// one's own new mailbox could not be read.
    fn check_personal_email(&self, text: &str) -> Result<String, IdentityError> {
        let a = Address::parse(text).map_err(|_| {
            IdentityError::Invalid(format!("personal_email '{text}' is not an email address"))
        })?;
        if self.config().domains().any(|d| d == a.domain()) {
            return Err(IdentityError::Invalid(format!(
                "personal_email '{text}' is in the organization's own domain: give the person's private address"
            )));
        }
        Ok(a.to_string())
    }

    /// Applies one row; `Ok(false)` when its supervisor is further down the file.
    async fn apply_row(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        row: &Row,
        known: &mut Known,
        summary: &mut ImportSummary,
    ) -> Result<bool, IdentityError> {
        let mut parent: Option<&str> = None;
        for name in &row.above {
            self.department_on_demand(tx, actor, name, parent, known, summary)
                .await?;
            parent = Some(name);
        }
        let department = self
            .department_on_demand(tx, actor, &row.department, parent, known, summary)
            .await?;
        let supervisor = match &row.supervisor {
            Some(s) if *s == row.employee_id => {
                return Err(IdentityError::Invalid(
                    "an account cannot supervise itself".into(),
                ));
            }
            Some(s) => known.ids.get(s).copied(),
            None => None,
        };
        let resolved = row.supervisor.is_none() || supervisor.is_some();
        match known.accounts.get(&row.employee_id).cloned() {
            None => {
                let id = self
                    .create_row(tx, actor, row, department, supervisor, known)
                    .await?;
                if let Some(Some(a)) = &row.personal_email {
                    tx.set_personal_email(id, Some(a)).await?;
                }
            }
            Some(existing) => {
                let mut outcome = self
                    .update_row(tx, actor, row, existing.clone(), department, known, summary)
                    .await?;
                // HR owns the personal address: a changed or emptied cell is a change.
                if let Some(wanted) = &row.personal_email
                    && tx.personal_email(existing.id).await? != *wanted
                {
                    tx.set_personal_email(existing.id, wanted.as_deref())
                        .await?;
                    // On the record that it changed; the address itself is HR's.
                    let event = self
                        .audit(
                            actor,
                            action::ACCOUNT_UPDATE,
                            format!("account:{}", existing.primary_address),
                        )
                        .with_details(json!({ "personal_email": wanted.is_some() }));
                    tx.append_audit(&event).await?;
                    outcome = outcome.max_with(Outcome::Updated);
                }
                let differs = resolved && existing.supervisor_id != supervisor;
                if differs && !self.import_owns("supervisor") {
                    conflict(
                        summary,
                        row,
                        "supervisor: the file differs from the directory, which owns it \
                         (directory.import_owns); the directory's is kept"
                            .into(),
                    );
                    known
                        .outcomes
                        .insert(row.employee_id.clone(), (existing.id, outcome));
                } else if differs {
                    self.set_supervisor(tx, actor, &existing, supervisor)
                        .await?;
                    known.outcomes.insert(
                        row.employee_id.clone(),
                        (existing.id, outcome.max_with(Outcome::Updated)),
                    );
                } else {
                    known
                        .outcomes
                        .insert(row.employee_id.clone(), (existing.id, outcome));
                }
            }
        }
        Ok(resolved)
    }

    async fn create_row(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        row: &Row,
        department: DepartmentId,
        supervisor: Option<AccountId>,
        known: &mut Known,
    ) -> Result<AccountId, IdentityError> {
        let new = NewAccount {
            name: row.name.clone(),
            employee_id: row.employee_id.clone(),
            category: row.category.clone(),
            department: row.department.clone(),
            supervisor: None,
        };
        let address = match self.likely_address(&row.name, known, self.clock.now())? {
            Some(a) => AddressChoice::Likely(a),
            None => AddressChoice::Policy,
        };
        let place = Placement {
            status: row.status,
            address,
            employee_id_is_new: true,
            ..Placement::active(department, supervisor)
        };
        let (id, address) = self.insert_account(tx, actor, &new, place).await?;
        known
            .outcomes
            .insert(row.employee_id.clone(), (id, Outcome::Created));
        known.ids.insert(row.employee_id.clone(), id);
        let now = self.clock.now();
        let quarantined = row.status == AccountStatus::Deprovisioned;
        known.addresses.insert(
            address.to_string(),
            AddressRow {
                address: address.to_string(),
                account_id: Some(id),
                kind: "primary".into(),
                active: true,
                reusable_after: quarantined.then(|| self.quarantine_end(now)),
                created_at: now,
            },
        );
        Ok(id)
    }

    /// The first candidate that the import's view of the directory says is free.
    fn likely_address(
        &self,
        name: &PersonName,
        known: &Known,
        now: UnixMillis,
    ) -> Result<Option<Address>, IdentityError> {
        for local in self.policy.candidates(name)? {
            let address = self.policy.address(local);
            match known.addresses.get(&address.to_string()) {
                None => return Ok(Some(address)),
                Some(r) if r.reusable_after.is_some_and(|t| t <= now) => return Ok(Some(address)),
                Some(_) => {}
            }
        }
        Ok(None)
    }

    #[allow(clippy::too_many_arguments)] // One step of `apply_row`, taking what it found.
    async fn update_row(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        row: &Row,
        existing: AccountRow,
        department: DepartmentId,
        known: &mut Known,
        summary: &mut ImportSummary,
    ) -> Result<Outcome, IdentityError> {
        let mut outcome = Outcome::Unchanged;
        let reactivate = self.config().import_reactivates_disabled;
        // What the row may change: the fields HR owns; a field it does not own, or a
        // department a change request set, stays, and a difference is reported, never
        // silently undone.
        let row = &self
            .owned_part(tx, row, &existing, department, summary)
            .await?;
        let department = row.department_id;
        // The import read every account before its batches; an account it is about to change
        // is read again inside this transaction, so that an edit made meanwhile (a supervisor,
        // an employee id) is not written back over with the old copy.
        let changes = name_of(&existing) != row.name
            || existing.category != row.category
            || existing.department_id != department
            || hr_transition(&existing.status, row.status, reactivate).is_some();
        let mut current = match changes {
            true => self.refresh(tx, existing.id, known).await?,
            false => existing,
        };
        if name_of(&current) != row.name {
            self.rename_in(tx, actor, &current, &row.name).await?;
            outcome = Outcome::Renamed;
            current = self.refresh(tx, current.id, known).await?;
        }
        if current.category != row.category || current.department_id != department {
            let mut fields = row_fields(&current);
            fields.category = row.category.clone();
            fields.department_id = department;
            let details = json!({ "category": row.category, "department": row.department });
            self.update_fields(tx, actor, &current, fields, details)
                .await?;
            outcome = outcome.max_with(Outcome::Updated);
        }
        if let Some(to) = hr_transition(&current.status, row.status, reactivate) {
            self.change_status(tx, actor, &current, to).await?;
            outcome = outcome.max_with(Outcome::Updated);
        }
        Ok(outcome)
    }

    fn import_owns(&self, field: &str) -> bool {
        self.config().import_owns.iter().any(|f| f == field)
    }

    /// The part of `row` the import may apply to `existing` (see `update_row`).
    async fn owned_part(
        &self,
        tx: &mut Tx,
        row: &Row,
        existing: &AccountRow,
        department: DepartmentId,
        summary: &mut ImportSummary,
    ) -> Result<Owned, IdentityError> {
        let kept = |field: &str| {
            format!(
                "{field}: the file differs from the directory, which owns it (directory.import_owns); the directory's is kept"
            )
        };
        let mut owned = Owned {
            name: row.name.clone(),
            category: row.category.clone(),
            department_id: department,
            department: row.department.clone(),
            status: row.status,
        };
        if !self.import_owns("name") && name_of(existing) != row.name {
            conflict(summary, row, kept("name"));
            owned.name = name_of(existing);
        }
        if !self.import_owns("category") && existing.category != row.category {
            conflict(summary, row, kept("category"));
            owned.category = existing.category.clone();
        }
        if existing.department_id != department {
            let by_request = match self.config().change_requests_own_department {
                true => moved_by_change_request(tx, existing).await?,
                false => None,
            };
            let reason = match by_request {
                _ if !self.import_owns("department") => Some(kept("department")),
                Some(id) => Some(format!(
                    "department: the file says {}, but change request #{id} moved them to {}, which stays until HR agrees or IT moves them again",
                    row.department, existing.department_name
                )),
                None => None,
            };
            if let Some(reason) = reason {
                conflict(summary, row, reason);
                owned.department_id = existing.department_id;
                owned.department = existing.department_name.clone();
            }
        }
        if !self.import_owns("status") {
            let current = AccountStatus::parse(&existing.status)?;
            if hr_transition(&existing.status, row.status, true).is_some() {
                conflict(summary, row, kept("status"));
            }
            owned.status = current;
        }
        Ok(owned)
    }

    /// Re-reads an account after a change and records it and its addresses in `known`.
    async fn refresh(
        &self,
        tx: &mut Tx,
        id: AccountId,
        known: &mut Known,
    ) -> Result<AccountRow, IdentityError> {
        let row = tx
            .find_account(id)
            .await?
            .ok_or_else(|| IdentityError::NotFound(format!("no account {id}")))?;
        for a in tx.list_account_addresses(id).await? {
            known.addresses.insert(a.address.clone(), a);
        }
        known.accounts.insert(row.employee_id.clone(), row.clone());
        Ok(row)
    }

    async fn set_supervisor(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        current: &AccountRow,
        supervisor: Option<AccountId>,
    ) -> Result<(), IdentityError> {
        tx.update_account_supervisor(current.id, supervisor, self.clock.now())
            .await?;
        let event = self
            .audit(
                actor,
                action::ACCOUNT_UPDATE,
                format!("account:{}", current.primary_address),
            )
            .with_details(json!({ "supervisor_id": supervisor.map(|s| s.0) }));
        tx.append_audit(&event).await?;
        Ok(())
    }

    /// The department named `name`, created (below `parent`) when it does not exist yet. One
    /// that exists keeps its place in the tree: moving it is for `department move`.
    async fn department_on_demand(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        name: &str,
        parent: Option<&str>,
        known: &mut Known,
        summary: &mut ImportSummary,
    ) -> Result<DepartmentId, IdentityError> {
        let key = name.to_lowercase();
        if let Some(id) = known.departments.get(&key) {
            return Ok(*id);
        }
        let id = self.insert_department(tx, actor, name, parent).await?;
        summary.departments_created += 1;
        known.departments.insert(key, id);
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

    /// Second pass: links the accounts whose supervisor came later in the file.
    async fn link_deferred(
        &self,
        actor: &Actor,
        rows: &[&Row],
        known: &mut Known,
        summary: &mut ImportSummary,
    ) -> Result<(), IdentityError> {
        for batch in rows.chunks(BATCH) {
            let mut tx = self.store.begin().await?;
            for row in batch {
                let (Some(sup_id), Some(id)) =
                    (&row.supervisor, known.ids.get(&row.employee_id).copied())
                else {
                    continue;
                };
                let Some(current) = tx.find_account(id).await? else {
                    continue;
                };
                let Some(sup) = known.ids.get(sup_id).copied() else {
                    // The row itself was applied (and is counted so); only the link waits
                    // for the supervisor's own row.
                    summary.warnings.push(ImportLineError {
                        line: row.line,
                        employee_id: Some(row.employee_id.clone()),
                        reason: format!(
                            "supervisor {sup_id} has no account: the row was applied without one"
                        ),
                    });
                    continue;
                };
                if current.supervisor_id == Some(sup) {
                    continue;
                }
                self.set_supervisor(&mut tx, actor, &current, Some(sup))
                    .await?;
                if let Some((_, outcome)) = known.outcomes.get_mut(&row.employee_id) {
                    *outcome = outcome.max_with(Outcome::Updated);
                }
            }
            tx.commit().await?;
        }
        Ok(())
    }
}

/// What an HR row may apply to an existing account (see `Directory::owned_part`).
struct Owned {
    name: PersonName,
    category: String,
    department_id: DepartmentId,
    department: String,
    status: AccountStatus,
}

/// The approved change request that moved `account` to the department it is in, if the latest
/// move it approved did.
async fn moved_by_change_request(
    tx: &mut Tx,
    account: &AccountRow,
) -> Result<Option<i64>, IdentityError> {
    use carepost_store::ChangeRequestRepo;
    for r in tx.list_approved_change_requests_for(account.id).await? {
        if let Ok(crate::RequestedChange::Move { department }) = serde_json::from_str(&r.change) {
            let here = department
                .trim()
                .eq_ignore_ascii_case(&account.department_name);
            return Ok(here.then_some(r.id));
        }
    }
    Ok(None)
}

/// A row applied with something left as it was: reported with its line.
fn conflict(summary: &mut ImportSummary, row: &Row, reason: String) {
    summary.warnings.push(ImportLineError {
        line: row.line,
        employee_id: Some(row.employee_id.clone()),
        reason,
    });
}

/// The separator of the file and its columns: the first of `SEPARATORS` whose header row has
/// every required column. Otherwise the error names the separator the header seems to use.
fn detect_separator(text: &[u8]) -> Result<(u8, Columns), IdentityError> {
    let header_line = text.split(|b| *b == b'\n').next().unwrap_or_default();
    let mut first_error = None;
    for separator in SEPARATORS {
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(separator)
            .from_reader(header_line);
        let header = reader
            .headers()
            .map_err(|e| IdentityError::Invalid(format!("cannot read the header row: {e}")))?;
        match Columns::from_header(header) {
            Ok(c) => return Ok((separator, c)),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    // Name the character that looks like the separator: the most frequent punctuation of
    // the header outside letters, digits, `_` and spaces.
    let mut counts: HashMap<char, usize> = HashMap::new();
    for c in String::from_utf8_lossy(header_line).chars() {
        if !(c.is_alphanumeric() || c == '_' || c == ' ' || c == '"' || c == '\r') {
            *counts.entry(c).or_default() += 1;
        }
    }
    let found = counts.into_iter().max_by_key(|(c, n)| (*n, *c));
    match found {
        Some((c, n)) if n > 0 && ![',', ';', '\t'].contains(&c) => {
            Err(IdentityError::Invalid(format!(
                "the header row seems to be separated by '{}', which carepost does not read: export the file with commas, semicolons or tabs",
                c.escape_default()
            )))
        }
        _ => Err(first_error
            .unwrap_or_else(|| IdentityError::Invalid("the file has no header row".into()))),
    }
}

/// The status change an HR row asks for, if any (see the module doc). `reactivate`:
/// `directory.import_reactivates_disabled`.
fn hr_transition(current: &str, hr: AccountStatus, reactivate: bool) -> Option<AccountStatus> {
    let current = AccountStatus::parse(current).ok()?;
    match (current, hr) {
        (c, h) if c == h => None,
        (AccountStatus::Deprovisioned, AccountStatus::Active) => Some(AccountStatus::Active),
        (AccountStatus::Disabled, AccountStatus::Active) if reactivate => {
            Some(AccountStatus::Active)
        }
        (_, AccountStatus::Active | AccountStatus::Locked) => None,
        (_, h) => Some(h),
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
