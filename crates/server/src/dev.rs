//! The development data directory: created on demand (mode 0700), holding a generated master
//! key and the effective development config, which admin commands given `--data DIR` read.

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
        let path = dev_config_path(&data_dir);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(config)
}

/// The config of a data directory for admin commands: the one `serve --dev` recorded, or the
/// defaults.
pub fn data_dir_config(data_dir: &Path) -> anyhow::Result<Config> {
    let recorded = dev_config_path(data_dir);
    if recorded.exists() {
        return Config::load(&recorded).map_err(|e| anyhow::anyhow!("{e}"));
    }
    let domain = Domain::parse(crate::cli::DEFAULT_DOMAIN)?;
    prepare_dev(
        data_dir,
        &domain,
        crate::cli::DEFAULT_PORT_BASE,
        None,
        false,
    )
}

pub fn make_private_dir(dir: &Path) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot restrict {}", dir.display()))?;
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
