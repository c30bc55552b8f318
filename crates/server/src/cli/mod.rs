//! The command line. Every admin command works on the store of `--config FILE` or of the
//! development data directory `--data DIR` (default `./carepost-data`), prints for people or,
//! with `--json`, for programs, and exits 0 on success or non-zero after a one-line message.

/// `println!` that returns the write error instead of panicking on a closed pipe.
macro_rules! say {
    () => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock())?
    }};
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)?
    }};
}

mod account;
mod audit;
mod calendar;
mod department;
mod import;
mod invite;
mod key;
mod list;
mod lockout;
mod mail;
mod oidc;
mod output;
mod policy;
mod resource;
mod setup;
mod token;

use crate::context::Context;
use carepost_config::{Config, LogFormat};
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

pub const DEFAULT_DOMAIN: &str = "kaiser.org";
pub const DEFAULT_PORT_BASE: u16 = 10000;
pub const DEFAULT_DATA_DIR: &str = "carepost-data";

#[derive(Debug, Parser)]
#[command(
    name = "carepost",
    version,
    about = "Mail and identity server for healthcare organizations",
    propagate_version = true
)]
pub struct Cli {
    /// Development data directory whose store the command uses [default: ./carepost-data].
    #[arg(long, global = true, env = "CAREPOST_DATA", value_name = "DIR")]
    data: Option<PathBuf>,
    /// Production config file (from `carepost init`) whose store the command uses.
    #[arg(long, global = true, env = "CAREPOST_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Print machine-readable JSON.
    #[arg(long, global = true)]
    json: bool,
    /// Log format, overriding the config's `log.format`.
    #[arg(long, global = true, value_enum)]
    log_format: Option<LogFormatArg>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormatArg {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server: `--dev` for the embedded development setup, or `--config FILE`.
    Serve(setup::ServeArgs),
    /// Write a production configuration (with generated secrets and a self-signed certificate).
    Init(setup::InitArgs),
    /// Departments: a tree of names.
    #[command(subcommand)]
    Department(department::DepartmentCommand),
    /// Staff accounts.
    #[command(subcommand)]
    Account(account::AccountCommand),
    /// Further addresses of an account.
    #[command(subcommand)]
    Alias(account::AliasCommand),
    /// The address policy.
    #[command(subcommand)]
    Address(account::AddressCommand),
    /// Distribution lists: all staff, or a department and those below it.
    #[command(subcommand)]
    List(list::ListCommand),
    /// Create and update accounts from an HR export (CSV with a header row; `-` reads stdin).
    Import(import::ImportArgs),
    /// The hash-chained audit trail.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// The security policies in force.
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// API tokens for automation.
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// The DKIM key that signs outgoing mail.
    #[command(subcommand)]
    Dkim(mail::DkimCommand),
    /// Mail waiting to leave the organization.
    #[command(subcommand)]
    Queue(mail::QueueCommand),
    /// Mailboxes: storage and quota.
    #[command(subcommand)]
    Mailbox(mail::MailboxCommand),
    /// Single sign-on: registered applications and signing keys.
    #[command(subcommand)]
    Oidc(oidc::OidcCommand),
    /// First-sign-in invitations: issue, list, revoke.
    #[command(subcommand)]
    Invite(invite::InviteCommand),
    /// Locks and paused source networks: show, clear.
    #[command(subcommand)]
    Lockout(lockout::LockoutCommand),
    /// The master keys that open the store: list, rotate, retire.
    #[command(subcommand)]
    Key(key::KeyCommand),
    /// A person's calendars: list, export as .ics, import an .ics file.
    #[command(subcommand)]
    Calendar(calendar::CalendarCommand),
    /// Rooms and equipment booked by inviting them: create, list, show, update, remove, and
    /// the bookings that wait for a delegate.
    #[command(subcommand)]
    Resource(resource::ResourceCommand),
}

/// Options every command shares.
#[derive(Debug, Clone)]
pub(crate) struct Global {
    data: Option<PathBuf>,
    config: Option<PathBuf>,
    json: bool,
    log_format: Option<LogFormat>,
}

impl Global {
    /// The config of `--config FILE`, else of the data directory.
    pub(crate) fn resolve_config(&self) -> anyhow::Result<Config> {
        match (&self.config, &self.data) {
            (Some(_), Some(_)) => anyhow::bail!("give either --config or --data, not both"),
            (Some(file), None) => Config::load(file).map_err(|e| anyhow::anyhow!("{e}")),
            (None, data) => {
                let dir = data
                    .clone()
                    .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
                crate::dev::data_dir_config(&dir)
            }
        }
    }

    /// The config file this command reads, and the data directory when it is a development
    /// one.
    pub(crate) fn config_file(&self) -> (PathBuf, Option<PathBuf>) {
        match (&self.config, &self.data) {
            (Some(file), _) => (file.clone(), None),
            (None, data) => {
                let dir = data
                    .clone()
                    .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
                (carepost_config::dev_config_path(&dir), Some(dir))
            }
        }
    }

    /// Opens the store for an admin command.
    pub(crate) async fn open(&self) -> anyhow::Result<Context> {
        let config = self.resolve_config()?;
        Context::open(Arc::new(config)).await
    }
}

/// The operating-system user, named in the audit trail as `local-cli:USER`: the name of the
/// process's real user id (not `$USER`, which anyone can set), or `uid:N`.
pub(crate) fn os_user() -> String {
    user_of_process().unwrap_or_else(|| "unknown".to_string())
}

#[cfg(unix)]
fn user_of_process() -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let uid = std::fs::metadata("/proc/self").ok()?.uid();
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let name = passwd.lines().find_map(|l| {
        let mut f = l.split(':');
        let name = f.next()?;
        (f.nth(1)? == uid.to_string()).then(|| name.to_string())
    });
    Some(name.unwrap_or_else(|| format!("uid:{uid}")))
}

#[cfg(not(unix))]
fn user_of_process() -> Option<String> {
    None
}

pub(crate) fn cli_actor() -> carepost_identity::Actor {
    carepost_identity::Actor::local_cli(&os_user())
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    let global = Global {
        data: cli.data,
        config: cli.config,
        json: cli.json,
        log_format: cli.log_format.map(|f| match f {
            LogFormatArg::Text => LogFormat::Text,
            LogFormatArg::Json => LogFormat::Json,
        }),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("carepost: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command, global)) {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            let message = format!("{e:#}").replace('\n', " ");
            eprintln!("carepost: {message}");
            ExitCode::FAILURE
        }
    }
}

/// clap's own messages: help and version as clap prints them; a usage error as one line.
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = e.print();
        return if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
            ExitCode::from(2)
        } else {
            ExitCode::SUCCESS
        };
    }
    // The first paragraph of clap's message, on one line: the error and the items it lists.
    let text = e.to_string();
    let first: Vec<&str> = text
        .lines()
        .skip_while(|l| l.trim().is_empty())
        .take_while(|l| !l.trim().is_empty())
        .map(str::trim)
        .collect();
    let first = first.join(" ");
    let first = first.trim_start_matches("error: ");
    eprintln!("carepost: {first} (see carepost --help)");
    ExitCode::from(2)
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

async fn run(command: Command, g: Global) -> anyhow::Result<ExitCode> {
    if !matches!(command, Command::Serve(_)) {
        crate::telemetry::init_logs(g.log_format.unwrap_or(LogFormat::Text), "warn");
    }
    match command {
        Command::Serve(a) => setup::serve(a, &g).await,
        Command::Init(a) => setup::init(a, &g).await,
        Command::Department(c) => department::run(c, &g).await,
        Command::Account(c) => account::run(c, &g).await,
        Command::Alias(c) => account::run_alias(c, &g).await,
        Command::List(c) => list::run(c, &g).await,
        Command::Address(c) => account::run_address(c, &g).await,
        Command::Import(a) => import::run(a, &g).await,
        Command::Key(c) => key::run(c, &g).await,
        Command::Calendar(c) => calendar::run(c, &g).await,
        Command::Resource(c) => resource::run(c, &g).await,
        Command::Lockout(c) => lockout::run(c, &g).await,
        Command::Invite(c) => invite::run(c, &g).await,
        Command::Audit(c) => audit::run(c, &g).await,
        Command::Policy(c) => policy::run(c, &g).await,
        Command::Token(c) => token::run(c, &g).await,
        Command::Dkim(c) => mail::run_dkim(c, &g).await,
        Command::Queue(c) => mail::run_queue(c, &g).await,
        Command::Mailbox(c) => mail::run_mailbox(c, &g).await,
        Command::Oidc(c) => oidc::run(c, &g).await,
    }
}
