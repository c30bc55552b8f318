//! `carepost key list|rotate|retire`: the master keys that open the store. `rotate` makes a new
//! key, lets it open the store, and writes it into this config (and, for a development data
//! directory, its `master.key`); the old key keeps opening the store until it is retired, so
//! that every node can be moved to the new key before the old one stops working.

use super::{Global, cli_actor, output};
use anyhow::Context as _;
use base64::Engine;
use carepost_identity::keyring;
use clap::Subcommand;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// The master keys that open the store, by fingerprint (never the keys).
    List,
    /// Make a new master key, let it open the store, and write it into this config.
    Rotate,
    /// Stop an old master key opening the store (after every node has the new one).
    Retire { fingerprint: String },
}

pub(crate) async fn run(c: KeyCommand, g: &Global) -> anyhow::Result<ExitCode> {
    let configured = g.resolve_config()?.master_key;
    let ctx = g.open().await?;
    let ours = keyring::fingerprint(&configured);
    match c {
        KeyCommand::List => {
            let keys = keyring::master_keys(&ctx.store).await?;
            if g.json {
                let rows: Vec<_> = keys
                    .iter()
                    .map(|k| {
                        serde_json::json!({
                            "fingerprint": k.fingerprint,
                            "added_at": k.added_at.to_rfc3339(),
                            "added_by": k.added_by,
                            "this_config": k.fingerprint == ours,
                        })
                    })
                    .collect();
                output::json(&rows)?;
            } else {
                for k in keys {
                    let mark = if k.fingerprint == ours {
                        "  (this config's key)"
                    } else {
                        ""
                    };
                    say!(
                        "{}  added {} by {}{mark}",
                        k.fingerprint,
                        k.added_at.to_rfc3339(),
                        k.added_by
                    );
                }
            }
        }
        KeyCommand::Rotate => {
            let files = key_files(g)?;
            let new_text = crate::dev::new_master_key();
            let new_key = decode(&new_text)?;
            let who = cli_actor().who;
            let fp = keyring::add_master_key(
                &ctx.store,
                &ctx.config.master_key,
                &new_key,
                &*ctx.clock,
                &*ctx.rng,
                &who,
            )
            .await?;
            // The store already accepts the new key; a failure below leaves the old one working.
            for f in &files {
                f.replace(&new_text)?;
            }
            let written: Vec<String> = files
                .iter()
                .map(|f| f.path().display().to_string())
                .collect();
            if g.json {
                output::json(&serde_json::json!({
                    "fingerprint": fp, "previous": ours, "written_to": written,
                }))?;
            } else {
                say!("new master key {fp} written to {}", written.join(" and "));
                say!(
                    "The old key {ours} still opens the store: give every node the new key, restart them, then run `carepost key retire {ours}`."
                );
            }
        }
        KeyCommand::Retire { fingerprint } => {
            let who = cli_actor().who;
            keyring::retire_master_key(&ctx.store, &fingerprint, &configured, &*ctx.clock, &who)
                .await?;
            if !g.json {
                say!("the key {fingerprint} no longer opens the store");
            } else {
                output::json(&serde_json::json!({ "retired": fingerprint }))?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn decode(text: &str) -> anyhow::Result<[u8; 32]> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .context("the new key is not base64")?;
    bytes
        .try_into()
        .map_err(|_| anyhow::anyhow!("the new key is not 32 bytes"))
}

/// A file that holds the master key, and how the key is written in it.
enum KeyFile {
    /// A config file with one `master_key = "..."` line.
    Config(PathBuf),
    /// A development data directory's `master.key`, the key alone.
    Bare(PathBuf),
}

impl KeyFile {
    fn path(&self) -> &Path {
        match self {
            KeyFile::Config(p) | KeyFile::Bare(p) => p,
        }
    }

    /// Writes `key` in place of the old one (a new file renamed over the old, mode 0600).
    fn replace(&self, key: &str) -> anyhow::Result<()> {
        let text = match self {
            KeyFile::Bare(_) => key.to_string(),
            KeyFile::Config(p) => {
                let old = std::fs::read_to_string(p)
                    .with_context(|| format!("cannot read {}", p.display()))?;
                replace_key_line(&old, key).ok_or_else(|| {
                    anyhow::anyhow!(
                        "{} has no single `master_key = \"...\"` line: set secrets.master_key there to the new key yourself",
                        p.display()
                    )
                })?
            }
        };
        crate::dev::replace_secret_file(self.path(), text.as_bytes())
    }
}

/// Where this command's master key is kept: checked before the store changes, so that a
/// config the command cannot rewrite is found first.
fn key_files(g: &Global) -> anyhow::Result<Vec<KeyFile>> {
    let files = match g.config_file() {
        (file, None) => vec![KeyFile::Config(file)],
        (file, Some(dir)) => vec![KeyFile::Config(file), KeyFile::Bare(dir.join("master.key"))],
    };
    for f in &files {
        if let KeyFile::Config(p) = f {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read {}", p.display()))?;
            if replace_key_line(&text, "x").is_none() {
                anyhow::bail!(
                    "{} has no single `master_key = \"...\"` line to replace: rotate by hand (see the README)",
                    p.display()
                );
            }
        }
    }
    Ok(files)
}

/// `text` with its one `master_key = "..."` line holding `key`; None unless there is exactly
/// one such line.
fn replace_key_line(text: &str, key: &str) -> Option<String> {
    let is_key_line = |l: &str| {
        let t = l.trim_start();
        t.starts_with("master_key") && t["master_key".len()..].trim_start().starts_with('=')
    };
    if text.lines().filter(|l| is_key_line(l)).count() != 1 {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        if is_key_line(line) {
            let end = if line.ends_with('\n') { "\n" } else { "" };
            out.push_str(&format!("master_key = \"{key}\"{end}"));
        } else {
            out.push_str(line);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::replace_key_line;

    #[test]
    fn only_a_single_key_line_is_replaced() {
        let text = "[secrets]\nmaster_key = \"old\"\n[mail]\nx = 1\n";
        assert_eq!(
            replace_key_line(text, "new").as_deref(),
            Some("[secrets]\nmaster_key = \"new\"\n[mail]\nx = 1\n")
        );
        assert_eq!(replace_key_line("[secrets]\n", "new"), None);
        assert_eq!(
            replace_key_line("master_key = \"a\"\nmaster_key = \"b\"\n", "new"),
            None
        );
    }
}
