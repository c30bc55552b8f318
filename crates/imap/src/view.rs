//! A session's view of its selected mailbox: message numbers (RFC 9051 section 2.3.1.2) as
//! the session last reported them, the modseq it has seen, and how other sessions' changes
//! reach it (untagged EXISTS, EXPUNGE or VANISHED, FETCH FLAGS with MODSEQ; RFC 7162).

use crate::session::Enabled;
use carepost_mail::{MailError, MailStore};
use carepost_proto_imap::{SequenceSet, compact};
use carepost_store::MailboxRow;
use carepost_types::AccountId;
use std::collections::BTreeSet;
use std::io::Write;

#[derive(Debug)]
pub(crate) struct View {
    pub mailbox: MailboxRow,
    pub read_only: bool,
    /// UIDs by message number - 1, ascending.
    pub uids: Vec<u32>,
    /// The highest modseq this session has taken in.
    pub modseq: i64,
    /// Removed from the store, not yet reported (EXPUNGE may not interrupt every command).
    pub pending_expunge: Vec<u32>,
    /// SEARCHRES: the last result saved with `RETURN (SAVE)`, as UIDs.
    pub saved: Vec<u32>,
    /// Modseqs of this session's own flag changes, already answered by STORE.
    pub own: Vec<i64>,
    /// UIDs that are \Recent to this session (IMAP4rev1; a rev2 session has none).
    pub recent: BTreeSet<u32>,
    /// A change notice for the mailbox came and was not looked at yet.
    pub stale: bool,
}

/// A sequence set that names messages this view does not have.
#[derive(Debug)]
pub(crate) struct BadSet;

/// Writes `(\Seen $Label)` from the stored, space-separated form, with `\Recent` when the
/// message is recent to the session.
pub(crate) fn flag_list(flags: &str, recent: bool) -> String {
    let mut list: Vec<&str> = flags.split_whitespace().collect();
    if recent {
        list.push("\\Recent");
    }
    format!("({})", list.join(" "))
}

/// Ranges sorted and joined where they touch or overlap: disjoint, so that resolving them
/// takes each message once however the client wrote the set.
fn merged(mut ranges: Vec<(u32, u32)>) -> Vec<(u32, u32)> {
    ranges.sort_unstable();
    let mut out: Vec<(u32, u32)> = Vec::with_capacity(ranges.len());
    for (lo, hi) in ranges {
        match out.last_mut() {
            Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
            _ => out.push((lo, hi)),
        }
    }
    out
}

impl View {
    /// `uids`: the mailbox's messages, ascending.
    pub(crate) fn new(mailbox: MailboxRow, read_only: bool, uids: Vec<u32>) -> View {
        View {
            modseq: mailbox.highest_modseq,
            mailbox,
            read_only,
            uids,
            pending_expunge: Vec::new(),
            saved: Vec::new(),
            own: Vec::new(),
            recent: BTreeSet::new(),
            stale: false,
        }
    }

    /// Takes the messages from UID `from` on as \Recent to this session.
    pub(crate) fn take_recent(&mut self, from: i64) {
        let start = self.uids.partition_point(|u| i64::from(*u) < from);
        self.recent.extend(&self.uids[start..]);
    }

    pub(crate) fn seq_of(&self, uid: u32) -> Option<usize> {
        self.uids.binary_search(&uid).ok().map(|i| i + 1)
    }

    /// The UIDs a set names, ascending: by UID (UIDs not here are skipped) or by message
    /// number (a number past the last is an error, RFC 9051 section 9 `seq-number`).
    pub(crate) fn resolve(&self, set: &SequenceSet, by_uid: bool) -> Result<Vec<u32>, BadSet> {
        if *set == SequenceSet::Saved {
            return Ok(self
                .saved
                .iter()
                .copied()
                .filter(|u| self.seq_of(*u).is_some())
                .collect());
        }
        if by_uid {
            let largest = self.uids.last().copied().unwrap_or(0);
            // `*` on an empty mailbox names nothing.
            if largest == 0 {
                return Ok(Vec::new());
            }
            let mut out: Vec<u32> = Vec::new();
            for (lo, hi) in merged(set.ranges(largest)) {
                let start = self.uids.partition_point(|u| *u < lo);
                let end = self.uids.partition_point(|u| *u <= hi);
                out.extend_from_slice(&self.uids[start..end]);
            }
            return Ok(out);
        }
        let n = self.uids.len() as u32;
        if n == 0 {
            return Err(BadSet);
        }
        let mut out = Vec::new();
        for (lo, hi) in merged(set.ranges(n)) {
            if hi > n {
                return Err(BadSet);
            }
            out.extend_from_slice(&self.uids[(lo - 1) as usize..hi as usize]);
        }
        Ok(out)
    }

    /// Takes in the store's changes since `self.modseq` and writes their untagged responses.
    pub(crate) async fn sync(
        &mut self,
        mail: &MailStore,
        account: AccountId,
        enabled: Enabled,
        expunges: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), MailError> {
        let ch = mail
            .changes_since(account, self.mailbox.id, self.modseq)
            .await?;
        for uid in ch.expunged {
            let uid = uid as u32;
            if self.seq_of(uid).is_some() && !self.pending_expunge.contains(&uid) {
                self.pending_expunge.push(uid);
            }
        }
        if expunges {
            self.report_expunges(enabled.qresync, out);
        }
        let last = self.uids.last().copied().unwrap_or(0);
        let mut added = false;
        for row in &ch.changed {
            let uid = row.uid as u32;
            if uid > last {
                self.uids.push(uid);
                added = true;
            } else if let Some(seq) = self.seq_of(uid)
                && !self.own.contains(&row.modseq)
                && !self.pending_expunge.contains(&uid)
            {
                let _ = write!(
                    out,
                    "* {seq} FETCH (UID {uid} FLAGS {}",
                    flag_list(&row.flags, self.recent.contains(&uid))
                );
                if enabled.condstore {
                    let _ = write!(out, " MODSEQ ({})", row.modseq);
                }
                out.extend_from_slice(b")\r\n");
            }
        }
        if added {
            if !self.read_only && !enabled.rev2 {
                // A failed claim only costs \Recent; the new messages are still reported.
                match mail
                    .claim_recent(account, self.mailbox.id, ch.mailbox.uid_next)
                    .await
                {
                    Ok(from) => self.take_recent(from),
                    Err(e) => tracing::warn!(error = %e, "IMAP: \\Recent not claimed"),
                }
            }
            let _ = write!(out, "* {} EXISTS\r\n", self.uids.len());
            if !enabled.rev2 {
                let _ = write!(out, "* {} RECENT\r\n", self.recent.len());
            }
        }
        self.own.clear();
        self.modseq = self.modseq.max(ch.mailbox.highest_modseq);
        self.mailbox.uid_next = ch.mailbox.uid_next;
        Ok(())
    }

    /// Reports and forgets messages removed from the store.
    pub(crate) fn report_expunges(&mut self, vanished: bool, out: &mut Vec<u8>) {
        if self.pending_expunge.is_empty() {
            return;
        }
        let mut gone = std::mem::take(&mut self.pending_expunge);
        gone.sort_unstable();
        if vanished {
            let _ = write!(out, "* VANISHED {}\r\n", compact(&gone));
            self.uids.retain(|u| gone.binary_search(u).is_err());
            self.recent.retain(|u| gone.binary_search(u).is_err());
            return;
        }
        // Highest first: each EXPUNGE renumbers the messages after it.
        for uid in gone.iter().rev() {
            if let Some(seq) = self.seq_of(*uid) {
                let _ = write!(out, "* {seq} EXPUNGE\r\n");
                self.uids.remove(seq - 1);
                self.recent.remove(uid);
            }
        }
    }
}
