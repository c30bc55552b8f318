//! Departments after they were made: renamed, moved in the tree (never below themselves),
//! removed once nothing refers to them, each on the record. People who move (their account,
//! or their whole department) keep a true supervisor link: a supervisor whose role no longer
//! covers them is replaced by the nearest supervisor of their new department, or removed,
//! never left pointing at someone who cannot see them. A supervisor link to someone without
//! the supervisor role (a manager named by HR) is left as HR set it.

use crate::authz::Permission;
use crate::directory::department_id;
use crate::{Actor, Department, Directory, IdentityError, Role};
use carepost_audit::action;
use carepost_store::{AccountRow, AuditRepo, CredentialRepo, DirectoryRepo, Tx};
use carepost_types::{AccountId, DepartmentId};
use serde_json::json;
use std::collections::HashMap;

impl Directory {
    /// Gives a department a new name (its people, roles and lists follow it).
    pub async fn rename_department(
        &self,
        actor: &Actor,
        name: &str,
        new_name: &str,
    ) -> Result<Department, IdentityError> {
        let target = format!("department:{}", name.trim());
        self.require(actor, Permission::ManageDepartments, &target)
            .await?;
        let new_name = check_name(new_name)?;
        // The MFA policy names departments: a rename must not quietly drop one from it.
        let required = &self.config().mfa.required_departments;
        let named = |n: &str| required.iter().any(|r| r.eq_ignore_ascii_case(n.trim()));
        if named(name) && !named(&new_name) {
            return Err(IdentityError::Conflict(format!(
                "'{}' is named in mfa.required_departments: add '{new_name}' there first, so that its people keep needing a second factor",
                name.trim()
            )));
        }
        let mut tx = self.store.begin().await?;
        let id = department_id(&mut tx, name).await?;
        if let Some(other) = tx.find_department_by_name(&new_name).await?
            && other.id != id
        {
            return Err(IdentityError::Conflict(format!(
                "a department named '{new_name}' already exists"
            )));
        }
        tx.rename_department(id, &new_name).await?;
        let event = self
            .audit(actor, action::DEPARTMENT_RENAME, target)
            .with_details(json!({ "from": name.trim(), "to": new_name }));
        tx.append_audit(&event).await?;
        let d = department_view(&mut tx, id).await?;
        tx.commit().await?;
        Ok(d)
    }

    /// Puts a department below `parent` (`None`: at the top). Refused below itself or below
    /// one of its own departments, which would make a loop.
    pub async fn move_department(
        &self,
        actor: &Actor,
        name: &str,
        parent: Option<&str>,
    ) -> Result<Department, IdentityError> {
        let target = format!("department:{}", name.trim());
        self.require(actor, Permission::ManageDepartments, &target)
            .await?;
        let mut tx = self.store.begin().await?;
        let id = department_id(&mut tx, name).await?;
        let parent_id = match parent {
            Some(p) => {
                let p_id = department_id(&mut tx, p).await?;
                if tx.department_within(p_id, id).await? {
                    return Err(IdentityError::Invalid(format!(
                        "'{}' is '{}' or lies below it: a department cannot go below itself",
                        p.trim(),
                        name.trim()
                    )));
                }
                Some(p_id)
            }
            None => None,
        };
        let before = tx
            .find_department_by_name(name)
            .await?
            .and_then(|d| d.parent_id);
        if before == parent_id {
            return Err(IdentityError::Invalid(
                "nothing to change: the department is there already".into(),
            ));
        }
        tx.set_department_parent(id, parent_id).await?;
        let event = self
            .audit(actor, action::DEPARTMENT_MOVE, target)
            .with_details(json!({ "parent": parent.map(str::trim) }));
        tx.append_audit(&event).await?;
        // Supervisors scoped to the old parent may no longer cover the people moved with it.
        for row in tx.accounts_within(id).await? {
            self.keep_supervisor_true(&mut tx, actor, &row).await?;
        }
        let d = department_view(&mut tx, id).await?;
        tx.commit().await?;
        Ok(d)
    }

    /// Removes a department that nothing refers to; otherwise says what still does.
    pub async fn remove_department(&self, actor: &Actor, name: &str) -> Result<(), IdentityError> {
        let target = format!("department:{}", name.trim());
        self.require(actor, Permission::ManageDepartments, &target)
            .await?;
        let mut tx = self.store.begin().await?;
        let id = department_id(&mut tx, name).await?;
        let held = tx.department_holders(id).await?;
        if !held.is_empty() {
            let mut what = Vec::new();
            for (n, one, many) in [
                (held.accounts, "account", "accounts"),
                (held.children, "department below it", "departments below it"),
                (held.roles, "supervisor role", "supervisor roles"),
                (held.lists, "mail list", "mail lists"),
                (held.applications, "application", "applications"),
                (
                    held.resources,
                    "room or piece of equipment",
                    "rooms and equipment",
                ),
                (
                    held.calendar_shares,
                    "calendar shared with it",
                    "calendars shared with it",
                ),
            ] {
                match n {
                    0 => {}
                    1 => what.push(format!("1 {one}")),
                    n => what.push(format!("{n} {many}")),
                }
            }
            return Err(IdentityError::Conflict(format!(
                "'{}' is not empty: {} still refer to it; move them first",
                name.trim(),
                what.join(", ")
            )));
        }
        tx.delete_department(id).await?;
        let event = self.audit(actor, action::DEPARTMENT_REMOVE, target);
        tx.append_audit(&event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The supervisor `account` should have once it is in `department`: `None` to keep the one
    /// it has, `Some(new)` to replace it (see the module doc).
    pub(crate) async fn supervisor_after_move(
        &self,
        tx: &mut Tx,
        account: AccountId,
        current: Option<AccountId>,
        department: DepartmentId,
    ) -> Result<Option<Option<AccountId>>, IdentityError> {
        let Some(current) = current else {
            return Ok(None);
        };
        let scopes: Vec<DepartmentId> = tx
            .list_roles(current)
            .await?
            .into_iter()
            .filter(|(r, _)| r == Role::Supervisor.as_str())
            .filter_map(|(_, scope)| scope)
            .collect();
        if scopes.is_empty() {
            return Ok(None);
        }
        for scope in scopes {
            if tx.department_within(department, scope).await? {
                return Ok(None);
            }
        }
        Ok(Some(nearest_supervisor(tx, department, account).await?))
    }

    /// After `row` (as it is now stored) moved: replaces a supervisor who no longer covers it.
    pub(crate) async fn keep_supervisor_true(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        row: &AccountRow,
    ) -> Result<(), IdentityError> {
        let Some(new) = self
            .supervisor_after_move(tx, row.id, row.supervisor_id, row.department_id)
            .await?
        else {
            return Ok(());
        };
        tx.update_account_supervisor(row.id, new, self.clock.now())
            .await?;
        let event = self
            .audit(
                actor,
                action::ACCOUNT_UPDATE,
                format!("account:{}", row.primary_address),
            )
            .with_details(json!({
                "supervisor_id": new.map(|s| s.0),
                "reason": "the former supervisor does not look after the new department",
            }));
        tx.append_audit(&event).await?;
        Ok(())
    }
}

/// The supervisor (by role) of `department` or of the nearest department above it, other than
/// `account` itself.
async fn nearest_supervisor(
    tx: &mut Tx,
    department: DepartmentId,
    account: AccountId,
) -> Result<Option<AccountId>, IdentityError> {
    let parents: HashMap<DepartmentId, Option<DepartmentId>> = tx
        .list_departments()
        .await?
        .into_iter()
        .map(|d| (d.id, d.parent_id))
        .collect();
    let holders = tx
        .list_scoped_role_holders(Role::Supervisor.as_str())
        .await?;
    let mut at = Some(department);
    // The tree has no loops (moves refuse them); the bound only guards a damaged store.
    for _ in 0..=parents.len() {
        let Some(d) = at else { break };
        if let Some((who, _)) = holders.iter().find(|(a, s)| *s == d && *a != account) {
            return Ok(Some(*who));
        }
        at = parents.get(&d).copied().flatten();
    }
    Ok(None)
}

async fn department_view(tx: &mut Tx, id: DepartmentId) -> Result<Department, IdentityError> {
    let all = tx.list_departments().await?;
    all.iter()
        .find(|d| d.id == id)
        .map(|r| Department::from_rows(r, &all))
        .ok_or_else(|| IdentityError::NotFound(format!("no department {}", id.0)))
}

/// A department name: 1 to 200 printable characters, trimmed.
pub(crate) fn check_name(name: &str) -> Result<String, IdentityError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(IdentityError::Invalid(
            "a department name must be 1 to 200 printable characters".into(),
        ));
    }
    Ok(name.to_string())
}
