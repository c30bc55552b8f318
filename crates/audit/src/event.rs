//! Audit events: `NewEvent` is what a domain operation records, `Event` is what the store keeps
//! once it has a place in the chain.

use carepost_types::{AccountId, AuditSeq, UnixMillis};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The action names written to the trail. Dotted, `area.verb`, stable once shipped: compliance
/// reports filter on them.
pub mod action {
    pub const DEPARTMENT_CREATE: &str = "department.create";
    pub const DEPARTMENT_RENAME: &str = "department.rename";
    pub const DEPARTMENT_MOVE: &str = "department.move";
    pub const DEPARTMENT_REMOVE: &str = "department.remove";
    pub const ACCOUNT_CREATE: &str = "account.create";
    pub const ACCOUNT_UPDATE: &str = "account.update";
    pub const ACCOUNT_RENAME: &str = "account.rename";
    /// A returning account given a new address (its old one went to someone else).
    pub const ADDRESS_ASSIGN: &str = "account.new-address";
    pub const ACCOUNT_DISABLE: &str = "account.disable";
    pub const ACCOUNT_ENABLE: &str = "account.enable";
    pub const ACCOUNT_DEPROVISION: &str = "account.deprovision";
    pub const ALIAS_ADD: &str = "alias.add";
    pub const ALIAS_REMOVE: &str = "alias.remove";
    pub const LIST_CREATE: &str = "list.create";
    pub const LIST_REMOVE: &str = "list.remove";
    pub const IMPORT_RUN: &str = "import.run";
    /// Accounts exported from the console (a CSV of the rows picked).
    pub const DIRECTORY_EXPORT: &str = "directory.export";
    pub const ADMIN_BOOTSTRAP: &str = "admin.bootstrap";
    pub const AUTHZ_DENIED: &str = "authz.denied";
    pub const PASSWORD_SET: &str = "password.set";
    pub const INVITATION_ISSUE: &str = "invitation.issue";
    pub const INVITATION_USE: &str = "invitation.use";
    pub const INVITATION_REVOKE: &str = "invitation.revoke";
    pub const PASSWORD_RESET: &str = "password.reset";
    pub const PASSWORD_CHANGE: &str = "password.change";
    pub const PASSWORD_RECOVER: &str = "password.recover";
    pub const SIGNIN_SUCCESS: &str = "signin.success";
    pub const SIGNIN_FAILURE: &str = "signin.failure";
    pub const SIGNIN_FIRST_FACTOR: &str = "signin.first_factor";
    pub const PASSWORD_REHASH: &str = "password.rehash";
    pub const MFA_VERIFY: &str = "mfa.verify";
    pub const ACCOUNT_LOCK: &str = "account.lock";
    pub const ACCOUNT_UNLOCK: &str = "account.unlock";
    pub const MASTER_KEY_ADD: &str = "master_key.add";
    pub const MASTER_KEY_RETIRE: &str = "master_key.retire";
    pub const SOURCE_CLEAR: &str = "source.clear";
    pub const MFA_RESET: &str = "mfa.reset";
    pub const TOTP_ENROLL: &str = "mfa.totp.enroll";
    pub const TOTP_CONFIRM: &str = "mfa.totp.confirm";
    pub const RECOVERY_CODES_GENERATE: &str = "mfa.recovery_codes.generate";
    pub const RECOVERY_CODE_USE: &str = "mfa.recovery_code.use";
    pub const PASSKEY_REGISTER: &str = "mfa.passkey.register";
    pub const PASSKEY_REMOVE: &str = "mfa.passkey.remove";
    pub const MFA_GRACE_START: &str = "mfa.grace.start";
    pub const APP_PASSWORD_CREATE: &str = "app_password.create";
    pub const APP_PASSWORD_REVOKE: &str = "app_password.revoke";
    pub const SESSION_START: &str = "session.start";
    pub const TOKEN_CREATE: &str = "api_token.create";
    pub const TOKEN_REVOKE: &str = "api_token.revoke";
    pub const TOKEN_DENIED: &str = "api_token.denied";
    pub const ROLE_GRANT: &str = "role.grant";
    pub const RESET_REQUEST: &str = "password.reset_request";
    pub const RESET_APPROVE: &str = "password.reset_approve";
    pub const ROLE_REVOKE: &str = "role.revoke";
    pub const SESSION_END: &str = "session.end";
    pub const SESSION_STEP_UP: &str = "session.step_up";
    pub const MAIL_RECEIVE: &str = "mail.receive";
    pub const MAIL_SUBMIT: &str = "mail.submit";
    pub const MAIL_EXPUNGE: &str = "mail.expunge";
    pub const MAIL_COLLECT: &str = "mail.collect";
    pub const MAIL_APPEND: &str = "mail.append";
    pub const MAIL_MOVE: &str = "mail.move";
    pub const MAILBOX_CREATE: &str = "mailbox.create";
    pub const MAILBOX_DELETE: &str = "mailbox.delete";
    pub const MAILBOX_RENAME: &str = "mailbox.rename";
    pub const MAIL_RELAY: &str = "mail.relay";
    pub const MAIL_BOUNCE: &str = "mail.bounce";
    pub const QUEUE_RETRY: &str = "queue.retry";
    pub const QUEUE_REMOVE: &str = "queue.remove";
    pub const CALENDAR_IMIP_REPLY: &str = "calendar.imip_reply";
    pub const CALENDAR_EXPORT: &str = "calendar.export";
    pub const CALENDAR_IMPORT: &str = "calendar.import";
    pub const CALENDAR_SHARE: &str = "calendar.share";
    pub const CALENDAR_UNSHARE: &str = "calendar.unshare";
    pub const CALENDAR_DELEGATE: &str = "calendar.delegate";
    pub const CALENDAR_UNDELEGATE: &str = "calendar.undelegate";
    pub const CALENDAR_PUBLISH: &str = "calendar.publish";
    pub const CALENDAR_UNPUBLISH: &str = "calendar.unpublish";
    pub const RESOURCE_CREATE: &str = "resource.create";
    pub const RESOURCE_UPDATE: &str = "resource.update";
    pub const RESOURCE_REMOVE: &str = "resource.remove";
    /// A delegate approved or declined a booking by hand.
    pub const RESOURCE_ANSWER: &str = "resource.answer";
    pub const OIDC_KEYS_ROTATE: &str = "oidc.keys.rotate";
    pub const OIDC_CLIENT_ADD: &str = "oidc.client.add";
    pub const OIDC_CLIENT_REMOVE: &str = "oidc.client.remove";
    pub const OIDC_CODE_ISSUE: &str = "oidc.code.issue";
    pub const OIDC_CONSENT: &str = "oidc.consent";
    pub const OIDC_TOKEN_ISSUE: &str = "oidc.token.issue";
    pub const OIDC_TOKEN_DENIED: &str = "oidc.token.denied";
    pub const OIDC_TOKEN_REVOKE: &str = "oidc.token.revoke";
    pub const OIDC_LOGOUT: &str = "oidc.logout";
    pub const POLICY_CHANGE: &str = "policy.change";
    pub const CHANGE_REQUEST: &str = "account.change_request";
    pub const CHANGE_DECIDE: &str = "account.change_decide";

    /// The action in words, for pages ("Second-factor grace period started", not
    /// `mfa.grace.start`); an action this build does not know is shown as recorded.
    pub fn in_words(action: &str) -> &str {
        match action {
            DEPARTMENT_CREATE => "Department created",
            DEPARTMENT_RENAME => "Department renamed",
            DEPARTMENT_MOVE => "Department moved",
            DEPARTMENT_REMOVE => "Department removed",
            ACCOUNT_CREATE => "Account created",
            ACCOUNT_UPDATE => "Account changed",
            ACCOUNT_RENAME => "Account renamed",
            ADDRESS_ASSIGN => "New address given to a returning account",
            ACCOUNT_DISABLE => "Account disabled",
            ACCOUNT_ENABLE => "Account enabled again",
            ACCOUNT_DEPROVISION => "Account deprovisioned",
            ALIAS_ADD => "Alias added",
            ALIAS_REMOVE => "Alias removed",
            LIST_CREATE => "Mailing list created",
            LIST_REMOVE => "Mailing list removed",
            IMPORT_RUN => "HR import run",
            DIRECTORY_EXPORT => "Accounts exported",
            ADMIN_BOOTSTRAP => "First administrator created",
            AUTHZ_DENIED => "Refused: not allowed",
            PASSWORD_SET => "Password set by an administrator",
            INVITATION_ISSUE => "First-sign-in invitation issued",
            INVITATION_USE => "First-sign-in invitation used",
            INVITATION_REVOKE => "First-sign-in invitation revoked",
            PASSWORD_RESET => "Password reset",
            PASSWORD_CHANGE => "Password changed",
            PASSWORD_RECOVER => "Password changed with a recovery code",
            SIGNIN_SUCCESS => "Signed in",
            SIGNIN_FAILURE => "Sign-in refused",
            SIGNIN_FIRST_FACTOR => "Password accepted, second factor asked",
            PASSWORD_REHASH => "Password hash upgraded",
            MFA_VERIFY => "Second factor checked",
            ACCOUNT_LOCK => "Account locked",
            ACCOUNT_UNLOCK => "Account unlocked",
            MASTER_KEY_ADD => "Master key added",
            MASTER_KEY_RETIRE => "Master key retired",
            SOURCE_CLEAR => "Paused network lifted",
            MFA_RESET => "Second factors reset",
            TOTP_ENROLL => "Authenticator app enrollment started",
            TOTP_CONFIRM => "Authenticator app enrolled",
            RECOVERY_CODES_GENERATE => "Recovery codes made",
            RECOVERY_CODE_USE => "Recovery code used",
            PASSKEY_REGISTER => "Passkey added",
            PASSKEY_REMOVE => "Passkey removed",
            MFA_GRACE_START => "Second-factor grace period started",
            APP_PASSWORD_CREATE => "App password made",
            APP_PASSWORD_REVOKE => "App password revoked",
            SESSION_START => "Browser session started",
            TOKEN_CREATE => "API token made",
            TOKEN_REVOKE => "API token revoked",
            TOKEN_DENIED => "API token refused",
            ROLE_GRANT => "Role granted",
            RESET_REQUEST => "Password reset asked of a supervisor",
            RESET_APPROVE => "Password reset approved by a supervisor",
            ROLE_REVOKE => "Role revoked",
            SESSION_END => "Browser session ended",
            SESSION_STEP_UP => "Second factor confirmed again",
            MAIL_RECEIVE => "Mail received",
            MAIL_SUBMIT => "Mail sent",
            MAIL_EXPUNGE => "Mail deleted",
            MAIL_COLLECT => "Deleted mail collected",
            MAIL_APPEND => "Mail saved to a folder",
            MAIL_MOVE => "Mail moved",
            MAILBOX_CREATE => "Mail folder created",
            MAILBOX_DELETE => "Mail folder deleted",
            MAILBOX_RENAME => "Mail folder renamed",
            MAIL_RELAY => "Mail relayed outside",
            MAIL_BOUNCE => "Mail bounced",
            QUEUE_RETRY => "Queued mail retried",
            QUEUE_REMOVE => "Queued mail removed",
            CALENDAR_IMIP_REPLY => "Answer to an invitation received by mail",
            CALENDAR_EXPORT => "Calendar exported",
            CALENDAR_IMPORT => "Calendar imported",
            CALENDAR_SHARE => "Calendar shared",
            CALENDAR_UNSHARE => "Calendar no longer shared",
            CALENDAR_DELEGATE => "Calendar delegate added",
            CALENDAR_UNDELEGATE => "Calendar delegate removed",
            CALENDAR_PUBLISH => "Calendar published at a secret address",
            CALENDAR_UNPUBLISH => "Calendar feed stopped",
            RESOURCE_CREATE => "Room or equipment created",
            RESOURCE_UPDATE => "Room or equipment changed",
            RESOURCE_REMOVE => "Room or equipment removed",
            RESOURCE_ANSWER => "Booking approved or declined by a delegate",
            OIDC_KEYS_ROTATE => "Signing keys rotated",
            OIDC_CLIENT_ADD => "Application registered",
            OIDC_CLIENT_REMOVE => "Application removed",
            OIDC_CODE_ISSUE => "Application sign-in started",
            OIDC_CONSENT => "Application access agreed",
            OIDC_TOKEN_ISSUE => "Application signed in",
            OIDC_TOKEN_DENIED => "Application token refused",
            OIDC_TOKEN_REVOKE => "Application token revoked",
            OIDC_LOGOUT => "Signed out of an application",
            POLICY_CHANGE => "Policy changed",
            CHANGE_REQUEST => "Change asked of IT",
            CHANGE_DECIDE => "Change request decided",
            other => other,
        }
    }
}

/// Who performed an action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Actor {
    /// A signed-in account, named by its address at the time.
    Account { id: AccountId, address: String },
    /// carepost itself (first start, scheduled jobs).
    System,
    /// The `carepost` command line, run by this operating-system user.
    LocalCli { os_user: String },
    /// An API token made for automation.
    ApiToken { id: i64, name: String },
    /// An application registered for single sign-on, acting for itself or asking for tokens.
    Client { client_id: String },
}

impl Actor {
    /// The text stored in the `actor` column and matched by `audit export --actor`.
    pub fn label(&self) -> String {
        match self {
            Actor::Account { address, .. } => address.clone(),
            Actor::System => "system".to_string(),
            Actor::LocalCli { os_user } => format!("local-cli:{os_user}"),
            Actor::ApiToken { id, name } => format!("token:{name}#{id}"),
            Actor::Client { client_id } => format!("client:{client_id}"),
        }
    }

    pub fn account_id(&self) -> Option<AccountId> {
        match self {
            Actor::Account { id, .. } => Some(*id),
            _ => None,
        }
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Success,
    Failure,
    Denied,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Denied => "denied",
        }
    }

    pub fn parse(s: &str) -> Option<Outcome> {
        match s {
            "success" => Some(Outcome::Success),
            "failure" => Some(Outcome::Failure),
            "denied" => Some(Outcome::Denied),
            _ => None,
        }
    }
}

/// An event a domain operation wants recorded; the store gives it its place in the chain.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub at: UnixMillis,
    pub actor: Actor,
    pub action: &'static str,
    /// `kind:name`, e.g. `account:john.smith@kaiser.org` or `department:Cardiology`.
    pub target: String,
    /// Network source address, when the action came over the network.
    pub source: Option<String>,
    pub outcome: Outcome,
    pub details: serde_json::Value,
}

impl NewEvent {
    /// A successful action with no details yet.
    pub fn success(at: UnixMillis, actor: &Actor, action: &'static str, target: String) -> Self {
        NewEvent {
            at,
            actor: actor.clone(),
            action,
            target,
            source: None,
            outcome: Outcome::Success,
            details: serde_json::Value::Null,
        }
    }

    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = details;
        self
    }

    pub fn with_outcome(mut self, outcome: Outcome) -> Self {
        self.outcome = outcome;
        self
    }
}

/// An event as stored: with its sequence number, its predecessor's hash and its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Event {
    pub seq: AuditSeq,
    pub at: UnixMillis,
    pub actor: String,
    pub actor_id: Option<AccountId>,
    pub action: String,
    pub target: String,
    pub source: Option<String>,
    pub outcome: String,
    /// Canonical JSON text, hashed exactly as stored.
    pub details: String,
    pub prev_hash: String,
    pub hash: String,
}

impl Event {
    /// Gives `new` the place after an event whose hash is `prev_hash`.
    pub fn seal(new: &NewEvent, seq: AuditSeq, prev_hash: &str) -> Event {
        let mut event = Event {
            seq,
            at: new.at,
            actor: new.actor.label(),
            actor_id: new.actor.account_id(),
            action: new.action.to_string(),
            target: new.target.clone(),
            source: new.source.clone(),
            outcome: new.outcome.as_str().to_string(),
            details: new.details.to_string(),
            prev_hash: prev_hash.to_string(),
            hash: String::new(),
        };
        event.hash = crate::event_hash(&event);
        event
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_action_has_words() {
        // Read from this file, so that an action added without words fails here.
        let source = include_str!("event.rs");
        let names: Vec<&str> = source
            .lines()
            .filter_map(|l| l.trim().strip_prefix("pub const "))
            .filter_map(|l| l.split('"').nth(1))
            .collect();
        assert!(names.len() > 70, "{names:?}");
        for name in names {
            assert_ne!(super::action::in_words(name), name, "{name} has no words");
        }
    }
}
