//! Which master keys open the store. Every secret the store holds (TOTP seeds, sealed bodies,
//! keyed hashes, the audit seal, signing keys) is derived from one root key; the store keeps
//! that root wrapped (AES-256-GCM) under each master key allowed to open it. A node whose
//! `secrets.master_key` unwraps none of them refuses to start, instead of writing secrets and
//! audit seals that the other nodes cannot read (a false tamper alarm on the audit chain).
//!
//! Rotation adds a wrapping under a new master key; the old one keeps opening the store until
//! it is retired, so nodes can move to the new key one at a time. Rotation protects against a
//! leaked config file (once the old key is retired it opens nothing); the data stays encrypted
//! under the same root key, since re-encrypting every body would not undo a copy already taken.
//!
//! A new store gets a random root. A store made before key checks existed has no wrapping: its
//! root is the master key it was made with (so retiring that key does not stop a leaked copy
//! of it from reading such a store; the README says so). The first start records it, but
//! only after checking the audit chain's seal, so a node with another key cannot claim such a
//! store either.

use crate::IdentityError;
use crate::secrets::{derive_key, keyed_hash, open, seal};
use carepost_audit::{NewEvent, action, head_seal, seal_key};
use carepost_store::{AuditRepo, KeyRepo, MasterKeyRow, Store};
use carepost_types::{Clock, Rng};

/// Bound into each wrapping, so a sealed value made for something else cannot pose as one.
const WRAP_CONTEXT: &str = "carepost root key";

/// A short name for a master key, made from it by a keyed hash (it reveals nothing of the key).
pub fn fingerprint(master: &[u8; 32]) -> String {
    let key = derive_key(master, "master key fingerprint");
    keyed_hash(&key, "carepost")[..16].to_string()
}

fn wrap(master: &[u8; 32], rng: &dyn Rng, root: &[u8; 32]) -> Result<String, IdentityError> {
    seal(
        &derive_key(master, "root key wrapping"),
        rng,
        WRAP_CONTEXT,
        root,
    )
}

fn unwrap(master: &[u8; 32], wrapped: &str) -> Option<[u8; 32]> {
    let plain = open(
        &derive_key(master, "root key wrapping"),
        WRAP_CONTEXT,
        wrapped,
    )
    .ok()?;
    plain.try_into().ok()
}

/// The refusal when `master` opens no wrapping: one line, naming the setting.
fn wrong_key(master: &[u8; 32], known: &[String]) -> IdentityError {
    IdentityError::Invalid(format!(
        "secrets.master_key does not open this store (this config's key is {}, the store opens with {}): start with the config that made the store, or add this key with `carepost key rotate` on a node that has the right one",
        fingerprint(master),
        if known.is_empty() {
            "the key its audit chain was sealed with".to_string()
        } else {
            known.join(", ")
        }
    ))
}

/// The root key `master` opens in `store`, recording it on the first start. Errors when the
/// key is not one the store knows.
pub async fn open_root(
    store: &Store,
    master: &[u8; 32],
    clock: &dyn Clock,
    rng: &dyn Rng,
) -> Result<[u8; 32], IdentityError> {
    let mut read = store.read().await?;
    let keys = read.list_master_keys().await?;
    let head = read.audit_head().await?;
    drop(read);
    if let Some(root) = keys.iter().find_map(|k| unwrap(master, &k.wrapped_root)) {
        return Ok(root);
    }
    if !keys.is_empty() {
        let known: Vec<String> = keys.into_iter().map(|k| k.fingerprint).collect();
        return Err(wrong_key(master, &known));
    }
    // No wrapping yet: a new store, or one made before key checks. A new one (nothing on the
    // record, so nothing derived from any key yet) gets a random root, so that a retired
    // master key opens nothing at all. An older one's chain must be sealed under this key,
    // and this key stays its root (every secret in it was derived from it).
    let legacy = !head.seal.is_empty();
    if legacy && head_seal(&seal_key(master), head.seq, &head.hash) != head.seal {
        return Err(wrong_key(master, &[]));
    }
    let root = if legacy {
        *master
    } else {
        let mut fresh = [0u8; 32];
        rng.fill(&mut fresh);
        fresh
    };
    // The record is the first link of the chain: sealed under the root, as every later one.
    let mut tx = store.with_seal_key(seal_key(&root)).begin().await?;
    // Another node may have recorded its key meanwhile: the audit lock orders us.
    if !tx.list_master_keys().await?.is_empty() {
        drop(tx);
        return Box::pin(open_root(store, master, clock, rng)).await;
    }
    record(
        &mut tx,
        master,
        &root,
        clock,
        rng,
        &carepost_audit::Actor::System,
    )
    .await?;
    tx.commit().await?;
    Ok(root)
}

async fn record(
    tx: &mut carepost_store::Tx,
    master: &[u8; 32],
    root: &[u8; 32],
    clock: &dyn Clock,
    rng: &dyn Rng,
    who: &carepost_audit::Actor,
) -> Result<String, IdentityError> {
    let now = clock.now();
    let row = MasterKeyRow {
        fingerprint: fingerprint(master),
        wrapped_root: wrap(master, rng, root)?,
        added_at: now,
        added_by: who.to_string(),
    };
    tx.insert_master_key(&row).await?;
    let event = NewEvent::success(
        now,
        who,
        action::MASTER_KEY_ADD,
        format!("master-key:{}", row.fingerprint),
    );
    tx.append_audit(&event).await?;
    Ok(row.fingerprint)
}

/// Lets `new_master` open the store too; `root` is what the current key opened. Returns the
/// new key's fingerprint.
pub async fn add_master_key(
    store: &Store,
    root: &[u8; 32],
    new_master: &[u8; 32],
    clock: &dyn Clock,
    rng: &dyn Rng,
    who: &carepost_audit::Actor,
) -> Result<String, IdentityError> {
    let mut tx = store.begin().await?;
    let fp = fingerprint(new_master);
    if tx
        .list_master_keys()
        .await?
        .iter()
        .any(|k| k.fingerprint == fp)
    {
        return Err(IdentityError::Conflict(format!(
            "the key {fp} already opens this store"
        )));
    }
    record(&mut tx, new_master, root, clock, rng, who).await?;
    tx.commit().await?;
    Ok(fp)
}

/// The master keys that open the store.
pub async fn master_keys(store: &Store) -> Result<Vec<MasterKeyRow>, IdentityError> {
    Ok(store.read().await?.list_master_keys().await?)
}

/// Stops the key `fingerprint` opening the store. Refuses the key of the running config
/// (`current`): the command would lock itself out.
pub async fn retire_master_key(
    store: &Store,
    fingerprint: &str,
    current: &[u8; 32],
    clock: &dyn Clock,
    who: &carepost_audit::Actor,
) -> Result<(), IdentityError> {
    if fingerprint == self::fingerprint(current) {
        return Err(IdentityError::Conflict(
            "that is the key of this config: retire it from a config that holds the new key".into(),
        ));
    }
    let mut tx = store.begin().await?;
    if !tx.delete_master_key(fingerprint).await? {
        return Err(IdentityError::NotFound(format!(
            "no key {fingerprint} opens this store (`carepost key list` shows them)"
        )));
    }
    let event = NewEvent::success(
        clock.now(),
        who,
        action::MASTER_KEY_RETIRE,
        format!("master-key:{fingerprint}"),
    );
    tx.append_audit(&event).await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use carepost_types::SeededRng;

    #[test]
    fn a_wrapping_opens_only_with_its_key() {
        let rng = SeededRng::new(1);
        let (a, b, root) = ([1u8; 32], [2u8; 32], [9u8; 32]);
        let w = wrap(&a, &rng, &root).unwrap();
        assert_eq!(unwrap(&a, &w), Some(root));
        assert_eq!(unwrap(&b, &w), None);
        assert_ne!(fingerprint(&a), fingerprint(&b));
        assert_eq!(fingerprint(&a).len(), 16);
    }
}
