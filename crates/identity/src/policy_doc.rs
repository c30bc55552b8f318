//! The security policies in force, as one document: what `carepost policy show` prints and what
//! the portal shows beside a password field.

use carepost_config::Config;
use serde_json::{Value, json};
use std::time::Duration;

/// `365d`, `15m`, `never` for zero.
pub fn human_duration(d: Duration) -> String {
    match d.as_secs() {
        0 => "never".to_string(),
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

pub fn policy_document(config: &Config) -> Value {
    let (p, l, m, s) = (
        &config.password,
        &config.lockout,
        &config.mfa,
        &config.sessions,
    );
    let h = human_duration;
    json!({
        "password": {
            "min_length": p.min_length, "max_length": p.max_length,
            "min_strength": p.min_strength, "history": p.history,
            "max_age": p.max_age.map_or("never".to_string(), h),
            "warn_before": h(p.warn_before), "min_age": h(p.min_age),
            "common_password_list": "100,000 entries",
            "argon2id": { "memory_kib": p.argon2_memory_kib, "iterations": p.argon2_iterations,
                          "parallelism": p.argon2_parallelism },
        },
        "lockout": {
            "threshold": l.threshold, "duration": h(l.duration),
            "max_duration": h(l.max_duration),
            "source_threshold": l.source_threshold, "source_window": h(l.source_window),
        },
        "mfa": {
            "required_roles": m.required_roles, "required_categories": m.required_categories,
            "required_departments": m.required_departments, "grace": h(m.grace),
        },
        "sessions": {
            "idle_timeout": h(s.idle_timeout),
            "absolute_timeout": h(s.absolute_timeout),
            "step_up": h(s.step_up),
        },
        "oidc": {
            "access_token_lifetime": h(config.oidc.access_token_lifetime),
            "refresh_token_idle": h(config.oidc.refresh_token_idle),
            "offline_lifetime": h(config.oidc.offline_lifetime),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::human_duration;
    use std::time::Duration;

    #[test]
    fn durations_read_as_configured() {
        assert_eq!(human_duration(Duration::from_secs(365 * 86_400)), "365d");
        assert_eq!(human_duration(Duration::from_secs(900)), "15m");
        assert_eq!(human_duration(Duration::from_secs(12 * 3600)), "12h");
        assert_eq!(human_duration(Duration::ZERO), "never");
    }
}
