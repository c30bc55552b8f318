//! The one authentication service every protocol uses (web, IMAP, SMTP AUTH, OIDC, API): one
//! lockout state per account, one audit record per attempt, and the same answer, after the same
//! work, for an unknown account, a wrong password, a locked or a disabled account.

use crate::lockout::{SourceKind, is_locked, minutes_until, network_of};
use crate::secrets::{derive_key, keyed_hash};
use crate::{AccountStatus, Actor, Directory, IdentityError};
use carepost_audit::{NewEvent, action};
use carepost_store::{AccountRow, AuditRepo, AuthRepo, CredentialRepo, DirectoryRepo};
use carepost_types::{AccountId, Address, UnixMillis};
use serde_json::json;
use std::net::IpAddr;

/// Longest secret that is hashed at all, in bytes.
const MAX_SECRET: usize = 4096;

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
    /// An OAuth access token of this grant (a mail app signed in through single sign-on).
    Grant(i64),
}

/// What still stands between a password and a full web session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecondFactor {
    NotRequired,
    /// The account has a second factor; the next step must present it.
    Required {
        totp: bool,
        passkeys: i64,
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
    /// When the password that was verified had been set (a password sign-in): a session
    /// compares it with the stored one to learn that the password was changed since, however
    /// the change and the sign-in interleaved.
    pub password_stamp: Option<UnixMillis>,
    /// A temporary or expired password: the portal must have it changed first.
    pub must_change_password: bool,
    pub password_expires_soon: bool,
    pub second_factor: SecondFactor,
    /// Until when the network this sign-in came through is paused, when a second factor is
    /// what lets it through (see `sign_in`): its second step then looks like every other
    /// sign-in's from that network.
    pub(crate) through_pause: Option<UnixMillis>,
}

impl SignedIn {
    /// The sign-in that a passed second step completes.
    pub fn after_second_step(
        account: AccountId,
        address: &str,
        password: &crate::PasswordState,
    ) -> SignedIn {
        SignedIn {
            complete: true,
            account,
            address: address.to_string(),
            credential: Credential::Password,
            password_stamp: None,
            must_change_password: password.must_change,
            password_expires_soon: password.expires_soon,
            second_factor: SecondFactor::NotRequired,
            through_pause: None,
        }
    }
}

/// Why a sign-in was refused. `Invalid` covers unknown, wrong, locked and disabled alike;
/// `SourcePaused` is said to every sign-in from a paused network alike; the others are said
/// only to someone who gave the right password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Invalid,
    /// Too many logins failed from this network lately: its sign-ins are paused for about
    /// this many minutes (a second factor or an app password still gets through).
    SourcePaused {
        minutes: u64,
    },
    /// The password is right but expired or temporary: change it in the portal.
    PasswordExpired,
    /// The account uses a second factor: mail clients must use an app password.
    AppPasswordRequired,
    /// A temporary password past `password.temporary_lifetime`: a new one is needed.
    TemporaryPasswordExpired,
}

impl Refusal {
    /// The text a protocol shows the user.
    pub fn message(self) -> String {
        match self {
            Refusal::SourcePaused { minutes } => format!(
                "{}. This says nothing about your account: try again then, or call the helpdesk",
                paused_for(minutes)
            ),
            other => other.fixed_message().to_string(),
        }
    }

    /// The text a mail protocol (IMAP, SMTP) shows: one for every refusal but a paused
    /// network's. Telling "this account uses two-factor sign-in" or "your password has
    /// expired" only when the password is right would tell a guesser that a guess is right,
    /// on protocols with no second step to stop them; so every refusal carries the same help,
    /// and the person learns the real reason in the portal, behind its second step. The web
    /// keeps one answer for every wrong password too, and says what is needed only after a
    /// right password, where the second factor and the lockout stand guard.
    pub fn mail_message(self) -> String {
        match self {
            Refusal::SourcePaused { .. } => self.message(),
            _ => MAIL_REFUSAL.to_string(),
        }
    }

    fn fixed_message(self) -> &'static str {
        match self {
            Refusal::Invalid | Refusal::SourcePaused { .. } => "Invalid credentials",
            Refusal::PasswordExpired => {
                "Your password has expired or is temporary: change it in the carepost portal, then sign in again"
            }
            Refusal::AppPasswordRequired => {
                "This account uses two-factor sign-in: create an app password in the carepost portal and use it in your mail app"
            }
            Refusal::TemporaryPasswordExpired => {
                "Your temporary password has expired: ask the helpdesk for a new one"
            }
        }
    }
}

/// Every mail-protocol refusal's words (see `Refusal::mail_message`).
const MAIL_REFUSAL: &str = "Invalid credentials. A mail app signs in with an app password when the account uses two-factor sign-in, and never with an expired or temporary password: see your account in the carepost portal";

/// The words every pause notice starts with.
pub(crate) fn paused_for(minutes: u64) -> String {
    format!(
        "Sign-ins from this computer's network are paused for {minutes} more minute{} because many failed there",
        if minutes == 1 { "" } else { "s" }
    )
}

pub type SignInResult = Result<SignedIn, Refusal>;

/// A refused sign-in's recorded reason, in the words a helpdesk agent reads to the caller.
pub(crate) fn refusal_in_words(reason: &str) -> &str {
    match reason {
        "unknown-account" => "No account has this address",
        "wrong-secret" => "Wrong password",
        "locked" => "The account was locked",
        "inactive" | "account not active" => {
            "The account is not active (disabled or deprovisioned)"
        }
        "source-throttled" => "Too many failures from this network: it was paused",
        "source-paused" => "The network was paused: the second factor was asked",
        "app-password-scope" => "An app password made for another kind of app",
        "wrong-second-factor" => "Wrong second-factor code",
        "password-expired" => "The password has expired and must be changed in the portal",
        "app-password-required" => {
            "A mail app must use an app password when a second factor is required"
        }
        "temporary-password-expired" => {
            "The temporary password has expired: ask the helpdesk for a new one"
        }
        "invalid, expired or revoked token" => {
            "The application's token was invalid, expired or revoked"
        }
        "the token belongs to another account" => {
            "The application's token belongs to another account"
        }
        "invalid" => "Refused",
        other => other,
    }
}

/// Why a failure happened, for the audit trail only.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Why {
    UnknownAccount,
    WrongSecret,
    Locked,
    Inactive,
    Throttled,
    WrongScope,
    WrongSecondFactor,
    /// A right password from a mail app, where an app password is needed.
    NeedsAppPassword,
    /// A right but expired password from a mail app.
    PasswordExpired,
}

impl Why {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Why::UnknownAccount => "unknown-account",
            Why::WrongSecret => "wrong-secret",
            Why::Locked => "locked",
            Why::Inactive => "inactive",
            Why::Throttled => "source-throttled",
            Why::WrongScope => "app-password-scope",
            Why::WrongSecondFactor => "wrong-second-factor",
            Why::NeedsAppPassword => "app-password-required",
            Why::PasswordExpired => "password-expired",
        }
    }

    /// Failures that count toward the account's lockout.
    pub(crate) fn counts(self) -> bool {
        matches!(
            self,
            Why::WrongSecret | Why::WrongScope | Why::WrongSecondFactor
        )
    }
}

/// What `sign_in` found before the password proved right.
#[derive(Clone, Copy)]
struct Found<'a> {
    account: &'a AccountRow,
    kind: SourceKind,
    network: &'a str,
    stored: Option<&'a carepost_store::PasswordRow>,
    /// Until when the network is paused, if it is: a second step then reads as every other
    /// sign-in's from there (see `Pending`).
    paused: Option<UnixMillis>,
}

impl Directory {
    /// Checks a login and secret. Errors are store failures; refusals are `Ok(Err(..))`.
    pub async fn sign_in(&self, attempt: &SignIn<'_>) -> Result<SignInResult, IdentityError> {
        let now = self.clock.now();
        let network = network_of(attempt.source);
        if attempt.secret.len() > MAX_SECRET {
            // Longer than any password the policy allows: refused before any lookup or hash,
            // the same way whether the account exists or not, and counted against the source.
            self.record_failure(attempt, None, &network, Why::WrongSecret)
                .await?;
            return Ok(Err(Refusal::Invalid));
        }
        let mut read = self.store.read().await?;
        let paused = self
            .source_paused_until(&mut read, &network, attempt.source)
            .await?;
        let account = match Address::parse(attempt.login) {
            Ok(a) => read.find_account_by_address(&a.to_string()).await?,
            Err(_) => None,
        };
        // While the network is paused, every refusal says so, whatever the account: the
        // answer tells nothing about which accounts exist or what their state is.
        let refusal = |paused: Option<UnixMillis>| match paused {
            Some(until) => Refusal::SourcePaused {
                minutes: minutes_until(now, until),
            },
            None => Refusal::Invalid,
        };
        let Some(account) = account else {
            drop(read);
            self.hasher.verify_nothing(attempt.secret).await?;
            self.record_failure(attempt, None, &network, Why::UnknownAccount)
                .await?;
            return Ok(Err(refusal(paused)));
        };
        let kind = self.source_kind(&mut read, account.id, &network).await?;
        let lock = read.find_lockout(account.id, kind.as_str()).await?;
        let stored = read.find_password(account.id).await?;
        drop(read);
        // Accounts that signed in from this network before are not held by its pause; but
        // while it lasts, every refusal from the network reads the same (`refusal(paused)`),
        // whichever account it named and whatever was wrong.
        let held = paused.filter(|_| kind == SourceKind::Unfamiliar);
        let early = if is_locked(&lock, now) {
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
            return Ok(Err(refusal(paused)));
        }
        let password = crate::password::normalize(attempt.secret);
        // App passwords are random and long: no spray guesses one, so a pause does not hold
        // them back.
        if attempt.protocol.is_mail_client()
            && let Some(result) = self
                .try_app_password(attempt, &account, kind, &network)
                .await?
        {
            return Ok(result);
        }
        // A paused network lets through only a sign-in that a second factor completes.
        let through_pause = match held {
            Some(_) if !attempt.protocol.is_mail_client() => matches!(
                self.second_factor(&account, now).await?,
                SecondFactor::Required { .. }
            ),
            _ => false,
        };
        if held.is_some() && !through_pause {
            self.hasher.verify_nothing(attempt.secret).await?;
            self.record_failure(attempt, Some((&account, kind)), &network, Why::Throttled)
                .await?;
            return Ok(Err(refusal(paused)));
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
            return Ok(Err(refusal(paused)));
        }
        if let Some(p) = &stored
            && p.must_change
            && p.changed_at.plus(self.config().password.temporary_lifetime) <= now
        {
            let r = Refusal::TemporaryPasswordExpired;
            self.record_refusal(attempt, &account, &network, r).await?;
            // Said only where it tells nothing: never on a paused network.
            return Ok(Err(if paused.is_some() { refusal(paused) } else { r }));
        }
        let found = Found {
            account: &account,
            kind,
            network: &network,
            stored: stored.as_ref(),
            paused,
        };
        self.after_right_password(attempt, &found, verified.needs_rehash, &password)
            .await
    }

    /// The password was right: mail clients may still be refused (expired password, second
    /// factor required); otherwise the sign-in is complete or waits for the second factor.
    async fn after_right_password(
        &self,
        attempt: &SignIn<'_>,
        found: &Found<'_>,
        needs_rehash: bool,
        password: &str,
    ) -> Result<SignInResult, IdentityError> {
        let Found {
            account,
            kind,
            network,
            stored,
            paused,
        } = *found;
        let now = self.clock.now();
        let state = self.password_state(stored);
        let second_factor = self.second_factor(account, now).await?;
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
                // A right password a mail app may not use is counted against the network
                // like a wrong one (not against the account's lockout: a phone still set up
                // with the password would lock its owner out), and on a paused network it
                // gets the pause's answer like a wrong one: neither tells a guesser it was
                // right (`Refusal::mail_message` keeps the words alike).
                let why = match r {
                    Refusal::AppPasswordRequired => Why::NeedsAppPassword,
                    _ => Why::PasswordExpired,
                };
                self.record_failure(attempt, Some((account, kind)), network, why)
                    .await?;
                return Ok(Err(match paused {
                    Some(until) => Refusal::SourcePaused {
                        minutes: minutes_until(now, until),
                    },
                    None => r,
                }));
            }
        }
        // Re-hashing costs a second hash that only a right password pays: never where the
        // time it takes would tell a paused network so.
        if needs_rehash
            && paused.is_none()
            && let Some(p) = stored
        {
            self.rehash(account.id, &p.password_hash, password).await?;
        }
        // With a second factor to come, nothing is reset or remembered yet: a password alone
        // must not clear the lockout that guards the second factor.
        let complete = !matches!(second_factor, SecondFactor::Required { .. });
        if complete {
            if !self
                .record_success(attempt, account, kind, network, Credential::Password)
                .await?
            {
                return Ok(Err(match paused {
                    Some(until) => Refusal::SourcePaused {
                        minutes: minutes_until(now, until),
                    },
                    None => Refusal::Invalid,
                }));
            }
        } else {
            // Through a pause, the right password counts against the network like a wrong
            // one until the second factor passes (which forgives it): the pause must last
            // the same whichever it was.
            let held = paused.map(|_| network);
            self.record_first_factor(attempt, account, held).await?;
        }
        Ok(Ok(SignedIn {
            complete,
            account: account.id,
            address: account.primary_address.clone(),
            credential: Credential::Password,
            password_stamp: stored.map(|p| p.changed_at),
            must_change_password: state.must_change,
            password_expires_soon: state.expires_soon,
            second_factor,
            through_pause: paused.filter(|_| !complete),
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
            password_stamp: None,
            must_change_password: false,
            password_expires_soon: false,
            second_factor: SecondFactor::NotRequired,
            through_pause: None,
        })))
    }

    pub(crate) fn app_password_key(&self) -> [u8; 32] {
        derive_key(&self.config().master_key, "app passwords")
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
}
