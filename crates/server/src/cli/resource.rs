//! `carepost resource create|list|show|update|remove|bookings|approve|decline`: rooms and
//! equipment that staff book by inviting them to a meeting, and the bookings that wait for a
//! delegate. Every change is recorded on the audit trail in the name of the operating-system
//! user who ran the command.

use super::{Global, cli_actor, output};
use carepost_calendar::{Booking, Resource, ResourceSpec, minutes_in_words};
use clap::{Args, Subcommand};
use std::process::ExitCode;

/// The rules a resource is created or changed with.
#[derive(Debug, Args)]
pub struct RuleArgs {
    /// `room` (the default) or `equipment`.
    #[arg(long)]
    kind: Option<String>,
    /// The department it belongs to (its supervisors may manage it); `--department ""`
    /// clears it.
    #[arg(long)]
    department: Option<String>,
    /// How many people it holds (0 clears it).
    #[arg(long)]
    capacity: Option<i64>,
    /// Who may book it: everyone, department (its department and those below) or role:NAME.
    #[arg(long)]
    bookable_by: Option<String>,
    /// The longest booking it takes, e.g. 4h or 90m (0 clears it).
    #[arg(long)]
    max_duration: Option<String>,
    /// How far ahead it may be booked, e.g. 90d (default 180d).
    #[arg(long)]
    window: Option<String>,
    /// An account that approves its bookings by hand (repeatable); with delegates, a booking
    /// waits for one of them.
    #[arg(long = "delegate")]
    delegates: Vec<String>,
    /// Take every delegate off (it answers by itself again).
    #[arg(long, conflicts_with = "delegates")]
    no_delegates: bool,
}

#[derive(Debug, Subcommand)]
pub enum ResourceCommand {
    /// Create a room or piece of equipment, with an address made from its name unless
    /// --address is given.
    Create {
        name: String,
        #[arg(long)]
        address: Option<String>,
        #[command(flatten)]
        rules: RuleArgs,
    },
    /// Every room and piece of equipment.
    List,
    /// One resource with its rules and delegates.
    Show { address: String },
    /// Change a resource's name or rules (only what is given changes).
    Update {
        address: String,
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        rules: RuleArgs,
    },
    /// Remove a resource and its bookings; its address is quarantined before any reuse.
    Remove { address: String },
    /// The bookings of a resource, soonest first (only those waiting with --pending).
    Bookings {
        address: String,
        #[arg(long)]
        pending: bool,
    },
    /// Accept a booking that waits for a delegate (ID as `bookings` shows it).
    Approve { address: String, id: i64 },
    /// Decline a booking, waiting or accepted (the slot is freed); the organizer is told the
    /// reason.
    Decline {
        address: String,
        id: i64,
        #[arg(long)]
        reason: Option<String>,
    },
}

fn minutes(text: &str) -> anyhow::Result<i64> {
    if text.trim() == "0" {
        return Ok(0);
    }
    let d = carepost_config::parse_duration(text).map_err(|e| anyhow::anyhow!(e))?;
    let m = i64::try_from(d.as_secs() / 60).unwrap_or(i64::MAX);
    if m == 0 {
        anyhow::bail!("'{text}' is shorter than a minute");
    }
    Ok(m)
}

fn days(text: &str) -> anyhow::Result<i64> {
    let d = carepost_config::parse_duration(text).map_err(|e| anyhow::anyhow!(e))?;
    Ok(i64::try_from(d.as_secs() / 86_400).unwrap_or(i64::MAX))
}

fn spec(
    name: Option<String>,
    address: Option<String>,
    r: RuleArgs,
) -> anyhow::Result<ResourceSpec> {
    Ok(ResourceSpec {
        name,
        address,
        kind: r.kind,
        department: r.department,
        capacity: r.capacity,
        bookable_by: r.bookable_by,
        max_minutes: r.max_duration.as_deref().map(minutes).transpose()?,
        window_days: r.window.as_deref().map(days).transpose()?,
        delegates: match (r.no_delegates, r.delegates.is_empty()) {
            (true, _) => Some(Vec::new()),
            (false, true) => None,
            (false, false) => Some(r.delegates),
        },
    })
}

fn print_resource(r: &Resource) -> std::io::Result<()> {
    say!("{} <{}>", r.name, r.address);
    say!("  kind:        {}", r.kind);
    say!(
        "  department:  {}",
        r.department.as_deref().unwrap_or("(none)")
    );
    say!(
        "  capacity:    {}",
        r.capacity
            .map_or("(not set)".to_string(), |c| c.to_string())
    );
    say!("  bookable by: {}", r.bookable_by);
    say!(
        "  longest:     {}",
        r.max_minutes.map_or("any".to_string(), minutes_in_words)
    );
    say!("  window:      {} days", r.window_days);
    say!(
        "  delegates:   {}",
        match r.delegates.is_empty() {
            true => "none: it answers by itself".to_string(),
            false => r.delegates.join(", "),
        }
    );
    Ok(())
}

fn print_bookings(all: &[Booking]) -> std::io::Result<()> {
    say!(
        "{:>6}  {:<9}  {:<24}  {:<24}  {:<32}  {:<28}  UID",
        "ID",
        "STATUS",
        "FROM",
        "TO",
        "ORGANIZER",
        "TITLE"
    );
    for b in all {
        say!(
            "{:>6}  {:<9}  {:<24}  {:<24}  {:<32}  {:<28}  {}",
            b.id,
            b.status,
            b.starts_at.as_deref().unwrap_or("-"),
            b.ends_at.as_deref().unwrap_or("-"),
            b.organizer,
            b.summary.chars().take(28).collect::<String>(),
            b.uid
        );
        if !b.reason.is_empty() {
            say!("                   {}", b.reason);
        }
    }
    Ok(())
}

pub(crate) async fn run(c: ResourceCommand, g: &Global) -> anyhow::Result<ExitCode> {
    let ctx = g.open().await?;
    let actor = cli_actor();
    let resources = &ctx.resources;
    match c {
        ResourceCommand::Create {
            name,
            address,
            rules,
        } => {
            let r = resources
                .create(&actor, &spec(Some(name), address, rules)?)
                .await?;
            match g.json {
                true => output::json(&r)?,
                false => say!("{}", r.address),
            }
        }
        ResourceCommand::List => {
            let all = resources.list().await?;
            if g.json {
                output::json(&all)?;
            } else {
                say!(
                    "{:<44}  {:<32}  {:<9}  {:>8}  {:<20}  BOOKABLE BY",
                    "ADDRESS",
                    "NAME",
                    "KIND",
                    "CAPACITY",
                    "DEPARTMENT"
                );
                for r in all {
                    say!(
                        "{:<44}  {:<32}  {:<9}  {:>8}  {:<20}  {}",
                        r.address,
                        r.name,
                        r.kind,
                        r.capacity.map_or("-".to_string(), |c| c.to_string()),
                        r.department.as_deref().unwrap_or("-"),
                        r.bookable_by
                    );
                }
            }
        }
        ResourceCommand::Show { address } => {
            let r = resources.show(&address).await?;
            match g.json {
                true => output::json(&r)?,
                false => print_resource(&r)?,
            }
        }
        ResourceCommand::Update {
            address,
            name,
            rules,
        } => {
            let r = resources
                .update(&actor, &address, &spec(name, None, rules)?)
                .await?;
            match g.json {
                true => output::json(&r)?,
                false => print_resource(&r)?,
            }
        }
        ResourceCommand::Remove { address } => {
            resources.remove(&actor, &address).await?;
            match g.json {
                true => output::json(&serde_json::json!({ "removed": address }))?,
                false => say!("removed {address}"),
            }
        }
        ResourceCommand::Bookings { address, pending } => {
            let all = resources
                .bookings(&actor, &address, pending.then_some("pending"))
                .await?;
            match g.json {
                true => output::json(&all)?,
                false => print_bookings(&all)?,
            }
        }
        ResourceCommand::Approve { address, id } => {
            let b = resources.answer(&actor, &address, id, true, None).await?;
            match g.json {
                true => output::json(&b)?,
                false => say!("accepted {} for {}", b.uid, b.organizer),
            }
        }
        ResourceCommand::Decline {
            address,
            id,
            reason,
        } => {
            let b = resources
                .answer(&actor, &address, id, false, reason.as_deref())
                .await?;
            match g.json {
                true => output::json(&b)?,
                false => say!("declined {} for {}: {}", b.uid, b.organizer, b.reason),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
