//! `carepost department create|list|rename|move|remove`.

use super::{Global, cli_actor, output};
use clap::Subcommand;
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum DepartmentCommand {
    /// Create a department, optionally below another.
    Create {
        name: String,
        /// The department it belongs to.
        #[arg(long)]
        parent: Option<String>,
    },
    /// List departments with their parents.
    List,
    /// Give a department a new name; its people, roles and lists follow.
    Rename { name: String, new_name: String },
    /// Put a department below another (`--parent`), or at the top (`--top`).
    Move {
        name: String,
        #[arg(long, required_unless_present = "top", conflicts_with = "top")]
        parent: Option<String>,
        #[arg(long)]
        top: bool,
    },
    /// Remove a department that no account, department, role or list refers to.
    Remove { name: String },
}

pub(crate) async fn run(c: DepartmentCommand, g: &Global) -> anyhow::Result<ExitCode> {
    let ctx = g.open().await?;
    let actor = cli_actor();
    match c {
        DepartmentCommand::Create { name, parent } => {
            let d = ctx
                .directory
                .create_department(&actor, &name, parent.as_deref())
                .await?;
            if g.json {
                output::json(&d)?;
            } else {
                say!("{}", d.name);
            }
        }
        DepartmentCommand::Rename { name, new_name } => {
            let d = ctx
                .directory
                .rename_department(&actor, &name, &new_name)
                .await?;
            print_one(g, &d)?;
        }
        DepartmentCommand::Move { name, parent, .. } => {
            let d = ctx
                .directory
                .move_department(&actor, &name, parent.as_deref())
                .await?;
            print_one(g, &d)?;
        }
        DepartmentCommand::Remove { name } => {
            ctx.directory.remove_department(&actor, &name).await?;
            if g.json {
                output::json(&serde_json::json!({ "removed": name.trim() }))?;
            } else {
                say!("removed {}", name.trim());
            }
        }
        DepartmentCommand::List => {
            let all = ctx.directory.list_departments(&actor).await?;
            if g.json {
                output::json(&all)?;
            } else {
                say!("{:<30}  PARENT", "DEPARTMENT");
                for d in all {
                    say!("{:<30}  {}", d.name, d.parent.as_deref().unwrap_or("-"));
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_one(g: &Global, d: &carepost_identity::Department) -> anyhow::Result<()> {
    if g.json {
        output::json(d)?;
    } else {
        say!(
            "{}  (in {})",
            d.name,
            d.parent.as_deref().unwrap_or("the top level")
        );
    }
    Ok(())
}
