//! The audit chain's storage: events appended inside the transaction of the change they
//! record, the chain head kept in one locked row, and reads for listing, export and
//! verification.

use crate::rows::all;
use crate::{Backend, StoreError, Tx};
use carepost_audit::{Event, Head, NewEvent, head_seal};
use carepost_types::{AccountId, AuditSeq, UnixMillis};
use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, Row, Transaction};

pub(crate) async fn lock_head(
    tx: &mut Transaction<'static, Any>,
    backend: Backend,
) -> Result<Head, StoreError> {
    let row = sqlx::query(backend.lock_head_sql())
        .fetch_one(&mut **tx)
        .await?;
    head_from_row(&row)
}

fn head_from_row(row: &AnyRow) -> Result<Head, StoreError> {
    Ok(Head {
        seq: AuditSeq(row.try_get("seq")?),
        hash: row.try_get("hash")?,
        seal: row.try_get("seal")?,
    })
}

/// Records the new end of the chain, sealed.
pub(crate) async fn store_head(
    conn: &mut AnyConnection,
    head: &Head,
    key: &[u8; 32],
) -> Result<(), StoreError> {
    sqlx::query("UPDATE audit_head SET seq = $1, hash = $2, seal = $3 WHERE id = 1")
        .bind(head.seq.0)
        .bind(&head.hash)
        .bind(head_seal(key, head.seq, &head.hash))
        .execute(conn)
        .await?;
    Ok(())
}

/// Which events `list_audit` returns, oldest first.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub since: Option<UnixMillis>,
    pub until: Option<UnixMillis>,
    /// The actor's label (`local-cli:root`, `system`, an address).
    pub actor: Option<String>,
    /// A target exactly (`account:x@y`) or by its name alone (`x@y`).
    pub target: Option<String>,
    pub after_seq: Option<AuditSeq>,
    pub limit: Option<i64>,
    /// The newest events first (the latest `limit` of them), instead of the oldest.
    pub newest_first: bool,
}

#[allow(async_fn_in_trait)] // Used through the concrete `Tx`, whose futures are `Send`.
pub trait AuditRepo {
    /// Appends an event to the chain; only in a transaction from `Store::begin`.
    async fn append_audit(&mut self, e: &NewEvent) -> Result<Event, StoreError>;
    async fn list_audit(&mut self, f: &AuditFilter) -> Result<Vec<Event>, StoreError>;
    /// The recorded chain head: last sequence number, hash and seal.
    async fn audit_head(&mut self) -> Result<Head, StoreError>;
    /// How many `action` events were recorded at or after `since`.
    async fn count_audit_since(
        &mut self,
        action: &str,
        since: UnixMillis,
    ) -> Result<i64, StoreError>;
}

impl AuditRepo for Tx {
    async fn count_audit_since(
        &mut self,
        action: &str,
        since: UnixMillis,
    ) -> Result<i64, StoreError> {
        let row =
            sqlx::query("SELECT COUNT(*) AS n FROM audit_events WHERE action = $1 AND at >= $2")
                .bind(action)
                .bind(since.0)
                .fetch_one(self.conn())
                .await?;
        Ok(row.try_get("n")?)
    }

    async fn append_audit(&mut self, e: &NewEvent) -> Result<Event, StoreError> {
        let head = self.head.as_mut().ok_or(StoreError::NotAudited)?;
        let event = Event::seal(e, AuditSeq(head.seq.0 + 1), &head.hash);
        sqlx::query(
            "INSERT INTO audit_events (seq, at, actor, actor_id, action, target, source, \
             outcome, details, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(event.seq.0)
        .bind(event.at.0)
        .bind(&event.actor)
        .bind(event.actor_id.map(|a| a.0))
        .bind(&event.action)
        .bind(&event.target)
        .bind(&event.source)
        .bind(&event.outcome)
        .bind(&event.details)
        .bind(&event.prev_hash)
        .bind(&event.hash)
        .execute(&mut *self.inner)
        .await?;
        head.seq = event.seq;
        head.hash = event.hash.clone();
        self.head_dirty = true;
        Ok(event)
    }

    async fn list_audit(&mut self, f: &AuditFilter) -> Result<Vec<Event>, StoreError> {
        let order = if f.newest_first { "DESC" } else { "" };
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT seq, at, actor, actor_id, action, target, source, outcome, details, \
             prev_hash, hash FROM audit_events \
             WHERE (CAST($1 AS BIGINT) IS NULL OR at >= $1) \
               AND (CAST($2 AS BIGINT) IS NULL OR at < $2) \
               AND (CAST($3 AS TEXT) IS NULL OR actor = $3) \
               AND (CAST($4 AS TEXT) IS NULL OR target = $4 OR target = $5) \
               AND (CAST($6 AS BIGINT) IS NULL OR seq > $6) \
             ORDER BY seq {order} LIMIT $7"
        ));
        let rows = sqlx::query(sql)
            .bind(f.since.map(|t| t.0))
            .bind(f.until.map(|t| t.0))
            .bind(&f.actor)
            .bind(&f.target)
            .bind(f.target.as_ref().map(|t| target_by_name(t)))
            .bind(f.after_seq.map(|s| s.0))
            .bind(f.limit.unwrap_or(i64::MAX))
            .fetch_all(self.conn())
            .await?;
        all(&rows, event_from_row)
    }

    async fn audit_head(&mut self) -> Result<Head, StoreError> {
        let row = sqlx::query("SELECT seq, hash, seal FROM audit_head WHERE id = 1")
            .fetch_one(self.conn())
            .await?;
        head_from_row(&row)
    }
}

/// `john.smith@kaiser.org` finds `account:john.smith@kaiser.org`.
fn target_by_name(t: &str) -> String {
    if t.contains(':') {
        t.to_string()
    } else {
        format!("account:{t}")
    }
}

fn event_from_row(r: &AnyRow) -> sqlx::Result<Event> {
    Ok(Event {
        seq: AuditSeq(r.try_get("seq")?),
        at: UnixMillis(r.try_get("at")?),
        actor: r.try_get("actor")?,
        actor_id: r.try_get::<Option<i64>, _>("actor_id")?.map(AccountId),
        action: r.try_get("action")?,
        target: r.try_get("target")?,
        source: r.try_get("source")?,
        outcome: r.try_get("outcome")?,
        details: r.try_get("details")?,
        prev_hash: r.try_get("prev_hash")?,
        hash: r.try_get("hash")?,
    })
}
