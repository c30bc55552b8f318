//! The one authorization check. Every directory operation names the permission it needs; a
//! refusal is written to the audit trail before the caller hears of it.

use crate::{Actor, Directory, IdentityError, Role};
use carepost_audit::{NewEvent, Outcome, action};
use carepost_store::{AuditRepo, CredentialRepo, DirectoryRepo, Store};
use carepost_types::Clock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    ReadDirectory,
    ManageDepartments,
    ManageAccounts,
    /// Clear a lockout (helpdesk and IT).
    UnlockAccounts,
    /// Disable an account (IT; a supervisor for a leaver of their department).
    DisableAccounts,
    /// Grant and revoke administrative roles.
    ManageRoles,
    /// Start a verified password reset (helpdesk).
    StartReset,
    /// Approve a helpdesk's reset request (a supervisor of the person's department).
    ApproveReset,
    /// Reset or disable an account that holds an administrative role (IT only).
    ManagePrivileged,
    ReadAudit,
    /// Register and remove single sign-on applications (IT only).
    ManageApps,
    /// Change the password, lockout, MFA and session policies while the server runs (IT only).
    ManagePolicies,
    /// Ask IT to rename or move an account (a supervisor, within their departments).
    RequestChanges,
    /// Issue first-sign-in invitations (IT; a supervisor, for their own staff).
    InviteStaff,
    /// Create, change and remove bookable rooms and equipment (IT; a supervisor, for their
    /// department subtree).
    ManageResources,
}

impl Permission {
    fn as_str(self) -> &'static str {
        match self {
            Permission::ReadDirectory => "read-directory",
            Permission::ManageDepartments => "manage-departments",
            Permission::ManageAccounts => "manage-accounts",
            Permission::UnlockAccounts => "unlock-accounts",
            Permission::DisableAccounts => "disable-accounts",
            Permission::ManageRoles => "manage-roles",
            Permission::StartReset => "start-reset",
            Permission::ApproveReset => "approve-reset",
            Permission::ManagePrivileged => "manage-privileged-accounts",
            Permission::ReadAudit => "read-audit",
            Permission::ManageApps => "manage-sso-apps",
            Permission::ManagePolicies => "manage-policies",
            Permission::RequestChanges => "request-changes",
            Permission::InviteStaff => "invite-staff",
            Permission::ManageResources => "manage-resources",
        }
    }

    /// What a supervisor may do, within the departments they supervise.
    fn supervisor_may(self) -> bool {
        matches!(
            self,
            Permission::ReadDirectory
                | Permission::DisableAccounts
                | Permission::ApproveReset
                | Permission::RequestChanges
                | Permission::InviteStaff
                | Permission::ManageResources
        )
    }

    /// The roles that hold this permission, in words, for a refusal to name.
    pub fn needs(self) -> String {
        let roles: Vec<&str> = [Role::ItAdmin, Role::Helpdesk, Role::SecurityOfficer]
            .iter()
            .filter(|r| self.granted_to(r))
            .map(Role::as_str)
            .collect();
        let mut words = roles.join(" or ");
        if self.supervisor_may() {
            words.push_str(" role, or the supervisor role for the department concerned");
        } else {
            words.push_str(" role");
        }
        words
    }

    pub fn granted_to(self, role: &Role) -> bool {
        matches!(
            (role, self),
            (Role::ItAdmin, _)
                | (Role::Helpdesk, Permission::ReadDirectory)
                | (
                    Role::Helpdesk,
                    Permission::UnlockAccounts | Permission::StartReset
                )
                | (
                    Role::SecurityOfficer,
                    Permission::ReadAudit | Permission::ReadDirectory
                )
        )
    }
}

impl Directory {
    /// The actor for a signed-in account: its roles from the store, its network source. Until
    /// the account has a second factor its roles wait (`Actor::waiting_for_factor`): what it
    /// may do for itself stays open.
    pub async fn actor_for(
        &self,
        account: carepost_types::AccountId,
        address: &str,
        source: Option<std::net::IpAddr>,
    ) -> Result<Actor, IdentityError> {
        let roles = self.store.read().await?.list_roles(account).await?;
        let mut actor = Actor::account(account, address);
        actor.roles = roles.iter().filter_map(|(r, _)| Role::parse(r)).collect();
        actor.supervises = roles
            .iter()
            .filter(|(r, _)| r == Role::Supervisor.as_str())
            .filter_map(|(_, scope)| *scope)
            .collect();
        actor.source = source.map(|ip| ip.to_string());
        if !actor.roles.is_empty() && !self.has_factor(account).await? {
            actor.waiting_for_factor = std::mem::take(&mut actor.roles);
            actor.supervises.clear();
        }
        Ok(actor)
    }

    /// Whether `account`'s roles are open: it has a second factor (see `actor_for`). For the
    /// places that read roles without an `Actor` (mail lists, single sign-on claims).
    pub async fn roles_open(
        &self,
        account: carepost_types::AccountId,
    ) -> Result<bool, IdentityError> {
        self.has_factor(account).await
    }

    /// Allows or refuses `actor` the permission; refusals are audited.
    pub async fn require(
        &self,
        actor: &Actor,
        p: Permission,
        target: &str,
    ) -> Result<(), IdentityError> {
        require(&self.store, &*self.clock, actor, p, target).await
    }

    /// Like `require`, for an action on one account: supervisors are allowed what they may do
    /// within the departments they supervise.
    pub(crate) async fn require_account(
        &self,
        actor: &Actor,
        p: Permission,
        row: &carepost_store::AccountRow,
    ) -> Result<(), IdentityError> {
        let target = format!("account:{}", row.primary_address);
        let acting_on_people = matches!(
            p,
            Permission::StartReset
                | Permission::DisableAccounts
                | Permission::ApproveReset
                | Permission::RequestChanges
                | Permission::InviteStaff
        );
        // Out of reach first, with the one refusal every such account gets: which accounts
        // hold a role is not told to someone who may not act on them at all.
        let global = actor.roles.iter().any(|r| p.granted_to(r));
        if !global && !self.supervises(actor, p, row.department_id).await? {
            return require(&self.store, &*self.clock, actor, p, &target).await;
        }
        // Helpdesk resets and supervisors' disables, approvals and change requests stop at
        // accounts that hold a role: taking over an administrator is for IT alone, even for
        // a role that holds the permission in general.
        if acting_on_people
            && !self
                .store
                .read()
                .await?
                .list_roles(row.id)
                .await?
                .is_empty()
        {
            return require(
                &self.store,
                &*self.clock,
                actor,
                Permission::ManagePrivileged,
                &target,
            )
            .await;
        }
        Ok(())
    }

    /// Allows or refuses `actor` the permission for something that belongs to `department`
    /// (`None`: the whole organization): a global role, or a supervisor of that department's
    /// subtree when `p` is open to supervisors. Refusals are audited.
    pub async fn require_within(
        &self,
        actor: &Actor,
        p: Permission,
        department: Option<carepost_types::DepartmentId>,
        target: &str,
    ) -> Result<(), IdentityError> {
        if let Some(d) = department
            && self.supervises(actor, p, d).await?
        {
            return Ok(());
        }
        self.require(actor, p, target).await
    }

    /// Whether `actor` may do `p` as supervisor of `department`.
    pub(crate) async fn supervises(
        &self,
        actor: &Actor,
        p: Permission,
        department: carepost_types::DepartmentId,
    ) -> Result<bool, IdentityError> {
        if !p.supervisor_may() || !actor.roles.contains(&Role::Supervisor) {
            return Ok(false);
        }
        let mut read = self.store.read().await?;
        for root in &actor.supervises {
            if read.department_within(department, *root).await? {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

impl Directory {
    /// Records a refusal that is not a missing permission (a missing proof, the four-eyes
    /// rule) the same way as one, and returns the error to answer with.
    pub(crate) async fn refuse(
        &self,
        actor: &Actor,
        target: &str,
        reason: &str,
    ) -> Result<IdentityError, IdentityError> {
        let mut tx = self.store.begin().await?;
        let mut event = NewEvent::success(
            self.clock.now(),
            &actor.who,
            action::AUTHZ_DENIED,
            target.into(),
        )
        .with_outcome(Outcome::Denied)
        .with_details(serde_json::json!({ "reason": reason }));
        event.source = actor.source.clone();
        tx.append_audit(&event).await?;
        tx.commit().await?;
        Ok(IdentityError::Forbidden(reason.to_string()))
    }
}

async fn require(
    store: &Store,
    clock: &dyn Clock,
    actor: &Actor,
    p: Permission,
    target: &str,
) -> Result<(), IdentityError> {
    if actor.roles.iter().any(|r| p.granted_to(r)) {
        return Ok(());
    }
    let waiting = actor
        .waiting_for_factor
        .iter()
        .find(|r| p.granted_to(r) || (**r == Role::Supervisor && p.supervisor_may()));
    let mut tx = store.begin().await?;
    let mut event = NewEvent::success(clock.now(), &actor.who, action::AUTHZ_DENIED, target.into())
        .with_outcome(Outcome::Denied)
        .with_details(serde_json::json!({
            "permission": p.as_str(),
            "role_waits_for_second_factor": waiting.map(Role::as_str),
        }));
    event.source = actor.source.clone();
    tx.append_audit(&event).await?;
    tx.commit().await?;
    Err(IdentityError::Forbidden(match waiting {
        Some(role) => role_waits(role),
        None => format!(
            "{} may not {}: that needs the {}",
            actor.who,
            p.as_str(),
            p.needs()
        ),
    }))
}

/// The refusal for a role held back until its holder has a second factor.
pub fn role_waits(role: &Role) -> String {
    format!(
        "your {role} role opens once you have a second factor: add an authenticator app or a passkey on your account's security page"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_grant_least_privilege() {
        assert!(Permission::ManageAccounts.granted_to(&Role::ItAdmin));
        assert!(!Permission::ManageAccounts.granted_to(&Role::Helpdesk));
        assert!(Permission::ReadDirectory.granted_to(&Role::Helpdesk));
        assert!(Permission::ReadAudit.granted_to(&Role::SecurityOfficer));
        assert!(!Permission::ReadAudit.granted_to(&Role::Helpdesk));
        assert!(!Permission::ManageDepartments.granted_to(&Role::Communications));
    }
}
