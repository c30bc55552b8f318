//! `carepost department create|list`.

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
