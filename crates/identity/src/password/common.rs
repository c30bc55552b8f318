//! The bundled list of 100,000 common and breached passwords (see
//! `scripts/make-common-passwords` for where it comes from), decompressed once into a hash set
//! on first use: a lookup is one hash of the lower-cased password.

use flate2::read::GzDecoder;
use std::collections::HashSet;
use std::io::Read;
use std::sync::OnceLock;

static LIST_GZ: &[u8] = include_bytes!("../../data/common-passwords.txt.gz");

fn list() -> &'static HashSet<String> {
    static LIST: OnceLock<HashSet<String>> = OnceLock::new();
    LIST.get_or_init(|| {
        let mut text = String::new();
        // The list is part of the binary and checked by a test; a failure here means a broken
        // build, and an empty list would silently weaken the policy.
        #[allow(clippy::expect_used)]
        GzDecoder::new(LIST_GZ)
            .read_to_string(&mut text)
            .expect("the bundled password list is valid gzip");
        text.lines().map(str::to_string).collect()
    })
}

/// Passwords carepost itself publishes as examples (the README's walk-through, the pages'
/// placeholders): a newcomer who copies one has a password every reader knows. A test checks
/// that every example password in the README is here.
const PUBLISHED_EXAMPLES: &[&str] = &[
    "a passphrase of your own 42",
    "one-time-password",
    "your password",
    "new-password",
];

/// Whether `password` is one carepost prints as an example (compared lower-cased, with runs of
/// white space made one, since a copy from a page may change either).
pub fn is_published_example(password: &str) -> bool {
    let folded = password
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    PUBLISHED_EXAMPLES.contains(&folded.as_str())
}

/// Whether `password` (compared lower-cased) is on the list.
pub fn is_common_password(password: &str) -> bool {
    list().contains(&password.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_holds_100000_real_passwords() {
        assert_eq!(list().len(), 100_000);
        for p in [
            "password",
            "12345678",
            "iloveyou",
            "Password1",
            "qwertyuiop",
            "trustno1",
        ] {
            assert!(is_common_password(p), "{p}");
        }
        assert!(!is_common_password("glacier-violin-tundra-57"));
    }

    /// Every password the README shows in an example request is refused.
    #[test]
    fn the_readmes_example_passwords_are_refused() {
        let readme = include_str!("../../../../README.md");
        let mut found = 0;
        for key in ["\"new\":\"", "\"password\":\"", "\"new_password\":\""] {
            for (i, _) in readme.match_indices(key) {
                let rest = &readme[i + key.len()..];
                let Some(end) = rest.find('"') else { continue };
                let example = &rest[..end];
                assert!(is_published_example(example), "{example:?} is not refused");
                found += 1;
            }
        }
        assert!(found >= 2, "the README's examples were not found");
        assert!(is_published_example("A passphrase  of your own 42"));
        assert!(!is_published_example("a passphrase of my own 42"));
    }
}
