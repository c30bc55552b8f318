//! What a mail client does to an account's mailboxes and messages besides delivery: create,
//! delete, rename and subscribe (RFC 9051 sections 6.3.4-6.3.7), flag changes under a new
//! modseq (RFC 7162), copy and move (RFC 6851), and the changes a session has not seen. Every
//! operation is scoped to one account: a mailbox id of another account is "no such mailbox".
//! Changes are announced like deliveries, to this node and (PostgreSQL) to the others.

use crate::mailboxes::ensure_standard;
use crate::{Change, MailError, MailStore, deliver};
use carepost_audit::NewEvent;
use carepost_store::{AuditRepo, MailRepo, MailboxRow, MessageRow, Tx};
use carepost_types::AccountId;
use std::collections::BTreeSet;

/// The hierarchy separator of mailbox names.
pub const SEPARATOR: char = '/';

/// How a flag change combines with the flags a message has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagOp {
    Replace,
    Add,
    Remove,
}

impl FlagOp {
    /// The space-separated flags after the change, sorted.
    pub fn apply(self, old: &str, flags: &BTreeSet<String>) -> String {
        let current: BTreeSet<String> = old.split_whitespace().map(str::to_string).collect();
        let next: BTreeSet<String> = match self {
            FlagOp::Replace => flags.clone(),
            FlagOp::Add => current.union(flags).cloned().collect(),
            FlagOp::Remove => current.difference(flags).cloned().collect(),
        };
        next.into_iter().collect::<Vec<_>>().join(" ")
    }
}

/// One message after a flag change.
#[derive(Debug, Clone)]
pub struct FlagState {
    pub uid: i64,
    pub flags: String,
    pub modseq: i64,
    pub changed: bool,
}

/// What a flag change did.
#[derive(Debug, Clone, Default)]
pub struct FlagChanges {
    /// The messages it applied to (changed or already so), by UID.
    pub messages: Vec<FlagState>,
    /// UIDs skipped because they changed after `unchanged_since`.
    pub modified: Vec<i64>,
    /// The modseq the changed messages got, if any changed.
    pub modseq: Option<i64>,
}

/// What a session has not seen of a mailbox since a modseq.
#[derive(Debug, Clone)]
pub struct Changes {
    pub mailbox: MailboxRow,
    /// New and changed messages, by UID.
    pub changed: Vec<MessageRow>,
    /// Expunged UIDs, ascending.
    pub expunged: Vec<i64>,
}

async fn owned(tx: &mut Tx, account: AccountId, mailbox_id: i64) -> Result<MailboxRow, MailError> {
    match tx.find_mailbox(mailbox_id).await? {
        Some(m) if m.account_id == account => Ok(m),
        _ => Err(MailError::NoMailbox(mailbox_id.to_string())),
    }
}

fn valid_name(name: &str) -> Result<(), MailError> {
    let bad = name.is_empty()
        || name.len() > 255
        || name.starts_with(SEPARATOR)
        || name.ends_with(SEPARATOR)
        || name.contains("//")
        || name.chars().any(|c| c.is_control() || c == '*' || c == '%');
    if bad {
        return Err(MailError::Invalid(format!(
            "{name:?} is not a valid mailbox name"
        )));
    }
    Ok(())
}

impl MailStore {
    fn announce(&self, account: AccountId, mailbox_id: i64) {
        let _ = self.inner.changes.send(Change {
            account,
            mailbox_id,
        });
    }

    async fn notify(
        &self,
        tx: &mut Tx,
        account: AccountId,
        mailbox_id: i64,
    ) -> Result<(), MailError> {
        tx.notify_mail_change(&deliver::notice(&self.inner.node, account, mailbox_id))
            .await?;
        Ok(())
    }

    /// The account's mailboxes for a mail client, making the standard set on first use.
    pub async fn client_mailboxes(&self, account: AccountId) -> Result<Vec<MailboxRow>, MailError> {
        let mut read = self.store().read().await?;
        let boxes = read.list_mailboxes(account).await?;
        drop(read);
        if boxes.iter().any(|m| m.name == "INBOX") {
            return Ok(boxes);
        }
        // Making the standard set is bookkeeping, not a change anyone asked for.
        let mut tx = self.store().begin_bookkeeping().await?;
        let boxes = ensure_standard(&mut tx, account, self.clock().now()).await?;
        tx.commit().await?;
        Ok(boxes)
    }

    /// One of the account's mailboxes by name.
    pub async fn find_mailbox(
        &self,
        account: AccountId,
        name: &str,
    ) -> Result<MailboxRow, MailError> {
        self.client_mailboxes(account)
            .await?
            .into_iter()
            .find(|m| m.name == name)
            .ok_or_else(|| MailError::NoMailbox(name.to_string()))
    }

    /// One of the account's mailboxes by id, as it is now.
    pub async fn mailbox(
        &self,
        account: AccountId,
        mailbox_id: i64,
    ) -> Result<MailboxRow, MailError> {
        let mut read = self.store().read().await?;
        owned(&mut read, account, mailbox_id).await
    }

    pub async fn create_mailbox(
        &self,
        account: AccountId,
        name: &str,
        special_use: Option<&str>,
        event: NewEvent,
    ) -> Result<MailboxRow, MailError> {
        valid_name(name)?;
        let mut tx = self.store().begin().await?;
        ensure_standard(&mut tx, account, self.clock().now()).await?;
        // UIDVALIDITY in seconds, kept above every mailbox this account ever had: a mailbox
        // made again under an old name must not look like the old one to a client's cache.
        let now = self.clock().now();
        let highest = tx
            .list_mailboxes(account)
            .await?
            .iter()
            .map(|m| m.uid_validity)
            .max()
            .unwrap_or(0);
        let uid_validity = tx
            .next_uid_validity(account, (now.0 / 1000).max(highest + 1))
            .await?;
        let made = tx
            .create_mailbox(account, name, special_use, uid_validity, now)
            .await?
            .ok_or_else(|| MailError::Exists(name.to_string()))?;
        // The superiors the name implies are made too (RFC 9051 section 6.3.4).
        let mut parent = name;
        while let Some((p, _)) = parent.rsplit_once(SEPARATOR) {
            tx.create_mailbox(account, p, None, uid_validity, now)
                .await?;
            parent = p;
        }
        tx.append_audit(&event).await?;
        tx.commit().await?;
        Ok(made)
    }

    /// Deletes a mailbox and its messages (INBOX cannot be deleted).
    pub async fn delete_mailbox(
        &self,
        account: AccountId,
        name: &str,
        event: NewEvent,
    ) -> Result<(), MailError> {
        if name == "INBOX" {
            return Err(MailError::Invalid("INBOX cannot be deleted".into()));
        }
        let mut tx = self.store().begin().await?;
        let boxes = tx.list_mailboxes(account).await?;
        let m = boxes
            .iter()
            .find(|m| m.name == name)
            .ok_or_else(|| MailError::NoMailbox(name.to_string()))?;
        let uids: Vec<i64> = tx
            .list_messages(m.id)
            .await?
            .iter()
            .map(|r| r.uid)
            .collect();
        let removed = tx.expunge_messages(m.id, account, &uids).await?;
        tx.delete_mailbox(m.id).await?;
        self.notify(&mut tx, account, m.id).await?;
        tx.append_audit(&event.with_details(serde_json::json!({ "messages": removed })))
            .await?;
        tx.commit().await?;
        self.announce(account, m.id);
        Ok(())
    }

    /// Renames a mailbox and those below it. Renaming INBOX moves its messages into a new
    /// mailbox of the new name and leaves INBOX empty (RFC 9051 section 6.3.6).
    pub async fn rename_mailbox(
        &self,
        account: AccountId,
        from: &str,
        to: &str,
        event: NewEvent,
    ) -> Result<(), MailError> {
        valid_name(to)?;
        if from == "INBOX" {
            let inbox = self.find_mailbox(account, "INBOX").await?;
            let made = self
                .create_mailbox(account, to, None, event.clone())
                .await?;
            let uids: Vec<i64> = self
                .messages_of(inbox.id)
                .await?
                .iter()
                .map(|m| m.uid)
                .collect();
            if !uids.is_empty() {
                self.copy(account, inbox.id, &uids, made.id, true, Some(event))
                    .await?;
            }
            return Ok(());
        }
        if to == "INBOX" {
            return Err(MailError::Exists(to.to_string()));
        }
        if to.starts_with(&format!("{from}{SEPARATOR}")) {
            return Err(MailError::Invalid(format!(
                "{from} cannot move below itself"
            )));
        }
        let mut tx = self.store().begin().await?;
        let boxes = tx.list_mailboxes(account).await?;
        if !boxes.iter().any(|m| m.name == from) {
            return Err(MailError::NoMailbox(from.to_string()));
        }
        let below = format!("{from}{SEPARATOR}");
        let moving: Vec<(&MailboxRow, String)> = boxes
            .iter()
            .filter(|m| m.name == from || m.name.starts_with(&below))
            .map(|m| (m, format!("{to}{}", &m.name[from.len()..])))
            .collect();
        for (_, new) in &moving {
            if boxes.iter().any(|m| &m.name == new) {
                return Err(MailError::Exists(new.clone()));
            }
        }
        // Subscriptions stay with the names (RFC 9051 section 6.3.6).
        for (m, new) in &moving {
            tx.rename_mailbox(m.id, new).await?;
        }
        tx.append_audit(&event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Subscribes to an existing mailbox, or unsubscribes from a name whether or not a
    /// mailbox has it (RFC 9051 section 6.3.7: subscriptions outlive their mailboxes).
    pub async fn set_subscribed(
        &self,
        account: AccountId,
        name: &str,
        on: bool,
    ) -> Result<(), MailError> {
        let name = if on {
            self.find_mailbox(account, name).await?.name
        } else if name.eq_ignore_ascii_case("INBOX") {
            "INBOX".to_string()
        } else {
            name.to_string()
        };
        let mut tx = self.store().begin_bookkeeping().await?;
        tx.set_subscription(account, &name, on).await?;
        Ok(tx.commit().await?)
    }

    /// The names the account is subscribed to, whether their mailboxes exist or not.
    pub async fn subscriptions(&self, account: AccountId) -> Result<Vec<String>, MailError> {
        let mut read = self.store().read().await?;
        Ok(read.list_subscriptions(account).await?)
    }

    /// Claims the mailbox's unclaimed \Recent messages below UID `upto` for one IMAP session;
    /// returns the first UID of the claim (`from..upto`; empty when `from >= upto`).
    pub async fn claim_recent(
        &self,
        account: AccountId,
        mailbox_id: i64,
        upto: i64,
    ) -> Result<i64, MailError> {
        let mut tx = self.store().begin_bookkeeping().await?;
        let from = tx.claim_recent(mailbox_id, account, upto).await?;
        tx.commit().await?;
        from.ok_or_else(|| MailError::NoMailbox(mailbox_id.to_string()))
    }

    async fn messages_of(&self, mailbox_id: i64) -> Result<Vec<MessageRow>, MailError> {
        let mut read = self.store().read().await?;
        Ok(read.list_messages(mailbox_id).await?)
    }

    /// Every message of one of the account's mailboxes, by UID.
    pub async fn mailbox_messages(
        &self,
        account: AccountId,
        mailbox_id: i64,
    ) -> Result<(MailboxRow, Vec<MessageRow>), MailError> {
        let mut read = self.store().read().await?;
        let m = owned(&mut read, account, mailbox_id).await?;
        let rows = read.list_messages(mailbox_id).await?;
        Ok((m, rows))
    }

    /// A mailbox of the account found by name, with each message's UID and flags (opening a
    /// mailbox: one read, and only the columns it needs).
    pub async fn open_mailbox(
        &self,
        account: AccountId,
        name: &str,
    ) -> Result<(MailboxRow, Vec<(i64, String)>), MailError> {
        let m = self.find_mailbox(account, name).await?;
        let mut read = self.store().read().await?;
        let m = owned(&mut read, account, m.id).await?;
        let flags = read.list_message_flags(m.id).await?;
        Ok((m, flags))
    }

    /// Messages with a UID in `low..=high`.
    pub async fn messages_between(
        &self,
        account: AccountId,
        mailbox_id: i64,
        low: i64,
        high: i64,
    ) -> Result<Vec<MessageRow>, MailError> {
        let mut read = self.store().read().await?;
        owned(&mut read, account, mailbox_id).await?;
        Ok(read.list_messages_between(mailbox_id, low, high).await?)
    }

    /// What changed in a mailbox after `modseq`.
    pub async fn changes_since(
        &self,
        account: AccountId,
        mailbox_id: i64,
        modseq: i64,
    ) -> Result<Changes, MailError> {
        let mut read = self.store().read().await?;
        let mailbox = owned(&mut read, account, mailbox_id).await?;
        if mailbox.highest_modseq <= modseq {
            return Ok(Changes {
                mailbox,
                changed: Vec::new(),
                expunged: Vec::new(),
            });
        }
        let changed = read.list_messages_since(mailbox_id, modseq).await?;
        let expunged = read.list_expunged_since(mailbox_id, modseq).await?;
        Ok(Changes {
            mailbox,
            changed,
            expunged,
        })
    }

    /// Removes the mailbox's messages flagged `\Deleted` (among `only`, when given), choosing
    /// them inside the write transaction so a message undeleted meanwhile by another session
    /// stays. Returns how many; records `event` when there were any.
    pub async fn expunge_deleted(
        &self,
        account: AccountId,
        mailbox_id: i64,
        only: Option<&[i64]>,
        event: NewEvent,
    ) -> Result<i64, MailError> {
        let only: Option<std::collections::HashSet<i64>> =
            only.map(|o| o.iter().copied().collect());
        let mut tx = self.store().begin().await?;
        owned(&mut tx, account, mailbox_id).await?;
        let uids: Vec<i64> = tx
            .list_messages(mailbox_id)
            .await?
            .iter()
            .filter(|r| r.flags.split_whitespace().any(|f| f == "\\Deleted"))
            .filter(|r| only.as_ref().is_none_or(|o| o.contains(&r.uid)))
            .map(|r| r.uid)
            .collect();
        if uids.is_empty() {
            return Ok(0);
        }
        let removed = tx.expunge_messages(mailbox_id, account, &uids).await?;
        self.notify(&mut tx, account, mailbox_id).await?;
        tx.append_audit(&event.with_details(serde_json::json!({ "messages": removed })))
            .await?;
        tx.commit().await?;
        self.announce(account, mailbox_id);
        Ok(removed)
    }

    /// Changes flags by UID inside one write transaction: the current flags are read there,
    /// so concurrent changes by other sessions are not lost, and `unchanged_since`
    /// (CONDSTORE) is checked there too. Messages gone meanwhile are skipped.
    pub async fn change_flags(
        &self,
        account: AccountId,
        mailbox_id: i64,
        uids: &[i64],
        op: FlagOp,
        flags: &BTreeSet<String>,
        unchanged_since: Option<i64>,
    ) -> Result<FlagChanges, MailError> {
        let (Some(low), Some(high)) = (uids.iter().min(), uids.iter().max()) else {
            return Ok(FlagChanges::default());
        };
        let wanted: std::collections::HashSet<i64> = uids.iter().copied().collect();
        let mut tx = self.store().begin_bookkeeping().await?;
        owned(&mut tx, account, mailbox_id).await?;
        let rows = tx.list_messages_between(mailbox_id, *low, *high).await?;
        let mut out = FlagChanges::default();
        let mut changes = Vec::new();
        for r in rows.into_iter().filter(|r| wanted.contains(&r.uid)) {
            if unchanged_since.is_some_and(|n| r.modseq > n) {
                out.modified.push(r.uid);
                continue;
            }
            let next = op.apply(&r.flags, flags);
            let changed = next != r.flags;
            if changed {
                changes.push((r.uid, next.clone()));
            }
            out.messages.push(FlagState {
                uid: r.uid,
                flags: next,
                modseq: r.modseq,
                changed,
            });
        }
        if !changes.is_empty() {
            let modseq = tx.update_flags(mailbox_id, &changes).await?;
            self.notify(&mut tx, account, mailbox_id).await?;
            for m in out.messages.iter_mut().filter(|m| m.changed) {
                m.modseq = modseq;
            }
            out.modseq = Some(modseq);
        }
        tx.commit().await?;
        if out.modseq.is_some() {
            self.announce(account, mailbox_id);
        }
        Ok(out)
    }

    /// Copies (or moves) messages by UID into another of the account's mailboxes, keeping
    /// their flags; returns `(source UID, new UID)` pairs in the source's order. A move must
    /// bring its `event` (recorded with the number moved); a copy is bookkeeping.
    pub async fn copy(
        &self,
        account: AccountId,
        from: i64,
        uids: &[i64],
        to: i64,
        remove: bool,
        event: Option<NewEvent>,
    ) -> Result<Vec<(i64, i64)>, MailError> {
        if remove && event.is_none() {
            return Err(MailError::Invalid("a move must be audited".into()));
        }
        let mut tx = match event {
            Some(_) => self.store().begin().await?,
            None => self.store().begin_bookkeeping().await?,
        };
        owned(&mut tx, account, from).await?;
        owned(&mut tx, account, to).await?;
        let (Some(low), Some(high)) = (uids.iter().min(), uids.iter().max()) else {
            return Ok(Vec::new());
        };
        let rows = tx.list_messages_between(from, *low, *high).await?;
        let wanted: std::collections::HashSet<i64> = uids.iter().copied().collect();
        // A copy adds to the account's mail (a move does not): it must fit the quota.
        if !remove {
            let adding: i64 = rows
                .iter()
                .filter(|r| wanted.contains(&r.uid))
                .map(|r| r.size)
                .sum();
            let (used, _) = tx.find_usage(account).await?;
            let quota = i64::try_from(self.config().mail.quota).unwrap_or(i64::MAX);
            if adding > 0 && used.saturating_add(adding) > quota {
                return Err(MailError::OverQuota);
            }
        }
        let mut pairs = Vec::new();
        let mut bytes = 0;
        for row in rows.iter().filter(|r| wanted.contains(&r.uid)) {
            let (uid, modseq) = tx
                .allocate_uid(to, account)
                .await?
                .ok_or_else(|| MailError::NoMailbox(to.to_string()))?;
            tx.insert_message(&MessageRow {
                mailbox_id: to,
                uid,
                modseq,
                blob_id: row.blob_id.clone(),
                size: row.size,
                flags: row.flags.clone(),
                // COPY keeps the internal date (RFC 9051 section 6.4.7).
                internal_date: row.internal_date,
            })
            .await?;
            tx.add_blob_ref(&row.blob_id).await?;
            bytes += row.size;
            pairs.push((row.uid, uid));
        }
        tx.add_usage(account, bytes, pairs.len() as i64).await?;
        if remove {
            let gone: Vec<i64> = pairs.iter().map(|p| p.0).collect();
            tx.expunge_messages(from, account, &gone).await?;
            self.notify(&mut tx, account, from).await?;
        }
        self.notify(&mut tx, account, to).await?;
        if let Some(e) = event {
            tx.append_audit(&e.with_details(serde_json::json!({ "messages": pairs.len() })))
                .await?;
        }
        tx.commit().await?;
        if remove {
            self.announce(account, from);
        }
        self.announce(account, to);
        Ok(pairs)
    }
}
