//! `carepost calendar list|export|import`: a person's calendars and task lists, for moving a
//! calendar in or out as an `.ics` file; `calendar sharing|share|unshare|delegate|undelegate`:
//! whom they are shared with and who the person's assistants are, set up or ended by IT (a
//! surgeon's new assistant, a leaver's rota). Reading or writing someone's calendar, and every
//! share, is recorded on the audit trail in the name of the operating-system user who ran the
//! command.

use super::{Global, cli_actor, output};
use carepost_audit::action;
use carepost_calendar::Kind;
use clap::Subcommand;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// The largest file `calendar import` reads.
const MAX_IMPORT_BYTES: u64 = 64 << 20;

#[derive(Debug, Subcommand)]
pub enum CalendarCommand {
    /// The calendars and task lists of an account, with how many objects each holds.
    List { address: String },
    /// Write one calendar as an iCalendar file (to standard output without --output).
    Export {
        address: String,
        /// The calendar's name in its URL (`calendar`, `tasks`...), as `list` shows it.
        calendar: String,
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Store the events and tasks of an iCalendar file (`-` reads standard input) in one of
    /// the account's calendars, one object per UID; an object of the same UID is replaced.
    /// Nobody is invited: importing moves a calendar, it does not schedule it again.
    Import {
        address: String,
        calendar: String,
        file: PathBuf,
    },
    /// Whom the account's calendars are shared with, its assistants, and whose assistant it is.
    Sharing { address: String },
    /// Share one of the account's calendars with a colleague or a department (again: with
    /// the new access).
    Share {
        address: String,
        calendar: String,
        /// A colleague's address, or `department:NAME` (with the departments below it).
        #[arg(long = "with")]
        with: String,
        /// `read` or `write`.
        #[arg(long, default_value = "read")]
        access: String,
    },
    /// End a share of the account's calendars, by the id `sharing` shows.
    Unshare { address: String, id: i64 },
    /// Make a colleague the account's assistant: they manage its calendars and answer
    /// invitations for it (the answers say SENT-BY).
    Delegate {
        address: String,
        #[arg(long)]
        to: String,
    },
    /// End a delegation of the account's calendars.
    Undelegate {
        address: String,
        #[arg(long)]
        delegate: String,
    },
}

pub(crate) async fn run(c: CalendarCommand, g: &Global) -> anyhow::Result<ExitCode> {
    let ctx = g.open().await?;
    let actor = cli_actor();
    let calendars = &ctx.calendars;
    let address = match &c {
        CalendarCommand::List { address }
        | CalendarCommand::Export { address, .. }
        | CalendarCommand::Import { address, .. }
        | CalendarCommand::Sharing { address }
        | CalendarCommand::Share { address, .. }
        | CalendarCommand::Unshare { address, .. }
        | CalendarCommand::Delegate { address, .. }
        | CalendarCommand::Undelegate { address, .. } => address.clone(),
    };
    let account = ctx.directory.find_account(&actor, &address).await?;
    match c {
        CalendarCommand::List { .. } => {
            let mut rows = Vec::new();
            for col in calendars.home(account.id).await? {
                if col.kind != Kind::Calendar {
                    continue;
                }
                let count = calendars.objects(&col).await?.len();
                rows.push((col, count));
            }
            if g.json {
                let list: Vec<_> = rows
                    .iter()
                    .map(|(c, n)| {
                        serde_json::json!({
                            "calendar": c.slug,
                            "name": c.display_name,
                            "holds": c.components,
                            "objects": n,
                        })
                    })
                    .collect();
                output::json(&list)?;
            } else {
                say!(
                    "{:<20}  {:<28}  {:<14}  OBJECTS",
                    "CALENDAR",
                    "NAME",
                    "HOLDS"
                );
                for (c, n) in rows {
                    say!(
                        "{:<20}  {:<28}  {:<14}  {n}",
                        c.slug,
                        c.display_name,
                        c.components.join(",")
                    );
                }
            }
        }
        CalendarCommand::Export {
            calendar, output, ..
        } => {
            let col = calendar_of(calendars, account.id, &address, &calendar).await?;
            let text = calendars.export(&col).await?;
            calendars
                .record(
                    &actor.who,
                    action::CALENDAR_EXPORT,
                    &account.address,
                    serde_json::json!({ "calendar": calendar, "bytes": text.len() }),
                )
                .await?;
            match output {
                Some(path) => std::fs::write(&path, &text)
                    .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?,
                None => {
                    let mut out = std::io::stdout().lock();
                    // A reader that went away (`| head`) ends the command quietly.
                    let _ = out.write_all(text.as_bytes());
                }
            }
        }
        CalendarCommand::Import { calendar, file, .. } => {
            let col = calendar_of(calendars, account.id, &address, &calendar).await?;
            let mut text = String::new();
            let read = if file.as_os_str() == "-" {
                std::io::stdin()
                    .take(MAX_IMPORT_BYTES + 1)
                    .read_to_string(&mut text)
            } else {
                std::fs::File::open(&file)
                    .and_then(|f| f.take(MAX_IMPORT_BYTES + 1).read_to_string(&mut text))
            };
            read.map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
            if text.len() as u64 > MAX_IMPORT_BYTES {
                anyhow::bail!("{} is larger than 64 MiB", file.display());
            }
            let (added, replaced) = calendars
                .import(&col, &text)
                .await
                .map_err(|e| anyhow::anyhow!("import stopped: {e}"))?;
            calendars
                .record(
                    &actor.who,
                    action::CALENDAR_IMPORT,
                    &account.address,
                    serde_json::json!({ "calendar": calendar, "added": added, "replaced": replaced }),
                )
                .await?;
            if g.json {
                output::json(&serde_json::json!({ "added": added, "replaced": replaced }))?;
            } else {
                say!("{added} added, {replaced} replaced in {address}/{calendar}");
            }
        }
        CalendarCommand::Sharing { .. } => {
            let shares = calendars.shares(account.id).await?;
            let (delegates, delegating) = calendars.delegations(account.id).await?;
            let addresses = |l: Vec<(carepost_types::AccountId, String)>| -> Vec<String> {
                l.into_iter().map(|d| d.1).collect()
            };
            let (delegates, delegating) = (addresses(delegates), addresses(delegating));
            if g.json {
                output::json(&serde_json::json!({
                    "shares": shares,
                    "delegates": delegates,
                    "delegating": delegating,
                }))?;
            } else {
                say!("{:<6}  {:<20}  {:<6}  WITH", "ID", "CALENDAR", "ACCESS");
                for s in &shares {
                    say!(
                        "{:<6}  {:<20}  {:<6}  {}",
                        s.id,
                        s.calendar,
                        s.access.as_str(),
                        s.grantee
                    );
                }
                say!("assistants: {}", or_none(&delegates));
                say!("assistant of: {}", or_none(&delegating));
            }
        }
        CalendarCommand::Share {
            calendar,
            with,
            access,
            ..
        } => {
            let access = carepost_calendar::Access::parse(&access)?;
            let grantee = carepost_calendar::Grantee::parse(&with);
            let s = calendars
                .share(&actor.who, account.id, &calendar, &grantee, access)
                .await?;
            if g.json {
                output::json(&s)?;
            } else {
                say!(
                    "{address}/{} shared with {} ({}), share {}",
                    s.calendar,
                    s.grantee,
                    s.access.as_str(),
                    s.id
                );
            }
        }
        CalendarCommand::Unshare { id, .. } => {
            // Only a share of this account's calendars: the id alone names any.
            if !calendars
                .shares(account.id)
                .await?
                .iter()
                .any(|s| s.id == id)
            {
                anyhow::bail!("{address} has no share {id} (see `calendar sharing`)");
            }
            calendars.unshare(&actor.who, account.id, id).await?;
            say!("share {id} of {address} ended");
        }
        CalendarCommand::Delegate { to, .. } => {
            let named = calendars.add_delegate(&actor.who, account.id, &to).await?;
            say!("{named} manages the calendars of {address} and answers for them");
        }
        CalendarCommand::Undelegate { delegate, .. } => {
            let id = calendars
                .account_by_address(&delegate)
                .await
                .map_err(|_| anyhow::anyhow!("no account has the address {delegate}"))?;
            calendars
                .remove_delegate(&actor.who, account.id, id)
                .await
                .map_err(|_| anyhow::anyhow!("{delegate} is not an assistant of {address}"))?;
            say!("{delegate} is no longer an assistant of {address}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn or_none(list: &[String]) -> String {
    match list.is_empty() {
        true => "none".to_string(),
        false => list.join(", "),
    }
}

/// The account's calendar named `calendar`, or a message saying how to find the names.
async fn calendar_of(
    calendars: &carepost_calendar::Calendars,
    account: carepost_types::AccountId,
    address: &str,
    calendar: &str,
) -> anyhow::Result<carepost_calendar::Collection> {
    // The account's own calendars only: one shared with it is someone else's to move.
    let found = match calendar.starts_with(carepost_calendar::SHARED_PREFIX) {
        true => Err(carepost_calendar::DavError::NotFound),
        false => calendars.calendar(account, calendar).await,
    };
    found.map_err(|_| {
        anyhow::anyhow!("{address} has no calendar '{calendar}' (see `calendar list`)")
    })
}
