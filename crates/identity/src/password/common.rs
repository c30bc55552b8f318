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
}
