//! Mail carepost itself writes to a person outside the organization (a first-sign-in
//! invitation to the personal address HR recorded). Built with mail-builder, DKIM-signed like
//! staff mail, and sent through the same outbound queue, so retries, the far end's answer and
//! the audit record are the queue's; it is never put in a mailbox. TLS reports to other
//! organizations (`tls_reports`) leave the same way.

use crate::{Delivery, MailError, MailStore, Outbound};
use carepost_audit::{Actor, NewEvent, action};
use mail_builder::MessageBuilder;
use mail_builder::headers::raw::Raw;
use serde_json::json;

/// One notice: to whom, about what (the audit event's target), and its words.
#[derive(Debug, Clone)]
pub struct Notice<'a> {
    pub to: &'a str,
    /// What the notice is about, as the audit trail names it (`account:ann.lee@kaiser.org`).
    pub about: String,
    pub subject: &'a str,
    pub text: &'a str,
}

impl MailStore {
    /// Queues `n` for delivery, from `no-reply@` the organization's domain, in `actor`'s name
    /// on the audit trail. Returns once the message and its queue entry are on disk.
    pub async fn send_notice(&self, actor: &Actor, n: &Notice<'_>) -> Result<(), MailError> {
        let config = self.config();
        let from = format!("no-reply@{}", config.organization.domain.as_str());
        let now = self.clock().now();
        let id = hex::encode(self.inner.rng.bytes(12));
        let raw = MessageBuilder::new()
            .from((config.organization.name.as_str(), from.as_str()))
            .to(n.to)
            .subject(n.subject)
            .date(now.0 / 1000)
            .message_id(format!("notice.{id}@{}", config.mail.hostname))
            // RFC 3834: a machine wrote this; auto-responders do not answer it.
            .header("Auto-Submitted", Raw::new("auto-generated"))
            .text_body(n.text)
            .write_to_vec()
            .map_err(MailError::Blob)?;
        self.send_generated(actor, &[n.to.to_string()], raw, n.about.clone(), n.subject)
            .await
    }

    /// Signs `raw` (a whole message carepost wrote) with the DKIM key and queues it for `to`,
    /// from `no-reply@`, audited as a submission in `actor`'s name about `about`. Notices and
    /// TLS reports leave this way.
    pub(crate) async fn send_generated(
        &self,
        actor: &Actor,
        to: &[String],
        raw: Vec<u8>,
        about: String,
        what: &str,
    ) -> Result<(), MailError> {
        let config = self.config();
        let from = format!("no-reply@{}", config.organization.domain.as_str());
        let now = self.clock().now();
        let raw = match self.dkim().map(|k| k.sign(&raw)) {
            Some(Ok(header)) => [header.as_bytes(), &raw].concat(),
            Some(Err(e)) => {
                tracing::warn!(error = %e, "DKIM signing failed; sending the notice unsigned");
                raw
            }
            None => raw,
        };
        let event = NewEvent::success(now, actor, action::MAIL_SUBMIT, about)
            .with_details(json!({ "notice": what, "to": to, "size": raw.len() }));
        self.deliver(Delivery {
            raw,
            targets: Vec::new(),
            outbound: Some(Outbound {
                // Undeliverable notices end in the queue's record, not in a bounce to no one.
                mail_from: from,
                sender: None,
                recipients: to.to_vec(),
                lifetime: config.mail.queue_lifetime,
                require_tls: false,
            }),
            event,
        })
        .await
        .map(|_| ())
    }
}
