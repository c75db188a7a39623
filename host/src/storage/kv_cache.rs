//! The cache of the plugin's key-value state, bounded in bytes.
//!
//! A CLOCK cache (second chance): a read marks its entry referenced, without a write
//! lock; an insert past the budget sweeps a hand over the entries, clearing the mark of
//! those read since its last pass and evicting the first unmarked one. So the working set
//! of the pre-send path stays, and a sweep over every contact (the daily run) cannot grow
//! the host without bound. A value is either a key's bytes or `None`, known absent.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The default budget: a few hundred thousand people's snapshots.
pub const DEFAULT_BUDGET: usize = 128 << 20;
/// What an entry costs beyond its key and value (slot, index entry, `Arc` header).
const ENTRY_OVERHEAD: usize = 96;

pub(crate) struct KvCache {
    index: HashMap<String, usize, foldhash::fast::RandomState>,
    slots: Vec<Slot>,
    free: Vec<usize>,
    hand: usize,
    bytes: usize,
    budget: usize,
}

struct Slot {
    key: String,
    value: Option<Arc<[u8]>>,
    referenced: AtomicBool,
    live: bool,
}

impl Slot {
    fn cost(&self) -> usize {
        cost(&self.key, self.value.as_deref())
    }
}

fn cost(key: &str, value: Option<&[u8]>) -> usize {
    key.len() + value.map_or(0, <[u8]>::len) + ENTRY_OVERHEAD
}

impl Default for KvCache {
    fn default() -> Self {
        KvCache::with_budget(DEFAULT_BUDGET)
    }
}

impl KvCache {
    pub(crate) fn with_budget(budget: usize) -> KvCache {
        KvCache {
            index: HashMap::default(),
            slots: Vec::new(),
            free: Vec::new(),
            hand: 0,
            bytes: 0,
            budget,
        }
    }

    /// The cached value of `key` (`Some(None)`: known absent), marking it as read.
    pub(crate) fn get(&self, key: &str) -> Option<&Option<Arc<[u8]>>> {
        let slot = &self.slots[*self.index.get(key)?];
        slot.referenced.store(true, Ordering::Relaxed);
        Some(&slot.value)
    }

    /// Caches `value` for `key` unless the key is cached already; returns the cached value
    /// (a commit that raced a read has put the newer one first).
    pub(crate) fn fill(&mut self, key: &str, value: Option<Arc<[u8]>>) -> Option<Arc<[u8]>> {
        if let Some(cached) = self.get(key) {
            return cached.clone();
        }
        self.insert(key.to_owned(), value.clone());
        value
    }

    /// Caches `value` for `key`, replacing what was cached.
    pub(crate) fn insert(&mut self, key: String, value: Option<Arc<[u8]>>) {
        if let Some(&at) = self.index.get(&key) {
            let slot = &mut self.slots[at];
            self.bytes = self.bytes - slot.cost() + cost(&key, value.as_deref());
            slot.value = value;
            slot.referenced.store(true, Ordering::Relaxed);
            self.evict_past_budget(Some(at));
            return;
        }
        let needed = cost(&key, value.as_deref());
        if needed > self.budget {
            // Larger than the whole cache: read from the database each time.
            return;
        }
        self.bytes += needed;
        self.evict_past_budget(None);
        let slot = Slot {
            key: key.clone(),
            value,
            referenced: AtomicBool::new(false),
            live: true,
        };
        let at = match self.free.pop() {
            Some(at) => {
                self.slots[at] = slot;
                at
            }
            None => {
                self.slots.push(slot);
                self.slots.len() - 1
            }
        };
        self.index.insert(key, at);
    }

    /// Evicts entries until the cache is within its budget, sparing `keep`.
    fn evict_past_budget(&mut self, keep: Option<usize>) {
        // Two passes of the hand clear every mark: past them, something is evicted.
        let mut steps = 2 * self.slots.len() + 1;
        while self.bytes > self.budget && steps > 0 && !self.slots.is_empty() {
            steps -= 1;
            let at = self.hand;
            self.hand = (self.hand + 1) % self.slots.len();
            let slot = &mut self.slots[at];
            if !slot.live || Some(at) == keep {
                continue;
            }
            if slot.referenced.swap(false, Ordering::Relaxed) {
                continue;
            }
            self.bytes -= slot.cost();
            slot.live = false;
            slot.value = None;
            let key = std::mem::take(&mut slot.key);
            self.index.remove(&key);
            self.free.push(at);
        }
    }

    /// Forgets everything (another process committed).
    pub(crate) fn clear(&mut self) {
        let budget = self.budget;
        *self = KvCache::with_budget(budget);
    }

    /// Bytes held, by the accounting of the budget.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.index.len()
    }

    /// Changes the budget, evicting what no longer fits.
    pub(crate) fn set_budget(&mut self, budget: usize) {
        self.budget = budget;
        self.evict_past_budget(None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(size: usize) -> Option<Arc<[u8]>> {
        Some(vec![7u8; size].into())
    }

    #[test]
    fn the_cache_stays_within_its_budget_and_answers_what_it_holds_right() {
        let mut cache = KvCache::with_budget(10 * (ENTRY_OVERHEAD + 100));
        for index in 0..1_000 {
            cache.insert(format!("p/{index:04}"), value(96));
            assert!(
                cache.bytes() <= 10 * (ENTRY_OVERHEAD + 100),
                "{}",
                cache.bytes()
            );
        }
        assert!(cache.len() <= 10 && cache.len() >= 9, "{}", cache.len());
        // What it holds is the latest value of its key.
        cache.insert("p/0999".into(), value(10));
        assert_eq!(
            cache.get("p/0999").unwrap().as_deref().map(<[u8]>::len),
            Some(10)
        );
        // A known absence is cached as such.
        cache.insert("absent".into(), None);
        assert_eq!(cache.get("absent"), Some(&None));
        assert!(cache.get("p/0000").is_none(), "evicted long ago");
    }

    #[test]
    fn entries_read_since_the_last_sweep_survive_it() {
        let mut cache = KvCache::with_budget(4 * (ENTRY_OVERHEAD + 8));
        for key in ["a", "b", "c", "d"] {
            cache.insert(key.into(), value(7));
        }
        // The working set is read again and again; a scan of other keys passes by.
        for index in 0..100 {
            assert!(cache.get("a").is_some(), "round {index}");
            cache.insert(format!("scan{index}"), value(4));
        }
        assert!(cache.get("a").is_some());
    }

    #[test]
    fn fill_keeps_a_newer_value_and_clear_keeps_the_budget() {
        let mut cache = KvCache::with_budget(1 << 20);
        cache.insert("k".into(), value(3));
        assert_eq!(cache.fill("k", value(5)).map(|v| v.len()), Some(3));
        assert_eq!(cache.fill("other", None), None);
        cache.clear();
        assert_eq!(cache.len(), 0);
        cache.set_budget(ENTRY_OVERHEAD + 10);
        cache.insert("x".into(), value(100));
        assert_eq!(cache.len(), 0, "larger than the whole cache");
    }
}
