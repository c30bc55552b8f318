//! CREATE (with CREATE-SPECIAL-USE, RFC 6154), DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, LIST
//! (LIST-EXTENDED, RFC 5258; LIST-STATUS, RFC 5819; CHILDREN, RFC 3348), LSUB and STATUS
//! (STATUS=SIZE, RFC 8438; HIGHESTMODSEQ, RFC 7162).

use super::store_failure;
use crate::session::Session;
use carepost_audit::{NewEvent, action};
use carepost_mail::SEPARATOR;
use carepost_proto_imap::response::push_mailbox;
use carepost_proto_imap::{ListOptions, StatusItem};
use carepost_store::MailboxRow;
use std::collections::BTreeMap;

const SPECIAL_USES: [&str; 7] = [
    "\\All",
    "\\Archive",
    "\\Drafts",
    "\\Flagged",
    "\\Junk",
    "\\Sent",
    "\\Trash",
];

fn event(s: &Session, what: &'static str, target: String) -> Option<NewEvent> {
    let p = s.principal()?;
    Some(NewEvent::success(s.svc.clock.now(), &p.actor, what, target))
}

pub(super) async fn create(s: &mut Session, tag: &str, name: &str, uses: &[String]) {
    let name = name.trim_end_matches(SEPARATOR);
    let Some(account) = s.principal().map(|p| p.account) else {
        return;
    };
    let special = match uses {
        [] => None,
        [one] if SPECIAL_USES.iter().any(|u| u.eq_ignore_ascii_case(one)) => Some(one.as_str()),
        _ => {
            s.no(tag, Some("USEATTR"), "Unsupported special-use attribute");
            return;
        }
    };
    if name.eq_ignore_ascii_case("INBOX") {
        s.no(tag, Some("ALREADYEXISTS"), "INBOX exists already");
        return;
    }
    let Some(ev) = event(s, action::MAILBOX_CREATE, format!("mailbox:{name}")) else {
        return;
    };
    match s.svc.mail.create_mailbox(account, name, special, ev).await {
        Ok(_) => s.ok(tag, None, "CREATE completed"),
        Err(e) => store_failure(s, tag, e),
    }
}

pub(super) async fn delete(s: &mut Session, tag: &str, name: &str) {
    let Some(account) = s.principal().map(|p| p.account) else {
        return;
    };
    let selected = s.view_mut().map(|v| v.mailbox.id);
    let target = match s.svc.mail.find_mailbox(account, name).await {
        Ok(m) => m.id,
        Err(e) => return store_failure(s, tag, e),
    };
    if selected == Some(target) {
        s.no(
            tag,
            Some("INUSE"),
            "Unselect the mailbox before deleting it",
        );
        return;
    }
    let Some(ev) = event(s, action::MAILBOX_DELETE, format!("mailbox:{name}")) else {
        return;
    };
    match s.svc.mail.delete_mailbox(account, name, ev).await {
        Ok(()) => s.ok(tag, None, "DELETE completed"),
        Err(e) => store_failure(s, tag, e),
    }
}

pub(super) async fn rename(s: &mut Session, tag: &str, from: &str, to: &str) {
    let Some(account) = s.principal().map(|p| p.account) else {
        return;
    };
    let Some(ev) = event(s, action::MAILBOX_RENAME, format!("mailbox:{from}"))
        .map(|e| e.with_details(serde_json::json!({ "to": to })))
    else {
        return;
    };
    match s.svc.mail.rename_mailbox(account, from, to, ev).await {
        Ok(()) => {
            if let Some(v) = s.view_mut()
                && v.mailbox.name == from
                && from != "INBOX"
            {
                v.mailbox.name = to.to_string();
            }
            s.ok(tag, None, "RENAME completed")
        }
        Err(e) => store_failure(s, tag, e),
    }
}

pub(super) async fn subscribe(s: &mut Session, tag: &str, name: &str, on: bool) {
    let Some(account) = s.principal().map(|p| p.account) else {
        return;
    };
    match s.svc.mail.set_subscribed(account, name, on).await {
        Ok(()) => s.ok(
            tag,
            None,
            if on {
                "SUBSCRIBE completed"
            } else {
                "UNSUBSCRIBE completed"
            },
        ),
        Err(e) => store_failure(s, tag, e),
    }
}

/// Whether `name` matches an IMAP pattern: `*` matches anything, `%` anything but the
/// separator (RFC 9051 section 6.3.9). Dynamic programming over (pattern, name) positions:
/// O(pattern x name) time, no recursion, whatever wildcards a client sends.
fn matches(pattern: &[u8], name: &[u8]) -> bool {
    let sep = SEPARATOR as u8;
    // row[j]: the pattern so far matches name[..j].
    let mut row = vec![false; name.len() + 1];
    row[0] = true;
    for p in pattern {
        let mut next = vec![false; name.len() + 1];
        match p {
            b'*' | b'%' => {
                // Some earlier position matched and the bytes since hold no separator (`%`).
                let mut reach = false;
                for j in 0..=name.len() {
                    if j > 0 && *p == b'%' && name[j - 1] == sep {
                        reach = false;
                    }
                    reach |= row[j];
                    next[j] = reach;
                }
            }
            c => {
                for j in 1..=name.len() {
                    next[j] = row[j - 1] && name[j - 1] == *c;
                }
            }
        }
        row = next;
    }
    row[name.len()]
}

/// Patterns longer than this match nothing (a mailbox name is at most 255 bytes).
const MAX_PATTERN: usize = 1024;

fn pattern_matches(reference: &str, pattern: &str, name: &str) -> bool {
    let full = format!("{reference}{pattern}");
    if full.len() > MAX_PATTERN {
        return false;
    }
    // INBOX is case-insensitive, in patterns too.
    if name == "INBOX"
        && let Some(head) = full.get(..5)
        && head.eq_ignore_ascii_case("INBOX")
    {
        return matches(format!("INBOX{}", &full[5..]).as_bytes(), b"INBOX");
    }
    matches(full.as_bytes(), name.as_bytes())
}

/// A name in the listing: a mailbox, a parent that exists only in the names below it, or a
/// subscription to a name no mailbox has.
#[derive(Default)]
struct Listed<'a> {
    mailbox: Option<&'a MailboxRow>,
    children: bool,
    subscribed: bool,
}

fn tree<'a>(boxes: &'a [MailboxRow], subscribed: &[String]) -> BTreeMap<String, Listed<'a>> {
    let mut out: BTreeMap<String, Listed<'a>> = BTreeMap::new();
    for m in boxes {
        out.entry(m.name.clone()).or_default().mailbox = Some(m);
        let mut name = m.name.as_str();
        while let Some((parent, _)) = name.rsplit_once(SEPARATOR) {
            out.entry(parent.to_string()).or_default().children = true;
            name = parent;
        }
    }
    for n in subscribed {
        out.entry(n.clone()).or_default().subscribed = true;
        // Its superiors are names too (LSUB's `%` and RECURSIVEMATCH may show them), though
        // they give plain LIST nothing to show.
        let mut name = n.as_str();
        while let Some((parent, _)) = name.rsplit_once(SEPARATOR) {
            out.entry(parent.to_string()).or_default();
            name = parent;
        }
    }
    out
}

/// Whether a subscribed name below `name` matches none of the patterns: the reason to show
/// `name` for it (LIST's CHILDINFO, RFC 5258 section 3.5; LSUB's `%`, RFC 3501 section 6.3.9).
fn hidden_subscribed_child(
    name: &str,
    subscribed: &[String],
    matched: impl Fn(&str) -> bool,
) -> bool {
    let below = format!("{name}{SEPARATOR}");
    subscribed
        .iter()
        .any(|n| n.starts_with(&below) && !matched(n))
}

fn attributes(l: &Listed<'_>, o: &ListOptions, lsub: bool) -> Vec<&'static str> {
    let mut a = Vec::new();
    match l.mailbox {
        None if o.extended => a.push("\\NonExistent"),
        None => a.push("\\Noselect"),
        Some(_) => {}
    }
    if !lsub {
        a.push(if l.children {
            "\\HasChildren"
        } else {
            "\\HasNoChildren"
        });
    }
    if (o.return_subscribed || o.subscribed) && l.subscribed {
        a.push("\\Subscribed");
    }
    if let Some(u) = l.mailbox.and_then(|m| m.special_use.as_deref()) {
        a.push(
            SPECIAL_USES
                .iter()
                .find(|x| **x == u)
                .copied()
                .unwrap_or(""),
        );
    }
    a.retain(|x| !x.is_empty());
    a
}

/// `* LIST (attributes) "/" name[extra]`, or LSUB.
fn push_listed(s: &mut Session, verb: &str, attrs: &[&str], name: &str, extra: &str, utf8: bool) {
    let mut line = format!("* {verb} ({}) \"{SEPARATOR}\" ", attrs.join(" ")).into_bytes();
    push_mailbox(&mut line, name, utf8);
    line.extend_from_slice(extra.as_bytes());
    line.extend_from_slice(b"\r\n");
    s.out.extend_from_slice(&line);
}

pub(super) async fn list(
    s: &mut Session,
    tag: &str,
    reference: &str,
    patterns: &[String],
    o: &ListOptions,
) {
    let Some(account) = s.principal().map(|p| p.account) else {
        return;
    };
    if patterns.len() == 1 && patterns[0].is_empty() && !o.extended {
        s.untagged(&format!("LIST (\\Noselect) \"{SEPARATOR}\" \"\""));
        s.ok(tag, None, "LIST completed");
        return;
    }
    let (boxes, subscribed) = match listing(s, account).await {
        Ok(x) => x,
        Err(e) => return store_failure(s, tag, e),
    };
    let utf8 = s.utf8();
    let all = tree(&boxes, &subscribed);
    let matched = |n: &str| patterns.iter().any(|p| pattern_matches(reference, p, n));
    for (name, l) in &all {
        if !matched(name) {
            continue;
        }
        let special = l.mailbox.is_some_and(|m| m.special_use.is_some());
        let mut child_info = false;
        if o.subscribed && !l.subscribed {
            if o.recursive_match && hidden_subscribed_child(name, &subscribed, matched) {
                child_info = true;
            } else {
                continue;
            }
        }
        if o.special_use && !special {
            continue;
        }
        // Without SUBSCRIBED, a subscription alone does not make a name listed.
        if !o.subscribed && l.mailbox.is_none() && !l.children {
            continue;
        }
        let extra = if child_info {
            " (\"CHILDINFO\" (\"SUBSCRIBED\"))"
        } else {
            ""
        };
        push_listed(s, "LIST", &attributes(l, o, false), name, extra, utf8);
        if let (Some(items), Some(m)) = (&o.return_status, l.mailbox) {
            write_status(s, m, items).await;
        }
    }
    s.ok(tag, None, "LIST completed");
}

async fn listing(
    s: &Session,
    account: carepost_types::AccountId,
) -> Result<(Vec<MailboxRow>, Vec<String>), carepost_mail::MailError> {
    let boxes = s.svc.mail.client_mailboxes(account).await?;
    let subscribed = s.svc.mail.subscriptions(account).await?;
    Ok((boxes, subscribed))
}

/// LSUB (RFC 3501 section 6.3.9): the subscribed names; with a pattern ending in `%`, also an
/// unsubscribed name whose subscribed inferiors the pattern does not reach, as `\Noselect`.
pub(super) async fn lsub(s: &mut Session, tag: &str, reference: &str, pattern: &str) {
    let Some(account) = s.principal().map(|p| p.account) else {
        return;
    };
    let (boxes, subscribed) = match listing(s, account).await {
        Ok(x) => x,
        Err(e) => return store_failure(s, tag, e),
    };
    let utf8 = s.utf8();
    let all = tree(&boxes, &subscribed);
    let matched = |n: &str| pattern_matches(reference, pattern, n);
    let o = ListOptions::default();
    for (name, l) in &all {
        if !matched(name) {
            continue;
        }
        if l.subscribed {
            push_listed(s, "LSUB", &attributes(l, &o, true), name, "", utf8);
        } else if pattern.ends_with('%') && hidden_subscribed_child(name, &subscribed, matched) {
            push_listed(s, "LSUB", &["\\Noselect"], name, "", utf8);
        }
    }
    s.ok(tag, None, "LSUB completed");
}

/// Writes `* STATUS name (...)` for a mailbox; false when the store failed.
async fn write_status(s: &mut Session, m: &MailboxRow, items: &[StatusItem]) -> bool {
    let Some(account) = s.principal().map(|p| p.account) else {
        return false;
    };
    let (mailbox, rows) = match s.svc.mail.mailbox_messages(account, m.id).await {
        Ok(x) => x,
        Err(e) => {
            tracing::warn!(error = %e, "IMAP STATUS failed");
            return false;
        }
    };
    let has = |r: &carepost_store::MessageRow, f: &str| r.flags.split_whitespace().any(|x| x == f);
    let mut parts = Vec::new();
    for item in items {
        let value: i64 = match item {
            StatusItem::Messages => rows.len() as i64,
            StatusItem::UidNext => mailbox.uid_next,
            StatusItem::UidValidity => mailbox.uid_validity,
            StatusItem::Unseen => rows.iter().filter(|r| !has(r, "\\Seen")).count() as i64,
            StatusItem::Deleted => rows.iter().filter(|r| has(r, "\\Deleted")).count() as i64,
            StatusItem::Size => rows.iter().map(|r| r.size).sum(),
            StatusItem::Recent => rows
                .iter()
                .filter(|r| r.uid >= mailbox.first_recent_uid)
                .count() as i64,
            StatusItem::HighestModSeq => mailbox.highest_modseq,
        };
        parts.push(format!("{} {value}", item.name()));
    }
    let mut line = b"* STATUS ".to_vec();
    push_mailbox(&mut line, &mailbox.name, s.utf8());
    line.extend_from_slice(format!(" ({})\r\n", parts.join(" ")).as_bytes());
    s.out.extend_from_slice(&line);
    true
}

pub(super) async fn status(s: &mut Session, tag: &str, name: &str, items: &[StatusItem]) {
    let Some(account) = s.principal().map(|p| p.account) else {
        return;
    };
    let m = match s.svc.mail.find_mailbox(account, name).await {
        Ok(m) => m,
        Err(e) => return store_failure(s, tag, e),
    };
    if write_status(s, &m, items).await {
        s.ok(tag, None, "STATUS completed");
    } else {
        s.no(tag, Some("UNAVAILABLE"), "Temporary failure, try again");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc9051_6_3_9_wildcards() {
        assert!(matches(b"*", b"a/b/c"));
        assert!(matches(b"%", b"abc"));
        assert!(!matches(b"%", b"a/b"));
        assert!(matches(b"a/%", b"a/b"));
        assert!(!matches(b"a/%", b"a/b/c"));
        assert!(matches(b"a*c", b"a/b/c"));
        assert!(pattern_matches("", "inbox", "INBOX"));
        assert!(pattern_matches("Work/", "%", "Work/x"));
        assert!(!matches(b"%b", b"a/b"));
        assert!(matches(b"%/%", b"a/b"));
        assert!(!pattern_matches("", "ééé", "INBOX"));
        let many = "*a".repeat(5000) + "b";
        assert!(!pattern_matches("", &many, &"a".repeat(255)));
    }
}
