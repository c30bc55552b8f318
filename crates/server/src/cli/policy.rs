//! `carepost policy show|set|unset|reset`: the security policies in force, and the keys an
//! IT administrator sets over the config file while the server runs.

use super::{Global, cli_actor, output};
use carepost_config::{EDITABLE, field_text, parse_field};
use carepost_identity::PolicySection;
use clap::Subcommand;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Print the password, lockout, MFA and session policies in force.
    Show,
    /// Set policy keys over the config file, in force on every running server within 2 seconds:
    /// `carepost policy set password.min_length=14 lockout.threshold=8`.
    Set {
        /// `section.key=value`, the value as the config file writes it (lists comma-separated).
        #[arg(required = true)]
        settings: Vec<String>,
    },
    /// Give keys back to the config file: `carepost policy unset password.min_length`.
    Unset {
        #[arg(required = true)]
        keys: Vec<String>,
    },
    /// Give every key of a section (password, lockout, mfa, sessions) back to the config file.
    Reset { section: String },
}

pub(crate) async fn run(c: PolicyCommand, g: &Global) -> anyhow::Result<ExitCode> {
    let ctx = g.open().await?;
    let dir = &ctx.directory;
    let actor = cli_actor();
    let changed = match c {
        PolicyCommand::Show => return show(g, &dir.config(), &dir.policy_sections(&actor).await?),
        PolicyCommand::Set { settings } => {
            let mut pairs = Vec::new();
            for s in &settings {
                let Some((name, text)) = s.split_once('=') else {
                    anyhow::bail!("'{s}': write section.key=value, such as password.min_length=14");
                };
                let f = field(name)?;
                let v = parse_field(f, text).map_err(|e| anyhow::anyhow!(e))?;
                if v.is_null() {
                    anyhow::bail!(
                        "'{s}': no value; `carepost policy unset {name}` gives it back to the config file"
                    );
                }
                pairs.push((f, v));
            }
            change_each_section(dir, &actor, pairs).await?
        }
        PolicyCommand::Unset { keys } => {
            let pairs = keys
                .iter()
                .map(|name| Ok((field(name)?, Value::Null)))
                .collect::<anyhow::Result<Vec<_>>>()?;
            change_each_section(dir, &actor, pairs).await?
        }
        PolicyCommand::Reset { section } => vec![dir.reset_policy(&actor, &section).await?],
    };
    if g.json {
        output::json(&changed)?;
        return Ok(ExitCode::SUCCESS);
    }
    for s in &changed {
        say!("{}", s.section);
        for f in &s.fields {
            let from = if f.set_here {
                "set here"
            } else {
                "config file"
            };
            say!("  {} = {} ({from})", f.key, field_text(&f.value));
        }
    }
    say!(
        "Saved: every running server applies it within {} seconds, and each start reads it.",
        crate::serve::RELOAD_POLICIES_EVERY.as_secs()
    );
    Ok(ExitCode::SUCCESS)
}

/// Applies key changes, one `change_policy` per section they belong to.
async fn change_each_section(
    dir: &carepost_identity::Directory,
    actor: &carepost_identity::Actor,
    pairs: Vec<(&'static carepost_config::PolicyField, Value)>,
) -> anyhow::Result<Vec<PolicySection>> {
    let mut by_section: BTreeMap<&str, Map<String, Value>> = BTreeMap::new();
    for (f, v) in pairs {
        by_section
            .entry(f.section)
            .or_default()
            .insert(f.key.to_string(), v);
    }
    let mut done = Vec::new();
    for (section, changes) in by_section {
        done.push(dir.change_policy(actor, section, &changes).await?);
    }
    Ok(done)
}

fn field(name: &str) -> anyhow::Result<&'static carepost_config::PolicyField> {
    let (section, key) = name.split_once('.').unwrap_or(("", name));
    EDITABLE
        .iter()
        .find(|f| f.section == section && f.key == key)
        .ok_or_else(|| {
            let known: Vec<String> = EDITABLE
                .iter()
                .map(|f| format!("{}.{}", f.section, f.key))
                .collect();
            anyhow::anyhow!(
                "'{name}' is not a policy that can be set here; these can: {}",
                known.join(", ")
            )
        })
}

fn show(
    g: &Global,
    config: &carepost_config::Config,
    sections: &[PolicySection],
) -> anyhow::Result<ExitCode> {
    let (p, l, m, s) = (
        &config.password,
        &config.lockout,
        &config.mfa,
        &config.sessions,
    );
    let human = carepost_identity::human_duration;
    let max_age = p.max_age.map_or("never".to_string(), human);
    let doc = carepost_identity::policy_document(config);
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
        "  idle timeout {}, absolute {}; a sensitive change needs a second factor proven within {}",
        human(s.idle_timeout),
        human(s.absolute_timeout),
        human(s.step_up)
    );
    for s in sections {
        let set: Vec<&str> = s
            .fields
            .iter()
            .filter(|f| f.set_here)
            .map(|f| f.key)
            .collect();
        if let (false, Some(by), Some(at)) = (set.is_empty(), &s.changed_by, &s.changed_at) {
            say!(
                "{}: {} set at run time, last by {by} at {at}",
                s.section,
                set.join(", ")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
