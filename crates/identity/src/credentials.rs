//! Passwords of accounts: set by an administrator, reset to a one-time temporary password, or
//! changed by their owner; each checked against the policy and the account's history, and each
//! change audited. A password's state (age, expiry, forced change) for the sign-in flows.

use crate::app_passwords::why;
use crate::check_new_password;
use crate::directory::{account_by_address, name_of};
use crate::password::one_time_password;
use crate::{Actor, Directory, IdentityError, PasswordContext, Permission, PolicyViolation};
use carepost_audit::action;
use carepost_store::{
    AccountRow, AuditRepo, AuthRepo, CredentialRepo, DirectoryRepo, PasskeyRepo, PasswordRow, Tx,
};
use carepost_types::{AccountId, UnixMillis};
use serde::Serialize;
use serde_json::json;

/// Where an account's password stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PasswordState {
    pub has_password: bool,
    pub changed_at: Option<String>,
    /// A temporary or expired password: it must be changed at the next sign-in.
    pub must_change: bool,
    pub expires_at: Option<String>,
    pub expired: bool,
    /// Within the warning period before expiry.
    pub expires_soon: bool,
}

/// Who chose a password being stored: the minimum age protects only the owner's own choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    Owner,
    /// A one-time password that must be changed at the next sign-in.
    Temporary,
    /// Set by an administrator: usable as it is, and replaceable by its owner at once.
    Administrator,
}

impl Directory {
    /// An administrator sets a password. The whole policy applies except the minimum age.
    pub async fn set_password(
        &self,
        actor: &Actor,
        address: &str,
        password: &str,
    ) -> Result<(), IdentityError> {
        self.require(
            actor,
            Permission::ManageAccounts,
            &format!("account:{address}"),
        )
        .await?;
        let row = account_by_address(&mut self.store.read().await?, address).await?;
        self.check_password(&row, password).await?;
        let hash = self.hasher.hash(&*self.rng, password).await?;
        let mut tx = self.store.begin().await?;
        self.store_password(&mut tx, row.id, &hash, Origin::Administrator)
            .await?;
        let (sessions, app_passwords) = self
            .after_password_change(&mut tx, row.id, None, why::PASSWORD_SET)
            .await?;
        let app_passwords = app_passwords.len();
        let event = self
            .audit(
                actor,
                action::PASSWORD_SET,
                format!("account:{}", row.primary_address),
            )
            .with_details(
                json!({ "sessions_ended": sessions, "app_passwords_revoked": app_passwords }),
            );
        tx.append_audit(&event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Replaces the password by a one-time temporary one that must be changed at the next
    /// sign-in, and returns it (it is stored only hashed).
    pub async fn reset_password(
        &self,
        actor: &Actor,
        address: &str,
    ) -> Result<String, IdentityError> {
        self.require(
            actor,
            Permission::ManageAccounts,
            &format!("account:{address}"),
        )
        .await?;
        let row = account_by_address(&mut self.store.read().await?, address).await?;
        self.reset_to_temporary(actor, &row, json!({ "by": "administrator" }))
            .await
    }

    /// Replaces the password with a one-time temporary one (change forced at the next
    /// sign-in), ends sessions, revokes app passwords per policy; audited with `how`.
    pub(crate) async fn reset_to_temporary(
        &self,
        actor: &Actor,
        row: &AccountRow,
        how: serde_json::Value,
    ) -> Result<String, IdentityError> {
        let temporary = one_time_password(&*self.rng);
        let hash = self.hasher.hash(&*self.rng, &temporary).await?;
        let mut tx = self.store.begin().await?;
        self.store_password(&mut tx, row.id, &hash, Origin::Temporary)
            .await?;
        // A passkey registration begun before the reset cannot be finished after it.
        tx.delete_ceremonies(row.id).await?;
        let (sessions, app_passwords) = self
            .after_password_change(&mut tx, row.id, None, why::PASSWORD_RESET)
            .await?;
        let app_passwords = app_passwords.len();
        let event = self
            .audit(
                actor,
                action::PASSWORD_RESET,
                format!("account:{}", row.primary_address),
            )
            .with_details(json!({
                "must_change": true,
                "sessions_ended": sessions,
                "app_passwords_revoked": app_passwords,
                "how": how,
            }));
        tx.append_audit(&event).await?;
        tx.commit().await?;
        Ok(temporary)
    }

    /// The owner changes their password, proving the current one. The minimum age applies
    /// only to a password the owner chose: never to leaving a temporary one or one an
    /// administrator set (the owner was never meant to keep it).
    /// Returns the labels of the app passwords the change revoked (the page that confirms
    /// it names them: those mail apps stop until they get new ones).
    pub async fn change_own_password(
        &self,
        account: AccountId,
        current: &str,
        new: &str,
        source: Option<std::net::IpAddr>,
        keep_session: Option<i64>,
    ) -> Result<Vec<String>, IdentityError> {
        let mut read = self.store.read().await?;
        let row = read
            .find_account(account)
            .await?
            .ok_or_else(|| IdentityError::NotFound(format!("no account {account}")))?;
        let stored = read.find_password(account).await?;
        drop(read);
        let refused = || IdentityError::Invalid("the current password is not right".into());
        let Some(stored) = stored else {
            return Err(refused());
        };
        if !self.hasher.verify(current, &stored.password_hash).await?.ok {
            self.wrong_current_password(&row, source).await?;
            return Err(refused());
        }
        let now = self.clock.now();
        let earliest = stored.changed_at.plus(self.config().password.min_age);
        if !stored.must_change && !stored.set_by_admin && now < earliest {
            return Err(IdentityError::PasswordRejected(vec![
                PolicyViolation::TooSoon {
                    until: earliest.to_rfc3339(),
                },
            ]));
        }
        self.check_password(&row, new).await?;
        let hash = self.hasher.hash(&*self.rng, new).await?;
        self.replace_own_password(&row, &hash, keep_session, source, action::PASSWORD_CHANGE)
            .await
    }

    /// Stores the owner's new password hash, ends the other sessions and (per policy) the app
    /// passwords, and audits `act`, in one transaction.
    async fn replace_own_password(
        &self,
        row: &AccountRow,
        hash: &str,
        keep_session: Option<i64>,
        source: Option<std::net::IpAddr>,
        act: &'static str,
    ) -> Result<Vec<String>, IdentityError> {
        let mut tx = self.store.begin().await?;
        self.store_password(&mut tx, row.id, hash, Origin::Owner)
            .await?;
        let why = match act {
            action::PASSWORD_RECOVER => why::PASSWORD_RECOVERED,
            _ => why::PASSWORD_CHANGED,
        };
        let (sessions, revoked) = self
            .after_password_change(&mut tx, row.id, keep_session, why)
            .await?;
        let app_passwords = revoked.len();
        let mut event = self
            .audit(
                &Actor::account(row.id, &row.primary_address),
                act,
                format!("account:{}", row.primary_address),
            )
            .with_details(
                json!({ "sessions_ended": sessions, "app_passwords_revoked": app_passwords }),
            );
        event.source = source.map(|ip| ip.to_string());
        tx.append_audit(&event).await?;
        tx.commit().await?;
        Ok(revoked)
    }

    /// The policy, then the history: the current password and the last `history` ones.
    /// What the policy says of a candidate password, for live feedback while it is typed:
    /// every rule but the history (which would cost a hash per earlier password per
    /// keystroke; it is checked when the password is set).
    pub async fn password_problems(
        &self,
        account: AccountId,
        candidate: &str,
    ) -> Result<Vec<PolicyViolation>, IdentityError> {
        let row = self.account_row(account).await?;
        let policy = &self.config().password;
        if candidate.chars().count() > policy.max_length {
            return Ok(vec![PolicyViolation::TooLong {
                max: policy.max_length,
            }]);
        }
        Ok(check_new_password(policy, candidate, &context_of(&row)))
    }

    pub(crate) async fn check_password(
        &self,
        row: &AccountRow,
        password: &str,
    ) -> Result<(), IdentityError> {
        let ctx = context_of(row);
        // One reading of the policy for the whole check, though it may change meanwhile.
        let config = self.config();
        let policy = &config.password;
        let mut violations = check_new_password(policy, password, &ctx);
        if violations.is_empty() && policy.history > 0 {
            let mut read = self.store.read().await?;
            let mut earlier = read
                .recent_password_hashes(row.id, policy.history.saturating_sub(1))
                .await?;
            if let Some(current) = read.find_password(row.id).await? {
                earlier.insert(0, current.password_hash);
            }
            drop(read);
            for hash in earlier {
                if self.hasher.verify(password, &hash).await?.ok {
                    violations.push(PolicyViolation::Reused {
                        history: policy.history,
                    });
                    break;
                }
            }
        }
        match violations.is_empty() {
            true => Ok(()),
            false => Err(IdentityError::PasswordRejected(violations)),
        }
    }

    /// Writes a new password hash, keeping the old one in the history.
    async fn store_password(
        &self,
        tx: &mut Tx,
        account: AccountId,
        hash: &str,
        origin: Origin,
    ) -> Result<(), IdentityError> {
        let now = self.clock.now();
        if let Some(old) = tx.find_password(account).await? {
            tx.push_password_history(account, &old.password_hash, old.changed_at)
                .await?;
        }
        let must_change = origin == Origin::Temporary;
        let by_admin = origin == Origin::Administrator;
        tx.upsert_password(account, hash, must_change, by_admin, now)
            .await?;
        // Any password ends an unused first-sign-in invitation: a slip found later opens nothing.
        use carepost_store::InvitationRepo;
        tx.revoke_invitations(account, now).await?;
        Ok(())
    }

    /// A first password its owner chose (through an invitation): no temporary, no admin mark.
    pub(crate) async fn store_first_password(
        &self,
        tx: &mut Tx,
        account: AccountId,
        hash: &str,
    ) -> Result<(), IdentityError> {
        self.store_password(tx, account, hash, Origin::Owner).await
    }

    /// Where a password stands now.
    pub(crate) fn password_state(&self, row: Option<&PasswordRow>) -> PasswordState {
        let now = self.clock.now();
        let Some(p) = row else {
            return PasswordState {
                has_password: false,
                changed_at: None,
                must_change: false,
                expires_at: None,
                expired: false,
                expires_soon: false,
            };
        };
        let expires_at = self.config().password.max_age.map(|a| p.changed_at.plus(a));
        let expired = expires_at.is_some_and(|t| t <= now);
        let warn_from: Option<UnixMillis> = expires_at.map(|t| {
            UnixMillis(t.0.saturating_sub(self.config().password.warn_before.as_millis() as i64))
        });
        PasswordState {
            has_password: true,
            changed_at: Some(p.changed_at.to_rfc3339()),
            must_change: p.must_change || expired,
            expires_at: expires_at.map(UnixMillis::to_rfc3339),
            expired,
            expires_soon: !expired && warn_from.is_some_and(|t| t <= now),
        }
    }

    /// The password state of an account, for administrators.
    pub async fn password_status(
        &self,
        actor: &Actor,
        address: &str,
    ) -> Result<PasswordState, IdentityError> {
        self.require(
            actor,
            Permission::ReadDirectory,
            &format!("account:{address}"),
        )
        .await?;
        let mut tx = self.store.read().await?;
        let row = account_by_address(&mut tx, address).await?;
        let pw = tx.find_password(row.id).await?;
        Ok(self.password_state(pw.as_ref()))
    }
}

impl Directory {
    /// The owner proves their password again before a sensitive change (new app password,
    /// authenticator, recovery codes). A wrong one counts like a failed sign-in.
    pub async fn confirm_password(
        &self,
        account: AccountId,
        password: &str,
        source: Option<std::net::IpAddr>,
    ) -> Result<bool, IdentityError> {
        let mut read = self.store.read().await?;
        let row = read
            .find_account(account)
            .await?
            .ok_or_else(|| IdentityError::NotFound(format!("no account {account}")))?;
        let stored = read.find_password(account).await?;
        drop(read);
        let ok = match stored {
            Some(p) => self.hasher.verify(password, &p.password_hash).await?.ok,
            None => false,
        };
        if !ok {
            self.wrong_current_password(&row, source).await?;
        }
        Ok(ok)
    }

    /// Where the owner's own password stands.
    pub async fn own_password_state(
        &self,
        account: AccountId,
    ) -> Result<PasswordState, IdentityError> {
        let pw = self.store.read().await?.find_password(account).await?;
        Ok(self.password_state(pw.as_ref()))
    }

    /// The owner's own account, as the portal shows it.
    pub async fn own_account(&self, account: AccountId) -> Result<crate::Account, IdentityError> {
        self.account_by_id(account).await
    }

    /// Whether a session opened with `credential` may go on: the account is active; an app
    /// password is still in force (not revoked, not expired); a password is still the one
    /// verified (`password_stamp`, from `SignedIn`: its set time equals the stored one's, so a
    /// sign-in racing a reset cannot outlive it). A mail app's open connection asks this from
    /// time to time, so that revoking a lost phone's app password, or resetting a stolen
    /// password, also ends the sessions opened with it. A mail session opened with the
    /// password also ends once that password expires, or once the account has a second factor
    /// (or an overdue enrollment): from then on only an app password opens mail.
    pub async fn credential_in_force(
        &self,
        account: AccountId,
        credential: &crate::Credential,
        password_stamp: Option<UnixMillis>,
    ) -> Result<bool, IdentityError> {
        let a = match self.account_by_id(account).await {
            Ok(a) => a,
            Err(IdentityError::NotFound(_)) => return Ok(false),
            Err(e) => return Err(e),
        };
        if a.status != crate::AccountStatus::Active {
            return Ok(false);
        }
        let now = self.clock.now();
        let mut tx = self.store.read().await?;
        Ok(match credential {
            crate::Credential::Password => {
                let p = tx.find_password(account).await?;
                drop(tx);
                let same = p
                    .as_ref()
                    .is_some_and(|p| Some(p.changed_at) == password_stamp);
                if !same || self.password_state(p.as_ref()).must_change {
                    return Ok(false);
                }
                let row = self.account_row(account).await?;
                matches!(
                    self.second_factor(&row, now).await?,
                    crate::SecondFactor::NotRequired
                        | crate::SecondFactor::EnrollmentRequired { overdue: false, .. }
                )
            }
            crate::Credential::AppPassword(id) => {
                tx.list_app_passwords(account).await?.iter().any(|p| {
                    p.id == *id && p.revoked_at.is_none() && p.expires_at.is_none_or(|e| e > now)
                })
            }
            crate::Credential::Grant(id) => {
                use carepost_store::OidcRepo;
                tx.find_oidc_grant(*id).await?.is_some_and(|g| {
                    g.account_id == Some(account) && g.revoked_at.is_none() && g.expires_at > now
                })
            }
        })
    }

    /// A new password after a recovery proof: the policy and history apply, the minimum age
    /// does not (the person forgot the old one).
    pub(crate) async fn set_recovered_password(
        &self,
        row: &AccountRow,
        password: &str,
        source: Option<std::net::IpAddr>,
    ) -> Result<Vec<String>, IdentityError> {
        let hash = self.hasher.hash(&*self.rng, password).await?;
        self.replace_own_password(row, &hash, None, source, action::PASSWORD_RECOVER)
            .await
    }
}

/// What a password may not contain, for this account.
fn context_of(row: &AccountRow) -> PasswordContext {
    let name = name_of(row);
    PasswordContext {
        names: [
            Some(name.first),
            name.middle,
            Some(name.last),
            name.preferred,
        ]
        .into_iter()
        .flatten()
        .collect(),
        address_local_part: row
            .primary_address
            .split('@')
            .next()
            .unwrap_or_default()
            .to_string(),
        employee_id: row.employee_id.clone(),
    }
}
