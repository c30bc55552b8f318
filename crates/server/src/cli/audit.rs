//! `carepost audit verify|export|list`.

use super::{Global, cli_actor, output};
use carepost_store::AuditFilter;
use carepost_types::UnixMillis;
use clap::{Args, Subcommand};
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Walk the hash chain; report the first event altered, removed or inserted (exit 1).
    Verify,
    /// Print events as JSON lines.
    Export(FilterArgs),
    /// Show events for people, newest first.
    List(FilterArgs),
}

#[derive(Debug, Args)]
pub struct FilterArgs {
    /// From this time on: RFC 3339 (2026-11-25T10:00:00Z) or a date (2026-11-25).
    #[arg(long)]
    since: Option<String>,
    /// Before this time.
    #[arg(long)]
    until: Option<String>,
    /// Who acted: an address, `system` or `local-cli:USER`.
    #[arg(long)]
    actor: Option<String>,
    /// What was acted on: an address, or `kind:name` such as `department:Cardiology`.
    #[arg(long)]
    target: Option<String>,
    /// An action (`signin.failure`), or a family of them ending in a dot (`signin.`).
    #[arg(long)]
    action: Option<String>,
    /// Only this outcome: success, failure or denied.
    #[arg(long)]
    outcome: Option<String>,
    /// At most this many events (`list`: the latest, newest first; `export`: the oldest).
    #[arg(long, value_parser = clap::value_parser!(i64).range(1..))]
    limit: Option<i64>,
}

impl FilterArgs {
    /// `newest_first` for reading on a screen (`list`); an export keeps the chain's order.
    fn filter(&self, newest_first: bool) -> anyhow::Result<AuditFilter> {
        let time = |t: &Option<String>| -> anyhow::Result<Option<UnixMillis>> {
            t.as_deref()
                .map(UnixMillis::parse)
                .transpose()
                .map_err(|e| anyhow::anyhow!(e))
        };
        Ok(AuditFilter {
            since: time(&self.since)?,
            until: time(&self.until)?,
            actor: self.actor.clone(),
            target: self.target.clone(),
            actions: self.action.clone().into_iter().collect(),
            outcome: self.outcome.clone(),
            after_seq: None,
            limit: self.limit,
            newest_first,
        })
    }
}

pub(crate) async fn run(c: AuditCommand, g: &Global) -> anyhow::Result<ExitCode> {
    let ctx = g.open().await?;
    let actor = cli_actor();
    match c {
        AuditCommand::Verify => match ctx.directory.verify_audit(&actor).await? {
            Ok(report) => {
                if g.json {
                    output::json(&serde_json::json!({
                        "ok": true, "events": report.events, "head": report.head_hash,
                    }))?;
                } else {
                    say!(
                        "audit chain intact: {} events, head {}",
                        report.events,
                        report.head_hash
                    );
                }
                Ok(ExitCode::SUCCESS)
            }
            Err(b) => {
                if g.json {
                    output::json(&serde_json::json!({
                        "ok": false, "seq": b.seq.0, "reason": b.reason,
                    }))?;
                }
                anyhow::bail!("{b}")
            }
        },
        AuditCommand::Export(f) => {
            for e in ctx
                .directory
                .audit_events(&actor, &f.filter(false)?)
                .await?
            {
                say!("{}", serde_json::to_string(&e)?);
            }
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::List(f) => {
            let events = ctx.directory.audit_events(&actor, &f.filter(true)?).await?;
            if g.json {
                output::json(&events)?;
                return Ok(ExitCode::SUCCESS);
            }
            for e in events {
                let details = if e.details == "null" {
                    String::new()
                } else {
                    e.details.clone()
                };
                say!(
                    "{:>6}  {}  {:<8}  {:<22}  {:<20}  {}  {}",
                    e.seq.0,
                    e.at,
                    e.outcome,
                    e.actor,
                    e.action,
                    e.target,
                    details
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
