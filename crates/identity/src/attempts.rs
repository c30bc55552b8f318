//! Recording sign-in attempts and what they do to the lockout: failures counted per kind of
//! source, locks set with their backoff, successes resetting their side and making the network
//! familiar, and the administrator's view and unlock. Each record is one audited transaction.

use crate::authn::{Credential, Protocol, Refusal, SignIn, Why};
use crate::lockout::{SourceKind, after_failure, is_locked, network_of, pause_until};
use crate::{AccountStatus, Actor, Directory, IdentityError};
use carepost_audit::{NewEvent, Outcome, action};
use carepost_store::{AccountRow, AuditRepo, AuthRepo, DirectoryRepo, RosterRepo, SourceRepo};
use carepost_types::{AccountId, Address, UnixMillis};
use serde_json::json;
use std::net::IpAddr;

pub(crate) fn millis(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// How long a network stays familiar after the last successful sign-in from it.
const FAMILIAR_FOR: std::time::Duration = std::time::Duration::from_secs(90 * 86_400);

impl Directory {
    pub(crate) fn attempt_event(
        &self,
        attempt: &SignIn<'_>,
        account: Option<&AccountRow>,
        action: &'static str,
    ) -> NewEvent {
        let (who, target) = match account {
            Some(a) => (
                Actor::account(a.id, &a.primary_address).who,
                format!("account:{}", a.primary_address),
            ),
            // A password typed into the login field must not land in the trail.
            None => match Address::parse(attempt.login) {
                Ok(a) => (Actor::system().who, format!("login:{a}")),
                Err(_) => (Actor::system().who, "login:(not an address)".to_string()),
            },
        };
        let mut e = NewEvent::success(self.clock.now(), &who, action, target);
        e.source = attempt.source.map(|ip| ip.to_string());
        e
    }

    pub(crate) async fn record_failure(
        &self,
        attempt: &SignIn<'_>,
        account: Option<(&AccountRow, SourceKind)>,
        network: &str,
        why: Why,
    ) -> Result<(), IdentityError> {
        let mut tx = self.store.begin().await?;
        self.count_failure(&mut tx, attempt, account, network, why)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// `record_failure` inside a transaction the caller holds (and commits).
    pub(crate) async fn count_failure(
        &self,
        tx: &mut carepost_store::Tx,
        attempt: &SignIn<'_>,
        account: Option<(&AccountRow, SourceKind)>,
        network: &str,
        why: Why,
    ) -> Result<(), IdentityError> {
        let now = self.clock.now();
        let forget_before = UnixMillis(now.0 - millis(self.config().lockout.source_window));
        tx.record_source_failure(
            network,
            &self.login_key(attempt.login, account.map(|(a, _)| a.id)),
            account.map(|(a, _)| a.id),
            now,
            forget_before,
        )
        .await?;
        let mut lock_event = None;
        if let Some((a, kind)) = account.filter(|_| why.counts()) {
            let row = tx.find_lockout(a.id, kind.as_str()).await?;
            let (row, lock) = after_failure(&self.config().lockout, row, now);
            tx.save_lockout(a.id, kind.as_str(), &row).await?;
            lock_event = lock.map(|d| (a, kind, d));
        }
        let event = self
            .attempt_event(attempt, account.map(|(a, _)| a), action::SIGNIN_FAILURE)
            .with_outcome(Outcome::Failure)
            .with_details(json!({
                "protocol": attempt.protocol.as_str(),
                "reason": why.as_str(),
                "source_kind": account.map(|(_, k)| k.as_str()),
            }));
        tx.append_audit(&event).await?;
        if let Some((a, kind, length)) = lock_event {
            let event = self
                .attempt_event(attempt, Some(a), action::ACCOUNT_LOCK)
                .with_details(json!({
                    "source_kind": kind.as_str(),
                    "minutes": length.as_secs() / 60,
                }));
            tx.append_audit(&event).await?;
        }
        Ok(())
    }

    /// Whether a second factor may be tried now: not while the account is locked for this
    /// kind of source, or not active. A refusal is audited.
    pub(crate) async fn may_try_second_factor(
        &self,
        attempt: &SignIn<'_>,
        account: &AccountRow,
    ) -> Result<bool, IdentityError> {
        let network = network_of(attempt.source);
        let mut read = self.store.read().await?;
        let kind = self.source_kind(&mut read, account.id, &network).await?;
        let lock = read.find_lockout(account.id, kind.as_str()).await?;
        let current = read.find_account(account.id).await?;
        drop(read);
        let why = if is_locked(&lock, self.clock.now()) {
            Why::Locked
        } else if current.is_none_or(|a| a.status != AccountStatus::Active.as_str()) {
            Why::Inactive
        } else {
            return Ok(true);
        };
        self.record_failure(attempt, Some((account, kind)), &network, why)
            .await?;
        Ok(false)
    }

    /// A right second factor completes the sign-in: the lockout resets, the network becomes
    /// familiar. False if a lock set meanwhile holds.
    pub(crate) async fn second_factor_passed(
        &self,
        attempt: &SignIn<'_>,
        account: &AccountRow,
    ) -> Result<bool, IdentityError> {
        let network = network_of(attempt.source);
        let kind = self
            .source_kind(&mut self.store.read().await?, account.id, &network)
            .await?;
        self.record_success(attempt, account, kind, &network, Credential::Password)
            .await
    }

    /// A wrong current password when changing it: counted like a failed sign-in, so that an
    /// unattended signed-in workstation cannot be used to guess it.
    pub(crate) async fn wrong_current_password(
        &self,
        account: &AccountRow,
        source: Option<IpAddr>,
    ) -> Result<(), IdentityError> {
        let attempt = SignIn {
            login: &account.primary_address,
            secret: "",
            protocol: Protocol::Web,
            source,
        };
        let network = network_of(source);
        let kind = self
            .source_kind(&mut self.store.read().await?, account.id, &network)
            .await?;
        self.record_failure(&attempt, Some((account, kind)), &network, Why::WrongSecret)
            .await
    }

    /// A wrong second factor: counted like a wrong password.
    pub(crate) async fn second_factor_failed(
        &self,
        attempt: &SignIn<'_>,
        account: &AccountRow,
    ) -> Result<(), IdentityError> {
        let network = network_of(attempt.source);
        let kind = self
            .source_kind(&mut self.store.read().await?, account.id, &network)
            .await?;
        self.record_failure(
            attempt,
            Some((account, kind)),
            &network,
            Why::WrongSecondFactor,
        )
        .await
    }

    pub(crate) async fn record_refusal(
        &self,
        attempt: &SignIn<'_>,
        account: &AccountRow,
        network: &str,
        refusal: Refusal,
    ) -> Result<(), IdentityError> {
        let mut tx = self.store.begin().await?;
        let reason = match refusal {
            Refusal::PasswordExpired => "password-expired",
            Refusal::AppPasswordRequired => "app-password-required",
            Refusal::TemporaryPasswordExpired => "temporary-password-expired",
            Refusal::Invalid => "invalid",
            Refusal::SourcePaused { .. } => "source-paused",
        };
        let event = self
            .attempt_event(attempt, Some(account), action::SIGNIN_FAILURE)
            .with_outcome(Outcome::Failure)
            .with_details(json!({
                "protocol": attempt.protocol.as_str(),
                "reason": reason,
                "network": network,
            }));
        tx.append_audit(&event).await?;
        tx.commit().await?;
        Ok(())
    }

    pub(crate) async fn record_success(
        &self,
        attempt: &SignIn<'_>,
        account: &AccountRow,
        kind: SourceKind,
        network: &str,
        credential: Credential,
    ) -> Result<bool, IdentityError> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        // Parallel guesses all passed the check before hashing; under the audit lock, the lock
        // their failures set is final.
        if is_locked(&tx.find_lockout(account.id, kind.as_str()).await?, now) {
            drop(tx);
            self.record_failure(attempt, Some((account, kind)), network, Why::Locked)
                .await?;
            return Ok(false);
        }
        tx.save_lockout(
            account.id,
            kind.as_str(),
            &carepost_store::LockoutRow::default(),
        )
        .await?;
        tx.remember_source(account.id, network, now).await?;
        tx.touch_sign_in(account.id, now).await?;
        // A success forgives this login's failures from here: staff who mistyped and then
        // got it right are not a spray.
        tx.forget_source_login(network, &self.login_key(attempt.login, Some(account.id)))
            .await?;
        let app_password = match credential {
            Credential::AppPassword(id) => {
                let source = attempt.source.map(|ip| ip.to_string());
                tx.touch_app_password(id, now, source.as_deref()).await?;
                Some(id)
            }
            Credential::Password | Credential::Grant(_) => None,
        };
        self.saw_mail_client(
            &mut tx,
            account.id,
            attempt.protocol,
            credential,
            attempt.source,
        )
        .await?;
        let event = self
            .attempt_event(attempt, Some(account), action::SIGNIN_SUCCESS)
            .with_details(json!({
                "protocol": attempt.protocol.as_str(),
                "source_kind": kind.as_str(),
                "app_password": app_password,
            }));
        tx.append_audit(&event).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// A right password with a second factor still to come: audited, nothing else.
    pub(crate) async fn record_first_factor(
        &self,
        attempt: &SignIn<'_>,
        account: &AccountRow,
        paused_network: Option<&str>,
    ) -> Result<(), IdentityError> {
        let mut tx = self.store.begin().await?;
        if let Some(network) = paused_network {
            let now = self.clock.now();
            let forget_before = UnixMillis(now.0 - millis(self.config().lockout.source_window));
            let key = self.login_key(attempt.login, Some(account.id));
            tx.record_source_failure(network, &key, Some(account.id), now, forget_before)
                .await?;
        }
        let event = self
            .attempt_event(attempt, Some(account), action::SIGNIN_FIRST_FACTOR)
            .with_details(json!({ "protocol": attempt.protocol.as_str() }));
        tx.append_audit(&event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// How the spray defence names a login: a known account by its id (whatever address it
    /// was typed as), anything else by a keyed hash of what was typed (never the text).
    fn login_key(&self, login: &str, account: Option<AccountId>) -> String {
        match account {
            Some(id) => format!("account:{}", id.0),
            None => {
                let key = crate::secrets::derive_key(&self.config().master_key, "source logins");
                let typed = login.trim().to_lowercase();
                format!("login:{}", &crate::secrets::keyed_hash(&key, &typed)[..32])
            }
        }
    }

    /// Until when sign-ins from `network` are paused for accounts that do not know it.
    pub(crate) async fn source_paused_until(
        &self,
        read: &mut carepost_store::Tx,
        network: &str,
        source: Option<IpAddr>,
    ) -> Result<Option<UnixMillis>, IdentityError> {
        let policy = &self.config().lockout;
        let threshold = policy.source_threshold_for(source);
        let now = self.clock.now();
        let since = UnixMillis(now.0 - millis(policy.source_window));
        let times = read
            .source_failure_times(network, since, i64::from(threshold))
            .await?;
        Ok(pause_until(policy, threshold, &times).filter(|until| *until > now))
    }

    /// Familiar: a network the account signed in from within the last 90 days. Sign-ins
    /// without a network source are never familiar.
    pub(crate) async fn source_kind(
        &self,
        read: &mut carepost_store::Tx,
        account: AccountId,
        network: &str,
    ) -> Result<SourceKind, IdentityError> {
        if network == "local" {
            return Ok(SourceKind::Unfamiliar);
        }
        let since = UnixMillis(self.clock.now().0 - FAMILIAR_FOR.as_millis() as i64);
        Ok(
            match read.is_familiar_source(account, network, since).await? {
                true => SourceKind::Familiar,
                false => SourceKind::Unfamiliar,
            },
        )
    }

    /// Until when each side of an account is locked, for administrators.
    pub async fn lock_state(
        &self,
        actor: &Actor,
        address: &str,
    ) -> Result<Vec<(String, Option<String>, i64)>, IdentityError> {
        let mut tx = self.store.read().await?;
        let row = crate::directory::account_by_address(&mut tx, address).await?;
        self.require_account(actor, crate::Permission::ReadDirectory, &row)
            .await?;
        let now = self.clock.now();
        let mut out = Vec::new();
        for kind in [SourceKind::Familiar, SourceKind::Unfamiliar] {
            let l = tx.find_lockout(row.id, kind.as_str()).await?;
            let until = l
                .locked_until
                .filter(|t| *t > now)
                .map(UnixMillis::to_rfc3339);
            out.push((kind.as_str().to_string(), until, l.failures));
        }
        Ok(out)
    }
}
