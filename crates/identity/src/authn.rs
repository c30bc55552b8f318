//! The one authentication service every protocol uses (web, IMAP, SMTP AUTH, OIDC, API): one
//! lockout state per account, one audit record per attempt, and the same answer, after the same
//! work, for an unknown account, a wrong password, a locked or a disabled account.

use crate::lockout::{
    SourceKind, after_failure, is_locked, network_of, source_after_failure, source_throttled,
};
use crate::secrets::{derive_key, keyed_hash};
use crate::{AccountStatus, Actor, Directory, IdentityError};
use carepost_audit::{NewEvent, Outcome, action};
use carepost_store::{AccountRow, AuditRepo, AuthRepo, CredentialRepo, DirectoryRepo};
use carepost_types::{AccountId, Address, UnixMillis};
use serde_json::json;
use std::net::IpAddr;

/// How long a network stays familiar after the last successful sign-in from it.
const FAMILIAR_FOR: std::time::Duration = std::time::Duration::from_secs(90 * 86_400);

/// The protocol a sign-in arrives over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Web,
    Imap,
    Smtp,
    CalDav,
    Oidc,
    Api,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Web => "web",
            Protocol::Imap => "imap",
            Protocol::Smtp => "smtp",
            Protocol::CalDav => "caldav",
            Protocol::Oidc => "oidc",
            Protocol::Api => "api",
        }
    }

    /// Protocols whose clients cannot do a second factor, and so use app passwords.
    pub fn is_mail_client(self) -> bool {
        matches!(self, Protocol::Imap | Protocol::Smtp | Protocol::CalDav)
    }
}

/// One sign-in attempt.
#[derive(Clone)]
pub struct SignIn<'a> {
    pub login: &'a str,
    pub secret: &'a str,
    pub protocol: Protocol,
    pub source: Option<IpAddr>,
}

// The secret never reaches a log through `{:?}`.
impl std::fmt::Debug for SignIn<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignIn")
            .field("login", &self.login)
            .field("protocol", &self.protocol)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// How the account proved itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    Password,
    AppPassword(i64),
}

/// What still stands between a password and a full web session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecondFactor {
    NotRequired,
    /// The account has a second factor; the next step must present it.
    Required {
        totp: bool,
        recovery_codes: i64,
    },
    /// Policy requires one and there is none yet: enrollment now, or by the end of the grace.
    EnrollmentRequired {
        grace_until: UnixMillis,
        overdue: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn {
    /// False while a second factor is still to be presented (`verify_second_factor`): the
    /// sign-in is not complete and opens nothing yet.
    pub complete: bool,
    pub account: AccountId,
    pub address: String,
    pub credential: Credential,
    /// A temporary or expired password: the portal must have it changed first.
    pub must_change_password: bool,
    pub password_expires_soon: bool,
    pub second_factor: SecondFactor,
}

/// Why a sign-in was refused. `Invalid` covers unknown, wrong, locked and disabled alike; the
/// other two are said only to someone who gave the right password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Invalid,
    /// The password is right but expired or temporary: change it in the portal.
    PasswordExpired,
    /// The account uses a second factor: mail clients must use an app password.
    AppPasswordRequired,
}

impl Refusal {
    /// The text a protocol shows the user.
    pub fn message(self) -> &'static str {
        match self {
            Refusal::Invalid => "Invalid credentials",
            Refusal::PasswordExpired => {
                "Your password has expired or is temporary: change it in the carepost portal, then sign in again"
            }
            Refusal::AppPasswordRequired => {
                "This account uses two-factor sign-in: create an app password in the carepost portal and use it in your mail app"
            }
        }
    }
}

pub type SignInResult = Result<SignedIn, Refusal>;

/// Why a failure happened, for the audit trail only.
#[derive(Debug, Clone, Copy)]
enum Why {
    UnknownAccount,
    WrongSecret,
    Locked,
    Inactive,
    Throttled,
    WrongScope,
    WrongSecondFactor,
}

impl Why {
    fn as_str(self) -> &'static str {
        match self {
            Why::UnknownAccount => "unknown-account",
            Why::WrongSecret => "wrong-secret",
            Why::Locked => "locked",
            Why::Inactive => "inactive",
            Why::Throttled => "source-throttled",
            Why::WrongScope => "app-password-scope",
            Why::WrongSecondFactor => "wrong-second-factor",
        }
    }

    /// Failures that count toward the account's lockout.
    fn counts(self) -> bool {
        matches!(
            self,
            Why::WrongSecret | Why::WrongScope | Why::WrongSecondFactor
        )
    }
}

impl Directory {
    /// Checks a login and secret. Errors are store failures; refusals are `Ok(Err(..))`.
    pub async fn sign_in(&self, attempt: &SignIn<'_>) -> Result<SignInResult, IdentityError> {
        let now = self.clock.now();
        let network = network_of(attempt.source);
        let mut read = self.store.read().await?;
        let throttled = source_throttled(
            &self.config.lockout,
            read.find_source_failures(&network).await?,
            now,
        );
        let account = match Address::parse(attempt.login) {
            Ok(a) => read.find_account_by_address(&a.to_string()).await?,
            Err(_) => None,
        };
        let Some(account) = account else {
            drop(read);
            self.hasher.verify_nothing(attempt.secret).await?;
            self.record_failure(attempt, None, &network, Why::UnknownAccount)
                .await?;
            return Ok(Err(Refusal::Invalid));
        };
        let kind = self.source_kind(&mut read, account.id, &network).await?;
        let lock = read.find_lockout(account.id, kind.as_str()).await?;
        let stored = read.find_password(account.id).await?;
        drop(read);
        let early = if throttled && kind == SourceKind::Unfamiliar {
            Some(Why::Throttled)
        } else if is_locked(&lock, now) {
            Some(Why::Locked)
        } else if account.status != AccountStatus::Active.as_str() {
            Some(Why::Inactive)
        } else {
            None
        };
        if let Some(why) = early {
            self.hasher.verify_nothing(attempt.secret).await?;
            self.record_failure(attempt, Some((&account, kind)), &network, why)
                .await?;
            return Ok(Err(Refusal::Invalid));
        }
        let password = crate::password::normalize(attempt.secret);
        if attempt.protocol.is_mail_client()
            && let Some(result) = self
                .try_app_password(attempt, &account, kind, &network)
                .await?
        {
            return Ok(result);
        }
        let verified = match &stored {
            Some(p) => self.hasher.verify(&password, &p.password_hash).await?,
            None => {
                self.hasher.verify_nothing(attempt.secret).await?;
                crate::password::Verified {
                    ok: false,
                    needs_rehash: false,
                }
            }
        };
        if !verified.ok {
            self.record_failure(attempt, Some((&account, kind)), &network, Why::WrongSecret)
                .await?;
            return Ok(Err(Refusal::Invalid));
        }
        let state = self.password_state(stored.as_ref());
        let second_factor = self.second_factor(&account, now).await?;
        if attempt.protocol.is_mail_client() {
            let refusal = if !matches!(second_factor, SecondFactor::NotRequired)
                && !matches!(
                    second_factor,
                    SecondFactor::EnrollmentRequired { overdue: false, .. }
                ) {
                Some(Refusal::AppPasswordRequired)
            } else if state.must_change {
                Some(Refusal::PasswordExpired)
            } else {
                None
            };
            if let Some(r) = refusal {
                self.record_refusal(attempt, &account, &network, r).await?;
                return Ok(Err(r));
            }
        }
        if verified.needs_rehash
            && let Some(p) = &stored
        {
            self.rehash(account.id, &p.password_hash, &password).await?;
        }
        // With a second factor to come, nothing is reset or remembered yet: a password alone
        // must not clear the lockout that guards the second factor.
        let complete = !matches!(second_factor, SecondFactor::Required { .. });
        if complete {
            if !self
                .record_success(attempt, &account, kind, &network, Credential::Password)
                .await?
            {
                return Ok(Err(Refusal::Invalid));
            }
        } else {
            self.record_first_factor(attempt, &account).await?;
        }
        Ok(Ok(SignedIn {
            complete,
            account: account.id,
            address: account.primary_address.clone(),
            credential: Credential::Password,
            must_change_password: state.must_change,
            password_expires_soon: state.expires_soon,
            second_factor,
        }))
    }

    /// An app password, if the secret is one of this account's. `None`: not an app password.
    async fn try_app_password(
        &self,
        attempt: &SignIn<'_>,
        account: &AccountRow,
        kind: SourceKind,
        network: &str,
    ) -> Result<Option<SignInResult>, IdentityError> {
        let hash = keyed_hash(&self.app_password_key(), attempt.secret.trim());
        let Some(app) = self.store.read().await?.find_app_password(&hash).await? else {
            return Ok(None);
        };
        let now = self.clock.now();
        let usable = app.account_id == account.id
            && app.revoked_at.is_none()
            && app.expires_at.is_none_or(|t| t > now);
        if !usable {
            self.hasher.verify_nothing(attempt.secret).await?;
            self.record_failure(attempt, Some((account, kind)), network, Why::WrongSecret)
                .await?;
            return Ok(Some(Err(Refusal::Invalid)));
        }
        if !app
            .scopes
            .split(',')
            .any(|s| s == attempt.protocol.as_str())
        {
            self.record_failure(attempt, Some((account, kind)), network, Why::WrongScope)
                .await?;
            return Ok(Some(Err(Refusal::Invalid)));
        }
        let credential = Credential::AppPassword(app.id);
        if !self
            .record_success(attempt, account, kind, network, credential)
            .await?
        {
            return Ok(Some(Err(Refusal::Invalid)));
        }
        Ok(Some(Ok(SignedIn {
            complete: true,
            account: account.id,
            address: account.primary_address.clone(),
            credential,
            must_change_password: false,
            password_expires_soon: false,
            second_factor: SecondFactor::NotRequired,
        })))
    }

    pub(crate) fn app_password_key(&self) -> [u8; 32] {
        derive_key(&self.config.master_key, "app passwords")
    }

    /// Re-hashes with the configured parameters, unless the password changed meanwhile.
    async fn rehash(
        &self,
        account: AccountId,
        old: &str,
        password: &str,
    ) -> Result<(), IdentityError> {
        let hash = self.hasher.hash(&*self.rng, password).await?;
        let mut tx = self.store.begin().await?;
        if !tx.replace_password_hash(account, old, &hash).await? {
            return Ok(());
        }
        let event = NewEvent::success(
            self.clock.now(),
            &Actor::system().who,
            action::PASSWORD_REHASH,
            format!("account-id:{}", account.0),
        )
        .with_details(json!({ "reason": "rehash with the configured argon2 parameters" }));
        tx.append_audit(&event).await?;
        tx.commit().await?;
        Ok(())
    }

    fn attempt_event(
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

    async fn record_failure(
        &self,
        attempt: &SignIn<'_>,
        account: Option<(&AccountRow, SourceKind)>,
        network: &str,
        why: Why,
    ) -> Result<(), IdentityError> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let source = tx.find_source_failures(network).await?;
        let (n, start) = source_after_failure(&self.config.lockout, source, now);
        tx.save_source_failures(network, n, start).await?;
        let mut lock_event = None;
        if let Some((a, kind)) = account.filter(|_| why.counts()) {
            let row = tx.find_lockout(a.id, kind.as_str()).await?;
            let (row, lock) = after_failure(&self.config.lockout, row, now);
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
        tx.commit().await?;
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

    async fn record_refusal(
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
            Refusal::Invalid => "invalid",
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

    async fn record_success(
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
        let app_password = match credential {
            Credential::AppPassword(id) => {
                let source = attempt.source.map(|ip| ip.to_string());
                tx.touch_app_password(id, now, source.as_deref()).await?;
                Some(id)
            }
            Credential::Password => None,
        };
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
    async fn record_first_factor(
        &self,
        attempt: &SignIn<'_>,
        account: &AccountRow,
    ) -> Result<(), IdentityError> {
        let mut tx = self.store.begin().await?;
        let event = self
            .attempt_event(attempt, Some(account), action::SIGNIN_FIRST_FACTOR)
            .with_details(json!({ "protocol": attempt.protocol.as_str() }));
        tx.append_audit(&event).await?;
        tx.commit().await?;
        Ok(())
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

    /// Clears every lock and failure count of an account.
    pub async fn unlock(&self, actor: &Actor, address: &str) -> Result<(), IdentityError> {
        self.require(
            actor,
            crate::Permission::ManageAccounts,
            &format!("account:{address}"),
        )
        .await?;
        let mut tx = self.store.begin().await?;
        let row = crate::directory::account_by_address(&mut tx, address).await?;
        tx.clear_lockouts(row.id).await?;
        let event = self.audit(
            actor,
            action::ACCOUNT_UNLOCK,
            format!("account:{}", row.primary_address),
        );
        tx.append_audit(&event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Until when each side of an account is locked, for administrators.
    pub async fn lock_state(
        &self,
        actor: &Actor,
        address: &str,
    ) -> Result<Vec<(String, Option<String>, i64)>, IdentityError> {
        self.require(
            actor,
            crate::Permission::ReadDirectory,
            &format!("account:{address}"),
        )
        .await?;
        let mut tx = self.store.read().await?;
        let row = crate::directory::account_by_address(&mut tx, address).await?;
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
