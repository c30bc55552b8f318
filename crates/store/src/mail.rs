//! Rows of the mail store: mailboxes with IMAP's counters (UIDVALIDITY, UIDNEXT,
//! HIGHESTMODSEQ), one row per message copy, shared bodies with a reference count, expunge
//! records and per-account usage. This module knows rows; quotas, flags and who may deliver
//! where are the mail crate's business.

use crate::rows::all;
use crate::{StoreError, Tx};
use carepost_types::{AccountId, UnixMillis};
use sqlx::Row;
use sqlx::any::AnyRow;

/// An address that can receive mail, with its account's status (the directory's word).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientRow {
    pub account_id: AccountId,
    pub status: String,
    pub primary_address: String,
    pub used_bytes: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxRow {
    pub id: i64,
    pub account_id: AccountId,
    pub name: String,
    pub special_use: Option<String>,
    pub uid_validity: i64,
    pub uid_next: i64,
    pub highest_modseq: i64,
    /// Messages from this UID on are \Recent: no session has claimed them yet.
    pub first_recent_uid: i64,
}

impl MailboxRow {
    fn from_row(r: &AnyRow) -> sqlx::Result<MailboxRow> {
        Ok(MailboxRow {
            id: r.try_get("id")?,
            account_id: AccountId(r.try_get("account_id")?),
            name: r.try_get("name")?,
            special_use: r.try_get("special_use")?,
            uid_validity: r.try_get("uid_validity")?,
            uid_next: r.try_get("uid_next")?,
            highest_modseq: r.try_get("highest_modseq")?,
            first_recent_uid: r.try_get("first_recent_uid")?,
        })
    }
}

const MAILBOX_COLUMNS: &str = "SELECT id, account_id, name, special_use, uid_validity, uid_next, \
    highest_modseq, first_recent_uid FROM mailboxes";

/// Bound parameters in one `IN (...)` list (SQLite allows 32,766 in all).
pub const MAX_IDS_PER_QUERY: usize = 500;

const MESSAGE_COLUMNS: &str =
    "SELECT mailbox_id, uid, modseq, blob_id, size, flags, internal_date FROM messages";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRow {
    pub mailbox_id: i64,
    pub uid: i64,
    pub modseq: i64,
    pub blob_id: String,
    pub size: i64,
    /// Space-separated flags and keywords.
    pub flags: String,
    pub internal_date: UnixMillis,
}

impl MessageRow {
    fn from_row(r: &AnyRow) -> sqlx::Result<MessageRow> {
        Ok(MessageRow {
            mailbox_id: r.try_get("mailbox_id")?,
            uid: r.try_get("uid")?,
            modseq: r.try_get("modseq")?,
            blob_id: r.try_get("blob_id")?,
            size: r.try_get("size")?,
            flags: r.try_get("flags")?,
            internal_date: UnixMillis(r.try_get("internal_date")?),
        })
    }
}

/// A body's record: its size, how many messages hold it, the cached summary (JSON), and the
/// sealed bytes themselves when the body is small enough to live in the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobRow {
    pub id: String,
    pub size: i64,
    pub refs: i64,
    pub summary: String,
    pub data: Option<Vec<u8>>,
}

impl crate::Store {
    /// The account an active address (primary or alias) delivers to, with the bytes its mail
    /// takes. One statement outside any transaction: it runs for every RCPT.
    pub async fn find_recipient(&self, address: &str) -> Result<Option<RecipientRow>, StoreError> {
        let row = sqlx::query(
            "SELECT a.id, a.status, a.primary_address, COALESCE(u.bytes, 0) AS used_bytes \
             FROM addresses x JOIN accounts a ON a.id = x.account_id \
             LEFT JOIN mail_usage u ON u.account_id = a.id \
             WHERE x.address = $1 AND x.active = 1",
        )
        .bind(address)
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = row else { return Ok(None) };
        Ok(Some(RecipientRow {
            account_id: AccountId(r.try_get("id")?),
            status: r.try_get("status")?,
            primary_address: r.try_get("primary_address")?,
            used_bytes: r.try_get("used_bytes")?,
        }))
    }
}

#[allow(async_fn_in_trait)] // Used through the concrete `Tx`, whose futures are `Send`.
pub trait MailRepo {
    async fn list_mailboxes(&mut self, account: AccountId) -> Result<Vec<MailboxRow>, StoreError>;
    /// Creates a mailbox unless one of that name exists; returns the mailbox either way.
    async fn ensure_mailbox(
        &mut self,
        account: AccountId,
        name: &str,
        special_use: Option<&str>,
        uid_validity: i64,
        at: UnixMillis,
    ) -> Result<MailboxRow, StoreError>;
    /// Takes the mailbox's next UID and a new modseq for one message: `(uid, modseq)`, or
    /// `None` when the account has no mailbox of that id (any more).
    async fn allocate_uid(
        &mut self,
        mailbox_id: i64,
        account: AccountId,
    ) -> Result<Option<(i64, i64)>, StoreError>;
    async fn insert_message(&mut self, row: &MessageRow) -> Result<(), StoreError>;
    /// Creates a mailbox; `None` when the account has one of that name already.
    async fn create_mailbox(
        &mut self,
        account: AccountId,
        name: &str,
        special_use: Option<&str>,
        uid_validity: i64,
        at: UnixMillis,
    ) -> Result<Option<MailboxRow>, StoreError>;
    async fn find_mailbox(&mut self, mailbox_id: i64) -> Result<Option<MailboxRow>, StoreError>;
    /// Removes an empty mailbox (expunge its messages first) and its expunge records.
    async fn delete_mailbox(&mut self, mailbox_id: i64) -> Result<(), StoreError>;
    async fn rename_mailbox(&mut self, mailbox_id: i64, name: &str) -> Result<(), StoreError>;
    /// Subscribes the account to a name, or unsubscribes it.
    async fn set_subscription(
        &mut self,
        account: AccountId,
        name: &str,
        on: bool,
    ) -> Result<(), StoreError>;
    /// The names the account is subscribed to, existing or not.
    async fn list_subscriptions(&mut self, account: AccountId) -> Result<Vec<String>, StoreError>;
    /// Claims the unclaimed \Recent messages below UID `upto` for one session: returns the
    /// first UID that was unclaimed (the claim is `from..upto`, empty when `from >= upto`), or
    /// `None` when the mailbox is gone.
    async fn claim_recent(
        &mut self,
        mailbox_id: i64,
        account: AccountId,
        upto: i64,
    ) -> Result<Option<i64>, StoreError>;
    /// Sets the flags of messages by UID under one new modseq, which it returns.
    async fn update_flags(
        &mut self,
        mailbox_id: i64,
        changes: &[(i64, String)],
    ) -> Result<i64, StoreError>;
    /// Messages whose modseq is above `modseq` (new or changed), by UID.
    async fn list_messages_since(
        &mut self,
        mailbox_id: i64,
        modseq: i64,
    ) -> Result<Vec<MessageRow>, StoreError>;
    /// UIDs expunged with a modseq above `modseq`, ascending.
    async fn list_expunged_since(
        &mut self,
        mailbox_id: i64,
        modseq: i64,
    ) -> Result<Vec<i64>, StoreError>;
    /// Messages with a UID in `low..=high`.
    async fn list_messages_between(
        &mut self,
        mailbox_id: i64,
        low: i64,
        high: i64,
    ) -> Result<Vec<MessageRow>, StoreError>;
    /// Adds one more reference to a body that has a record (a copy of a message).
    async fn add_blob_ref(&mut self, id: &str) -> Result<(), StoreError>;
    async fn list_messages(&mut self, mailbox_id: i64) -> Result<Vec<MessageRow>, StoreError>;
    /// Each message's UID and flags, by UID: what opening a mailbox needs.
    async fn list_message_flags(
        &mut self,
        mailbox_id: i64,
    ) -> Result<Vec<(i64, String)>, StoreError>;
    /// Records a body (with its sealed bytes when `data` is given), or adds `refs` references
    /// to the record that exists, giving it `data` if it had none.
    async fn add_blob_refs(
        &mut self,
        id: &str,
        size: i64,
        summary: &str,
        refs: i64,
        at: UnixMillis,
        data: Option<&[u8]>,
    ) -> Result<(), StoreError>;
    async fn find_blob(&mut self, id: &str) -> Result<Option<BlobRow>, StoreError>;
    /// The sealed bytes kept in the records of some bodies (`None` for a body kept as a file),
    /// by id; ids without a record are left out. At most `MAX_IDS_PER_QUERY` ids.
    async fn find_blob_data(
        &mut self,
        ids: &[&str],
    ) -> Result<Vec<(String, Option<Vec<u8>>)>, StoreError>;
    /// Whether a body has a record (without reading it).
    async fn blob_exists(&mut self, id: &str) -> Result<bool, StoreError>;
    /// Removes messages by UID under one new modseq, records them as expunged, drops their
    /// bodies' references and the account's usage. Returns how many were removed. A body
    /// left with no reference keeps its record (at zero) until `delete_blob` collects it.
    async fn expunge_messages(
        &mut self,
        mailbox_id: i64,
        account: AccountId,
        uids: &[i64],
    ) -> Result<i64, StoreError>;
    /// Bodies no message holds.
    async fn list_unreferenced_blobs(&mut self) -> Result<Vec<String>, StoreError>;
    async fn delete_blob(&mut self, id: &str) -> Result<(), StoreError>;
    /// A new UIDVALIDITY for one of the account's mailboxes: `at_least`, or one above the
    /// highest the account was ever given if that is not below it.
    async fn next_uid_validity(
        &mut self,
        account: AccountId,
        at_least: i64,
    ) -> Result<i64, StoreError>;
    /// `(bytes, messages)` held by the account.
    async fn find_usage(&mut self, account: AccountId) -> Result<(i64, i64), StoreError>;
    async fn add_usage(
        &mut self,
        account: AccountId,
        bytes: i64,
        messages: i64,
    ) -> Result<(), StoreError>;
}

impl MailRepo for Tx {
    async fn list_mailboxes(&mut self, account: AccountId) -> Result<Vec<MailboxRow>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{MAILBOX_COLUMNS} WHERE account_id = $1 ORDER BY name"
        ));
        let rows = sqlx::query(sql)
            .bind(account.0)
            .fetch_all(self.conn())
            .await?;
        all(&rows, MailboxRow::from_row)
    }

    async fn ensure_mailbox(
        &mut self,
        account: AccountId,
        name: &str,
        special_use: Option<&str>,
        uid_validity: i64,
        at: UnixMillis,
    ) -> Result<MailboxRow, StoreError> {
        let made = sqlx::query(
            "INSERT INTO mailboxes (account_id, name, special_use, uid_validity, uid_next, \
             highest_modseq, subscribed, created_at) VALUES ($1, $2, $3, $4, 1, 1, 1, $5) \
             ON CONFLICT (account_id, name) DO NOTHING",
        )
        .bind(account.0)
        .bind(name)
        .bind(special_use)
        .bind(uid_validity)
        .bind(at.0)
        .execute(self.write()?)
        .await?;
        // A standard mailbox starts subscribed (once: the user may unsubscribe it).
        if made.rows_affected() == 1 {
            self.set_subscription(account, name, true).await?;
        }
        let sql = sqlx::AssertSqlSafe(format!(
            "{MAILBOX_COLUMNS} WHERE account_id = $1 AND name = $2"
        ));
        let row = sqlx::query(sql)
            .bind(account.0)
            .bind(name)
            .fetch_one(self.conn())
            .await?;
        Ok(MailboxRow::from_row(&row)?)
    }

    async fn allocate_uid(
        &mut self,
        mailbox_id: i64,
        account: AccountId,
    ) -> Result<Option<(i64, i64)>, StoreError> {
        let r = sqlx::query(
            "UPDATE mailboxes SET uid_next = uid_next + 1, highest_modseq = highest_modseq + 1 \
             WHERE id = $1 AND account_id = $2 RETURNING uid_next - 1 AS uid, highest_modseq",
        )
        .bind(mailbox_id)
        .bind(account.0)
        .fetch_optional(self.write()?)
        .await?;
        match r {
            Some(r) => Ok(Some((r.try_get("uid")?, r.try_get("highest_modseq")?))),
            None => Ok(None),
        }
    }

    async fn insert_message(&mut self, m: &MessageRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO messages (mailbox_id, uid, modseq, blob_id, size, flags, internal_date) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(m.mailbox_id)
        .bind(m.uid)
        .bind(m.modseq)
        .bind(&m.blob_id)
        .bind(m.size)
        .bind(&m.flags)
        .bind(m.internal_date.0)
        .execute(self.write()?)
        .await?;
        Ok(())
    }

    async fn create_mailbox(
        &mut self,
        account: AccountId,
        name: &str,
        special_use: Option<&str>,
        uid_validity: i64,
        at: UnixMillis,
    ) -> Result<Option<MailboxRow>, StoreError> {
        let made = sqlx::query(
            "INSERT INTO mailboxes (account_id, name, special_use, uid_validity, uid_next, \
             highest_modseq, subscribed, created_at) VALUES ($1, $2, $3, $4, 1, 1, 0, $5) \
             ON CONFLICT (account_id, name) DO NOTHING RETURNING id",
        )
        .bind(account.0)
        .bind(name)
        .bind(special_use)
        .bind(uid_validity)
        .bind(at.0)
        .fetch_optional(self.write()?)
        .await?;
        match made {
            Some(r) => self.find_mailbox(r.try_get("id")?).await,
            None => Ok(None),
        }
    }

    async fn find_mailbox(&mut self, mailbox_id: i64) -> Result<Option<MailboxRow>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!("{MAILBOX_COLUMNS} WHERE id = $1"));
        let row = sqlx::query(sql)
            .bind(mailbox_id)
            .fetch_optional(self.conn())
            .await?;
        row.as_ref()
            .map(MailboxRow::from_row)
            .transpose()
            .map_err(Into::into)
    }

    async fn delete_mailbox(&mut self, mailbox_id: i64) -> Result<(), StoreError> {
        for sql in [
            "DELETE FROM expunged WHERE mailbox_id = $1",
            "DELETE FROM mailboxes WHERE id = $1",
        ] {
            sqlx::query(sql)
                .bind(mailbox_id)
                .execute(self.write()?)
                .await?;
        }
        Ok(())
    }

    async fn rename_mailbox(&mut self, mailbox_id: i64, name: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE mailboxes SET name = $1 WHERE id = $2")
            .bind(name)
            .bind(mailbox_id)
            .execute(self.write()?)
            .await?;
        Ok(())
    }

    async fn set_subscription(
        &mut self,
        account: AccountId,
        name: &str,
        on: bool,
    ) -> Result<(), StoreError> {
        let sql = if on {
            "INSERT INTO subscriptions (account_id, name) VALUES ($1, $2) \
             ON CONFLICT (account_id, name) DO NOTHING"
        } else {
            "DELETE FROM subscriptions WHERE account_id = $1 AND name = $2"
        };
        sqlx::query(sql)
            .bind(account.0)
            .bind(name)
            .execute(self.write()?)
            .await?;
        Ok(())
    }

    async fn list_subscriptions(&mut self, account: AccountId) -> Result<Vec<String>, StoreError> {
        Ok(
            sqlx::query_scalar(
                "SELECT name FROM subscriptions WHERE account_id = $1 ORDER BY name",
            )
            .bind(account.0)
            .fetch_all(self.conn())
            .await?,
        )
    }

    async fn claim_recent(
        &mut self,
        mailbox_id: i64,
        account: AccountId,
        upto: i64,
    ) -> Result<Option<i64>, StoreError> {
        // The first statement takes the row's write lock, so two sessions never both claim.
        let from: Option<i64> = sqlx::query_scalar(
            "UPDATE mailboxes SET first_recent_uid = first_recent_uid \
             WHERE id = $1 AND account_id = $2 RETURNING first_recent_uid",
        )
        .bind(mailbox_id)
        .bind(account.0)
        .fetch_optional(self.write()?)
        .await?;
        if from.is_some_and(|f| f < upto) {
            sqlx::query("UPDATE mailboxes SET first_recent_uid = $1 WHERE id = $2")
                .bind(upto)
                .bind(mailbox_id)
                .execute(self.write()?)
                .await?;
        }
        Ok(from)
    }

    async fn update_flags(
        &mut self,
        mailbox_id: i64,
        changes: &[(i64, String)],
    ) -> Result<i64, StoreError> {
        let r = sqlx::query(
            "UPDATE mailboxes SET highest_modseq = highest_modseq + 1 WHERE id = $1 \
             RETURNING highest_modseq",
        )
        .bind(mailbox_id)
        .fetch_one(self.write()?)
        .await?;
        let modseq: i64 = r.try_get("highest_modseq")?;
        for (uid, flags) in changes {
            sqlx::query(
                "UPDATE messages SET flags = $1, modseq = $2 WHERE mailbox_id = $3 AND uid = $4",
            )
            .bind(flags)
            .bind(modseq)
            .bind(mailbox_id)
            .bind(uid)
            .execute(self.write()?)
            .await?;
        }
        Ok(modseq)
    }

    async fn list_messages_since(
        &mut self,
        mailbox_id: i64,
        modseq: i64,
    ) -> Result<Vec<MessageRow>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{MESSAGE_COLUMNS} WHERE mailbox_id = $1 AND modseq > $2 ORDER BY uid"
        )))
        .bind(mailbox_id)
        .bind(modseq)
        .fetch_all(self.conn())
        .await?;
        all(&rows, MessageRow::from_row)
    }

    async fn list_expunged_since(
        &mut self,
        mailbox_id: i64,
        modseq: i64,
    ) -> Result<Vec<i64>, StoreError> {
        let rows = sqlx::query(
            "SELECT uid FROM expunged WHERE mailbox_id = $1 AND modseq > $2 ORDER BY uid",
        )
        .bind(mailbox_id)
        .bind(modseq)
        .fetch_all(self.conn())
        .await?;
        all(&rows, |r| r.try_get("uid"))
    }

    async fn list_messages_between(
        &mut self,
        mailbox_id: i64,
        low: i64,
        high: i64,
    ) -> Result<Vec<MessageRow>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{MESSAGE_COLUMNS} WHERE mailbox_id = $1 AND uid >= $2 AND uid <= $3 ORDER BY uid"
        )))
        .bind(mailbox_id)
        .bind(low)
        .bind(high)
        .fetch_all(self.conn())
        .await?;
        all(&rows, MessageRow::from_row)
    }

    async fn add_blob_ref(&mut self, id: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE blobs SET refs = refs + 1 WHERE id = $1")
            .bind(id)
            .execute(self.write()?)
            .await?;
        Ok(())
    }

    async fn list_messages(&mut self, mailbox_id: i64) -> Result<Vec<MessageRow>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{MESSAGE_COLUMNS} WHERE mailbox_id = $1 ORDER BY uid"
        )))
        .bind(mailbox_id)
        .fetch_all(self.conn())
        .await?;
        all(&rows, MessageRow::from_row)
    }

    async fn list_message_flags(
        &mut self,
        mailbox_id: i64,
    ) -> Result<Vec<(i64, String)>, StoreError> {
        let rows =
            sqlx::query("SELECT uid, flags FROM messages WHERE mailbox_id = $1 ORDER BY uid")
                .bind(mailbox_id)
                .fetch_all(self.conn())
                .await?;
        all(&rows, |r| Ok((r.try_get("uid")?, r.try_get("flags")?)))
    }

    async fn add_blob_refs(
        &mut self,
        id: &str,
        size: i64,
        summary: &str,
        refs: i64,
        at: UnixMillis,
        data: Option<&[u8]>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO blobs (id, size, refs, summary, created_at, data) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (id) DO UPDATE SET refs = blobs.refs + $3, \
             data = COALESCE(blobs.data, $6)",
        )
        .bind(id)
        .bind(size)
        .bind(refs)
        .bind(summary)
        .bind(at.0)
        .bind(data)
        .execute(self.write()?)
        .await?;
        Ok(())
    }

    async fn find_blob(&mut self, id: &str) -> Result<Option<BlobRow>, StoreError> {
        let row = sqlx::query("SELECT id, size, refs, summary, data FROM blobs WHERE id = $1")
            .bind(id)
            .fetch_optional(self.conn())
            .await?;
        let Some(r) = row else { return Ok(None) };
        Ok(Some(BlobRow {
            id: r.try_get("id")?,
            size: r.try_get("size")?,
            refs: r.try_get("refs")?,
            summary: r.try_get("summary")?,
            data: r.try_get("data")?,
        }))
    }

    async fn find_blob_data(
        &mut self,
        ids: &[&str],
    ) -> Result<Vec<(String, Option<Vec<u8>>)>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let list = (1..=ids.len().min(MAX_IDS_PER_QUERY))
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = sqlx::AssertSqlSafe(format!("SELECT id, data FROM blobs WHERE id IN ({list})"));
        let mut q = sqlx::query(sql);
        for id in ids.iter().take(MAX_IDS_PER_QUERY) {
            q = q.bind(*id);
        }
        let rows = q.fetch_all(self.conn()).await?;
        rows.iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("data")?)))
            .collect()
    }

    async fn blob_exists(&mut self, id: &str) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT 1 AS one FROM blobs WHERE id = $1")
            .bind(id)
            .fetch_optional(self.conn())
            .await?;
        Ok(row.is_some())
    }

    async fn expunge_messages(
        &mut self,
        mailbox_id: i64,
        account: AccountId,
        uids: &[i64],
    ) -> Result<i64, StoreError> {
        if uids.is_empty() {
            return Ok(0);
        }
        let r = sqlx::query(
            "UPDATE mailboxes SET highest_modseq = highest_modseq + 1 WHERE id = $1 \
             RETURNING highest_modseq",
        )
        .bind(mailbox_id)
        .fetch_one(self.write()?)
        .await?;
        let modseq: i64 = r.try_get("highest_modseq")?;
        let (mut bytes, mut count) = (0i64, 0i64);
        for uid in uids {
            let gone = sqlx::query(
                "DELETE FROM messages WHERE mailbox_id = $1 AND uid = $2 RETURNING blob_id, size",
            )
            .bind(mailbox_id)
            .bind(uid)
            .fetch_optional(self.write()?)
            .await?;
            let Some(gone) = gone else { continue };
            let blob: String = gone.try_get("blob_id")?;
            bytes += gone.try_get::<i64, _>("size")?;
            count += 1;
            sqlx::query("INSERT INTO expunged (mailbox_id, uid, modseq) VALUES ($1, $2, $3)")
                .bind(mailbox_id)
                .bind(uid)
                .bind(modseq)
                .execute(self.write()?)
                .await?;
            sqlx::query("UPDATE blobs SET refs = refs - 1 WHERE id = $1")
                .bind(&blob)
                .execute(self.write()?)
                .await?;
        }
        self.add_usage(account, -bytes, -count).await?;
        Ok(count)
    }

    async fn list_unreferenced_blobs(&mut self) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query("SELECT id FROM blobs WHERE refs <= 0")
            .fetch_all(self.conn())
            .await?;
        all(&rows, |r| r.try_get("id"))
    }

    async fn delete_blob(&mut self, id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM blobs WHERE id = $1 AND refs <= 0")
            .bind(id)
            .execute(self.write()?)
            .await?;
        Ok(())
    }

    async fn find_usage(&mut self, account: AccountId) -> Result<(i64, i64), StoreError> {
        let row = sqlx::query("SELECT bytes, messages FROM mail_usage WHERE account_id = $1")
            .bind(account.0)
            .fetch_optional(self.conn())
            .await?;
        match row {
            Some(r) => Ok((r.try_get("bytes")?, r.try_get("messages")?)),
            None => Ok((0, 0)),
        }
    }

    async fn next_uid_validity(
        &mut self,
        account: AccountId,
        at_least: i64,
    ) -> Result<i64, StoreError> {
        let v: i64 = sqlx::query_scalar(
            "INSERT INTO mail_usage (account_id, bytes, messages, last_uid_validity) \
             VALUES ($1, 0, 0, $2) ON CONFLICT (account_id) DO UPDATE SET last_uid_validity = \
             CASE WHEN mail_usage.last_uid_validity >= $2 THEN mail_usage.last_uid_validity + 1 \
             ELSE $2 END RETURNING last_uid_validity",
        )
        .bind(account.0)
        .bind(at_least)
        .fetch_one(self.write()?)
        .await?;
        Ok(v)
    }

    async fn add_usage(
        &mut self,
        account: AccountId,
        bytes: i64,
        messages: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO mail_usage (account_id, bytes, messages) VALUES ($1, $2, $3) \
             ON CONFLICT (account_id) DO UPDATE SET bytes = mail_usage.bytes + $2, \
             messages = mail_usage.messages + $3",
        )
        .bind(account.0)
        .bind(bytes)
        .bind(messages)
        .execute(self.write()?)
        .await?;
        Ok(())
    }
}
