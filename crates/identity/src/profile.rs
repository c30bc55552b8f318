//! What single sign-on tells an application about a person: names, address, department (with
//! the departments above it), role category and administrative roles, and whether the account
//! has a second factor. Read in one transaction, for each token that carries claims.

use crate::{AccountStatus, Directory, IdentityError, PersonName};
use carepost_store::{CredentialRepo, DirectoryRepo};
use carepost_types::{AccountId, DepartmentId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub account: AccountId,
    pub address: String,
    pub status: AccountStatus,
    pub name: PersonName,
    pub category: String,
    /// The account's department first, then each one above it up to the root.
    pub departments: Vec<(DepartmentId, String)>,
    /// Administrative role names (`it-admin`, `supervisor`, ...).
    pub roles: Vec<String>,
}

impl Profile {
    pub fn department(&self) -> &str {
        self.departments.first().map_or("", |d| d.1.as_str())
    }

    /// Whether the account works in `root` or in a department below it.
    pub fn works_within(&self, root: DepartmentId) -> bool {
        self.departments.iter().any(|(id, _)| *id == root)
    }
}

impl Directory {
    /// The profile of an account; `None` if there is no such account.
    pub async fn profile(&self, account: AccountId) -> Result<Option<Profile>, IdentityError> {
        let mut read = self.store.read().await?;
        let Some(row) = read.find_account(account).await? else {
            return Ok(None);
        };
        let all = read.list_departments().await?;
        let roles = read.list_roles(account).await?;
        drop(read);
        let mut departments = Vec::new();
        let mut next = Some(row.department_id);
        // A parent chain is acyclic by construction; the bound only guards a damaged store.
        while let Some(id) = next.filter(|_| departments.len() < 64) {
            let Some(d) = all.iter().find(|d| d.id == id) else {
                break;
            };
            departments.push((d.id, d.name.clone()));
            next = d.parent_id;
        }
        // Waiting roles (no second factor yet, see `actor_for`) are not claimed to applications
        // and do not admit to role-restricted ones.
        let mut roles: Vec<String> = match roles.is_empty() || self.has_factor(account).await? {
            true => roles.into_iter().map(|(r, _)| r).collect(),
            false => Vec::new(),
        };
        roles.sort();
        roles.dedup();
        Ok(Some(Profile {
            account,
            address: row.primary_address,
            status: AccountStatus::parse(&row.status).unwrap_or(AccountStatus::Disabled),
            name: PersonName {
                first: row.first_name,
                middle: row.middle_name,
                last: row.last_name,
                preferred: row.preferred_name,
            },
            category: row.category,
            departments,
            roles,
        }))
    }
}
