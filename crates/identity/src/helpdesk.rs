//! Helpdesk password resets that resist social engineering. A caller who says "I am Dr. Smith
//! and I forgot my password" is not enough: for an account with a second factor, the reset
//! needs either the person's proof (the current code from their authenticator, or a recovery
//! code, read out to the agent) or the approval, in carepost, of a supervisor of the person's
//! department who is not the agent who asked (four eyes). Every path is audited. Accounts
//! without a second factor may be reset by the agent directly, also audited.

use crate::directory::account_by_address;
use crate::{Actor, Directory, IdentityError, Permission, Protocol, SignIn};
use carepost_audit::action;
use carepost_store::{AuditRepo, AuthRepo, ResetRepo, ResetRequestRow};
use serde_json::json;

/// How long a reset request waits for a supervisor.
const REQUEST_VALID_FOR: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

impl Directory {
    /// A helpdesk reset. `user_code` is the code the person read from their authenticator (or
    /// a recovery code); required when the account has a second factor. Returns the one-time
    /// temporary password.
    pub async fn helpdesk_reset(
        &self,
        actor: &Actor,
        address: &str,
        user_code: Option<&str>,
    ) -> Result<String, IdentityError> {
        let row = account_by_address(&mut self.store.read().await?, address).await?;
        self.require_account(actor, Permission::StartReset, &row)
            .await?;
        // A passkey counts like an authenticator; unused recovery codes count too.
        let has_mfa = self.has_factor(row.id).await?
            || self
                .store
                .read()
                .await?
                .count_unused_recovery_codes(row.id)
                .await?
                > 0;
        // An account that must use a second factor but has none yet is treated as having one:
        // without a code to give, only a supervisor's approval resets it.
        let has_mfa = has_mfa || self.mfa_required(&row).await?;
        let target = format!("account:{}", row.primary_address);
        let how = match (has_mfa, user_code) {
            (false, _) => "helpdesk, no second factor on the account",
            (true, Some(code)) => {
                let attempt = SignIn {
                    login: &row.primary_address,
                    secret: "",
                    protocol: Protocol::Web,
                    source: None,
                };
                if !self.verify_second_factor(row.id, code, &attempt).await? {
                    let reason = "the code the person gave is not right; ask again, or request a supervisor's approval";
                    return Err(self.refuse(actor, &target, reason).await?);
                }
                "helpdesk, with the person's second-factor code"
            }
            (true, None) => {
                let reason = "this account uses a second factor: give the code the person reads from their authenticator, or request a supervisor's approval";
                return Err(self.refuse(actor, &target, reason).await?);
            }
        };
        self.reset_to_temporary(actor, &row, json!({ "path": how }))
            .await
    }

    /// Asks a supervisor of the person's department to approve a reset; returns the request.
    pub async fn request_reset(
        &self,
        actor: &Actor,
        address: &str,
        reason: &str,
    ) -> Result<i64, IdentityError> {
        let row = account_by_address(&mut self.store.read().await?, address).await?;
        self.require_account(actor, Permission::StartReset, &row)
            .await?;
        if actor.who.account_id().is_none() {
            // The four-eyes rule compares accounts: a request must come from a person.
            let target = format!("account:{}", row.primary_address);
            let why =
                "reset requests are made by a person signed in, not by a token or the command line";
            return Err(self.refuse(actor, &target, why).await?);
        }
        let reason = reason.trim();
        if reason.len() < 5 {
            return Err(IdentityError::Invalid(
                "a reset request needs a reason, such as the ticket and what the caller said"
                    .into(),
            ));
        }
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let id = tx
            .insert_reset_request(&ResetRequestRow {
                id: 0,
                account_id: row.id,
                requested_by: actor.who.label(),
                requested_by_id: actor.who.account_id(),
                reason: reason.to_string(),
                created_at: now,
                expires_at: now.plus(REQUEST_VALID_FOR),
                decided_by: None,
            })
            .await?;
        let event = self
            .audit(
                actor,
                action::RESET_REQUEST,
                format!("account:{}", row.primary_address),
            )
            .with_details(json!({ "request": id, "reason": reason }));
        tx.append_audit(&event).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// A supervisor of the person's department (or IT) approves a request made by someone
    /// else; returns the one-time temporary password, to hand over in person.
    pub async fn approve_reset(
        &self,
        actor: &Actor,
        request: i64,
    ) -> Result<String, IdentityError> {
        let not_found = || IdentityError::NotFound(format!("no open reset request {request}"));
        let mut read = self.store.read().await?;
        let r = read
            .find_reset_request(request)
            .await?
            .ok_or_else(not_found)?;
        let row = carepost_store::DirectoryRepo::find_account(&mut read, r.account_id)
            .await?
            .ok_or_else(not_found)?;
        drop(read);
        self.require_account(actor, Permission::ApproveReset, &row)
            .await?;
        if r.decided_by.is_some() || self.clock.now() >= r.expires_at {
            return Err(not_found());
        }
        // Four eyes, by account and not by name: whoever asked, or whoever the reset is for,
        // cannot approve; nor can an approver without an account (the command line).
        let approver = actor.who.account_id();
        if approver.is_none() || approver == r.requested_by_id || approver == Some(row.id) {
            let reason = "the agent who asked for a reset (or its subject) cannot approve it too";
            let target = format!("account:{}", row.primary_address);
            return Err(self.refuse(actor, &target, reason).await?);
        }
        let mut tx = self.store.begin().await?;
        if !tx
            .decide_reset_request(request, &actor.who.label(), self.clock.now())
            .await?
        {
            return Err(not_found());
        }
        let event = self
            .audit(
                actor,
                action::RESET_APPROVE,
                format!("account:{}", row.primary_address),
            )
            .with_details(json!({ "request": request, "requested_by": r.requested_by }));
        tx.append_audit(&event).await?;
        tx.commit().await?;
        let how = json!({ "path": "supervisor approval", "request": request, "requested_by": r.requested_by });
        self.reset_to_temporary(actor, &row, how).await
    }

    /// The open reset requests this actor could approve (a supervisor: people of the
    /// departments they supervise without a role; IT: all), never their own or about them.
    /// Looked at without refusals, so that a list does not fill the audit trail.
    pub async fn open_reset_requests(
        &self,
        actor: &Actor,
    ) -> Result<Vec<OpenResetRequest>, IdentityError> {
        let Some(me) = actor.who.account_id() else {
            return Ok(Vec::new());
        };
        let mut read = self.store.read().await?;
        let rows = read.list_open_reset_requests(self.clock.now()).await?;
        let it = actor
            .roles
            .iter()
            .any(|r| Permission::ManagePrivileged.granted_to(r));
        let mut out = Vec::new();
        for r in rows {
            if r.requested_by_id == Some(me) || r.account_id == me {
                continue;
            }
            let Some(row) =
                carepost_store::DirectoryRepo::find_account(&mut read, r.account_id).await?
            else {
                continue;
            };
            let privileged = !carepost_store::CredentialRepo::list_roles(&mut read, row.id)
                .await?
                .is_empty();
            let may = it
                || (!privileged
                    && self
                        .supervises(actor, Permission::ApproveReset, row.department_id)
                        .await?);
            if may {
                out.push(OpenResetRequest {
                    id: r.id,
                    address: row.primary_address,
                    department: row.department_name,
                    requested_by: r.requested_by,
                    reason: r.reason,
                    created_at: r.created_at.to_rfc3339(),
                });
            }
        }
        Ok(out)
    }
}

/// A reset request waiting for approval, as a supervisor's list shows it.
#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OpenResetRequest {
    pub id: i64,
    pub address: String,
    pub department: String,
    pub requested_by: String,
    pub reason: String,
    pub created_at: String,
}
