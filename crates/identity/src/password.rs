//! Password hashing with argon2id at the OWASP-recommended defaults (19 MiB, 2 passes), and the
//! one-time passwords handed to a new administrator. The salt comes from the injected `Rng`.

use crate::IdentityError;
use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use carepost_types::Rng;

pub fn hash_password(rng: &dyn Rng, password: &str) -> Result<String, IdentityError> {
    let salt = rng.bytes(16);
    Argon2::default()
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| IdentityError::Invalid(format!("cannot hash password: {e}")))
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), hash)
        .is_ok()
}

/// A one-time password: 20 characters from an alphabet without look-alikes, in groups of
/// five (about 100 bits).
pub(crate) fn one_time_password(rng: &dyn Rng) -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut out = String::new();
    for (i, b) in rng.bytes(20).iter().enumerate() {
        if i > 0 && i % 5 == 0 {
            out.push('-');
        }
        // 256 is not a multiple of 55: the bias is under 1/4 of a bit per character.
        out.push(char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use carepost_types::SeededRng;

    #[test]
    fn a_hash_verifies_only_its_password() {
        let rng = SeededRng::new(7);
        let h = hash_password(&rng, "correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong horse", &h));
    }

    #[test]
    fn one_time_passwords_are_grouped_and_differ() {
        let rng = SeededRng::new(1);
        let a = one_time_password(&rng);
        let b = one_time_password(&rng);
        assert_eq!(a.len(), 23);
        assert_eq!(a.matches('-').count(), 3);
        assert_ne!(a, b);
    }
}
