//! The text of a configuration file: commented, every key present, secrets filled in. Written
//! by `carepost init` for production and by `serve --dev` for the development data directory.

use carepost_types::Domain;
use std::path::Path;

/// What `carepost init` asks for.
#[derive(Debug, Clone)]
pub struct InitOptions<'a> {
    /// The directory that will hold the config, the store and the certificate; absolute.
    pub dir: &'a Path,
    pub domain: &'a Domain,
    pub org: &'a str,
    /// 32 random bytes, base64.
    pub master_key: &'a str,
    /// `None` for the embedded SQLite store in `dir`.
    pub store_url: Option<&'a str>,
}

/// Standard ports, in the order https, http, smtp, submission, submissions, imap, imaps,
/// metrics (9464, the Prometheus exporters' usual port).
pub(crate) const STANDARD_PORTS: [u16; 8] = [443, 80, 25, 587, 465, 143, 993, 9464];

/// Where a production config's listeners go: every service on `listen` (all addresses by
/// default) at `port_base` plus the standard port; metrics on 127.0.0.1 unless `listen` is
/// a loopback address itself.
#[derive(Debug, Clone, Copy)]
pub struct Listen {
    pub address: std::net::IpAddr,
    pub port_base: u16,
}

impl Default for Listen {
    fn default() -> Listen {
        Listen {
            address: std::net::Ipv4Addr::UNSPECIFIED.into(),
            port_base: 0,
        }
    }
}

pub fn render_production_config(o: &InitOptions<'_>, at: Listen) -> Result<String, String> {
    let port = |p: u16| {
        at.port_base.checked_add(p).ok_or(format!(
            "--port-base {} + the standard port {p} is past 65535",
            at.port_base
        ))
    };
    let socket = |ip: std::net::IpAddr, p: u16| std::net::SocketAddr::new(ip, p).to_string();
    let mut listeners = Vec::new();
    for p in STANDARD_PORTS {
        listeners.push(socket(at.address, port(p)?));
    }
    // Metrics say how busy the server is and who fails to sign in: this machine only.
    let loopback = std::net::Ipv4Addr::LOCALHOST.into();
    listeners[7] = socket(loopback, port(STANDARD_PORTS[7])?);
    let listeners: [String; 8] = listeners
        .try_into()
        .map_err(|_| "eight listeners".to_string())?;
    Ok(render(o, false, &listeners))
}

/// Renders either kind; `listeners` follows `STANDARD_PORTS`' order.
pub(crate) fn render(o: &InitOptions<'_>, dev: bool, listeners: &[String; 8]) -> String {
    let dir = o.dir.display();
    let store_url = o
        .store_url
        .map(str::to_string)
        .unwrap_or_else(|| format!("sqlite://{dir}/carepost.db"));
    let quote = |s: &str| toml::Value::String(s.to_string()).to_string();
    let [
        https,
        http,
        smtp,
        submission,
        submissions,
        imap,
        imaps,
        metrics,
    ] = listeners;
    let http_line = if dev {
        format!("http = {}", quote(http))
    } else {
        "# http: plain HTTP is refused outside development mode.".to_string()
    };
    // In development, browsers reach the portal on this machine; a passkey needs a host name,
    // not an address, so it is `localhost`.
    let public_url = if dev {
        let port = https.rsplit(':').next().unwrap_or("443");
        format!("https://localhost:{port}")
    } else {
        format!("https://mail.{}", o.domain.as_str())
    };
    format!(
        r#"# carepost configuration.
# `carepost serve --config THIS_FILE` validates all of it first and reports every error at once.
# Durations are written like 30s, 15m, 24h, 365d.

# Development mode: plain HTTP, generated certificate. Never in production.
dev = {dev}

[organization]
name = {org}
# The domain staff addresses are made in.
domain = {domain}
# Further domains carepost accepts mail for (aliases may use them).
extra_domains = []

[store]
# The embedded SQLite file, or postgres://USER:PASSWORD@HOST/DATABASE to let several
# carepost nodes share one store.
url = {store_url}
# Message bodies and other blobs, content-addressed.
blob_dir = {blob_dir}

[tls]
# PEM certificate chain and private key for every TLS listener. `carepost init` wrote a
# self-signed pair here; replace it with your organization's certificate.
cert = {cert}
key = {key}
# Make a self-signed pair at these paths when they are missing.
generate_if_missing = {dev}

[listeners]
# ADDRESS:PORT, or "" to turn a listener off.
# HTTPS: the portal, the console, the JSON API, single sign-on, mail-app autoconfig.
https = {https}
{http_line}
# SMTP: the MX (mail for the organization; STARTTLS offered, no AUTH), submission with
# STARTTLS then AUTH, submission over implicit TLS.
smtp = {smtp}
submission = {submission}
submissions = {submissions}
# IMAP: STARTTLS then LOGIN or AUTHENTICATE; IMAP over implicit TLS.
imap = {imap}
imaps = {imaps}
# Prometheus metrics (GET /metrics, plain HTTP): keep it on 127.0.0.1 or a monitoring network,
# never public.
metrics = {metrics}

[address]
# How an address is made from a name: {{first}}, {{f}} (first initial), {{last}}, {{l}}, joined by
# '.', '-' or '_'. Examples: "{{first}}.{{last}}" (john.smith), "{{f}}{{last}}" (jsmith),
# "{{first}}{{l}}" (johns), "{{first}}_{{last}}", "{{last}}.{{first}}".
template = "{{first}}.{{last}}"
# For people with one legal name (imported with single_name, or `account create --single-name`):
# {{name}}, alone or repeated ("{{name}}.{{name}}" for systems that expect two parts).
mononym_template = "{{name}}"
# Which first name the template uses: "legal" or "preferred".
name = "legal"
# Local parts never handed out, on top of the built-in list (postmaster, abuse, hostmaster,
# webmaster, root, admin, administrator, noreply, no-reply, security, mailer-daemon, helpdesk).
reserved = []
# How long an address of a departed or renamed colleague is held back before anyone else may
# receive it.
quarantine = "365d"

[directory]
# Role categories on top of clinician, nurse, administrative, support, contractor, service.
categories = []
# Whether an HR import row marked active re-enables a disabled account (a deprovisioned one
# always comes back: a rehire). Leave it off if IT disables accounts for security reasons.
import_reactivates_disabled = false
# The fields the HR import may change (name, category, department, supervisor, status); a
# difference in any other is reported as a conflict and left as the directory has it.
import_owns = ["name", "category", "department", "supervisor", "status"]
# A department that an approved change request moved someone to stays, whatever HR says
# (reported as a conflict), until HR agrees or IT moves them again.
change_requests_own_department = true
# How long a first-sign-in invitation's code works (`carepost invite`).
invitation_lifetime = "7d"

[password]
# The policy a new password must meet, and how passwords are hashed (argon2id).
min_length = 12
max_length = 128
# zxcvbn's strength estimate, 0 to 4.
min_strength = 3
# Earlier passwords that may not be used again.
history = 12
# "0s" for passwords that never expire.
max_age = "365d"
warn_before = "14d"
min_age = "1d"
# How long a temporary password (from a reset) may be used to sign in and set a new one.
temporary_lifetime = "3d"
argon2_memory_kib = 19456
argon2_iterations = 2
argon2_parallelism = 1
# Hashes computed at once (0: one per CPU); more sign-ins wait their turn.
max_concurrent_hashes = 0
# A new password also revokes the account's app passwords.
revoke_app_passwords_on_change = true

[lockout]
# Consecutive failures that lock an account, counted apart for familiar networks (where the
# account signed in before) and all others, so a spray locks out the attacker, not the nurse.
threshold = 5
# The first lock; each further one doubles, up to max_duration.
duration = "15m"
max_duration = "24h"
# A source network (an IPv4 /24, an IPv6 /64) where this many logins failed within the window,
# none of them followed by a success, pauses sign-ins for accounts that do not know it (a
# password spray tries many logins; a ward computer retries a few until they succeed). A
# correct password with a second factor, and app passwords, always get through.
source_threshold = 20
source_window = "15m"
# Your own workstation networks (shared ward computers, a NAT), which pause only at
# trusted_source_threshold. Only here in the file, never at run time.
trusted_networks = []
trusted_source_threshold = 100
# Whether the helpdesk may unlock an account that holds an administrative role; off, only an
# IT administrator may (a caller must not talk the helpdesk into opening an administrator's
# account). Only here in the file.
helpdesk_unlocks_role_holders = false

[mfa]
# Who must use a second factor, and how long they have to enroll.
required_roles = ["it-admin", "helpdesk"]
required_categories = ["clinician"]
required_departments = []
grace = "7d"

[sessions]
# Web sessions: idle timeout (shared clinical workstations) and absolute limit.
idle_timeout = "15m"
absolute_timeout = "12h"
# How recent a proof of the second factor must be to change second factors, make an app
# password, or make an administrator's change in the console (a step-up asks again).
step_up = "15m"

[oidc]
# Single sign-on (OpenID Connect): access tokens' lifetime; a refresh token unused this long
# ends; an offline grant (a mail app signed in with OAuth) ends after this however used.
access_token_lifetime = "10m"
refresh_token_idle = "14d"
offline_lifetime = "90d"

[imap]
# Open IMAP connections per listener, per source address (raise it behind terminal servers
# or a proxy), and signed-in sessions per account.
max_connections = 5000
max_connections_per_source = 100
max_sessions_per_account = 50
# How often an open session checks its account and app password (in IDLE too).
recheck_interval = "5m"

[web]
# The address staff type to reach the portal (scheme, host and port). Passkeys are bound to
# its host name: changing the host later means everyone registers their passkeys again.
public_url = {public_url}

[mail]
# The name in greetings and Received: headers.
hostname = {hostname}
# Storage per account; a full mailbox refuses new mail (452 4.2.2) until it has room.
quota = "10GiB"
max_message_size = "50MiB"
max_recipients = 500
# Messages one account may submit per hour.
submissions_per_hour = 1000
# Mail for disabled and deprovisioned accounts: "receive" or "reject" (550 5.1.1).
disabled_accounts = "receive"
deprovisioned_accounts = "reject"
# Put in front of the subject of mail from outside ("" for none).
external_subject_prefix = "[EXTERNAL]"
save_sent = true
# How long outbound mail is retried before it is returned to its sender.
queue_lifetime = "5d"
# HOST or HOST:PORT to send all outbound mail through; "" to deliver to each domain's MX.
relay_host = ""
# Recipient domains whose servers must offer STARTTLS with a certificate valid for their name
# (the same as "verified" in tls_policy).
require_tls_domains = []
# TLS per recipient domain: "opportunistic" (STARTTLS when offered), "encrypted" (STARTTLS
# required, any certificate), "verified" (a certificate valid for the MX host's name) or
# "dane" (DNSSEC-signed TLSA records must match). Without an entry, the domain's MTA-STS
# policy (RFC 8461) or DANE records (RFC 7672) decide, else TLS is opportunistic. Example:
# tls_policy = {{ "lab.partner.example" = "verified" }}
tls_policy = {{}}
# Certificate authorities (a PEM file) trusted for outbound TLS beside the system's; "" for none.
tls_trust = ""
# Send daily TLS-RPT reports (RFC 8460) to the domains that publish _smtp._tls records.
tls_reports = true
# DANE rests on the resolver's DNSSEC verdict (its AD bit), trusted only from a resolver on this
# host's loopback (unbound, say). true trusts it from dns_servers elsewhere: only on a path
# no one can tamper with.
dnssec_resolver_trusted = false
# DNS servers (IP or IP:PORT) for MX, SPF, DKIM and DMARC lookups; [] for the system's.
dns_servers = []
# The DKIM key signing mail that leaves (`carepost dkim show` prints its DNS record).
dkim_key = {dkim_key}
dkim_selector = "carepost"
# Who receives mail for postmaster@ and abuse@ (RFC 5321 requires postmaster); "" for the
# first administrator.
postmaster = ""

[log]
# "text" or "json".
format = "text"
# A tracing filter: "info", "debug", "carepost_store=debug,info", ...
level = "info"

[secrets]
# 32 random bytes, base64, protecting secrets at rest. Keep a copy with your backups: without
# it, encrypted data cannot be read.
master_key = {master_key}
"#,
        org = quote(o.org),
        domain = quote(o.domain.as_str()),
        store_url = quote(&store_url),
        blob_dir = quote(&format!("{dir}/blobs")),
        cert = quote(&format!("{dir}/tls/cert.pem")),
        key = quote(&format!("{dir}/tls/key.pem")),
        hostname = quote(&format!("mail.{}", o.domain.as_str())),
        public_url = quote(&public_url),
        dkim_key = quote(&format!("{dir}/dkim.pem")),
        https = quote(https),
        smtp = quote(smtp),
        submission = quote(submission),
        submissions = quote(submissions),
        imap = quote(imap),
        imaps = quote(imaps),
        metrics = quote(metrics),
        master_key = quote(o.master_key),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;

    #[test]
    fn the_production_config_validates_as_written() {
        let domain = Domain::parse("kaiser.org").unwrap();
        let o = InitOptions {
            dir: Path::new("/srv/carepost"),
            domain: &domain,
            org: "Kaiser \"Permanente\"",
            master_key: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            store_url: None,
        };
        let text = render_production_config(&o, Listen::default()).unwrap();
        let c = Config::from_toml(&text, Path::new("/srv/carepost")).unwrap();
        assert!(!c.dev);
        assert_eq!(c.organization.name, "Kaiser \"Permanente\"");
        assert_eq!(c.store.url, "sqlite:///srv/carepost/carepost.db");
        assert_eq!(c.listeners.https.unwrap().port(), 443);
        assert_eq!(c.listeners.imaps.unwrap().port(), 993);
        assert_eq!(c.listeners.metrics.unwrap().to_string(), "127.0.0.1:9464");
        assert!(c.listeners.http.is_none());
        assert!(!c.tls.generate_if_missing);
        // The file spells out exactly the built-in defaults.
        assert_eq!(c.password, crate::PasswordPolicy::default());
        assert_eq!(c.lockout, crate::LockoutPolicy::default());
        assert_eq!(c.mfa, crate::MfaPolicy::default());
        assert_eq!(c.sessions, crate::SessionPolicy::default());
        assert_eq!(c.oidc, crate::OidcPolicy::default());
        assert_eq!(c.imap, crate::ImapLimits::default());
        assert_eq!(c.web.public_url.as_str(), "https://mail.kaiser.org/");
        // Every section a config may have is written out, with its comments.
        for section in [
            "[organization]",
            "[store]",
            "[tls]",
            "[listeners]",
            "[address]",
            "[directory]",
            "[password]",
            "[lockout]",
            "[mfa]",
            "[sessions]",
            "[oidc]",
            "[imap]",
            "[web]",
            "[mail]",
            "[log]",
            "[secrets]",
        ] {
            assert!(text.contains(&format!("\n{section}\n")), "{section}");
        }
        assert!(!text.contains("this version does not"));
        // --listen and --port-base move every listener but metrics, which stays local.
        let at = Listen {
            address: "10.0.0.5".parse().unwrap(),
            port_base: 8000,
        };
        let text = render_production_config(&o, at).unwrap();
        let c = Config::from_toml(&text, Path::new("/srv/carepost")).unwrap();
        assert_eq!(c.listeners.https.unwrap().to_string(), "10.0.0.5:8443");
        assert_eq!(c.listeners.smtp.unwrap().to_string(), "10.0.0.5:8025");
        assert_eq!(c.listeners.metrics.unwrap().to_string(), "127.0.0.1:17464");
        let far = Listen {
            port_base: 60000,
            ..at
        };
        assert!(
            render_production_config(&o, far)
                .unwrap_err()
                .contains("past 65535")
        );
    }
}
