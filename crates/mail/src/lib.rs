//! The mail store every protocol shares: per-account mailboxes with IMAP semantics, message
//! bodies stored once and encrypted at rest, delivery with group commit, quotas, and change
//! notices for sessions waiting in IDLE.
//!
//! This crate decides where mail goes and keeps it; it knows no sockets and no protocol. SQL
//! stays in `carepost_store`; who may send as whom is decided by the SMTP service with the
//! identity crate, before anything reaches `deliver`.

mod crypt;
mod deliver;
mod dkim;
mod error;
mod folders;
mod imip;
mod mailboxes;
mod message;
mod notices;
mod queue;
mod recipients;
mod sender_auth;
mod summary;
mod tls_reports;

pub use carepost_proto_message::{
    FromProblem, HeaderSenders, Mailbox, display_holds_address, header_senders, names_shown,
    normalize_line_breaks,
};
pub use carepost_store::StsPolicyRow;
pub use deliver::{Placed, Target};
pub use dkim::{DkimKey, generate_key_file};
pub use error::MailError;
pub use folders::{Changes, FlagChanges, FlagOp, FlagState, SEPARATOR};
pub use imip::{Invitation, calendar_replies};
pub use mailboxes::Folder;
pub use message::{
    add_missing_headers, header_problem, is_plain_address, normalize_domain, prefix_subject,
    prepend_header, remove_headers, rfc5322_date,
};
pub use notices::Notice;
pub use queue::{Attempt, DueDelivery, Outbound, QueuedMessage, QueuedRecipient};
pub use recipients::Recipient;
pub use sender_auth::{
    Disposition, DnsCache, MxAnswer, Origin, SecureAnswer, SecureKind, SecureRecord, SenderAuth,
    Verdict,
};
pub use summary::{PartSummary, Summary, summarize};
pub use tls_reports::{SentTlsReport, TlsOutcome, TlsPolicyUsed};

use carepost_audit::NewEvent;
use carepost_config::Config;
use carepost_store::{
    AuditRepo, BlobId, BlobStore, FsBlobStore, MailRepo, MailboxRow, MessageRow, Store,
};
use carepost_types::{AccountId, Clock, Rng};
pub use crypt::BodyKeys;
use deliver::{Job, Prepared};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{broadcast, mpsc, oneshot};

/// Sealed bodies up to this size live in the database, larger ones in files. Most mail is a
/// few kilobytes: kept in the row, it costs no file, no inode and no fsync of its own (the
/// group commit's one database sync covers it), while large attachments stay out of the
/// database.
const INLINE_BODY_LIMIT: usize = 64 * 1024;

/// Something changed in a mailbox (a delivery, an expunge).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    pub account: AccountId,
    pub mailbox_id: i64,
}

/// One message to deliver: its bytes, where its copies go, and the audit event that records
/// it (who sent what to whom, never the body).
#[derive(Debug)]
pub struct Delivery {
    pub raw: Vec<u8>,
    pub targets: Vec<Target>,
    /// Recipients outside the organization, queued in the same commit.
    pub outbound: Option<Outbound>,
    pub event: NewEvent,
}

/// The DKIM key of `mail.dkim_key`; a missing or broken key means mail goes out unsigned,
/// not a failure to start (the SMTP service warns of it when it starts; a CLI command that
/// opens the mail store stays quiet).
fn load_dkim(config: &Config) -> Option<Arc<DkimKey>> {
    let path = config.mail.dkim_key.as_ref()?;
    if !path.exists() {
        return None;
    }
    let domain = config.organization.domain.as_str();
    match DkimKey::load(path, domain, &config.mail.dkim_selector) {
        Ok(k) => Some(Arc::new(k)),
        Err(e) => {
            tracing::warn!(error = %e, "outgoing mail will not be DKIM-signed");
            None
        }
    }
}

/// The mail store. Cheap to clone; every clone shares one committer.
#[derive(Debug, Clone)]
pub struct MailStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Store,
    config: Arc<Config>,
    blobs: FsBlobStore,
    keys: BodyKeys,
    clock: Arc<dyn Clock>,
    rng: Arc<dyn Rng>,
    jobs: mpsc::Sender<Job>,
    changes: broadcast::Sender<Change>,
    queue_wake: tokio::sync::Notify,
    node: String,
    /// Signs what leaves the organization, when `mail.dkim_key` is configured and loads.
    dkim: Option<Arc<DkimKey>>,
}

impl MailStore {
    /// Opens the mail store over `store`; starts its committer on the current tokio runtime.
    pub fn open(
        store: Store,
        config: Arc<Config>,
        clock: Arc<dyn Clock>,
        rng: Arc<dyn Rng>,
    ) -> MailStore {
        let (changes, _) = broadcast::channel(1024);
        let blobs = FsBlobStore::new(&config.store.blob_dir);
        // This node's name in change notices, so it can tell its own from the others'.
        let node = hex::encode(rng.bytes(8));
        tokio::spawn(deliver::relay_notices(
            node.clone(),
            store.clone(),
            changes.downgrade(),
        ));
        let jobs = deliver::spawn_committer(
            node.clone(),
            store.clone(),
            blobs.clone(),
            clock.clone(),
            changes.clone(),
        );
        let dkim = load_dkim(&config);
        MailStore {
            inner: Arc::new(Inner {
                blobs,
                clock,
                keys: BodyKeys::derive(&config.master_key),
                store,
                config,
                rng,
                jobs,
                changes,
                queue_wake: tokio::sync::Notify::new(),
                dkim,
                node,
            }),
        }
    }

    /// The DKIM key outgoing mail is signed with, if one is configured and loads.
    pub fn dkim(&self) -> Option<&DkimKey> {
        self.inner.dkim.as_deref()
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub(crate) fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Whether this process's notices tell of every change: with SQLite only this process
    /// writes mail. With PostgreSQL other nodes' changes come through the database's
    /// notifications, which a lost connection can drop, so a reader must look itself.
    pub fn notices_are_complete(&self) -> bool {
        self.inner.store.backend() == carepost_store::Backend::Sqlite
    }

    /// Notices of every change from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.inner.changes.subscribe()
    }

    /// Stores the body (fsynced), then its copies, its queue entry and its audit event
    /// (committed); returns only when all of it is on disk.
    pub async fn deliver(&self, d: Delivery) -> Result<Vec<Placed>, MailError> {
        self.deliver_with(d, None).await
    }

    /// A delivery that also ends queued message `queue_id` in its commit (a bounce).
    pub(crate) async fn deliver_finishing(
        &self,
        d: Delivery,
        queue_id: i64,
    ) -> Result<Vec<Placed>, MailError> {
        self.deliver_with(d, Some(queue_id)).await
    }

    async fn deliver_with(
        &self,
        d: Delivery,
        finishes_queued: Option<i64>,
    ) -> Result<Vec<Placed>, MailError> {
        if d.targets.is_empty() && d.outbound.is_none() {
            return Err(MailError::Invalid(
                "a delivery needs at least one recipient".into(),
            ));
        }
        let summary = summarize(&d.raw)
            .ok_or_else(|| MailError::Invalid("the message has no header".into()))?;
        let summary = serde_json::to_string(&summary)
            .map_err(|e| MailError::Invalid(format!("cannot record the summary: {e}")))?;
        let id = self.inner.keys.id_of(&d.raw);
        let sealed = self.inner.keys.seal(self.inner.rng.as_ref(), &id, &d.raw)?;
        let queued = d.outbound.is_some();
        let inline = sealed.len() <= INLINE_BODY_LIMIT;
        let mut prepared = Prepared {
            blob_id: id.clone(),
            inline: inline.then(|| sealed.clone()),
            size: i64::try_from(d.raw.len()).unwrap_or(i64::MAX),
            summary,
            targets: d.targets,
            outbound: d.outbound,
            finishes_queued,
            event: d.event,
        };
        // The second round only if the collector removed an identical body between our write
        // (which found it present) and our commit.
        for _ in 0..2 {
            if !inline {
                self.inner.blobs.put(&id, &sealed).await?;
            }
            let (reply, answer) = oneshot::channel();
            self.inner
                .jobs
                .send(Job { prepared, reply })
                .await
                .map_err(|_| MailError::Stopped)?;
            match answer.await.map_err(|_| MailError::Stopped)? {
                Err(MailError::BodyMissing(back)) => prepared = *back,
                Ok(placed) => {
                    if queued {
                        self.wake_queue();
                    }
                    return Ok(placed);
                }
                Err(e) => return Err(e),
            }
        }
        Err(MailError::Busy(
            "the message body keeps disappearing; try again".into(),
        ))
    }

    /// Wakes the outbound worker: something is due.
    pub fn wake_queue(&self) {
        self.inner.queue_wake.notify_one();
    }

    /// Resolves when `wake_queue` is called (or was, since the last wait).
    pub async fn queue_woken(&self) {
        self.inner.queue_wake.notified().await;
    }

    pub(crate) fn clock(&self) -> &dyn Clock {
        self.inner.clock.as_ref()
    }

    /// The account's mailboxes, made on first use.
    pub async fn mailboxes(&self, account: AccountId) -> Result<Vec<MailboxRow>, MailError> {
        let mut tx = self.inner.store.read().await?;
        Ok(tx.list_mailboxes(account).await?)
    }

    /// The messages of one of the account's mailboxes, by name.
    pub async fn messages(
        &self,
        account: AccountId,
        mailbox: &str,
    ) -> Result<Vec<MessageRow>, MailError> {
        let mut tx = self.inner.store.read().await?;
        let boxes = tx.list_mailboxes(account).await?;
        let Some(m) = boxes.iter().find(|m| m.name == mailbox) else {
            return Err(MailError::NoMailbox(mailbox.to_string()));
        };
        Ok(tx.list_messages(m.id).await?)
    }

    /// A stored body, decrypted.
    pub async fn read_body(&self, blob_id: &str) -> Result<Vec<u8>, MailError> {
        self.read_bodies(&[blob_id])
            .await?
            .pop()
            .ok_or_else(|| MailError::Corrupt(format!("{blob_id} is missing")))
    }

    /// Several bodies at once, in the order of `blob_ids` (a FETCH of many messages): one
    /// query per few hundred instead of one per body.
    pub async fn read_bodies(&self, blob_ids: &[&str]) -> Result<Vec<Vec<u8>>, MailError> {
        let mut inline: HashMap<String, Option<Vec<u8>>> = HashMap::new();
        let mut tx = self.inner.store.read().await?;
        for chunk in blob_ids.chunks(carepost_store::MAX_IDS_PER_QUERY) {
            inline.extend(tx.find_blob_data(chunk).await?);
        }
        drop(tx);
        let mut out = Vec::with_capacity(blob_ids.len());
        for blob_id in blob_ids {
            let id =
                BlobId::parse(blob_id).ok_or_else(|| MailError::Corrupt(blob_id.to_string()))?;
            // Cloned: messages may share a body (COPY).
            let sealed = match inline.get(*blob_id) {
                Some(Some(data)) => data.clone(),
                Some(None) => self
                    .inner
                    .blobs
                    .get(&id)
                    .await?
                    .ok_or_else(|| MailError::Corrupt(format!("{blob_id} is missing")))?,
                None => return Err(MailError::Corrupt(format!("{blob_id} has no record"))),
            };
            out.push(self.inner.keys.open(&id, sealed)?);
        }
        Ok(out)
    }

    /// The cached summary of a stored body.
    pub async fn summary(&self, blob_id: &str) -> Result<Summary, MailError> {
        let mut tx = self.inner.store.read().await?;
        let row = tx
            .find_blob(blob_id)
            .await?
            .ok_or_else(|| MailError::Corrupt(format!("{blob_id} has no record")))?;
        serde_json::from_str(&row.summary).map_err(|e| MailError::Corrupt(e.to_string()))
    }

    /// `(bytes, messages)` the account's mail occupies.
    pub async fn usage(&self, account: AccountId) -> Result<(u64, u64), MailError> {
        let mut tx = self.inner.store.read().await?;
        let (b, m) = tx.find_usage(account).await?;
        Ok((b.max(0) as u64, m.max(0) as u64))
    }

    /// Records an event that goes with no change (a refused attempt worth keeping).
    pub async fn record(&self, event: &NewEvent) -> Result<(), MailError> {
        let mut tx = self.inner.store.begin().await?;
        tx.append_audit(event).await?;
        Ok(tx.commit().await?)
    }

    /// Removes messages for good; returns how many. Their bodies go at the next `collect`.
    pub async fn expunge(
        &self,
        account: AccountId,
        mailbox_id: i64,
        uids: &[i64],
        event: NewEvent,
    ) -> Result<i64, MailError> {
        let mut tx = self.inner.store.begin().await?;
        let boxes = tx.list_mailboxes(account).await?;
        if !boxes.iter().any(|m| m.id == mailbox_id) {
            return Err(MailError::NoMailbox(mailbox_id.to_string()));
        }
        let removed = tx.expunge_messages(mailbox_id, account, uids).await?;
        tx.notify_mail_change(&deliver::notice(&self.inner.node, account, mailbox_id))
            .await?;
        tx.append_audit(&event.with_details(serde_json::json!({ "messages": removed })))
            .await?;
        tx.commit().await?;
        let _ = self.inner.changes.send(Change {
            account,
            mailbox_id,
        });
        Ok(removed)
    }

    /// Deletes body files that no record names and that were written more than an hour ago:
    /// what a crash between a body's write and its delivery's commit leaves. Under the write
    /// lock, like `collect`; returns how many.
    pub async fn sweep_orphans(&self, actor: &carepost_audit::Actor) -> Result<usize, MailError> {
        let now = self.inner.clock.now();
        let candidates = self
            .inner
            .blobs
            .list_written_before(now.0 - 3_600_000)
            .await?;
        // Narrowed outside the write lock (most files belong to a record), confirmed under it.
        let mut orphans = Vec::new();
        let mut read = self.inner.store.read().await?;
        for id in candidates {
            if !read.blob_exists(id.as_str()).await? {
                orphans.push(id);
            }
        }
        drop(read);
        if orphans.is_empty() {
            return Ok(0);
        }
        let mut tx = self.inner.store.begin().await?;
        let mut removed = 0;
        for id in orphans {
            if !tx.blob_exists(id.as_str()).await? {
                self.inner.blobs.delete(&id).await?;
                removed += 1;
            }
        }
        if removed == 0 {
            return Ok(0);
        }
        let event = NewEvent::success(
            now,
            actor,
            carepost_audit::action::MAIL_COLLECT,
            "mail:orphans".to_string(),
        )
        .with_details(serde_json::json!({ "orphan_bodies": removed }));
        tx.append_audit(&event).await?;
        tx.commit().await?;
        Ok(removed)
    }

    /// Deletes the bodies no message holds any more; returns how many. Runs under the store's
    /// write lock, which every delivery's commit also takes, and a delivery checks inside it
    /// that its body is still on disk: a body cannot be collected under a delivery that is
    /// about to reuse it.
    pub async fn collect(&self, actor: &carepost_audit::Actor) -> Result<usize, MailError> {
        let mut tx = self.inner.store.begin().await?;
        let ids = tx.list_unreferenced_blobs().await?;
        if ids.is_empty() {
            return Ok(0);
        }
        for id in &ids {
            if let Some(b) = BlobId::parse(id) {
                self.inner.blobs.delete(&b).await?;
            }
            tx.delete_blob(id).await?;
        }
        let event = NewEvent::success(
            self.inner.clock.now(),
            actor,
            carepost_audit::action::MAIL_COLLECT,
            "mail:bodies".to_string(),
        )
        .with_details(serde_json::json!({ "bodies": ids.len() }));
        tx.append_audit(&event).await?;
        tx.commit().await?;
        Ok(ids.len())
    }
}
