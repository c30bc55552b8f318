//! DANE for SMTP (RFC 7672): whether the certificate chain an MX host presents matches the
//! TLSA records published, with DNSSEC, at `_25._tcp.HOST`. Only the two usages RFC 7672
//! section 3.1 allows for SMTP count: DANE-EE (3), a match on the server's own certificate,
//! with no name or expiry check; and DANE-TA (2), a match on an issuing certificate of the
//! chain, after which the caller checks the chain up to it and the name (section 3.2). PKIX
//! usages (0 and 1) are unusable here (section 3.1.3), as are unknown selectors and hashes.
//! Sans-IO: the DNS answer and the handshake's chain come in, a decision goes out.

use sha2::Digest;

/// One TLSA record (RFC 6698 section 2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tlsa {
    pub usage: u8,
    pub selector: u8,
    pub matching: u8,
    pub data: Vec<u8>,
}

impl Tlsa {
    /// DANE-EE or DANE-TA, a known selector and a known matching type.
    pub fn usable(&self) -> bool {
        matches!(self.usage, 2 | 3) && self.selector <= 1 && self.matching <= 2
    }

    /// `3 1 1 abcd...` as a report or a log shows it.
    pub fn presentation(&self) -> String {
        format!(
            "{} {} {} {}",
            self.usage,
            self.selector,
            self.matching,
            hex::encode(&self.data)
        )
    }

    fn matches(&self, cert_der: &[u8]) -> bool {
        let selected = match self.selector {
            0 => cert_der.to_vec(),
            _ => match x509_parser::parse_x509_certificate(cert_der) {
                Ok((_, c)) => c.tbs_certificate.subject_pki.raw.to_vec(),
                Err(_) => return false,
            },
        };
        let digest = match self.matching {
            0 => selected,
            1 => sha2::Sha256::digest(&selected).to_vec(),
            _ => sha2::Sha512::digest(&selected).to_vec(),
        };
        // Constant time is not needed: the records and the certificates are both public.
        digest == self.data
    }
}

/// What a chain proves against a TLSA set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DaneMatch {
    /// A DANE-EE record matches the server's certificate: authenticated, nothing else to check.
    EndEntity,
    /// A DANE-TA record matches this certificate of the chain (index into it, 1 or more):
    /// the caller must check that the chain leads there and that the name is the MX host's.
    TrustAnchor(usize),
}

/// Matches `chain` (the server's certificate first, as TLS presents it) against `records`.
/// `Err` says why nothing matched; a set without usable records is the caller's case (RFC 7672
/// section 2.2: encrypt, without authentication).
pub fn check_chain(records: &[Tlsa], chain: &[Vec<u8>]) -> Result<DaneMatch, String> {
    let usable: Vec<&Tlsa> = records.iter().filter(|r| r.usable()).collect();
    let Some(end_entity) = chain.first() else {
        return Err("the server presented no certificate".into());
    };
    if usable.iter().any(|r| r.usage == 3 && r.matches(end_entity)) {
        return Ok(DaneMatch::EndEntity);
    }
    for (i, cert) in chain.iter().enumerate().skip(1) {
        if usable.iter().any(|r| r.usage == 2 && r.matches(cert)) {
            return Ok(DaneMatch::TrustAnchor(i));
        }
    }
    Err(format!(
        "no TLSA record matches the certificate chain ({} usable records)",
        usable.len()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert() -> Vec<u8> {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec!["mx.example".to_string()]).unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    fn spki_sha256(der: &[u8]) -> Vec<u8> {
        let (_, c) = x509_parser::parse_x509_certificate(der).unwrap();
        sha2::Sha256::digest(c.tbs_certificate.subject_pki.raw).to_vec()
    }

    #[test]
    fn dane_ee_matches_the_server_certificate_by_key_or_whole() {
        let c = cert();
        let by_key = Tlsa {
            usage: 3,
            selector: 1,
            matching: 1,
            data: spki_sha256(&c),
        };
        assert_eq!(
            check_chain(&[by_key], std::slice::from_ref(&c)),
            Ok(DaneMatch::EndEntity)
        );
        let whole = Tlsa {
            usage: 3,
            selector: 0,
            matching: 2,
            data: sha2::Sha512::digest(&c).to_vec(),
        };
        assert_eq!(
            check_chain(&[whole], std::slice::from_ref(&c)),
            Ok(DaneMatch::EndEntity)
        );
        let exact = Tlsa {
            usage: 3,
            selector: 0,
            matching: 0,
            data: c.clone(),
        };
        assert_eq!(check_chain(&[exact], &[c]), Ok(DaneMatch::EndEntity));
    }

    #[test]
    fn another_key_a_pkix_usage_or_a_ta_on_the_leaf_does_not_match() {
        let (c, other) = (cert(), cert());
        let wrong = Tlsa {
            usage: 3,
            selector: 1,
            matching: 1,
            data: spki_sha256(&other),
        };
        assert!(check_chain(&[wrong], std::slice::from_ref(&c)).is_err());
        // PKIX-EE (1) is unusable for SMTP even when it would match.
        let pkix = Tlsa {
            usage: 1,
            selector: 1,
            matching: 1,
            data: spki_sha256(&c),
        };
        assert!(!pkix.usable());
        assert!(check_chain(&[pkix], std::slice::from_ref(&c)).is_err());
        // A trust anchor is an issuer: the server's own certificate is not one.
        let ta = Tlsa {
            usage: 2,
            selector: 1,
            matching: 1,
            data: spki_sha256(&c),
        };
        assert!(check_chain(std::slice::from_ref(&ta), std::slice::from_ref(&c)).is_err());
        assert_eq!(
            check_chain(&[ta], &[other, c]),
            Ok(DaneMatch::TrustAnchor(1))
        );
        assert!(check_chain(&[], &[]).is_err());
    }
}
