//! Passkeys (WebAuthn credentials), the ceremonies waiting for a browser's answer, and the
//! start of each account's MFA enrollment grace. The credential itself is opaque text here
//! (the identity crate serializes it); this module only guarantees that a credential id has
//! one owner, that a ceremony is answered at most once, and that a signature counter never
//! moves back.

use crate::rows::all;
use crate::{StoreError, Tx};
use carepost_types::{AccountId, UnixMillis};
use sqlx::Row;
use sqlx::any::AnyRow;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyRow {
    pub id: i64,
    pub account_id: AccountId,
    pub name: String,
    /// base64url of the WebAuthn credential id.
    pub credential_id: String,
    /// The verified credential (public key, counter, flags), serialized by the caller.
    pub credential: String,
    pub sign_count: i64,
    pub created_at: UnixMillis,
    pub last_used_at: Option<UnixMillis>,
    pub last_used_source: Option<String>,
}

impl PasskeyRow {
    fn from_row(r: &AnyRow) -> sqlx::Result<PasskeyRow> {
        Ok(PasskeyRow {
            id: r.try_get("id")?,
            account_id: AccountId(r.try_get("account_id")?),
            name: r.try_get("name")?,
            credential_id: r.try_get("credential_id")?,
            credential: r.try_get("credential")?,
            sign_count: r.try_get("sign_count")?,
            created_at: UnixMillis(r.try_get("created_at")?),
            last_used_at: r.try_get::<Option<i64>, _>("last_used_at")?.map(UnixMillis),
            last_used_source: r.try_get("last_used_source")?,
        })
    }
}

/// A ceremony in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CeremonyRow {
    pub id: String,
    pub account_id: AccountId,
    /// `register` or `sign-in`.
    pub purpose: String,
    pub state: String,
    pub expires_at: UnixMillis,
}

const PASSKEY_COLUMNS: &str = "SELECT id, account_id, name, credential_id, credential, sign_count, \
     created_at, last_used_at, last_used_source FROM passkeys";

#[allow(async_fn_in_trait)] // Used through the concrete `Tx`, whose futures are `Send`.
pub trait PasskeyRepo {
    /// Adds a credential; `None` if its credential id is registered already (to anyone).
    async fn insert_passkey(&mut self, row: &PasskeyRow) -> Result<Option<i64>, StoreError>;
    async fn list_passkeys(&mut self, account: AccountId) -> Result<Vec<PasskeyRow>, StoreError>;
    async fn count_passkeys(&mut self, account: AccountId) -> Result<i64, StoreError>;
    /// Records a use. With a new credential state, it is stored only if its counter is above
    /// the stored one (or both are zero, for keys without a counter); false if it was not,
    /// which means another use with a later counter came first (a cloned key), and then
    /// nothing is recorded.
    async fn record_passkey_use(
        &mut self,
        id: i64,
        credential: Option<(&str, i64)>,
        at: UnixMillis,
        source: Option<&str>,
    ) -> Result<bool, StoreError>;
    /// Removes one of the account's passkeys; false if it has no such passkey.
    async fn delete_passkey(&mut self, account: AccountId, id: i64) -> Result<bool, StoreError>;
    async fn delete_passkeys(&mut self, account: AccountId) -> Result<u64, StoreError>;

    /// Stores a ceremony, dropping every expired one and any earlier one of the account for
    /// the same purpose (one at a time: the rows stay bounded).
    async fn insert_ceremony(
        &mut self,
        row: &CeremonyRow,
        now: UnixMillis,
    ) -> Result<(), StoreError>;
    /// Takes (deletes and returns) the account's unexpired ceremony `id` for `purpose`.
    async fn take_ceremony(
        &mut self,
        id: &str,
        account: AccountId,
        purpose: &str,
        now: UnixMillis,
    ) -> Result<Option<CeremonyRow>, StoreError>;

    async fn find_mfa_grace(
        &mut self,
        account: AccountId,
    ) -> Result<Option<UnixMillis>, StoreError>;
    /// Forgets the account's ceremonies in progress (its factors or password were reset).
    async fn delete_ceremonies(&mut self, account: AccountId) -> Result<(), StoreError>;
    /// When the account's enrollment grace started, starting it at `now` if it had not.
    async fn start_mfa_grace(
        &mut self,
        account: AccountId,
        now: UnixMillis,
    ) -> Result<UnixMillis, StoreError>;
}

impl PasskeyRepo for Tx {
    async fn insert_passkey(&mut self, row: &PasskeyRow) -> Result<Option<i64>, StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO passkeys (account_id, name, credential_id, credential, sign_count, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (credential_id) DO NOTHING RETURNING id",
        )
        .bind(row.account_id.0)
        .bind(&row.name)
        .bind(&row.credential_id)
        .bind(&row.credential)
        .bind(row.sign_count)
        .bind(row.created_at.0)
        .fetch_optional(self.write()?)
        .await?;
        Ok(inserted.map(|r| r.try_get("id")).transpose()?)
    }

    async fn list_passkeys(&mut self, account: AccountId) -> Result<Vec<PasskeyRow>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{PASSKEY_COLUMNS} WHERE account_id = $1 ORDER BY id"
        ));
        let rows = sqlx::query(sql)
            .bind(account.0)
            .fetch_all(self.conn())
            .await?;
        all(&rows, PasskeyRow::from_row)
    }

    async fn count_passkeys(&mut self, account: AccountId) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM passkeys WHERE account_id = $1")
            .bind(account.0)
            .fetch_one(self.conn())
            .await?;
        Ok(row.try_get("n")?)
    }

    async fn record_passkey_use(
        &mut self,
        id: i64,
        credential: Option<(&str, i64)>,
        at: UnixMillis,
        source: Option<&str>,
    ) -> Result<bool, StoreError> {
        if let Some((credential, count)) = credential {
            let done = sqlx::query(
                "UPDATE passkeys SET credential = $2, sign_count = $3 \
                 WHERE id = $1 AND (sign_count < $3 OR (sign_count = 0 AND $3 = 0))",
            )
            .bind(id)
            .bind(credential)
            .bind(count)
            .execute(self.write()?)
            .await?;
            if done.rows_affected() != 1 {
                return Ok(false);
            }
        }
        sqlx::query("UPDATE passkeys SET last_used_at = $2, last_used_source = $3 WHERE id = $1")
            .bind(id)
            .bind(at.0)
            .bind(source)
            .execute(self.write()?)
            .await?;
        Ok(true)
    }

    async fn delete_passkey(&mut self, account: AccountId, id: i64) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM passkeys WHERE account_id = $1 AND id = $2")
            .bind(account.0)
            .bind(id)
            .execute(self.write()?)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_passkeys(&mut self, account: AccountId) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM passkeys WHERE account_id = $1")
            .bind(account.0)
            .execute(self.write()?)
            .await?;
        Ok(done.rows_affected())
    }

    async fn insert_ceremony(
        &mut self,
        row: &CeremonyRow,
        now: UnixMillis,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "DELETE FROM webauthn_ceremonies WHERE expires_at <= $1 \
             OR (account_id = $2 AND purpose = $3)",
        )
        .bind(now.0)
        .bind(row.account_id.0)
        .bind(&row.purpose)
        .execute(self.write()?)
        .await?;
        sqlx::query(
            "INSERT INTO webauthn_ceremonies (id, account_id, purpose, state, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&row.id)
        .bind(row.account_id.0)
        .bind(&row.purpose)
        .bind(&row.state)
        .bind(row.expires_at.0)
        .execute(self.write()?)
        .await?;
        Ok(())
    }

    async fn take_ceremony(
        &mut self,
        id: &str,
        account: AccountId,
        purpose: &str,
        now: UnixMillis,
    ) -> Result<Option<CeremonyRow>, StoreError> {
        let row = sqlx::query(
            "DELETE FROM webauthn_ceremonies WHERE id = $1 AND account_id = $2 AND purpose = $3 \
             RETURNING id, account_id, purpose, state, expires_at",
        )
        .bind(id)
        .bind(account.0)
        .bind(purpose)
        .fetch_optional(self.write()?)
        .await?;
        let Some(r) = row else { return Ok(None) };
        let row = CeremonyRow {
            id: r.try_get("id")?,
            account_id: AccountId(r.try_get("account_id")?),
            purpose: r.try_get("purpose")?,
            state: r.try_get("state")?,
            expires_at: UnixMillis(r.try_get("expires_at")?),
        };
        Ok((row.expires_at > now).then_some(row))
    }

    async fn delete_ceremonies(&mut self, account: AccountId) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM webauthn_ceremonies WHERE account_id = $1")
            .bind(account.0)
            .execute(self.write()?)
            .await?;
        Ok(())
    }

    async fn find_mfa_grace(
        &mut self,
        account: AccountId,
    ) -> Result<Option<UnixMillis>, StoreError> {
        let row = sqlx::query("SELECT started_at FROM mfa_grace WHERE account_id = $1")
            .bind(account.0)
            .fetch_optional(self.conn())
            .await?;
        Ok(row
            .map(|r| r.try_get("started_at"))
            .transpose()?
            .map(UnixMillis))
    }

    async fn start_mfa_grace(
        &mut self,
        account: AccountId,
        now: UnixMillis,
    ) -> Result<UnixMillis, StoreError> {
        sqlx::query(
            "INSERT INTO mfa_grace (account_id, started_at) VALUES ($1, $2) \
             ON CONFLICT (account_id) DO NOTHING",
        )
        .bind(account.0)
        .bind(now.0)
        .execute(self.write()?)
        .await?;
        let row = sqlx::query("SELECT started_at FROM mfa_grace WHERE account_id = $1")
            .bind(account.0)
            .fetch_one(self.conn())
            .await?;
        Ok(UnixMillis(row.try_get("started_at")?))
    }
}
