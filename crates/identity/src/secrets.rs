//! Secrets derived from the installation's master key: per-purpose keys (HMAC-SHA256 with a
//! label), AES-256-GCM sealing for secrets that must be read back (TOTP seeds), and keyed hashes
//! for high-entropy secrets that need only be recognised (app passwords, recovery codes): a
//! stolen database alone does not let anyone test guesses against those.

use crate::IdentityError;
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use carepost_types::Rng;
use hmac::{KeyInit, Mac};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// A 32-byte key for one purpose, derived from the master key.
pub fn derive_key(master: &[u8; 32], purpose: &str) -> [u8; 32] {
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(master)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(b"carepost key v1: ");
    mac.update(purpose.as_bytes());
    mac.finalize().into_bytes().into()
}

/// HMAC-SHA256 of `secret` under `key`, in hex.
pub fn keyed_hash(key: &[u8; 32], secret: &str) -> String {
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(secret.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Whether `hex_mac` is `keyed_hash(key, secret)`, compared in constant time.
pub fn verify_keyed_hash(key: &[u8; 32], secret: &str, hex_mac: &str) -> bool {
    let Ok(mac_bytes) = hex::decode(hex_mac) else {
        return false;
    };
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(secret.as_bytes());
    mac.verify_slice(&mac_bytes).is_ok()
}

fn aead(key: &[u8; 32]) -> Result<LessSafeKey, IdentityError> {
    let unbound = UnboundKey::new(&AES_256_GCM, key)
        .map_err(|_| IdentityError::Invalid("cannot use the sealing key".into()))?;
    Ok(LessSafeKey::new(unbound))
}

/// Encrypts `plain` with a random nonce; `context` is bound to the result (an account id, so
/// a sealed seed cannot be moved to another account).
pub fn seal(
    key: &[u8; 32],
    rng: &dyn Rng,
    context: &str,
    plain: &[u8],
) -> Result<String, IdentityError> {
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill(&mut nonce);
    let mut buf = plain.to_vec();
    aead(key)?
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(context.as_bytes()),
            &mut buf,
        )
        .map_err(|_| IdentityError::Invalid("cannot seal a secret".into()))?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&buf);
    Ok(STANDARD.encode(out))
}

/// Decrypts what `seal` made under the same key and context.
pub fn open(key: &[u8; 32], context: &str, sealed: &str) -> Result<Vec<u8>, IdentityError> {
    let broken = || {
        IdentityError::Invalid(
            "a sealed secret does not open: wrong master key or altered data".into(),
        )
    };
    let bytes = STANDARD.decode(sealed).map_err(|_| broken())?;
    if bytes.len() < NONCE_LEN {
        return Err(broken());
    }
    let (nonce, ct) = bytes.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| broken())?;
    let mut buf = ct.to_vec();
    let plain = aead(key)?
        .open_in_place(nonce, Aad::from(context.as_bytes()), &mut buf)
        .map_err(|_| broken())?;
    Ok(plain.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use carepost_types::SeededRng;

    #[test]
    fn sealed_secrets_open_only_with_their_key_and_context() {
        let rng = SeededRng::new(3);
        let key = derive_key(&[1; 32], "totp");
        let sealed = seal(&key, &rng, "account:1", b"seed").unwrap();
        assert_eq!(open(&key, "account:1", &sealed).unwrap(), b"seed");
        assert!(open(&key, "account:2", &sealed).is_err());
        assert!(open(&derive_key(&[2; 32], "totp"), "account:1", &sealed).is_err());
        assert_ne!(derive_key(&[1; 32], "totp"), derive_key(&[1; 32], "app"));
    }
}
