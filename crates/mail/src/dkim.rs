//! The organization's DKIM key (RFC 6376): RSA-SHA256, 2048 bits, generated once (by
//! `carepost init`, or at the first development start) into a PKCS#8 PEM file readable by its
//! owner only; mail leaving the organization is signed with it, and `carepost dkim show` prints
//! the DNS record that publishes it.

use crate::MailError;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{KeyPair, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use mail_auth::common::crypto::{RsaKey, Sha256};
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::{DkimSigner, Done};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use std::path::Path;

/// Header fields signed: those a reader sees and trusts (RFC 6376 section 5.4.1). The ones a
/// replayer would add are named twice (RFC 6376 section 8.15, "oversigning"): the signature
/// then also covers their absence, and a copy with an added Reply-To or second From fails.
const SIGNED_HEADERS: [&str; 15] = [
    "From",
    "From",
    "To",
    "To",
    "Cc",
    "Cc",
    "Subject",
    "Subject",
    "Reply-To",
    "Reply-To",
    "Sender",
    "Sender",
    "Date",
    "Message-ID",
    "MIME-Version",
];

pub struct DkimKey {
    signer: DkimSigner<RsaKey<Sha256>, Done>,
    public_spki: Vec<u8>,
    pub domain: String,
    pub selector: String,
}

impl std::fmt::Debug for DkimKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DkimKey")
            .field("domain", &self.domain)
            .field("selector", &self.selector)
            .finish_non_exhaustive()
    }
}

/// Writes a new 2048-bit RSA key as PKCS#8 PEM to `path` (mode 0600), unless one is there.
pub fn generate_key_file(path: &Path) -> Result<bool, MailError> {
    if path.exists() {
        return Ok(false);
    }
    let pair = RsaKeyPair::generate(KeySize::Rsa2048)
        .map_err(|_| MailError::Invalid("cannot generate a DKIM key".into()))?;
    let der = pair
        .as_der()
        .map_err(|_| MailError::Invalid("cannot encode the DKIM key".into()))?;
    let b64 = STANDARD.encode(der.as_ref());
    let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str("-----END PRIVATE KEY-----\n");
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    std::io::Write::write_all(&mut options.open(path)?, pem.as_bytes())?;
    Ok(true)
}

impl DkimKey {
    pub fn load(path: &Path, domain: &str, selector: &str) -> Result<DkimKey, MailError> {
        let pem = std::fs::read_to_string(path).map_err(|e| {
            MailError::Invalid(format!("cannot read the DKIM key {}: {e}", path.display()))
        })?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            if let Ok(m) = std::fs::metadata(path)
                && m.permissions().mode() & 0o077 != 0
            {
                tracing::warn!(
                    path = %path.display(),
                    "the DKIM private key is readable by other users: chmod 600 it"
                );
            }
        }
        let bad =
            |what: &str| MailError::Invalid(format!("the DKIM key {} {what}", path.display()));
        let der = PrivatePkcs8KeyDer::from_pem_slice(pem.as_bytes())
            .map_err(|_| bad("is not a PKCS#8 PEM file"))?;
        let pair =
            RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()).map_err(|_| bad("is not an RSA key"))?;
        let public_spki = pair
            .public_key()
            .as_der()
            .map_err(|_| bad("has no usable public key"))?
            .as_ref()
            .to_vec();
        let key = RsaKey::<Sha256>::from_key_der(PrivateKeyDer::Pkcs8(der))
            .map_err(|_| bad("is not an RSA key"))?;
        let signer = DkimSigner::from_key(key)
            .domain(domain)
            .selector(selector)
            .headers(SIGNED_HEADERS);
        Ok(DkimKey {
            signer,
            public_spki,
            domain: domain.to_string(),
            selector: selector.to_string(),
        })
    }

    /// The `DKIM-Signature:` header line(s) for `raw`, to put in front of it.
    pub fn sign(&self, raw: &[u8]) -> Result<String, MailError> {
        let signature = self
            .signer
            .sign(raw)
            .map_err(|e| MailError::Invalid(format!("cannot DKIM-sign: {e}")))?;
        Ok(signature.to_header())
    }

    /// `selector._domainkey.domain`, where the record goes.
    pub fn dns_name(&self) -> String {
        format!("{}._domainkey.{}", self.selector, self.domain)
    }

    /// The TXT record's value.
    pub fn dns_record(&self) -> String {
        format!("v=DKIM1; k=rsa; p={}", STANDARD.encode(&self.public_spki))
    }
}
