//! Counting open connections by key (a source address, an account) against a limit, so that
//! one host or one account cannot take every slot of a listener. A slot is given back when
//! its guard is dropped.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

/// Open slots per key, each key capped at `max`.
#[derive(Debug)]
pub struct Counted<K: Eq + Hash + Clone> {
    max: usize,
    open: Mutex<HashMap<K, usize>>,
}

/// A taken slot; given back when dropped.
#[derive(Debug)]
pub struct Slot<K: Eq + Hash + Clone> {
    owner: Arc<Counted<K>>,
    key: K,
}

impl<K: Eq + Hash + Clone> Counted<K> {
    pub fn new(max: usize) -> Arc<Counted<K>> {
        Arc::new(Counted {
            max,
            open: Mutex::new(HashMap::new()),
        })
    }

    /// A slot for `key`, or `None` when it has `max` open.
    pub fn enter(self: &Arc<Self>, key: K) -> Option<Slot<K>> {
        let mut map = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let n = map.entry(key.clone()).or_default();
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(Slot {
            owner: self.clone(),
            key,
        })
    }
}

impl<K: Eq + Hash + Clone> Drop for Slot<K> {
    fn drop(&mut self) {
        let mut map = self.owner.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = map.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Counted;

    #[test]
    fn a_key_is_capped_and_slots_come_back() {
        let c = Counted::new(2);
        let a = c.enter("x").unwrap();
        let _b = c.enter("x").unwrap();
        assert!(c.enter("x").is_none());
        assert!(c.enter("y").is_some());
        drop(a);
        assert!(c.enter("x").is_some());
    }
}
