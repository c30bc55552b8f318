//! What outbound TLS is judged against. Delivery first completes a handshake whose signatures
//! are checked as always (the server proves it holds the key of the certificate it shows) but
//! whose chain is accepted whatever it is, and then judges that chain by the recipient domain's
//! policy: nothing (opportunistic TLS, RFC 7435), the system's certificate authorities plus
//! `mail.tls_trust` for the MX host's name (a `verified` domain, an MTA-STS policy), or the
//! DANE TLSA records (RFC 7672). Judging after the handshake, instead of inside the verifier,
//! keeps one connector for every policy and lets a failure be reported (TLS-RPT) by its kind.

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use std::path::Path;
use std::sync::Arc;
use tokio_rustls::TlsConnector;

/// Why a chain did not pass, as an RFC 8460 result type and in words.
pub(crate) type Refusal = (&'static str, String);

pub(crate) struct Trust {
    roots: Arc<RootCertStore>,
    provider: Arc<CryptoProvider>,
    /// Accepts any chain, checks handshake signatures: the connector of every delivery.
    any_chain: TlsConnector,
}

impl std::fmt::Debug for Trust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trust")
            .field("roots", &self.roots.len())
            .finish_non_exhaustive()
    }
}

impl Trust {
    /// The system's authorities (`rustls-native-certs`: the OS store, `/etc/ssl/certs` on
    /// Debian) and those of `extra`. A file that cannot be read is logged, not fatal: delivery
    /// to domains that need it then fails verification, visibly, and nothing else changes.
    pub(crate) fn load(extra: Option<&Path>) -> Trust {
        let mut roots = RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        for e in &native.errors {
            tracing::warn!(error = %e, "a system certificate authority could not be read");
        }
        roots.add_parsable_certificates(native.certs);
        if let Some(path) = extra {
            match CertificateDer::pem_file_iter(path).and_then(|i| i.collect::<Result<Vec<_>, _>>())
            {
                Ok(certs) => {
                    let (added, ignored) = roots.add_parsable_certificates(certs);
                    tracing::info!(added, ignored, path = %path.display(), "mail.tls_trust loaded");
                }
                Err(e) => {
                    tracing::warn!(error = %e, path = %path.display(), "mail.tls_trust cannot be read")
                }
            }
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map(|b| {
                b.dangerous()
                    .with_custom_certificate_verifier(Arc::new(AnyChain(provider.clone())))
                    .with_no_client_auth()
            });
        let config = match config {
            Ok(c) => c,
            // The aws-lc-rs provider supports the default versions; this cannot fail.
            Err(e) => unreachable!("TLS client configuration: {e}"),
        };
        Trust {
            roots: Arc::new(roots),
            provider,
            any_chain: TlsConnector::from(Arc::new(config)),
        }
    }

    pub(crate) fn connector(&self) -> &TlsConnector {
        &self.any_chain
    }

    /// A client configuration that verifies the server against the trusted authorities, for
    /// fetching MTA-STS policies over HTTPS.
    pub(crate) fn verifying_config(&self) -> Result<Arc<ClientConfig>, String> {
        let verifier =
            WebPkiServerVerifier::builder_with_provider(self.roots.clone(), self.provider.clone())
                .build()
                .map_err(|e| format!("no certificate authorities to verify with: {e}"))?;
        let config = ClientConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_webpki_verifier(verifier)
            .with_no_client_auth();
        Ok(Arc::new(config))
    }

    /// The chain is valid today, leads to a trusted authority and names `host`.
    pub(crate) fn check_pkix(
        &self,
        chain: &[CertificateDer<'_>],
        host: &str,
    ) -> Result<(), Refusal> {
        self.check_against(self.roots.clone(), chain, host)
    }

    /// The chain leads to its own certificate `anchor` (a DANE-TA match) and names `host`.
    pub(crate) fn check_with_anchor(
        &self,
        chain: &[CertificateDer<'_>],
        anchor: usize,
        host: &str,
    ) -> Result<(), Refusal> {
        let mut roots = RootCertStore::empty();
        let Some(ta) = chain.get(anchor) else {
            return Err((
                "validation-failure",
                "the trust anchor is not in the chain".into(),
            ));
        };
        roots.add(ta.clone()).map_err(|e| {
            (
                "validation-failure",
                format!("the DANE trust anchor is unusable: {e}"),
            )
        })?;
        self.check_against(Arc::new(roots), &chain[..anchor], host)
    }

    fn check_against(
        &self,
        roots: Arc<RootCertStore>,
        chain: &[CertificateDer<'_>],
        host: &str,
    ) -> Result<(), Refusal> {
        let Some((end_entity, intermediates)) = chain.split_first() else {
            return Err((
                "certificate-not-trusted",
                "the server presented no certificate".into(),
            ));
        };
        let name = ServerName::try_from(host.to_string()).map_err(|_| {
            (
                "certificate-host-mismatch",
                format!("'{host}' is not a host name"),
            )
        })?;
        let verifier = WebPkiServerVerifier::builder_with_provider(roots, self.provider.clone())
            .build()
            .map_err(|e| {
                (
                    "certificate-not-trusted",
                    format!("no authorities to verify with: {e}"),
                )
            })?;
        verifier
            .verify_server_cert(end_entity, intermediates, &name, &[], UnixTime::now())
            .map(|_| ())
            .map_err(|e| (result_type(&e), e.to_string()))
    }
}

/// The RFC 8460 result type of a verification error.
fn result_type(e: &rustls::Error) -> &'static str {
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                "certificate-expired"
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                "certificate-host-mismatch"
            }
            CertificateError::UnknownIssuer => "certificate-not-trusted",
            _ => "validation-failure",
        },
        _ => "validation-failure",
    }
}

/// Takes any chain (judged later, see the top of this file) and verifies the handshake's
/// signatures with the provider's algorithms, so that a server must hold the private key of
/// the certificate it presents: without that, a DANE or PKIX judgment of a replayed public
/// certificate would prove nothing.
#[derive(Debug)]
struct AnyChain(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyChain {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
