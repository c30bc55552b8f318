//! Rows of each account's WebDAV file space: folders and files by path, their sealed content,
//! and the dead properties set on them (migration 0027). A subtree is every row whose path is
//! the folder's or starts with it and a `/`, so deleting or moving a folder is one statement
//! over its rows, whatever their depth. What the paths mean and who may reach them is the
//! files crate's business.

use crate::rows::all;
use crate::{StoreError, Tx};
use carepost_types::{AccountId, UnixMillis};
use sqlx::Row;
use sqlx::any::AnyRow;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRow {
    pub id: i64,
    pub account_id: AccountId,
    /// Segments joined by `/`; empty for the space itself.
    pub path: String,
    /// The folder it is in; empty at the top level (and for the space).
    pub parent: String,
    pub collection: bool,
    pub content_type: String,
    /// Bytes of plain content.
    pub size: i64,
    pub etag: String,
    pub created_at: UnixMillis,
    pub modified_at: UnixMillis,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePropRow {
    pub file_id: i64,
    pub ns: String,
    pub name: String,
    pub lang: Option<String>,
    /// Self-contained XML.
    pub value: String,
}

const FILE_COLUMNS: &str = "SELECT id, account_id, path, parent, is_collection, content_type, \
    size, etag, created_at, modified_at FROM dav_files";

/// The rows of the subtree at `$2` of account `$1` (`$3` is `$2` and a slash, `$4` its length
/// in characters); the space's own path (empty) takes every row.
const TREE: &str = "account_id = $1 AND ($2 = '' OR path = $2 \
    OR substr(path, 1, CAST($4 AS INTEGER)) = $3)";

impl FileRow {
    fn from_row(r: &AnyRow) -> sqlx::Result<FileRow> {
        Ok(FileRow {
            id: r.try_get("id")?,
            account_id: AccountId(r.try_get("account_id")?),
            path: r.try_get("path")?,
            parent: r.try_get("parent")?,
            collection: r.try_get::<i64, _>("is_collection")? != 0,
            content_type: r.try_get("content_type")?,
            size: r.try_get("size")?,
            etag: r.try_get("etag")?,
            created_at: UnixMillis(r.try_get("created_at")?),
            modified_at: UnixMillis(r.try_get("modified_at")?),
        })
    }
}

impl FilePropRow {
    fn from_row(r: &AnyRow) -> sqlx::Result<FilePropRow> {
        Ok(FilePropRow {
            file_id: r.try_get("file_id")?,
            ns: r.try_get("ns")?,
            name: r.try_get("name")?,
            lang: r.try_get("lang")?,
            value: r.try_get("value")?,
        })
    }
}

/// The binds of `TREE` after the account: the path, the path and a slash, its length.
fn tree_binds(path: &str) -> (String, String, i64) {
    let prefix = format!("{path}/");
    let len = i64::try_from(prefix.chars().count()).unwrap_or(i64::MAX);
    (path.to_string(), prefix, len)
}

#[allow(async_fn_in_trait)] // Used through the concrete `Tx`, whose futures are `Send`.
pub trait FileRepo {
    async fn file(&mut self, account: AccountId, path: &str)
    -> Result<Option<FileRow>, StoreError>;
    /// The sealed content of a file (none for a folder).
    async fn file_content(&mut self, id: i64) -> Result<Option<Vec<u8>>, StoreError>;
    /// What a folder holds directly, by path.
    async fn file_children(
        &mut self,
        account: AccountId,
        parent: &str,
    ) -> Result<Vec<FileRow>, StoreError>;
    /// The row at `path` and every row below it, by path (a folder before what it holds).
    async fn file_tree(
        &mut self,
        account: AccountId,
        path: &str,
    ) -> Result<Vec<FileRow>, StoreError>;
    /// Makes the row of the account's space itself unless it is there.
    async fn ensure_file_space(
        &mut self,
        account: AccountId,
        etag: &str,
        now: UnixMillis,
    ) -> Result<(), StoreError>;
    /// A new row with its sealed content; its id.
    async fn insert_file(
        &mut self,
        row: &FileRow,
        sealed: Option<&[u8]>,
    ) -> Result<i64, StoreError>;
    /// New content for a file.
    async fn replace_file_content(
        &mut self,
        row: &FileRow,
        sealed: &[u8],
    ) -> Result<(), StoreError>;
    /// Removes the row at `path`, everything below it and their properties; how many rows.
    async fn delete_file_tree(&mut self, account: AccountId, path: &str)
    -> Result<u64, StoreError>;
    /// Gives the row at `from` and every row below it the path `to` in their place, `to`
    /// being in the folder `to_parent`.
    async fn move_file_tree(
        &mut self,
        account: AccountId,
        from: &str,
        to: &str,
        to_parent: &str,
        now: UnixMillis,
    ) -> Result<(), StoreError>;
    async fn file_props(&mut self, file: i64) -> Result<Vec<FilePropRow>, StoreError>;
    /// The properties of every row of the subtree at `path`.
    async fn file_tree_props(
        &mut self,
        account: AccountId,
        path: &str,
    ) -> Result<Vec<FilePropRow>, StoreError>;
    /// The properties of what a folder holds directly.
    async fn file_children_props(
        &mut self,
        account: AccountId,
        parent: &str,
    ) -> Result<Vec<FilePropRow>, StoreError>;
    /// Sets a property, replacing its earlier value.
    async fn put_file_prop(&mut self, row: &FilePropRow) -> Result<(), StoreError>;
    async fn delete_file_prop(&mut self, file: i64, ns: &str, name: &str)
    -> Result<(), StoreError>;
    /// Bytes of content the account keeps.
    async fn files_used(&mut self, account: AccountId) -> Result<i64, StoreError>;
}

impl FileRepo for Tx {
    async fn file(
        &mut self,
        account: AccountId,
        path: &str,
    ) -> Result<Option<FileRow>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{FILE_COLUMNS} WHERE account_id = $1 AND path = $2"
        ));
        let row = sqlx::query(sql)
            .bind(account.0)
            .bind(path)
            .fetch_optional(self.conn())
            .await?;
        Ok(row.as_ref().map(FileRow::from_row).transpose()?)
    }

    async fn file_content(&mut self, id: i64) -> Result<Option<Vec<u8>>, StoreError> {
        let row = sqlx::query("SELECT content FROM dav_files WHERE id = $1")
            .bind(id)
            .fetch_optional(self.conn())
            .await?;
        Ok(match row {
            Some(r) => r.try_get("content")?,
            None => None,
        })
    }

    async fn file_children(
        &mut self,
        account: AccountId,
        parent: &str,
    ) -> Result<Vec<FileRow>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{FILE_COLUMNS} WHERE account_id = $1 AND parent = $2 AND path <> '' ORDER BY path"
        ));
        let rows = sqlx::query(sql)
            .bind(account.0)
            .bind(parent)
            .fetch_all(self.conn())
            .await?;
        all(&rows, FileRow::from_row)
    }

    async fn file_tree(
        &mut self,
        account: AccountId,
        path: &str,
    ) -> Result<Vec<FileRow>, StoreError> {
        let (p, prefix, len) = tree_binds(path);
        let sql = sqlx::AssertSqlSafe(format!("{FILE_COLUMNS} WHERE {TREE} ORDER BY path"));
        let rows = sqlx::query(sql)
            .bind(account.0)
            .bind(p)
            .bind(prefix)
            .bind(len)
            .fetch_all(self.conn())
            .await?;
        all(&rows, FileRow::from_row)
    }

    async fn ensure_file_space(
        &mut self,
        account: AccountId,
        etag: &str,
        now: UnixMillis,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO dav_files (account_id, path, parent, is_collection, etag, created_at, \
             modified_at) VALUES ($1, '', '', 1, $2, $3, $3) \
             ON CONFLICT (account_id, path) DO NOTHING",
        )
        .bind(account.0)
        .bind(etag)
        .bind(now.0)
        .execute(self.write()?)
        .await?;
        Ok(())
    }

    async fn insert_file(
        &mut self,
        row: &FileRow,
        sealed: Option<&[u8]>,
    ) -> Result<i64, StoreError> {
        let r = sqlx::query(
            "INSERT INTO dav_files (account_id, path, parent, is_collection, content, \
             content_type, size, etag, created_at, modified_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        )
        .bind(row.account_id.0)
        .bind(&row.path)
        .bind(&row.parent)
        .bind(i64::from(row.collection))
        .bind(sealed.map(<[u8]>::to_vec))
        .bind(&row.content_type)
        .bind(row.size)
        .bind(&row.etag)
        .bind(row.created_at.0)
        .bind(row.modified_at.0)
        .fetch_one(self.write()?)
        .await?;
        Ok(r.try_get("id")?)
    }

    async fn replace_file_content(
        &mut self,
        row: &FileRow,
        sealed: &[u8],
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE dav_files SET content = $2, content_type = $3, size = $4, etag = $5, \
             modified_at = $6 WHERE id = $1",
        )
        .bind(row.id)
        .bind(sealed.to_vec())
        .bind(&row.content_type)
        .bind(row.size)
        .bind(&row.etag)
        .bind(row.modified_at.0)
        .execute(self.write()?)
        .await?;
        Ok(())
    }

    async fn delete_file_tree(
        &mut self,
        account: AccountId,
        path: &str,
    ) -> Result<u64, StoreError> {
        let (p, prefix, len) = tree_binds(path);
        // Properties first: SQLite cascades only with foreign keys on, which a connection
        // may not have.
        let props = sqlx::AssertSqlSafe(format!(
            "DELETE FROM dav_file_props WHERE file_id IN (SELECT id FROM dav_files WHERE {TREE})"
        ));
        sqlx::query(props)
            .bind(account.0)
            .bind(&p)
            .bind(&prefix)
            .bind(len)
            .execute(self.write()?)
            .await?;
        let files = sqlx::AssertSqlSafe(format!("DELETE FROM dav_files WHERE {TREE}"));
        let done = sqlx::query(files)
            .bind(account.0)
            .bind(p)
            .bind(prefix)
            .bind(len)
            .execute(self.write()?)
            .await?;
        Ok(done.rows_affected())
    }

    async fn move_file_tree(
        &mut self,
        account: AccountId,
        from: &str,
        to: &str,
        to_parent: &str,
        now: UnixMillis,
    ) -> Result<(), StoreError> {
        let (p, prefix, len) = tree_binds(from);
        // Below the moved row, the part of each path after `from` is kept behind `to`.
        sqlx::query(
            "UPDATE dav_files SET path = $5 || substr(path, CAST($4 AS INTEGER)), \
             parent = $5 || substr(parent, CAST($4 AS INTEGER)) \
             WHERE account_id = $1 AND path <> $2 AND substr(path, 1, CAST($4 AS INTEGER)) = $3",
        )
        .bind(account.0)
        .bind(&p)
        .bind(&prefix)
        .bind(len)
        .bind(to)
        .execute(self.write()?)
        .await?;
        sqlx::query(
            "UPDATE dav_files SET path = $3, parent = $4, modified_at = $5 \
             WHERE account_id = $1 AND path = $2",
        )
        .bind(account.0)
        .bind(from)
        .bind(to)
        .bind(to_parent)
        .bind(now.0)
        .execute(self.write()?)
        .await?;
        Ok(())
    }

    async fn file_props(&mut self, file: i64) -> Result<Vec<FilePropRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT file_id, ns, name, lang, value FROM dav_file_props WHERE file_id = $1 \
             ORDER BY ns, name",
        )
        .bind(file)
        .fetch_all(self.conn())
        .await?;
        all(&rows, FilePropRow::from_row)
    }

    async fn file_tree_props(
        &mut self,
        account: AccountId,
        path: &str,
    ) -> Result<Vec<FilePropRow>, StoreError> {
        let (p, prefix, len) = tree_binds(path);
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT file_id, ns, name, lang, value FROM dav_file_props WHERE file_id IN \
             (SELECT id FROM dav_files WHERE {TREE}) ORDER BY file_id, ns, name"
        ));
        let rows = sqlx::query(sql)
            .bind(account.0)
            .bind(p)
            .bind(prefix)
            .bind(len)
            .fetch_all(self.conn())
            .await?;
        all(&rows, FilePropRow::from_row)
    }

    async fn file_children_props(
        &mut self,
        account: AccountId,
        parent: &str,
    ) -> Result<Vec<FilePropRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT p.file_id, p.ns, p.name, p.lang, p.value FROM dav_file_props p \
             JOIN dav_files f ON f.id = p.file_id \
             WHERE f.account_id = $1 AND f.parent = $2 AND f.path <> '' \
             ORDER BY p.file_id, p.ns, p.name",
        )
        .bind(account.0)
        .bind(parent)
        .fetch_all(self.conn())
        .await?;
        all(&rows, FilePropRow::from_row)
    }

    async fn put_file_prop(&mut self, row: &FilePropRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO dav_file_props (file_id, ns, name, lang, value) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (file_id, ns, name) \
             DO UPDATE SET lang = excluded.lang, value = excluded.value",
        )
        .bind(row.file_id)
        .bind(&row.ns)
        .bind(&row.name)
        .bind(row.lang.as_deref())
        .bind(&row.value)
        .execute(self.write()?)
        .await?;
        Ok(())
    }

    async fn delete_file_prop(
        &mut self,
        file: i64,
        ns: &str,
        name: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM dav_file_props WHERE file_id = $1 AND ns = $2 AND name = $3")
            .bind(file)
            .bind(ns)
            .bind(name)
            .execute(self.write()?)
            .await?;
        Ok(())
    }

    async fn files_used(&mut self, account: AccountId) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) AS used FROM dav_files \
             WHERE account_id = $1",
        )
        .bind(account.0)
        .fetch_one(self.conn())
        .await?;
        Ok(row.try_get("used")?)
    }
}
