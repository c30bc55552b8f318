//! Rows of calendars and address books: collections, the objects in them (iCalendar or vCard
//! text, with the time span that narrows time-range queries) and the change log of each
//! collection for sync-collection. Every write of an object bumps its collection's change
//! number in the same transaction, so a sync token never skips or repeats a change.

use crate::backend::Backend;
use crate::rows::all;
use crate::{StoreError, Tx};
use carepost_types::{AccountId, UnixMillis};
use sqlx::Row;
use sqlx::any::AnyRow;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectionRow {
    pub id: i64,
    pub account_id: AccountId,
    /// `calendar` or `addressbook`.
    pub kind: String,
    pub slug: String,
    pub display_name: String,
    pub description: String,
    pub color: String,
    /// Comma-separated: `VEVENT`, `VTODO`.
    pub components: String,
    pub sync_seq: i64,
    pub created_at: UnixMillis,
    /// CalDAV calendar-timezone as set (a VCALENDAR with one VTIMEZONE), or empty.
    pub timezone: String,
}

/// Read from a row, or from the record `packed_objects` makes of one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DavObjectRow {
    pub collection_id: i64,
    pub name: String,
    pub uid: String,
    pub etag: String,
    pub component: String,
    pub data: String,
    pub starts_at: Option<i64>,
    pub ends_at: Option<i64>,
    pub modseq: i64,
    /// Bytes of `data` as stored, read with it (or in its place, when a read leaves the text
    /// out); not written.
    pub size: i64,
}

/// A name changed since a sync token: still there, or deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DavChangeRow {
    pub name: String,
    pub seq: i64,
    pub deleted: bool,
}

const COLLECTION_COLUMNS: &str = "SELECT id, account_id, kind, slug, display_name, description, \
    color, components, sync_seq, created_at, timezone FROM dav_collections";
const OBJECT_COLUMNS: &str = "SELECT collection_id, name, uid, etag, component, data, starts_at, \
    ends_at, modseq, CAST(octet_length(data) AS BIGINT) AS size FROM dav_objects";
/// The same columns, in `DavObjectRow`'s field order, for `packed_objects`; without the text
/// (an empty one in its place) when `with_data` is false: a sync asking for ETags alone of a
/// calendar of 10,000 events would otherwise read and pack every event to drop it.
fn object_fields(with_data: bool) -> &'static str {
    match with_data {
        true => {
            "collection_id, name, uid, etag, component, data, starts_at, ends_at, modseq, \
                 CAST(octet_length(data) AS BIGINT) AS size"
        }
        false => {
            "collection_id, name, uid, etag, component, '' AS data, starts_at, ends_at, \
                  modseq, CAST(octet_length(data) AS BIGINT) AS size"
        }
    }
}

/// The SQL that reads the objects `filter` selects (`WHERE ...`, with its ORDER BY and any
/// LIMIT) as one text value, in `order` (or as the engine finds them). Why not a row each:
/// sqlx's SQLite driver hands every row from its worker thread to the async side through a
/// channel and then copies it into an `AnyRow`; for a multiget or a sync page of hundreds of
/// calendar objects that was most of the time (profiled for the CalDAV benchmark), while
/// SQLite builds one value in a fraction of it. PostgreSQL reads rows without a thread
/// between, and gets the same query so both engines answer alike.
///
/// The value is one record per object: a JSON array of the small fields (`Head`), then the
/// text itself, as many bytes as the array's last number says. The text stays out of the
/// JSON because escaping every line end of every event into JSON and back was a tenth of a
/// multiget's work; one aggregate makes both parts, so they cannot come apart.
fn packed_objects(
    backend: Backend,
    filter: &str,
    order: Option<&str>,
) -> sqlx::AssertSqlSafe<String> {
    packed(backend, true, filter, order)
}

/// `packed_objects`, with the text left out unless `with_data`.
fn packed(
    backend: Backend,
    with_data: bool,
    filter: &str,
    order: Option<&str>,
) -> sqlx::AssertSqlSafe<String> {
    let inner = format!(
        "SELECT {} FROM dav_objects {filter}",
        object_fields(with_data)
    );
    // The outer query names the inner one's columns, in `Head`'s order.
    let head = "collection_id, name, uid, etag, component, starts_at, ends_at, modseq, size, \
                CAST(octet_length(data) AS BIGINT)";
    let order = order.map(|o| format!(" ORDER BY {o}")).unwrap_or_default();
    sqlx::AssertSqlSafe(match backend {
        Backend::Sqlite => format!(
            "SELECT COALESCE(group_concat(json_array({head}) || data, ''{order}), '') \
             FROM ({inner}) AS o"
        ),
        Backend::Postgres => format!(
            "SELECT COALESCE(string_agg(json_build_array({head})::text || data, ''{order}), '') \
             FROM ({inner}) AS o"
        ),
    })
}

/// The small fields of a packed object, in their order in the SQL, with the bytes of text
/// that follow (0 when the read left the text out).
#[derive(serde::Deserialize)]
struct Head(
    i64,
    String,
    String,
    String,
    String,
    Option<i64>,
    Option<i64>,
    i64,
    i64,
    usize,
);

/// Objects in one packed row at most, when a read may hold a whole calendar: it goes a page
/// at a time by name, so no row nears the largest value either engine holds (about 1 GB).
const PACK_PAGE: i64 = 1000;

/// Adds the objects of one page (`PACK_PAGE` at most) to `out`; whether it was full, so that
/// another page may follow.
fn more_after(out: &mut Vec<DavObjectRow>, row: &AnyRow) -> Result<bool, StoreError> {
    let page = unpacked(row)?;
    let full = page.len() as i64 == PACK_PAGE;
    out.extend(page);
    Ok(full)
}

/// The objects of a `packed_objects` row.
fn unpacked(row: &AnyRow) -> Result<Vec<DavObjectRow>, StoreError> {
    let text: String = row.try_get(0)?;
    let bad = |why: String| StoreError::Sql(sqlx::Error::Decode(why.into()));
    let mut out = Vec::new();
    let mut rest = text.as_str();
    while !rest.is_empty() {
        let mut heads = serde_json::Deserializer::from_str(rest).into_iter::<Head>();
        let head = match heads.next() {
            Some(Ok(h)) => h,
            Some(Err(e)) => return Err(bad(format!("a packed object: {e}"))),
            None => return Err(bad("a packed object ends early".into())),
        };
        let at = heads.byte_offset();
        let Some((data, after)) = at
            .checked_add(head.9)
            .and_then(|to| Some((rest.get(at..to)?, rest.get(to..)?)))
        else {
            return Err(bad("a packed object's text is cut short".into()));
        };
        out.push(DavObjectRow {
            collection_id: head.0,
            name: head.1,
            uid: head.2,
            etag: head.3,
            component: head.4,
            data: data.to_string(),
            starts_at: head.5,
            ends_at: head.6,
            modseq: head.7,
            size: head.8,
        });
        rest = after;
    }
    Ok(out)
}

impl CollectionRow {
    fn from_row(r: &AnyRow) -> sqlx::Result<CollectionRow> {
        Ok(CollectionRow {
            id: r.try_get("id")?,
            account_id: AccountId(r.try_get("account_id")?),
            kind: r.try_get("kind")?,
            slug: r.try_get("slug")?,
            display_name: r.try_get("display_name")?,
            description: r.try_get("description")?,
            color: r.try_get("color")?,
            components: r.try_get("components")?,
            sync_seq: r.try_get("sync_seq")?,
            created_at: UnixMillis(r.try_get("created_at")?),
            timezone: r.try_get("timezone")?,
        })
    }
}

impl DavObjectRow {
    fn from_row(r: &AnyRow) -> sqlx::Result<DavObjectRow> {
        Ok(DavObjectRow {
            collection_id: r.try_get("collection_id")?,
            name: r.try_get("name")?,
            uid: r.try_get("uid")?,
            etag: r.try_get("etag")?,
            component: r.try_get("component")?,
            data: r.try_get("data")?,
            starts_at: r.try_get("starts_at")?,
            ends_at: r.try_get("ends_at")?,
            modseq: r.try_get("modseq")?,
            size: r.try_get("size")?,
        })
    }
}

#[allow(async_fn_in_trait)] // Used through the concrete `Tx`, whose futures are `Send`.
pub trait DavRepo {
    async fn dav_collections(
        &mut self,
        account: AccountId,
    ) -> Result<Vec<CollectionRow>, StoreError>;
    async fn dav_collection(
        &mut self,
        account: AccountId,
        slug: &str,
    ) -> Result<Option<CollectionRow>, StoreError>;
    async fn dav_collection_by_id(&mut self, id: i64) -> Result<Option<CollectionRow>, StoreError>;
    /// Inserts a collection; `StoreError::Conflict` when the slug is taken.
    async fn insert_dav_collection(&mut self, row: &CollectionRow) -> Result<i64, StoreError>;
    async fn update_dav_collection(&mut self, row: &CollectionRow) -> Result<(), StoreError>;
    /// Deletes a collection with its objects, change log, shares and feed.
    async fn delete_dav_collection(&mut self, id: i64) -> Result<(), StoreError>;
    async fn dav_objects(&mut self, collection: i64) -> Result<Vec<DavObjectRow>, StoreError>;
    async fn dav_object(
        &mut self,
        collection: i64,
        name: &str,
    ) -> Result<Option<DavObjectRow>, StoreError>;
    /// The objects of `collection` with these names, in one query per 500 names (a
    /// multiget; the names as one JSON array), in no particular order; names without an
    /// object are left out. The text only `with_data`, as for `dav_objects_after`.
    async fn dav_objects_named(
        &mut self,
        collection: i64,
        names: &[String],
        with_data: bool,
    ) -> Result<Vec<DavObjectRow>, StoreError>;
    async fn dav_object_by_uid(
        &mut self,
        collection: i64,
        uid: &str,
    ) -> Result<Option<DavObjectRow>, StoreError>;
    /// The object with `uid` in any calendar of `account` (the first made, if several).
    async fn dav_calendar_object_by_uid(
        &mut self,
        account: AccountId,
        uid: &str,
    ) -> Result<Option<DavObjectRow>, StoreError>;
    /// As `dav_objects_in_span`, over every calendar of `account` (free/busy), in no
    /// particular order; the text only `with_data`.
    async fn dav_account_objects_in_span(
        &mut self,
        account: AccountId,
        start: i64,
        end: i64,
        with_data: bool,
    ) -> Result<Vec<DavObjectRow>, StoreError>;
    /// Objects whose span may meet [start, end) (seconds; either open), and those without
    /// any time.
    async fn dav_objects_in_span(
        &mut self,
        collection: i64,
        start: Option<i64>,
        end: Option<i64>,
    ) -> Result<Vec<DavObjectRow>, StoreError>;
    /// The names of the collection's objects past the newest `keep`, oldest first.
    async fn dav_names_past(
        &mut self,
        collection: i64,
        keep: usize,
    ) -> Result<Vec<String>, StoreError>;
    /// Takes the collection's next change number (for the write that follows).
    async fn next_dav_seq(&mut self, collection: i64) -> Result<i64, StoreError>;
    /// Inserts or replaces an object (its `modseq` is the change number taken for it) and
    /// logs the change.
    async fn put_dav_object(&mut self, row: &DavObjectRow) -> Result<(), StoreError>;
    /// Deletes an object and logs the deletion under change number `seq`.
    async fn delete_dav_object(
        &mut self,
        collection: i64,
        name: &str,
        seq: i64,
    ) -> Result<(), StoreError>;
    /// The names changed after `seq`, oldest change first.
    /// The changes after `seq`, in order, at most `limit`.
    async fn dav_changes_since(
        &mut self,
        collection: i64,
        seq: i64,
        limit: i64,
    ) -> Result<Vec<DavChangeRow>, StoreError>;
    /// The objects last written after change number `modseq`, in the order of their last
    /// write, at most `limit` (a page of an initial sync; migration 0028 indexes the order);
    /// their text only `with_data` (`size` says how long it is either way).
    async fn dav_objects_after(
        &mut self,
        collection: i64,
        modseq: i64,
        limit: i64,
        with_data: bool,
    ) -> Result<Vec<DavObjectRow>, StoreError>;
}

impl DavRepo for Tx {
    async fn dav_collections(
        &mut self,
        account: AccountId,
    ) -> Result<Vec<CollectionRow>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{COLLECTION_COLUMNS} WHERE account_id = $1 ORDER BY id"
        ));
        let rows = sqlx::query(sql)
            .bind(account.0)
            .fetch_all(self.conn())
            .await?;
        all(&rows, CollectionRow::from_row)
    }

    async fn dav_collection(
        &mut self,
        account: AccountId,
        slug: &str,
    ) -> Result<Option<CollectionRow>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{COLLECTION_COLUMNS} WHERE account_id = $1 AND slug = $2"
        ));
        let row = sqlx::query(sql)
            .bind(account.0)
            .bind(slug)
            .fetch_optional(self.conn())
            .await?;
        Ok(row.as_ref().map(CollectionRow::from_row).transpose()?)
    }

    async fn dav_collection_by_id(&mut self, id: i64) -> Result<Option<CollectionRow>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!("{COLLECTION_COLUMNS} WHERE id = $1"));
        let row = sqlx::query(sql)
            .bind(id)
            .fetch_optional(self.conn())
            .await?;
        Ok(row.as_ref().map(CollectionRow::from_row).transpose()?)
    }

    async fn insert_dav_collection(&mut self, row: &CollectionRow) -> Result<i64, StoreError> {
        let r = sqlx::query(
            "INSERT INTO dav_collections (account_id, kind, slug, display_name, description, \
             color, components, sync_seq, created_at, timezone) VALUES ($1, $2, $3, $4, $5, $6, \
             $7, $8, $9, $10) RETURNING id",
        )
        .bind(row.account_id.0)
        .bind(&row.kind)
        .bind(&row.slug)
        .bind(&row.display_name)
        .bind(&row.description)
        .bind(&row.color)
        .bind(&row.components)
        .bind(row.sync_seq)
        .bind(row.created_at.0)
        .bind(&row.timezone)
        .fetch_one(self.write()?)
        .await?;
        Ok(r.try_get("id")?)
    }

    async fn update_dav_collection(&mut self, row: &CollectionRow) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE dav_collections SET display_name = $2, description = $3, color = $4, \
             timezone = $5, sync_seq = sync_seq + 1 WHERE id = $1",
        )
        .bind(row.id)
        .bind(&row.display_name)
        .bind(&row.description)
        .bind(&row.color)
        .bind(&row.timezone)
        .execute(self.write()?)
        .await?;
        Ok(())
    }

    async fn delete_dav_collection(&mut self, id: i64) -> Result<(), StoreError> {
        for sql in [
            "DELETE FROM dav_shares WHERE collection_id = $1",
            "DELETE FROM dav_feeds WHERE collection_id = $1",
            "DELETE FROM dav_changes WHERE collection_id = $1",
            "DELETE FROM dav_objects WHERE collection_id = $1",
            "DELETE FROM dav_collections WHERE id = $1",
        ] {
            sqlx::query(sql).bind(id).execute(self.write()?).await?;
        }
        Ok(())
    }

    async fn dav_objects(&mut self, collection: i64) -> Result<Vec<DavObjectRow>, StoreError> {
        let mut out = Vec::new();
        loop {
            let after = out.last().map_or("", |o: &DavObjectRow| o.name.as_str());
            let sql = packed_objects(
                self.backend(),
                "WHERE collection_id = $1 AND name > $2 ORDER BY name LIMIT $3",
                Some("name"),
            );
            let row = sqlx::query(sql)
                .bind(collection)
                .bind(after.to_string())
                .bind(PACK_PAGE)
                .fetch_one(self.conn())
                .await?;
            if !more_after(&mut out, &row)? {
                return Ok(out);
            }
        }
    }

    async fn dav_object(
        &mut self,
        collection: i64,
        name: &str,
    ) -> Result<Option<DavObjectRow>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{OBJECT_COLUMNS} WHERE collection_id = $1 AND name = $2"
        ));
        let row = sqlx::query(sql)
            .bind(collection)
            .bind(name)
            .fetch_optional(self.conn())
            .await?;
        Ok(row.as_ref().map(DavObjectRow::from_row).transpose()?)
    }

    async fn dav_objects_named(
        &mut self,
        collection: i64,
        names: &[String],
        with_data: bool,
    ) -> Result<Vec<DavObjectRow>, StoreError> {
        // The names go as one JSON array rather than a parameter each: one statement for
        // any number of them, which both engines read as a table.
        let names_of = match self.backend() {
            Backend::Sqlite => "SELECT value FROM json_each($2)",
            Backend::Postgres => "SELECT json_array_elements_text($2::json)",
        };
        let filter = format!("WHERE collection_id = $1 AND name IN ({names_of})");
        let mut out = Vec::with_capacity(names.len());
        for chunk in names.chunks(crate::MAX_IDS_PER_QUERY) {
            let list = serde_json::to_string(chunk)
                .map_err(|e| StoreError::Sql(sqlx::Error::Encode(Box::new(e))))?;
            let row = sqlx::query(packed(self.backend(), with_data, &filter, None))
                .bind(collection)
                .bind(list)
                .fetch_one(self.conn())
                .await?;
            out.extend(unpacked(&row)?);
        }
        Ok(out)
    }

    async fn dav_object_by_uid(
        &mut self,
        collection: i64,
        uid: &str,
    ) -> Result<Option<DavObjectRow>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{OBJECT_COLUMNS} WHERE collection_id = $1 AND uid = $2"
        ));
        let row = sqlx::query(sql)
            .bind(collection)
            .bind(uid)
            .fetch_optional(self.conn())
            .await?;
        Ok(row.as_ref().map(DavObjectRow::from_row).transpose()?)
    }

    async fn dav_calendar_object_by_uid(
        &mut self,
        account: AccountId,
        uid: &str,
    ) -> Result<Option<DavObjectRow>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{OBJECT_COLUMNS} WHERE uid = $2 AND collection_id IN (SELECT id FROM \
             dav_collections WHERE account_id = $1 AND kind = 'calendar') \
             ORDER BY collection_id LIMIT 1"
        ));
        let row = sqlx::query(sql)
            .bind(account.0)
            .bind(uid)
            .fetch_optional(self.conn())
            .await?;
        Ok(row.as_ref().map(DavObjectRow::from_row).transpose()?)
    }

    async fn dav_account_objects_in_span(
        &mut self,
        account: AccountId,
        start: i64,
        end: i64,
        with_data: bool,
    ) -> Result<Vec<DavObjectRow>, StoreError> {
        let sql = packed(
            self.backend(),
            with_data,
            "WHERE collection_id IN (SELECT id FROM dav_collections WHERE \
             account_id = $1 AND kind = 'calendar') AND starts_at IS NOT NULL AND \
             starts_at < $3 AND (ends_at IS NULL OR ends_at > $2)",
            None,
        );
        let row = sqlx::query(sql)
            .bind(account.0)
            .bind(start)
            .bind(end)
            .fetch_one(self.conn())
            .await?;
        unpacked(&row)
    }

    async fn dav_objects_in_span(
        &mut self,
        collection: i64,
        start: Option<i64>,
        end: Option<i64>,
    ) -> Result<Vec<DavObjectRow>, StoreError> {
        // An object meets [start, end) when it starts before the end and ends after the start
        // (RFC 4791 section 9.9); objects without a span are left for the caller to judge.
        let mut out = Vec::new();
        loop {
            let after = out.last().map_or("", |o: &DavObjectRow| o.name.as_str());
            let sql = packed_objects(
                self.backend(),
                "WHERE collection_id = $1 AND (starts_at IS NULL OR \
                 (($3 IS NULL OR starts_at < $3) AND ($2 IS NULL OR ends_at IS NULL OR \
                 ends_at > $2))) AND name > $4 ORDER BY name LIMIT $5",
                Some("name"),
            );
            let row = sqlx::query(sql)
                .bind(collection)
                .bind(start)
                .bind(end)
                .bind(after.to_string())
                .bind(PACK_PAGE)
                .fetch_one(self.conn())
                .await?;
            if !more_after(&mut out, &row)? {
                return Ok(out);
            }
        }
    }

    async fn dav_names_past(
        &mut self,
        collection: i64,
        keep: usize,
    ) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT name FROM dav_objects WHERE collection_id = $1 AND modseq < (SELECT \
             COALESCE(MIN(modseq), 0) FROM (SELECT modseq FROM dav_objects WHERE \
             collection_id = $1 ORDER BY modseq DESC LIMIT $2) AS newest) ORDER BY modseq",
        )
        .bind(collection)
        .bind(keep as i64)
        .fetch_all(self.conn())
        .await?;
        all(&rows, |r| r.try_get("name"))
    }

    async fn next_dav_seq(&mut self, collection: i64) -> Result<i64, StoreError> {
        let r = sqlx::query(
            "UPDATE dav_collections SET sync_seq = sync_seq + 1 WHERE id = $1 RETURNING sync_seq",
        )
        .bind(collection)
        .fetch_one(self.write()?)
        .await?;
        Ok(r.try_get("sync_seq")?)
    }

    async fn put_dav_object(&mut self, row: &DavObjectRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO dav_objects (collection_id, name, uid, etag, component, data, starts_at, \
             ends_at, modseq) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (collection_id, name) DO UPDATE SET uid = excluded.uid, \
             etag = excluded.etag, component = excluded.component, data = excluded.data, \
             starts_at = excluded.starts_at, ends_at = excluded.ends_at, modseq = excluded.modseq",
        )
        .bind(row.collection_id)
        .bind(&row.name)
        .bind(&row.uid)
        .bind(&row.etag)
        .bind(&row.component)
        .bind(&row.data)
        .bind(row.starts_at)
        .bind(row.ends_at)
        .bind(row.modseq)
        .execute(self.write()?)
        .await?;
        log_change(self, row.collection_id, &row.name, row.modseq, false).await
    }

    async fn delete_dav_object(
        &mut self,
        collection: i64,
        name: &str,
        seq: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM dav_objects WHERE collection_id = $1 AND name = $2")
            .bind(collection)
            .bind(name)
            .execute(self.write()?)
            .await?;
        log_change(self, collection, name, seq, true).await
    }

    async fn dav_changes_since(
        &mut self,
        collection: i64,
        seq: i64,
        limit: i64,
    ) -> Result<Vec<DavChangeRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT name, seq, deleted FROM dav_changes WHERE collection_id = $1 AND seq > $2 \
             ORDER BY seq LIMIT $3",
        )
        .bind(collection)
        .bind(seq)
        .bind(limit)
        .fetch_all(self.conn())
        .await?;
        all(&rows, |r| {
            Ok(DavChangeRow {
                name: r.try_get("name")?,
                seq: r.try_get("seq")?,
                deleted: r.try_get::<i64, _>("deleted")? != 0,
            })
        })
    }

    async fn dav_objects_after(
        &mut self,
        collection: i64,
        modseq: i64,
        limit: i64,
        with_data: bool,
    ) -> Result<Vec<DavObjectRow>, StoreError> {
        let sql = packed(
            self.backend(),
            with_data,
            "WHERE collection_id = $1 AND modseq > $2 ORDER BY modseq LIMIT $3",
            Some("modseq"),
        );
        let row = sqlx::query(sql)
            .bind(collection)
            .bind(modseq)
            .bind(limit)
            .fetch_one(self.conn())
            .await?;
        unpacked(&row)
    }
}

async fn log_change(
    tx: &mut Tx,
    collection: i64,
    name: &str,
    seq: i64,
    deleted: bool,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO dav_changes (collection_id, name, seq, deleted) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (collection_id, name) DO UPDATE SET seq = excluded.seq, \
         deleted = excluded.deleted",
    )
    .bind(collection)
    .bind(name)
    .bind(seq)
    .bind(i64::from(deleted))
    .execute(tx.write()?)
    .await?;
    Ok(())
}
