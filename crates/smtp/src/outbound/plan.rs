//! Where a delivery goes and what TLS each host must give. In order of precedence: the
//! configured relay (opportunistic unless the domain's configured policy or REQUIRETLS says
//! more); the domain's entry in `mail.tls_policy`; DANE (RFC 7672), when the MX records and the
//! host's TLSA records are DNSSEC-validated (RFC 8461 section 2: DANE wins over MTA-STS); the
//! domain's MTA-STS policy (only the hosts it lists, in `enforce` mode); else opportunistic TLS.
//! A sender's REQUIRETLS (RFC 8689 section 4.2.1) needs an authenticated host on every path
//! and bounces at once when there is none; a `TLS-Required: No` header (section 5) turns every
//! requirement back into opportunistic TLS, though outcomes are still reported.

use crate::SmtpService;
use carepost_config::TlsMode;
use carepost_mail::{Attempt, DueDelivery, MxAnswer, SecureKind, SecureRecord, TlsPolicyUsed};
use carepost_proto_smtp::dane::Tlsa;
use carepost_proto_smtp::mta_sts::{StsMode, StsPolicy};
use std::net::IpAddr;

/// What a host's TLS must prove.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Need {
    /// TLS when offered, any certificate.
    Opportunistic,
    /// TLS, any certificate (also DANE with only unusable records, RFC 7672 section 2.2).
    Encrypted,
    /// TLS with a certificate valid for the host's name.
    Verified,
    /// As `Verified`, under the domain's MTA-STS policy; `testing` only reports failures.
    Sts(StsPolicy),
    /// TLS with a certificate the host's TLSA records match.
    Dane(Vec<Tlsa>),
    /// `mail.tls_policy` says `dane` and the host has no usable validated TLSA records.
    DaneMissing,
}

impl Need {
    /// A failure of this requirement stops the delivery (rather than being only reported).
    pub(crate) fn enforced(&self) -> bool {
        match self {
            Need::Opportunistic => false,
            Need::Sts(p) => p.mode == StsMode::Enforce,
            _ => true,
        }
    }

    /// The host is authenticated, as REQUIRETLS needs: by DANE, an enforced MTA-STS policy,
    /// or a verified certificate for a name that validated MX records gave.
    fn authenticated(&self, secure_mx: bool) -> bool {
        match self {
            Need::Dane(_) => true,
            Need::Verified => secure_mx,
            Need::Sts(p) => p.mode == StsMode::Enforce,
            _ => false,
        }
    }
}

/// One host to try, with what its TLS must prove and how its sessions are reported.
#[derive(Debug, Clone)]
pub(crate) struct Hop {
    pub host: String,
    pub port: u16,
    pub need: Need,
    pub policy_domain: String,
    pub report: TlsPolicyUsed,
    /// The configured relay: found through the system's resolver (`/etc/hosts` included), as
    /// a host name in the config file expects.
    relay: bool,
}

/// Why a host could not take the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HopError {
    /// Try the next host, or later.
    Temporary(String),
    /// The host does not offer REQUIRETLS, which the message needs: try the others, and
    /// return the message if none does.
    NoRequireTls(String),
}

impl Hop {
    /// The host's addresses, through the configured resolver (so that a test's or a site's
    /// DNS is the one used), else the system's.
    pub(crate) async fn ips(&self, svc: &SmtpService) -> Result<Vec<IpAddr>, String> {
        match &svc.sender_auth {
            Some(auth) if !self.relay => auth.addresses(&self.host).await,
            _ => tokio::net::lookup_host((self.host.as_str(), self.port))
                .await
                .map(|a| a.map(|s| s.ip()).collect())
                .map_err(|e| format!("no address for {}: {e}", self.host)),
        }
    }
}

impl SmtpService {
    /// The hosts for `d`, best first, each with its requirement; `Err` is the outcome of every
    /// recipient when no host can be tried.
    pub(crate) async fn plan(&self, d: &DueDelivery) -> Result<Vec<Hop>, Attempt> {
        let configured = self.config.mail.tls_policy.get(&d.domain).copied();
        // RFC 8689 section 5 lets a sender waive the domain's own policies (MTA-STS, DANE),
        // not the site's configured ones.
        let relaxed = !d.require_tls && configured.is_none() && tls_required_no(&d.body);
        if let Some((host, port)) = &self.config.mail.relay_host {
            let need = match configured {
                // The relay is named in the configuration, not found in DNS: a certificate
                // valid for that name authenticates it, for REQUIRETLS too.
                _ if d.require_tls => Need::Verified,
                Some(TlsMode::Encrypted) => Need::Encrypted,
                Some(TlsMode::Verified) | Some(TlsMode::Dane) => Need::Verified,
                _ => Need::Opportunistic,
            };
            return Ok(vec![Hop {
                host: host.clone(),
                port: *port,
                need,
                policy_domain: d.domain.clone(),
                report: TlsPolicyUsed::NoPolicy,
                relay: true,
            }]);
        }
        let Some(auth) = &self.sender_auth else {
            return Err(Attempt::Temporary("no DNS resolver is configured".into()));
        };
        let mut hosts = match auth.mx_hosts(&d.domain).await {
            Ok(MxAnswer::Hosts(h)) => h,
            // No later try can reach these: returned to the sender now, not after the queue's
            // lifetime of retries.
            Ok(MxAnswer::NoSuchDomain) => {
                return Err(Attempt::Permanent(format!(
                    "550 5.1.2 the domain {} does not exist",
                    d.domain
                )));
            }
            Ok(MxAnswer::NullMx) => {
                return Err(Attempt::Permanent(format!(
                    "556 5.1.10 the domain {} accepts no mail (null MX)",
                    d.domain
                )));
            }
            Err(e) => return Err(Attempt::Temporary(e)),
        };
        let port = self.config.mail.remote_smtp_port;
        // DANE needs validated MX records: an attacker who can forge them could otherwise
        // name a host of theirs with TLSA records of their own (RFC 7672 section 2.2.1). A
        // lookup that fails (rather than answering "not signed") defers the delivery, as
        // Postfix does: a failure an attacker can cause must not switch DANE off.
        let dane_possible = auth.dnssec_usable()
            && !matches!(
                configured,
                Some(TlsMode::Opportunistic) | Some(TlsMode::Encrypted) | Some(TlsMode::Verified)
            );
        let mut secure_mx = false;
        if dane_possible {
            match auth.secure_lookup(&d.domain, SecureKind::Mx).await {
                Ok(Some(a)) if a.authentic => {
                    secure_mx = true;
                    // The hosts are those of the validated answer.
                    let mut mx: Vec<(u16, String)> = a
                        .records
                        .into_iter()
                        .filter_map(|r| match r {
                            SecureRecord::Mx(pref, host) if !host.is_empty() => Some((pref, host)),
                            _ => None,
                        })
                        .collect();
                    mx.sort();
                    if !mx.is_empty() {
                        hosts = mx.into_iter().map(|(_, h)| h).collect();
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    return Err(Attempt::Temporary(format!(
                        "the DNSSEC lookup of the MX records of {} failed: {e}",
                        d.domain
                    )));
                }
            }
        }
        let sts = match configured {
            None => Some(self.sts_policy(&d.domain).await),
            Some(_) => None,
        };
        if let Some(failure) = sts.as_ref().and_then(|s| s.failure.clone()) {
            self.report(&d.domain, TlsPolicyUsed::NoPolicy, Some(failure), "", "")
                .await;
        }
        let enforced_sts = sts
            .as_ref()
            .and_then(|s| s.policy.clone())
            .filter(|p| p.mode == StsMode::Enforce);
        let mut plan = Vec::new();
        let mut skipped = Vec::new();
        for host in hosts {
            // Section 4.1 of RFC 8461: a host an enforced policy does not list is never used,
            // even one with DANE records (those rest on a resolver the policy exists to distrust).
            if let Some(p) = &enforced_sts
                && !p.allows(&host)
            {
                let why = format!("{host} is not an MX the MTA-STS policy lists");
                if let Some(lookup) = &sts {
                    self.report(
                        &d.domain,
                        lookup.used(),
                        Some(("validation-failure", why.clone())),
                        &host,
                        "",
                    )
                    .await;
                }
                skipped.push(why);
                continue;
            }
            let tlsa = if secure_mx {
                match self.tlsa(&host).await {
                    Ok(t) => t,
                    Err(e) => {
                        skipped.push(format!("the TLSA lookup for {host} failed: {e}"));
                        continue;
                    }
                }
            } else {
                None
            };
            let (need, report) = match (configured, tlsa, &sts) {
                (_, Some(records), _) => {
                    let shown = records.iter().map(Tlsa::presentation).collect();
                    if records.iter().any(Tlsa::usable) {
                        (Need::Dane(records), TlsPolicyUsed::Tlsa(shown))
                    } else {
                        (Need::Encrypted, TlsPolicyUsed::Tlsa(shown))
                    }
                }
                (Some(TlsMode::Dane), None, _) => (Need::DaneMissing, TlsPolicyUsed::NoPolicy),
                (Some(TlsMode::Verified), None, _) => (Need::Verified, TlsPolicyUsed::NoPolicy),
                (Some(TlsMode::Encrypted), None, _) => (Need::Encrypted, TlsPolicyUsed::NoPolicy),
                (Some(TlsMode::Opportunistic), None, _) => {
                    (Need::Opportunistic, TlsPolicyUsed::NoPolicy)
                }
                (None, None, Some(lookup)) => match &lookup.policy {
                    Some(p) => (Need::Sts(p.clone()), lookup.used()),
                    None => (Need::Opportunistic, TlsPolicyUsed::NoPolicy),
                },
                (None, None, None) => (Need::Opportunistic, TlsPolicyUsed::NoPolicy),
            };
            let need = if d.require_tls && !need.authenticated(secure_mx) {
                // RFC 8689 section 4.2.1: PKIX is enough only on validated MX records.
                if secure_mx && need != Need::DaneMissing {
                    Need::Verified
                } else {
                    skipped.push(format!("{host} cannot be authenticated"));
                    continue;
                }
            } else {
                need
            };
            plan.push(Hop {
                host,
                port,
                need: if relaxed { Need::Opportunistic } else { need },
                policy_domain: d.domain.clone(),
                report,
                relay: false,
            });
        }
        if plan.is_empty() {
            return Err(if d.require_tls {
                Attempt::Permanent(format!(
                    "550 5.7.30 REQUIRETLS: no MX host of {} can be authenticated (neither \
                     DANE, nor an MTA-STS policy, nor a verified certificate on DNSSEC-validated \
                     MX records)",
                    d.domain
                ))
            } else if enforced_sts.is_some() && skipped.iter().all(|s| s.contains("MTA-STS")) {
                Attempt::Temporary(format!(
                    "the MTA-STS policy of {} lists none of its MX hosts",
                    d.domain
                ))
            } else {
                Attempt::Temporary(skipped.join("; "))
            });
        }
        Ok(plan)
    }

    /// The host's TLSA records when DNSSEC vouches for them; `Ok(None)` when it has none or
    /// they are not signed; `Err` when the lookup failed (the host is then not used).
    async fn tlsa(&self, host: &str) -> Result<Option<Vec<Tlsa>>, String> {
        let Some(auth) = self.sender_auth.as_ref() else {
            return Ok(None);
        };
        let port = self.config.mail.remote_smtp_port;
        // The TLSA name uses the standard port 25 (RFC 7672 section 2.2.3) unless a lab moved it.
        let name = format!("_{port}._tcp.{host}");
        match auth.secure_lookup(&name, SecureKind::Tlsa).await? {
            Some(a) if a.authentic => {
                let records: Vec<Tlsa> = a
                    .records
                    .into_iter()
                    .filter_map(|r| match r {
                        SecureRecord::Tlsa {
                            usage,
                            selector,
                            matching,
                            data,
                        } => Some(Tlsa {
                            usage,
                            selector,
                            matching,
                            data,
                        }),
                        SecureRecord::Mx(..) => None,
                    })
                    .collect();
                Ok(Some(records).filter(|v| !v.is_empty()))
            }
            _ => Ok(None),
        }
    }

    /// Adds one session's outcome to the TLS-RPT tally.
    pub(crate) async fn report(
        &self,
        domain: &str,
        policy: TlsPolicyUsed,
        failure: Option<(&'static str, String)>,
        host: &str,
        ip: &str,
    ) {
        let (failure, detail) = match failure {
            Some((kind, detail)) => (Some(kind), detail),
            None => (None, String::new()),
        };
        let outcome = carepost_mail::TlsOutcome {
            policy_domain: domain.to_string(),
            policy,
            failure,
            mx_host: host.to_string(),
            receiving_ip: ip.to_string(),
            detail,
        };
        if let Err(e) = self.mail.record_tls_outcome(&outcome).await {
            tracing::warn!(error = %e, domain, "cannot record a TLS outcome");
        }
    }
}

/// Whether the message's header section has `TLS-Required: No` (RFC 8689 section 5). Only the
/// field's name and its first line are read; the header ends at the first empty line.
fn tls_required_no(body: &[u8]) -> bool {
    body.split(|b| *b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .take_while(|l| !l.is_empty())
        // A folded continuation line is part of another field.
        .filter(|l| !l.starts_with(b" ") && !l.starts_with(b"\t"))
        .any(|l| {
            let l = String::from_utf8_lossy(l);
            l.split_once(':').is_some_and(|(name, value)| {
                name.trim().eq_ignore_ascii_case("tls-required")
                    && value.trim().eq_ignore_ascii_case("no")
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_required_no_is_read_from_the_header_only() {
        assert!(tls_required_no(
            b"From: a@b\r\nTLS-Required: No\r\n\r\nbody"
        ));
        assert!(tls_required_no(b"tls-required:no\n\nbody"));
        assert!(!tls_required_no(b"From: a@b\r\n\r\nTLS-Required: No\r\n"));
        assert!(!tls_required_no(b"TLS-Required: Yes\r\n\r\n"));
        assert!(!tls_required_no(
            b"Subject: x\r\n\tTLS-Required: No\r\n\r\n"
        ));
    }
}
