//! The helpdesk's view of the spray defence: which source networks are paused, since when and
//! why (how many logins failed there, how many of them no account), the networks one account
//! failed from, and clearing a network's pause or an account's locks, each on the record.

use crate::attempts::millis;
use crate::lockout::{SourceKind, is_locked, pause_until};
use crate::{Actor, Directory, IdentityError, Permission};
use carepost_audit::action;
use carepost_store::{AuditRepo, AuthRepo, CredentialRepo, SourceFailuresRow, SourceRepo};
use carepost_types::UnixMillis;
use serde::Serialize;
use serde_json::json;

/// A source network with recent failed sign-ins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SourceState {
    /// An IPv4 /24 or IPv6 /64 (`local` for sign-ins with no network source).
    pub network: String,
    /// Until when its sign-ins are paused for accounts that do not know it (RFC 3339);
    /// none when it is not paused.
    pub paused_until: Option<String>,
    /// Logins that failed there within the window with no success since.
    pub failing_logins: i64,
    /// Of those, names that are no account (a sign of guessing).
    pub unknown_logins: i64,
    pub failures: i64,
    /// The pause's threshold for this network (higher for IT's trusted networks).
    pub threshold: u32,
    pub trusted: bool,
    pub first_failure_at: String,
    pub last_failure_at: String,
}

/// What `unlock` cleared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Unlocked {
    /// The locks lifted: `familiar` (networks the account knows), `unfamiliar` (all others).
    pub locks_lifted: Vec<String>,
    /// Failed sign-ins forgotten (not yet a lock).
    pub failures_forgotten: i64,
    /// Paused networks the account failed from: an unlock does not lift them (that pauses a
    /// whole ward's computer; clear it on its own).
    pub paused_networks: Vec<SourceState>,
}

impl Unlocked {
    pub fn nothing_cleared(&self) -> bool {
        self.locks_lifted.is_empty() && self.failures_forgotten == 0
    }
}

impl Directory {
    fn source_state(&self, row: SourceFailuresRow, times: &[UnixMillis]) -> SourceState {
        let policy = &self.config().lockout;
        let ip = row
            .network
            .split('/')
            .next()
            .and_then(|a| a.parse::<std::net::IpAddr>().ok());
        let threshold = policy.source_threshold_for(ip);
        let now = self.clock.now();
        SourceState {
            paused_until: pause_until(policy, threshold, times)
                .filter(|t| *t > now)
                .map(UnixMillis::to_rfc3339),
            failing_logins: row.logins,
            unknown_logins: row.unknown,
            failures: row.failures,
            threshold,
            trusted: threshold != policy.source_threshold
                || ip.is_some_and(|ip| policy.trusted_networks.iter().any(|n| n.contains(&ip))),
            first_failure_at: row.first_at.to_rfc3339(),
            last_failure_at: row.last_at.to_rfc3339(),
            network: row.network,
        }
    }

    fn window_start(&self) -> UnixMillis {
        let window = millis(self.config().lockout.source_window);
        UnixMillis(self.clock.now().0 - window)
    }

    async fn state_of(
        &self,
        read: &mut carepost_store::Tx,
        row: SourceFailuresRow,
    ) -> Result<SourceState, IdentityError> {
        let limit = i64::from(
            self.config()
                .lockout
                .source_threshold
                .max(self.config().lockout.trusted_source_threshold),
        );
        let times = read
            .source_failure_times(&row.network, self.window_start(), limit)
            .await?;
        Ok(self.source_state(row, &times))
    }

    /// Networks paused now, most failing logins first (helpdesk and IT).
    pub async fn paused_sources(&self, actor: &Actor) -> Result<Vec<SourceState>, IdentityError> {
        self.require(actor, Permission::UnlockAccounts, "sources")
            .await?;
        let mut read = self.store.read().await?;
        let policy = &self.config().lockout;
        let least = policy.source_threshold.min(policy.trusted_source_threshold);
        let rows = read
            .list_source_failures(self.window_start(), i64::from(least))
            .await?;
        let mut out = Vec::new();
        for row in rows {
            let state = self.state_of(&mut read, row).await?;
            if state.paused_until.is_some() {
                out.push(state);
            }
        }
        Ok(out)
    }

    /// The networks an account failed to sign in from within the window, paused or not.
    pub async fn account_sources(
        &self,
        actor: &Actor,
        address: &str,
    ) -> Result<Vec<SourceState>, IdentityError> {
        let mut read = self.store.read().await?;
        let row = crate::directory::account_by_address(&mut read, address).await?;
        self.require_account(actor, Permission::ReadDirectory, &row)
            .await?;
        let since = self.window_start();
        let mut out = Vec::new();
        for network in read.networks_failed_by(row.id, since).await? {
            if let Some(r) = read.find_source_failures(&network, since).await? {
                out.push(self.state_of(&mut read, r).await?);
            }
        }
        Ok(out)
    }

    /// Lifts a network's pause: its failures are forgotten (helpdesk and IT). Returns how many
    /// failing logins it had; zero means there was nothing to clear.
    pub async fn clear_source(&self, actor: &Actor, network: &str) -> Result<u64, IdentityError> {
        let target = format!("source:{network}");
        self.require(actor, Permission::UnlockAccounts, &target)
            .await?;
        let mut tx = self.store.begin().await?;
        let state = match tx
            .find_source_failures(network, self.window_start())
            .await?
        {
            Some(r) => Some(self.state_of(&mut tx, r).await?),
            None => None,
        };
        let cleared = tx.clear_source(network).await?;
        if cleared == 0 {
            return Ok(0);
        }
        let event = self
            .audit(actor, action::SOURCE_CLEAR, target)
            .with_details(json!({
                "failing_logins": cleared,
                "was_paused_until": state.and_then(|s| s.paused_until),
            }));
        tx.append_audit(&event).await?;
        tx.commit().await?;
        Ok(cleared)
    }

    /// Clears every lock and failure count of an account, and says what there was.
    pub async fn unlock(&self, actor: &Actor, address: &str) -> Result<Unlocked, IdentityError> {
        self.require(
            actor,
            Permission::UnlockAccounts,
            &format!("account:{address}"),
        )
        .await?;
        // An administrator's account is unlocked by IT, unless the file lets the helpdesk.
        let row =
            crate::directory::account_by_address(&mut self.store.read().await?, address).await?;
        if !self.config().lockout.helpdesk_unlocks_role_holders
            && !self
                .store
                .read()
                .await?
                .list_roles(row.id)
                .await?
                .is_empty()
        {
            self.require(
                actor,
                Permission::ManagePrivileged,
                &format!("account:{}", row.primary_address),
            )
            .await?;
        }
        let mut tx = self.store.begin().await?;
        let row = crate::directory::account_by_address(&mut tx, address).await?;
        let now = self.clock.now();
        let mut unlocked = Unlocked {
            locks_lifted: Vec::new(),
            failures_forgotten: 0,
            paused_networks: Vec::new(),
        };
        for kind in [SourceKind::Familiar, SourceKind::Unfamiliar] {
            let l = tx.find_lockout(row.id, kind.as_str()).await?;
            if is_locked(&l, now) {
                unlocked.locks_lifted.push(kind.as_str().to_string());
            }
            unlocked.failures_forgotten += l.failures;
        }
        let since = self.window_start();
        for network in tx.networks_failed_by(row.id, since).await? {
            if let Some(r) = tx.find_source_failures(&network, since).await? {
                let state = self.state_of(&mut tx, r).await?;
                if state.paused_until.is_some() {
                    unlocked.paused_networks.push(state);
                }
            }
        }
        // Audited even when there was nothing to clear: the trail shows that the helpdesk
        // acted, and what it found.
        tx.clear_lockouts(row.id).await?;
        let event = self
            .audit(
                actor,
                action::ACCOUNT_UNLOCK,
                format!("account:{}", row.primary_address),
            )
            .with_details(json!({
                "locks_lifted": unlocked.locks_lifted,
                "failures_forgotten": unlocked.failures_forgotten,
            }));
        tx.append_audit(&event).await?;
        tx.commit().await?;
        Ok(unlocked)
    }
}
