//! `carepost account ...`, `carepost alias ...` and `carepost address preview`.

use super::{Global, cli_actor, output};
use crate::Context;
use carepost_identity::{AccountStatus, ListFilter, NewAccount, PersonName, Rename};
use clap::{Args, Subcommand};
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Create an account; its address is assigned by the policy and printed.
    Create(CreateArgs),
    /// List accounts, in address order.
    List(ListArgs),
    /// Show one account, found by any of its addresses.
    Show { address: String },
    /// Refuse sign-in until enabled again; mail keeps arriving.
    Disable { address: String },
    /// Allow sign-in again (also undoes a deprovisioning while the address is still held).
    Enable { address: String },
    /// Change names; if the policy then makes another address, it becomes primary and the old
    /// one stays as an alias that keeps receiving.
    Rename(RenameArgs),
    /// Change the department, role category, supervisor or employee id.
    Edit(EditArgs),
    /// A colleague has left: sign-in refused, mail kept, addresses quarantined before reuse.
    Deprovision { address: String },
    /// Set a password read from standard input (the whole policy applies).
    SetPassword {
        address: String,
        /// Read the password from standard input (required: never on the command line).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Replace the password with a one-time temporary one, shown once; it must be changed at
    /// the next sign-in.
    ResetPassword { address: String },
    /// Clear the account's sign-in lockout.
    Unlock { address: String },
    /// Second factors and app passwords of an account.
    #[command(subcommand)]
    Mfa(MfaCommand),
    /// Administrative roles: it-admin, helpdesk, supervisor, security-officer, communications.
    #[command(subcommand)]
    Role(RoleCommand),
}

#[derive(Debug, Subcommand)]
pub enum RoleCommand {
    /// Give a role; a supervisor names the department (and its subtree) they look after.
    Grant {
        address: String,
        role: String,
        #[arg(long)]
        department: Option<String>,
    },
    /// Take a role away.
    Revoke { address: String, role: String },
}

fn parse_role(r: &str) -> anyhow::Result<carepost_identity::Role> {
    Ok(carepost_identity::Role::named(r)?)
}

#[derive(Debug, Subcommand)]
pub enum MfaCommand {
    /// Show the account's second factors and app passwords.
    Show { address: String },
    /// Remove TOTP and recovery codes so the owner enrolls again; the reason is audited.
    Reset {
        address: String,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Debug, Args)]
pub struct NameArgs {
    /// Legal first name.
    #[arg(long)]
    first: String,
    /// Legal middle name(s).
    #[arg(long)]
    middle: Option<String>,
    /// Legal last name.
    #[arg(long, required_unless_present = "single_name")]
    last: Option<String>,
    /// Preferred first name.
    #[arg(long)]
    preferred: Option<String>,
    /// The person has one legal name (a mononym), given with --first; the address comes from
    /// `address.mononym_template`.
    #[arg(long, conflicts_with_all = ["last", "middle"])]
    single_name: bool,
}

impl NameArgs {
    fn name(&self) -> anyhow::Result<PersonName> {
        Ok(PersonName::from_form(
            &self.first,
            self.middle.as_deref(),
            self.last.as_deref(),
            self.preferred.as_deref(),
            self.single_name,
        )?)
    }
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    #[command(flatten)]
    name: NameArgs,
    #[arg(long)]
    employee_id: String,
    /// Role category: clinician, nurse, administrative, support, contractor, service, or one
    /// added in the config.
    #[arg(long)]
    category: String,
    #[arg(long)]
    department: String,
    /// The supervisor's address.
    #[arg(long)]
    supervisor: Option<String>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this department and the departments below it.
    #[arg(long)]
    department: Option<String>,
    /// active, locked, disabled or deprovisioned.
    #[arg(long)]
    status: Option<String>,
    /// Only this category (nurse, physician, ...).
    #[arg(long)]
    category: Option<String>,
    /// Only holders of this role.
    #[arg(long)]
    role: Option<String>,
    /// Text contained in a name, an address or the employee id.
    #[arg(long)]
    query: Option<String>,
    /// At most this many accounts.
    #[arg(long, value_parser = clap::value_parser!(i64).range(1..))]
    limit: Option<i64>,
}

#[derive(Debug, Args)]
pub struct RenameArgs {
    address: String,
    #[arg(long)]
    first: Option<String>,
    /// An empty value removes the middle name.
    #[arg(long)]
    middle: Option<String>,
    #[arg(long)]
    last: Option<String>,
    /// An empty value removes the preferred name.
    #[arg(long)]
    preferred: Option<String>,
}

#[derive(Debug, Args)]
pub struct EditArgs {
    address: String,
    #[arg(long)]
    department: Option<String>,
    #[arg(long)]
    category: Option<String>,
    /// The supervisor's address; an empty value removes the supervisor.
    #[arg(long)]
    supervisor: Option<String>,
    #[arg(long)]
    employee_id: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum AliasCommand {
    /// Give an account a further address in one of the organization's domains.
    Add {
        address: String,
        alias: String,
        /// Allow a reserved name such as postmaster.
        #[arg(long)]
        allow_reserved: bool,
    },
    /// Remove an alias; it stops receiving and is quarantined before any reuse.
    Remove { address: String, alias: String },
}

#[derive(Debug, Subcommand)]
pub enum AddressCommand {
    /// Show the address the policy would assign now, without creating anything.
    Preview(NameArgs),
}

pub(crate) async fn run(c: AccountCommand, g: &Global) -> anyhow::Result<ExitCode> {
    let ctx = g.open().await?;
    let dir = &ctx.directory;
    let actor = cli_actor();
    let account = match c {
        AccountCommand::Create(a) => return create(&ctx, g, a).await,
        AccountCommand::SetPassword { address, .. } => {
            let password = read_password_stdin()?;
            dir.set_password(&actor, &address, &password).await?;
            return done(g, &format!("password set for {address}"));
        }
        AccountCommand::ResetPassword { address } => {
            let temporary = dir.reset_password(&actor, &address).await?;
            if g.json {
                output::json(
                    &serde_json::json!({ "address": address, "temporary_password": temporary, "must_change": true }),
                )?;
            } else {
                say!("temporary password for {address}: {temporary}");
                say!(
                    "It is shown only now, works for {}, and must be changed at the next sign-in.",
                    carepost_identity::human_duration(dir.config().password.temporary_lifetime)
                );
            }
            return Ok(ExitCode::SUCCESS);
        }
        AccountCommand::Unlock { address } => {
            let u = dir.unlock(&actor, &address).await?;
            if g.json {
                output::json(&u)?;
                return Ok(ExitCode::SUCCESS);
            }
            if u.nothing_cleared() {
                say!("{address} was not locked and had no failed sign-ins: nothing to clear");
            } else {
                let locks = match u.locks_lifted.is_empty() {
                    true => "no lock".to_string(),
                    false => format!("the lock from {} networks", u.locks_lifted.join(" and ")),
                };
                say!(
                    "{address} unlocked: lifted {locks}, forgot {} failed sign-ins",
                    u.failures_forgotten
                );
            }
            for n in &u.paused_networks {
                say!(
                    "sign-ins from {} are paused until {} ({} logins failed there): `carepost lockout clear {}` lifts it",
                    n.network,
                    n.paused_until.as_deref().unwrap_or("-"),
                    n.failing_logins,
                    n.network
                );
            }
            return Ok(ExitCode::SUCCESS);
        }
        AccountCommand::Mfa(MfaCommand::Show { address }) => {
            let m = dir.mfa_summary(&actor, &address).await?;
            if g.json {
                output::json(&m)?;
            } else {
                output::mfa(&address, &m)?;
            }
            return Ok(ExitCode::SUCCESS);
        }
        AccountCommand::Role(RoleCommand::Grant {
            address,
            role,
            department,
        }) => {
            let role = parse_role(&role)?;
            dir.grant_role(&actor, &address, &role, department.as_deref())
                .await?;
            return done(g, &format!("{address} is now {role}"));
        }
        AccountCommand::Role(RoleCommand::Revoke { address, role }) => {
            let role = parse_role(&role)?;
            dir.revoke_role(&actor, &address, &role).await?;
            return done(g, &format!("{address} is no longer {role}"));
        }
        AccountCommand::Mfa(MfaCommand::Reset { address, reason }) => {
            dir.mfa_reset(&actor, &address, &reason).await?;
            return done(
                g,
                &format!(
                    "second factors of {address} removed; they enroll again at the next sign-in"
                ),
            );
        }
        AccountCommand::List(a) => return list(&ctx, g, a).await,
        AccountCommand::Show { address } => return show(&ctx, g, &address).await,
        AccountCommand::Disable { address } => {
            dir.set_status(&actor, &address, AccountStatus::Disabled)
                .await?
        }
        AccountCommand::Enable { address } => {
            dir.set_status(&actor, &address, AccountStatus::Active)
                .await?
        }
        AccountCommand::Deprovision { address } => {
            dir.set_status(&actor, &address, AccountStatus::Deprovisioned)
                .await?
        }
        AccountCommand::Rename(a) => {
            let change = Rename {
                first: a.first,
                middle: a.middle,
                last: a.last,
                preferred: a.preferred,
            };
            dir.rename(&actor, &a.address, &change).await?
        }
        AccountCommand::Edit(a) => {
            let edit = carepost_identity::AccountEdit {
                department: a.department,
                category: a.category,
                supervisor: a.supervisor,
                employee_id: a.employee_id,
            };
            dir.edit_account(&actor, &a.address, &edit).await?
        }
    };
    if g.json {
        output::json(&account)?;
    } else {
        output::account_details(&account)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// A password from standard input: the first line, without its line end.
fn read_password_stdin() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    let password = line.trim_end_matches(['\r', '\n']).to_string();
    if password.is_empty() {
        anyhow::bail!("no password on standard input");
    }
    Ok(password)
}

fn done(g: &Global, message: &str) -> anyhow::Result<ExitCode> {
    if g.json {
        output::json(&serde_json::json!({ "ok": true, "message": message }))?;
    } else {
        say!("{message}");
    }
    Ok(ExitCode::SUCCESS)
}

async fn create(ctx: &Context, g: &Global, a: CreateArgs) -> anyhow::Result<ExitCode> {
    let new = NewAccount {
        name: a.name.name()?,
        employee_id: a.employee_id,
        category: a.category,
        department: a.department,
        supervisor: a.supervisor,
    };
    let account = ctx.directory.create_account(&cli_actor(), &new).await?;
    if g.json {
        output::json(&account)?;
    } else {
        say!("{}", account.address);
    }
    Ok(ExitCode::SUCCESS)
}

/// `account show`: the account, its roles and its lock state (what the helpdesk asks first).
async fn show(ctx: &Context, g: &Global, address: &str) -> anyhow::Result<ExitCode> {
    let actor = cli_actor();
    let dir = &ctx.directory;
    let account = dir.find_account(&actor, address).await?;
    let roles = dir.roles_of(&actor, address).await?;
    let locks = dir.lock_state(&actor, address).await?;
    if g.json {
        let mut v = serde_json::to_value(&account)?;
        v["roles"] = roles
            .iter()
            .map(|(role, department)| serde_json::json!({ "role": role, "department": department }))
            .collect();
        v["lock"] = locks
            .iter()
            .map(|(side, until, failures)| {
                serde_json::json!({ "networks": side, "locked_until": until, "failures": failures })
            })
            .collect();
        output::json(&v)?;
        return Ok(ExitCode::SUCCESS);
    }
    output::account_details(&account)?;
    let roles = match roles.is_empty() {
        true => "-".to_string(),
        false => roles
            .iter()
            .map(|(role, dept)| match dept {
                Some(d) => format!("{role} ({d})"),
                None => role.clone(),
            })
            .collect::<Vec<_>>()
            .join(", "),
    };
    say!("  {:<12} {roles}", "roles");
    for (side, until, failures) in locks {
        let state = match until {
            Some(t) => format!("locked until {t}"),
            None => "not locked".to_string(),
        };
        say!(
            "  {:<12} {state}, {failures} failed sign-in(s) since the last success",
            format!("lock ({side})")
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn list(ctx: &Context, g: &Global, a: ListArgs) -> anyhow::Result<ExitCode> {
    let filter = ListFilter {
        department: a.department,
        status: a.status.as_deref().map(AccountStatus::parse).transpose()?,
        category: a.category,
        role: a.role.as_deref().map(parse_role).transpose()?,
        query: a.query,
        limit: a.limit,
    };
    let accounts = ctx.directory.list_accounts(&cli_actor(), &filter).await?;
    if g.json {
        output::json(&accounts)?;
    } else {
        output::account_table(&accounts)?;
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn run_alias(c: AliasCommand, g: &Global) -> anyhow::Result<ExitCode> {
    let ctx = g.open().await?;
    let actor = cli_actor();
    let account = match c {
        AliasCommand::Add {
            address,
            alias,
            allow_reserved,
        } => {
            ctx.directory
                .add_alias(&actor, &address, &alias, allow_reserved)
                .await?
        }
        AliasCommand::Remove { address, alias } => {
            ctx.directory.remove_alias(&actor, &address, &alias).await?
        }
    };
    if g.json {
        output::json(&account)?;
    } else {
        output::account_details(&account)?;
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn run_address(c: AddressCommand, g: &Global) -> anyhow::Result<ExitCode> {
    let AddressCommand::Preview(name) = c;
    let ctx = g.open().await?;
    let address = ctx.directory.preview_address(&name.name()?).await?;
    if g.json {
        output::json(&serde_json::json!({ "address": address.to_string() }))?;
    } else {
        say!("{address}");
    }
    Ok(ExitCode::SUCCESS)
}
