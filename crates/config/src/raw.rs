//! The config file exactly as written: every section optional, every key spelled as in the
//! file, unknown keys refused. Values stay text here; `validate` gives them meaning.

use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub dev: Option<bool>,
    #[serde(default)]
    pub organization: RawOrganization,
    #[serde(default)]
    pub store: RawStore,
    #[serde(default)]
    pub tls: RawTls,
    #[serde(default)]
    pub listeners: RawListeners,
    #[serde(default)]
    pub address: RawAddress,
    #[serde(default)]
    pub directory: RawDirectory,
    #[serde(default)]
    pub log: RawLog,
    #[serde(default)]
    pub secrets: RawSecrets,
    #[serde(default)]
    pub password: RawPassword,
    #[serde(default)]
    pub lockout: RawLockout,
    #[serde(default)]
    pub mfa: RawMfa,
    #[serde(default)]
    pub sessions: RawSessions,
    #[serde(default)]
    pub oidc: RawOidc,
    #[serde(default)]
    pub mail: RawMail,
    #[serde(default)]
    pub imap: RawImap,
    #[serde(default)]
    pub web: RawWeb,
    #[serde(default)]
    pub calendar: RawCalendar,
    #[serde(default)]
    pub files: RawFiles,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCalendar {
    pub public_feeds: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFiles {
    pub enabled: Option<bool>,
    pub quota: Option<String>,
    pub max_file_size: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWeb {
    pub public_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOrganization {
    pub name: Option<String>,
    pub domain: Option<String>,
    #[serde(default)]
    pub extra_domains: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStore {
    pub url: Option<String>,
    pub blob_dir: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTls {
    pub cert: Option<String>,
    pub key: Option<String>,
    pub generate_if_missing: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawListeners {
    pub https: Option<String>,
    pub http: Option<String>,
    pub smtp: Option<String>,
    pub submission: Option<String>,
    pub submissions: Option<String>,
    pub imap: Option<String>,
    pub imaps: Option<String>,
    pub metrics: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAddress {
    pub template: Option<String>,
    pub mononym_template: Option<String>,
    #[serde(default)]
    pub reserved: Vec<String>,
    pub quarantine: Option<String>,
    pub name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDirectory {
    #[serde(default)]
    pub categories: Vec<String>,
    pub import_reactivates_disabled: Option<bool>,
    pub import_owns: Option<Vec<String>>,
    pub change_requests_own_department: Option<bool>,
    pub invitation_lifetime: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLog {
    pub format: Option<String>,
    pub level: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSecrets {
    pub master_key: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPassword {
    pub min_length: Option<usize>,
    pub max_length: Option<usize>,
    pub min_strength: Option<u8>,
    pub history: Option<usize>,
    pub max_age: Option<String>,
    pub temporary_lifetime: Option<String>,
    pub warn_before: Option<String>,
    pub min_age: Option<String>,
    pub argon2_memory_kib: Option<u32>,
    pub argon2_iterations: Option<u32>,
    pub argon2_parallelism: Option<u32>,
    pub max_concurrent_hashes: Option<usize>,
    pub revoke_app_passwords_on_change: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLockout {
    pub threshold: Option<u32>,
    pub duration: Option<String>,
    pub max_duration: Option<String>,
    pub source_threshold: Option<u32>,
    pub source_window: Option<String>,
    pub trusted_networks: Option<Vec<String>>,
    pub trusted_source_threshold: Option<u32>,
    pub helpdesk_unlocks_role_holders: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMfa {
    pub required_roles: Option<Vec<String>>,
    pub required_categories: Option<Vec<String>>,
    pub required_departments: Option<Vec<String>>,
    pub grace: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSessions {
    pub idle_timeout: Option<String>,
    pub absolute_timeout: Option<String>,
    pub step_up: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOidc {
    pub access_token_lifetime: Option<String>,
    pub refresh_token_idle: Option<String>,
    pub offline_lifetime: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawImap {
    pub max_connections: Option<usize>,
    pub max_connections_per_source: Option<usize>,
    pub max_sessions_per_account: Option<usize>,
    pub recheck_interval: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMail {
    pub hostname: Option<String>,
    pub quota: Option<String>,
    pub max_message_size: Option<String>,
    pub max_recipients: Option<usize>,
    pub submissions_per_hour: Option<u32>,
    pub disabled_accounts: Option<String>,
    pub deprovisioned_accounts: Option<String>,
    pub external_subject_prefix: Option<String>,
    pub save_sent: Option<bool>,
    pub queue_lifetime: Option<String>,
    pub relay_host: Option<String>,
    #[serde(default)]
    pub require_tls_domains: Vec<String>,
    #[serde(default)]
    pub dns_servers: Vec<String>,
    #[serde(default)]
    pub tls_policy: std::collections::BTreeMap<String, String>,
    pub tls_trust: Option<String>,
    pub tls_reports: Option<bool>,
    pub dnssec_resolver_trusted: Option<bool>,
    pub remote_smtp_port: Option<u16>,
    pub remote_https_port: Option<u16>,
    pub dkim_key: Option<String>,
    pub dkim_selector: Option<String>,
    pub postmaster: Option<String>,
}
