//! Each account's personal file space, served over plain WebDAV (RFC 4918) at
//! `/dav/files/ADDRESS/`: folders nested as deep as clients make them, files of any type kept
//! as sent, dead properties (any XML a client sets with PROPPATCH, with its language), COPY
//! and MOVE of files and whole folders, a quota. Staff use it from any WebDAV client (the
//! file managers of Windows, macOS and GNOME, Office); it is also what the `litmus` WebDAV
//! suite is run against, since calendars and address books take only their own data.
//!
//! Off unless `[files] enabled = true`: a file kept here is outside mail's retention and
//! search. Content is sealed at rest like mail bodies (AES-256-GCM under a key derived from
//! the organization's master key, named by a keyed hash of the plain bytes); it lives in the
//! database row, up to `files.max_file_size`. Only the account itself reaches its space: the
//! web layer matches the address in the path to the signed-in account before calling here.

mod path;

pub use path::{FilePath, MAX_DEPTH};

use carepost_config::FilesPolicy;
use carepost_mail::BodyKeys;
use carepost_store::{BlobId, FilePropRow, FileRepo, FileRow, Store, StoreError, Tx};
use carepost_types::{AccountId, Clock, Rng, UnixMillis};
use std::sync::Arc;

/// Dead properties one file or folder may carry.
const MAX_PROPS: usize = 200;
/// Longest value of one dead property, in bytes of XML.
const MAX_PROP_VALUE: usize = 64 * 1024;
/// Most rows one COPY may write (a folder with everything below it).
const MAX_COPY: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    #[error("file spaces are not enabled here")]
    Disabled,
    #[error("not found")]
    NotFound,
    /// The folder something would go in does not exist (409).
    #[error("{0}")]
    Conflict(&'static str),
    /// MKCOL where something is already (405).
    #[error("something of that name exists")]
    Exists,
    #[error("that is a folder")]
    IsCollection,
    #[error("the resource changed")]
    PreconditionFailed,
    #[error("the file is larger than this server keeps")]
    TooLarge,
    #[error("the file space is full")]
    QuotaExceeded,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Invalid(String),
    #[error("the stored file cannot be read")]
    Corrupt,
    #[error("the store failed: {0}")]
    Store(#[from] StoreError),
}

/// The conditional headers of a write (RFC 9110 section 13).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conditions {
    /// `If-Match` as sent: `*` or entity tags, quoted, comma-separated.
    pub if_match: Option<String>,
    pub if_none_match_any: bool,
}

impl Conditions {
    fn check(&self, current: Option<&FileRow>) -> Result<(), FilesError> {
        if self.if_none_match_any && current.is_some() {
            return Err(FilesError::PreconditionFailed);
        }
        if let Some(want) = &self.if_match {
            let ok = current.is_some_and(|c| {
                want.trim() == "*"
                    || want
                        .split(',')
                        .any(|t| t.trim().trim_start_matches("W/") == quoted(&c.etag))
            });
            if !ok {
                return Err(FilesError::PreconditionFailed);
            }
        }
        Ok(())
    }
}

/// An entity tag as sent in headers.
pub fn quoted(etag: &str) -> String {
    format!("\"{etag}\"")
}

/// A dead property: its name, the `xml:lang` it was set under, its value as XML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadProp {
    pub ns: String,
    pub name: String,
    pub lang: Option<String>,
    pub value: String,
}

/// One step of a PROPPATCH, applied in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Patch {
    Set(DeadProp),
    Remove { ns: String, name: String },
}

/// A file or folder with its properties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub path: FilePath,
    pub collection: bool,
    pub size: u64,
    pub content_type: String,
    pub etag: String,
    pub created: UnixMillis,
    pub modified: UnixMillis,
    pub props: Vec<DeadProp>,
}

impl Entry {
    fn of(row: &FileRow, props: &[FilePropRow]) -> Entry {
        Entry {
            path: FilePath::from_key(&row.path),
            collection: row.collection,
            size: u64::try_from(row.size).unwrap_or(0),
            content_type: row.content_type.clone(),
            etag: row.etag.clone(),
            created: row.created_at,
            modified: row.modified_at,
            props: props
                .iter()
                .filter(|p| p.file_id == row.id)
                .map(|p| DeadProp {
                    ns: p.ns.clone(),
                    name: p.name.clone(),
                    lang: p.lang.clone(),
                    value: p.value.clone(),
                })
                .collect(),
        }
    }
}

/// How much of the quota is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub used: u64,
    pub available: u64,
}

/// What a COPY takes along.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyDepth {
    /// A folder without what it holds.
    Zero,
    Infinity,
}

#[derive(Clone)]
pub struct Files {
    store: Store,
    clock: Arc<dyn Clock>,
    rng: Arc<dyn Rng>,
    keys: BodyKeys,
    policy: FilesPolicy,
}

impl std::fmt::Debug for Files {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Files")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl Files {
    pub fn new(
        store: Store,
        clock: Arc<dyn Clock>,
        rng: Arc<dyn Rng>,
        master_key: &[u8; 32],
        policy: FilesPolicy,
    ) -> Files {
        Files {
            store,
            clock,
            rng,
            keys: BodyKeys::derive_for(master_key, "webdav file"),
            policy,
        }
    }

    pub fn enabled(&self) -> bool {
        self.policy.enabled
    }

    pub fn max_file_size(&self) -> u64 {
        self.policy.max_file_size
    }

    fn on(&self) -> Result<(), FilesError> {
        if self.policy.enabled {
            Ok(())
        } else {
            Err(FilesError::Disabled)
        }
    }

    /// A write's transaction, with the space's own row made if this is its first write.
    async fn writing(&self, account: AccountId) -> Result<Tx, FilesError> {
        self.on()?;
        let mut tx = self.store.begin_bookkeeping().await?;
        tx.ensure_file_space(account, &self.fresh_tag(), self.clock.now())
            .await?;
        Ok(tx)
    }

    /// An entity tag for a folder: random, since a folder has no content to name it by.
    fn fresh_tag(&self) -> String {
        let mut b = [0u8; 16];
        self.rng.fill(&mut b);
        hex::encode(b)
    }

    /// The space's own row as it is before any write: a folder made now.
    fn unwritten_space(&self, account: AccountId) -> FileRow {
        let now = self.clock.now();
        FileRow {
            id: 0,
            account_id: account,
            path: String::new(),
            parent: String::new(),
            collection: true,
            content_type: String::new(),
            size: 0,
            etag: String::new(),
            created_at: now,
            modified_at: now,
        }
    }

    async fn row(
        &self,
        tx: &mut Tx,
        account: AccountId,
        path: &FilePath,
    ) -> Result<Option<FileRow>, FilesError> {
        let row = tx.file(account, &path.key()).await?;
        Ok(match row {
            None if path.is_root() => Some(self.unwritten_space(account)),
            other => other,
        })
    }

    /// The file or folder at `path`, with what it holds when `children`.
    pub async fn list(
        &self,
        account: AccountId,
        path: &FilePath,
        children: bool,
    ) -> Result<Vec<Entry>, FilesError> {
        self.on()?;
        let mut tx = self.store.read().await?;
        let Some(row) = self.row(&mut tx, account, path).await? else {
            return Err(FilesError::NotFound);
        };
        let mut props = tx.file_props(row.id).await?;
        let mut out = vec![Entry::of(&row, &props)];
        if children && row.collection {
            let rows = tx.file_children(account, &path.key()).await?;
            props = tx.file_children_props(account, &path.key()).await?;
            out.extend(rows.iter().map(|r| Entry::of(r, &props)));
        }
        Ok(out)
    }

    /// A file's entry and plain content.
    pub async fn read(
        &self,
        account: AccountId,
        path: &FilePath,
    ) -> Result<(Entry, Vec<u8>), FilesError> {
        self.on()?;
        let mut tx = self.store.read().await?;
        let Some(row) = self.row(&mut tx, account, path).await? else {
            return Err(FilesError::NotFound);
        };
        if row.collection {
            return Err(FilesError::IsCollection);
        }
        let sealed = tx.file_content(row.id).await?.unwrap_or_default();
        let id = BlobId::parse(&row.etag).ok_or(FilesError::Corrupt)?;
        let plain = self
            .keys
            .open(&id, sealed)
            .map_err(|_| FilesError::Corrupt)?;
        Ok((Entry::of(&row, &[]), plain))
    }

    pub async fn usage(&self, account: AccountId) -> Result<Usage, FilesError> {
        self.on()?;
        let mut tx = self.store.read().await?;
        let used = u64::try_from(tx.files_used(account).await?).unwrap_or(0);
        Ok(Usage {
            used,
            available: self.policy.quota.saturating_sub(used),
        })
    }

    /// The folder `path` goes in must be there and be a folder (RFC 4918 sections 9.3.1,
    /// 9.7.1, 9.8.5: 409 otherwise).
    async fn parent_folder(
        &self,
        tx: &mut Tx,
        account: AccountId,
        path: &FilePath,
    ) -> Result<(), FilesError> {
        let Some(parent) = path.parent() else {
            return Err(FilesError::Forbidden(
                "the file space itself cannot be replaced".into(),
            ));
        };
        match self.row(tx, account, &parent).await? {
            Some(r) if r.collection => Ok(()),
            _ => Err(FilesError::Conflict("the folder it goes in does not exist")),
        }
    }

    /// Refuses a change that would keep more than the quota: `adding` bytes where `freeing`
    /// go.
    async fn fits(
        &self,
        tx: &mut Tx,
        account: AccountId,
        adding: i64,
        freeing: i64,
    ) -> Result<(), FilesError> {
        let used = tx.files_used(account).await?;
        let after = used.saturating_sub(freeing).saturating_add(adding);
        if u64::try_from(after).unwrap_or(u64::MAX) > self.policy.quota {
            return Err(FilesError::QuotaExceeded);
        }
        Ok(())
    }

    /// Stores a file (RFC 4918 section 9.7); its entity tag and whether it is new.
    pub async fn put(
        &self,
        account: AccountId,
        path: &FilePath,
        content: &[u8],
        content_type: &str,
        conditions: &Conditions,
    ) -> Result<(String, bool), FilesError> {
        self.on()?;
        if content.len() as u64 > self.policy.max_file_size {
            return Err(FilesError::TooLarge);
        }
        let content_type = if content_type.is_empty() {
            "application/octet-stream"
        } else {
            content_type
        };
        if content_type.len() > 255 || !content_type.chars().all(|c| (' '..='~').contains(&c)) {
            return Err(FilesError::Invalid(
                "the Content-Type cannot be kept".into(),
            ));
        }
        let id = self.keys.id_of(content);
        let sealed = self
            .keys
            .seal(self.rng.as_ref(), &id, content)
            .map_err(|_| FilesError::Corrupt)?;
        let mut tx = self.writing(account).await?;
        self.parent_folder(&mut tx, account, path).await?;
        let current = tx.file(account, &path.key()).await?;
        if current.as_ref().is_some_and(|c| c.collection) {
            return Err(FilesError::IsCollection);
        }
        conditions.check(current.as_ref())?;
        let size = i64::try_from(content.len()).unwrap_or(i64::MAX);
        self.fits(
            &mut tx,
            account,
            size,
            current.as_ref().map_or(0, |c| c.size),
        )
        .await?;
        let now = self.clock.now();
        let created = match current {
            Some(mut row) => {
                row.content_type = content_type.to_string();
                row.size = size;
                row.etag = id.to_string();
                row.modified_at = now;
                tx.replace_file_content(&row, &sealed).await?;
                false
            }
            None => {
                let row = new_row(account, path, false, content_type, size, id.as_str(), now);
                tx.insert_file(&row, Some(&sealed)).await?;
                true
            }
        };
        tx.commit().await?;
        Ok((id.to_string(), created))
    }

    /// Makes a folder (RFC 4918 section 9.3).
    pub async fn mkcol(&self, account: AccountId, path: &FilePath) -> Result<(), FilesError> {
        let mut tx = self.writing(account).await?;
        if path.is_root() || tx.file(account, &path.key()).await?.is_some() {
            return Err(FilesError::Exists);
        }
        self.parent_folder(&mut tx, account, path).await?;
        let row = new_row(
            account,
            path,
            true,
            "",
            0,
            &self.fresh_tag(),
            self.clock.now(),
        );
        tx.insert_file(&row, None).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Removes a file, or a folder with everything in it (RFC 4918 section 9.6).
    pub async fn delete(
        &self,
        account: AccountId,
        path: &FilePath,
        conditions: &Conditions,
    ) -> Result<(), FilesError> {
        if path.is_root() {
            return Err(FilesError::Forbidden(
                "the file space itself cannot be removed".into(),
            ));
        }
        let mut tx = self.writing(account).await?;
        let current = tx.file(account, &path.key()).await?;
        let Some(current) = current else {
            return Err(FilesError::NotFound);
        };
        conditions.check(Some(&current))?;
        tx.delete_file_tree(account, &path.key()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// What COPY and MOVE check before they change anything: the source, the place it goes
    /// (not itself or inside itself, in an existing folder) and what is there (replaced only
    /// with `overwrite`, RFC 4918 section 10.6). The source and what the destination holds.
    async fn transfer_check(
        &self,
        tx: &mut Tx,
        account: AccountId,
        from: &FilePath,
        to: &FilePath,
        overwrite: bool,
    ) -> Result<(FileRow, Option<FileRow>), FilesError> {
        if from.is_root() {
            return Err(FilesError::Forbidden(
                "the file space itself cannot be copied or moved".into(),
            ));
        }
        let Some(source) = tx.file(account, &from.key()).await? else {
            return Err(FilesError::NotFound);
        };
        if from == to {
            return Err(FilesError::Forbidden(
                "the source and the destination are the same".into(),
            ));
        }
        if source.collection && from.contains(to) {
            return Err(FilesError::Forbidden(
                "a folder cannot go inside itself".into(),
            ));
        }
        // Replacing a folder the source is in would remove the source first.
        if to.contains(from) {
            return Err(FilesError::Forbidden(
                "the destination holds the source".into(),
            ));
        }
        self.parent_folder(tx, account, to).await?;
        let existing = tx.file(account, &to.key()).await?;
        if existing.is_some() && !overwrite {
            return Err(FilesError::PreconditionFailed);
        }
        Ok((source, existing))
    }

    /// Copies a file, or a folder with (`Infinity`) or without what it holds, properties
    /// included (RFC 4918 section 9.8); whether the destination is new.
    pub async fn copy(
        &self,
        account: AccountId,
        from: &FilePath,
        to: &FilePath,
        depth: CopyDepth,
        overwrite: bool,
    ) -> Result<bool, FilesError> {
        let mut tx = self.writing(account).await?;
        let (source, existing) = self
            .transfer_check(&mut tx, account, from, to, overwrite)
            .await?;
        let mut rows = tx.file_tree(account, &from.key()).await?;
        if depth == CopyDepth::Zero {
            rows.truncate(1);
        }
        if rows.len() > MAX_COPY {
            return Err(FilesError::Forbidden(format!(
                "a copy takes at most {MAX_COPY} files and folders"
            )));
        }
        let props = if depth == CopyDepth::Zero {
            tx.file_props(source.id).await?
        } else {
            tx.file_tree_props(account, &from.key()).await?
        };
        let freeing = match &existing {
            Some(e) => tree_size(&tx.file_tree(account, &e.path).await?),
            None => 0,
        };
        self.fits(&mut tx, account, tree_size(&rows), freeing)
            .await?;
        if existing.is_some() {
            tx.delete_file_tree(account, &to.key()).await?;
        }
        let now = self.clock.now();
        for row in &rows {
            let at = from.rebase(&FilePath::from_key(&row.path), to);
            let etag = if row.collection {
                self.fresh_tag()
            } else {
                row.etag.clone()
            };
            let copy = new_row(
                account,
                &at,
                row.collection,
                &row.content_type,
                row.size,
                &etag,
                now,
            );
            // Sealed content is bound to its id, not to its place: it is copied as it is.
            let sealed = if row.collection {
                None
            } else {
                tx.file_content(row.id).await?
            };
            let id = tx.insert_file(&copy, sealed.as_deref()).await?;
            for p in props.iter().filter(|p| p.file_id == row.id) {
                tx.put_file_prop(&FilePropRow {
                    file_id: id,
                    ..p.clone()
                })
                .await?;
            }
        }
        tx.commit().await?;
        Ok(existing.is_none())
    }

    /// Moves a file or a folder with everything in it, properties included (RFC 4918
    /// section 9.9); whether the destination is new.
    pub async fn rename(
        &self,
        account: AccountId,
        from: &FilePath,
        to: &FilePath,
        overwrite: bool,
    ) -> Result<bool, FilesError> {
        let mut tx = self.writing(account).await?;
        let (_, existing) = self
            .transfer_check(&mut tx, account, from, to, overwrite)
            .await?;
        if existing.is_some() {
            tx.delete_file_tree(account, &to.key()).await?;
        }
        let parent = to.parent().unwrap_or_default();
        tx.move_file_tree(
            account,
            &from.key(),
            &to.key(),
            &parent.key(),
            self.clock.now(),
        )
        .await?;
        tx.commit().await?;
        Ok(existing.is_none())
    }

    /// Applies a PROPPATCH's steps in order, all or none (RFC 4918 section 9.2).
    pub async fn patch(
        &self,
        account: AccountId,
        path: &FilePath,
        steps: &[Patch],
    ) -> Result<(), FilesError> {
        let mut tx = self.writing(account).await?;
        let Some(row) = tx.file(account, &path.key()).await? else {
            return Err(FilesError::NotFound);
        };
        let mut names: Vec<(String, String)> = tx
            .file_props(row.id)
            .await?
            .into_iter()
            .map(|p| (p.ns, p.name))
            .collect();
        for step in steps {
            match step {
                Patch::Set(p) => {
                    if p.value.len() > MAX_PROP_VALUE {
                        return Err(FilesError::TooLarge);
                    }
                    let key = (p.ns.clone(), p.name.clone());
                    if !names.contains(&key) {
                        names.push(key);
                    }
                    if names.len() > MAX_PROPS {
                        return Err(FilesError::Invalid(format!(
                            "at most {MAX_PROPS} properties on one resource"
                        )));
                    }
                    tx.put_file_prop(&FilePropRow {
                        file_id: row.id,
                        ns: p.ns.clone(),
                        name: p.name.clone(),
                        lang: p.lang.clone(),
                        value: p.value.clone(),
                    })
                    .await?;
                }
                Patch::Remove { ns, name } => {
                    names.retain(|(n, l)| !(n == ns && l == name));
                    tx.delete_file_prop(row.id, ns, name).await?;
                }
            }
        }
        tx.commit().await?;
        Ok(())
    }
}

fn tree_size(rows: &[FileRow]) -> i64 {
    rows.iter().map(|r| r.size).sum()
}

fn new_row(
    account: AccountId,
    path: &FilePath,
    collection: bool,
    content_type: &str,
    size: i64,
    etag: &str,
    now: UnixMillis,
) -> FileRow {
    FileRow {
        id: 0,
        account_id: account,
        path: path.key(),
        parent: path.parent().unwrap_or_default().key(),
        collection,
        content_type: content_type.to_string(),
        size,
        etag: etag.to_string(),
        created_at: now,
        modified_at: now,
    }
}
