//! Delivery into mailboxes with group commit. A delivery's body is written and fsynced first
//! (by the caller's task, in parallel with others); its rows then go to one committer task that
//! takes every delivery waiting at that moment into a single transaction, so that under load
//! one fsync of the database covers many messages. Each delivery is acknowledged only after
//! that commit returned: an SMTP 250 means the message is on disk.
//!
//! If a batch fails, its deliveries are tried again one by one, so one bad delivery cannot
//! fail the others.

use crate::mailboxes::{self, Folder};
use crate::{Change, MailError};
use carepost_audit::NewEvent;
use carepost_store::{
    AuditRepo, BlobId, BlobStore, FsBlobStore, MailRepo, MessageRow, QueueMessageRow, QueueRepo,
    Store,
};
use carepost_types::{AccountId, Clock, UnixMillis};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{broadcast, mpsc, oneshot};

/// Deliveries taken into one transaction at most.
const MAX_BATCH: usize = 128;

/// Where one copy of a message goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub account: AccountId,
    pub folder: Folder,
    /// Space-separated IMAP flags, e.g. `\Seen` for the sender's copy in Sent.
    pub flags: String,
    /// A mailbox chosen by id (IMAP APPEND) instead of by folder.
    pub mailbox: Option<i64>,
    /// The internal date when the client gives one (APPEND); else the time of delivery.
    pub internal_date: Option<UnixMillis>,
}

impl Target {
    pub fn inbox(account: AccountId) -> Target {
        Target {
            account,
            folder: Folder::Inbox,
            flags: String::new(),
            mailbox: None,
            internal_date: None,
        }
    }
}

/// Where a copy went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placed {
    pub account: AccountId,
    pub mailbox_id: i64,
    pub uid: i64,
}

/// A delivery whose body is stored, ready for its rows.
#[derive(Debug)]
pub struct Prepared {
    pub(crate) blob_id: BlobId,
    /// The sealed body, when it is small enough to be kept in the database (then no file).
    pub(crate) inline: Option<Vec<u8>>,
    pub(crate) size: i64,
    pub(crate) summary: String,
    pub(crate) targets: Vec<Target>,
    pub(crate) outbound: Option<crate::Outbound>,
    /// A queued message this delivery (its bounce) ends: deleted in the same commit.
    pub(crate) finishes_queued: Option<i64>,
    pub(crate) event: NewEvent,
}

pub(crate) struct Job {
    pub prepared: Prepared,
    pub reply: oneshot::Sender<Result<Vec<Placed>, MailError>>,
}

/// Starts the committer; it ends when every sender is gone.
pub(crate) fn spawn_committer(
    node: String,
    store: Store,
    blobs: FsBlobStore,
    clock: Arc<dyn Clock>,
    changes: broadcast::Sender<Change>,
) -> mpsc::Sender<Job> {
    let (tx, rx) = mpsc::channel(MAX_BATCH * 4);
    tokio::spawn(run(node, store, blobs, clock, changes, rx));
    tx
}

/// Mailbox ids by account and folder, so a delivery need not list an account's mailboxes
/// every time. An id that no longer exists is noticed by `allocate_uid` and looked up again.
type MailboxCache = HashMap<(AccountId, Folder), i64>;
const MAILBOX_CACHE_ENTRIES: usize = 100_000;

async fn run(
    node: String,
    store: Store,
    blobs: FsBlobStore,
    clock: Arc<dyn Clock>,
    changes: broadcast::Sender<Change>,
    mut rx: mpsc::Receiver<Job>,
) {
    let mut cache = MailboxCache::new();
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let jobs = std::mem::take(&mut batch);
        let preps: Vec<&Prepared> = jobs.iter().map(|j| &j.prepared).collect();
        if cache.len() > MAILBOX_CACHE_ENTRIES {
            cache.clear();
        }
        match commit(&node, &store, &blobs, &mut cache, clock.now(), &preps).await {
            Ok(placed) => {
                for (job, placed) in jobs.into_iter().zip(placed) {
                    finish(&changes, job, placed);
                }
            }
            // Ids learnt inside a transaction that rolled back may not exist.
            Err(e) if jobs.len() == 1 => {
                cache.clear();
                if let Some(job) = jobs.into_iter().next() {
                    fail(job, e);
                }
            }
            Err(e) => {
                cache.clear();
                tracing::warn!(error = ?e, n = jobs.len(), "a delivery batch failed; retrying one by one");
                for job in jobs {
                    match commit(
                        &node,
                        &store,
                        &blobs,
                        &mut cache,
                        clock.now(),
                        &[&job.prepared],
                    )
                    .await
                    {
                        Ok(mut placed) => finish(&changes, job, placed.remove(0)),
                        Err(e) => {
                            cache.clear();
                            fail(job, e);
                        }
                    }
                }
            }
        }
    }
}

fn finish(changes: &broadcast::Sender<Change>, job: Job, placed: Vec<Placed>) {
    for p in &placed {
        // Nobody listening is fine: no IMAP session is open for that account.
        let _ = changes.send(Change {
            account: p.account,
            mailbox_id: p.mailbox_id,
        });
    }
    let _ = job.reply.send(Ok(placed));
}

/// Answers a failed delivery; one whose body went missing gets its delivery back.
fn fail(job: Job, e: Failure) {
    let r = match e {
        Failure::BodyMissing => Err(MailError::BodyMissing(Box::new(job.prepared))),
        Failure::Mail(e) => Err(e),
    };
    let _ = job.reply.send(r);
}

/// Why a commit failed.
#[derive(Debug)]
enum Failure {
    /// A delivery's body is not on disk (collected after it was written).
    BodyMissing,
    Mail(MailError),
}

impl From<MailError> for Failure {
    fn from(e: MailError) -> Self {
        Failure::Mail(e)
    }
}

impl From<carepost_store::StoreError> for Failure {
    fn from(e: carepost_store::StoreError) -> Self {
        Failure::Mail(e.into())
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure::Mail(e.into())
    }
}

/// One transaction for every delivery in `preps`; the places of each, in order.
async fn commit(
    node: &str,
    store: &Store,
    blobs: &FsBlobStore,
    cache: &mut MailboxCache,
    now: UnixMillis,
    preps: &[&Prepared],
) -> Result<Vec<Vec<Placed>>, Failure> {
    let mut tx = store.begin().await?;
    let mut all = Vec::with_capacity(preps.len());
    for p in preps {
        // Under the write lock, which the collector also holds while it deletes. A body kept
        // in the database arrives with its record and needs no file.
        if p.inline.is_none() && !blobs.exists(&p.blob_id).await? {
            return Err(Failure::BodyMissing);
        }
        // The body's record first: messages and the queue refer to it.
        let refs =
            i64::try_from(p.targets.len() + usize::from(p.outbound.is_some())).unwrap_or(i64::MAX);
        tx.add_blob_refs(
            p.blob_id.as_str(),
            p.size,
            &p.summary,
            refs,
            now,
            p.inline.as_deref(),
        )
        .await?;
        let mut placed = Vec::with_capacity(p.targets.len());
        for t in &p.targets {
            let (mailbox_id, uid, modseq) = place(&mut tx, cache, t, now).await?;
            tx.insert_message(&MessageRow {
                mailbox_id,
                uid,
                modseq,
                blob_id: p.blob_id.as_str().to_string(),
                size: p.size,
                flags: t.flags.clone(),
                internal_date: t.internal_date.unwrap_or(now),
            })
            .await?;
            tx.add_usage(t.account, p.size, 1).await?;
            tx.notify_mail_change(&notice(node, t.account, mailbox_id))
                .await?;
            placed.push(Placed {
                account: t.account,
                mailbox_id,
                uid,
            });
        }
        if let Some(out) = &p.outbound {
            let row = QueueMessageRow {
                id: 0,
                blob_id: p.blob_id.as_str().to_string(),
                mail_from: out.mail_from.clone(),
                sender_account_id: out.sender,
                created_at: now,
                expires_at: now.plus(out.lifetime),
                require_tls: out.require_tls,
            };
            tx.insert_queue_message(&row, &out.recipients).await?;
        }
        // Two workers may settle the same message at once; only one notice goes out.
        if let Some(id) = p.finishes_queued
            && tx.delete_queue_message(id).await?.is_none()
        {
            return Err(Failure::Mail(MailError::NotQueued(id)));
        }
        tx.append_audit(&p.event).await?;
        all.push(placed);
    }
    tx.commit().await?;
    Ok(all)
}

/// The mailbox of `t` and a new UID in it: from the cache when it knows the mailbox, else
/// from the store (making the standard set if the account has none yet).
async fn place(
    tx: &mut carepost_store::Tx,
    cache: &mut MailboxCache,
    t: &Target,
    now: UnixMillis,
) -> Result<(i64, i64, i64), Failure> {
    if let Some(id) = t.mailbox {
        let (uid, modseq) = tx
            .allocate_uid(id, t.account)
            .await?
            .ok_or_else(|| MailError::NoMailbox(id.to_string()))?;
        return Ok((id, uid, modseq));
    }
    let key = (t.account, t.folder);
    if let Some(id) = cache.get(&key).copied() {
        if let Some((uid, modseq)) = tx.allocate_uid(id, t.account).await? {
            return Ok((id, uid, modseq));
        }
        cache.remove(&key);
    }
    let boxes = mailboxes::ensure_standard(tx, t.account, now).await?;
    let mailbox = mailboxes::pick(&boxes, t.folder)?;
    let (uid, modseq) = tx
        .allocate_uid(mailbox.id, t.account)
        .await?
        .ok_or_else(|| MailError::NoMailbox(mailbox.name.clone()))?;
    cache.insert(key, mailbox.id);
    Ok((mailbox.id, uid, modseq))
}

/// The payload of a change notice to other nodes: `node:account:mailbox`.
pub(crate) fn notice(node: &str, account: AccountId, mailbox_id: i64) -> String {
    format!("{node}:{}:{mailbox_id}", account.0)
}

/// Forwards other nodes' change notices to this node's subscribers (PostgreSQL only).
pub(crate) async fn relay_notices(
    node: String,
    store: Store,
    changes: broadcast::WeakSender<Change>,
) {
    let mut listener = match store.listen_mail_changes().await {
        Ok(Some(l)) => l,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for other nodes' mail changes");
            return;
        }
    };
    loop {
        let payload = match listener.recv().await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "lost the mail change listener; retrying");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                continue;
            }
        };
        let Some(changes) = changes.upgrade() else {
            return;
        };
        let mut parts = payload.splitn(3, ':');
        let (Some(from), Some(account), Some(mailbox)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if from == node {
            continue;
        }
        if let (Ok(account), Ok(mailbox_id)) = (account.parse(), mailbox.parse()) {
            let _ = changes.send(Change {
                account: AccountId(account),
                mailbox_id,
            });
        }
    }
}
