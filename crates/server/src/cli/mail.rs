//! `carepost dkim show`, `carepost queue list|retry|remove` and `carepost mailbox usage`: the
//! mail side of administration from the command line.

use super::{Global, output};
use carepost_audit::Actor;
use carepost_mail::DkimKey;
use clap::Subcommand;
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum DkimCommand {
    /// Print the DNS record that publishes the DKIM key.
    Show,
}

#[derive(Debug, Subcommand)]
pub enum QueueCommand {
    /// Messages waiting to leave, with each recipient's state.
    List,
    /// Try pending recipients now: one message by id, or all.
    Retry { id: Option<i64> },
    /// Drop a queued message without notifying its sender.
    Remove { id: i64 },
}

#[derive(Debug, Subcommand)]
pub enum MailboxCommand {
    /// Storage an account's mail takes, against its quota.
    Usage { address: String },
}

fn local_actor() -> Actor {
    super::cli_actor().who
}

pub(crate) async fn run_dkim(c: DkimCommand, g: &Global) -> anyhow::Result<ExitCode> {
    let config = g.resolve_config()?;
    let DkimCommand::Show = c;
    let Some(path) = &config.mail.dkim_key else {
        anyhow::bail!("no DKIM key is configured: set mail.dkim_key");
    };
    let key = DkimKey::load(
        path,
        config.organization.domain.as_str(),
        &config.mail.dkim_selector,
    )?;
    if g.json {
        output::json(&serde_json::json!({
            "name": key.dns_name(), "type": "TXT", "value": key.dns_record(),
        }))?;
    } else {
        say!("Publish this TXT record so receivers can verify carepost's signatures:");
        say!("{}. IN TXT \"{}\"", key.dns_name(), key.dns_record());
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn run_queue(c: QueueCommand, g: &Global) -> anyhow::Result<ExitCode> {
    let ctx = g.open().await?;
    match c {
        QueueCommand::List => {
            let queue = ctx.mail.queue().await?;
            if g.json {
                output::json(&queue)?;
            } else if queue.is_empty() {
                say!("the queue is empty");
            } else {
                for m in queue {
                    say!(
                        "#{} from <{}> since {}, expires {}",
                        m.id,
                        m.mail_from,
                        m.created_at,
                        m.expires_at
                    );
                    for r in m.recipients {
                        say!(
                            "    {:<40} {:<9} attempts {:<3} next {}  {}",
                            r.recipient,
                            r.status,
                            r.attempts,
                            r.next_attempt,
                            r.last_error.unwrap_or_default()
                        );
                    }
                }
            }
        }
        QueueCommand::Retry { id } => {
            let n = ctx.mail.retry_queued(&local_actor(), id).await?;
            if g.json {
                output::json(&serde_json::json!({ "recipients": n }))?;
            } else {
                say!("{n} recipient(s) will be tried at the server's next queue run");
            }
        }
        QueueCommand::Remove { id } => {
            ctx.mail.remove_queued(&local_actor(), id).await?;
            if g.json {
                output::json(&serde_json::json!({ "ok": true }))?;
            } else {
                say!("queued message #{id} removed");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn run_mailbox(c: MailboxCommand, g: &Global) -> anyhow::Result<ExitCode> {
    let ctx = g.open().await?;
    let MailboxCommand::Usage { address } = c;
    let account = ctx
        .directory
        .find_account(&super::cli_actor(), &address)
        .await?;
    let (bytes, messages) = ctx.mail.usage(account.id).await?;
    let quota = ctx.config.mail.quota;
    if g.json {
        output::json(&serde_json::json!({
            "address": account.address, "messages": messages, "bytes": bytes, "quota": quota,
        }))?;
    } else {
        let percent = bytes as f64 * 100.0 / quota.max(1) as f64;
        say!(
            "{}: {messages} messages, {bytes} bytes of {quota} ({percent:.1}%)",
            account.address
        );
    }
    Ok(ExitCode::SUCCESS)
}
