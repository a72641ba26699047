//! One exact ARC instance: the algorithm, with no locking of its own.
//!
//! This follows Megiddo and Modha's ARC (FAST 2003), generalised from pages to
//! bytes. T1 holds blocks seen once, T2 blocks seen at least twice; B1 and B2
//! remember the keys (and weights) of blocks recently evicted from T1 and T2.
//! The target `p` is how many bytes of the cache T1 should have: a hit in B1
//! says T1 was too small and raises it, a hit in B2 lowers it. With every
//! block weighing one byte, every rule below reduces to the paper's rule for
//! pages, with the ratios in the adaptation rounded down; `reference.rs`
//! checks this against a literal transcription of the paper, and this file's
//! slab-and-hash implementation against a plain one. (The paper's `p` is
//! real-valued; with blocks of many bytes, the byte resolution of `p` keeps
//! nearly all of the fraction that rounding to whole pages would lose.)
//!
//! The generalisation to bytes, with `w` the weight of the block at hand:
//!
//! * Ghost hit in B1: `p += w * max(1, |B2| / |B1|)` (bytes, integer
//!   arithmetic), capped at `c`. Ghost hit in B2: `p -= w * max(1, |B1| /
//!   |B2|)`, floored at 0. The block goes to the MRU end of T2.
//! * REPLACE evicts from T1 when T1 is not empty and `|T1| > p` (or `|T1| ==
//!   p` and the block was found in B2), otherwise from T2; it is repeated
//!   until the new block fits: `|T1| + |T2| + w <= c`.
//! * A block never seen before first trims the directory: while
//!   `|T1| + |B1| + w > c`, drop the LRU ghost of B1, or if B1 is empty, drop
//!   the LRU block of T1 without a ghost; then while the whole directory plus
//!   `w` exceeds `2c`, drop the LRU ghost of B2 (or B1). Then REPLACE as
//!   above and insert at the MRU end of T1.
//!
//! Two additions the paper does not need:
//!
//! * Pinned blocks: a resident block whose value is still held outside the
//!   cache (its `Arc` has another strong reference) is skipped by eviction,
//!   which takes the next block toward the MRU end, or the other list. When
//!   everything resident is pinned, the cache may exceed `c` until readers
//!   let go.
//! * Prefetched blocks enter T1 marked; their first demand access leaves them
//!   in T1 (moved to its MRU end) instead of promoting them to T2, because
//!   the prefetch was not a real access. This keeps a read-ahead scan in T1,
//!   where it cannot push the frequently used blocks out.

use std::sync::Arc;

use hashbrown::HashTable;

use crate::list::{ListId, Slab, NIL};

/// A block's entry: its key, its hash, and its value while resident.
pub(crate) struct Node<K, V> {
    pub(crate) key: K,
    hash: u64,
    /// `Some` on T1 and T2, `None` on the ghost lists.
    value: Option<Arc<V>>,
    /// Entered by a prefetch and not yet read by a demand access.
    prefetched: bool,
}

/// Why a block enters the cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum InsertKind {
    /// A demand read (after a miss) or a write of the block.
    Demand,
    /// A speculative read-ahead.
    Prefetch,
}

/// Event counters of one ARC instance.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Counters {
    pub(crate) hits: u64,
    pub(crate) misses: u64,
    pub(crate) mru_hits: u64,
    pub(crate) mfu_hits: u64,
    pub(crate) mru_ghost_hits: u64,
    pub(crate) mfu_ghost_hits: u64,
    pub(crate) evictions: u64,
    pub(crate) evicted_bytes: u64,
    pub(crate) evict_skipped_pinned: u64,
    pub(crate) prefetch_used: u64,
    pub(crate) prefetch_wasted: u64,
}

/// Sizes of the four lists, in bytes and entries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ListSizes {
    pub(crate) bytes: [u64; 4],
    pub(crate) entries: [u64; 4],
}

/// One ARC: lists, directory, target and counters.
pub(crate) struct ArcState<K, V> {
    slab: Slab<Node<K, V>>,
    table: HashTable<u32>,
    /// Cache size target in bytes.
    c: u64,
    /// Target size of T1 in bytes.
    p: u64,
    pub(crate) counters: Counters,
    /// Values evicted under the caller's lock, to be dropped after it.
    graveyard: Vec<Arc<V>>,
}

impl<K: Eq, V> ArcState<K, V> {
    /// An empty cache of `c` bytes.
    pub(crate) fn new(c: u64) -> Self {
        ArcState {
            slab: Slab::new(),
            table: HashTable::new(),
            c,
            p: 0,
            counters: Counters::default(),
            graveyard: Vec::new(),
        }
    }

    /// The size target `c`, in bytes.
    pub(crate) fn c(&self) -> u64 {
        self.c
    }

    /// The T1 target `p`, in bytes.
    pub(crate) fn p(&self) -> u64 {
        self.p
    }

    /// Bytes held by resident blocks (T1 + T2).
    pub(crate) fn size(&self) -> u64 {
        self.slab.bytes(ListId::T1) + self.slab.bytes(ListId::T2)
    }

    /// Bytes and entries of each list, in the order T1, T2, B1, B2.
    pub(crate) fn list_sizes(&self) -> ListSizes {
        let mut s = ListSizes::default();
        for l in [ListId::T1, ListId::T2, ListId::B1, ListId::B2] {
            s.bytes[l as usize] = self.slab.bytes(l);
            s.entries[l as usize] = self.slab.len(l) as u64;
        }
        s
    }

    /// Hands over the values evicted since the last call, so that the caller
    /// can drop them after releasing its lock.
    pub(crate) fn take_graveyard(&mut self) -> Vec<Arc<V>> {
        std::mem::take(&mut self.graveyard)
    }

    fn find(&self, hash: u64, key: &K) -> Option<u32> {
        let slab = &self.slab;
        self.table
            .find(hash, |&i| {
                let n = slab.item(i);
                n.hash == hash && n.key == *key
            })
            .copied()
    }

    /// Which list `key` is on, without counting or moving anything.
    pub(crate) fn residency(&self, hash: u64, key: &K) -> Option<ListId> {
        self.find(hash, key).map(|i| self.slab.list(i))
    }

    /// A demand read of `key`: on a hit, returns the value and promotes the
    /// block; on a miss, returns `None` (the caller loads the block and calls
    /// [`ArcState::insert`]). Counts the outcome when `count` is set.
    pub(crate) fn lookup(&mut self, hash: u64, key: &K, count: bool) -> Option<Arc<V>> {
        let Some(idx) = self.find(hash, key) else {
            if count {
                self.counters.misses += 1;
            }
            return None;
        };
        let list = self.slab.list(idx);
        match list {
            ListId::T1 | ListId::T2 => {
                if count {
                    self.counters.hits += 1;
                    if list == ListId::T1 {
                        self.counters.mru_hits += 1;
                    } else {
                        self.counters.mfu_hits += 1;
                    }
                }
                self.touch(idx);
                self.slab.item(idx).value.clone()
            }
            ListId::B1 | ListId::B2 => {
                if count {
                    self.counters.misses += 1;
                    if list == ListId::B1 {
                        self.counters.mru_ghost_hits += 1;
                    } else {
                        self.counters.mfu_ghost_hits += 1;
                    }
                }
                None
            }
        }
    }

    /// Records an access to resident block `idx`.
    fn touch(&mut self, idx: u32) {
        match self.slab.list(idx) {
            ListId::T1 if self.slab.item(idx).prefetched => {
                self.slab.item_mut(idx).prefetched = false;
                self.counters.prefetch_used += 1;
                self.slab.move_to_mru(idx, ListId::T1);
            }
            ListId::T1 | ListId::T2 => self.slab.move_to_mru(idx, ListId::T2),
            ListId::B1 | ListId::B2 => {}
        }
    }

    /// Puts `value` (charged `weight` bytes) in the cache under `key`,
    /// evicting as the algorithm says. Returns whether the value is now
    /// resident (a value larger than the whole cache is not kept).
    ///
    /// A demand insert of a resident key replaces its value and counts as an
    /// access; a prefetch of a resident key changes nothing.
    pub(crate) fn insert(
        &mut self,
        hash: u64,
        key: K,
        value: Arc<V>,
        weight: u64,
        kind: InsertKind,
    ) -> bool {
        if let Some(idx) = self.find(hash, &key) {
            let list = self.slab.list(idx);
            if list.is_resident() {
                if kind == InsertKind::Prefetch {
                    return true;
                }
                if weight > self.c {
                    self.drop_entry(idx);
                    return false;
                }
                if let Some(old) = self.slab.item_mut(idx).value.replace(value) {
                    self.graveyard.push(old);
                }
                self.slab.set_weight(idx, weight);
                self.touch(idx);
                self.make_room(0, false);
                self.trim_ghosts();
                return true;
            }
            if weight > self.c || kind == InsertKind::Prefetch {
                // A prefetch is no evidence about the lists' sizes: forget
                // the ghost and treat the block as new.
                self.drop_entry(idx);
            } else {
                self.adapt(list, weight);
                self.drop_entry(idx);
                self.make_room(weight, list == ListId::B2);
                self.push(ListId::T2, hash, key, value, weight, false);
                self.trim_ghosts();
                return true;
            }
        }
        if weight > self.c {
            return false;
        }
        self.trim_directory_for_new(weight);
        self.make_room(weight, false);
        self.push(
            ListId::T1,
            hash,
            key,
            value,
            weight,
            kind == InsertKind::Prefetch,
        );
        true
    }

    /// Forgets `key` (resident or ghost). Returns whether it was resident.
    pub(crate) fn remove(&mut self, hash: u64, key: &K) -> bool {
        match self.find(hash, key) {
            Some(idx) => {
                let resident = self.slab.list(idx).is_resident();
                self.drop_entry(idx);
                resident
            }
            None => false,
        }
    }

    /// Sets the size target to `c` bytes, evicting (unpinned blocks) down to
    /// it and trimming the ghost lists. Returns the bytes evicted.
    pub(crate) fn set_c(&mut self, c: u64) -> u64 {
        self.c = c;
        self.p = self.p.min(c);
        let before = self.counters.evicted_bytes;
        self.make_room(0, false);
        self.trim_ghosts();
        self.counters.evicted_bytes - before
    }

    /// Adapts `p` to a ghost hit in `list` by a block of `weight` bytes.
    fn adapt(&mut self, list: ListId, weight: u64) {
        let b1 = u128::from(self.slab.bytes(ListId::B1));
        let b2 = u128::from(self.slab.bytes(ListId::B2));
        let w = u128::from(weight);
        // Callers pass a ghost list that holds the block, so its size is > 0.
        let delta = |mine: u128, other: u128| -> u64 {
            let d = if mine >= other { w } else { w * other / mine };
            u64::try_from(d).unwrap_or(u64::MAX)
        };
        match list {
            ListId::B1 => self.p = self.p.saturating_add(delta(b1, b2)).min(self.c),
            ListId::B2 => self.p = self.p.saturating_sub(delta(b2, b1)),
            ListId::T1 | ListId::T2 => {}
        }
    }

    /// Case IV of the paper, before a new block of `weight` bytes enters:
    /// keep `|T1| + |B1| <= c` and the whole directory within `2c`.
    fn trim_directory_for_new(&mut self, weight: u64) {
        while self.slab.bytes(ListId::T1) + self.slab.bytes(ListId::B1) + weight > self.c {
            if self.slab.len(ListId::B1) > 0 {
                self.drop_lru(ListId::B1);
            } else if !self.evict_one(ListId::T1, false) {
                break;
            }
        }
        while self.directory_bytes() + weight > 2 * self.c {
            if self.slab.len(ListId::B2) > 0 {
                self.drop_lru(ListId::B2);
            } else if self.slab.len(ListId::B1) > 0 {
                self.drop_lru(ListId::B1);
            } else {
                break;
            }
        }
    }

    /// Keeps the ghost lists within their bounds after a change that may
    /// have broken them (a weight change or a smaller `c`).
    fn trim_ghosts(&mut self) {
        while self.slab.len(ListId::B1) > 0
            && self.slab.bytes(ListId::T1) + self.slab.bytes(ListId::B1) > self.c
        {
            self.drop_lru(ListId::B1);
        }
        while self.directory_bytes() > 2 * self.c {
            if self.slab.len(ListId::B2) > 0 {
                self.drop_lru(ListId::B2);
            } else if self.slab.len(ListId::B1) > 0 {
                self.drop_lru(ListId::B1);
            } else {
                break;
            }
        }
    }

    fn directory_bytes(&self) -> u64 {
        [ListId::T1, ListId::T2, ListId::B1, ListId::B2]
            .iter()
            .map(|&l| self.slab.bytes(l))
            .sum()
    }

    /// REPLACE, repeated until `weight` more bytes fit under `c` (or nothing
    /// more can be evicted).
    fn make_room(&mut self, weight: u64, found_in_b2: bool) {
        while self.size() + weight > self.c {
            if !self.replace(found_in_b2) {
                break;
            }
        }
    }

    /// The paper's REPLACE: move one block from T1 to B1 or from T2 to B2.
    fn replace(&mut self, found_in_b2: bool) -> bool {
        let t1 = self.slab.bytes(ListId::T1);
        let from_t1 = t1 > 0 && (t1 > self.p || (found_in_b2 && t1 == self.p));
        let (first, second) = if from_t1 {
            (ListId::T1, ListId::T2)
        } else {
            (ListId::T2, ListId::T1)
        };
        self.evict_one(first, true) || self.evict_one(second, true)
    }

    /// Evicts the least recently used unpinned block of resident `list`, to
    /// its ghost list if `to_ghost`, or out of the directory. Returns false if
    /// every block of the list is pinned (or the list is empty).
    fn evict_one(&mut self, list: ListId, to_ghost: bool) -> bool {
        let mut idx = self.slab.lru(list);
        while idx != NIL {
            let pinned = self
                .slab
                .item(idx)
                .value
                .as_ref()
                .is_some_and(|v| Arc::strong_count(v) > 1);
            if !pinned {
                break;
            }
            self.counters.evict_skipped_pinned += 1;
            idx = self.slab.toward_mru(idx);
        }
        if idx == NIL {
            return false;
        }
        self.counters.evictions += 1;
        self.counters.evicted_bytes += self.slab.weight(idx);
        if to_ghost {
            let node = self.slab.item_mut(idx);
            let wasted = std::mem::take(&mut node.prefetched);
            if let Some(v) = node.value.take() {
                self.graveyard.push(v);
            }
            if wasted {
                self.counters.prefetch_wasted += 1;
            }
            let ghost = if list == ListId::T1 {
                ListId::B1
            } else {
                ListId::B2
            };
            self.slab.move_to_mru(idx, ghost);
        } else {
            if self.slab.item(idx).prefetched {
                self.counters.prefetch_wasted += 1;
            }
            self.drop_entry(idx);
        }
        true
    }

    /// Drops the LRU entry of ghost `list`.
    fn drop_lru(&mut self, list: ListId) {
        let idx = self.slab.lru(list);
        if idx != NIL {
            self.drop_entry(idx);
        }
    }

    fn push(
        &mut self,
        list: ListId,
        hash: u64,
        key: K,
        value: Arc<V>,
        weight: u64,
        prefetched: bool,
    ) {
        let node = Node {
            key,
            hash,
            value: Some(value),
            prefetched,
        };
        let idx = self.slab.push(list, weight, node);
        let slab = &self.slab;
        self.table.insert_unique(hash, idx, |&i| slab.item(i).hash);
    }

    /// Removes entry `idx` from the slab and the table.
    fn drop_entry(&mut self, idx: u32) {
        let hash = self.slab.item(idx).hash;
        if let Ok(entry) = self.table.find_entry(hash, |&i| i == idx) {
            entry.remove();
        }
        let (node, moved) = self.slab.remove(idx);
        if let Some(v) = node.value {
            self.graveyard.push(v);
        }
        if let Some(from) = moved {
            let moved_hash = self.slab.item(idx).hash;
            if let Some(slot) = self.table.find_mut(moved_hash, |&i| i == from) {
                *slot = idx;
            }
        }
    }

    /// Keys of `list` from MRU to LRU (for tests).
    #[cfg(test)]
    pub(crate) fn keys(&self, list: ListId) -> Vec<K>
    where
        K: Clone,
    {
        self.slab
            .items_mru_first(list)
            .into_iter()
            .map(|n| n.key.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(c: u64) -> ArcState<u64, u64> {
        ArcState::new(c)
    }

    /// A demand access as a caller does it: look up, insert on a miss.
    fn access(s: &mut ArcState<u64, u64>, key: u64, weight: u64) -> bool {
        if s.lookup(key, &key, true).is_some() {
            return true;
        }
        s.insert(key, key, Arc::new(key), weight, InsertKind::Demand);
        false
    }

    #[test]
    fn second_access_promotes_to_t2() {
        let mut s = st(10);
        assert!(!access(&mut s, 1, 1));
        assert_eq!(s.keys(ListId::T1), vec![1]);
        assert!(access(&mut s, 1, 1));
        assert_eq!(s.keys(ListId::T2), vec![1]);
        assert_eq!(s.counters.hits, 1);
        assert_eq!(s.counters.misses, 1);
        assert_eq!(s.counters.mru_hits, 1);
    }

    #[test]
    fn bounded_in_bytes_with_variable_weights() {
        let mut s = st(100);
        for k in 0..50 {
            access(&mut s, k, 1 + (k * 7) % 30);
            assert!(s.size() <= 100, "size {} after key {k}", s.size());
            assert!(s.directory_bytes() <= 200 + 30);
        }
        assert!(s.counters.evictions > 0);
    }

    #[test]
    fn ghost_hit_in_b1_raises_p_and_b2_lowers_it() {
        let mut s = st(4);
        // Fill T2 with 1 and 2, T1 with 3 and 4, then push 3 out to B1.
        for k in [1, 2, 1, 2, 3, 4, 5] {
            access(&mut s, k, 1);
        }
        assert_eq!(s.keys(ListId::B1), vec![3]);
        assert_eq!(s.p(), 0);
        access(&mut s, 3, 1); // B1 hit
        assert_eq!(s.p(), 1);
        assert_eq!(s.counters.mru_ghost_hits, 1);
        assert_eq!(s.keys(ListId::T2)[0], 3);
        // p = 1 and T1 holds 5 (1 byte): the next REPLACE takes T2's LRU.
        access(&mut s, 6, 1);
        let b2 = s.keys(ListId::B2);
        assert_eq!(b2.len(), 1);
        access(&mut s, b2[0], 1); // B2 hit
        assert_eq!(s.p(), 0);
        assert_eq!(s.counters.mfu_ghost_hits, 1);
    }

    #[test]
    fn pinned_blocks_are_skipped_by_eviction() {
        let mut s = st(3);
        // Block 1 is T1's LRU block, and a reader holds its value.
        let held = Arc::new(1);
        s.insert(1, 1, Arc::clone(&held), 1, InsertKind::Demand);
        access(&mut s, 2, 1);
        access(&mut s, 3, 1);
        for k in 10..20 {
            access(&mut s, k, 1);
        }
        assert_eq!(s.residency(1, &1), Some(ListId::T1));
        assert!(s.counters.evict_skipped_pinned >= 10);
        assert!(s.size() <= 3);
        drop(held);
        access(&mut s, 20, 1);
        assert_ne!(
            s.residency(1, &1),
            Some(ListId::T1),
            "released block is evictable"
        );
    }

    #[test]
    fn everything_pinned_lets_the_cache_overflow_until_released() {
        let mut s = st(2);
        let mut held = Vec::new();
        for k in 0..4 {
            access(&mut s, k, 1);
            held.push(s.lookup(k, &k, false).expect("just inserted"));
        }
        assert_eq!(s.size(), 4);
        drop(held);
        s.set_c(2);
        assert_eq!(s.size(), 2);
    }

    #[test]
    fn oversized_values_are_not_cached() {
        let mut s = st(10);
        assert!(!s.insert(1, 1, Arc::new(1), 11, InsertKind::Demand));
        assert_eq!(s.residency(1, &1), None);
        assert_eq!(s.size(), 0);
    }

    #[test]
    fn prefetched_blocks_stay_in_t1_on_first_demand_hit() {
        let mut s = st(10);
        s.insert(7, 7, Arc::new(7), 1, InsertKind::Prefetch);
        assert!(s.lookup(7, &7, true).is_some());
        assert_eq!(s.residency(7, &7), Some(ListId::T1));
        assert_eq!(s.counters.prefetch_used, 1);
        assert!(s.lookup(7, &7, true).is_some());
        assert_eq!(s.residency(7, &7), Some(ListId::T2));
    }

    #[test]
    fn unused_prefetches_are_counted_as_wasted() {
        let mut s = st(2);
        for k in 0..5 {
            s.insert(k, k, Arc::new(k), 1, InsertKind::Prefetch);
        }
        assert_eq!(s.counters.prefetch_wasted, 3);
    }

    #[test]
    fn remove_forgets_resident_and_ghost_entries() {
        let mut s = st(2);
        for k in [0, 0, 1, 2, 3] {
            access(&mut s, k, 1);
        }
        assert_eq!(s.residency(2, &2), Some(ListId::B1));
        assert!(!s.remove(2, &2));
        assert_eq!(s.residency(2, &2), None);
        assert!(s.remove(3, &3));
        assert_eq!(s.residency(3, &3), None);
        assert_eq!(s.size(), 1);
        assert_eq!(s.keys(ListId::T2), vec![0]);
    }

    #[test]
    fn shrinking_c_evicts_and_trims_ghosts() {
        let mut s = st(100);
        for k in 0..300 {
            access(&mut s, k % 150, 1);
        }
        let freed = s.set_c(10);
        assert!(freed >= 90, "freed {freed}");
        assert!(s.size() <= 10);
        assert!(s.directory_bytes() <= 20);
        assert!(s.p() <= 10);
    }

    #[test]
    fn one_scan_does_not_flush_the_frequent_set() {
        let mut s = st(100);
        for _ in 0..3 {
            for k in 0..50 {
                access(&mut s, k, 1);
            }
        }
        for k in 1000..2000 {
            access(&mut s, k, 1);
        }
        for k in 0..50 {
            assert!(s.residency(k, &k) == Some(ListId::T2), "hot key {k} lost");
        }
    }

    #[test]
    fn evicted_values_are_dropped_by_the_caller() {
        let mut s = st(1);
        access(&mut s, 1, 1);
        access(&mut s, 2, 1);
        assert_eq!(s.take_graveyard().len(), 1);
        assert!(s.take_graveyard().is_empty());
    }
}
