//! `carepost invite issue|list|revoke`: first-sign-in invitations for accounts an import made.
//! `issue` prints each person's one-time code (or writes them as a CSV for the printed slips).

use super::{Global, cli_actor, output};
use anyhow::Context as _;
use clap::Subcommand;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum InviteCommand {
    /// Invite these accounts, or every account of a department (and below) that has no
    /// password yet.
    Issue {
        addresses: Vec<String>,
        #[arg(
            long,
            conflicts_with = "addresses",
            required_unless_present = "addresses"
        )]
        department: Option<String>,
        /// Write address, name, department, code and expiry as CSV here instead of printing.
        #[arg(long)]
        csv: Option<PathBuf>,
    },
    /// Invitations on the record (issued, used, expired, revoked), newest first.
    List { address: Option<String> },
    /// Revoke an account's unused invitation.
    Revoke { address: String },
}

pub(crate) async fn run(c: InviteCommand, g: &Global) -> anyhow::Result<ExitCode> {
    let ctx = g.open().await?;
    let actor = cli_actor();
    let dir = &ctx.directory;
    match c {
        InviteCommand::Issue {
            addresses,
            department,
            csv,
        } => {
            let mut issued = match department {
                Some(d) => dir.invite_department(&actor, &d).await?,
                None => dir.invite(&actor, &addresses).await?,
            };
            // Queued here; the running server's queue sends them.
            carepost_web::mail_invitations(&ctx.mail, &actor, &mut issued).await;
            if let Some(path) = csv {
                // The codes open accounts: the file is the owner's alone (0600), and new.
                let mut w = csv::Writer::from_writer(Vec::new());
                w.write_record(["address", "name", "department", "code", "expires_at"])?;
                for i in &issued {
                    w.write_record([&i.address, &i.name, &i.department, &i.code, &i.expires_at])?;
                }
                let bytes = w.into_inner().context("cannot write the CSV")?;
                crate::dev::write_secret_file(&path, &bytes)?;
                say!("{} invitations written to {}", issued.len(), path.display());
            } else if g.json {
                output::json(&issued)?;
            } else {
                for i in &issued {
                    let mailed = if i.mailed {
                        ", mailed to the personal address HR recorded"
                    } else {
                        ""
                    };
                    say!(
                        "{}  {}  (until {}{mailed})",
                        i.address,
                        i.code,
                        i.expires_at
                    );
                }
                say!("{} invitations", issued.len());
            }
        }
        InviteCommand::List { address } => {
            let all = dir.list_invitations(&actor, address.as_deref()).await?;
            if g.json {
                output::json(&all)?;
            } else {
                for i in all {
                    say!(
                        "{:<40} {:<11} issued {} by {}, until {}",
                        i.address,
                        i.state,
                        i.created_at,
                        i.created_by,
                        i.expires_at
                    );
                }
            }
        }
        InviteCommand::Revoke { address } => {
            let n = dir.revoke_invitation(&actor, &address).await?;
            match n {
                0 => say!("{address} had no unused invitation"),
                _ => say!("revoked the unused invitation of {address}"),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
