//! Editing an account's placement and attributes (IT): its department, role category,
//! supervisor and employee id. Names have their own path (`rename`), as they move addresses.

use crate::authz::Permission;
use crate::directory::{account_by_address, check_employee_id, name_of, row_fields, search_text};
use crate::{Account, Actor, Directory, IdentityError};
use carepost_audit::action;
use carepost_store::{AccountRow, AuditRepo, DirectoryRepo, Tx};
use serde::Deserialize;
use serde_json::{Map, json};

/// What to change; an absent field stays as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccountEdit {
    /// A department's name.
    #[serde(default)]
    pub department: Option<String>,
    /// A role category (clinician, nurse, ...).
    #[serde(default)]
    pub category: Option<String>,
    /// The supervisor's address; empty for none.
    #[serde(default)]
    pub supervisor: Option<String>,
    #[serde(default)]
    pub employee_id: Option<String>,
}

impl Directory {
    /// Applies an edit (IT), audited with each field's old and new value.
    pub async fn edit_account(
        &self,
        actor: &Actor,
        address: &str,
        edit: &AccountEdit,
    ) -> Result<Account, IdentityError> {
        self.require(
            actor,
            Permission::ManageAccounts,
            &format!("account:{address}"),
        )
        .await?;
        let mut tx = self.store.begin().await?;
        let row = account_by_address(&mut tx, address).await?;
        self.edit_in(&mut tx, actor, &row, edit).await?;
        tx.commit().await?;
        self.account_by_id(row.id).await
    }

    /// The edit inside `tx`; refuses one that changes nothing.
    pub(crate) async fn edit_in(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        row: &AccountRow,
        edit: &AccountEdit,
    ) -> Result<(), IdentityError> {
        let mut fields = row_fields(row);
        let mut changed = Map::new();
        let text = |v: &Option<String>| v.as_deref().map(str::trim).map(str::to_string);
        if let Some(name) = text(&edit.department) {
            let to = tx
                .find_department_by_name(&name)
                .await?
                .ok_or_else(|| IdentityError::Invalid(format!("no department '{name}'")))?;
            if to.id != row.department_id {
                fields.department_id = to.id;
                changed.insert(
                    "department".into(),
                    json!({ "from": row.department_name, "to": to.name }),
                );
                // Unless the edit names one, a supervisor who does not look after the new
                // department makes way for one who does (see `departments`).
                if edit.supervisor.is_none()
                    && let Some(new) = self
                        .supervisor_after_move(tx, row.id, row.supervisor_id, to.id)
                        .await?
                {
                    fields.supervisor_id = new;
                    changed.insert(
                        "supervisor".into(),
                        json!({
                            "from": row.supervisor_address,
                            "to_id": new.map(|s| s.0),
                            "why": "the former supervisor does not look after the new department",
                        }),
                    );
                }
            }
        }
        if let Some(c) = text(&edit.category) {
            let c = self.check_category(&c)?;
            if c != row.category {
                changed.insert("category".into(), json!({ "from": row.category, "to": c }));
                fields.category = c;
            }
        }
        if let Some(s) = text(&edit.supervisor) {
            let to = match s.as_str() {
                "" => None,
                s => Some(account_by_address(tx, s).await?),
            };
            if let Some(t) = &to {
                check_supervisor(tx, row, t).await?;
            }
            if to.as_ref().map(|t| t.id) != row.supervisor_id {
                fields.supervisor_id = to.as_ref().map(|t| t.id);
                changed.insert(
                    "supervisor".into(),
                    json!({ "from": row.supervisor_address, "to": to.map(|t| t.primary_address) }),
                );
            }
        }
        if let Some(e) = text(&edit.employee_id) {
            let e = check_employee_id(&e)?;
            if e != row.employee_id {
                if tx.find_account_by_employee_id(&e).await?.is_some() {
                    return Err(IdentityError::Conflict(format!(
                        "employee id {e} already has an account"
                    )));
                }
                changed.insert(
                    "employee_id".into(),
                    json!({ "from": row.employee_id, "to": e }),
                );
                fields.search_text = search_text(&name_of(row), &e, &row.primary_address);
                fields.employee_id = e;
            }
        }
        if changed.is_empty() {
            return Err(IdentityError::Invalid(
                "nothing to change: the account is like that already".into(),
            ));
        }
        tx.update_account(row.id, &fields, self.clock.now()).await?;
        let event = self
            .audit(
                actor,
                action::ACCOUNT_UPDATE,
                format!("account:{}", row.primary_address),
            )
            .with_details(json!({ "changed": changed }));
        tx.append_audit(&event).await?;
        Ok(())
    }
}

/// How far up a chain of supervisors is followed looking for a loop.
const CHAIN_LIMIT: usize = 100;

/// A supervisor must be an active account, and not the account itself or anyone it
/// supervises, however far down.
async fn check_supervisor(
    tx: &mut Tx,
    row: &AccountRow,
    to: &AccountRow,
) -> Result<(), IdentityError> {
    if to.status != "active" {
        return Err(IdentityError::Invalid(format!(
            "{} is {}; a supervisor must be an active account",
            to.primary_address, to.status
        )));
    }
    if to.id == row.id {
        return Err(IdentityError::Invalid(
            "an account cannot be its own supervisor (that would make a loop)".into(),
        ));
    }
    let mut next = Some(to.id);
    for _ in 0..CHAIN_LIMIT {
        let Some(id) = next else { return Ok(()) };
        if id == row.id {
            return Err(IdentityError::Invalid(format!(
                "{} is supervised by {} already (directly or further down): that would make a loop",
                to.primary_address, row.primary_address
            )));
        }
        next = tx.find_account(id).await?.and_then(|a| a.supervisor_id);
    }
    Ok(())
}
