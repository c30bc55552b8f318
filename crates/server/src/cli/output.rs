//! Printing results: JSON for `--json`, aligned text for people. Output goes through `say!`,
//! which returns write errors instead of panicking, so `carepost audit export | head` ends
//! quietly when the reader goes away.

use carepost_identity::{Account, MfaSummary};
use serde::Serialize;

pub(crate) fn json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    say!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

pub(crate) fn account_details(a: &Account) -> anyhow::Result<()> {
    let n = &a.name;
    let mut name = [
        Some(n.first.as_str()),
        n.middle.as_deref(),
        Some(n.last.as_str()),
    ]
    .into_iter()
    .flatten()
    .filter(|p| !p.is_empty())
    .collect::<Vec<_>>()
    .join(" ");
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
    let rows: Vec<[String; 6]> = accounts
        .iter()
        .map(|a| {
            [
                a.address.clone(),
                a.status.to_string(),
                a.employee_id.clone(),
                a.category.clone(),
                a.department.clone(),
                a.name.display(),
            ]
        })
        .collect();
    let header = [
        "ADDRESS",
        "STATUS",
        "EMPLOYEE ID",
        "CATEGORY",
        "DEPARTMENT",
        "NAME",
    ]
    .map(String::from);
    let mut width = header.clone().map(|h| h.chars().count());
    for r in &rows {
        for (w, cell) in width.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for r in std::iter::once(&header).chain(&rows) {
        let line: Vec<String> = r
            .iter()
            .zip(width)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        say!("{}", line.join("  ").trim_end());
    }
    Ok(())
}

pub(crate) fn mfa(address: &str, m: &MfaSummary) -> anyhow::Result<()> {
    say!("{address}");
    say!(
        "  {:<16} {}",
        "required",
        if m.required { "yes" } else { "no" }
    );
    say!("  {:<16} {}", "totp", if m.totp { "enrolled" } else { "-" });
    say!("  {:<16} {} left", "recovery codes", m.recovery_codes_left);
    for k in &m.passkeys {
        let used = k.last_used_at.as_deref().unwrap_or("never used");
        say!(
            "  passkey #{} {:?}, added {}, {used}",
            k.id,
            k.name,
            k.created_at
        );
    }
    for a in &m.app_passwords {
        let state = if a.revoked { "revoked" } else { "active" };
        let used = a.last_used_at.as_deref().unwrap_or("never used");
        say!(
            "  app password #{} {:?} ({}) {state}, {used}",
            a.id,
            a.label,
            a.scopes.join(",")
        );
    }
    Ok(())
}
