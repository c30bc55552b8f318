//! `carepost list create|list|remove`: distribution lists.

use super::{Global, cli_actor, output};
use carepost_identity::Role;
use clap::Subcommand;
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum ListCommand {
    /// Create a list that reaches every active account of a department and the departments
    /// below it (or of the whole organization without --department) when mail is delivered.
    Create {
        address: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        department: Option<String>,
        /// A role whose holders may post to the list (repeatable): communications, it-admin,
        /// supervisor, helpdesk, security-officer.
        #[arg(long = "sender", required = true)]
        senders: Vec<String>,
    },
    /// The lists, with whom they reach and who may post.
    List,
    /// Remove a list; its address is quarantined before any reuse.
    Remove { address: String },
}

pub(crate) async fn run(c: ListCommand, g: &Global) -> anyhow::Result<ExitCode> {
    let ctx = g.open().await?;
    let actor = cli_actor();
    match c {
        ListCommand::Create {
            address,
            name,
            department,
            senders,
        } => {
            let roles = senders
                .iter()
                .map(|s| Role::named(s))
                .collect::<Result<Vec<Role>, _>>()?;
            let list = ctx
                .directory
                .create_list(&actor, &address, &name, department.as_deref(), &roles)
                .await?;
            if g.json {
                output::json(&list)?;
            } else {
                say!("{}", list.address);
            }
        }
        ListCommand::List => {
            let all = ctx.directory.lists(&actor).await?;
            if g.json {
                output::json(&all)?;
            } else {
                say!(
                    "{:<36}  {:<24}  {:<20}  SENDERS",
                    "ADDRESS",
                    "NAME",
                    "REACHES"
                );
                for l in all {
                    say!(
                        "{:<36}  {:<24}  {:<20}  {}",
                        l.address,
                        l.name,
                        l.department.as_deref().unwrap_or("everyone"),
                        l.senders.join(",")
                    );
                }
            }
        }
        ListCommand::Remove { address } => {
            ctx.directory.remove_list(&actor, &address).await?;
            if g.json {
                output::json(&serde_json::json!({ "removed": address }))?;
            } else {
                say!("removed {address}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
