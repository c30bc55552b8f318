//! EXPUNGE and UID EXPUNGE (UIDPLUS, RFC 4315), COPY and MOVE (RFC 6851) with COPYUID.

use super::store_failure;
use crate::session::Session;
use crate::view::View;
use carepost_audit::{Actor, NewEvent, action};
use carepost_mail::MailError;
use carepost_proto_imap::{SequenceSet, ordered};
use carepost_types::AccountId;

/// Removes the view's messages flagged `\Deleted` (within `only`, when given); returns how
/// many. The session reports them at its next sync.
pub(super) async fn expunge_deleted(
    s: &Session,
    account: AccountId,
    actor: &Actor,
    view: &View,
    only: Option<&[u32]>,
) -> Result<i64, MailError> {
    let event = NewEvent::success(
        s.svc.clock.now(),
        actor,
        action::MAIL_EXPUNGE,
        format!("mailbox:{}", view.mailbox.name),
    );
    let only: Option<Vec<i64>> = only.map(|o| o.iter().map(|u| i64::from(*u)).collect());
    s.svc
        .mail
        .expunge_deleted(account, view.mailbox.id, only.as_deref(), event)
        .await
}

pub(super) async fn expunge(s: &mut Session, tag: &str, set: Option<&SequenceSet>) {
    let Some(p) = s.principal() else { return };
    let (account, actor) = (p.account, p.actor.clone());
    let Some(view) = s.view_mut() else { return };
    if view.read_only {
        s.no(tag, Some("READ-ONLY"), "The mailbox is open read-only");
        return;
    }
    let only = match set.map(|set| view.resolve(set, true)) {
        None => None,
        Some(Ok(uids)) => Some(uids),
        Some(Err(_)) => {
            s.bad(tag, "Invalid message set");
            return;
        }
    };
    let view_ptr: &View = match &s.state {
        crate::session::State::Selected(_, v) => v,
        _ => return,
    };
    if let Err(e) = expunge_deleted(s, account, &actor, view_ptr, only.as_deref()).await {
        return store_failure(s, tag, e);
    }
    s.sync(true).await;
    s.ok(tag, None, "EXPUNGE completed");
}

pub(super) async fn copy(
    s: &mut Session,
    tag: &str,
    by_uid: bool,
    set: &SequenceSet,
    target: &str,
    remove: bool,
) {
    let Some(p) = s.principal() else { return };
    let (account, actor) = (p.account, p.actor.clone());
    let Some(view) = s.view_mut() else { return };
    if remove && view.read_only {
        s.no(tag, Some("READ-ONLY"), "The mailbox is open read-only");
        return;
    }
    let from = view.mailbox.id;
    let uids = match view.resolve(set, by_uid) {
        Ok(u) => u,
        Err(_) => {
            s.bad(tag, "Invalid message set");
            return;
        }
    };
    let dest = match s.svc.mail.find_mailbox(account, target).await {
        Ok(m) => m,
        Err(MailError::NoMailbox(_)) => {
            s.no(tag, Some("TRYCREATE"), "No such mailbox");
            return;
        }
        Err(e) => return store_failure(s, tag, e),
    };
    let uids64: Vec<i64> = uids.iter().map(|u| i64::from(*u)).collect();
    let event = remove.then(|| {
        NewEvent::success(
            s.svc.clock.now(),
            &actor,
            action::MAIL_MOVE,
            format!("mailbox:{target}"),
        )
    });
    let pairs = match s
        .svc
        .mail
        .copy(account, from, &uids64, dest.id, remove, event)
        .await
    {
        Ok(p) => p,
        Err(e) => return store_failure(s, tag, e),
    };
    let verb = if remove { "MOVE" } else { "COPY" };
    if pairs.is_empty() {
        s.ok(tag, None, &format!("{verb} completed; no messages"));
        return;
    }
    let src: Vec<u32> = pairs.iter().map(|p| p.0 as u32).collect();
    let dst: Vec<u32> = pairs.iter().map(|p| p.1 as u32).collect();
    let code = format!(
        "COPYUID {} {} {}",
        dest.uid_validity,
        ordered(&src),
        ordered(&dst)
    );
    if remove {
        s.untagged(&format!("OK [{code}] Moved"));
        s.sync(true).await;
        s.ok(tag, None, "MOVE completed");
    } else {
        s.ok(tag, Some(&code), "COPY completed");
    }
}
