//! `carepost policy show`.

use super::{Global, output};
use clap::Subcommand;
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Print the password, lockout, MFA and session policies in force.
    Show,
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
    let human = carepost_identity::human_duration;
    let max_age = p.max_age.map_or("never".to_string(), human);
    let doc = carepost_identity::policy_document(&config);
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
