//! `carepost oidc client add|list|remove` and `carepost oidc rotate-keys`: the applications
//! that sign people in through carepost, and the keys that sign their tokens.

use super::{Global, cli_actor, output};
use carepost_oidc::NewClient;
use clap::Subcommand;
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum OidcCommand {
    /// Registered applications (relying parties).
    #[command(subcommand)]
    Client(ClientCommand),
    /// Make new signing keys; the old ones stay published until their tokens expire.
    RotateKeys,
}

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register an application; its client_id (and secret, once) are printed.
    Add {
        #[arg(long)]
        name: String,
        /// Where the application receives the code, matched exactly (repeatable).
        #[arg(long = "redirect-uri", required = true)]
        redirect_uris: Vec<String>,
        /// A server-side application that keeps a secret.
        #[arg(long, conflicts_with = "public", required_unless_present = "public")]
        confidential: bool,
        /// A mobile, desktop or browser application: no secret, PKCE required.
        #[arg(long)]
        public: bool,
        /// Where the application may send people after signing out (repeatable).
        #[arg(long = "post-logout-redirect-uri")]
        post_logout_redirect_uris: Vec<String>,
        /// A scope beyond openid, profile, email, groups and offline_access (repeatable).
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// Only people holding this role may use it (repeatable).
        #[arg(long = "role")]
        roles: Vec<String>,
        /// Only people of this department or below may use it (repeatable).
        #[arg(long = "department")]
        departments: Vec<String>,
        /// Ask each person before their first sign-in (for applications not run by the
        /// organization).
        #[arg(long)]
        consent: bool,
        /// Only sign-ins with a second factor.
        #[arg(long)]
        require_mfa: bool,
        /// RS256 (default) or ES256.
        #[arg(long)]
        id_token_alg: Option<String>,
    },
    /// List registered applications (never their secrets).
    List,
    /// Remove an application; every token it holds stops working.
    Remove { client_id: String },
}

pub(crate) async fn run(c: OidcCommand, g: &Global) -> anyhow::Result<ExitCode> {
    let ctx = g.open().await?;
    ctx.oidc.start().await?;
    let actor = cli_actor();
    match c {
        OidcCommand::RotateKeys => {
            let kids = ctx.oidc.rotate_keys(&actor).await?;
            if g.json {
                output::json(&serde_json::json!({ "new_keys": kids }))?;
            } else {
                say!("new signing keys: {}", kids.join(", "));
                say!(
                    "Running servers use them within a minute; the old keys stay published until the tokens they signed expire."
                );
            }
        }
        OidcCommand::Client(ClientCommand::Add {
            name,
            redirect_uris,
            confidential,
            public: _,
            post_logout_redirect_uris,
            scopes,
            roles,
            departments,
            consent,
            require_mfa,
            id_token_alg,
        }) => {
            let new = NewClient {
                name,
                redirect_uris,
                post_logout_redirect_uris,
                confidential,
                extra_scopes: scopes,
                allowed_roles: roles,
                allowed_departments: departments,
                consent,
                require_mfa,
                id_token_alg,
            };
            let (info, secret) = ctx.oidc.register_client(&actor, &new).await?;
            if g.json {
                output::json(&serde_json::json!({
                    "client_id": info.client_id,
                    "client_secret": secret,
                    "client": info,
                    "issuer": ctx.oidc.issuer(),
                }))?;
            } else {
                say!("client_id:     {}", info.client_id);
                if let Some(s) = &secret {
                    say!("client_secret: {s}");
                    say!("The secret is shown only now.");
                }
                say!(
                    "issuer:        {} (discovery at /.well-known/openid-configuration)",
                    ctx.oidc.issuer()
                );
            }
        }
        OidcCommand::Client(ClientCommand::List) => {
            let list = ctx.oidc.list_clients(&actor).await?;
            if g.json {
                output::json(&list)?;
            } else {
                for c in list {
                    let kind = if c.confidential {
                        "confidential"
                    } else {
                        "public"
                    };
                    say!(
                        "{:<32} {:<28} {kind:<12} {}",
                        c.client_id,
                        c.name,
                        c.redirect_uris.join(" ")
                    );
                }
            }
        }
        OidcCommand::Client(ClientCommand::Remove { client_id }) => {
            ctx.oidc.remove_client(&actor, &client_id).await?;
            if g.json {
                output::json(&serde_json::json!({ "ok": true }))?;
            } else {
                say!("client {client_id} removed; its tokens no longer work");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
