//! `[mail]`: how the mail store and the SMTP services behave; `[imap]`: the IMAP listeners'
//! connection limits. Sizes are written like `10GiB`,
//! `50MB` or a plain number of bytes.

use crate::raw::{RawImap, RawMail};
use crate::validate::Errors;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What happens to mail for an account that is not active.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InactiveDelivery {
    /// Delivered as usual (the mailbox keeps filling for a supervisor or a returning employee).
    Receive,
    /// Refused at RCPT with 550 5.1.1.
    Reject,
}

/// How mail to one recipient domain must be encrypted (`mail.tls_policy`). Where a domain has
/// no entry, its MTA-STS policy or DANE records decide, and TLS is otherwise opportunistic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// STARTTLS when offered, whatever the certificate (RFC 7435).
    Opportunistic,
    /// STARTTLS required, any certificate.
    Encrypted,
    /// STARTTLS required, with a certificate valid for the MX host's name.
    Verified,
    /// STARTTLS required, with a certificate that DNSSEC-signed TLSA records match.
    Dane,
}

impl TlsMode {
    pub fn parse(s: &str) -> Option<TlsMode> {
        match s {
            "opportunistic" => Some(TlsMode::Opportunistic),
            "encrypted" => Some(TlsMode::Encrypted),
            "verified" => Some(TlsMode::Verified),
            "dane" => Some(TlsMode::Dane),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailPolicy {
    /// The name this server gives in greetings and `Received:` headers.
    pub hostname: String,
    /// Storage per account in bytes; a mailbox at or over it refuses new mail.
    pub quota: u64,
    /// The largest message accepted, in bytes (SMTP SIZE).
    pub max_message_size: u64,
    /// Recipients per message.
    pub max_recipients: usize,
    /// Messages one account may submit per hour.
    pub submissions_per_hour: u32,
    pub disabled_accounts: InactiveDelivery,
    pub deprovisioned_accounts: InactiveDelivery,
    /// Put at the front of the subject of mail from outside the organization ("" for none).
    pub external_subject_prefix: String,
    /// Keep a copy of submitted mail in the sender's Sent mailbox.
    pub save_sent: bool,
    /// How long the outbound queue keeps trying before it gives up and returns the message.
    pub queue_lifetime: Duration,
    /// Send all outbound mail through this host instead of the recipients' MX hosts.
    pub relay_host: Option<(String, u16)>,
    /// The TLS each listed recipient domain must get (`mail.tls_policy`, and
    /// `mail.require_tls_domains` as `verified`); lower-case domain names.
    pub tls_policy: std::collections::BTreeMap<String, TlsMode>,
    /// Certificate authorities (PEM) trusted for outbound TLS and MTA-STS beside the system's.
    pub tls_trust: Option<PathBuf>,
    /// Whether daily TLS-RPT reports (RFC 8460) go to the domains that ask for them.
    pub tls_reports: bool,
    /// Trust the resolver's DNSSEC verdict (the AD bit, which DANE rests on) although it is
    /// not on this host's loopback; by default only a loopback resolver's is trusted.
    pub dnssec_resolver_trusted: bool,
    /// The port other organizations' MX hosts are reached on (25; a lab or a test changes it).
    pub remote_smtp_port: u16,
    /// The port MTA-STS policies are fetched from (443; a lab or a test changes it).
    pub remote_https_port: u16,
    /// The DNS servers for MX, SPF, DKIM and DMARC lookups; empty: the system's
    /// (`/etc/resolv.conf`).
    pub dns_servers: Vec<std::net::SocketAddr>,
    /// The DKIM private key (PKCS#8 PEM) that signs mail leaving the organization.
    pub dkim_key: Option<PathBuf>,
    pub dkim_selector: String,
    /// Who receives mail for postmaster@ and abuse@ of every own domain (RFC 5321 section
    /// 4.5.1, RFC 2142); `None` means the first administrator, administrator@ the domain.
    pub postmaster: Option<String>,
}

impl Default for MailPolicy {
    fn default() -> Self {
        MailPolicy {
            hostname: "localhost".to_string(),
            quota: 10 << 30,
            max_message_size: 50 << 20,
            max_recipients: 500,
            submissions_per_hour: 1000,
            disabled_accounts: InactiveDelivery::Receive,
            deprovisioned_accounts: InactiveDelivery::Reject,
            external_subject_prefix: "[EXTERNAL]".to_string(),
            save_sent: true,
            queue_lifetime: Duration::from_secs(5 * 86_400),
            relay_host: None,
            tls_policy: Default::default(),
            tls_trust: None,
            tls_reports: true,
            dnssec_resolver_trusted: false,
            remote_smtp_port: 25,
            remote_https_port: 443,
            dns_servers: Vec::new(),
            dkim_key: None,
            dkim_selector: "carepost".to_string(),
            postmaster: None,
        }
    }
}

/// How many IMAP connections are served at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImapLimits {
    /// Open connections per listener.
    pub max_connections: usize,
    /// Open connections from one address per listener (raise it where many users share an
    /// address: a terminal server, a proxy).
    pub max_connections_per_source: usize,
    /// Signed-in sessions of one account across the listeners (a phone, a tablet, desktops
    /// with a connection per folder).
    pub max_sessions_per_account: usize,
    /// How often an open session checks that its account is active and its app password in
    /// force (also in IDLE, where nothing else would wake it).
    pub recheck_interval: Duration,
}

impl Default for ImapLimits {
    fn default() -> Self {
        ImapLimits {
            max_connections: 5000,
            max_connections_per_source: 100,
            max_sessions_per_account: 50,
            recheck_interval: Duration::from_secs(5 * 60),
        }
    }
}

pub(crate) fn imap(errs: &mut Errors, raw: RawImap) -> ImapLimits {
    let d = ImapLimits::default();
    let recheck_interval = crate::security::duration(
        errs,
        "imap.recheck_interval",
        raw.recheck_interval,
        d.recheck_interval,
    );
    if recheck_interval.is_zero() {
        errs.push("imap.recheck_interval: longer than 0s");
    }
    let mut at_least_one = |key: &str, v: Option<usize>, default: usize| {
        let v = v.unwrap_or(default);
        if v == 0 {
            errs.push(&format!("imap.{key}: at least 1"));
        }
        v
    };
    ImapLimits {
        max_connections: at_least_one("max_connections", raw.max_connections, d.max_connections),
        max_connections_per_source: at_least_one(
            "max_connections_per_source",
            raw.max_connections_per_source,
            d.max_connections_per_source,
        ),
        max_sessions_per_account: at_least_one(
            "max_sessions_per_account",
            raw.max_sessions_per_account,
            d.max_sessions_per_account,
        ),
        recheck_interval,
    }
}

/// `10GiB`, `512MiB`, `50MB`, `4096`: a size in bytes.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("'{s}' is not a size: write a number and a unit, like 10GiB"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "kib" | "k" => 1 << 10,
        "mb" => 1_000_000,
        "mib" | "m" => 1 << 20,
        "gb" => 1_000_000_000,
        "gib" | "g" => 1 << 30,
        "tb" => 1_000_000_000_000,
        "tib" | "t" => 1 << 40,
        other => {
            return Err(format!(
                "unknown size unit '{other}': use B, KiB, MiB, GiB or TiB"
            ));
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("'{s}' is too large"))
}

fn inactive(
    errs: &mut Errors,
    key: &str,
    v: Option<String>,
    d: InactiveDelivery,
) -> InactiveDelivery {
    match v.as_deref() {
        None => d,
        Some("receive") => InactiveDelivery::Receive,
        Some("reject") => InactiveDelivery::Reject,
        Some(other) => {
            errs.push(&format!("{key}: '{other}' is not 'receive' or 'reject'"));
            d
        }
    }
}

pub(crate) fn size(errs: &mut Errors, key: &str, v: Option<String>, d: u64) -> u64 {
    match v {
        Some(t) => errs.check(key, parse_size(&t)).unwrap_or(d),
        None => d,
    }
}

fn relay(errs: &mut Errors, v: Option<String>) -> Option<(String, u16)> {
    let v = v.filter(|v| !v.is_empty())?;
    let parsed = match v.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() => port.parse().ok().map(|p| (host.to_string(), p)),
        None => Some((v.clone(), 25)),
        _ => None,
    };
    if parsed.is_none() {
        errs.push(&format!("mail.relay_host: '{v}' is not HOST or HOST:PORT"));
    }
    parsed
}

/// `mail.tls_policy` with `mail.require_tls_domains` folded in as `verified` (the older key,
/// kept working; an explicit `tls_policy` entry wins).
fn tls_policy(
    errs: &mut Errors,
    required: &[String],
    raw: &std::collections::BTreeMap<String, String>,
) -> std::collections::BTreeMap<String, TlsMode> {
    let mut policy: std::collections::BTreeMap<String, TlsMode> = required
        .iter()
        .map(|d| (d.trim().to_lowercase(), TlsMode::Verified))
        .collect();
    for (domain, mode) in raw {
        match TlsMode::parse(mode) {
            Some(m) => {
                policy.insert(domain.trim().trim_end_matches('.').to_lowercase(), m);
            }
            None => errs.push(&format!(
                "mail.tls_policy: '{domain}' = '{mode}': use opportunistic, encrypted, verified \
                 or dane"
            )),
        }
    }
    policy
}

pub(crate) fn mail(
    errs: &mut Errors,
    raw: RawMail,
    org_domain: Option<&str>,
    base: &Path,
) -> MailPolicy {
    let d = MailPolicy::default();
    let hostname = raw
        .hostname
        .or_else(|| org_domain.map(|dom| format!("mail.{dom}")))
        .unwrap_or(d.hostname);
    if hostname.is_empty() || hostname.contains(char::is_whitespace) {
        errs.push("mail.hostname: must be a host name without spaces");
    }
    let max_message_size = size(
        errs,
        "mail.max_message_size",
        raw.max_message_size,
        d.max_message_size,
    );
    if max_message_size < 1024 {
        errs.push("mail.max_message_size: at least 1KiB");
    }
    let max_recipients = raw.max_recipients.unwrap_or(d.max_recipients);
    if max_recipients == 0 {
        errs.push("mail.max_recipients: at least 1");
    }
    MailPolicy {
        hostname,
        quota: size(errs, "mail.quota", raw.quota, d.quota),
        max_message_size,
        max_recipients,
        submissions_per_hour: raw.submissions_per_hour.unwrap_or(d.submissions_per_hour),
        disabled_accounts: inactive(
            errs,
            "mail.disabled_accounts",
            raw.disabled_accounts,
            d.disabled_accounts,
        ),
        deprovisioned_accounts: inactive(
            errs,
            "mail.deprovisioned_accounts",
            raw.deprovisioned_accounts,
            d.deprovisioned_accounts,
        ),
        external_subject_prefix: raw
            .external_subject_prefix
            .unwrap_or(d.external_subject_prefix),
        save_sent: raw.save_sent.unwrap_or(d.save_sent),
        queue_lifetime: match raw.queue_lifetime {
            Some(t) => errs
                .check("mail.queue_lifetime", crate::parse_duration(&t))
                .unwrap_or(d.queue_lifetime),
            None => d.queue_lifetime,
        },
        relay_host: relay(errs, raw.relay_host),
        tls_policy: tls_policy(errs, &raw.require_tls_domains, &raw.tls_policy),
        tls_trust: raw
            .tls_trust
            .filter(|p| !p.is_empty())
            .map(|p| crate::validate::resolve(base, &p)),
        tls_reports: raw.tls_reports.unwrap_or(d.tls_reports),
        dnssec_resolver_trusted: raw
            .dnssec_resolver_trusted
            .unwrap_or(d.dnssec_resolver_trusted),
        remote_smtp_port: raw.remote_smtp_port.unwrap_or(d.remote_smtp_port),
        remote_https_port: raw.remote_https_port.unwrap_or(d.remote_https_port),
        dns_servers: raw
            .dns_servers
            .iter()
            .filter_map(|a| {
                let parsed = a
                    .parse::<std::net::SocketAddr>()
                    .or_else(|_| a.parse::<std::net::IpAddr>().map(|ip| (ip, 53).into()));
                errs.check(
                    "mail.dns_servers",
                    parsed
                        .map_err(|_| format!("'{a}' is not an IP address (optionally with :PORT)")),
                )
            })
            .collect(),
        dkim_key: raw
            .dkim_key
            .filter(|p| !p.is_empty())
            .map(|p| crate::validate::resolve(base, &p)),
        dkim_selector: raw.dkim_selector.unwrap_or(d.dkim_selector),
        postmaster: raw
            .postmaster
            .map(|p| p.trim().to_lowercase())
            .filter(|p| !p.is_empty()),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_read_with_their_units() {
        assert_eq!(parse_size("10GiB"), Ok(10 << 30));
        assert_eq!(parse_size("50MB"), Ok(50_000_000));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("1 MiB"), Ok(1 << 20));
        assert!(parse_size("ten").is_err());
        assert!(parse_size("5 parsecs").is_err());
        assert!(parse_size("99999999999TiB").is_err());
    }
}
