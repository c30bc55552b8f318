//! Development mode: `serve --dev` derives its whole config from a few flags, every listener on
//! 127.0.0.1 at `port_base` plus the standard port. The effective config is written into the
//! data directory so that admin commands given `--data DIR` find the same store and domain.

use crate::init::{InitOptions, STANDARD_PORTS, render};
use crate::{Config, ConfigErrors};
use carepost_types::Domain;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct DevOptions {
    /// Absolute data directory.
    pub data_dir: PathBuf,
    pub domain: Domain,
    pub port_base: u16,
    pub store_url: Option<String>,
    /// 32 random bytes, base64, kept in the data directory.
    pub master_key: String,
}

/// Where the development config of `data_dir` is recorded.
pub fn dev_config_path(data_dir: &Path) -> PathBuf {
    data_dir.join("carepost-dev.toml")
}

/// The development config text and its validated form.
pub fn dev_config(o: &DevOptions) -> Result<(String, Config), ConfigErrors> {
    let ports = STANDARD_PORTS.map(|p| u32::from(o.port_base) + u32::from(p));
    if let Some(p) = ports.iter().find(|p| **p > u32::from(u16::MAX)) {
        return Err(ConfigErrors {
            source: "--port-base".to_string(),
            errors: vec![format!(
                "{} + standard ports reaches {p}, past 65535",
                o.port_base
            )],
        });
    }
    let listeners = ports.map(|p| format!("127.0.0.1:{p}"));
    let text = render(
        &InitOptions {
            dir: &o.data_dir,
            domain: &o.domain,
            org: "carepost development",
            master_key: &o.master_key,
            store_url: o.store_url.as_deref(),
        },
        true,
        &listeners,
    );
    let config = Config::from_toml(&text, &o.data_dir)?;
    Ok((text, config))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(port_base: u16) -> DevOptions {
        DevOptions {
            data_dir: PathBuf::from("/tmp/cp"),
            domain: Domain::parse("kaiser.org").unwrap(),
            port_base,
            store_url: None,
            master_key: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".into(),
        }
    }

    #[test]
    fn dev_listeners_sit_at_port_base_plus_the_standard_port() {
        let (_, c) = dev_config(&opts(10000)).unwrap();
        assert!(c.dev);
        let l = &c.listeners;
        assert_eq!(l.https.unwrap().to_string(), "127.0.0.1:10443");
        assert_eq!(l.http.unwrap().to_string(), "127.0.0.1:10080");
        assert_eq!(l.smtp.unwrap().to_string(), "127.0.0.1:10025");
        assert_eq!(l.submission.unwrap().to_string(), "127.0.0.1:10587");
        assert_eq!(l.submissions.unwrap().to_string(), "127.0.0.1:10465");
        assert_eq!(l.imap.unwrap().to_string(), "127.0.0.1:10143");
        assert_eq!(l.imaps.unwrap().to_string(), "127.0.0.1:10993");
        assert_eq!(l.metrics.unwrap().to_string(), "127.0.0.1:19464");
        assert!(c.tls.generate_if_missing);
        assert_eq!(c.web.public_url.as_str(), "https://localhost:10443/");
        assert_eq!(c.store.url, "sqlite:///tmp/cp/carepost.db");
    }

    #[test]
    fn a_port_base_past_the_port_range_is_refused() {
        assert!(dev_config(&opts(65000)).is_err());
    }
}
