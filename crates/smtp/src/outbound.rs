//! The outbound worker: takes what the queue says is due, finds the receiving hosts (the
//! configured relay, or the domain's MX hosts, best first), and speaks SMTP to them with
//! mail-send, one transaction per message and domain. STARTTLS is used whenever offered (RFC
//! 7435 opportunistic TLS, certificates not checked) and required for the configured domains.
//! Each recipient's outcome goes back to the queue: delivered, try later (4xx, no answer), or
//! failed (5xx).

use crate::SmtpService;
use carepost_mail::{Attempt, DueDelivery, MxAnswer};
use mail_send::SmtpClient;
use mail_send::SmtpClientBuilder;
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
const SMTP_TIMEOUT: Duration = Duration::from_secs(120);

impl SmtpService {
    /// Runs the outbound worker until `shutdown` turns true.
    pub async fn run_queue(self, mut shutdown: watch::Receiver<bool>) {
        loop {
            self.drain_queue().await;
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
        let hosts = match &self.config.mail.relay_host {
            Some((host, port)) => Ok(vec![(host.clone(), *port)]),
            None => match &self.sender_auth {
                Some(auth) => match auth.mx_hosts(&d.domain).await {
                    Ok(MxAnswer::Hosts(h)) => Ok(h.into_iter().map(|h| (h, 25)).collect()),
                    // No later try can reach these: returned to the sender now, not after
                    // the queue's lifetime of retries.
                    Ok(MxAnswer::NoSuchDomain) => {
                        return every_recipient(
                            d,
                            Attempt::Permanent(format!(
                                "550 5.1.2 the domain {} does not exist",
                                d.domain
                            )),
                        );
                    }
                    Ok(MxAnswer::NullMx) => {
                        return every_recipient(
                            d,
                            Attempt::Permanent(format!(
                                "556 5.1.10 the domain {} accepts no mail (null MX)",
                                d.domain
                            )),
                        );
                    }
                    Err(e) => Err(e),
                },
                None => Err("no DNS resolver is configured".to_string()),
            },
        };
        let hosts = match hosts {
            Ok(h) => h,
            Err(e) => return every_recipient(d, Attempt::Temporary(e)),
        };
        let require_tls = self.config.mail.require_tls_domains.contains(&d.domain);
        let mut last = format!("no host accepts mail for {}", d.domain);
        for (host, port) in hosts {
            match self.send_to(&host, port, require_tls, d).await {
                Ok(results) => return results,
                Err(e) => last = format!("{host}:{port}: {e}"),
            }
        }
        every_recipient(d, Attempt::Temporary(last))
    }

    /// One SMTP session with one host; `Err` when the host could not be used at all.
    async fn send_to(
        &self,
        host: &str,
        port: u16,
        require_tls: bool,
        d: &DueDelivery,
    ) -> Result<Vec<(String, Attempt)>, String> {
        let mut builder = SmtpClientBuilder::new(host.to_string(), port)
            .map_err(|e| e.to_string())?
            .helo_host(self.config.mail.hostname.clone())
            .timeout(SMTP_TIMEOUT)
            .implicit_tls(false);
        if !require_tls {
            // Opportunistic TLS (RFC 7435): encrypt whenever offered, whatever the certificate.
            // Where TLS is required, the certificate must verify against the system's roots.
            builder = builder.allow_invalid_certs();
        }
        match builder.connect().await {
            Ok(client) => Ok(transact(client, d).await),
            Err(mail_send::Error::MissingStartTls) if !require_tls => {
                let client = builder.connect_plain().await.map_err(|e| e.to_string())?;
                Ok(transact(client, d).await)
            }
            Err(mail_send::Error::MissingStartTls) => {
                Err("TLS is required for this domain and the server does not offer STARTTLS".into())
            }
            Err(e) => Err(e.to_string()),
        }
    }
}

/// How an SMTP error counts for a recipient.
fn classify(e: &mail_send::Error) -> Attempt {
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

async fn transact<T: AsyncRead + AsyncWrite + Unpin>(
    mut client: SmtpClient<T>,
    d: &DueDelivery,
) -> Vec<(String, Attempt)> {
    let params = Parameters::default();
    if let Err(e) = client.mail_from(&d.mail_from, &params).await {
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
