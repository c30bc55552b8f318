//! Reading and verifying the audit trail, for security officers and administrators.

use crate::authz::Permission;
use crate::{Actor, Directory, IdentityError};
use carepost_audit::{ChainBreak, Event, Verifier, VerifyReport, action};
use carepost_store::{AuditFilter, AuditRepo};
use carepost_types::AuditSeq;
use serde::Serialize;

/// Events read per round trip while verifying.
const PAGE: i64 = 2000;

impl Directory {
    pub async fn audit_events(
        &self,
        actor: &Actor,
        filter: &AuditFilter,
    ) -> Result<Vec<Event>, IdentityError> {
        self.require(actor, Permission::ReadAudit, "audit").await?;
        Ok(self.store.read().await?.list_audit(filter).await?)
    }

    /// Walks the whole chain in sequence, in constant memory, then compares its end with the
    /// recorded head. Events committed while the walk runs are walked too.
    pub async fn verify_audit(
        &self,
        actor: &Actor,
    ) -> Result<Result<VerifyReport, ChainBreak>, IdentityError> {
        self.require(actor, Permission::ReadAudit, "audit").await?;
        let mut verifier = Verifier::default();
        let mut after = AuditSeq(0);
        loop {
            let walked = self.walk_from(&mut verifier, &mut after).await?;
            if let Err(b) = walked {
                return Ok(Err(b));
            }
            let head = self.store.read().await?.audit_head().await?;
            // A head past the walk means events committed meanwhile, unless there are none to
            // read: then they were removed.
            if head.seq > after && self.has_events_after(after).await? {
                continue;
            }
            let key = carepost_audit::seal_key(&self.config().master_key);
            return Ok(verifier.finish(&head, &key));
        }
    }

    async fn walk_from(
        &self,
        verifier: &mut Verifier,
        after: &mut AuditSeq,
    ) -> Result<Result<(), ChainBreak>, IdentityError> {
        loop {
            let filter = AuditFilter {
                after_seq: Some(*after),
                limit: Some(PAGE),
                ..AuditFilter::default()
            };
            let page: Vec<Event> = self.store.read().await?.list_audit(&filter).await?;
            let Some(last) = page.last() else {
                return Ok(Ok(()));
            };
            *after = last.seq;
            for e in &page {
                if let Err(b) = verifier.feed(e) {
                    return Ok(Err(b));
                }
            }
        }
    }

    async fn has_events_after(&self, after: AuditSeq) -> Result<bool, IdentityError> {
        let filter = AuditFilter {
            after_seq: Some(after),
            limit: Some(1),
            ..AuditFilter::default()
        };
        Ok(!self
            .store
            .read()
            .await?
            .list_audit(&filter)
            .await?
            .is_empty())
    }

    /// The account's own recent security events (sign-ins, locks, changes to its password and
    /// factors), newest first: what the portal shows its owner. No permission is needed to
    /// read one's own.
    pub async fn own_activity(
        &self,
        account: carepost_types::AccountId,
        limit: i64,
    ) -> Result<Vec<Event>, IdentityError> {
        let row = self.account_row(account).await?;
        // An address can pass to a new colleague after its quarantine: only events since this
        // account was made are its own. Others' refused attempts on it (`authz.denied`) are
        // theirs, not the owner's doing.
        let filter = AuditFilter {
            target: Some(format!("account:{}", row.primary_address)),
            since: Some(row.created_at),
            limit: Some(limit),
            newest_first: true,
            ..AuditFilter::default()
        };
        let events = self.store.read().await?.list_audit(&filter).await?;
        Ok(events
            .into_iter()
            .filter(|e| e.action != carepost_audit::action::AUTHZ_DENIED)
            .collect())
    }
}

/// One attempt of an account's sign-in log, as the console shows it (like Entra's sign-in
/// logs): when, over what, from where, and what came of it, in words.
#[derive(Debug, Clone, Serialize)]
pub struct SignInRecord {
    pub at: carepost_types::UnixMillis,
    /// `web`, `imap`, `smtp`, `oidc`, `api`; empty for a lock or an unlock.
    pub protocol: String,
    pub source: Option<String>,
    /// `success`, `failure`, or the lock's own word.
    pub result: String,
    /// What happened, in words ("Wrong password", "Signed in with an app password").
    pub reason: String,
}

/// How many attempts the account's page shows.
pub const SIGN_IN_LOG: i64 = 50;

impl Directory {
    /// The account's recent sign-ins, refusals, locks and unlocks, newest first: for the
    /// helpdesk and IT who answer "why can I not sign in?", and security. A supervisor does
    /// not watch their staff's sign-ins.
    pub async fn sign_in_log(
        &self,
        actor: &Actor,
        address: &str,
    ) -> Result<Vec<SignInRecord>, IdentityError> {
        let may = actor.roles.iter().any(|r| {
            Permission::UnlockAccounts.granted_to(r) || Permission::ReadAudit.granted_to(r)
        });
        let row =
            crate::directory::account_by_address(&mut self.store.read().await?, address).await?;
        if !may {
            self.require(
                actor,
                Permission::ReadAudit,
                &format!("account:{}", row.primary_address),
            )
            .await?;
        }
        let filter = AuditFilter {
            target: Some(format!("account:{}", row.primary_address)),
            since: Some(row.created_at),
            actions: vec![
                "signin.".into(),
                action::ACCOUNT_LOCK.into(),
                action::ACCOUNT_UNLOCK.into(),
            ],
            limit: Some(SIGN_IN_LOG),
            newest_first: true,
            ..AuditFilter::default()
        };
        let events = self.store.read().await?.list_audit(&filter).await?;
        Ok(events.iter().map(sign_in_record).collect())
    }
}

fn sign_in_record(e: &Event) -> SignInRecord {
    let details: serde_json::Value = serde_json::from_str(&e.details).unwrap_or_default();
    let detail = |k: &str| details.get(k).and_then(serde_json::Value::as_str);
    let protocol = detail("protocol").unwrap_or_default().to_string();
    let reason = match e.action.as_str() {
        action::SIGNIN_SUCCESS => match (
            details.get("app_password").is_some_and(|v| !v.is_null()),
            detail("mechanism"),
        ) {
            (true, _) => "Signed in with an app password".to_string(),
            (_, Some("oauth")) => "Signed in with an application's token".to_string(),
            _ => "Signed in".to_string(),
        },
        action::SIGNIN_FIRST_FACTOR => "Right password; the second factor was asked".to_string(),
        action::SIGNIN_FAILURE => {
            crate::authn::refusal_in_words(detail("reason").unwrap_or("")).to_string()
        }
        action::ACCOUNT_LOCK => match details.get("minutes").and_then(serde_json::Value::as_i64) {
            Some(m) => format!("Locked for {m} minutes after repeated failures"),
            None => "Locked after repeated failures".to_string(),
        },
        action::ACCOUNT_UNLOCK => format!("Unlocked by {}", e.actor),
        other => action::in_words(other).to_string(),
    };
    let result = match e.action.as_str() {
        action::ACCOUNT_LOCK => "locked".to_string(),
        action::ACCOUNT_UNLOCK => "unlocked".to_string(),
        action::SIGNIN_FIRST_FACTOR => "second step".to_string(),
        _ => e.outcome.clone(),
    };
    SignInRecord {
        at: e.at,
        protocol,
        source: e.source.clone(),
        result,
        reason,
    }
}
