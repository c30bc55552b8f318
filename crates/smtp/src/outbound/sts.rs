//! MTA-STS discovery for the outbound queue (RFC 8461 sections 3 and 5): the domain's
//! `_mta-sts` TXT record says a policy exists and names its version; the policy itself is
//! fetched over HTTPS from `mta-sts.DOMAIN`, with a certificate that must verify, no redirect
//! followed, `text/plain` only and a bounded size; it is kept in the store until `max_age` runs
//! out and fetched again only when the TXT record's id changes. A cached, unexpired policy
//! survives a missing TXT record or a failed fetch: that is what keeps an attacker who can
//! block DNS or HTTPS from stripping the policy.

use crate::SmtpService;
use carepost_mail::{StsPolicyRow, TlsPolicyUsed};
use carepost_proto_smtp::mta_sts::{StsMode, StsPolicy};
use http_body_util::BodyExt;
use std::time::Duration;

/// How long one fetch may take, connection to last byte (RFC 8461 section 3.3 suggests
/// about a minute at most).
const FETCH_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest policy file read (RFC 8461 section 3.3 suggests 64 KiB).
const MAX_POLICY: usize = 64 * 1024;
/// How old a cached policy may grow before it is fetched again (its TXT id unchanged).
const REFRESH_MS: i64 = 86_400_000;

/// The outcome of looking for a domain's policy.
#[derive(Debug, Clone, Default)]
pub(crate) struct StsLookup {
    /// The policy in force (`enforce` or `testing`), if any.
    pub policy: Option<StsPolicy>,
    /// A fetch or parse failure to report (RFC 8460 `sts-policy-fetch-error`, ...).
    pub failure: Option<(&'static str, String)>,
}

impl StsLookup {
    pub(crate) fn used(&self) -> TlsPolicyUsed {
        match &self.policy {
            Some(p) => TlsPolicyUsed::Sts(p.lines()),
            None => TlsPolicyUsed::NoPolicy,
        }
    }
}

impl SmtpService {
    /// The MTA-STS policy that applies to `domain` now.
    pub(crate) async fn sts_policy(&self, domain: &str) -> StsLookup {
        let Some(auth) = &self.sender_auth else {
            return StsLookup::default();
        };
        let now = self.clock.now();
        let cached = match self.mail.cached_sts_policy(domain).await {
            Ok(c) => c.filter(|c| c.expires_at > now),
            Err(e) => {
                tracing::warn!(error = %e, domain, "cannot read the MTA-STS policy cache");
                None
            }
        };
        let in_force = |row: &StsPolicyRow| {
            StsPolicy::parse(&row.policy)
                .ok()
                .filter(|p| p.mode != StsMode::None)
        };
        let id = match auth.mta_sts_id(domain).await {
            Ok(Some(id)) => id,
            // No record, or no answer: a cached policy still holds (section 5.1).
            Ok(None) | Err(_) => {
                return StsLookup {
                    policy: cached.as_ref().and_then(in_force),
                    failure: None,
                };
            }
        };
        // The same policy as cached: used as it is, and fetched again once a day so that a
        // long max_age keeps being renewed (section 5.1) rather than running out on the one
        // day an attacker blocks the fetch.
        if let Some(c) = &cached
            && c.policy_id == id
            && now.0.saturating_sub(c.fetched_at.0) < REFRESH_MS
        {
            return StsLookup {
                policy: in_force(c),
                failure: None,
            };
        }
        let fetched = self.fetch_policy(domain).await.and_then(|text| {
            StsPolicy::parse(&text)
                .map(|p| (text, p))
                .map_err(|e| ("sts-policy-invalid", e))
        });
        match fetched {
            Ok((text, policy)) => {
                let row = StsPolicyRow {
                    domain: domain.to_string(),
                    policy_id: id,
                    policy: text,
                    fetched_at: now,
                    expires_at: now.plus(Duration::from_secs(policy.max_age)),
                };
                if let Err(e) = self.mail.remember_sts_policy(&row).await {
                    tracing::warn!(error = %e, domain, "cannot keep the MTA-STS policy");
                }
                StsLookup {
                    policy: Some(policy).filter(|p| p.mode != StsMode::None),
                    failure: None,
                }
            }
            Err(failure) => {
                tracing::info!(domain, error = %failure.1, "MTA-STS policy not fetched");
                StsLookup {
                    policy: cached.as_ref().and_then(in_force),
                    failure: Some(failure),
                }
            }
        }
    }

    /// `https://mta-sts.DOMAIN/.well-known/mta-sts.txt`, as text.
    async fn fetch_policy(&self, domain: &str) -> Result<String, (&'static str, String)> {
        let fail = |e: String| ("sts-policy-fetch-error", e);
        let host = format!("mta-sts.{domain}");
        let auth = self
            .sender_auth
            .as_ref()
            .ok_or_else(|| fail("no DNS resolver".into()))?;
        let ip = *auth
            .addresses(&host)
            .await
            .map_err(fail)?
            .first()
            .ok_or_else(|| fail(format!("{host} has no address")))?;
        let config = self.trust.verifying_config().map_err(fail)?;
        let work = async {
            let tcp = tokio::net::TcpStream::connect((ip, self.config.mail.remote_https_port))
                .await
                .map_err(|e| fail(format!("{host}: {e}")))?;
            let name = rustls::pki_types::ServerName::try_from(host.clone())
                .map_err(|_| fail(format!("'{host}' is not a host name")))?;
            let tls = tokio_rustls::TlsConnector::from(config)
                .connect(name, tcp)
                .await
                .map_err(|e| ("sts-webpki-invalid", format!("{host}: {e}")))?;
            let (mut sender, conn) =
                hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
                    .await
                    .map_err(|e| fail(e.to_string()))?;
            tokio::spawn(conn);
            let request = hyper::Request::get("/.well-known/mta-sts.txt")
                .header(hyper::header::HOST, host.as_str())
                .header(hyper::header::USER_AGENT, "carepost")
                .body(http_body_util::Empty::<hyper::body::Bytes>::new())
                .map_err(|e| fail(e.to_string()))?;
            let response = sender
                .send_request(request)
                .await
                .map_err(|e| fail(e.to_string()))?;
            // Section 3.3: a redirect is not followed, and only 200 counts.
            if response.status() != hyper::StatusCode::OK {
                return Err(fail(format!("{host} answered {}", response.status())));
            }
            let plain = response
                .headers()
                .get(hyper::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(';').next())
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("text/plain"));
            if !plain {
                return Err((
                    "sts-policy-invalid",
                    format!("{host}: the policy is not text/plain"),
                ));
            }
            let body = http_body_util::Limited::new(response.into_body(), MAX_POLICY)
                .collect()
                .await
                .map_err(|e| fail(format!("{host}: {e}")))?
                .to_bytes();
            String::from_utf8(body.to_vec()).map_err(|_| {
                (
                    "sts-policy-invalid",
                    format!("{host}: the policy is not UTF-8"),
                )
            })
        };
        tokio::time::timeout(FETCH_TIMEOUT, work)
            .await
            .map_err(|_| fail(format!("{host}: no answer within {FETCH_TIMEOUT:?}")))?
    }
}
