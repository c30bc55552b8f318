//! STORE and UID STORE (RFC 9051 section 6.4.6) with CONDSTORE's UNCHANGEDSINCE and the
//! MODIFIED response code (RFC 7162 section 3.1.3).

use super::store_failure;
use crate::session::Session;
use crate::view::flag_list;
use carepost_mail::FlagOp;
use carepost_proto_imap::{SequenceSet, StoreMode, compact};
use std::collections::BTreeSet;
use std::io::Write;

const SYSTEM: [&str; 5] = ["\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft"];

/// A flag as stored: system flags in their canonical case; `None` for one that cannot be
/// stored (`\Recent`, an unknown system flag).
pub(crate) fn canonical(flag: &str) -> Option<String> {
    if let Some(sys) = SYSTEM.iter().find(|f| f.eq_ignore_ascii_case(flag)) {
        return Some(sys.to_string());
    }
    if flag.starts_with('\\') {
        return None;
    }
    Some(flag.to_string())
}

#[allow(clippy::too_many_arguments)] // One argument per part of the command's grammar.
pub(super) async fn store(
    s: &mut Session,
    tag: &str,
    by_uid: bool,
    set: &SequenceSet,
    mode: StoreMode,
    silent: bool,
    flags: &[String],
    unchanged_since: Option<u64>,
) {
    let mut wanted = BTreeSet::new();
    for f in flags {
        match canonical(f) {
            Some(f) => {
                wanted.insert(f);
            }
            None => {
                s.bad(tag, &format!("{f} cannot be stored"));
                return;
            }
        }
    }
    if unchanged_since.is_some() {
        s.enable_condstore();
    }
    s.sync(by_uid).await;
    let Some(account) = s.principal().map(|p| p.account) else {
        return;
    };
    let Some(view) = s.view_mut() else { return };
    if view.read_only {
        s.no(tag, Some("READ-ONLY"), "The mailbox is open read-only");
        return;
    }
    let uids = match view.resolve(set, by_uid) {
        Ok(u) => u,
        Err(_) => {
            s.bad(tag, "Invalid message sequence number");
            return;
        }
    };
    let mailbox_id = view.mailbox.id;
    let op = match mode {
        StoreMode::Replace => FlagOp::Replace,
        StoreMode::Add => FlagOp::Add,
        StoreMode::Remove => FlagOp::Remove,
    };
    let uids64: Vec<i64> = uids.iter().map(|u| i64::from(*u)).collect();
    let limit = unchanged_since.map(|n| i64::try_from(n).unwrap_or(i64::MAX));
    let done = match s
        .svc
        .mail
        .change_flags(account, mailbox_id, &uids64, op, &wanted, limit)
        .await
    {
        Ok(d) => d,
        Err(e) => return store_failure(s, tag, e),
    };
    let modified: Vec<u32> = done.modified.iter().map(|u| *u as u32).collect();
    let condstore = s.enabled.condstore;
    let mut out = Vec::new();
    if let Some(v) = s.view_mut() {
        if let Some(m) = done.modseq {
            v.own.push(m);
        }
        for st in &done.messages {
            let (uid, flags, m) = (st.uid, &st.flags, st.modseq);
            if silent && !(st.changed && condstore) {
                continue;
            }
            let Some(seq) = v.seq_of(uid as u32) else {
                continue;
            };
            let _ = write!(out, "* {seq} FETCH (");
            if by_uid {
                let _ = write!(out, "UID {uid} ");
            }
            if silent {
                let _ = write!(out, "MODSEQ ({m}))\r\n");
                continue;
            }
            let recent = v.recent.contains(&(uid as u32));
            let _ = write!(out, "FLAGS {}", flag_list(flags, recent));
            if condstore {
                let _ = write!(out, " MODSEQ ({m})");
            }
            out.extend_from_slice(b")\r\n");
        }
    }
    s.out.extend_from_slice(&out);
    if modified.is_empty() {
        s.ok(tag, None, "STORE completed");
    } else {
        s.ok(
            tag,
            Some(&format!("MODIFIED {}", compact(&modified))),
            "Some messages changed since",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_added_removed_and_replaced_as_sets() {
        let f: BTreeSet<String> = ["\\Seen".to_string()].into();
        assert_eq!(FlagOp::Add.apply("\\Flagged", &f), "\\Flagged \\Seen");
        assert_eq!(FlagOp::Remove.apply("\\Flagged \\Seen", &f), "\\Flagged");
        assert_eq!(FlagOp::Replace.apply("\\Flagged", &f), "\\Seen");
        assert_eq!(canonical("\\seen").as_deref(), Some("\\Seen"));
        assert_eq!(canonical("\\Recent"), None);
        assert_eq!(canonical("$Junk").as_deref(), Some("$Junk"));
    }
}
