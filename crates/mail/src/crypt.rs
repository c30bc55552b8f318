//! Message bodies at rest: named by a keyed hash of their plain text (so equal bodies are
//! stored once, yet nobody without the key can test whether a known message is in the store)
//! and sealed with AES-256-GCM under a key derived from the organization's master key, the
//! body's id bound in as associated data so a file cannot be swapped for another. Other
//! content kept at rest (the WebDAV file space) is sealed the same way under keys of its own
//! (`derive_for`).

use crate::MailError;
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use carepost_store::BlobId;
use carepost_types::Rng;
use hmac::{KeyInit, Mac};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// The two keys for bodies, derived from the master key.
#[derive(Clone)]
pub struct BodyKeys {
    id_key: [u8; 32],
    seal_key: [u8; 32],
}

// Keys stay out of debug output.
impl std::fmt::Debug for BodyKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BodyKeys(..)")
    }
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

impl BodyKeys {
    pub(crate) fn derive(master: &[u8; 32]) -> BodyKeys {
        BodyKeys::derive_for(master, "mail body")
    }

    /// The keys for one kind of content (`mail body`, `webdav file`): a different purpose
    /// gives unrelated keys.
    pub fn derive_for(master: &[u8; 32], purpose: &str) -> BodyKeys {
        BodyKeys {
            id_key: hmac(master, &[b"carepost key v1: ", purpose.as_bytes(), b" id"]),
            seal_key: hmac(
                master,
                &[b"carepost key v1: ", purpose.as_bytes(), b" seal"],
            ),
        }
    }

    /// The content's id: a keyed hash of the plain bytes.
    pub fn id_of(&self, plain: &[u8]) -> BlobId {
        let hex = hex::encode(hmac(&self.id_key, &[plain]));
        BlobId::parse(&hex).unwrap_or_else(|| unreachable!("64 lower-case hex digits"))
    }

    fn aead(&self) -> Result<LessSafeKey, MailError> {
        let unbound = UnboundKey::new(&AES_256_GCM, &self.seal_key)
            .map_err(|_| MailError::Invalid("cannot use the body key".into()))?;
        Ok(LessSafeKey::new(unbound))
    }

    /// nonce || ciphertext || tag.
    pub fn seal(&self, rng: &dyn Rng, id: &BlobId, plain: &[u8]) -> Result<Vec<u8>, MailError> {
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill(&mut nonce);
        let mut out = Vec::with_capacity(NONCE_LEN + plain.len() + AES_256_GCM.tag_len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plain);
        let tag = self
            .aead()?
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(id.as_str().as_bytes()),
                &mut out[NONCE_LEN..],
            )
            .map_err(|_| MailError::Invalid("cannot seal a message body".into()))?;
        out.extend_from_slice(tag.as_ref());
        Ok(out)
    }

    pub fn open(&self, id: &BlobId, mut sealed: Vec<u8>) -> Result<Vec<u8>, MailError> {
        if sealed.len() < NONCE_LEN + AES_256_GCM.tag_len() {
            return Err(MailError::Corrupt(id.to_string()));
        }
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&sealed[..NONCE_LEN]);
        let len = self
            .aead()?
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(id.as_str().as_bytes()),
                &mut sealed[NONCE_LEN..],
            )
            .map_err(|_| MailError::Corrupt(id.to_string()))?
            .len();
        sealed.drain(..NONCE_LEN);
        sealed.truncate(len);
        Ok(sealed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use carepost_types::SeededRng;

    #[test]
    fn bodies_round_trip_and_altered_ones_are_refused() {
        let keys = BodyKeys::derive(&[7; 32]);
        let id = keys.id_of(b"Subject: hi\r\n\r\nbody\r\n");
        let sealed = keys
            .seal(&SeededRng::new(1), &id, b"Subject: hi\r\n\r\nbody\r\n")
            .unwrap();
        assert!(
            !sealed.windows(4).any(|w| w == b"body"),
            "the file holds no plain text"
        );
        assert_eq!(
            keys.open(&id, sealed.clone()).unwrap(),
            b"Subject: hi\r\n\r\nbody\r\n"
        );
        let mut altered = sealed.clone();
        let last = altered.len() - 1;
        altered[last] ^= 1;
        assert!(keys.open(&id, altered).is_err());
        let other = keys.id_of(b"another");
        assert!(
            keys.open(&other, sealed).is_err(),
            "a body cannot be moved to another id"
        );
    }

    #[test]
    fn purposes_have_keys_of_their_own() {
        let mail = BodyKeys::derive(&[1; 32]);
        let files = BodyKeys::derive_for(&[1; 32], "webdav file");
        assert_eq!(
            mail.id_of(b"x"),
            BodyKeys::derive_for(&[1; 32], "mail body").id_of(b"x")
        );
        assert_ne!(mail.id_of(b"x"), files.id_of(b"x"));
        let id = files.id_of(b"x");
        let sealed = files.seal(&SeededRng::new(2), &id, b"x").unwrap();
        assert!(mail.open(&id, sealed.clone()).is_err());
        assert_eq!(files.open(&id, sealed).unwrap(), b"x");
    }

    #[test]
    fn ids_depend_on_the_key() {
        let a = BodyKeys::derive(&[1; 32]).id_of(b"x");
        let b = BodyKeys::derive(&[2; 32]).id_of(b"x");
        assert_ne!(a, b);
        assert_ne!(a, BlobId::of(b"x"), "not the plain SHA-256");
    }
}
