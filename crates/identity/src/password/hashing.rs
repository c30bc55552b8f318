//! Password hashing with argon2id. Verification runs on the blocking pool under a semaphore,
//! so a flood of sign-ins queues instead of exhausting memory (each hash holds
//! `argon2_memory_kib`) or starving the async runtime. Hashes made with other parameters still
//! verify and are reported for re-hashing. The salt comes from the injected `Rng`.

use crate::IdentityError;
use argon2::{Algorithm, Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version};
use carepost_config::PasswordPolicy;
use carepost_types::Rng;
use std::sync::Arc;
use tokio::sync::Semaphore;

/// Hashes and verifies passwords with the configured parameters, a bounded number at a time.
#[derive(Debug, Clone)]
pub struct Hasher {
    params: Params,
    permits: Arc<Semaphore>,
    /// A hash of nothing anyone knows, verified for unknown accounts so that they take as long
    /// as known ones.
    dummy: Arc<str>,
}

/// What a verification found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    pub ok: bool,
    /// The hash was made with other parameters than the configured ones.
    pub needs_rehash: bool,
}

impl Hasher {
    pub fn new(policy: &PasswordPolicy, rng: &dyn Rng) -> Result<Hasher, IdentityError> {
        let params = Params::new(
            policy.argon2_memory_kib,
            policy.argon2_iterations,
            policy.argon2_parallelism,
            None,
        )
        .map_err(|e| IdentityError::Invalid(format!("argon2 parameters: {e}")))?;
        let permits = match policy.max_concurrent_hashes {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        };
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
        let dummy = argon
            .hash_password_with_salt(&rng.bytes(24), &rng.bytes(16))
            .map_err(|e| IdentityError::Invalid(format!("cannot hash: {e}")))?
            .to_string();
        Ok(Hasher {
            params,
            permits: Arc::new(Semaphore::new(permits)),
            dummy: dummy.into(),
        })
    }

    fn argon(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    pub async fn hash(&self, rng: &dyn Rng, password: &str) -> Result<String, IdentityError> {
        let _permit = self.permits.acquire().await.map_err(|_| closed())?;
        let argon = self.argon();
        let salt = rng.bytes(16);
        let password = password.to_string();
        tokio::task::spawn_blocking(move || {
            argon
                .hash_password_with_salt(password.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| IdentityError::Invalid(format!("cannot hash password: {e}")))
        })
        .await
        .map_err(|_| closed())?
    }

    /// Checks `password` against `hash`; a malformed hash is simply a mismatch.
    pub async fn verify(&self, password: &str, hash: &str) -> Result<Verified, IdentityError> {
        let _permit = self.permits.acquire().await.map_err(|_| closed())?;
        let argon = self.argon();
        let expected = self.params.clone();
        let (password, hash) = (password.to_string(), hash.to_string());
        tokio::task::spawn_blocking(move || {
            let Ok(parsed) = PasswordHash::new(&hash) else {
                return Verified {
                    ok: false,
                    needs_rehash: false,
                };
            };
            let ok = argon.verify_password(password.as_bytes(), &parsed).is_ok();
            let current = Params::try_from(&parsed).ok();
            let needs_rehash = parsed.algorithm.as_str() != "argon2id"
                || current.is_none_or(|p| {
                    p.m_cost() != expected.m_cost()
                        || p.t_cost() != expected.t_cost()
                        || p.p_cost() != expected.p_cost()
                });
            Verified { ok, needs_rehash }
        })
        .await
        .map_err(|_| closed())
    }

    /// Spends the time of a verification without a real hash.
    pub async fn verify_nothing(&self, password: &str) -> Result<(), IdentityError> {
        let dummy = self.dummy.clone();
        self.verify(password, &dummy).await.map(|_| ())
    }
}

fn closed() -> IdentityError {
    IdentityError::Invalid("the password hasher is shutting down".into())
}

/// Hashes with the default parameters; for callers without a `Hasher` (the first admin).
pub fn hash_password(rng: &dyn Rng, password: &str) -> Result<String, IdentityError> {
    let salt = rng.bytes(16);
    Argon2::default()
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| IdentityError::Invalid(format!("cannot hash password: {e}")))
}

/// Checks a password against a hash of any argon2 variant and parameters.
pub fn verify_password(password: &str, hash: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), hash)
        .is_ok()
}

/// A one-time password: 20 characters from an alphabet without look-alikes, in groups of
/// five (about 115 bits).
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

    fn fast() -> PasswordPolicy {
        PasswordPolicy {
            argon2_memory_kib: 64,
            argon2_iterations: 1,
            ..PasswordPolicy::default()
        }
    }

    #[test]
    fn a_hash_verifies_only_its_password() {
        let rng = SeededRng::new(7);
        let h = hash_password(&rng, "correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong horse", &h));
    }

    #[tokio::test]
    async fn hashes_from_other_parameters_verify_and_ask_for_a_rehash() {
        let rng = SeededRng::new(1);
        let hasher = Hasher::new(&fast(), &rng).unwrap();
        let old = hash_password(&rng, "s3cret-passphrase").unwrap();
        let v = hasher.verify("s3cret-passphrase", &old).await.unwrap();
        assert_eq!(
            v,
            Verified {
                ok: true,
                needs_rehash: true
            }
        );
        let new = hasher.hash(&rng, "s3cret-passphrase").await.unwrap();
        let v = hasher.verify("s3cret-passphrase", &new).await.unwrap();
        assert_eq!(
            v,
            Verified {
                ok: true,
                needs_rehash: false
            }
        );
        let v = hasher.verify("wrong", &new).await.unwrap();
        assert!(!v.ok);
        assert!(!hasher.verify("x", "not a hash").await.unwrap().ok);
        hasher.verify_nothing("anything").await.unwrap();
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
