//! carepost's configuration: the raw TOML shape (`raw`), checked as a whole by `validate`, which
//! reports every problem at once, into the immutable `Config` that the rest of the program
//! receives as an `Arc`. Also the text of a fresh production config (`init`) and the
//! development config that `serve --dev` derives from its flags (`dev`).
//!
//! This crate reads files; it opens no sockets and touches no store.

mod dev;
mod duration;
mod init;
mod mail;
mod policies;
mod raw;
mod security;
mod template;
mod validate;
mod web;

pub use dev::{DevOptions, dev_config, dev_config_path};
pub use duration::{duration_text, parse_duration};
pub use init::{InitOptions, Listen, render_production_config};
pub use mail::{ImapLimits, InactiveDelivery, MailPolicy, TlsMode, parse_size};
pub use policies::{EDITABLE, FieldKind, PolicyField, SECTIONS, field_text, parse_field};
pub use security::{LockoutPolicy, MfaPolicy, OidcPolicy, PasswordPolicy, SessionPolicy};
pub use template::{AddressTemplate, Token};
pub use web::WebConfig;

use carepost_types::Domain;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The role categories every installation has; `directory.categories` adds more.
pub const BUILTIN_CATEGORIES: &[&str] = &[
    "clinician",
    "nurse",
    "administrative",
    "support",
    "contractor",
    "service",
];

/// Local parts the address policy never hands out; `address.reserved` adds more.
pub const BUILTIN_RESERVED: &[&str] = &[
    "postmaster",
    "abuse",
    "hostmaster",
    "webmaster",
    "root",
    "admin",
    "administrator",
    "noreply",
    "no-reply",
    "security",
    "mailer-daemon",
    "helpdesk",
];

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Development mode: plain HTTP allowed, loopback listeners, generated certificate.
    pub dev: bool,
    pub organization: Organization,
    pub store: StoreConfig,
    pub tls: TlsConfig,
    pub listeners: Listeners,
    pub address: AddressConfig,
    /// Role categories accepted for accounts: the built-in ones and the configured additions.
    pub categories: Vec<String>,
    /// Whether an HR row marked active re-enables a disabled account (a deprovisioned one
    /// always comes back: a rehire). Off by default: IT may have disabled it for security.
    pub import_reactivates_disabled: bool,
    /// The fields the HR import may change (`IMPORT_FIELDS`); a difference in any other is
    /// reported as a conflict and left as the directory has it.
    pub import_owns: Vec<String>,
    /// A department an approved change request moved someone to stays, whatever HR says
    /// (reported as a conflict), until HR agrees or IT moves them again.
    pub change_requests_own_department: bool,
    /// How long a first-sign-in invitation's code works.
    pub invitation_lifetime: std::time::Duration,
    pub log: LogConfig,
    /// 32 bytes that protect secrets at rest.
    pub master_key: [u8; 32],
    pub password: PasswordPolicy,
    pub lockout: LockoutPolicy,
    pub mfa: MfaPolicy,
    pub sessions: SessionPolicy,
    pub oidc: OidcPolicy,
    pub mail: MailPolicy,
    pub imap: ImapLimits,
    pub web: WebConfig,
    pub calendar: CalendarPolicy,
    pub files: FilesPolicy,
}

/// What staff may do with their calendars beyond sharing them with colleagues.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CalendarPolicy {
    /// Whether a calendar may be published as a read-only iCalendar feed at a secret URL
    /// (reachable by anyone who has the URL). Off by default.
    pub public_feeds: bool,
}

/// Each account's WebDAV file space (`/dav/files/ADDRESS/`). Off by default: what staff keep
/// there is outside mail's retention and search, so an organization turns it on knowingly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FilesPolicy {
    pub enabled: bool,
    /// Bytes of content one account may keep.
    pub quota: u64,
    /// The largest file, in bytes.
    pub max_file_size: u64,
}

impl Default for FilesPolicy {
    fn default() -> FilesPolicy {
        FilesPolicy {
            enabled: false,
            quota: 1 << 30,
            max_file_size: 25 << 20,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Organization {
    pub name: String,
    pub domain: Domain,
    pub extra_domains: Vec<Domain>,
}

#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// `sqlite://...` or `postgres://...`.
    pub url: String,
    pub blob_dir: PathBuf,
}

#[derive(Debug, Clone)]
pub struct TlsConfig {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// Generate a self-signed pair at these paths when they do not exist (development mode).
    pub generate_if_missing: bool,
}

/// Listener addresses; `None` means off. SMTP and IMAP listeners are accepted now and bound
/// once those capabilities are built.
#[derive(Debug, Clone, Default)]
pub struct Listeners {
    pub https: Option<SocketAddr>,
    pub http: Option<SocketAddr>,
    pub smtp: Option<SocketAddr>,
    pub submission: Option<SocketAddr>,
    pub submissions: Option<SocketAddr>,
    pub imap: Option<SocketAddr>,
    pub imaps: Option<SocketAddr>,
    /// Prometheus metrics over plain HTTP, kept off the public HTTPS listener.
    pub metrics: Option<SocketAddr>,
}

/// The fields an HR import row carries besides the employee id (its key, always HR's).
pub const IMPORT_FIELDS: [&str; 5] = ["name", "category", "department", "supervisor", "status"];

/// Which first name the address template's `{first}` and `{f}` use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameSource {
    Legal,
    Preferred,
}

#[derive(Debug, Clone)]
pub struct AddressConfig {
    pub template: AddressTemplate,
    /// For people with one legal name (`{name}`).
    pub mononym_template: AddressTemplate,
    /// Built-in and configured reserved local parts, lower-case.
    pub reserved: Vec<String>,
    /// How long an address of a departed or renamed account stays unassignable.
    pub quarantine: Duration,
    pub name_source: NameSource,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone)]
pub struct LogConfig {
    pub format: LogFormat,
    pub level: String,
}

/// Every problem found in a configuration, reported together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors {
    pub source: String,
    pub errors: Vec<String>,
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.errors.len();
        let noun = if n == 1 { "error" } else { "errors" };
        write!(
            f,
            "{n} {noun} in {}: {}",
            self.source,
            self.errors.join("; ")
        )
    }
}

impl std::error::Error for ConfigErrors {}

impl Config {
    /// Reads and validates a TOML config file. Relative paths in it are taken from the
    /// file's own directory.
    pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
        let source = path.display().to_string();
        let fail = |e: String| ConfigErrors {
            source: source.clone(),
            errors: vec![e],
        };
        let text = std::fs::read_to_string(path).map_err(|e| fail(format!("cannot read: {e}")))?;
        let raw: raw::RawConfig = toml::from_str(&text).map_err(|e| fail(one_line(&e)))?;
        let base = path.parent().unwrap_or(Path::new("."));
        validate::validate(raw, base).map_err(|errors| ConfigErrors { source, errors })
    }

    /// Validates TOML text as if it were a file in `base`.
    pub fn from_toml(text: &str, base: &Path) -> Result<Config, ConfigErrors> {
        let source = "config".to_string();
        let raw: raw::RawConfig = toml::from_str(text).map_err(|e| ConfigErrors {
            source: source.clone(),
            errors: vec![one_line(&e)],
        })?;
        validate::validate(raw, base).map_err(|errors| ConfigErrors { source, errors })
    }

    /// Every domain carepost accepts as its own.
    pub fn domains(&self) -> impl Iterator<Item = &Domain> {
        std::iter::once(&self.organization.domain).chain(&self.organization.extra_domains)
    }
}

fn one_line(e: &toml::de::Error) -> String {
    e.to_string()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('|') && *l != "^")
        .collect::<Vec<_>>()
        .join(" ")
}
