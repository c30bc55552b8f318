//! The audit chain's storage: events appended inside the transaction of the change they
//! record, the chain head kept in one locked row, and reads for listing, export and
//! verification.

use crate::directory::{Arg, bind_all, escape_like, where_clause};
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
    /// Any of these actions (`signin.failure`), or of these families (`signin.`: a name
    /// ending in a dot matches every action it begins); none means every action.
    pub actions: Vec<String>,
    /// Only this outcome (`success`, `failure`, `denied`).
    pub outcome: Option<String>,
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
        // Only the conditions asked for go into the statement, so that each can use its index.
        let mut conditions = Vec::new();
        let mut args = Vec::new();
        let arg = |a: Arg, args: &mut Vec<Arg>| {
            args.push(a);
            args.len()
        };
        if let Some(t) = f.since {
            conditions.push(format!("at >= ${}", arg(Arg::Int(t.0), &mut args)));
        }
        if let Some(t) = f.until {
            conditions.push(format!("at < ${}", arg(Arg::Int(t.0), &mut args)));
        }
        if let Some(a) = &f.actor {
            conditions.push(format!("actor = ${}", arg(Arg::Text(a.clone()), &mut args)));
        }
        if let Some(t) = &f.target {
            let exact = arg(Arg::Text(t.clone()), &mut args);
            let by_name = arg(Arg::Text(target_by_name(t)), &mut args);
            conditions.push(format!("(target = ${exact} OR target = ${by_name})"));
        }
        if !f.actions.is_empty() {
            let any: Vec<String> = f
                .actions
                .iter()
                .map(|a| match a.strip_suffix('.') {
                    // A family: its names begin with it (the dot and what follows are plain
                    // characters in a LIKE pattern once the wildcards are escaped).
                    Some(family) => format!(
                        "action LIKE ${} ESCAPE '\\'",
                        arg(Arg::Text(format!("{}.%", escape_like(family))), &mut args)
                    ),
                    None => format!("action = ${}", arg(Arg::Text(a.clone()), &mut args)),
                })
                .collect();
            conditions.push(format!("({})", any.join(" OR ")));
        }
        if let Some(o) = &f.outcome {
            conditions.push(format!(
                "outcome = ${}",
                arg(Arg::Text(o.clone()), &mut args)
            ));
        }
        if let Some(seq) = f.after_seq {
            conditions.push(format!("seq > ${}", arg(Arg::Int(seq.0), &mut args)));
        }
        let limit = arg(Arg::Int(f.limit.unwrap_or(i64::MAX)), &mut args);
        let order = if f.newest_first { "DESC" } else { "" };
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT seq, at, actor, actor_id, action, target, source, outcome, details, \
             prev_hash, hash FROM audit_events {} ORDER BY seq {order} LIMIT ${limit}",
            where_clause(&conditions)
        ));
        let rows = bind_all(sqlx::query(sql), args)
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
