//! Second factors: TOTP (RFC 6238: SHA-1, 6 digits, 30 s steps, one step of skew, each step
//! accepted once), ten single-use recovery codes, the MFA policy with its enrollment grace
//! period, and the rules for changing factors. Seeds are sealed with a key derived from the
//! master key; codes are stored only as keyed hashes. Passkeys are in `passkeys`, app
//! passwords in `app_passwords`.

use crate::AppPasswordInfo;
use crate::authn::{SecondFactor, Why};
use crate::directory::account_by_address;
use crate::lockout::{is_locked, network_of};
use crate::secrets::{derive_key, keyed_hash, open, seal};
use crate::{Actor, Directory, IdentityError, Permission};
use carepost_audit::{Outcome, action};
/// The `amr` mark of a session in which a factor was enrolled but not used to sign in.
pub const ENROLLED_IN_SESSION: &str = "enrolled";

use carepost_store::OidcRepo;
use carepost_store::{
    AccountRow, AuditRepo, AuthRepo, CredentialRepo, DirectoryRepo, PasskeyRepo, SessionRepo,
};
use carepost_types::{AccountId, UnixMillis};
use serde::Serialize;
use serde_json::json;
use totp_rs::{Algorithm, Builder, Totp};

/// Recovery codes handed out at a time.
const RECOVERY_CODES: usize = 10;
/// Alphabet of generated secrets: no look-alikes (0/O, 1/l/I).
const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

/// What a new TOTP enrollment shows the user (once).
#[derive(Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TotpEnrollment {
    /// `otpauth://totp/...`, for a QR code.
    pub otpauth_url: String,
    /// The same seed in base32, to type in by hand.
    pub secret: String,
}

// The seed stays out of debug output.
impl std::fmt::Debug for TotpEnrollment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpEnrollment").finish_non_exhaustive()
    }
}

/// An account's second factors, for its owner and administrators.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MfaSummary {
    pub totp: bool,
    pub passkeys: Vec<crate::PasskeyInfo>,
    pub recovery_codes_left: i64,
    pub required: bool,
    /// The rule that requires it, in words ("Staff in the clinician category must use a
    /// second factor"), when one does.
    pub rule: Option<String>,
    pub app_passwords: Vec<AppPasswordInfo>,
}

/// `n` random characters from `ALPHABET` in groups of `group`.
pub(crate) fn random_code(rng: &dyn carepost_types::Rng, n: usize, group: usize) -> String {
    let mut out = String::new();
    for (i, b) in rng.bytes(n).iter().enumerate() {
        if i > 0 && i % group == 0 {
            out.push('-');
        }
        out.push(char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]));
    }
    out
}

/// A code as typed: case, spaces and dashes do not matter.
fn normalize_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

impl Directory {
    fn totp_key(&self) -> [u8; 32] {
        derive_key(&self.config().master_key, "totp seeds")
    }

    fn recovery_key(&self) -> [u8; 32] {
        derive_key(&self.config().master_key, "recovery codes")
    }

    fn totp(&self, seed: Vec<u8>, address: &str) -> Result<Totp, IdentityError> {
        Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(6)
            .with_skew(1)
            .with_step_duration(30)
            .with_secret(seed)
            .with_account_name(address)
            .with_issuer(Some(self.config().organization.name.clone()))
            .build()
            .map_err(|e| IdentityError::Invalid(format!("TOTP: {e}")))
    }

    /// Whether the MFA policy applies to this account.
    pub(crate) async fn mfa_required(&self, account: &AccountRow) -> Result<bool, IdentityError> {
        Ok(self.mfa_rule(account).await?.is_some())
    }

    /// The policy rule that requires `account` to use a second factor, in the words pages
    /// show: the rule itself, not "your role".
    pub(crate) async fn mfa_rule(
        &self,
        account: &AccountRow,
    ) -> Result<Option<String>, IdentityError> {
        let p = &self.config().mfa;
        if p.required_categories.contains(&account.category) {
            return Ok(Some(format!(
                "Staff in the {} category must use a second factor",
                account.category
            )));
        }
        if p.required_departments
            .iter()
            .any(|d| d.eq_ignore_ascii_case(&account.department_name))
        {
            return Ok(Some(format!(
                "Everyone in {} must use a second factor",
                account.department_name
            )));
        }
        let roles = self.store.read().await?.list_roles(account.id).await?;
        Ok(roles
            .iter()
            .find(|(r, _)| p.required_roles.contains(r))
            .map(|(r, _)| format!("Holders of the {r} role must use a second factor")))
    }

    /// `mfa_rule` for an account by id.
    pub async fn second_factor_rule(
        &self,
        account: AccountId,
    ) -> Result<Option<String>, IdentityError> {
        let row = self.account_row(account).await?;
        self.mfa_rule(&row).await
    }

    /// The second-factor step a password sign-in leads to.
    pub(crate) async fn second_factor(
        &self,
        account: &AccountRow,
        now: UnixMillis,
    ) -> Result<SecondFactor, IdentityError> {
        let mut read = self.store.read().await?;
        let totp = read
            .find_totp(account.id)
            .await?
            .is_some_and(|t| t.confirmed_at.is_some());
        let codes = read.count_unused_recovery_codes(account.id).await?;
        let passkeys = read.count_passkeys(account.id).await?;
        drop(read);
        if totp || passkeys > 0 {
            return Ok(SecondFactor::Required {
                totp,
                passkeys,
                recovery_codes: codes,
            });
        }
        if !self.mfa_required(account).await? {
            return Ok(SecondFactor::NotRequired);
        }
        // The grace runs from the first time the policy was found to apply without a factor.
        let started = self.start_grace(account, now).await?;
        let grace_until = started.plus(self.config().mfa.grace);
        Ok(SecondFactor::EnrollmentRequired {
            grace_until,
            overdue: grace_until <= now,
        })
    }

    /// Whether the account has a second factor (a confirmed authenticator or a passkey).
    pub(crate) async fn has_factor(&self, account: AccountId) -> Result<bool, IdentityError> {
        let mut read = self.store.read().await?;
        let totp = read
            .find_totp(account)
            .await?
            .is_some_and(|t| t.confirmed_at.is_some());
        Ok(totp || read.count_passkeys(account).await? > 0)
    }

    /// A random token of about 158 bits (for the portal's CSRF cookie).
    pub fn new_token(&self) -> String {
        random_code(&*self.rng, 32, 32)
    }

    /// Whether this session may add or remove second factors: when the account has one, the
    /// session must have proven it in the last minutes (a step-up), so that a stolen password
    /// and session cookie cannot swap the owner's factors for the thief's.
    pub async fn may_change_factors(&self, s: &crate::Session) -> Result<(), IdentityError> {
        if self.step_up_needed(s).await? {
            return Err(IdentityError::Forbidden(
                "changing your second factors needs a recent proof of one: confirm it is you with your authenticator or passkey (/account/confirm, or POST /api/v1/me/step-up), then try again".into(),
            ));
        }
        Ok(())
    }

    /// Records that the session's owner proved a factor during the session (an enrollment):
    /// the session now counts as opened with it, and the account's other web sessions, opened
    /// without it, end (audited), so that a session from before the enrollment cannot go on
    /// to change the factors.
    pub async fn note_factor_in_session(
        &self,
        account: AccountId,
        session: i64,
        amr: &[String],
        added: &[&str],
    ) -> Result<String, IdentityError> {
        let row = self.account_row(account).await?;
        let mut all: Vec<String> = amr.to_vec();
        // A factor enrolled in a session opened with the password alone proves the person
        // holds the factor now, not that they used it to sign in: marked, so that single
        // sign-on does not claim a multi-factor sign-in for it.
        if !all.iter().any(|m| m == "mfa") {
            all.push(ENROLLED_IN_SESSION.to_string());
        }
        for a in added {
            if !all.iter().any(|m| m == a) {
                all.push((*a).to_string());
            }
        }
        let mut tx = self.store.begin().await?;
        tx.update_session_amr(session, &all.join(",")).await?;
        // The factor was just proven: the session may go on changing factors for a while,
        // under a new token.
        let token = self.renew_session_token(&mut tx, session).await?;
        let ended = tx
            .revoke_sessions(account, None, Some(session), self.clock.now())
            .await?;
        // What applications were given from the other sessions ends with them.
        let grants = tx
            .revoke_account_grants(
                account,
                self.clock.now(),
                "second factor enrolled",
                Some(session),
            )
            .await?;
        let event = self
            .self_event(&row, action::SESSION_END)
            .with_details(json!({
                "reason": "second factor enrolled",
                "ended": ended,
                "grants_revoked": grants,
            }));
        tx.append_audit(&event).await?;
        tx.commit().await?;
        Ok(token)
    }

    /// At the first second factor, the app passwords made before it (by a session that had
    /// only the password, perhaps a thief's) are revoked: the mail apps are set up again.
    pub(crate) async fn first_factor_revokes(
        &self,
        tx: &mut carepost_store::Tx,
        account: AccountId,
        first: bool,
    ) -> Result<u64, IdentityError> {
        if !first {
            return Ok(0);
        }
        // So are single sign-on grants (a mail app set up with OAuth by the same thief).
        tx.revoke_account_grants(account, self.clock.now(), "first second factor", None)
            .await?;
        Ok(tx
            .revoke_app_passwords(
                account,
                None,
                self.clock.now(),
                crate::app_passwords::why::FIRST_FACTOR,
            )
            .await?)
    }

    /// When the account's enrollment grace started; the first call starts it (audited).
    async fn start_grace(
        &self,
        account: &AccountRow,
        now: UnixMillis,
    ) -> Result<UnixMillis, IdentityError> {
        let known = self.store.read().await?.find_mfa_grace(account.id).await?;
        if let Some(started) = known {
            return Ok(started);
        }
        let mut tx = self.store.begin().await?;
        let started = tx.start_mfa_grace(account.id, now).await?;
        if started == now {
            let until = now.plus(self.config().mfa.grace);
            let event = self
                .self_event(account, action::MFA_GRACE_START)
                .with_details(json!({ "grace_until": until.to_rfc3339() }));
            tx.append_audit(&event).await?;
            tx.commit().await?;
        }
        Ok(started)
    }

    /// Starts (or restarts) TOTP enrollment: a new seed, sealed, unconfirmed until a code from
    /// it is presented.
    pub async fn begin_totp(&self, account: AccountId) -> Result<TotpEnrollment, IdentityError> {
        let row = self.account_row(account).await?;
        let enrolled = self.store.read().await?.find_totp(account).await?;
        if enrolled.is_some_and(|t| t.confirmed_at.is_some()) {
            // Replacing a confirmed seed would switch MFA off until the new one is confirmed.
            return Err(IdentityError::Conflict(
                "an authenticator is already enrolled: remove it first (with its current code, or by a helpdesk reset)".into(),
            ));
        }
        let seed = self.rng.bytes(20);
        let totp = self.totp(seed.clone(), &row.primary_address)?;
        let sealed = seal(&self.totp_key(), &*self.rng, &account.to_string(), &seed)?;
        let mut tx = self.store.begin().await?;
        tx.put_totp(account, &sealed, self.clock.now()).await?;
        let event = self.self_event(&row, action::TOTP_ENROLL);
        tx.append_audit(&event).await?;
        tx.commit().await?;
        Ok(TotpEnrollment {
            otpauth_url: totp
                .to_url()
                .map_err(|e| IdentityError::Invalid(format!("TOTP: {e}")))?,
            secret: totp_rs::Secret::from(seed).to_base32(),
        })
    }

    /// Confirms an enrollment with a code from the app. Returns fresh recovery codes (shown
    /// once) when the account had none.
    pub async fn confirm_totp(
        &self,
        account: AccountId,
        code: &str,
    ) -> Result<Option<Vec<String>>, IdentityError> {
        let row = self.account_row(account).await?;
        let first = !self.has_factor(account).await?;
        if !self.check_totp(&row, code, true).await? {
            return Err(IdentityError::Invalid(
                "that code does not match: check the time on your phone and type the current code"
                    .into(),
            ));
        }
        let mut tx = self.store.begin().await?;
        tx.confirm_totp(account, self.clock.now()).await?;
        // From now on a removal of every factor gets no new enrollment grace.
        tx.start_mfa_grace(account, self.clock.now()).await?;
        let revoked = self.first_factor_revokes(&mut tx, account, first).await?;
        tx.append_audit(
            &self
                .self_event(&row, action::TOTP_CONFIRM)
                .with_details(json!({ "app_passwords_revoked": revoked })),
        )
        .await?;
        tx.commit().await?;
        // The first factor always comes with fresh codes: any made before it are void.
        let none_left = self
            .store
            .read()
            .await?
            .count_unused_recovery_codes(account)
            .await?
            == 0;
        if first || none_left {
            return self.regenerate_recovery_codes(account).await.map(Some);
        }
        Ok(None)
    }

    /// Checks a TOTP code and spends its time step, so that it is never accepted twice.
    /// `enrolling`: the seed may still be unconfirmed (the confirmation itself); otherwise only
    /// a confirmed seed counts.
    async fn check_totp(
        &self,
        row: &AccountRow,
        code: &str,
        enrolling: bool,
    ) -> Result<bool, IdentityError> {
        let Some(stored) = self.store.read().await?.find_totp(row.id).await? else {
            return Ok(false);
        };
        if !enrolling && stored.confirmed_at.is_none() {
            return Ok(false);
        }
        let Some(step) = self.totp_step(row, &stored, code)? else {
            return Ok(false);
        };
        let mut tx = self.store.begin().await?;
        let fresh = self.spend_totp_step(&mut tx, row, step).await?;
        tx.commit().await?;
        Ok(fresh)
    }

    /// The time step `code` belongs to under the stored seed, if it is one of the current ones.
    fn totp_step(
        &self,
        row: &AccountRow,
        stored: &carepost_store::TotpRow,
        code: &str,
    ) -> Result<Option<u64>, IdentityError> {
        let seed = open(&self.totp_key(), &row.id.to_string(), &stored.secret_sealed)?;
        let totp = self.totp(seed, &row.primary_address)?;
        let now = u64::try_from(self.clock.now().0 / 1000).unwrap_or(0);
        let code: String = code.chars().filter(char::is_ascii_digit).collect();
        if code.len() != 6 {
            return Ok(None);
        }
        Ok(totp.check(&code, now))
    }

    /// Spends a time step (false: it was spent already, a replay), on the record.
    async fn spend_totp_step(
        &self,
        tx: &mut carepost_store::Tx,
        row: &AccountRow,
        step: u64,
    ) -> Result<bool, IdentityError> {
        let fresh = tx
            .use_totp_step(row.id, i64::try_from(step).unwrap_or(i64::MAX))
            .await?;
        let event = self
            .self_event(row, action::MFA_VERIFY)
            .with_details(json!({ "factor": "totp", "step": step, "replay": !fresh }))
            .with_outcome(if fresh {
                Outcome::Success
            } else {
                Outcome::Failure
            });
        tx.append_audit(&event).await?;
        Ok(fresh)
    }

    /// A guess at the authenticator's code of an account that is not locked: the lock is read,
    /// the code checked and a wrong one counted in one audited transaction. Every audited
    /// transaction holds the audit chain's lock, so parallel guesses take turns and each sees
    /// the lock that the wrong ones before it set: six digits never face more guesses than the
    /// lockout's threshold, however many arrive at once. A locked account's guess is refused
    /// unchecked (and audited as such).
    pub(crate) async fn guess_totp(
        &self,
        attempt: &crate::SignIn<'_>,
        row: &AccountRow,
        code: &str,
    ) -> Result<bool, IdentityError> {
        self.guess_totp_when(attempt, row, code, None).await
    }

    /// `guess_totp` for a locked account: the guess takes one of the lock's `unlock_tries`
    /// first (none left: refused unchecked). Taken under the same audit lock as the failures
    /// it counts, so that no failure written meanwhile gives a spent try back.
    pub(crate) async fn guess_totp_while_locked(
        &self,
        attempt: &crate::SignIn<'_>,
        row: &AccountRow,
        code: &str,
        tries: i64,
    ) -> Result<bool, IdentityError> {
        self.guess_totp_when(attempt, row, code, Some(tries)).await
    }

    async fn guess_totp_when(
        &self,
        attempt: &crate::SignIn<'_>,
        row: &AccountRow,
        code: &str,
        unlock_tries: Option<i64>,
    ) -> Result<bool, IdentityError> {
        let network = network_of(attempt.source);
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let kind = self.source_kind(&mut tx, row.id, &network).await?;
        let refused = match unlock_tries {
            None => is_locked(&tx.find_lockout(row.id, kind.as_str()).await?, now),
            Some(max) => !tx.take_unlock_try(row.id, kind.as_str(), now, max).await?,
        };
        if refused {
            drop(tx);
            self.record_failure(attempt, Some((row, kind)), &network, Why::Locked)
                .await?;
            return Ok(false);
        }
        let step = match tx.find_totp(row.id).await? {
            Some(stored) if stored.confirmed_at.is_some() => self.totp_step(row, &stored, code)?,
            _ => None,
        };
        let right = match step {
            Some(step) => self.spend_totp_step(&mut tx, row, step).await?,
            None => false,
        };
        if !right {
            self.count_failure(
                &mut tx,
                attempt,
                Some((row, kind)),
                &network,
                Why::WrongSecondFactor,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(right)
    }

    /// The second step of a web sign-in: a TOTP code or a recovery code. A wrong code counts
    /// toward the lockout like a wrong password.
    pub async fn verify_second_factor(
        &self,
        account: AccountId,
        code: &str,
        attempt: &crate::SignIn<'_>,
    ) -> Result<bool, IdentityError> {
        let row = self.account_row(account).await?;
        // The lock and the account's state are checked first, so a locked account cannot go
        // on guessing codes.
        if !self.may_try_second_factor(attempt, &row).await? {
            return Ok(false);
        }
        let digits = code.chars().filter(char::is_ascii_alphanumeric).count();
        if digits == 6 && code.trim().chars().all(|c| c.is_ascii_digit() || c == ' ') {
            if !self.guess_totp(attempt, &row, code).await? {
                return Ok(false);
            }
        } else if !self.use_recovery_code(&row, code).await? {
            // Recovery codes carry about 79 bits: parallel guesses gain nothing there.
            self.second_factor_failed(attempt, &row).await?;
            return Ok(false);
        }
        self.second_factor_passed(attempt, &row).await
    }

    /// Whether `code` is one of the account's unused recovery codes, without spending it.
    pub(crate) async fn recovery_code_unused(
        &self,
        row: &AccountRow,
        code: &str,
    ) -> Result<bool, IdentityError> {
        let hash = keyed_hash(&self.recovery_key(), &normalize_code(code));
        Ok(self
            .store
            .read()
            .await?
            .has_unused_recovery_code(row.id, &hash)
            .await?)
    }

    /// An unused recovery code, spent.
    pub(crate) async fn spend_recovery_code(
        &self,
        row: &AccountRow,
        code: &str,
    ) -> Result<bool, IdentityError> {
        self.use_recovery_code(row, code).await
    }

    async fn use_recovery_code(&self, row: &AccountRow, code: &str) -> Result<bool, IdentityError> {
        let hash = keyed_hash(&self.recovery_key(), &normalize_code(code));
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        if !tx.use_recovery_code(row.id, &hash, now).await? {
            return Ok(false);
        }
        let left = tx.count_unused_recovery_codes(row.id).await?;
        let event = self
            .self_event(row, action::RECOVERY_CODE_USE)
            .with_details(json!({ "left": left }));
        tx.append_audit(&event).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Replaces all recovery codes with ten new ones, returned once.
    pub async fn regenerate_recovery_codes(
        &self,
        account: AccountId,
    ) -> Result<Vec<String>, IdentityError> {
        let row = self.account_row(account).await?;
        // Codes stand in for a second factor: without one, they would become one, made by
        // whoever held the password (and would outlive the owner's later enrollment).
        if !self.has_factor(account).await? {
            return Err(IdentityError::Conflict(
                "recovery codes come with a second factor: add a passkey or an authenticator app first".into(),
            ));
        }
        // 16 characters of a 31-letter alphabet: about 79 bits each.
        let codes: Vec<String> = (0..RECOVERY_CODES)
            .map(|_| random_code(&*self.rng, 16, 4))
            .collect();
        let hashes: Vec<String> = codes
            .iter()
            .map(|c| keyed_hash(&self.recovery_key(), &normalize_code(c)))
            .collect();
        let mut tx = self.store.begin().await?;
        tx.replace_recovery_codes(account, &hashes, self.clock.now())
            .await?;
        tx.append_audit(&self.self_event(&row, action::RECOVERY_CODES_GENERATE))
            .await?;
        tx.commit().await?;
        Ok(codes)
    }

    /// An account's second factors, for administrators.
    pub async fn mfa_summary(
        &self,
        actor: &Actor,
        address: &str,
    ) -> Result<MfaSummary, IdentityError> {
        let row = account_by_address(&mut self.store.read().await?, address).await?;
        self.require_account(actor, Permission::ReadDirectory, &row)
            .await?;
        self.summary_of(&row).await
    }

    async fn summary_of(&self, row: &AccountRow) -> Result<MfaSummary, IdentityError> {
        let mut tx = self.store.read().await?;
        let totp = tx
            .find_totp(row.id)
            .await?
            .is_some_and(|t| t.confirmed_at.is_some());
        let recovery_codes_left = tx.count_unused_recovery_codes(row.id).await?;
        let app_passwords = tx.list_app_passwords(row.id).await?;
        let passkeys = tx.list_passkeys(row.id).await?;
        drop(tx);
        let rule = self.mfa_rule(row).await?;
        Ok(MfaSummary {
            totp,
            passkeys: passkeys.into_iter().map(crate::PasskeyInfo::from).collect(),
            recovery_codes_left,
            required: rule.is_some(),
            rule,
            app_passwords: app_passwords
                .into_iter()
                .map(AppPasswordInfo::from)
                .collect(),
        })
    }

    /// Where the account stands with second factors now (for the portal's gate).
    pub async fn second_factor_state(
        &self,
        account: AccountId,
    ) -> Result<SecondFactor, IdentityError> {
        let row = self.account_row(account).await?;
        self.second_factor(&row, self.clock.now()).await
    }

    /// The owner's own second factors and app passwords.
    pub async fn own_mfa(&self, account: AccountId) -> Result<MfaSummary, IdentityError> {
        let row = self.account_row(account).await?;
        self.summary_of(&row).await
    }

    /// Removes TOTP and recovery codes (the owner must enroll again). Needs a reason.
    pub async fn mfa_reset(
        &self,
        actor: &Actor,
        address: &str,
        reason: &str,
    ) -> Result<(), IdentityError> {
        self.require(
            actor,
            Permission::ManageAccounts,
            &format!("account:{address}"),
        )
        .await?;
        let reason = reason.trim();
        if reason.len() < 5 {
            return Err(IdentityError::Invalid(
                "a reset needs a reason (--reason), such as the ticket number and how the person was verified".into(),
            ));
        }
        let mut tx = self.store.begin().await?;
        let row = account_by_address(&mut tx, address).await?;
        tx.delete_totp(row.id).await?;
        tx.delete_passkeys(row.id).await?;
        tx.delete_ceremonies(row.id).await?;
        // Sessions opened with the old factors end with them.
        let ended = tx
            .revoke_sessions(row.id, None, None, self.clock.now())
            .await?;
        tx.revoke_account_grants(row.id, self.clock.now(), "second factors reset", None)
            .await?;
        tx.replace_recovery_codes(row.id, &[], self.clock.now())
            .await?;
        let event = self
            .audit(
                actor,
                action::MFA_RESET,
                format!("account:{}", row.primary_address),
            )
            .with_details(json!({ "reason": reason, "sessions_ended": ended }));
        tx.append_audit(&event).await?;
        tx.commit().await?;
        Ok(())
    }

    pub(crate) async fn account_row(
        &self,
        account: AccountId,
    ) -> Result<AccountRow, IdentityError> {
        self.store
            .read()
            .await?
            .find_account(account)
            .await?
            .ok_or_else(|| IdentityError::NotFound(format!("no account {account}")))
    }

    pub(crate) fn self_event(
        &self,
        row: &AccountRow,
        action: &'static str,
    ) -> carepost_audit::NewEvent {
        self.audit(
            &Actor::account(row.id, &row.primary_address),
            action,
            format!("account:{}", row.primary_address),
        )
    }
}
