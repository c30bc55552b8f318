//! `carepost lockout show|clear`: the spray defence's paused source networks, and lifting a
//! network's pause or an account's locks (what `account unlock` does) from the command line.

use super::{Global, cli_actor, output};
use clap::Subcommand;
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum LockoutCommand {
    /// Source networks whose sign-ins are paused now, and why.
    Show,
    /// Lift the pause of a network (`10.1.2.0/24`), or the locks of an account (an address).
    Clear { what: String },
}

pub(crate) async fn run(c: LockoutCommand, g: &Global) -> anyhow::Result<ExitCode> {
    let ctx = g.open().await?;
    let actor = cli_actor();
    let dir = &ctx.directory;
    match c {
        LockoutCommand::Show => {
            let paused = dir.paused_sources(&actor).await?;
            if g.json {
                output::json(&paused)?;
            } else if paused.is_empty() {
                say!("no source network is paused");
            } else {
                for p in paused {
                    say!(
                        "{:<20} paused until {}: {} logins failed ({} of them no account), {} failures since {}{}",
                        p.network,
                        p.paused_until.as_deref().unwrap_or("-"),
                        p.failing_logins,
                        p.unknown_logins,
                        p.failures,
                        p.first_failure_at,
                        if p.trusted { ", a trusted network" } else { "" }
                    );
                }
            }
        }
        LockoutCommand::Clear { what } if what.contains('@') => {
            let u = dir.unlock(&actor, &what).await?;
            if g.json {
                output::json(&u)?;
            } else if u.nothing_cleared() {
                say!("{what} was not locked and had no failed sign-ins: nothing to clear");
            } else {
                say!(
                    "{what} unlocked ({} failed sign-ins forgotten)",
                    u.failures_forgotten
                );
            }
        }
        LockoutCommand::Clear { what } => {
            let n = dir.clear_source(&actor, &what).await?;
            if g.json {
                output::json(&serde_json::json!({ "network": what, "failing_logins": n }))?;
            } else if n == 0 {
                say!(
                    "no failed sign-ins are recorded from {what}: nothing to clear (networks are written as `lockout show` prints them)"
                );
            } else {
                say!("{what}: pause lifted, {n} failing logins forgotten");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
