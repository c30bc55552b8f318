//! Reading and verifying the audit trail, for security officers and administrators.

use crate::authz::{Permission, require};
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
        require(&self.store, &*self.clock, actor, Permission::ReadAudit, "audit").await?;
        Ok(self.store.read().await?.list_audit(filter).await?)
    }

    /// Walks the whole chain in sequence, in constant memory, up to the head recorded when
    /// the walk began (events appended meanwhile are left for the next run).
    pub async fn verify_audit(
        &self,
        actor: &Actor,
    ) -> Result<Result<VerifyReport, ChainBreak>, IdentityError> {
        require(&self.store, &*self.clock, actor, Permission::ReadAudit, "audit").await?;
        let (head_seq, head_hash) = self.store.read().await?.audit_head().await?;
        let mut verifier = Verifier::default();
        let mut after = AuditSeq(0);
        loop {
            let filter = AuditFilter {
                after_seq: Some(after),
                limit: Some(PAGE),
                ..AuditFilter::default()
            };
            let page = self.store.read().await?.list_audit(&filter).await?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            for e in page.iter().take_while(|e| e.seq <= head_seq) {
                if let Err(b) = verifier.feed(e) {
                    return Ok(Err(b));
                }
            }
            if after >= head_seq {
                // Anything stored beyond the head at the start: appended since, or inserted.
                break;
            }
        }
        Ok(verifier.finish(head_seq, &head_hash))
    }
}
