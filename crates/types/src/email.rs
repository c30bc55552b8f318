//! Mail addresses as carepost assigns and stores them: a lower-case ASCII local part that is an
//! RFC 5321 dot-string of at most 64 octets (section 4.5.3.1.1), and a lower-case domain of at
//! most 255 octets with LDH labels (RFC 5321 section 4.1.2, RFC 1035 section 2.3.4).
//! Internationalised local parts (RFC 6531) are not assigned by carepost's policy and are
//! refused here; they can come later with SMTPUTF8 delivery.

use serde::{Deserialize, Serialize};
use std::fmt;

/// RFC 5321 section 4.5.3.1.1.
pub const MAX_LOCAL_PART_LEN: usize = 64;
/// RFC 5321 section 4.5.3.1.2.
pub const MAX_DOMAIN_LEN: usize = 255;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("'{0}' is not an address: expected local-part@domain")]
    Shape(String),
    #[error("the local part '{0}' is empty or longer than 64 octets")]
    LocalLength(String),
    #[error(
        "the local part '{0}' may hold only letters, digits, and . - _ + (not at the start or end, no '..')"
    )]
    LocalChars(String),
    #[error("'{0}' is not a valid domain name")]
    Domain(String),
}

/// A validated, lower-case domain name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Domain(String);

impl Domain {
    pub fn parse(text: &str) -> Result<Domain, AddressError> {
        let d = text.trim().trim_end_matches('.').to_ascii_lowercase();
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        if d.is_empty()
            || d.len() > MAX_DOMAIN_LEN
            || !d.contains('.')
            || !d.split('.').all(label_ok)
        {
            return Err(AddressError::Domain(text.to_string()));
        }
        Ok(Domain(d))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Domain {
    type Error = AddressError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Domain::parse(&s)
    }
}

impl From<Domain> for String {
    fn from(d: Domain) -> String {
        d.0
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A validated, lower-case local part.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LocalPart(String);

impl LocalPart {
    pub fn parse(text: &str) -> Result<LocalPart, AddressError> {
        let l = text.trim().to_ascii_lowercase();
        if l.is_empty() || l.len() > MAX_LOCAL_PART_LEN {
            return Err(AddressError::LocalLength(text.to_string()));
        }
        let chars_ok = l
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'+'));
        if !chars_ok || l.starts_with('.') || l.ends_with('.') || l.contains("..") {
            return Err(AddressError::LocalChars(text.to_string()));
        }
        Ok(LocalPart(l))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for LocalPart {
    type Error = AddressError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        LocalPart::parse(&s)
    }
}

impl From<LocalPart> for String {
    fn from(l: LocalPart) -> String {
        l.0
    }
}

impl fmt::Display for LocalPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `local@domain`, both parts validated and lower-case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Address {
    local: LocalPart,
    domain: Domain,
}

impl Address {
    pub fn new(local: LocalPart, domain: Domain) -> Address {
        Address { local, domain }
    }

    pub fn parse(text: &str) -> Result<Address, AddressError> {
        let text = text.trim();
        let (local, domain) = text
            .rsplit_once('@')
            .ok_or_else(|| AddressError::Shape(text.to_string()))?;
        Ok(Address {
            local: LocalPart::parse(local)?,
            domain: Domain::parse(domain)?,
        })
    }

    pub fn local(&self) -> &LocalPart {
        &self.local
    }

    pub fn domain(&self) -> &Domain {
        &self.domain
    }
}

impl TryFrom<String> for Address {
    type Error = AddressError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Address::parse(&s)
    }
}

impl From<Address> for String {
    fn from(a: Address) -> String {
        a.to_string()
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.local, self.domain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_lower_cased() {
        let a = Address::parse(" John.Smith@Kaiser.ORG ").unwrap();
        assert_eq!(a.to_string(), "john.smith@kaiser.org");
        assert_eq!(a.local().as_str(), "john.smith");
    }

    #[test]
    fn malformed_addresses_are_refused_with_the_reason() {
        for (input, want) in [
            ("nobody", "not an address"),
            ("@kaiser.org", "empty or longer"),
            ("a..b@kaiser.org", "may hold only"),
            (".a@kaiser.org", "may hold only"),
            ("a b@kaiser.org", "may hold only"),
            ("a@localhost", "not a valid domain"),
            ("a@-x.org", "not a valid domain"),
        ] {
            let e = Address::parse(input).unwrap_err().to_string();
            assert!(e.contains(want), "{input}: {e}");
        }
    }

    #[test]
    fn rfc5321_local_part_limit_is_64_octets() {
        let ok = "a".repeat(64);
        let long = "a".repeat(65);
        assert!(LocalPart::parse(&ok).is_ok());
        assert!(matches!(
            LocalPart::parse(&long),
            Err(AddressError::LocalLength(_))
        ));
    }

    #[test]
    fn serde_goes_through_validation() {
        let a: Address = serde_json::from_str("\"X@Kaiser.org\"").unwrap();
        assert_eq!(a.to_string(), "x@kaiser.org");
        assert!(serde_json::from_str::<Address>("\"x\"").is_err());
    }
}
