//! Plain LRU, the baseline: one list, evict the least recently used page.

use std::collections::HashMap;

const NIL: u32 = u32::MAX;

/// An LRU cache of `capacity` pages that only counts hits.
pub struct Lru {
    capacity: usize,
    map: HashMap<u64, u32>,
    keys: Vec<u64>,
    prev: Vec<u32>,
    next: Vec<u32>,
    /// Most recently used.
    head: u32,
    /// Least recently used.
    tail: u32,
}

impl Lru {
    /// An empty cache of `capacity` pages (at least one).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Lru {
            capacity,
            map: HashMap::with_capacity(capacity),
            keys: Vec::with_capacity(capacity),
            prev: Vec::with_capacity(capacity),
            next: Vec::with_capacity(capacity),
            head: NIL,
            tail: NIL,
        }
    }

    /// Accesses `page`; returns whether it was cached.
    pub fn access(&mut self, page: u64) -> bool {
        if let Some(&i) = self.map.get(&page) {
            self.unlink(i);
            self.push_front(i);
            return true;
        }
        let i = if self.keys.len() < self.capacity {
            self.keys.push(page);
            self.prev.push(NIL);
            self.next.push(NIL);
            (self.keys.len() - 1) as u32
        } else {
            let victim = self.tail;
            self.unlink(victim);
            self.map.remove(&self.keys[victim as usize]);
            self.keys[victim as usize] = page;
            victim
        };
        self.map.insert(page, i);
        self.push_front(i);
        false
    }

    fn unlink(&mut self, i: u32) {
        let (p, n) = (self.prev[i as usize], self.next[i as usize]);
        match p {
            NIL => self.head = n,
            p => self.next[p as usize] = n,
        }
        match n {
            NIL => self.tail = p,
            n => self.prev[n as usize] = p,
        }
    }

    fn push_front(&mut self, i: u32) {
        self.prev[i as usize] = NIL;
        self.next[i as usize] = self.head;
        match self.head {
            NIL => self.tail = i,
            h => self.prev[h as usize] = i,
        }
        self.head = i;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_the_least_recently_used() {
        let mut l = Lru::new(2);
        assert!(!l.access(1));
        assert!(!l.access(2));
        assert!(l.access(1));
        assert!(!l.access(3)); // evicts 2
        assert!(l.access(1));
        assert!(!l.access(2)); // evicts 3
        assert!(!l.access(3));
    }

    #[test]
    fn a_loop_larger_than_lru_never_hits() {
        let mut l = Lru::new(10);
        let hits = (0..10)
            .flat_map(|_| 0..11u64)
            .filter(|&p| l.access(p))
            .count();
        assert_eq!(hits, 0);
    }
}
