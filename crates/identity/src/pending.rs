//! A sign-in between its password and its second step. The browser holds it as a short-lived
//! token, sealed (AES-GCM) so that it needs no server state and tells nothing: not which
//! account it is for, nor whether the password was right. That matters on a paused network,
//! where every web sign-in gets a second step that looks the same — a real one when the
//! password was right and the account has a second factor, one that cannot pass otherwise —
//! so that a spray learns nothing of which accounts exist or which passwords are right.

use crate::authn::{SecondFactor, Why};
use crate::lockout::minutes_until;
use crate::{Directory, IdentityError, SignIn, SignedIn, network_of};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use carepost_store::{AuthRepo, CredentialRepo, DirectoryRepo};
use carepost_types::{AccountId, Address, UnixMillis};
use serde::{Deserialize, Serialize};
use webauthn_rs::prelude::{PublicKeyCredential, RequestChallengeResponse};

/// The size every sealed token's content is padded to: room for the longest login kept
/// (`MAX_LOGIN` bytes) and the other fields at their widest.
const SEALED_LEN: usize = 512;
const MAX_LOGIN: usize = 320;

/// How long a sign-in may wait between the password and the second factor.
const PENDING_FOR: std::time::Duration = std::time::Duration::from_secs(5 * 60);

/// What the sealed token holds.
#[derive(Serialize, Deserialize)]
struct Sealed {
    /// The login the sign-in named (for the audit trail of its second step).
    login: String,
    /// The account the second step signs in; `None` for one that cannot pass.
    account: Option<i64>,
    until: i64,
    /// The password's last change: a reset during the pending window voids the token.
    stamp: i64,
    /// The pause of the network the sign-in came through, if it did.
    paused_until: Option<i64>,
}

/// A sign-in waiting for its second step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    login: String,
    account: Option<AccountId>,
    /// Minutes left of the pause this sign-in came through, if it came through one.
    pub paused_minutes: Option<u64>,
}

impl Pending {
    /// The login the sign-in named.
    pub fn login(&self) -> &str {
        &self.login
    }

    /// The account a passed second step signs in (none for one that cannot pass).
    pub fn account(&self) -> Option<AccountId> {
        self.account
    }

    /// What the second-step page says above the form, if anything.
    pub fn notice(&self) -> Option<String> {
        self.paused_minutes.map(|minutes| {
            format!(
                "{}. If you use an authenticator app, go on with its code or one of your recovery codes; otherwise try again then, or call the helpdesk.",
                crate::authn::paused_for(minutes)
            )
        })
    }
}

/// What the second step may be answered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SecondStep {
    pub totp: bool,
    pub passkey: bool,
    pub recovery_code: bool,
}

/// At most `MAX_LOGIN` bytes of a login, cut at a character boundary.
fn cut(login: &str) -> String {
    let mut end = login.len().min(MAX_LOGIN);
    while !login.is_char_boundary(end) {
        end -= 1;
    }
    login[..end].to_string()
}

fn pause_end(now: UnixMillis, minutes: u64) -> i64 {
    let minutes = i64::try_from(minutes).unwrap_or(i64::MAX / 120_000);
    now.0.saturating_add(minutes.saturating_mul(60_000))
}

impl Directory {
    fn pending_key(&self) -> [u8; 32] {
        crate::secrets::derive_key(&self.config().master_key, "pending second factor")
    }

    /// The password's last change, bound into pending tokens.
    async fn password_stamp(&self, account: AccountId) -> Result<i64, IdentityError> {
        let pw = self.store.read().await?.find_password(account).await?;
        Ok(pw.map_or(0, |p| p.changed_at.0))
    }

    fn seal_pending(&self, body: &Sealed) -> Result<String, IdentityError> {
        let mut plain = serde_json::to_vec(body)
            .map_err(|e| IdentityError::Invalid(format!("cannot write a pending sign-in: {e}")))?;
        // AES-GCM keeps the length: every token is padded (with JSON whitespace) to one size,
        // so a real one cannot be told from one that cannot pass by its length.
        if plain.len() > SEALED_LEN {
            return Err(IdentityError::Invalid(
                "a pending sign-in is too long".into(),
            ));
        }
        plain.resize(SEALED_LEN, b' ');
        let sealed = crate::secrets::seal(&self.pending_key(), &*self.rng, "pending", &plain)?;
        // Re-encoded URL-safe and unpadded: a cookie value that ends in `=` reads to some
        // clients as a cleared cookie.
        let bytes = STANDARD
            .decode(sealed)
            .map_err(|_| IdentityError::Invalid("a sealed pending sign-in is not base64".into()))?;
        Ok(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// The token for a sign-in whose password was right and whose second factor is due. The
    /// stamp is that of the password the sign-in verified: a reset since voids the token.
    pub async fn pending_second_factor(&self, s: &SignedIn) -> Result<String, IdentityError> {
        let now = self.clock.now();
        let stamp = match s.password_stamp {
            Some(t) => t.0,
            None => self.password_stamp(s.account).await?,
        };
        self.seal_pending(&Sealed {
            login: cut(&s.address),
            account: Some(s.account.0),
            until: now.plus(PENDING_FOR).0,
            stamp,
            // In whole minutes from now, as `pending_through_pause` has it, so that the two
            // notices count down alike.
            paused_until: s
                .through_pause
                .map(|until| pause_end(now, minutes_until(now, until))),
        })
    }

    /// The token for a web sign-in that a paused network refused (`Refusal::SourcePaused`):
    /// it looks like `pending_second_factor`'s for a sign-in through the pause, and its
    /// second step cannot pass.
    pub fn pending_through_pause(
        &self,
        login: &str,
        minutes: u64,
    ) -> Result<String, IdentityError> {
        let now = self.clock.now();
        self.seal_pending(&Sealed {
            login: cut(login),
            account: None,
            until: now.plus(PENDING_FOR).0,
            stamp: 0,
            paused_until: Some(pause_end(now, minutes)),
        })
    }

    /// The sign-in a pending token stands for, if it is genuine, not expired, and its password
    /// has not changed since.
    pub async fn check_pending_second_factor(
        &self,
        token: &str,
    ) -> Result<Option<Pending>, IdentityError> {
        let Ok(bytes) = URL_SAFE_NO_PAD.decode(token) else {
            return Ok(None);
        };
        let sealed = STANDARD.encode(bytes);
        let Ok(plain) = crate::secrets::open(&self.pending_key(), "pending", &sealed) else {
            return Ok(None);
        };
        let Ok(body) = serde_json::from_slice::<Sealed>(&plain) else {
            return Ok(None);
        };
        let now = self.clock.now();
        if now.0 >= body.until {
            return Ok(None);
        }
        let account = body.account.map(AccountId);
        if let Some(account) = account
            && self.password_stamp(account).await? != body.stamp
        {
            return Ok(None);
        }
        Ok(Some(Pending {
            login: body.login,
            account,
            paused_minutes: body
                .paused_until
                .map(|until| minutes_until(now, UnixMillis(until))),
        }))
    }

    /// What the second step may be answered with. Through a pause, the same for every
    /// sign-in (a code: the authenticator's or a recovery code), so the page tells nothing;
    /// passkeys wait for the pause to end, as their challenge would name the account's keys.
    pub async fn second_step(&self, p: &Pending) -> Result<SecondStep, IdentityError> {
        match (p.account, p.paused_minutes) {
            (Some(account), None) => Ok(match self.second_factor_state(account).await? {
                SecondFactor::Required {
                    totp,
                    passkeys,
                    recovery_codes,
                } => SecondStep {
                    totp,
                    passkey: passkeys > 0,
                    recovery_code: recovery_codes > 0,
                },
                _ => SecondStep::default(),
            }),
            _ => Ok(SecondStep {
                totp: true,
                passkey: false,
                recovery_code: true,
            }),
        }
    }

    /// The second step of a pending sign-in with a code. One that cannot pass runs the same
    /// checks and counts its failure the same way; it only never succeeds.
    pub async fn verify_pending_code(
        &self,
        p: &Pending,
        code: &str,
        attempt: &SignIn<'_>,
    ) -> Result<bool, IdentityError> {
        match p.account {
            Some(account) => self.verify_second_factor(account, code, attempt).await,
            None => self.second_step_that_cannot_pass(p, attempt).await,
        }
    }

    async fn second_step_that_cannot_pass(
        &self,
        p: &Pending,
        attempt: &SignIn<'_>,
    ) -> Result<bool, IdentityError> {
        let mut read = self.store.read().await?;
        let row = match Address::parse(&p.login) {
            Ok(a) => read.find_account_by_address(&a.to_string()).await?,
            Err(_) => None,
        };
        match row {
            Some(row) => {
                // What `verify_second_factor` reads, without spending a code it may be given.
                let _ = read.find_totp(row.id).await?;
                let network = network_of(attempt.source);
                let kind = self.source_kind(&mut read, row.id, &network).await?;
                drop(read);
                // Counted against the network only, as the pause counts a held password: a
                // stranger on a paused network must not lock named accounts with codes.
                if self.may_try_second_factor(attempt, &row).await? {
                    self.record_failure(attempt, Some((&row, kind)), &network, Why::Throttled)
                        .await?;
                }
            }
            None => {
                drop(read);
                let network = network_of(attempt.source);
                self.record_failure(attempt, None, &network, Why::WrongSecondFactor)
                    .await?;
            }
        }
        Ok(false)
    }

    /// The passkey challenge for a pending sign-in's second step; none through a pause (see
    /// `second_step`), for an account without passkeys, or while it is locked.
    pub async fn begin_pending_passkey(
        &self,
        p: &Pending,
        attempt: &SignIn<'_>,
    ) -> Result<Option<crate::PasskeyChallenge<RequestChallengeResponse>>, IdentityError> {
        match (p.account, p.paused_minutes) {
            (Some(account), None) => self.begin_passkey_sign_in(account, attempt).await,
            _ => Ok(None),
        }
    }

    /// The second step of a pending sign-in with a passkey's answer.
    pub async fn verify_pending_passkey(
        &self,
        p: &Pending,
        ceremony: &str,
        credential: &PublicKeyCredential,
        attempt: &SignIn<'_>,
    ) -> Result<bool, IdentityError> {
        match (p.account, p.paused_minutes) {
            (Some(account), None) => {
                self.verify_passkey_second_factor(account, ceremony, credential, attempt)
                    .await
            }
            // No challenge was given (see `begin_pending_passkey`): like an answer to a
            // challenge that does not exist, it fails without counting as a guess.
            _ => Ok(false),
        }
    }
}
