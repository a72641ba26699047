//! Plain implementations the real cache is checked against (tests only).
//!
//! * [`PaperArc`] transcribes the paper's pseudocode for pages, case by case.
//! * [`RefArc`] is the byte-weighted ARC with pins and prefetch marks that
//!   `state.rs` implements, written the obvious way: lists are `Vec`s
//!   searched linearly, sizes are summed on demand.
//!
//! The property tests check, step by step on random operation sequences,
//! that `RefArc` with one-byte blocks behaves exactly like `PaperArc`, and
//! that `ArcState` and a one-shard `ArcCache` behave exactly like `RefArc`.

use std::collections::{HashMap, VecDeque};

/// Megiddo and Modha's ARC(c) for pages, as in the paper's figure: lists
/// with the LRU end at the front, `p` in pages, integer ratios.
pub(crate) struct PaperArc {
    c: usize,
    p: usize,
    t1: VecDeque<u64>,
    t2: VecDeque<u64>,
    b1: VecDeque<u64>,
    b2: VecDeque<u64>,
}

fn take(list: &mut VecDeque<u64>, x: u64) -> bool {
    match list.iter().position(|&k| k == x) {
        Some(i) => {
            list.remove(i);
            true
        }
        None => false,
    }
}

impl PaperArc {
    pub(crate) fn new(c: usize) -> Self {
        PaperArc {
            c,
            p: 0,
            t1: VecDeque::new(),
            t2: VecDeque::new(),
            b1: VecDeque::new(),
            b2: VecDeque::new(),
        }
    }

    /// Requests page `x`; returns whether it was a hit.
    pub(crate) fn request(&mut self, x: u64) -> bool {
        // Case I: x in T1 or T2: a hit; move x to the MRU end of T2.
        if take(&mut self.t1, x) || take(&mut self.t2, x) {
            self.t2.push_back(x);
            return true;
        }
        // Case II: x in B1: adapt p upward, replace, move x to T2.
        if self.b1.contains(&x) {
            let d = if self.b1.len() >= self.b2.len() {
                1
            } else {
                self.b2.len() / self.b1.len()
            };
            self.p = (self.p + d).min(self.c);
            self.replace(false);
            take(&mut self.b1, x);
            self.t2.push_back(x);
            return false;
        }
        // Case III: x in B2: adapt p downward, replace, move x to T2.
        if self.b2.contains(&x) {
            let d = if self.b2.len() >= self.b1.len() {
                1
            } else {
                self.b1.len() / self.b2.len()
            };
            self.p = self.p.saturating_sub(d);
            self.replace(true);
            take(&mut self.b2, x);
            self.t2.push_back(x);
            return false;
        }
        // Case IV: x is in no list.
        let l1 = self.t1.len() + self.b1.len();
        let total = l1 + self.t2.len() + self.b2.len();
        if l1 == self.c {
            // Case A: L1 has exactly c pages.
            if self.t1.len() < self.c {
                self.b1.pop_front();
                self.replace(false);
            } else {
                self.t1.pop_front();
            }
        } else if l1 < self.c && total >= self.c {
            // Case B: L1 has fewer than c pages.
            if total == 2 * self.c {
                self.b2.pop_front();
            }
            self.replace(false);
        }
        self.t1.push_back(x);
        false
    }

    fn replace(&mut self, x_in_b2: bool) {
        let t1 = self.t1.len();
        // The paper leaves T2 empty with |T1| = p = c undefined; like every
        // implementation, take from T1 then.
        if t1 >= 1 && ((x_in_b2 && t1 == self.p) || t1 > self.p || self.t2.is_empty()) {
            if let Some(k) = self.t1.pop_front() {
                self.b1.push_back(k);
            }
        } else if let Some(k) = self.t2.pop_front() {
            self.b2.push_back(k);
        }
    }

    /// Keys of T1, T2, B1, B2, MRU first, and p.
    pub(crate) fn snapshot(&self) -> ([Vec<u64>; 4], u64) {
        let rev = |l: &VecDeque<u64>| l.iter().rev().copied().collect::<Vec<_>>();
        (
            [rev(&self.t1), rev(&self.t2), rev(&self.b1), rev(&self.b2)],
            self.p as u64,
        )
    }
}

#[derive(Clone, Debug)]
struct Entry {
    key: u64,
    weight: u64,
    prefetched: bool,
}

const T1: usize = 0;
const T2: usize = 1;
const B1: usize = 2;
const B2: usize = 3;

/// The byte-weighted ARC of `state.rs`, written plainly. Lists hold their
/// LRU entry first.
#[derive(Default)]
pub(crate) struct RefArc {
    pub(crate) c: u64,
    pub(crate) p: u64,
    lists: [Vec<Entry>; 4],
    pins: HashMap<u64, usize>,
    pub(crate) hits: u64,
    pub(crate) misses: u64,
    pub(crate) ghost_hits: [u64; 2],
    pub(crate) evictions: u64,
    pub(crate) evicted_bytes: u64,
    pub(crate) prefetch_used: u64,
    pub(crate) prefetch_wasted: u64,
}

impl RefArc {
    pub(crate) fn new(c: u64) -> Self {
        RefArc {
            c,
            ..RefArc::default()
        }
    }

    pub(crate) fn bytes(&self, l: usize) -> u64 {
        self.lists[l].iter().map(|e| e.weight).sum()
    }

    pub(crate) fn count(&self, l: usize) -> u64 {
        self.lists[l].len() as u64
    }

    fn all_bytes(&self) -> u64 {
        (0..4).map(|l| self.bytes(l)).sum()
    }

    fn find(&self, key: u64) -> Option<(usize, usize)> {
        (0..4).find_map(|l| {
            self.lists[l]
                .iter()
                .position(|e| e.key == key)
                .map(|i| (l, i))
        })
    }

    pub(crate) fn is_resident(&self, key: u64) -> bool {
        matches!(self.find(key), Some((l, _)) if l == T1 || l == T2)
    }

    /// Keys of each list, MRU first.
    pub(crate) fn keys(&self) -> [Vec<u64>; 4] {
        let rev = |l: &Vec<Entry>| l.iter().rev().map(|e| e.key).collect::<Vec<_>>();
        [
            rev(&self.lists[T1]),
            rev(&self.lists[T2]),
            rev(&self.lists[B1]),
            rev(&self.lists[B2]),
        ]
    }

    pub(crate) fn pin(&mut self, key: u64) {
        *self.pins.entry(key).or_default() += 1;
    }

    pub(crate) fn unpin(&mut self, key: u64) {
        if let Some(n) = self.pins.get_mut(&key) {
            *n -= 1;
            if *n == 0 {
                self.pins.remove(&key);
            }
        }
    }

    /// A demand lookup: true on a hit (and the block is promoted).
    pub(crate) fn lookup(&mut self, key: u64) -> bool {
        match self.find(key) {
            Some((l, i)) if l == T1 || l == T2 => {
                self.hits += 1;
                let mut e = self.lists[l].remove(i);
                if l == T1 && e.prefetched {
                    e.prefetched = false;
                    self.prefetch_used += 1;
                    self.lists[T1].push(e);
                } else {
                    self.lists[T2].push(e);
                }
                true
            }
            Some((l, _)) => {
                self.misses += 1;
                self.ghost_hits[l - B1] += 1;
                false
            }
            None => {
                self.misses += 1;
                false
            }
        }
    }

    /// A demand access: lookup, and insert on a miss.
    pub(crate) fn access(&mut self, key: u64, weight: u64) -> bool {
        if self.lookup(key) {
            return true;
        }
        self.insert(key, weight, false);
        false
    }

    /// A prefetch: insert unless resident. Returns whether it loaded.
    pub(crate) fn prefetch(&mut self, key: u64, weight: u64) -> bool {
        if self.is_resident(key) {
            return false;
        }
        self.insert(key, weight, true);
        true
    }

    pub(crate) fn insert(&mut self, key: u64, weight: u64, prefetch: bool) {
        if let Some((l, i)) = self.find(key) {
            if l == T1 || l == T2 {
                if prefetch {
                    return;
                }
                if weight > self.c {
                    self.lists[l].remove(i);
                    return;
                }
                let mut e = self.lists[l].remove(i);
                e.weight = weight;
                if l == T1 && e.prefetched {
                    e.prefetched = false;
                    self.prefetch_used += 1;
                    self.lists[T1].push(e);
                } else {
                    self.lists[T2].push(e);
                }
                self.make_room(0, false);
                self.trim_ghosts();
                return;
            }
            if weight > self.c || prefetch {
                self.lists[l].remove(i);
            } else {
                // A ghost hit: adapt p, with the ghost still counted.
                let (b1, b2, w) = (
                    u128::from(self.bytes(B1)),
                    u128::from(self.bytes(B2)),
                    u128::from(weight),
                );
                if l == B1 {
                    let d = if b1 >= b2 { w } else { w * b2 / b1 };
                    self.p = (self.p + d as u64).min(self.c);
                } else {
                    let d = if b2 >= b1 { w } else { w * b1 / b2 };
                    self.p = self.p.saturating_sub(d as u64);
                }
                self.lists[l].remove(i);
                self.make_room(weight, l == B2);
                self.lists[T2].push(Entry {
                    key,
                    weight,
                    prefetched: false,
                });
                self.trim_ghosts();
                return;
            }
        }
        if weight > self.c {
            return;
        }
        self.new_block(key, weight, prefetch);
    }

    fn new_block(&mut self, key: u64, weight: u64, prefetch: bool) {
        while self.bytes(T1) + self.bytes(B1) + weight > self.c {
            if !self.lists[B1].is_empty() {
                self.lists[B1].remove(0);
            } else if !self.evict(T1, false) {
                break;
            }
        }
        while self.all_bytes() + weight > 2 * self.c {
            if !self.lists[B2].is_empty() {
                self.lists[B2].remove(0);
            } else if !self.lists[B1].is_empty() {
                self.lists[B1].remove(0);
            } else {
                break;
            }
        }
        self.make_room(weight, false);
        self.lists[T1].push(Entry {
            key,
            weight,
            prefetched: prefetch,
        });
    }

    pub(crate) fn remove(&mut self, key: u64) {
        if let Some((l, i)) = self.find(key) {
            self.lists[l].remove(i);
        }
    }

    pub(crate) fn set_c(&mut self, c: u64) {
        self.c = c;
        self.p = self.p.min(c);
        self.make_room(0, false);
        self.trim_ghosts();
    }

    fn trim_ghosts(&mut self) {
        while !self.lists[B1].is_empty() && self.bytes(T1) + self.bytes(B1) > self.c {
            self.lists[B1].remove(0);
        }
        while self.all_bytes() > 2 * self.c {
            if !self.lists[B2].is_empty() {
                self.lists[B2].remove(0);
            } else if !self.lists[B1].is_empty() {
                self.lists[B1].remove(0);
            } else {
                break;
            }
        }
    }

    fn make_room(&mut self, weight: u64, in_b2: bool) {
        while self.bytes(T1) + self.bytes(T2) + weight > self.c {
            let t1 = self.bytes(T1);
            let from_t1 = t1 > 0 && (t1 > self.p || (in_b2 && t1 == self.p));
            let (a, b) = if from_t1 { (T1, T2) } else { (T2, T1) };
            if !self.evict(a, true) && !self.evict(b, true) {
                break;
            }
        }
    }

    /// Evicts the LRU unpinned entry of `l` (to its ghost list, or out).
    fn evict(&mut self, l: usize, to_ghost: bool) -> bool {
        let Some(i) = self.lists[l]
            .iter()
            .position(|e| !self.pins.contains_key(&e.key))
        else {
            return false;
        };
        let mut e = self.lists[l].remove(i);
        self.evictions += 1;
        self.evicted_bytes += e.weight;
        if e.prefetched {
            self.prefetch_wasted += 1;
            e.prefetched = false;
        }
        if to_ghost {
            self.lists[if l == T1 { B1 } else { B2 }].push(e);
        }
        true
    }
}

#[cfg(test)]
mod tests;
