//! Invitations by mail to people outside the organization (iMIP, RFC 6047): the iTIP message
//! the calendar made (REQUEST, CANCEL or REPLY) as a `text/calendar; method=...` part beside
//! a plain-text summary, from the organizer's (or answering attendee's) own address, DKIM-signed
//! like their other mail and sent through the outbound queue, so retries, bounces to the
//! sender and the audit record are the queue's.

use crate::{Delivery, MailError, MailStore, Outbound};
use carepost_audit::{Actor, NewEvent, action};
use carepost_types::AccountId;
use mail_builder::MessageBuilder;
use mail_builder::headers::content_type::ContentType;
use mail_builder::mime::MimePart;
use mail_parser::MimeHeaders;
use serde_json::json;

/// One iTIP message for one person outside.
#[derive(Debug, Clone)]
pub struct Invitation<'a> {
    /// The account it is sent for, and its address (the From: and the envelope sender).
    pub account: AccountId,
    pub from: &'a str,
    pub to: &'a str,
    /// `REQUEST`, `CANCEL` or `REPLY`.
    pub method: &'a str,
    /// The event's SUMMARY, for the subject.
    pub summary: &'a str,
    /// The iCalendar text with its METHOD.
    pub ical: &'a str,
}

impl MailStore {
    /// Queues `inv`; returns once the message and its queue entry are on disk.
    pub async fn send_imip(&self, inv: &Invitation<'_>) -> Result<(), MailError> {
        let config = self.config();
        let now = self.clock().now();
        let id = hex::encode(self.inner.rng.bytes(12));
        let (subject, words) = match inv.method {
            "CANCEL" => (
                format!("Cancelled: {}", inv.summary),
                format!("{} has cancelled \"{}\".", inv.from, inv.summary),
            ),
            "REPLY" => (
                format!("Answer: {}", inv.summary),
                format!(
                    "{} has answered the invitation to \"{}\".",
                    inv.from, inv.summary
                ),
            ),
            _ => (
                format!("Invitation: {}", inv.summary),
                format!(
                    "{} invites you to \"{}\". Your calendar application shows the details \
                     and lets you answer.",
                    inv.from, inv.summary
                ),
            ),
        };
        let calendar = ContentType::new("text/calendar")
            .attribute("method", inv.method)
            .attribute("charset", "utf-8");
        let raw = MessageBuilder::new()
            .from(inv.from)
            .to(inv.to)
            .subject(subject.as_str())
            .date(now.0 / 1000)
            .message_id(format!("imip.{id}@{}", config.mail.hostname))
            .body(MimePart::new(
                "multipart/alternative",
                vec![
                    MimePart::new(
                        ContentType::new("text/plain").attribute("charset", "utf-8"),
                        words,
                    ),
                    MimePart::new(calendar, inv.ical),
                ],
            ))
            .write_to_vec()
            .map_err(MailError::Blob)?;
        let raw = match self.dkim().map(|k| k.sign(&raw)) {
            Some(Ok(header)) => [header.as_bytes(), &raw].concat(),
            Some(Err(e)) => {
                tracing::warn!(error = %e, "DKIM signing failed; sending the invitation unsigned");
                raw
            }
            None => raw,
        };
        let actor = Actor::Account {
            id: inv.account,
            address: inv.from.to_string(),
        };
        let event = NewEvent::success(now, &actor, action::MAIL_SUBMIT, format!("imip:{}", inv.to))
            .with_details(json!({ "imip": inv.method, "to": inv.to, "size": raw.len() }));
        self.deliver(Delivery {
            raw,
            targets: Vec::new(),
            outbound: Some(Outbound {
                mail_from: inv.from.to_string(),
                sender: Some(inv.account),
                recipients: vec![inv.to.to_string()],
                lifetime: config.mail.queue_lifetime,
                require_tls: false,
            }),
            event,
        })
        .await
        .map(|_| ())
    }
}

/// Calendar parts of this many at most are read from one message.
const MAX_CALENDAR_PARTS: usize = 4;

/// The `text/calendar; method=REPLY` parts of a message (RFC 6047 section 2.4: the method
/// parameter must match the object's METHOD; the calendar crate checks the object itself).
pub fn calendar_replies(raw: &[u8]) -> Vec<String> {
    let Some(msg) = mail_parser::MessageParser::default().parse(raw) else {
        return Vec::new();
    };
    msg.parts
        .iter()
        .filter(|p| {
            p.is_content_type("text", "calendar")
                && p.content_type()
                    .and_then(|ct| ct.attribute("method"))
                    .is_some_and(|m| m.eq_ignore_ascii_case("REPLY"))
        })
        // mail-parser may keep a calendar part as bytes rather than text: read it either way.
        .filter_map(|p| std::str::from_utf8(p.contents()).ok().map(str::to_string))
        .take(MAX_CALENDAR_PARTS)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_reply_parts_are_read() {
        let raw = b"From: a@example.com\r\nTo: b@kaiser.org\r\nSubject: x\r\nMIME-Version: 1.0\r\n\
            Content-Type: multipart/alternative; boundary=\"b\"\r\n\r\n--b\r\n\
            Content-Type: text/plain\r\n\r\nAccepted\r\n--b\r\n\
            Content-Type: text/calendar; method=REPLY; charset=utf-8\r\n\r\n\
            BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nEND:VCALENDAR\r\n--b\r\n\
            Content-Type: text/calendar; method=REQUEST\r\n\r\nBEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n\
            --b--\r\n";
        let parts = calendar_replies(raw);
        assert_eq!(parts.len(), 1);
        assert!(parts[0].contains("METHOD:REPLY"));
        let single = b"From: a@example.com\r\nTo: b@kaiser.org\r\nMIME-Version: 1.0\r\n\
            Content-Type: text/calendar; method=REPLY; charset=utf-8\r\n\r\n\
            BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nEND:VCALENDAR\r\n";
        assert_eq!(calendar_replies(single).len(), 1);
    }
}
