//! CAPABILITY, NOOP, LOGOUT, ID (RFC 2971), ENABLE (RFC 5161), NAMESPACE (RFC 2342) and the
//! QUOTA commands (RFC 9208): the storage quota is the account's mail quota, one root.

use crate::session::{After, Next, Session, State};
use carepost_proto_imap::response::{push_mailbox, push_string};

pub(super) fn capability(s: &mut Session, tag: &str) {
    let caps = s.capability_list();
    s.untagged(&format!("CAPABILITY {caps}"));
    s.ok(tag, None, "CAPABILITY completed");
}

pub(super) async fn noop(s: &mut Session, tag: &str) {
    s.sync(true).await;
    s.ok(tag, None, "NOOP completed");
}

pub(super) fn logout(s: &mut Session, tag: &str) -> After {
    s.untagged("BYE carepost IMAP signing off");
    s.ok(tag, None, "LOGOUT completed");
    s.state = State::Logout;
    After::Next(Next::Close)
}

pub(super) fn id(s: &mut Session, tag: &str) {
    s.untagged("ID (\"name\" \"carepost\" \"vendor\" \"carepost\")");
    s.ok(tag, None, "ID completed");
}

pub(super) fn enable(s: &mut Session, tag: &str, caps: &[String]) {
    let mut on = Vec::new();
    for c in caps {
        let e = &mut s.enabled;
        let newly = match c.as_str() {
            "IMAP4REV2" => !std::mem::replace(&mut e.rev2, true),
            "UTF8=ACCEPT" => !std::mem::replace(&mut e.utf8, true),
            "CONDSTORE" => !std::mem::replace(&mut e.condstore, true),
            "QRESYNC" => {
                // QRESYNC implies CONDSTORE (RFC 7162 section 3.2.3).
                e.condstore = true;
                !std::mem::replace(&mut e.qresync, true)
            }
            _ => false,
        };
        if newly {
            on.push(c.as_str());
        }
    }
    if !on.is_empty() {
        s.untagged(&format!("ENABLED {}", on.join(" ")));
    }
    s.ok(tag, None, "ENABLE completed");
}

pub(super) fn namespace(s: &mut Session, tag: &str) {
    s.untagged(&format!(
        "NAMESPACE ((\"\" \"{}\")) NIL NIL",
        carepost_mail::SEPARATOR
    ));
    s.ok(tag, None, "NAMESPACE completed");
}

/// The one quota root every account has.
const ROOT: &str = "";

async fn write_quota(s: &mut Session) -> bool {
    let Some(p) = s.principal() else { return false };
    let account = p.account;
    let (bytes, messages) = match s.svc.mail.usage(account).await {
        Ok(u) => u,
        Err(e) => {
            tracing::warn!(error = %e, "IMAP: quota usage unavailable");
            return false;
        }
    };
    let limit_kib = s.svc.config.mail.quota / 1024;
    let mut line = b"* QUOTA ".to_vec();
    push_string(&mut line, ROOT.as_bytes(), false);
    line.extend_from_slice(
        format!(
            " (STORAGE {} {limit_kib} MESSAGE {messages} {})\r\n",
            bytes.div_ceil(1024),
            u32::MAX
        )
        .as_bytes(),
    );
    s.out.extend_from_slice(&line);
    true
}

pub(super) async fn get_quota(s: &mut Session, tag: &str, root: &str) {
    if root != ROOT {
        s.no(tag, Some("NONEXISTENT"), "No such quota root");
        return;
    }
    if write_quota(s).await {
        s.ok(tag, None, "GETQUOTA completed");
    } else {
        s.no(tag, Some("UNAVAILABLE"), "Temporary failure, try again");
    }
}

pub(super) async fn get_quota_root(s: &mut Session, tag: &str, mailbox: &str) {
    let Some(account) = s.principal().map(|p| p.account) else {
        return;
    };
    if let Err(e) = s.svc.mail.find_mailbox(account, mailbox).await {
        super::store_failure(s, tag, e);
        return;
    }
    let mut line = b"* QUOTAROOT ".to_vec();
    push_mailbox(&mut line, mailbox, s.utf8());
    line.extend_from_slice(b" \"\"\r\n");
    s.out.extend_from_slice(&line);
    if write_quota(s).await {
        s.ok(tag, None, "GETQUOTAROOT completed");
    } else {
        s.no(tag, Some("UNAVAILABLE"), "Temporary failure, try again");
    }
}
