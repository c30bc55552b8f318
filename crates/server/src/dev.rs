//! The development data directory: created by `serve --dev` (mode 0700), holding a generated
//! master key and the effective development config, which admin commands given `--data DIR`
//! read.

use anyhow::Context as _;
use base64::Engine;
use carepost_config::{Config, DevOptions, dev_config, dev_config_path};
use carepost_types::{Domain, OsRng, Rng};
use std::path::{Path, PathBuf};

/// Prepares `data_dir` and returns the development config for it. With `record`, the config is
/// written to the data directory (what `serve --dev` does).
pub fn prepare_dev(
    data_dir: &Path,
    domain: &Domain,
    port_base: u16,
    store_url: Option<String>,
    record: bool,
) -> anyhow::Result<Config> {
    let data_dir = make_private_dir(data_dir)?;
    let master_key = master_key(&data_dir)?;
    let options = DevOptions {
        data_dir: data_dir.clone(),
        domain: domain.clone(),
        port_base,
        store_url,
        master_key,
    };
    let (text, config) = dev_config(&options).map_err(|e| anyhow::anyhow!("{e}"))?;
    if record {
        replace_secret_file(&dev_config_path(&data_dir), text.as_bytes())?;
    }
    Ok(config)
}

/// The config of a data directory for admin commands: the one `serve --dev` recorded there.
/// A directory without one is refused rather than filled with a new, empty store: a typo in
/// `--data` must not look like an empty organization.
pub fn data_dir_config(data_dir: &Path) -> anyhow::Result<Config> {
    let recorded = dev_config_path(data_dir);
    if !recorded.exists() {
        anyhow::bail!(
            "{} is not a carepost data directory (it has no carepost-dev.toml); start `carepost serve --dev --data {}` once to make it, or give --config FILE",
            data_dir.display(),
            data_dir.display()
        );
    }
    Config::load(&recorded).map_err(|e| anyhow::anyhow!("{e}"))
}

/// Creates `dir` readable only by its owner, or takes it as it is if it exists.
pub fn make_private_dir(dir: &Path) -> anyhow::Result<PathBuf> {
    if !dir.exists() {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder
            .create(dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
    }
    dir.canonicalize()
        .with_context(|| format!("cannot resolve {}", dir.display()))
}

/// Writes `contents` to a new file readable only by its owner; refuses to overwrite.
pub fn write_secret_file(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(contents)?;
    f.sync_all()?;
    Ok(())
}

/// Replaces `path` with `contents`, readable only by its owner, through a temporary file and a
/// rename so that a crash never leaves half a file.
pub fn replace_secret_file(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    write_secret_file(&tmp, contents)?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

pub fn new_master_key() -> String {
    base64::engine::general_purpose::STANDARD.encode(OsRng.bytes(32))
}

fn master_key(data_dir: &Path) -> anyhow::Result<String> {
    let path = data_dir.join("master.key");
    if !path.exists() {
        write_secret_file(&path, new_master_key().as_bytes())?;
    }
    let key = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok(key.trim().to_string())
}
