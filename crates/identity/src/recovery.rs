//! Forgot password and self-unlock, without the helpdesk. A recovery code (about 79 bits)
//! proves the person and lets them set a new password; the authenticator's code only unlocks,
//! also while the account is locked (that is when it is needed), with a few codes per lock so
//! that six digits never face more guesses than the lockout allows. Never by a secret
//! question. An account without a
//! second factor has no self-service path (the helpdesk verifies instead). Every failure gets
//! the same answer and is recorded like a failed sign-in.

use crate::authn::Why;
use crate::lockout::{SourceKind, is_locked, network_of};
use crate::{AccountStatus, Actor, Directory, IdentityError, Protocol, SignIn};
use carepost_audit::action;
use carepost_store::{AccountRow, AuditRepo, AuthRepo, DirectoryRepo};
use carepost_types::Address;
use serde::Serialize;
use serde_json::json;
use std::net::IpAddr;

/// Authenticator codes one lock allows for self-unlock (each wrong one also counts as a
/// failure, so the lock grows as it would for wrong passwords).
const UNLOCK_TRIES: i64 = 3;

/// What a proven person is told: why they could not sign in, and what they spent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Recovered {
    /// When the lock that was just lifted would have ended (none: the account was not locked).
    pub was_locked_until: Option<String>,
    /// Failed sign-ins since the last success, over every kind of source.
    pub failed_sign_ins: i64,
    /// Unused recovery codes left, when one was spent.
    pub recovery_codes_left: Option<i64>,
    pub password_changed: bool,
    /// The app passwords the new password revoked (their mail apps stop until they get new
    /// ones), by label.
    pub app_passwords_revoked: Vec<String>,
}

impl Directory {
    /// Proves the person by `code`; with a recovery code, `new_password` (if given) replaces
    /// the password. Clears the lockout, and only then says whether there was one (the same
    /// answer otherwise for every login). `Ok(None)`: not proven.
    pub async fn recover_account(
        &self,
        login: &str,
        code: &str,
        new_password: Option<&str>,
        source: Option<IpAddr>,
    ) -> Result<Option<Recovered>, IdentityError> {
        if let Some(p) = new_password {
            // The rules that do not depend on the person are checked first, for every login
            // alike, so the answer says nothing about which logins exist.
            let general = crate::check_new_password(
                &self.config().password,
                p,
                &crate::PasswordContext::default(),
            );
            if !general.is_empty() {
                return Err(IdentityError::PasswordRejected(general));
            }
        }
        let attempt = SignIn {
            login,
            secret: "",
            protocol: Protocol::Web,
            source,
        };
        let network = network_of(source);
        let row = match Address::parse(login) {
            Ok(a) => {
                self.store
                    .read()
                    .await?
                    .find_account_by_address(&a.to_string())
                    .await?
            }
            Err(_) => None,
        };
        let Some(row) = row.filter(|r| r.status == AccountStatus::Active.as_str()) else {
            self.record_failure(&attempt, None, &network, Why::UnknownAccount)
                .await?;
            return Ok(None);
        };
        let totp =
            code.trim().len() <= 7 && code.trim().chars().all(|c| c.is_ascii_digit() || c == ' ');
        let proven = match (totp, new_password) {
            (true, Some(_)) => None, // a new password needs a recovery code
            (true, None) => self
                .unlock_with_totp(&attempt, &row, code, &network)
                .await?
                .then(Vec::new),
            (false, new) => self.recover_with_code(&attempt, &row, code, new).await?,
        };
        let Some(app_passwords_revoked) = proven else {
            return Ok(None);
        };
        let mut tx = self.store.begin().await?;
        let now = self.clock.now();
        let mut recovered = Recovered {
            was_locked_until: None,
            failed_sign_ins: 0,
            recovery_codes_left: None,
            password_changed: new_password.is_some(),
            app_passwords_revoked,
        };
        let mut until = None;
        for kind in [SourceKind::Familiar, SourceKind::Unfamiliar] {
            let lock = tx.find_lockout(row.id, kind.as_str()).await?;
            // Each lock began after `threshold` failures in a row, which it then reset.
            let threshold = i64::from(self.config().lockout.threshold);
            recovered.failed_sign_ins += lock.failures + lock.locks * threshold;
            if is_locked(&lock, now) {
                until = until.max(lock.locked_until);
            }
        }
        recovered.was_locked_until = until.map(carepost_types::UnixMillis::to_rfc3339);
        if !totp {
            recovered.recovery_codes_left = Some(tx.count_unused_recovery_codes(row.id).await?);
        }
        tx.clear_lockouts(row.id).await?;
        let mut event = self
            .audit(
                &Actor::account(row.id, &row.primary_address),
                action::ACCOUNT_UNLOCK,
                format!("account:{}", row.primary_address),
            )
            .with_details(json!({
                "by": "self, after proof",
                "factor": if totp { "totp" } else { "recovery code" },
            }));
        event.source = source.map(|ip| ip.to_string());
        tx.append_audit(&event).await?;
        tx.commit().await?;
        Ok(Some(recovered))
    }

    /// The authenticator's code. While this kind of source is locked, each lock allows
    /// `UNLOCK_TRIES` codes, taken atomically before the code is checked, so six digits never
    /// face more guesses than that however many arrive at once; every wrong one also counts
    /// as a failure. Unlocked, the code is a guess like a sign-in's second step (`guess_totp`).
    async fn unlock_with_totp(
        &self,
        attempt: &SignIn<'_>,
        row: &AccountRow,
        code: &str,
        network: &str,
    ) -> Result<bool, IdentityError> {
        let mut read = self.store.read().await?;
        let kind = self.source_kind(&mut read, row.id, network).await?;
        let now = self.clock.now();
        let locked = is_locked(&read.find_lockout(row.id, kind.as_str()).await?, now);
        drop(read);
        match locked {
            false => self.guess_totp(attempt, row, code).await,
            true => {
                self.guess_totp_while_locked(attempt, row, code, UNLOCK_TRIES)
                    .await
            }
        }
    }

    /// A recovery code: checked, then the new password checked against every rule, and only
    /// then the code spent (so a refused password costs no code).
    async fn recover_with_code(
        &self,
        attempt: &SignIn<'_>,
        row: &AccountRow,
        code: &str,
        new_password: Option<&str>,
    ) -> Result<Option<Vec<String>>, IdentityError> {
        // Without a second factor there is no self-service path (codes without a factor are
        // not a proof the owner made).
        if !self.has_factor(row.id).await? || !self.recovery_code_unused(row, code).await? {
            self.second_factor_failed(attempt, row).await?;
            return Ok(None);
        }
        if let Some(p) = new_password {
            self.check_password(row, p).await?;
        }
        if !self.spend_recovery_code(row, code).await? {
            return Ok(None);
        }
        match new_password {
            Some(p) => Ok(Some(
                self.set_recovered_password(row, p, attempt.source).await?,
            )),
            None => Ok(Some(Vec::new())),
        }
    }
}
