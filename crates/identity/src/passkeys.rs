//! Passkeys as second factors (W3C WebAuthn Level 3, verified by webauthn-rs): registration of
//! several named credentials, sign-in with any of them after the password, and removal. Every
//! ceremony's challenge state is kept in the store and taken by the one answer that may use it,
//! so a captured answer cannot be replayed and any node can finish what another began.
//! User verification (PIN or biometric on the device) is required on every use.

use crate::mfa::random_code;
use crate::secrets::{derive_key, keyed_hash};
use crate::{Directory, IdentityError, SignIn};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use carepost_audit::{Outcome, action};
use carepost_config::Config;
use carepost_store::{AccountRow, AuditRepo, AuthRepo, CeremonyRow, PasskeyRepo, PasskeyRow};
use carepost_types::{AccountId, UnixMillis};
use serde::Serialize;
use serde_json::json;
use std::time::Duration;
pub use webauthn_rs::prelude::{
    CreationChallengeResponse, PublicKeyCredential, RegisterPublicKeyCredential,
    RequestChallengeResponse,
};
use webauthn_rs::prelude::{
    Passkey, PasskeyAuthentication, PasskeyRegistration, Uuid, Webauthn, WebauthnBuilder,
};

/// What came of a passkey answer.
enum Checked {
    Passed,
    Failed,
    NoChallenge,
}

/// How long a browser has to answer a challenge.
const CEREMONY_LIFETIME: Duration = Duration::from_secs(5 * 60);
/// Passkeys one account may hold: a phone, a laptop, a few security keys.
const MAX_PASSKEYS: i64 = 20;
const REGISTER: &str = "register";
const SIGN_IN: &str = "sign-in";

/// A challenge for the browser: `options` goes to `navigator.credentials.create()` or
/// `.get()`, and the answer comes back with `ceremony`.
#[derive(Debug, Clone, Serialize)]
pub struct PasskeyChallenge<T> {
    pub ceremony: String,
    pub options: T,
}

/// A registered passkey, as its owner and administrators see it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PasskeyInfo {
    pub id: i64,
    pub name: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub last_used_source: Option<String>,
}

impl From<PasskeyRow> for PasskeyInfo {
    fn from(r: PasskeyRow) -> Self {
        PasskeyInfo {
            id: r.id,
            name: r.name,
            created_at: r.created_at.to_rfc3339(),
            last_used_at: r.last_used_at.map(UnixMillis::to_rfc3339),
            last_used_source: r.last_used_source,
        }
    }
}

/// The relying party of the configured public URL. In development the port may differ, as
/// tests and `serve --dev` bind where they can.
pub(crate) fn relying_party(config: &Config) -> Result<Webauthn, IdentityError> {
    WebauthnBuilder::new(&config.web.rp_id, &config.web.public_url)
        .map(|b| b.rp_name(&config.organization.name))
        .map(|b| b.allow_any_port(config.dev))
        .and_then(WebauthnBuilder::build)
        .map_err(|e| {
            IdentityError::Invalid(format!("web.public_url: no WebAuthn relying party: {e}"))
        })
}

/// Control characters, line and paragraph separators, and the invisible format characters
/// (zero-width, bidi overrides) that could make a name lie about itself in a list or a log.
fn unprintable(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{206f}' | '\u{feff}')
}

fn ceremony_failed(e: impl std::fmt::Display) -> IdentityError {
    IdentityError::Invalid(format!("the passkey could not be verified: {e}"))
}

impl Directory {
    /// The stable WebAuthn user handle of an account: derived, so nothing about the account
    /// (not even its number) is handed to authenticators.
    fn user_handle(&self, account: AccountId) -> Uuid {
        let key = derive_key(&self.config().master_key, "webauthn user handles");
        let mac = keyed_hash(&key, &account.to_string());
        let mut bytes = [0u8; 16];
        // A keyed hash is 64 hex digits, so it always fills the 16 bytes.
        if let Ok(raw) = hex::decode(mac) {
            for (b, r) in bytes.iter_mut().zip(raw) {
                *b = r;
            }
        }
        Uuid::from_bytes(bytes)
    }

    async fn passkeys_of(
        &self,
        account: AccountId,
    ) -> Result<Vec<(PasskeyRow, Passkey)>, IdentityError> {
        let rows = self.store.read().await?.list_passkeys(account).await?;
        rows.into_iter()
            .map(|r| {
                let key = serde_json::from_str::<Passkey>(&r.credential)
                    .map_err(|e| IdentityError::Invalid(format!("stored passkey {}: {e}", r.id)))?;
                Ok((r, key))
            })
            .collect()
    }

    async fn keep_ceremony(
        &self,
        account: AccountId,
        purpose: &str,
        state: String,
    ) -> Result<String, IdentityError> {
        let now = self.clock.now();
        let id = random_code(&*self.rng, 32, 32);
        let row = CeremonyRow {
            id: id.clone(),
            account_id: account,
            purpose: purpose.to_string(),
            state,
            expires_at: now.plus(CEREMONY_LIFETIME),
        };
        // Bookkeeping: the ceremony's outcome is what the audit trail records.
        let mut tx = self.store.begin_bookkeeping().await?;
        tx.insert_ceremony(&row, now).await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn take_ceremony(
        &self,
        account: AccountId,
        purpose: &str,
        id: &str,
    ) -> Result<Option<String>, IdentityError> {
        let mut tx = self.store.begin_bookkeeping().await?;
        let row = tx
            .take_ceremony(id, account, purpose, self.clock.now())
            .await?;
        tx.commit().await?;
        Ok(row.map(|r| r.state))
    }

    /// Starts registering a passkey for the account (the caller has checked its password).
    pub async fn begin_passkey_registration(
        &self,
        account: AccountId,
    ) -> Result<PasskeyChallenge<CreationChallengeResponse>, IdentityError> {
        let row = self.account_row(account).await?;
        let existing = self.passkeys_of(account).await?;
        if i64::try_from(existing.len()).unwrap_or(i64::MAX) >= MAX_PASSKEYS {
            return Err(IdentityError::Conflict(format!(
                "an account holds at most {MAX_PASSKEYS} passkeys: remove one you no longer use"
            )));
        }
        let exclude = existing.iter().map(|(_, k)| k.cred_id().clone()).collect();
        let display = crate::directory::name_of(&row).display();
        let (options, state) = self
            .webauthn
            .start_passkey_registration(
                self.user_handle(account),
                &row.primary_address,
                &display,
                Some(exclude),
            )
            .map_err(ceremony_failed)?;
        let state = serde_json::to_string(&state).map_err(ceremony_failed)?;
        let ceremony = self.keep_ceremony(account, REGISTER, state).await?;
        Ok(PasskeyChallenge { ceremony, options })
    }

    /// Verifies the browser's answer and keeps the passkey under `name`. Returns fresh
    /// recovery codes (shown once) when the account had none.
    pub async fn finish_passkey_registration(
        &self,
        account: AccountId,
        ceremony: &str,
        name: &str,
        answer: &RegisterPublicKeyCredential,
    ) -> Result<(PasskeyInfo, Option<Vec<String>>), IdentityError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(unprintable) {
            return Err(IdentityError::Invalid(
                "a passkey needs a name of 1 to 100 characters on one line, such as \"Work laptop\""
                    .into(),
            ));
        }
        let row = self.account_row(account).await?;
        let first = !self.has_factor(account).await?;
        let state = self
            .take_ceremony(account, REGISTER, ceremony)
            .await?
            .ok_or_else(|| {
                IdentityError::Invalid(
                    "that registration has expired or was used already: start again".into(),
                )
            })?;
        let state: PasskeyRegistration = serde_json::from_str(&state).map_err(ceremony_failed)?;
        let key = self
            .webauthn
            .finish_passkey_registration(answer, &state)
            .map_err(ceremony_failed)?;
        let now = self.clock.now();
        let stored = PasskeyRow {
            id: 0,
            account_id: account,
            name: name.to_string(),
            credential_id: URL_SAFE_NO_PAD.encode(key.cred_id()),
            credential: serde_json::to_string(&key).map_err(ceremony_failed)?,
            sign_count: 0,
            created_at: now,
            last_used_at: None,
            last_used_source: None,
        };
        let mut tx = self.store.begin().await?;
        if tx.count_passkeys(account).await? >= MAX_PASSKEYS {
            return Err(IdentityError::Conflict(format!(
                "an account holds at most {MAX_PASSKEYS} passkeys: remove one you no longer use"
            )));
        }
        let Some(id) = tx.insert_passkey(&stored).await? else {
            return Err(IdentityError::Conflict(
                "this passkey is registered already".into(),
            ));
        };
        // From now on a removal of every factor gets no new enrollment grace.
        tx.start_mfa_grace(account, now).await?;
        let revoked = self.first_factor_revokes(&mut tx, account, first).await?;
        let event = self
            .self_event(&row, action::PASSKEY_REGISTER)
            .with_details(json!({ "id": id, "name": name, "app_passwords_revoked": revoked }));
        tx.append_audit(&event).await?;
        let codes = tx.count_unused_recovery_codes(account).await?;
        tx.commit().await?;
        let info = PasskeyInfo::from(PasskeyRow { id, ..stored });
        // The first factor always comes with fresh codes: any made before it are void.
        if first || codes == 0 {
            return Ok((info, Some(self.regenerate_recovery_codes(account).await?)));
        }
        Ok((info, None))
    }

    pub async fn list_passkeys(
        &self,
        account: AccountId,
    ) -> Result<Vec<PasskeyInfo>, IdentityError> {
        let rows = self.store.read().await?.list_passkeys(account).await?;
        Ok(rows.into_iter().map(PasskeyInfo::from).collect())
    }

    /// Removes one of the account's passkeys (the caller has checked its password).
    pub async fn remove_passkey(&self, account: AccountId, id: i64) -> Result<(), IdentityError> {
        let row = self.account_row(account).await?;
        let mut read = self.store.read().await?;
        let totp = read
            .find_totp(account)
            .await?
            .is_some_and(|t| t.confirmed_at.is_some());
        let keys = read.list_passkeys(account).await?;
        drop(read);
        let last = !totp && keys.len() == 1 && keys.iter().any(|k| k.id == id);
        if last && self.mfa_required(&row).await? {
            return Err(IdentityError::Conflict(
                "your account must keep a second factor: add another passkey or an authenticator app before removing this one".into(),
            ));
        }
        let mut tx = self.store.begin().await?;
        if !tx.delete_passkey(account, id).await? {
            return Err(IdentityError::NotFound(format!("you have no passkey {id}")));
        }
        // Counted again inside the change: two removals at once must not leave none.
        if !totp && tx.count_passkeys(account).await? == 0 && self.mfa_required(&row).await? {
            return Err(IdentityError::Conflict(
                "your account must keep a second factor: add another passkey or an authenticator app before removing this one".into(),
            ));
        }
        let event = self
            .self_event(&row, action::PASSKEY_REMOVE)
            .with_details(json!({ "id": id }));
        tx.append_audit(&event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A challenge for the second step of a sign-in; `None` when the account has no passkey.
    /// No challenge either while the account is locked or inactive.
    pub async fn begin_passkey_sign_in(
        &self,
        account: AccountId,
        attempt: &SignIn<'_>,
    ) -> Result<Option<PasskeyChallenge<RequestChallengeResponse>>, IdentityError> {
        self.begin_passkey_proof(account, attempt, SIGN_IN).await
    }

    /// A challenge for a proof of a passkey for `purpose` (a sign-in's second step, or one
    /// session's step-up: each has its own ceremony, so neither cancels the other).
    pub(crate) async fn begin_passkey_proof(
        &self,
        account: AccountId,
        attempt: &SignIn<'_>,
        purpose: &str,
    ) -> Result<Option<PasskeyChallenge<RequestChallengeResponse>>, IdentityError> {
        let row = self.account_row(account).await?;
        if !self.may_try_second_factor(attempt, &row).await? {
            return Ok(None);
        }
        let keys: Vec<Passkey> = self
            .passkeys_of(account)
            .await?
            .into_iter()
            .map(|(_, k)| k)
            .collect();
        if keys.is_empty() {
            return Ok(None);
        }
        let (options, state) = self
            .webauthn
            .start_passkey_authentication(&keys)
            .map_err(ceremony_failed)?;
        let state = serde_json::to_string(&state).map_err(ceremony_failed)?;
        let ceremony = self.keep_ceremony(account, purpose, state).await?;
        Ok(Some(PasskeyChallenge { ceremony, options }))
    }

    /// The second step of a web sign-in with a passkey. A wrong or replayed answer counts
    /// toward the lockout like a wrong code.
    pub async fn verify_passkey_second_factor(
        &self,
        account: AccountId,
        ceremony: &str,
        answer: &PublicKeyCredential,
        attempt: &SignIn<'_>,
    ) -> Result<bool, IdentityError> {
        self.verify_passkey_proof(account, ceremony, answer, attempt, SIGN_IN)
            .await
    }

    /// The answer to `begin_passkey_proof`'s challenge for the same `purpose`.
    pub(crate) async fn verify_passkey_proof(
        &self,
        account: AccountId,
        ceremony: &str,
        answer: &PublicKeyCredential,
        attempt: &SignIn<'_>,
        purpose: &str,
    ) -> Result<bool, IdentityError> {
        let row = self.account_row(account).await?;
        if !self.may_try_second_factor(attempt, &row).await? {
            return Ok(false);
        }
        match self
            .check_passkey(&row, ceremony, answer, attempt, purpose)
            .await?
        {
            Checked::Passed => {}
            // Nothing was verified (no such challenge): no guess was made, so it does not
            // count toward the lockout, and a stranger replacing the owner's challenge
            // cannot lock the owner out with it.
            Checked::NoChallenge => return Ok(false),
            Checked::Failed => {
                self.second_factor_failed(attempt, &row).await?;
                return Ok(false);
            }
        }
        self.second_factor_passed(attempt, &row).await
    }

    async fn check_passkey(
        &self,
        row: &AccountRow,
        ceremony: &str,
        answer: &PublicKeyCredential,
        attempt: &SignIn<'_>,
        purpose: &str,
    ) -> Result<Checked, IdentityError> {
        // No ceremony (expired, or taken by an earlier answer: a replay) fails like a bad
        // signature, and is audited the same way.
        let state = self.take_ceremony(row.id, purpose, ceremony).await?;
        let state = state.and_then(|s| serde_json::from_str::<PasskeyAuthentication>(&s).ok());
        let had_challenge = state.is_some();
        let verified = match &state {
            Some(state) => self
                .webauthn
                .finish_passkey_authentication(answer, state)
                .map_err(|e| e.to_string()),
            None => Err("no such challenge (expired or answered already)".to_string()),
        };
        let used = URL_SAFE_NO_PAD.encode(answer.get_credential_id());
        let found = self
            .passkeys_of(row.id)
            .await?
            .into_iter()
            .find(|(r, _)| r.credential_id == used);
        let error = verified.as_ref().err().cloned();
        let mut tx = self.store.begin().await?;
        let mut error = error;
        let ok = match (verified, found) {
            (Ok(result), Some((stored, mut key))) => {
                // W3C WebAuthn §7.2 step 21: a counter that does not move past the stored
                // one means two copies of the key exist. The store compares again as it
                // writes, so two nodes racing with the same counter cannot both pass.
                let count = i64::from(result.counter());
                key.update_credential(&result);
                let credential = serde_json::to_string(&key).map_err(ceremony_failed)?;
                let source = attempt.source.map(|s| s.to_string());
                let fresh = !((count > 0 || stored.sign_count > 0) && count <= stored.sign_count)
                    && tx
                        .record_passkey_use(
                            stored.id,
                            Some((credential.as_str(), count)),
                            self.clock.now(),
                            source.as_deref(),
                        )
                        .await?;
                if !fresh {
                    error = Some(format!(
                        "possible cloned key: counter {count}, stored {}",
                        stored.sign_count
                    ));
                }
                fresh.then_some(stored.id)
            }
            _ => None,
        };
        let event = self
            .self_event(row, action::MFA_VERIFY)
            .with_details(json!({ "factor": "passkey", "id": ok, "error": error }))
            .with_outcome(if ok.is_some() {
                Outcome::Success
            } else {
                Outcome::Failure
            });
        tx.append_audit(&event).await?;
        tx.commit().await?;
        Ok(match (ok, had_challenge) {
            (Some(_), _) => Checked::Passed,
            (None, false) => Checked::NoChallenge,
            (None, true) => Checked::Failed,
        })
    }
}
