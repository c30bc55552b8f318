//! Passwords: argon2id hashing with bounded concurrency, the policy a new password must meet,
//! and the bundled list of common and breached passwords.

mod common;
mod hashing;
mod policy;

use unicode_normalization::UnicodeNormalization;

/// A password as carepost hashes and checks it: Unicode NFC (RFC 8265's OpaqueString
/// preparation), so the same characters typed on two keyboards are the same password.
pub fn normalize(password: &str) -> String {
    password.nfc().collect()
}

pub use common::is_common_password;
pub(crate) use hashing::one_time_password;
pub use hashing::{Hasher, Verified, hash_password, verify_password};
pub use policy::{PasswordContext, PolicyViolation, check_new_password};
