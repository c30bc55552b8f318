//! Password hashing with argon2id. Verification runs on the blocking pool under a semaphore,
//! so a flood of sign-ins queues instead of exhausting memory or starving the async runtime.
//! Hashes made with other parameters still verify and are reported for re-hashing. The salt
//! comes from the injected `Rng`.
//!
//! Each running hash needs `argon2_memory_kib` of working memory. The argon2 crate allocates
//! and frees it on every call, with the block type's 64-byte alignment; glibc serves such
//! large aligned requests in a way that leaves the freed memory unusable for the next one, so a
//! busy server's memory grew by the full amount on every sign-in (measured: +19 MiB per
//! verification). Here each permit of the semaphore owns one buffer, allocated once and reused
//! through `hash_password_into_with_memory`, so memory stays at permits x memory cost.

use crate::IdentityError;
use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, PasswordHasher, PasswordVerifier, Version};
use carepost_config::PasswordPolicy;
use carepost_types::Rng;
use std::sync::{Arc, Mutex};
use tokio::sync::Semaphore;

/// How long a sign-in may wait for a hashing slot before it is answered as busy.
const QUEUE_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Hashes and verifies passwords with the configured parameters, a bounded number at a time.
#[derive(Debug, Clone)]
pub struct Hasher {
    params: Params,
    permits: Arc<Semaphore>,
    /// Working memory, one buffer per permit, reused.
    buffers: Arc<Mutex<Vec<Vec<Block>>>>,
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

/// argon2id of `password` with `salt` and `params` into `out`, in `memory`.
fn compute(
    algorithm: Algorithm,
    version: Version,
    params: &Params,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
    memory: &mut Vec<Block>,
) -> Result<(), argon2::Error> {
    let needed = params.block_count();
    if memory.len() < needed {
        memory.resize(needed, Block::default());
    }
    Argon2::new(algorithm, version, params.clone()).hash_password_into_with_memory(
        password,
        salt,
        out,
        &mut memory[..needed],
    )
}

/// A PHC string for a fresh hash.
fn hash_in(
    params: &Params,
    password: &[u8],
    salt: &[u8],
    memory: &mut Vec<Block>,
) -> Result<String, IdentityError> {
    let bad = |e: String| IdentityError::Invalid(format!("cannot hash password: {e}"));
    let salt = Salt::new(salt).map_err(|e| bad(e.to_string()))?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    compute(
        Algorithm::Argon2id,
        Version::V0x13,
        params,
        password,
        &salt,
        &mut out,
        memory,
    )
    .map_err(|e| bad(e.to_string()))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).map_err(|e| bad(e.to_string()))?,
        salt: Some(salt),
        hash: Some(Output::new(&out).map_err(|e| bad(e.to_string()))?),
    };
    Ok(phc.to_string())
}

/// Checks `password` against a PHC string of any argon2 variant; compares in constant time.
fn verify_in(expected: &Params, password: &[u8], hash: &str, memory: &mut Vec<Block>) -> Verified {
    let no = Verified {
        ok: false,
        needs_rehash: false,
    };
    let Ok(parsed) = PasswordHash::new(hash) else {
        return no;
    };
    let (Ok(algorithm), Ok(params), Some(salt), Some(want)) = (
        Algorithm::try_from(parsed.algorithm.as_str()),
        Params::try_from(&parsed),
        parsed.salt.as_ref(),
        parsed.hash.as_ref(),
    ) else {
        return no;
    };
    let version = parsed
        .version
        .and_then(|v| Version::try_from(v).ok())
        .unwrap_or(Version::V0x13);
    let mut out = vec![0u8; want.len()];
    if compute(
        algorithm, version, &params, password, salt, &mut out, memory,
    )
    .is_err()
    {
        return no;
    }
    let ok = Output::new(&out).is_ok_and(|got| got == *want);
    let needs_rehash = algorithm != Algorithm::Argon2id
        || version != Version::V0x13
        || params.m_cost() != expected.m_cost()
        || params.t_cost() != expected.t_cost()
        || params.p_cost() != expected.p_cost();
    Verified { ok, needs_rehash }
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
        let mut memory = Vec::new();
        let dummy = hash_in(&params, &rng.bytes(24), &rng.bytes(16), &mut memory)?;
        Ok(Hasher {
            params,
            permits: Arc::new(Semaphore::new(permits)),
            buffers: Arc::new(Mutex::new(vec![memory])),
            dummy: dummy.into(),
        })
    }

    /// Runs `f` on the blocking pool with a permit and a working buffer.
    async fn with_memory<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Params, &mut Vec<Block>) -> T + Send + 'static,
    ) -> Result<T, IdentityError> {
        // A bounded wait: past it, the attempt is answered as busy instead of queueing forever.
        let permit = tokio::time::timeout(QUEUE_WAIT, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| IdentityError::Busy)?
            .map_err(|_| closed())?;
        let buffers = self.buffers.clone();
        let params = self.params.clone();
        tokio::task::spawn_blocking(move || {
            // The permit lives as long as the hash runs, even if the caller went away.
            let _permit = permit;
            let mut memory = buffers
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .pop()
                .unwrap_or_default();
            let result = f(&params, &mut memory);
            buffers
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(memory);
            result
        })
        .await
        .map_err(|_| closed())
    }

    pub async fn hash(&self, rng: &dyn Rng, password: &str) -> Result<String, IdentityError> {
        let salt = rng.bytes(16);
        let password = super::normalize(password).into_bytes();
        self.with_memory(move |params, memory| hash_in(params, &password, &salt, memory))
            .await?
    }

    /// Checks `password` against `hash`; a malformed hash is simply a mismatch.
    pub async fn verify(&self, password: &str, hash: &str) -> Result<Verified, IdentityError> {
        let (password, hash) = (super::normalize(password).into_bytes(), hash.to_string());
        self.with_memory(move |params, memory| verify_in(params, &password, &hash, memory))
            .await
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
