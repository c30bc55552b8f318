//! Authentication state: password history, lockout counters, familiar sources, per-source
//! failure counts, TOTP seeds (sealed by the caller), recovery codes and app passwords (hashes
//! only). Statements that guard against replay or double use change a row only if it is still
//! unused, and report whether they did, so two nodes can never both accept the same secret.

use crate::rows::all;
use crate::{StoreError, Tx};
use carepost_types::{AccountId, UnixMillis};
use sqlx::Row;
use sqlx::any::AnyRow;

/// Consecutive failures for one account and one kind of source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LockoutRow {
    pub failures: i64,
    /// How many times the account has been locked since its last success (for the backoff).
    pub locks: i64,
    pub locked_until: Option<UnixMillis>,
    pub last_failure_at: Option<UnixMillis>,
    /// Authenticator codes tried to unlock the account during the current lock.
    pub unlock_tries: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpRow {
    pub secret_sealed: String,
    pub confirmed_at: Option<UnixMillis>,
    pub last_step: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppPasswordRow {
    pub id: i64,
    pub account_id: AccountId,
    pub label: String,
    /// Comma-separated protocols: imap, smtp, caldav.
    pub scopes: String,
    pub created_at: UnixMillis,
    pub expires_at: Option<UnixMillis>,
    pub last_used_at: Option<UnixMillis>,
    pub last_used_source: Option<String>,
    pub revoked_at: Option<UnixMillis>,
    /// Why, in words for the owner.
    pub revoke_reason: Option<String>,
}

fn millis(r: &AnyRow, col: &str) -> sqlx::Result<Option<UnixMillis>> {
    Ok(r.try_get::<Option<i64>, _>(col)?.map(UnixMillis))
}

impl AppPasswordRow {
    fn from_row(r: &AnyRow) -> sqlx::Result<AppPasswordRow> {
        Ok(AppPasswordRow {
            id: r.try_get("id")?,
            account_id: AccountId(r.try_get("account_id")?),
            label: r.try_get("label")?,
            scopes: r.try_get("scopes")?,
            created_at: UnixMillis(r.try_get("created_at")?),
            expires_at: millis(r, "expires_at")?,
            last_used_at: millis(r, "last_used_at")?,
            last_used_source: r.try_get("last_used_source")?,
            revoked_at: millis(r, "revoked_at")?,
            revoke_reason: r.try_get("revoke_reason")?,
        })
    }
}

const APP_PASSWORD_COLUMNS: &str = "SELECT id, account_id, label, scopes, created_at, expires_at, \
    last_used_at, last_used_source, revoked_at, revoke_reason FROM app_passwords";

#[allow(async_fn_in_trait)] // Used through the concrete `Tx`, whose futures are `Send`.
pub trait AuthRepo {
    async fn push_password_history(
        &mut self,
        account: AccountId,
        hash: &str,
        at: UnixMillis,
    ) -> Result<(), StoreError>;
    /// The account's latest `n` earlier password hashes, newest first.
    async fn recent_password_hashes(
        &mut self,
        account: AccountId,
        n: usize,
    ) -> Result<Vec<String>, StoreError>;

    async fn find_lockout(
        &mut self,
        account: AccountId,
        kind: &str,
    ) -> Result<LockoutRow, StoreError>;
    async fn save_lockout(
        &mut self,
        account: AccountId,
        kind: &str,
        row: &LockoutRow,
    ) -> Result<(), StoreError>;
    /// Forgets all failures and locks of an account.
    async fn clear_lockouts(&mut self, account: AccountId) -> Result<(), StoreError>;
    /// Takes one of the `max` authenticator codes a lock allows, atomically (parallel
    /// attempts cannot all take the last one). False if this side is not locked at `now` or
    /// its tries are spent.
    async fn take_unlock_try(
        &mut self,
        account: AccountId,
        kind: &str,
        now: UnixMillis,
        max: i64,
    ) -> Result<bool, StoreError>;
    /// Whether the account signed in successfully from `network` since `since`.
    async fn is_familiar_source(
        &mut self,
        account: AccountId,
        network: &str,
        since: UnixMillis,
    ) -> Result<bool, StoreError>;
    async fn remember_source(
        &mut self,
        account: AccountId,
        network: &str,
        at: UnixMillis,
    ) -> Result<(), StoreError>;
    async fn find_totp(&mut self, account: AccountId) -> Result<Option<TotpRow>, StoreError>;
    /// Starts an enrollment (unconfirmed), replacing any earlier seed.
    async fn put_totp(
        &mut self,
        account: AccountId,
        sealed: &str,
        at: UnixMillis,
    ) -> Result<(), StoreError>;
    async fn confirm_totp(&mut self, account: AccountId, at: UnixMillis) -> Result<(), StoreError>;
    /// Records time step `step` as used if it is later than any used before; false if not,
    /// which is a replay.
    async fn use_totp_step(&mut self, account: AccountId, step: i64) -> Result<bool, StoreError>;
    async fn delete_totp(&mut self, account: AccountId) -> Result<(), StoreError>;

    async fn replace_recovery_codes(
        &mut self,
        account: AccountId,
        hashes: &[String],
        at: UnixMillis,
    ) -> Result<(), StoreError>;
    /// Marks an unused code used; false if there is no such unused code.
    async fn use_recovery_code(
        &mut self,
        account: AccountId,
        hash: &str,
        at: UnixMillis,
    ) -> Result<bool, StoreError>;
    async fn count_unused_recovery_codes(&mut self, account: AccountId) -> Result<i64, StoreError>;
    /// Whether an unused code with this hash exists (without spending it).
    async fn has_unused_recovery_code(
        &mut self,
        account: AccountId,
        hash: &str,
    ) -> Result<bool, StoreError>;

    async fn insert_app_password(
        &mut self,
        account: AccountId,
        label: &str,
        secret_hash: &str,
        scopes: &str,
        expires_at: Option<UnixMillis>,
        at: UnixMillis,
    ) -> Result<i64, StoreError>;
    async fn find_app_password(
        &mut self,
        secret_hash: &str,
    ) -> Result<Option<AppPasswordRow>, StoreError>;
    async fn list_app_passwords(
        &mut self,
        account: AccountId,
    ) -> Result<Vec<AppPasswordRow>, StoreError>;
    async fn touch_app_password(
        &mut self,
        id: i64,
        at: UnixMillis,
        source: Option<&str>,
    ) -> Result<(), StoreError>;
    /// Revokes one (`Some(id)`) or all of an account's app passwords; returns how many.
    /// Accounts locked (on either kind of source) at `now`.
    async fn count_locked_accounts(&mut self, now: UnixMillis) -> Result<i64, StoreError>;
    /// Revokes one app password (`id`) or all, saying why (`reason`, for the owner).
    async fn revoke_app_passwords(
        &mut self,
        account: AccountId,
        id: Option<i64>,
        at: UnixMillis,
        reason: &str,
    ) -> Result<u64, StoreError>;
}

impl AuthRepo for Tx {
    async fn push_password_history(
        &mut self,
        account: AccountId,
        hash: &str,
        at: UnixMillis,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO password_history (account_id, password_hash, changed_at) VALUES ($1, $2, $3)",
        )
        .bind(account.0)
        .bind(hash)
        .bind(at.0)
        .execute(self.write()?)
        .await?;
        Ok(())
    }

    async fn recent_password_hashes(
        &mut self,
        account: AccountId,
        n: usize,
    ) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT password_hash FROM password_history WHERE account_id = $1 \
             ORDER BY changed_at DESC LIMIT $2",
        )
        .bind(account.0)
        .bind(i64::try_from(n).unwrap_or(i64::MAX))
        .fetch_all(self.conn())
        .await?;
        all(&rows, |r| r.try_get("password_hash"))
    }

    async fn find_lockout(
        &mut self,
        account: AccountId,
        kind: &str,
    ) -> Result<LockoutRow, StoreError> {
        let row = sqlx::query(
            "SELECT failures, locks, locked_until, last_failure_at, unlock_tries FROM lockouts \
             WHERE account_id = $1 AND source_kind = $2",
        )
        .bind(account.0)
        .bind(kind)
        .fetch_optional(self.conn())
        .await?;
        let Some(r) = row else {
            return Ok(LockoutRow::default());
        };
        Ok(LockoutRow {
            failures: r.try_get("failures")?,
            locks: r.try_get("locks")?,
            locked_until: millis(&r, "locked_until")?,
            last_failure_at: millis(&r, "last_failure_at")?,
            unlock_tries: r.try_get("unlock_tries")?,
        })
    }

    async fn save_lockout(
        &mut self,
        account: AccountId,
        kind: &str,
        row: &LockoutRow,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO lockouts (account_id, source_kind, failures, locks, locked_until, \
             last_failure_at, unlock_tries) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (account_id, source_kind) DO UPDATE SET \
             failures = excluded.failures, locks = excluded.locks, \
             locked_until = excluded.locked_until, last_failure_at = excluded.last_failure_at, \
             unlock_tries = excluded.unlock_tries",
        )
        .bind(account.0)
        .bind(kind)
        .bind(row.failures)
        .bind(row.locks)
        .bind(row.locked_until.map(|t| t.0))
        .bind(row.last_failure_at.map_or(0, |t| t.0))
        .bind(row.unlock_tries)
        .execute(self.write()?)
        .await?;
        Ok(())
    }

    async fn take_unlock_try(
        &mut self,
        account: AccountId,
        kind: &str,
        now: UnixMillis,
        max: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE lockouts SET unlock_tries = unlock_tries + 1 \
             WHERE account_id = $1 AND source_kind = $2 AND locked_until > $3 AND unlock_tries < $4",
        )
        .bind(account.0)
        .bind(kind)
        .bind(now.0)
        .bind(max)
        .execute(self.write()?)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn clear_lockouts(&mut self, account: AccountId) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM lockouts WHERE account_id = $1")
            .bind(account.0)
            .execute(self.write()?)
            .await?;
        Ok(())
    }

    async fn is_familiar_source(
        &mut self,
        account: AccountId,
        network: &str,
        since: UnixMillis,
    ) -> Result<bool, StoreError> {
        let row = sqlx::query(
            "SELECT 1 AS known FROM familiar_sources \
             WHERE account_id = $1 AND network = $2 AND last_success_at >= $3",
        )
        .bind(account.0)
        .bind(network)
        .bind(since.0)
        .fetch_optional(self.conn())
        .await?;
        Ok(row.is_some())
    }

    async fn remember_source(
        &mut self,
        account: AccountId,
        network: &str,
        at: UnixMillis,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO familiar_sources (account_id, network, last_success_at) VALUES ($1, $2, $3) \
             ON CONFLICT (account_id, network) DO UPDATE SET last_success_at = excluded.last_success_at",
        )
        .bind(account.0)
        .bind(network)
        .bind(at.0)
        .execute(self.write()?)
        .await?;
        Ok(())
    }

    async fn find_totp(&mut self, account: AccountId) -> Result<Option<TotpRow>, StoreError> {
        let row = sqlx::query(
            "SELECT secret_sealed, confirmed_at, last_step FROM totp_secrets WHERE account_id = $1",
        )
        .bind(account.0)
        .fetch_optional(self.conn())
        .await?;
        row.map(|r| {
            Ok(TotpRow {
                secret_sealed: r.try_get("secret_sealed")?,
                confirmed_at: millis(&r, "confirmed_at")?,
                last_step: r.try_get("last_step")?,
            })
        })
        .transpose()
    }

    async fn put_totp(
        &mut self,
        account: AccountId,
        sealed: &str,
        at: UnixMillis,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO totp_secrets (account_id, secret_sealed, confirmed_at, last_step, created_at) \
             VALUES ($1, $2, NULL, 0, $3) ON CONFLICT (account_id) DO UPDATE SET \
             secret_sealed = excluded.secret_sealed, confirmed_at = NULL, last_step = 0, \
             created_at = excluded.created_at",
        )
        .bind(account.0)
        .bind(sealed)
        .bind(at.0)
        .execute(self.write()?)
        .await?;
        Ok(())
    }

    async fn confirm_totp(&mut self, account: AccountId, at: UnixMillis) -> Result<(), StoreError> {
        sqlx::query("UPDATE totp_secrets SET confirmed_at = $2 WHERE account_id = $1")
            .bind(account.0)
            .bind(at.0)
            .execute(self.write()?)
            .await?;
        Ok(())
    }

    async fn use_totp_step(&mut self, account: AccountId, step: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE totp_secrets SET last_step = $2 WHERE account_id = $1 AND last_step < $2",
        )
        .bind(account.0)
        .bind(step)
        .execute(self.write()?)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_totp(&mut self, account: AccountId) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM totp_secrets WHERE account_id = $1")
            .bind(account.0)
            .execute(self.write()?)
            .await?;
        Ok(())
    }

    async fn replace_recovery_codes(
        &mut self,
        account: AccountId,
        hashes: &[String],
        at: UnixMillis,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM recovery_codes WHERE account_id = $1")
            .bind(account.0)
            .execute(self.write()?)
            .await?;
        for h in hashes {
            sqlx::query(
                "INSERT INTO recovery_codes (account_id, code_hash, used_at, created_at) \
                 VALUES ($1, $2, NULL, $3)",
            )
            .bind(account.0)
            .bind(h)
            .bind(at.0)
            .execute(self.write()?)
            .await?;
        }
        Ok(())
    }

    async fn use_recovery_code(
        &mut self,
        account: AccountId,
        hash: &str,
        at: UnixMillis,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE recovery_codes SET used_at = $3 \
             WHERE account_id = $1 AND code_hash = $2 AND used_at IS NULL",
        )
        .bind(account.0)
        .bind(hash)
        .bind(at.0)
        .execute(self.write()?)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn count_unused_recovery_codes(&mut self, account: AccountId) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM recovery_codes WHERE account_id = $1 AND used_at IS NULL",
        )
        .bind(account.0)
        .fetch_one(self.conn())
        .await?;
        Ok(row.try_get("n")?)
    }

    async fn has_unused_recovery_code(
        &mut self,
        account: AccountId,
        hash: &str,
    ) -> Result<bool, StoreError> {
        let row = sqlx::query(
            "SELECT 1 AS found FROM recovery_codes \
             WHERE account_id = $1 AND code_hash = $2 AND used_at IS NULL",
        )
        .bind(account.0)
        .bind(hash)
        .fetch_optional(self.conn())
        .await?;
        Ok(row.is_some())
    }

    async fn insert_app_password(
        &mut self,
        account: AccountId,
        label: &str,
        secret_hash: &str,
        scopes: &str,
        expires_at: Option<UnixMillis>,
        at: UnixMillis,
    ) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "INSERT INTO app_passwords (account_id, label, secret_hash, scopes, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(account.0)
        .bind(label)
        .bind(secret_hash)
        .bind(scopes)
        .bind(at.0)
        .bind(expires_at.map(|t| t.0))
        .fetch_one(self.write()?)
        .await?;
        Ok(row.try_get("id")?)
    }

    async fn find_app_password(
        &mut self,
        secret_hash: &str,
    ) -> Result<Option<AppPasswordRow>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!("{APP_PASSWORD_COLUMNS} WHERE secret_hash = $1"));
        let row = sqlx::query(sql)
            .bind(secret_hash)
            .fetch_optional(self.conn())
            .await?;
        Ok(row.as_ref().map(AppPasswordRow::from_row).transpose()?)
    }

    async fn list_app_passwords(
        &mut self,
        account: AccountId,
    ) -> Result<Vec<AppPasswordRow>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{APP_PASSWORD_COLUMNS} WHERE account_id = $1 ORDER BY created_at, id"
        ));
        let rows = sqlx::query(sql)
            .bind(account.0)
            .fetch_all(self.conn())
            .await?;
        all(&rows, AppPasswordRow::from_row)
    }

    async fn touch_app_password(
        &mut self,
        id: i64,
        at: UnixMillis,
        source: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE app_passwords SET last_used_at = $2, last_used_source = $3 WHERE id = $1",
        )
        .bind(id)
        .bind(at.0)
        .bind(source)
        .execute(self.write()?)
        .await?;
        Ok(())
    }

    async fn count_locked_accounts(&mut self, now: UnixMillis) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(DISTINCT account_id) AS n FROM lockouts WHERE locked_until > $1",
        )
        .bind(now.0)
        .fetch_one(self.conn())
        .await?;
        Ok(row.try_get("n")?)
    }

    async fn revoke_app_passwords(
        &mut self,
        account: AccountId,
        id: Option<i64>,
        at: UnixMillis,
        reason: &str,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE app_passwords SET revoked_at = $3, revoke_reason = $4 WHERE account_id = $1 \
             AND (CAST($2 AS BIGINT) IS NULL OR id = $2) AND revoked_at IS NULL",
        )
        .bind(account.0)
        .bind(id)
        .bind(at.0)
        .bind(reason)
        .execute(self.write()?)
        .await?;
        Ok(done.rows_affected())
    }
}
