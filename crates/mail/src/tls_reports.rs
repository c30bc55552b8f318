//! What the outbound queue remembers about TLS to other organizations: the MTA-STS policies it
//! fetched (RFC 8461 section 5.1, kept in the store so that a restart does not forget them),
//! the tally of every delivery session's TLS outcome per day, and the daily TLS-RPT report
//! (RFC 8460) built from that tally with mail-auth's report type and mailed, DKIM-signed and
//! through the queue, to each domain whose `_smtp._tls` record asks for one. The handshakes and
//! lookups themselves are the smtp crate's; this is their bookkeeping.

use crate::{MailError, MailStore, SenderAuth};
use carepost_audit::Actor;
use carepost_store::{StsPolicyRow, TlsRepo, TlsResultRow};
use carepost_types::UnixMillis;
use mail_auth::report::tlsrpt::{
    DateRange, FailureDetails, Policy, PolicyDetails, PolicyType, ResultType, Summary, TlsReport,
};
use std::collections::BTreeMap;

/// Which policy governed a delivery session (RFC 8460 section 4.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsPolicyUsed {
    /// The domain's MTA-STS policy, as its lines.
    Sts(Vec<String>),
    /// The MX host's DANE TLSA records, in presentation form.
    Tlsa(Vec<String>),
    NoPolicy,
}

/// How one delivery session's TLS went, for the day's tally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsOutcome {
    pub policy_domain: String,
    pub policy: TlsPolicyUsed,
    /// `None` for a success, else the RFC 8460 result type (`certificate-not-trusted`, ...).
    pub failure: Option<&'static str>,
    pub mx_host: String,
    pub receiving_ip: String,
    pub detail: String,
}

/// A report that left: to whom, for which domain, how many sessions it counts.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SentTlsReport {
    pub domain: String,
    pub to: Vec<String>,
    pub successes: u32,
    pub failures: u32,
}

impl MailStore {
    /// The policy last fetched for `domain`, expired or not (the caller decides).
    pub async fn cached_sts_policy(&self, domain: &str) -> Result<Option<StsPolicyRow>, MailError> {
        let mut read = self.store().read().await?;
        Ok(read.find_sts_policy(domain).await?)
    }

    pub async fn remember_sts_policy(&self, row: &StsPolicyRow) -> Result<(), MailError> {
        let mut tx = self.store().begin_bookkeeping().await?;
        tx.put_sts_policy(row).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Adds one session to today's tally.
    pub async fn record_tls_outcome(&self, o: &TlsOutcome) -> Result<(), MailError> {
        let (policy_type, lines) = match &o.policy {
            TlsPolicyUsed::Sts(l) => ("sts", l.join("\n")),
            TlsPolicyUsed::Tlsa(l) => ("tlsa", l.join("\n")),
            TlsPolicyUsed::NoPolicy => ("no-policy-found", String::new()),
        };
        let row = TlsResultRow {
            day: self.clock().now().day_utc(),
            policy_domain: o.policy_domain.clone(),
            policy_type: policy_type.to_string(),
            policy_text: lines,
            result_type: o.failure.unwrap_or("").to_string(),
            // The host and address matter for failures; successes are one count per policy.
            mx_host: if o.failure.is_some() {
                o.mx_host.clone()
            } else {
                String::new()
            },
            receiving_ip: if o.failure.is_some() {
                o.receiving_ip.clone()
            } else {
                String::new()
            },
            detail: o.detail.chars().take(300).collect(),
            sessions: 1,
        };
        let mut tx = self.store().begin_bookkeeping().await?;
        tx.add_tls_result(&row).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Mails `day`'s report (`YYYY-MM-DD`, UTC) to every domain with sessions that day whose
    /// `_smtp._tls` record names a `mailto:` address (an `https:` one is not posted to: said
    /// in the README). Each domain's report for a day is sent once, across restarts and nodes.
    pub async fn send_tls_reports(
        &self,
        auth: &SenderAuth,
        actor: &Actor,
        day: &str,
    ) -> Result<Vec<SentTlsReport>, MailError> {
        let start = UnixMillis::parse(day).map_err(MailError::Invalid)?;
        {
            // Tallies are kept a month (a report that could not leave is retried meanwhile);
            // expired policies go.
            let month_before = UnixMillis(start.0 - 30 * 86_400_000).day_utc();
            let mut tx = self.store().begin_bookkeeping().await?;
            tx.prune_tls(&month_before, self.clock().now()).await?;
            tx.commit().await?;
        }
        let rows = {
            let mut read = self.store().read().await?;
            read.tls_results_of_day(day).await?
        };
        let mut by_domain: BTreeMap<&str, Vec<&TlsResultRow>> = BTreeMap::new();
        for r in &rows {
            by_domain.entry(&r.policy_domain).or_default().push(r);
        }
        let config = self.config();
        let org = config.organization.domain.as_str().to_string();
        let mut sent = Vec::new();
        for (domain, results) in by_domain {
            let to = auth.tls_report_addresses(domain).await;
            if to.is_empty() {
                continue;
            }
            {
                let mut tx = self.store().begin_bookkeeping().await?;
                let claimed = tx.claim_tls_report(day, domain, self.clock().now()).await?;
                tx.commit().await?;
                if !claimed {
                    continue;
                }
            }
            let report = build_report(
                &config.organization.name,
                &org,
                domain,
                day,
                start,
                &results,
            );
            let (successes, failures) = report.policies.iter().fold((0, 0), |(s, f), p| {
                (s + p.summary.total_success, f + p.summary.total_failure)
            });
            let from = format!("no-reply@{org}");
            let raw = report
                .to_rfc5322(
                    domain,
                    &config.mail.hostname,
                    from.as_str(),
                    to.iter().map(String::as_str),
                )
                .map_err(MailError::Blob)?;
            if let Err(e) = self
                .send_generated(
                    actor,
                    &to,
                    raw.into_bytes(),
                    format!("domain:{domain}"),
                    "TLS report",
                )
                .await
            {
                let mut tx = self.store().begin_bookkeeping().await?;
                tx.release_tls_report(day, domain).await?;
                tx.commit().await?;
                return Err(e);
            }
            sent.push(SentTlsReport {
                domain: domain.to_string(),
                to,
                successes,
                failures,
            });
        }
        Ok(sent)
    }
}

/// The RFC 8460 report for one domain's tallies of one day.
fn build_report(
    org_name: &str,
    org_domain: &str,
    domain: &str,
    day: &str,
    start: UnixMillis,
    results: &[&TlsResultRow],
) -> TlsReport {
    // One policy entry per (type, policy text); failures listed under it by host and type.
    let mut policies: Vec<Policy> = Vec::new();
    for r in results {
        let policy_type = match r.policy_type.as_str() {
            "sts" => PolicyType::Sts,
            "tlsa" => PolicyType::Tlsa,
            _ => PolicyType::NoPolicyFound,
        };
        let strings: Vec<String> = r
            .policy_text
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect();
        let i = match policies
            .iter()
            .position(|p| p.policy.policy_type == policy_type && p.policy.policy_string == strings)
        {
            Some(i) => i,
            None => {
                let mut details = PolicyDetails::new(policy_type, domain);
                details.policy_string = strings;
                policies.push(Policy {
                    policy: details,
                    summary: Summary {
                        total_success: 0,
                        total_failure: 0,
                    },
                    failure_details: Vec::new(),
                });
                policies.len() - 1
            }
        };
        let p = &mut policies[i];
        let n = u32::try_from(r.sessions).unwrap_or(u32::MAX);
        if r.result_type.is_empty() {
            p.summary.total_success = p.summary.total_success.saturating_add(n);
            continue;
        }
        p.summary.total_failure = p.summary.total_failure.saturating_add(n);
        let mut f = FailureDetails::new(result_type(&r.result_type))
            .with_receiving_mx_hostname(r.mx_host.clone())
            .with_failure_reason_code(r.detail.clone());
        if let Ok(ip) = r.receiving_ip.parse() {
            f = f.with_receiving_ip(ip);
        }
        f.failed_session_count = n;
        p.failure_details.push(f);
    }
    let start_s = start.0 / 1000;
    TlsReport {
        organization_name: Some(org_name.to_string()),
        date_range: DateRange::from_timestamps(start_s, start_s + 86_400 - 1),
        contact_info: Some(format!("postmaster@{org_domain}")),
        report_id: format!("{day}.{domain}@{org_domain}"),
        policies,
    }
}

fn result_type(name: &str) -> ResultType {
    match name {
        "starttls-not-supported" => ResultType::StartTlsNotSupported,
        "certificate-host-mismatch" => ResultType::CertificateHostMismatch,
        "certificate-expired" => ResultType::CertificateExpired,
        "certificate-not-trusted" => ResultType::CertificateNotTrusted,
        "validation-failure" => ResultType::ValidationFailure,
        "tlsa-invalid" => ResultType::TlsaInvalid,
        "dnssec-invalid" => ResultType::DnssecInvalid,
        "dane-required" => ResultType::DaneRequired,
        "sts-policy-fetch-error" => ResultType::StsPolicyFetchError,
        "sts-policy-invalid" => ResultType::StsPolicyInvalid,
        "sts-webpki-invalid" => ResultType::StsWebpkiInvalid,
        _ => ResultType::Other,
    }
}
