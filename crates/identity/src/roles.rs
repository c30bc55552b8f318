//! Granting and revoking administrative roles: IT administrators only, always audited. The
//! last IT administrator cannot be removed (nobody could grant the role again).

use crate::directory::{account_by_address, department_id};
use crate::{Actor, Directory, IdentityError, Permission, Role};
use carepost_audit::action;
use carepost_store::{AuditRepo, CredentialRepo, DirectoryRepo};
use serde_json::json;

impl Directory {
    /// Gives `role` to an account; a supervisor's role names the department it covers.
    pub async fn grant_role(
        &self,
        actor: &Actor,
        address: &str,
        role: &Role,
        department: Option<&str>,
    ) -> Result<(), IdentityError> {
        self.require(
            actor,
            Permission::ManageRoles,
            &format!("account:{address}"),
        )
        .await?;
        let mut tx = self.store.begin().await?;
        let row = account_by_address(&mut tx, address).await?;
        let scope = match (role, department) {
            (Role::Supervisor, Some(d)) => Some(department_id(&mut tx, d).await?),
            (Role::Supervisor, None) => {
                return Err(IdentityError::Invalid(
                    "a supervisor role needs the department it covers (--department)".into(),
                ));
            }
            (_, Some(_)) => {
                return Err(IdentityError::Invalid(format!(
                    "only the supervisor role is scoped to a department, not {role}"
                )));
            }
            (_, None) => None,
        };
        tx.grant_role(row.id, role.as_str(), scope, self.clock.now())
            .await?;
        let event = self
            .audit(
                actor,
                action::ROLE_GRANT,
                format!("account:{}", row.primary_address),
            )
            .with_details(json!({ "role": role.as_str(), "department": department }));
        tx.append_audit(&event).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn revoke_role(
        &self,
        actor: &Actor,
        address: &str,
        role: &Role,
    ) -> Result<(), IdentityError> {
        self.require(
            actor,
            Permission::ManageRoles,
            &format!("account:{address}"),
        )
        .await?;
        let mut tx = self.store.begin().await?;
        let row = account_by_address(&mut tx, address).await?;
        if *role == Role::ItAdmin && tx.count_role_holders(role.as_str()).await? <= 1 {
            return Err(IdentityError::Conflict(
                "this is the last IT administrator; grant the role to someone else first".into(),
            ));
        }
        if !tx.revoke_role(row.id, role.as_str()).await? {
            return Err(IdentityError::NotFound(format!(
                "{} does not have the role {role}",
                row.primary_address
            )));
        }
        let event = self
            .audit(
                actor,
                action::ROLE_REVOKE,
                format!("account:{}", row.primary_address),
            )
            .with_details(json!({ "role": role.as_str() }));
        tx.append_audit(&event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The administrative roles an account holds, with the department a supervisor covers.
    pub async fn roles_of(
        &self,
        actor: &Actor,
        address: &str,
    ) -> Result<Vec<(String, Option<String>)>, IdentityError> {
        let mut tx = self.store.read().await?;
        let row = account_by_address(&mut tx, address).await?;
        self.require_account(actor, Permission::ReadDirectory, &row)
            .await?;
        let roles = tx.list_roles(row.id).await?;
        let departments = tx.list_departments().await?;
        Ok(roles
            .into_iter()
            .map(|(role, scope)| {
                let dept = scope.and_then(|id| {
                    departments
                        .iter()
                        .find(|d| d.id == id)
                        .map(|d| d.name.clone())
                });
                (role, dept)
            })
            .collect())
    }
}
