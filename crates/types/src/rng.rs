//! Randomness enters carepost only through `Rng`: `OsRng` in production, `SeededRng` in tests
//! that need repeatable secrets.

use std::fmt;
use std::sync::Mutex;

/// A source of random bytes suitable for secrets.
pub trait Rng: Send + Sync + fmt::Debug {
    fn fill(&self, buf: &mut [u8]);

    /// `n` random bytes.
    fn bytes(&self, n: usize) -> Vec<u8> {
        let mut v = vec![0u8; n];
        self.fill(&mut v);
        v
    }
}

/// The operating system's CSPRNG.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsRng;

impl Rng for OsRng {
    fn fill(&self, buf: &mut [u8]) {
        // The OS random source failing means the machine cannot make secrets at all; carrying
        // on with predictable bytes would be worse than stopping.
        #[allow(clippy::expect_used)]
        #[allow(clippy::disallowed_methods)]
        // The one place that reads the OS random source.
        getrandom::fill(buf).expect("the operating system's random source failed");
    }
}

/// A deterministic generator (splitmix64) for tests. Never for secrets.
#[derive(Debug)]
pub struct SeededRng(Mutex<u64>);

impl SeededRng {
    pub fn new(seed: u64) -> SeededRng {
        SeededRng(Mutex::new(seed))
    }
}

impl Rng for SeededRng {
    fn fill(&self, buf: &mut [u8]) {
        let mut state = self.0.lock().unwrap_or_else(|p| p.into_inner());
        for chunk in buf.chunks_mut(8) {
            *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = *state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            chunk.copy_from_slice(&z.to_le_bytes()[..chunk.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_rng_repeats_and_os_rng_differs() {
        assert_eq!(SeededRng::new(1).bytes(20), SeededRng::new(1).bytes(20));
        assert_ne!(SeededRng::new(1).bytes(20), SeededRng::new(2).bytes(20));
        assert_ne!(OsRng.bytes(32), OsRng.bytes(32));
    }
}
