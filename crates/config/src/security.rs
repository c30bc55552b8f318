//! The security policies: passwords, lockout, multi-factor and sessions. Every key has a
//! default, so a config without these sections gets the documented behaviour.

use crate::raw::{RawLockout, RawMfa, RawOidc, RawPassword, RawSessions};
use crate::validate::Errors;
use crate::{BUILTIN_CATEGORIES, parse_duration};
use std::time::Duration;

const DAY: u64 = 86_400;

/// `[password]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordPolicy {
    pub min_length: usize,
    pub max_length: usize,
    /// zxcvbn score, 0 to 4.
    pub min_strength: u8,
    /// How many earlier passwords may not be used again.
    pub history: usize,
    /// `None`: passwords do not expire.
    pub max_age: Option<Duration>,
    pub warn_before: Duration,
    pub min_age: Duration,
    /// How long a temporary password (a reset's) may be used to sign in and change it.
    pub temporary_lifetime: Duration,
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    pub argon2_parallelism: u32,
    /// Password hashes computed at once; more wait their turn.
    pub max_concurrent_hashes: usize,
    /// A new password also revokes the account's app passwords (the mail apps must be set up
    /// again), as a stolen password may have been used to make them.
    pub revoke_app_passwords_on_change: bool,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy {
            min_length: 12,
            max_length: 128,
            min_strength: 3,
            history: 12,
            max_age: Some(Duration::from_secs(365 * DAY)),
            warn_before: Duration::from_secs(14 * DAY),
            min_age: Duration::from_secs(DAY),
            temporary_lifetime: Duration::from_secs(3 * DAY),
            // OWASP's argon2id recommendation: 19 MiB, 2 passes, 1 lane.
            argon2_memory_kib: 19_456,
            argon2_iterations: 2,
            argon2_parallelism: 1,
            max_concurrent_hashes: 0,
            revoke_app_passwords_on_change: true,
        }
    }
}

/// `[lockout]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Consecutive failures that lock an account (counted per kind of source).
    pub threshold: u32,
    /// The first lock; each further one doubles, up to `max_duration`.
    pub duration: Duration,
    pub max_duration: Duration,
    /// Logins (accounts, or unknown names) failing from one source network within
    /// `source_window` without a success since, after which that network's sign-ins are
    /// paused for accounts that do not know it.
    pub source_threshold: u32,
    pub source_window: Duration,
    /// Networks IT names as its own workstations (shared ward computers, a NAT): they pause
    /// only at `trusted_source_threshold`. Set in the file only, so that a stolen
    /// administrator session cannot declare an attacker's network trusted.
    pub trusted_networks: Vec<ipnet::IpNet>,
    pub trusted_source_threshold: u32,
    /// Whether the helpdesk may unlock an account that holds an administrative role (off:
    /// only an IT administrator may, so that a caller cannot talk the helpdesk into opening
    /// an administrator's account). Set in the file only.
    pub helpdesk_unlocks_role_holders: bool,
}

impl LockoutPolicy {
    /// The threshold for the network `source` is in.
    pub fn source_threshold_for(&self, source: Option<std::net::IpAddr>) -> u32 {
        match source.map(|ip| ip.to_canonical()) {
            Some(ip) if self.trusted_networks.iter().any(|n| n.contains(&ip)) => {
                self.trusted_source_threshold
            }
            _ => self.source_threshold,
        }
    }
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        LockoutPolicy {
            threshold: 5,
            duration: Duration::from_secs(15 * 60),
            max_duration: Duration::from_secs(DAY),
            source_threshold: 20,
            source_window: Duration::from_secs(15 * 60),
            trusted_networks: Vec::new(),
            trusted_source_threshold: 100,
            helpdesk_unlocks_role_holders: false,
        }
    }
}

/// `[mfa]`: who must use a second factor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MfaPolicy {
    pub required_roles: Vec<String>,
    pub required_categories: Vec<String>,
    pub required_departments: Vec<String>,
    /// How long a newly required account may still sign in without a second factor.
    pub grace: Duration,
}

impl Default for MfaPolicy {
    fn default() -> Self {
        MfaPolicy {
            required_roles: vec!["it-admin".into(), "helpdesk".into()],
            required_categories: vec!["clinician".into()],
            required_departments: Vec::new(),
            grace: Duration::from_secs(7 * DAY),
        }
    }
}

/// `[sessions]`: web sessions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionPolicy {
    pub idle_timeout: Duration,
    pub absolute_timeout: Duration,
    /// How recent a proof of the second factor must be for a sensitive action (changing
    /// factors, an administrator's change).
    pub step_up: Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        SessionPolicy {
            idle_timeout: Duration::from_secs(15 * 60),
            absolute_timeout: Duration::from_secs(12 * 3600),
            step_up: Duration::from_secs(15 * 60),
        }
    }
}

/// `[oidc]`: what single sign-on issues, and for how long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcPolicy {
    /// Access and ID tokens.
    pub access_token_lifetime: Duration,
    /// A refresh token unused this long expires.
    pub refresh_token_idle: Duration,
    /// How long a grant with `offline_access` (a mail app) lasts from its sign-in; without it,
    /// a grant lasts `sessions.absolute_timeout`.
    pub offline_lifetime: Duration,
}

impl Default for OidcPolicy {
    fn default() -> Self {
        OidcPolicy {
            access_token_lifetime: Duration::from_secs(10 * 60),
            refresh_token_idle: Duration::from_secs(14 * 86_400),
            offline_lifetime: Duration::from_secs(90 * 86_400),
        }
    }
}

pub(crate) fn oidc(errs: &mut Errors, raw: RawOidc) -> OidcPolicy {
    let d = OidcPolicy::default();
    let p = OidcPolicy {
        access_token_lifetime: duration(
            errs,
            "oidc.access_token_lifetime",
            raw.access_token_lifetime,
            d.access_token_lifetime,
        ),
        refresh_token_idle: duration(
            errs,
            "oidc.refresh_token_idle",
            raw.refresh_token_idle,
            d.refresh_token_idle,
        ),
        offline_lifetime: duration(
            errs,
            "oidc.offline_lifetime",
            raw.offline_lifetime,
            d.offline_lifetime,
        ),
    };
    // Access tokens are checked against their grant wherever carepost reads them, but a
    // resource server that only checks signatures trusts one until it expires: keep it short.
    if p.access_token_lifetime.is_zero() || p.access_token_lifetime > Duration::from_secs(3600) {
        errs.push("oidc.access_token_lifetime: above zero and at most 1h");
    }
    if p.refresh_token_idle.is_zero() || p.offline_lifetime.is_zero() {
        errs.push("oidc: refresh_token_idle and offline_lifetime above zero");
    }
    p
}

pub(crate) fn duration(
    errs: &mut Errors,
    key: &str,
    v: Option<String>,
    default: Duration,
) -> Duration {
    match v {
        Some(t) => errs.check(key, parse_duration(&t)).unwrap_or(default),
        None => default,
    }
}

pub(crate) fn password(errs: &mut Errors, raw: RawPassword) -> PasswordPolicy {
    let d = PasswordPolicy::default();
    let max_age = duration(
        errs,
        "password.max_age",
        raw.max_age,
        Duration::from_secs(365 * DAY),
    );
    let p = PasswordPolicy {
        min_length: raw.min_length.unwrap_or(d.min_length),
        max_length: raw.max_length.unwrap_or(d.max_length),
        min_strength: raw.min_strength.unwrap_or(d.min_strength),
        history: raw.history.unwrap_or(d.history),
        max_age: (!max_age.is_zero()).then_some(max_age),
        warn_before: duration(errs, "password.warn_before", raw.warn_before, d.warn_before),
        min_age: duration(errs, "password.min_age", raw.min_age, d.min_age),
        temporary_lifetime: duration(
            errs,
            "password.temporary_lifetime",
            raw.temporary_lifetime,
            d.temporary_lifetime,
        ),
        argon2_memory_kib: raw.argon2_memory_kib.unwrap_or(d.argon2_memory_kib),
        argon2_iterations: raw.argon2_iterations.unwrap_or(d.argon2_iterations),
        argon2_parallelism: raw.argon2_parallelism.unwrap_or(d.argon2_parallelism),
        max_concurrent_hashes: raw.max_concurrent_hashes.unwrap_or(d.max_concurrent_hashes),
        revoke_app_passwords_on_change: raw
            .revoke_app_passwords_on_change
            .unwrap_or(d.revoke_app_passwords_on_change),
    };
    if p.min_length < 8 {
        errs.push("password.min_length: at least 8 (NIST SP 800-63B)");
    }
    if p.max_length < p.min_length || p.max_length > 1024 {
        errs.push("password.max_length: between min_length and 1024");
    }
    if p.temporary_lifetime.is_zero() {
        errs.push("password.temporary_lifetime: above zero, such as \"3d\"");
    }
    if p.min_strength > 4 {
        errs.push("password.min_strength: a zxcvbn score from 0 to 4");
    }
    if p.argon2_memory_kib < 8 * p.argon2_parallelism.max(1) || p.argon2_iterations == 0 {
        errs.push("password.argon2_*: memory of at least 8 KiB per lane and at least 1 iteration");
    }
    if !(1..=16).contains(&p.argon2_parallelism) {
        errs.push("password.argon2_parallelism: from 1 to 16");
    }
    p
}

pub(crate) fn lockout(errs: &mut Errors, raw: RawLockout) -> LockoutPolicy {
    let d = LockoutPolicy::default();
    let p = LockoutPolicy {
        threshold: raw.threshold.unwrap_or(d.threshold),
        duration: duration(errs, "lockout.duration", raw.duration, d.duration),
        max_duration: duration(
            errs,
            "lockout.max_duration",
            raw.max_duration,
            d.max_duration,
        ),
        source_threshold: raw.source_threshold.unwrap_or(d.source_threshold),
        source_window: duration(
            errs,
            "lockout.source_window",
            raw.source_window,
            d.source_window,
        ),
        trusted_networks: trusted_networks(errs, raw.trusted_networks.unwrap_or_default()),
        trusted_source_threshold: raw
            .trusted_source_threshold
            .unwrap_or(d.trusted_source_threshold),
        helpdesk_unlocks_role_holders: raw
            .helpdesk_unlocks_role_holders
            .unwrap_or(d.helpdesk_unlocks_role_holders),
    };
    if p.threshold == 0 || p.source_threshold == 0 || p.trusted_source_threshold == 0 {
        errs.push("lockout.threshold, source_threshold and trusted_source_threshold: at least 1");
    }
    if p.max_duration < p.duration {
        errs.push("lockout.max_duration: at least lockout.duration");
    }
    p
}

/// Networks written `10.20.0.0/16` or `2001:db8::/48`; a bare address is one host. Whole
/// internet ranges are refused: trusting them would switch the spray defence off.
fn trusted_networks(errs: &mut Errors, raw: Vec<String>) -> Vec<ipnet::IpNet> {
    let mut out = Vec::new();
    for text in raw {
        let parsed = text
            .parse::<ipnet::IpNet>()
            .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from));
        match parsed {
            Ok(n) if n.prefix_len() < 8 => errs.push(&format!(
                "lockout.trusted_networks: {text} is too wide (at most a /8)"
            )),
            Ok(n) => out.push(n.trunc()),
            Err(_) => errs.push(&format!(
                "lockout.trusted_networks: {text} is not a network (write 10.20.0.0/16 or 2001:db8::/48)"
            )),
        }
    }
    out
}

pub(crate) fn mfa(errs: &mut Errors, raw: RawMfa, categories: &[String]) -> MfaPolicy {
    let d = MfaPolicy::default();
    let roles = raw.required_roles.unwrap_or(d.required_roles);
    for r in &roles {
        if ![
            "it-admin",
            "helpdesk",
            "supervisor",
            "security-officer",
            "communications",
        ]
        .contains(&r.as_str())
        {
            errs.push(&format!(
                "mfa.required_roles: '{r}' is not a role (it-admin, helpdesk, supervisor, security-officer, communications)"
            ));
        }
    }
    let required_categories = raw.required_categories.unwrap_or(d.required_categories);
    for c in &required_categories {
        if !categories.contains(c) && !BUILTIN_CATEGORIES.contains(&c.as_str()) {
            errs.push(&format!(
                "mfa.required_categories: '{c}' is not a role category"
            ));
        }
    }
    MfaPolicy {
        required_roles: roles,
        required_categories,
        required_departments: raw.required_departments.unwrap_or_default(),
        grace: duration(errs, "mfa.grace", raw.grace, d.grace),
    }
}

pub(crate) fn sessions(errs: &mut Errors, raw: RawSessions) -> SessionPolicy {
    let d = SessionPolicy::default();
    let p = SessionPolicy {
        idle_timeout: duration(
            errs,
            "sessions.idle_timeout",
            raw.idle_timeout,
            d.idle_timeout,
        ),
        absolute_timeout: duration(
            errs,
            "sessions.absolute_timeout",
            raw.absolute_timeout,
            d.absolute_timeout,
        ),
        step_up: duration(errs, "sessions.step_up", raw.step_up, d.step_up),
    };
    if p.step_up.is_zero() {
        errs.push("sessions.step_up: above zero");
    }
    if p.idle_timeout.is_zero() || p.absolute_timeout < p.idle_timeout {
        errs.push("sessions: idle_timeout above zero and absolute_timeout at least as long");
    }
    p
}
