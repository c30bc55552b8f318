//! The hash chain. An event's hash is SHA-256 over a length-prefixed encoding of every stored
//! field and the previous event's hash, so no field can be changed, and no event removed,
//! inserted or reordered, without breaking the chain from that event on.
//!
//! The chain itself is unkeyed, so anyone can verify it. Its head (last number and hash) is
//! also sealed with an HMAC under a key derived from the installation's master key, so that
//! someone with write access to the database but not to the configuration cannot cut events
//! off the end, or rewrite the chain from some event on, without `verify` noticing.

use crate::Event;
use carepost_types::AuditSeq;
use hmac::{KeyInit, Mac};
use sha2::{Digest, Sha256};
use std::fmt;

/// The `prev_hash` of the first event.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

const DOMAIN_TAG: &[u8] = b"carepost-audit-v1";

/// The hash an event must carry, computed from its other fields.
pub fn event_hash(e: &Event) -> String {
    let mut h = Sha256::new();
    let mut field = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_be_bytes());
        h.update(bytes);
    };
    field(DOMAIN_TAG);
    field(&e.seq.0.to_be_bytes());
    field(&e.at.0.to_be_bytes());
    field(e.actor.as_bytes());
    // Optional fields carry a presence byte, so that "absent" never hashes like a value.
    match e.actor_id {
        Some(id) => field(&[&[1u8][..], &id.0.to_be_bytes()].concat()),
        None => field(&[0u8]),
    }
    field(e.action.as_bytes());
    field(e.target.as_bytes());
    match &e.source {
        Some(s) => field(&[&[1u8][..], s.as_bytes()].concat()),
        None => field(&[0u8]),
    }
    field(e.outcome.as_bytes());
    field(e.details.as_bytes());
    field(e.prev_hash.as_bytes());
    hex::encode(h.finalize())
}

type HmacSha256 = hmac::Hmac<Sha256>;

/// The key that seals the chain head, derived from the installation's master key so that the
/// master key itself never touches the audit trail.
pub fn seal_key(master_key: &[u8; 32]) -> [u8; 32] {
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(master_key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(b"carepost audit head seal v1");
    mac.finalize().into_bytes().into()
}

/// The seal of a chain head: HMAC-SHA256 over its sequence number and hash.
pub fn head_seal(key: &[u8; 32], seq: AuditSeq, hash: &str) -> String {
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(DOMAIN_TAG);
    mac.update(&seq.0.to_be_bytes());
    mac.update(hash.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Where and how the chain is broken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainBreak {
    pub seq: AuditSeq,
    pub reason: String,
}

impl fmt::Display for ChainBreak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "audit chain broken at event {}: {}",
            self.seq, self.reason
        )
    }
}

/// The end of the chain as the store records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub seq: AuditSeq,
    pub hash: String,
    /// `head_seal` of the two; empty for the genesis head.
    pub seal: String,
}

impl Head {
    pub fn genesis() -> Head {
        Head {
            seq: AuditSeq(0),
            hash: GENESIS_HASH.to_string(),
            seal: String::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub events: u64,
    pub head_hash: String,
}

/// Checks events fed in sequence order, in constant memory.
#[derive(Debug)]
pub struct Verifier {
    expected_seq: i64,
    prev_hash: String,
    events: u64,
}

impl Default for Verifier {
    fn default() -> Self {
        Verifier {
            expected_seq: 1,
            prev_hash: GENESIS_HASH.to_string(),
            events: 0,
        }
    }
}

impl Verifier {
    /// Checks the next event; the first problem is returned and verification should stop.
    pub fn feed(&mut self, e: &Event) -> Result<(), ChainBreak> {
        let at = |reason: String| ChainBreak { seq: e.seq, reason };
        if e.seq.0 < self.expected_seq {
            return Err(at(format!(
                "inserted: expected event #{} next",
                self.expected_seq
            )));
        }
        if e.seq.0 > self.expected_seq {
            return Err(ChainBreak {
                seq: AuditSeq(self.expected_seq),
                reason: format!("removed: the next stored event is #{}", e.seq.0),
            });
        }
        if e.prev_hash != self.prev_hash {
            return Err(at(
                "inserted or reordered: it does not follow the event before it".to_string(),
            ));
        }
        if event_hash(e) != e.hash {
            return Err(at(
                "altered: its content no longer matches its hash".to_string()
            ));
        }
        self.expected_seq += 1;
        self.prev_hash = e.hash.clone();
        self.events += 1;
        Ok(())
    }

    /// Compares the end of the walk with the chain head the store recorded, and the head with
    /// its seal.
    pub fn finish(self, head: &Head, key: &[u8; 32]) -> Result<VerifyReport, ChainBreak> {
        let (head_seq, head_hash) = (head.seq, head.hash.as_str());
        let last = self.expected_seq - 1;
        let genesis = head_seq.0 == 0 && head.seal.is_empty();
        if !genesis && head.seal != head_seal(key, head_seq, head_hash) {
            return Err(ChainBreak {
                seq: AuditSeq(head_seq.0.min(last) + 1),
                reason: format!(
                    "the seal of the chain head (#{}) does not match: the end of the chain was rewritten by someone without the key",
                    head_seq.0
                ),
            });
        }
        if head_seq.0 > last {
            return Err(ChainBreak {
                seq: AuditSeq(last + 1),
                reason: format!(
                    "removed: the chain head says events run to #{}, the last stored is #{last}",
                    head_seq.0
                ),
            });
        }
        if head_seq.0 < last {
            return Err(ChainBreak {
                seq: AuditSeq(head_seq.0 + 1),
                reason: "inserted: stored after the recorded end of the chain".to_string(),
            });
        }
        if last > 0 && head_hash != self.prev_hash {
            return Err(ChainBreak {
                seq: AuditSeq(last),
                reason: "altered: the chain head records a different hash for it".to_string(),
            });
        }
        Ok(VerifyReport {
            events: self.events,
            head_hash: self.prev_hash,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Actor, NewEvent, action};
    use carepost_types::UnixMillis;

    fn chain(n: i64) -> Vec<Event> {
        let actor = Actor::LocalCli {
            os_user: "root".into(),
        };
        let mut prev = GENESIS_HASH.to_string();
        (1..=n)
            .map(|i| {
                let new = NewEvent::success(
                    UnixMillis(i * 1000),
                    &actor,
                    action::ACCOUNT_CREATE,
                    format!("account:user{i}@kaiser.org"),
                );
                let e = Event::seal(&new, AuditSeq(i), &prev);
                prev = e.hash.clone();
                e
            })
            .collect()
    }

    const KEY: [u8; 32] = [7; 32];

    fn verify(events: &[Event], head: (i64, &str)) -> Result<VerifyReport, ChainBreak> {
        let mut v = Verifier::default();
        for e in events {
            v.feed(e)?;
        }
        let head = Head {
            seq: AuditSeq(head.0),
            hash: head.1.to_string(),
            seal: head_seal(&KEY, AuditSeq(head.0), head.1),
        };
        v.finish(&head, &KEY)
    }

    #[test]
    fn a_head_rewritten_without_the_key_is_found() {
        let c = chain(5);
        let mut v = Verifier::default();
        for e in &c[..3] {
            v.feed(e).unwrap();
        }
        // The end cut off and the head moved back, but sealed with a guessed key.
        let head = Head {
            seq: AuditSeq(3),
            hash: c[2].hash.clone(),
            seal: head_seal(&[0; 32], AuditSeq(3), &c[2].hash),
        };
        let b = v.finish(&head, &KEY).unwrap_err();
        assert!(b.reason.contains("seal"), "{b}");
    }

    #[test]
    fn an_absent_optional_field_does_not_hash_like_a_value() {
        let mut c = chain(1);
        let before = event_hash(&c[0]);
        c[0].source = Some(String::new());
        assert_ne!(event_hash(&c[0]), before);
    }

    #[test]
    fn an_intact_chain_verifies() {
        let c = chain(5);
        let r = verify(&c, (5, &c[4].hash)).unwrap();
        assert_eq!(r.events, 5);
        let empty = Verifier::default().finish(&Head::genesis(), &KEY);
        assert_eq!(empty.unwrap().events, 0);
    }

    #[test]
    fn an_altered_field_is_found_at_its_event() {
        let mut c = chain(5);
        c[2].target = "account:someone.else@kaiser.org".into();
        let head = c[4].hash.clone();
        let b = verify(&c, (5, &head)).unwrap_err();
        assert_eq!(b.seq, AuditSeq(3));
        assert!(b.reason.starts_with("altered"), "{b}");
    }

    #[test]
    fn an_altered_and_rehashed_event_is_found_by_its_successor() {
        let mut c = chain(5);
        c[2].outcome = "failure".into();
        c[2].hash = event_hash(&c[2]);
        let head = c[4].hash.clone();
        let b = verify(&c, (5, &head)).unwrap_err();
        assert_eq!(b.seq, AuditSeq(4));
    }

    #[test]
    fn a_removed_event_is_named() {
        let mut c = chain(5);
        c.remove(1);
        let head = c[3].hash.clone();
        let b = verify(&c, (5, &head)).unwrap_err();
        assert_eq!(b.seq, AuditSeq(2));
        assert!(b.reason.starts_with("removed"), "{b}");
    }

    #[test]
    fn a_removed_tail_is_found_through_the_head() {
        let c = chain(5);
        let b = verify(&c[..3], (5, &c[4].hash)).unwrap_err();
        assert_eq!(b.seq, AuditSeq(4));
    }

    #[test]
    fn an_inserted_event_is_found() {
        let mut c = chain(3);
        let forged = c[1].clone();
        c.insert(2, forged);
        let head = c[3].hash.clone();
        let b = verify(&c, (3, &head)).unwrap_err();
        assert_eq!(b.seq, AuditSeq(2));
        assert!(b.reason.starts_with("inserted"), "{b}");
    }
}
