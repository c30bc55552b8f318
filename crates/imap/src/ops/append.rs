//! APPEND (RFC 9051 section 6.3.12) with UIDPLUS's APPENDUID (RFC 4315), the APPENDLIMIT
//! (RFC 7889, enforced while framing) and the account's quota (`[OVERQUOTA]`, RFC 9208).

use super::store::canonical;
use super::store_failure;
use crate::session::Session;
use carepost_audit::{NewEvent, action};
use carepost_mail::{Delivery, MailError, Target};
use carepost_types::UnixMillis;

pub(super) async fn append(
    s: &mut Session,
    tag: &str,
    name: &str,
    flags: &[String],
    date: Option<i64>,
    message: Vec<u8>,
) {
    let Some(p) = s.principal() else { return };
    let (account, actor) = (p.account, p.actor.clone());
    let mailbox = match s.svc.mail.find_mailbox(account, name).await {
        Ok(m) => m,
        Err(MailError::NoMailbox(_)) => {
            s.no(tag, Some("TRYCREATE"), "No such mailbox");
            return;
        }
        Err(e) => return store_failure(s, tag, e),
    };
    if message.is_empty() {
        s.no(tag, Some("CANNOT"), "An empty message cannot be stored");
        return;
    }
    match s.svc.mail.usage(account).await {
        Ok((bytes, _)) if bytes + message.len() as u64 > s.svc.config.mail.quota => {
            s.no(tag, Some("OVERQUOTA"), "The mailbox is full");
            return;
        }
        Ok(_) => {}
        Err(e) => return store_failure(s, tag, e),
    }
    let flags: Vec<String> = flags.iter().filter_map(|f| canonical(f)).collect();
    let event = NewEvent::success(
        s.svc.clock.now(),
        &actor,
        action::MAIL_APPEND,
        format!("mailbox:{}", mailbox.name),
    )
    .with_details(serde_json::json!({ "size": message.len() }));
    let delivery = Delivery {
        raw: message,
        targets: vec![Target {
            flags: flags.join(" "),
            mailbox: Some(mailbox.id),
            internal_date: date.map(|secs| UnixMillis(secs.saturating_mul(1000))),
            ..Target::inbox(account)
        }],
        outbound: None,
        event,
    };
    let placed = match s.svc.mail.deliver(delivery).await {
        Ok(p) => p,
        Err(MailError::Invalid(why)) => {
            s.no(tag, Some("PARSE"), &why);
            return;
        }
        Err(e) => return store_failure(s, tag, e),
    };
    s.sync(true).await;
    let code = placed
        .first()
        .map(|p| format!("APPENDUID {} {}", mailbox.uid_validity, p.uid));
    s.ok(tag, code.as_deref(), "APPEND completed");
}
