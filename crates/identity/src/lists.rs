//! Distribution lists: an organization address that reaches every active account of a
//! department subtree, or of the whole organization, at the moment mail is delivered; only
//! holders of the list's sender roles may post to it (an all-staff address is a phishing
//! target). Managed by IT; created, removed and posted to on the record.

use crate::authz::Permission;
use crate::directory::department_id;
use crate::{Actor, Directory, IdentityError, Role};
use carepost_audit::action;
use carepost_store::{AuditRepo, DepartmentRow, DirectoryRepo, ListRepo, ListRow};
use carepost_types::Address;
use serde::Serialize;
use serde_json::json;

/// A list as administrators see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MailList {
    pub address: String,
    pub name: String,
    /// The department whose subtree it reaches; `None`: the whole organization.
    pub department: Option<String>,
    /// Roles whose holders may post to it.
    pub senders: Vec<String>,
}

fn to_list(row: ListRow, departments: &[DepartmentRow]) -> MailList {
    MailList {
        department: row
            .department_id
            .and_then(|id| departments.iter().find(|d| d.id == id))
            .map(|d| d.name.clone()),
        address: row.address,
        name: row.name,
        senders: row.senders.split_whitespace().map(str::to_string).collect(),
    }
}

impl Directory {
    pub async fn create_list(
        &self,
        actor: &Actor,
        address: &str,
        name: &str,
        department: Option<&str>,
        senders: &[Role],
    ) -> Result<MailList, IdentityError> {
        let address = Address::parse(address).map_err(|e| IdentityError::Invalid(e.to_string()))?;
        let target = format!("list:{address}");
        self.require(actor, Permission::ManageAccounts, &target)
            .await?;
        if !self.config().domains().any(|d| d == address.domain()) {
            return Err(IdentityError::Invalid(format!(
                "{address} is not in one of the organization's domains"
            )));
        }
        // postmaster@, abuse@ and the like answer for the organization, not for a list.
        if self.policy.is_reserved(address.local().as_str()) {
            return Err(IdentityError::Invalid(format!(
                "'{}' is a reserved name and cannot be a list",
                address.local()
            )));
        }
        let name = name.trim();
        if name.is_empty() {
            return Err(IdentityError::Invalid("a list needs a name".into()));
        }
        if senders.is_empty() {
            return Err(IdentityError::Invalid(
                "name at least one role that may post to the list (--sender communications)".into(),
            ));
        }
        let mut tx = self.store.begin().await?;
        let department_id = match department {
            Some(d) => Some(department_id(&mut tx, d).await?),
            None => None,
        };
        let now = self.clock.now();
        if !tx.claim_list_address(&address.to_string(), now).await? {
            return Err(IdentityError::Conflict(format!("{address} is taken")));
        }
        let mut roles: Vec<&str> = senders.iter().map(Role::as_str).collect();
        roles.sort_unstable();
        roles.dedup();
        let row = ListRow {
            address: address.to_string(),
            name: name.to_string(),
            department_id,
            senders: roles.join(" "),
            created_at: now,
        };
        tx.insert_list(&row).await?;
        let event = self
            .audit(actor, action::LIST_CREATE, target)
            .with_details(json!({
                "name": name,
                "department": department,
                "senders": roles,
            }));
        tx.append_audit(&event).await?;
        let departments = tx.list_departments().await?;
        tx.commit().await?;
        Ok(to_list(row, &departments))
    }

    /// Removes a list; its address is quarantined like any address given up.
    pub async fn remove_list(&self, actor: &Actor, address: &str) -> Result<(), IdentityError> {
        let address = Address::parse(address)
            .map_err(|e| IdentityError::Invalid(e.to_string()))?
            .to_string();
        let target = format!("list:{address}");
        self.require(actor, Permission::ManageAccounts, &target)
            .await?;
        let mut tx = self.store.begin().await?;
        if tx.find_list(&address).await?.is_none() {
            return Err(IdentityError::NotFound(format!("no list {address}")));
        }
        tx.delete_list(&address).await?;
        let until = self.clock.now().plus(self.config().address.quarantine);
        tx.release_address(&address, until).await?;
        let event = self
            .audit(actor, action::LIST_REMOVE, target)
            .with_details(json!({ "quarantined_until": until.to_rfc3339() }));
        tx.append_audit(&event).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn lists(&self, actor: &Actor) -> Result<Vec<MailList>, IdentityError> {
        self.require(actor, Permission::ReadDirectory, "lists")
            .await?;
        let mut tx = self.store.read().await?;
        let rows = tx.list_lists().await?;
        let departments = tx.list_departments().await?;
        Ok(rows.into_iter().map(|r| to_list(r, &departments)).collect())
    }
}
