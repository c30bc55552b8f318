//! `carepost policy show`.

use super::{Global, output};
use clap::Subcommand;
use serde_json::json;
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Print the password, lockout, MFA and session policies in force.
    Show,
}

fn human(d: std::time::Duration) -> String {
    let s = d.as_secs();
    match s {
        0 => "never".to_string(),
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

pub(crate) async fn run(c: PolicyCommand, g: &Global) -> anyhow::Result<ExitCode> {
    let PolicyCommand::Show = c;
    let config = g.resolve_config()?;
    let (p, l, m, s) = (
        &config.password,
        &config.lockout,
        &config.mfa,
        &config.sessions,
    );
    let max_age = p.max_age.map_or("never".to_string(), human);
    let doc = json!({
        "password": {
            "min_length": p.min_length, "max_length": p.max_length,
            "min_strength": p.min_strength, "history": p.history,
            "max_age": max_age, "warn_before": human(p.warn_before), "min_age": human(p.min_age),
            "common_password_list": "100,000 entries",
            "argon2id": { "memory_kib": p.argon2_memory_kib, "iterations": p.argon2_iterations,
                          "parallelism": p.argon2_parallelism },
        },
        "lockout": {
            "threshold": l.threshold, "duration": human(l.duration),
            "max_duration": human(l.max_duration),
            "source_threshold": l.source_threshold, "source_window": human(l.source_window),
        },
        "mfa": {
            "required_roles": m.required_roles, "required_categories": m.required_categories,
            "required_departments": m.required_departments, "grace": human(m.grace),
        },
        "sessions": { "idle_timeout": human(s.idle_timeout), "absolute_timeout": human(s.absolute_timeout) },
    });
    if g.json {
        output::json(&doc)?;
        return Ok(ExitCode::SUCCESS);
    }
    say!("password");
    say!(
        "  length {} to {} characters, zxcvbn strength at least {} of 4",
        p.min_length,
        p.max_length,
        p.min_strength
    );
    say!("  not containing the person's names, address or employee id");
    say!("  not among 100,000 common and breached passwords");
    say!(
        "  not one of the last {} passwords; changed at most once per {}",
        p.history,
        human(p.min_age)
    );
    say!(
        "  expires after {max_age}, with warnings from {} before",
        human(p.warn_before)
    );
    say!(
        "  argon2id: {} KiB, {} passes, {} lanes",
        p.argon2_memory_kib,
        p.argon2_iterations,
        p.argon2_parallelism
    );
    say!("lockout");
    say!(
        "  {} failures lock for {}, doubling up to {}; familiar and unfamiliar sources counted apart",
        l.threshold,
        human(l.duration),
        human(l.max_duration)
    );
    say!(
        "  a source network with {} failures in {} is refused for accounts that do not know it",
        l.source_threshold,
        human(l.source_window)
    );
    say!("mfa");
    say!(
        "  required for roles {:?}, categories {:?}, departments {:?}; {} to enroll",
        m.required_roles,
        m.required_categories,
        m.required_departments,
        human(m.grace)
    );
    say!("sessions");
    say!(
        "  idle timeout {}, absolute {}",
        human(s.idle_timeout),
        human(s.absolute_timeout)
    );
    Ok(ExitCode::SUCCESS)
}
