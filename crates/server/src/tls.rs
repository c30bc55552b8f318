//! The TLS server configuration from the configured PEM files, and the self-signed pair made
//! for development (or by `carepost init`) when they are missing.

use crate::dev::write_secret_file;
use anyhow::Context as _;
use carepost_config::Config;
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;
use std::sync::Arc;

/// Writes a self-signed certificate for `localhost`, `127.0.0.1` and the organization's
/// domain (and its `mail.` host) to `cert` and `key`.
pub fn generate_self_signed(cert: &Path, key: &Path, domain: &str) -> anyhow::Result<()> {
    let names = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
        domain.to_string(),
        format!("mail.{domain}"),
    ];
    let pair = rcgen::generate_simple_self_signed(names).context("cannot make a certificate")?;
    for p in [cert, key] {
        if let Some(dir) = p.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
    }
    write_secret_file(key, pair.signing_key.serialize_pem().as_bytes())?;
    std::fs::write(cert, pair.cert.pem())
        .with_context(|| format!("cannot write {}", cert.display()))?;
    Ok(())
}

/// The rustls configuration for every TLS listener.
pub fn server_config(config: &Config) -> anyhow::Result<Arc<ServerConfig>> {
    let t = &config.tls;
    if t.generate_if_missing && !t.cert.exists() && !t.key.exists() {
        generate_self_signed(&t.cert, &t.key, config.organization.domain.as_str())?;
        tracing::info!(cert = %t.cert.display(), "generated a self-signed certificate");
    }
    let certs = CertificateDer::pem_file_iter(&t.cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("cannot read the certificate {}", t.cert.display()))?;
    let key = PrivateKeyDer::from_pem_file(&t.key)
        .with_context(|| format!("cannot read the private key {}", t.key.display()))?;
    let mut sc = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("the certificate and key do not fit together")?;
    sc.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(sc))
}
