//! The outbound worker: takes what the queue says is due, finds the receiving hosts (the
//! configured relay, or the domain's MX hosts, best first) and the TLS each must give
//! (`plan`), and speaks SMTP to them with mail-send, one transaction per message and domain
//! (`session`). TLS is opportunistic (RFC 7435) unless the domain's configured policy, its
//! MTA-STS policy (`sts`), its DANE records or the sender's REQUIRETLS asks for more; every
//! session's TLS outcome is tallied for the daily TLS-RPT reports, which this worker also
//! sends. Each recipient's outcome goes back to the queue: delivered, try later (4xx, no
//! answer, a TLS requirement not met), or failed (5xx).

mod plan;
mod session;
mod sts;
pub(crate) mod trust;

use plan::HopError;

use crate::SmtpService;
use carepost_audit::Actor;
use carepost_mail::{Attempt, DueDelivery};
use carepost_types::UnixMillis;
use mail_send::SmtpClient;
use mail_send::smtp::message::Parameters;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tokio::task::JoinSet;

/// Deliveries under way at once.
const PARALLEL: usize = 8;
/// Recipients claimed per round.
const CLAIM: i64 = 100;
/// How often the queue is looked at when nothing wakes the worker.
const POLL: Duration = Duration::from_secs(30);
pub(crate) const SMTP_TIMEOUT: Duration = Duration::from_secs(120);

impl SmtpService {
    /// Runs the outbound worker until `shutdown` turns true.
    pub async fn run_queue(self, mut shutdown: watch::Receiver<bool>) {
        // TLS reports are looked for hourly, not at every wake-up of the queue.
        let mut reports_checked = UnixMillis(i64::MIN);
        loop {
            self.drain_queue().await;
            let now = self.clock.now();
            if now.0.saturating_sub(reports_checked.0) >= 3_600_000 {
                reports_checked = now;
                self.send_due_tls_reports().await;
            }
            tokio::select! {
                _ = self.mail.queue_woken() => {}
                _ = tokio::time::sleep(POLL) => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    /// Delivers everything due now.
    pub async fn drain_queue(&self) {
        loop {
            let due = match self.mail.claim_due(CLAIM).await {
                Ok(d) if d.is_empty() => return,
                Ok(d) => d,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the outbound queue");
                    return;
                }
            };
            let mut running = JoinSet::new();
            for d in due {
                while running.len() >= PARALLEL {
                    running.join_next().await;
                }
                let svc = self.clone();
                running.spawn(async move {
                    let attempts = svc.attempt(&d).await;
                    if let Err(e) = svc.mail.record_attempts(d.queue_id, &attempts).await {
                        tracing::warn!(error = %e, queue = d.queue_id, "cannot record a delivery attempt");
                    }
                });
            }
            while running.join_next().await.is_some() {}
        }
    }

    async fn attempt(&self, d: &DueDelivery) -> Vec<(String, Attempt)> {
        let plan = match self.plan(d).await {
            Ok(p) => p,
            Err(outcome) => return every_recipient(d, outcome),
        };
        let mut last = format!("no host accepts mail for {}", d.domain);
        let mut refused_requiretls = None;
        let mut reached_other = false;
        for hop in &plan {
            let ips = match hop.ips(self).await {
                Ok(ips) => ips,
                Err(e) => {
                    last = e;
                    reached_other = true;
                    continue;
                }
            };
            for ip in ips {
                match self.send_to(hop, ip, d).await {
                    Ok(results) => return results,
                    Err(HopError::NoRequireTls(text)) => refused_requiretls = Some(text),
                    Err(HopError::Temporary(e)) => {
                        reached_other = true;
                        last = format!("{}:{}: {e}", hop.host, hop.port);
                    }
                }
            }
        }
        match refused_requiretls {
            // Every host that answered lacks REQUIRETLS: no later try can do better.
            Some(text) if !reached_other => every_recipient(d, Attempt::Permanent(text)),
            _ => every_recipient(d, Attempt::Temporary(last)),
        }
    }
}

/// How an SMTP error counts for a recipient.
pub(crate) fn classify(e: &mail_send::Error) -> Attempt {
    match e {
        mail_send::Error::UnexpectedReply(r) => {
            // The reply as the other server gave it, enhanced status code included.
            let [a, b, c] = r.esc;
            let text = match a {
                0 => format!("{} {}", r.code(), r.message()),
                _ => format!("{} {a}.{b}.{c} {}", r.code(), r.message()),
            };
            if r.code() >= 500 {
                Attempt::Permanent(text)
            } else {
                Attempt::Temporary(text)
            }
        }
        other => Attempt::Temporary(other.to_string()),
    }
}

impl SmtpService {
    /// Yesterday's TLS-RPT reports, once (the store remembers which were sent), when
    /// `mail.tls_reports` is on.
    async fn send_due_tls_reports(&self) {
        let (Some(auth), true) = (&self.sender_auth, self.config.mail.tls_reports) else {
            return;
        };
        let yesterday = UnixMillis(self.clock.now().0 - 86_400_000).day_utc();
        if let Err(e) = self
            .mail
            .send_tls_reports(auth, &Actor::System, &yesterday)
            .await
        {
            tracing::warn!(error = %e, day = %yesterday, "cannot send TLS reports");
        }
    }
}

pub(crate) async fn transact<T: AsyncRead + AsyncWrite + Unpin>(
    mut client: SmtpClient<T>,
    d: &DueDelivery,
) -> Vec<(String, Attempt)> {
    let params = Parameters::default();
    let mut mail_params = Parameters::new();
    if d.require_tls {
        // RFC 8689 section 4.2.2: the requirement travels with the message to the next hop.
        mail_params.add("REQUIRETLS");
    }
    if !d.mail_from.is_empty() && !carepost_mail::is_plain_address(&d.mail_from) {
        let a = Attempt::Permanent("553 5.1.7 not a valid sender address for SMTP".into());
        return every_recipient(d, a);
    }
    if let Err(e) = client.mail_from(&d.mail_from, &mail_params).await {
        let a = classify(&e);
        return d
            .recipients
            .iter()
            .map(|r| (r.clone(), a.clone()))
            .collect();
    }
    let mut results = Vec::with_capacity(d.recipients.len());
    let mut accepted = Vec::new();
    for r in &d.recipients {
        // Addresses reach the command line as they are: one that could break it is refused
        // here whatever let it into the queue.
        if !carepost_mail::is_plain_address(r) {
            results.push((
                r.clone(),
                Attempt::Permanent("553 5.1.3 not a valid address for SMTP".into()),
            ));
            continue;
        }
        match client.rcpt_to(r, &params).await {
            Ok(()) => accepted.push(r.clone()),
            Err(e) => results.push((r.clone(), classify(&e))),
        }
    }
    if accepted.is_empty() {
        let _ = client.quit().await;
        return results;
    }
    let outcome = match client.data(&d.body).await {
        Ok(()) => Attempt::Delivered,
        Err(e) => classify(&e),
    };
    results.extend(accepted.into_iter().map(|r| (r, outcome.clone())));
    let _ = client.quit().await;
    results
}

/// The same outcome for every recipient of `d`.
fn every_recipient(d: &DueDelivery, a: Attempt) -> Vec<(String, Attempt)> {
    d.recipients
        .iter()
        .map(|r| (r.clone(), a.clone()))
        .collect()
}
