//! What the console's landing page counts: the things a hospital IT team or helpdesk looks at
//! first in the morning (who is locked out, which networks are paused, what waits for a
//! decision, how many sign-ins were refused lately).

use crate::authz::Permission;
use crate::{Actor, Directory, IdentityError};
use carepost_audit::action;
use carepost_store::{AuditRepo, AuthRepo, ChangeRequestRepo, InvitationRepo};
use serde::Serialize;

/// The landing page's counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Overview {
    /// Accounts locked now (on either kind of source).
    pub locked_now: i64,
    /// Source networks whose sign-ins are paused now.
    pub paused_networks: i64,
    /// Change requests waiting for IT.
    pub open_change_requests: i64,
    /// Failed sign-ins in the last 24 hours, of every protocol.
    pub refused_sign_ins_24h: i64,
    /// First-sign-in invitations issued and not used, revoked or expired.
    pub invitations_outstanding: i64,
}

impl Directory {
    /// The counts for staff with a role (each is a count, never a name).
    pub async fn overview(&self, actor: &Actor) -> Result<Overview, IdentityError> {
        self.require(actor, Permission::ReadDirectory, "overview")
            .await?;
        let now = self.clock.now();
        let paused_networks = i64::try_from(self.paused_sources(actor).await?.len()).unwrap_or(0);
        let mut read = self.store.read().await?;
        let day_ago = carepost_types::UnixMillis(now.0 - 86_400_000);
        Ok(Overview {
            locked_now: read.count_locked_accounts(now).await?,
            paused_networks,
            open_change_requests: i64::try_from(read.list_open_change_requests().await?.len())
                .unwrap_or(0),
            refused_sign_ins_24h: read
                .count_audit_since(action::SIGNIN_FAILURE, day_ago)
                .await?,
            invitations_outstanding: read.count_outstanding_invitations(now).await?,
        })
    }
}
