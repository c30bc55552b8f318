//! The mail apps each account signs in with (protocol, credential, source), and when each
//! was last seen: what the owner's sessions list shows of mail.

use crate::rows::all;
use crate::{StoreError, Tx};
use carepost_types::{AccountId, UnixMillis};
use sqlx::Row;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailClientRow {
    pub protocol: String,
    /// `password`, `app-password:ID` or `grant:ID`.
    pub credential: String,
    pub source: String,
    pub first_seen: UnixMillis,
    pub last_seen: UnixMillis,
}

#[allow(async_fn_in_trait)] // Used through the concrete `Tx`, whose futures are `Send`.
pub trait MailClientRepo {
    /// Records a mail sign-in.
    async fn saw_mail_client(
        &mut self,
        account: AccountId,
        protocol: &str,
        credential: &str,
        source: &str,
        at: UnixMillis,
    ) -> Result<(), StoreError>;
    /// An account's mail apps seen since `since`, most recent first (at most 50).
    async fn list_mail_clients(
        &mut self,
        account: AccountId,
        since: UnixMillis,
    ) -> Result<Vec<MailClientRow>, StoreError>;
    /// Forgets mail apps not seen since `before` (bookkeeping).
    async fn forget_mail_clients(&mut self, before: UnixMillis) -> Result<u64, StoreError>;
}

impl MailClientRepo for Tx {
    async fn saw_mail_client(
        &mut self,
        account: AccountId,
        protocol: &str,
        credential: &str,
        source: &str,
        at: UnixMillis,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO mail_clients (account_id, protocol, credential, source, first_seen, \
             last_seen) VALUES ($1, $2, $3, $4, $5, $5) \
             ON CONFLICT (account_id, protocol, credential, source) \
             DO UPDATE SET last_seen = excluded.last_seen",
        )
        .bind(account.0)
        .bind(protocol)
        .bind(credential)
        .bind(source)
        .bind(at.0)
        .execute(self.write()?)
        .await?;
        Ok(())
    }

    async fn list_mail_clients(
        &mut self,
        account: AccountId,
        since: UnixMillis,
    ) -> Result<Vec<MailClientRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT protocol, credential, source, first_seen, last_seen FROM mail_clients \
             WHERE account_id = $1 AND last_seen > $2 ORDER BY last_seen DESC LIMIT 50",
        )
        .bind(account.0)
        .bind(since.0)
        .fetch_all(self.conn())
        .await?;
        all(&rows, |r| {
            Ok(MailClientRow {
                protocol: r.try_get("protocol")?,
                credential: r.try_get("credential")?,
                source: r.try_get("source")?,
                first_seen: UnixMillis(r.try_get("first_seen")?),
                last_seen: UnixMillis(r.try_get("last_seen")?),
            })
        })
    }

    async fn forget_mail_clients(&mut self, before: UnixMillis) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM mail_clients WHERE last_seen < $1")
            .bind(before.0)
            .execute(self.write()?)
            .await?;
        Ok(done.rows_affected())
    }
}
