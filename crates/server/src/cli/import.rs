//! `carepost import FILE`.

use super::{Global, cli_actor, output};
use anyhow::Context as _;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// CSV (commas, semicolons or tabs) with the columns employee_id, first, middle, last,
    /// preferred, category, department, supervisor_employee_id, status, single_name; `-` reads
    /// standard input. Exits non-zero when a row failed; warnings alone exit 0.
    file: PathBuf,
}

pub(crate) async fn run(a: ImportArgs, g: &Global) -> anyhow::Result<ExitCode> {
    let ctx = g.open().await?;
    let input: Box<dyn std::io::Read> = if a.file.as_os_str() == "-" {
        Box::new(std::io::stdin())
    } else {
        let f = std::fs::File::open(&a.file)
            .with_context(|| format!("cannot open {}", a.file.display()))?;
        Box::new(std::io::BufReader::new(f))
    };
    let s = ctx.directory.import_csv(&cli_actor(), input).await?;
    if g.json {
        output::json(&s)?;
    } else {
        say!(
            "{} rows: {} created, {} renamed, {} updated, {} unchanged, {} failed; {} departments created; {} warnings",
            s.rows,
            s.created,
            s.renamed,
            s.updated,
            s.unchanged,
            s.failed,
            s.departments_created,
            s.warnings.len()
        );
        for (kind, list) in [("failed", &s.errors), ("warning", &s.warnings)] {
            for e in list {
                let who = e
                    .employee_id
                    .as_deref()
                    .map(|id| format!(" ({id})"))
                    .unwrap_or_default();
                say!("line {}{who}, {kind}: {}", e.line, e.reason);
            }
        }
    }
    if s.failed > 0 {
        eprintln!(
            "carepost: {} of {} rows failed (listed above)",
            s.failed, s.rows
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
