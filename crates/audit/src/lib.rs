//! The audit trail's model: who did what to which target, from where, with what outcome; and
//! the hash chain that makes the trail tamper-evident. Each event holds the SHA-256 of its
//! predecessor, so altering, removing or inserting an event breaks the chain at that point and
//! `verify` names it.
//!
//! This crate owns the event shape and the hashing; it does not store anything (the `store`
//! crate appends events inside the transaction of the change they record).

mod chain;
mod event;

pub use chain::{
    ChainBreak, GENESIS_HASH, Head, Verifier, VerifyReport, event_hash, head_seal, seal_key,
};
pub use event::{Actor, Event, NewEvent, Outcome, action};
