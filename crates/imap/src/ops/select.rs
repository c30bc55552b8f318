//! SELECT and EXAMINE (RFC 9051 section 6.3.2; CONDSTORE and QRESYNC parameters, RFC 7162
//! section 3.2.5), CLOSE (which expunges quietly) and UNSELECT (RFC 3691, which does not).

use super::store_failure;
use crate::session::{Principal, Session, State};
use crate::view::{View, flag_list};
use carepost_proto_imap::Qresync;
use carepost_proto_imap::response::push_mailbox;
use carepost_proto_imap::{SequenceSet, compact};
use std::collections::BTreeSet;
use std::io::Write;

const SYSTEM_FLAGS: &str = "\\Answered \\Flagged \\Deleted \\Seen \\Draft";

/// Leaves the selected state, keeping the principal.
fn deselect(s: &mut Session) -> Option<Box<View>> {
    match std::mem::replace(&mut s.state, State::Logout) {
        State::Selected(p, v) => {
            s.state = State::Authenticated(p);
            Some(v)
        }
        other => {
            s.state = other;
            None
        }
    }
}

fn principal_out(s: &mut Session) -> Option<Principal> {
    match std::mem::replace(&mut s.state, State::Logout) {
        State::Authenticated(p) | State::Selected(p, _) => Some(p),
        other => {
            s.state = other;
            None
        }
    }
}

pub(super) async fn select(
    s: &mut Session,
    tag: &str,
    name: &str,
    read_only: bool,
    condstore: bool,
    qresync: Option<Qresync>,
) {
    if qresync.is_some() && !s.enabled.qresync {
        s.bad(tag, "ENABLE QRESYNC first");
        return;
    }
    if condstore {
        s.enabled.condstore = true;
    }
    let was_selected = deselect(s).is_some();
    if was_selected && (s.enabled.condstore || s.enabled.rev2) {
        s.untagged("OK [CLOSED] Previous mailbox closed");
    }
    let Some(account) = s.principal().map(|p| p.account) else {
        return;
    };
    let (mailbox, rows) = match s.svc.mail.open_mailbox(account, name).await {
        Ok(x) => x,
        Err(e) => return store_failure(s, tag, e),
    };
    let mut keywords: BTreeSet<&str> = BTreeSet::new();
    for (_, flags) in &rows {
        keywords.extend(flags.split_whitespace().filter(|f| !f.starts_with('\\')));
    }
    let keywords: Vec<&str> = keywords.into_iter().collect();
    let flags = [SYSTEM_FLAGS]
        .into_iter()
        .chain(keywords.iter().copied())
        .collect::<Vec<_>>()
        .join(" ");
    let mut out = Vec::new();
    let _ = write!(out, "* FLAGS ({flags})\r\n");
    let permanent = if read_only {
        String::new()
    } else {
        format!("{flags} \\*")
    };
    let _ = write!(
        out,
        "* OK [PERMANENTFLAGS ({permanent})] Flags permitted\r\n"
    );
    let _ = write!(out, "* {} EXISTS\r\n", rows.len());
    let mut view = View::new(
        mailbox,
        read_only,
        rows.iter().map(|(uid, _)| *uid as u32).collect(),
    );
    if !s.enabled.rev2 {
        // EXAMINE shows what is recent without claiming it; SELECT claims it.
        // Nothing to claim (no message arrived since the last claim) costs no write.
        let from = if read_only || view.mailbox.first_recent_uid >= view.mailbox.uid_next {
            view.mailbox.first_recent_uid
        } else {
            match s
                .svc
                .mail
                .claim_recent(account, view.mailbox.id, view.mailbox.uid_next)
                .await
            {
                Ok(from) => from,
                Err(e) => return store_failure(s, tag, e),
            }
        };
        view.take_recent(from);
        let _ = write!(out, "* {} RECENT\r\n", view.recent.len());
        let unseen = rows
            .iter()
            .position(|(_, flags)| !flags.split_whitespace().any(|f| f == "\\Seen"));
        if let Some(i) = unseen {
            let _ = write!(out, "* OK [UNSEEN {}] First unseen\r\n", i + 1);
        }
    }
    let _ = write!(
        out,
        "* OK [UIDVALIDITY {}] UIDs valid\r\n* OK [UIDNEXT {}] Predicted next UID\r\n* OK [HIGHESTMODSEQ {}] Highest\r\n",
        view.mailbox.uid_validity, view.mailbox.uid_next, view.mailbox.highest_modseq
    );
    if s.enabled.rev2 {
        out.extend_from_slice(b"* LIST () \"/\" ");
        push_mailbox(&mut out, &view.mailbox.name, s.utf8());
        out.extend_from_slice(b"\r\n");
    }
    if let Some(q) = qresync
        && i64::from(q.uid_validity) == view.mailbox.uid_validity
        && let Err(e) = resync(s, &view, &q, &mut out).await
    {
        return store_failure(s, tag, e);
    }
    s.out.extend_from_slice(&out);
    let Some(p) = principal_out(s) else { return };
    s.state = State::Selected(p, Box::new(view));
    let code = if read_only { "READ-ONLY" } else { "READ-WRITE" };
    let verb = if read_only { "EXAMINE" } else { "SELECT" };
    s.ok(tag, Some(code), &format!("{verb} completed"));
}

/// QRESYNC: what the client missed since its modseq, as VANISHED (EARLIER) and FETCH.
async fn resync(
    s: &Session,
    view: &View,
    q: &Qresync,
    out: &mut Vec<u8>,
) -> Result<(), carepost_mail::MailError> {
    let Some(account) = s.principal().map(|p| p.account) else {
        return Ok(());
    };
    let modseq = i64::try_from(q.modseq).unwrap_or(i64::MAX);
    let ch = s
        .svc
        .mail
        .changes_since(account, view.mailbox.id, modseq)
        .await?;
    let known = |uid: u32| {
        q.known_uids
            .as_ref()
            .is_none_or(|k: &SequenceSet| k.contains(uid, u32::MAX))
    };
    let vanished: Vec<u32> = ch
        .expunged
        .iter()
        .map(|u| *u as u32)
        .filter(|u| known(*u))
        .collect();
    if !vanished.is_empty() {
        let _ = write!(out, "* VANISHED (EARLIER) {}\r\n", compact(&vanished));
    }
    for row in &ch.changed {
        let uid = row.uid as u32;
        if let Some(seq) = view.seq_of(uid) {
            let _ = write!(
                out,
                "* {seq} FETCH (UID {uid} FLAGS {} MODSEQ ({}))\r\n",
                flag_list(&row.flags, view.recent.contains(&uid)),
                row.modseq
            );
        }
    }
    Ok(())
}

/// CLOSE (`expunge`) or UNSELECT.
pub(super) async fn close(s: &mut Session, tag: &str, expunge: bool) {
    let Some(view) = deselect(s) else { return };
    if expunge && !view.read_only {
        let Some(p) = s.principal() else { return };
        let (account, actor) = (p.account, p.actor.clone());
        if let Err(e) = super::copy::expunge_deleted(s, account, &actor, &view, None).await {
            return store_failure(s, tag, e);
        }
    }
    let verb = if expunge { "CLOSE" } else { "UNSELECT" };
    s.ok(tag, None, &format!("{verb} completed"));
}
