//! Reading and verifying the audit trail, for security officers and administrators.

use crate::authz::Permission;
use crate::{Actor, Directory, IdentityError};
use carepost_audit::{ChainBreak, Event, Verifier, VerifyReport};
use carepost_store::{AuditFilter, AuditRepo};
use carepost_types::AuditSeq;

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
