//! The outbound queue's rules: what a queued message is, when a recipient is tried again
//! (backoff over the configured lifetime), when it has failed for good, and the delivery status
//! notification (RFC 3464) that returns it to its sender. The SMTP client that talks to other
//! servers lives in the smtp crate; it asks here what is due and reports each attempt.

use crate::{Delivery, MailError, MailStore, Target};
use carepost_audit::{Actor, NewEvent, Outcome, action};
use carepost_store::{AuditRepo, QueueMessageRow, QueueRecipientRow, QueueRepo};
use carepost_types::{AccountId, UnixMillis};
use mail_builder::MessageBuilder;
use mail_builder::headers::content_type::ContentType;
use mail_builder::mime::MimePart;
use serde_json::json;
use std::time::Duration;

/// Waits between attempts: 1, 5, 15 and 30 minutes, 1, 2 and 4 hours, then every 4 hours.
const BACKOFF_SECS: [u64; 7] = [60, 300, 900, 1800, 3600, 7200, 14_400];
/// How long a claimed recipient is held by the worker that claimed it.
const LEASE: Duration = Duration::from_secs(600);

/// Remote recipients of a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outbound {
    pub mail_from: String,
    pub sender: Option<AccountId>,
    pub recipients: Vec<String>,
    /// How long to keep trying.
    pub lifetime: Duration,
    /// The sender asked for REQUIRETLS (RFC 8689): verified TLS to every hop, or a bounce.
    pub require_tls: bool,
}

/// Recipients of one queued message in one domain, due now.
#[derive(Debug, Clone)]
pub struct DueDelivery {
    pub queue_id: i64,
    pub domain: String,
    pub mail_from: String,
    pub recipients: Vec<String>,
    pub body: Vec<u8>,
    /// The sender asked for REQUIRETLS (RFC 8689).
    pub require_tls: bool,
}

/// The outcome of trying one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    Delivered,
    /// Try again later (4xx, connection trouble).
    Temporary(String),
    /// Give up (5xx).
    Permanent(String),
}

/// A queued message as `carepost queue list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct QueuedMessage {
    pub id: i64,
    pub mail_from: String,
    pub created_at: String,
    pub expires_at: String,
    pub recipients: Vec<QueuedRecipient>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct QueuedRecipient {
    pub recipient: String,
    pub status: String,
    pub attempts: i64,
    pub next_attempt: String,
    pub last_error: Option<String>,
}

/// The RFC 3463 status for a failed recipient: the remote server's own enhanced code when it
/// gave one ("550 5.1.1 ..."), 4.4.7 when the queue gave up, else 5.0.0.
fn dsn_status(error: &str) -> String {
    if error.starts_with("gave up") {
        return "4.4.7".to_string();
    }
    let code = error.split_whitespace().nth(1).unwrap_or("");
    let parts: Vec<&str> = code.split('.').collect();
    let numeric = parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
    if numeric && (code.starts_with("5.") || code.starts_with("4.")) {
        code.to_string()
    } else {
        "5.0.0".to_string()
    }
}

/// When to try again after `attempts` tries.
pub fn next_attempt(now: UnixMillis, attempts: i64) -> UnixMillis {
    let i = usize::try_from(attempts.max(1) - 1).unwrap_or(0);
    now.plus(Duration::from_secs(
        BACKOFF_SECS[i.min(BACKOFF_SECS.len() - 1)],
    ))
}

impl MailStore {
    /// Claims what is due, grouped by message and domain, with each message's body.
    pub async fn claim_due(&self, limit: i64) -> Result<Vec<DueDelivery>, MailError> {
        let now = self.clock().now();
        let mut tx = self.store().begin_bookkeeping().await?;
        let claimed = tx.claim_due_recipients(now, now.plus(LEASE), limit).await?;
        tx.commit().await?;
        let mut groups: Vec<DueDelivery> = Vec::new();
        for r in claimed {
            if let Some(g) = groups
                .iter_mut()
                .find(|g| g.queue_id == r.queue_id && g.domain == r.domain)
            {
                g.recipients.push(r.recipient);
                continue;
            }
            let mut read = self.store().read().await?;
            let Some(m) = read.find_queue_message(r.queue_id).await? else {
                continue;
            };
            drop(read);
            groups.push(DueDelivery {
                queue_id: r.queue_id,
                domain: r.domain,
                mail_from: m.mail_from,
                recipients: vec![r.recipient],
                body: self.read_body(&m.blob_id).await?,
                require_tls: m.require_tls,
            });
        }
        Ok(groups)
    }

    /// Records attempts for recipients of one message; a message whose recipients are all
    /// settled is finished (and returned to its sender if any failed).
    pub async fn record_attempts(
        &self,
        queue_id: i64,
        attempts: &[(String, Attempt)],
    ) -> Result<(), MailError> {
        let now = self.clock().now();
        let mut read = self.store().read().await?;
        let Some(msg) = read.find_queue_message(queue_id).await? else {
            return Ok(());
        };
        let rows = read.list_queue_recipients(queue_id).await?;
        drop(read);
        // What each attempt means for its recipient: (recipient, status, next attempt, error,
        // attempts so far).
        let decided: Vec<_> = attempts
            .iter()
            .map(|(rcpt, attempt)| {
                let tries = rows
                    .iter()
                    .find(|r| &r.recipient == rcpt)
                    .map_or(1, |r| r.attempts);
                let (status, next, error) = match attempt {
                    Attempt::Delivered => ("delivered", now, None),
                    Attempt::Permanent(e) => ("failed", now, Some(e.clone())),
                    Attempt::Temporary(e) if now >= msg.expires_at => (
                        "failed",
                        now,
                        Some(format!("gave up after {tries} attempts: {e}")),
                    ),
                    Attempt::Temporary(e) => ("pending", next_attempt(now, tries), Some(e.clone())),
                };
                (rcpt, status, next, error, tries)
            })
            .collect();
        // A settled recipient is recorded in the audit trail; a new schedule alone is
        // bookkeeping with nothing of security meaning.
        let settles = decided.iter().any(|d| d.1 != "pending");
        let mut tx = match settles {
            true => self.store().begin().await?,
            false => self.store().begin_bookkeeping().await?,
        };
        for (rcpt, status, next, error, tries) in &decided {
            tx.update_queue_recipient(queue_id, rcpt, status, *next, error.as_deref())
                .await?;
            if *status == "pending" {
                continue;
            }
            let outcome = match *status {
                "delivered" => Outcome::Success,
                _ => Outcome::Failure,
            };
            let event = NewEvent::success(
                now,
                &Actor::System,
                action::MAIL_RELAY,
                format!("queue:{queue_id}"),
            )
            .with_outcome(outcome)
            .with_details(
                json!({ "from": msg.mail_from, "to": rcpt, "attempts": tries, "error": error }),
            );
            tx.append_audit(&event).await?;
        }
        tx.commit().await?;
        self.finish_if_settled(queue_id).await
    }

    /// Deletes a message whose recipients are all settled, after returning the failed ones to
    /// the sender in one commit with the deletion (so a crash cannot lose or repeat the notice).
    pub async fn finish_if_settled(&self, queue_id: i64) -> Result<(), MailError> {
        let mut tx = self.store().read().await?;
        let Some(msg) = tx.find_queue_message(queue_id).await? else {
            return Ok(());
        };
        let rows = tx.list_queue_recipients(queue_id).await?;
        drop(tx);
        if rows.iter().any(|r| r.status == "pending") {
            return Ok(());
        }
        let failed: Vec<&QueueRecipientRow> =
            rows.iter().filter(|r| r.status == "failed").collect();
        let now = self.clock().now();
        let sender = msg.sender_account_id;
        if failed.is_empty() || sender.is_none() || msg.mail_from.is_empty() {
            let mut tx = self.store().begin().await?;
            tx.delete_queue_message(queue_id).await?;
            let event = NewEvent::success(
                now,
                &Actor::System,
                action::MAIL_RELAY,
                format!("queue:{queue_id}"),
            )
            .with_details(json!({ "finished": true, "failed": failed.len() }));
            tx.append_audit(&event).await?;
            return Ok(tx.commit().await?);
        }
        let original = self.read_body(&msg.blob_id).await?;
        let dsn = self.delivery_status_notification(&msg, &failed, &original)?;
        let event = NewEvent::success(now, &Actor::System, action::MAIL_BOUNCE, format!("queue:{queue_id}"))
            .with_details(json!({ "to": msg.mail_from, "failed": failed.iter().map(|r| &r.recipient).collect::<Vec<_>>() }));
        let account = sender.unwrap_or(AccountId(0));
        self.deliver_finishing(
            Delivery {
                raw: dsn,
                targets: vec![Target::inbox(account)],
                outbound: None,
                event,
            },
            queue_id,
        )
        .await
        .map(|_| ())
    }

    /// RFC 3464: a human part, the machine-readable status of each failed recipient, and the
    /// original header.
    fn delivery_status_notification(
        &self,
        msg: &QueueMessageRow,
        failed: &[&QueueRecipientRow],
        original: &[u8],
    ) -> Result<Vec<u8>, MailError> {
        let host = &self.config().mail.hostname;
        let mut human = String::from(
            "Your message could not be delivered to these recipients; carepost has stopped trying.\r\n\r\n",
        );
        let mut status = format!("Reporting-MTA: dns; {host}\r\n");
        for r in failed {
            let error = r.last_error.as_deref().unwrap_or("unknown error");
            human.push_str(&format!("  {}: {error}\r\n", r.recipient));
            let code = dsn_status(error);
            status.push_str(&format!(
                "\r\nFinal-Recipient: rfc822; {}\r\nAction: failed\r\nStatus: {code}\r\nDiagnostic-Code: smtp; {}\r\n",
                r.recipient,
                error.replace(['\r', '\n'], " ")
            ));
        }
        let header_end =
            crate::summarize(original).map_or(original.len(), |s| s.header_size as usize);
        let headers =
            String::from_utf8_lossy(&original[..header_end.min(original.len())]).to_string();
        let body = MimePart::new(
            ContentType::new("multipart/report").attribute("report-type", "delivery-status"),
            vec![
                MimePart::new("text/plain", human),
                MimePart::new("message/delivery-status", status).transfer_encoding("7bit"),
                MimePart::new("text/rfc822-headers", headers).transfer_encoding("7bit"),
            ],
        );
        let now_secs = self.clock().now().0 / 1000;
        let daemon = format!("mailer-daemon@{host}");
        MessageBuilder::new()
            .from(("Mail Delivery System", daemon.as_str()))
            .to(msg.mail_from.as_str())
            .subject("Undelivered mail returned to sender")
            .date(now_secs)
            .message_id(format!("dsn.{}.{now_secs}@{host}", msg.id))
            .body(body)
            .write_to_vec()
            .map_err(MailError::Blob)
    }

    /// The queue as an administrator sees it.
    pub async fn queue(&self) -> Result<Vec<QueuedMessage>, MailError> {
        let mut tx = self.store().read().await?;
        let mut out = Vec::new();
        for m in tx.list_queue_messages().await? {
            let recipients = tx
                .list_queue_recipients(m.id)
                .await?
                .into_iter()
                .map(|r| QueuedRecipient {
                    recipient: r.recipient,
                    status: r.status,
                    attempts: r.attempts,
                    next_attempt: r.next_attempt.to_rfc3339(),
                    last_error: r.last_error,
                })
                .collect();
            out.push(QueuedMessage {
                id: m.id,
                mail_from: m.mail_from,
                created_at: m.created_at.to_rfc3339(),
                expires_at: m.expires_at.to_rfc3339(),
                recipients,
            });
        }
        Ok(out)
    }

    /// Makes pending recipients due now (one message, or all); returns how many.
    pub async fn retry_queued(&self, actor: &Actor, id: Option<i64>) -> Result<u64, MailError> {
        let now = self.clock().now();
        let mut tx = self.store().begin().await?;
        let n = tx.retry_queue(id, now).await?;
        let target = id.map_or("queue:all".to_string(), |i| format!("queue:{i}"));
        let event = NewEvent::success(now, actor, action::QUEUE_RETRY, target)
            .with_details(json!({ "recipients": n }));
        tx.append_audit(&event).await?;
        tx.commit().await?;
        self.wake_queue();
        Ok(n)
    }

    /// Drops a queued message without a notice to its sender.
    pub async fn remove_queued(&self, actor: &Actor, id: i64) -> Result<(), MailError> {
        let now = self.clock().now();
        let mut tx = self.store().begin().await?;
        if tx.delete_queue_message(id).await?.is_none() {
            return Err(MailError::NotQueued(id));
        }
        let event = NewEvent::success(now, actor, action::QUEUE_REMOVE, format!("queue:{id}"));
        tx.append_audit(&event).await?;
        Ok(tx.commit().await?)
    }
}
