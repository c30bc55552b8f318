//! `carepost token create|list|revoke`: API tokens for automation.

use super::{Global, cli_actor, output};
use clap::Subcommand;
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Make a token acting with the given roles; it is printed once.
    Create {
        #[arg(long)]
        name: String,
        /// it-admin, helpdesk, supervisor, security-officer, communications (repeatable).
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        /// Lifetime in days (at most 365).
        #[arg(long, default_value_t = 90, value_parser = clap::value_parser!(u32).range(1..=365))]
        days: u32,
    },
    /// List tokens (never their secrets).
    List,
    /// Revoke a token at once.
    Revoke { id: i64 },
}

pub(crate) async fn run(c: TokenCommand, g: &Global) -> anyhow::Result<ExitCode> {
    let ctx = g.open().await?;
    let actor = cli_actor();
    match c {
        TokenCommand::Create { name, roles, days } => {
            let mut parsed = Vec::new();
            for r in &roles {
                parsed.push(carepost_identity::Role::named(r)?);
            }
            let lifetime = std::time::Duration::from_secs(u64::from(days) * 86_400);
            let (id, token) = ctx
                .directory
                .create_api_token(&actor, &name, &parsed, lifetime)
                .await?;
            if g.json {
                output::json(&serde_json::json!({ "id": id, "token": token }))?;
            } else {
                say!("token #{id} ({name}): {token}");
                say!("It is shown only now. Send it as: Authorization: Bearer <token>");
            }
        }
        TokenCommand::List => {
            let list = ctx.directory.list_api_tokens(&actor).await?;
            if g.json {
                output::json(&list)?;
            } else {
                for t in list {
                    let state = if t.revoked { "revoked" } else { "live" };
                    say!(
                        "#{:<4} {:<24} {:<32} {state}, expires {}, last used {}",
                        t.id,
                        t.name,
                        t.roles.join(","),
                        t.expires_at,
                        t.last_used_at.as_deref().unwrap_or("never")
                    );
                }
            }
        }
        TokenCommand::Revoke { id } => {
            ctx.directory.revoke_api_token(&actor, id).await?;
            if g.json {
                output::json(&serde_json::json!({ "ok": true }))?;
            } else {
                say!("token #{id} revoked");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
