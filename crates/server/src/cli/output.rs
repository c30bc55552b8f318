//! Printing results: JSON for `--json`, aligned text for people. Output goes through `say!`,
//! which returns write errors instead of panicking, so `carepost audit export | head` ends
//! quietly when the reader goes away.

use carepost_identity::Account;
use serde::Serialize;

pub(crate) fn json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    say!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

pub(crate) fn account_details(a: &Account) -> anyhow::Result<()> {
    let n = &a.name;
    let mut name = match &n.middle {
        Some(m) => format!("{} {m} {}", n.first, n.last),
        None => format!("{} {}", n.first, n.last),
    };
    if let Some(p) = &n.preferred {
        name.push_str(&format!(" (preferred: {p})"));
    }
    let dash = || "-".to_string();
    let rows = [
        ("id", a.id.to_string()),
        ("name", name),
        ("status", a.status.to_string()),
        ("employee id", a.employee_id.clone()),
        ("category", a.category.clone()),
        ("department", a.department.clone()),
        ("supervisor", a.supervisor.clone().unwrap_or_else(dash)),
        (
            "aliases",
            if a.aliases.is_empty() {
                dash()
            } else {
                a.aliases.join(", ")
            },
        ),
        ("created", a.created_at.clone()),
        ("updated", a.updated_at.clone()),
    ];
    say!("{}", a.address);
    for (k, v) in rows {
        say!("  {k:<12} {v}");
    }
    Ok(())
}

pub(crate) fn account_table(accounts: &[Account]) -> anyhow::Result<()> {
    let width = accounts
        .iter()
        .map(|a| a.address.len())
        .max()
        .unwrap_or(7)
        .max(7);
    say!(
        "{:<width$}  {:<13}  {:<12}  {:<14}  {:<20}  NAME",
        "ADDRESS",
        "STATUS",
        "EMPLOYEE ID",
        "CATEGORY",
        "DEPARTMENT"
    );
    for a in accounts {
        say!(
            "{:<width$}  {:<13}  {:<12}  {:<14}  {:<20}  {}",
            a.address,
            a.status.as_str(),
            a.employee_id,
            a.category,
            a.department,
            a.name.display()
        );
    }
    Ok(())
}
