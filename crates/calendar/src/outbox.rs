//! The iMIP outbox: the iTIP messages a calendar write makes for people outside the
//! organization are kept in the write's own transaction, mailed once it is committed, and
//! taken out when the mail queue has them; what a crash or a refused queue left is mailed
//! by `send_kept_imip`, which the server calls every minute. So a committed meeting never
//! loses the mail it owes, at worst it is mailed twice (which calendar apps take as one).

use crate::{Calendars, DavError, schedule};
use carepost_mail::Invitation;
use carepost_store::{ImipRepo, ImipRow};
use carepost_types::UnixMillis;

/// How long an iMIP message kept in the outbox is its writer's to mail, and how many tries
/// it gets in all before it is given up.
const IMIP_GRACE_MS: i64 = 60_000;
const IMIP_TRIES: i64 = 10;

impl Calendars {
    /// Keeps the iTIP messages for people outside in the write's own transaction (the
    /// outbox), so that a committed change never loses the mail it owes; without a mail
    /// queue to send through there is nothing to keep.
    pub(crate) async fn keep_outgoing(
        &self,
        tx: &mut carepost_store::Tx,
        outgoing: Vec<schedule::Outgoing>,
    ) -> Result<Vec<ImipRow>, DavError> {
        if self.mail.is_none() {
            return Ok(Vec::new());
        }
        let mut kept = Vec::with_capacity(outgoing.len());
        let now = self.clock.now();
        for o in outgoing {
            let mut row = ImipRow {
                id: 0,
                account_id: o.account,
                from: o.from,
                to: o.to,
                method: o.method.to_string(),
                summary: o.summary,
                ical: o.ical,
                created_at: now,
                attempts: 0,
                // Its writer's for a minute; past that anyone's (see `send_kept_imip`).
                next_try_at: UnixMillis(now.0 + IMIP_GRACE_MS),
            };
            row.id = tx.queue_imip(&row).await?;
            kept.push(row);
        }
        Ok(kept)
    }

    /// Puts kept iTIP messages in the mail queue, once the write that made them is
    /// committed, and takes each out of the outbox when it is queued. A failure is logged
    /// and counted, and the message stays for `send_kept_imip`: the calendar change stands.
    pub(crate) async fn send_outgoing(&self, kept: Vec<ImipRow>) {
        let Some(mail) = &self.mail else {
            return;
        };
        for o in kept {
            let sent = mail
                .send_imip(&Invitation {
                    account: o.account_id,
                    from: &o.from,
                    to: &o.to,
                    method: &o.method,
                    summary: &o.summary,
                    ical: &o.ical,
                })
                .await;
            let outcome = match &sent {
                Ok(_) => "queued",
                Err(_) => "failed",
            };
            metrics::counter!("carepost_imip_sent_total", "method" => o.method.clone(), "outcome" => outcome)
                .increment(1);
            if let Err(e) = sent {
                tracing::warn!(error = %e, to = %o.to, "an invitation could not be queued");
                continue;
            }
            let done = async {
                let mut tx = self.store.begin_bookkeeping().await?;
                tx.delete_imip(o.id).await?;
                tx.commit().await
            };
            if let Err(e) = done.await {
                // It was queued: at worst it is mailed twice, which calendar apps take as one.
                tracing::warn!(error = %e, "an invitation sent could not be taken out of the outbox");
            }
        }
    }

    /// Mails what the outbox still holds past its writer's minute (the server stopped
    /// between a write's commit and its mail, or the queue refused it then); the server
    /// calls it every minute. Each message is claimed before it is tried, so two senders
    /// never mail it at once; a failed one waits longer each time (1, 2, 4... minutes, at
    /// most an hour) and is given up, logged, after `IMIP_TRIES`. Returns how many were
    /// tried.
    pub async fn send_kept_imip(&self) -> Result<usize, DavError> {
        if self.mail.is_none() {
            return Ok(0);
        }
        let now = self.clock.now();
        let mut read = self.store.read().await?;
        let due = read.due_imip(now, 100).await?;
        drop(read);
        let mut tried = Vec::new();
        for row in due {
            let mut tx = self.store.begin_bookkeeping().await?;
            if row.attempts >= IMIP_TRIES {
                tracing::warn!(to = %row.to, method = %row.method, "an invitation could not be mailed and is given up");
                metrics::counter!("carepost_imip_sent_total", "method" => row.method.clone(), "outcome" => "given_up")
                    .increment(1);
                tx.delete_imip(row.id).await?;
                tx.commit().await?;
                continue;
            }
            let wait = (60_000_i64 << row.attempts.clamp(0, 6)).min(3_600_000);
            let claimed = tx.claim_imip(&row, UnixMillis(now.0 + wait)).await?;
            tx.commit().await?;
            if claimed {
                tried.push(row);
            }
        }
        let n = tried.len();
        self.send_outgoing(tried).await;
        Ok(n)
    }
}
