//! Change notices between nodes that share a PostgreSQL store (IMAP IDLE on one node must hear
//! of a delivery made by another): `pg_notify` inside the transaction of the change, so a
//! notice is sent only if the change committed, and `LISTEN` on a connection of its own.
//! SQLite serves one node, whose notices stay in-process; there these do nothing.

use crate::{Backend, Store, StoreError, Tx};
use sqlx::postgres::PgListener;

/// The channel mail changes are announced on.
const MAIL_CHANNEL: &str = "carepost_mail";

impl Tx {
    /// Announces `payload` to the other nodes when this transaction commits.
    pub async fn notify_mail_change(&mut self, payload: &str) -> Result<(), StoreError> {
        if self.backend() == Backend::Postgres {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(MAIL_CHANNEL)
                .bind(payload)
                .execute(self.conn())
                .await?;
        }
        Ok(())
    }
}

/// Notices from every node, this one included.
#[derive(Debug)]
pub struct ChangeListener(PgListener);

impl Store {
    /// A listener for mail changes, or `None` on SQLite.
    pub async fn listen_mail_changes(&self) -> Result<Option<ChangeListener>, StoreError> {
        if self.backend != Backend::Postgres {
            return Ok(None);
        }
        let mut l = PgListener::connect(&self.url).await?;
        l.listen(MAIL_CHANNEL).await?;
        Ok(Some(ChangeListener(l)))
    }
}

impl ChangeListener {
    /// The next notice's payload. A lost connection is re-established by sqlx; notices sent
    /// meanwhile are missed, which IDLE sessions survive by re-reading their mailbox.
    pub async fn recv(&mut self) -> Result<String, StoreError> {
        Ok(self.0.recv().await?.payload().to_string())
    }
}
