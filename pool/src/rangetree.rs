//! A set of disjoint byte ranges with an index by size, used for the free
//! space of a metaslab: first fit from a cursor and best fit both run in
//! logarithmic time however fragmented the space is.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

/// Why a range operation was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    /// Adding a range that overlaps one already present (a double free).
    #[error("range {0:#x}+{1:#x} overlaps a range already in the tree")]
    Overlap(u64, u64),
    /// Removing a range that is not wholly present (a double allocation).
    #[error("range {0:#x}+{1:#x} is not wholly in the tree")]
    Missing(u64, u64),
}

/// Disjoint ranges, merged when adjacent.
#[derive(Clone, Default, Debug)]
pub struct RangeTree {
    by_start: BTreeMap<u64, u64>,
    by_size: BTreeSet<(u64, u64)>,
    total: u64,
    /// Length of the largest segment, kept beside the trees: an allocator
    /// choosing a metaslab reads it for every metaslab of a vdev, and a
    /// field read costs no walk down a tree (nor its cache misses).
    largest: u64,
}

impl RangeTree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes in the tree.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Number of segments.
    pub fn segments(&self) -> usize {
        self.by_start.len()
    }

    /// Length of the largest segment.
    pub fn largest(&self) -> u64 {
        self.largest
    }

    /// Iterates over (start, len) in address order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.by_start.iter().map(|(&s, &e)| (s, e - s))
    }

    fn insert_seg(&mut self, start: u64, end: u64) {
        self.by_start.insert(start, end);
        self.by_size.insert((end - start, start));
        self.largest = self.largest.max(end - start);
    }

    fn remove_seg(&mut self, start: u64, end: u64) {
        self.by_start.remove(&start);
        self.by_size.remove(&(end - start, start));
        if end - start == self.largest {
            self.largest = self.by_size.last().map_or(0, |&(l, _)| l);
        }
    }

    /// Adds `[start, start+len)`, merging with neighbours.
    pub fn add(&mut self, start: u64, len: u64) -> Result<(), RangeError> {
        if len == 0 {
            return Ok(());
        }
        let end = start
            .checked_add(len)
            .ok_or(RangeError::Overlap(start, len))?;
        let prev = self
            .by_start
            .range(..=start)
            .next_back()
            .map(|(&s, &e)| (s, e));
        let next = self
            .by_start
            .range((Bound::Excluded(start), Bound::Unbounded))
            .next()
            .map(|(&s, &e)| (s, e));
        if prev.is_some_and(|(_, e)| e > start) || next.is_some_and(|(s, _)| s < end) {
            return Err(RangeError::Overlap(start, len));
        }
        let (mut s, mut e) = (start, end);
        if let Some((ps, pe)) = prev {
            if pe == start {
                self.remove_seg(ps, pe);
                s = ps;
            }
        }
        if let Some((ns, ne)) = next {
            if ns == end {
                self.remove_seg(ns, ne);
                e = ne;
            }
        }
        self.insert_seg(s, e);
        self.total += len;
        Ok(())
    }

    /// Removes `[start, start+len)`, which must lie inside one segment.
    pub fn remove(&mut self, start: u64, len: u64) -> Result<(), RangeError> {
        if len == 0 {
            return Ok(());
        }
        let end = start
            .checked_add(len)
            .ok_or(RangeError::Missing(start, len))?;
        let (s, e) = self
            .by_start
            .range(..=start)
            .next_back()
            .map(|(&s, &e)| (s, e))
            .filter(|&(_, e)| e >= end)
            .ok_or(RangeError::Missing(start, len))?;
        self.remove_seg(s, e);
        if s < start {
            self.insert_seg(s, start);
        }
        if end < e {
            self.insert_seg(end, e);
        }
        self.total -= len;
        Ok(())
    }

    /// True when `[start, start+len)` is wholly in the tree.
    pub fn contains(&self, start: u64, len: u64) -> bool {
        self.by_start
            .range(..=start)
            .next_back()
            .is_some_and(|(_, &e)| e >= start + len)
    }

    /// True when any byte of `[start, start+len)` is in the tree.
    pub fn intersects(&self, start: u64, len: u64) -> bool {
        let end = start + len;
        self.by_start
            .range(..end)
            .next_back()
            .is_some_and(|(_, &e)| e > start)
    }

    /// The first segment at or after `cursor` holding `len` bytes; returns
    /// the start of the space found (not removed).
    pub fn first_fit(&self, cursor: u64, len: u64) -> Option<u64> {
        if let Some((&s, &e)) = self.by_start.range(..=cursor).next_back() {
            if e >= cursor + len {
                return Some(cursor.max(s));
            }
        }
        // Scan forward a bounded number of segments, then give up to best fit.
        self.by_start
            .range((Bound::Excluded(cursor), Bound::Unbounded))
            .take(64)
            .find(|(&s, &e)| e - s >= len)
            .map(|(&s, _)| s)
    }

    /// The smallest segment holding `len` bytes.
    pub fn best_fit(&self, len: u64) -> Option<u64> {
        self.by_size.range((len, 0)..).next().map(|&(_, s)| s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn add_merges_and_remove_splits() {
        let mut t = RangeTree::new();
        t.add(0, 10).unwrap();
        t.add(20, 10).unwrap();
        t.add(10, 10).unwrap();
        assert_eq!(t.segments(), 1);
        assert_eq!(t.total(), 30);
        t.remove(5, 10).unwrap();
        assert_eq!(t.iter().collect::<Vec<_>>(), vec![(0, 5), (15, 15)]);
        assert_eq!(t.add(3, 4), Err(RangeError::Overlap(3, 4)));
        assert_eq!(t.remove(4, 2), Err(RangeError::Missing(4, 2)));
        assert_eq!(t.largest(), 15);
        assert_eq!(t.best_fit(5), Some(0));
        assert_eq!(t.best_fit(6), Some(15));
        assert_eq!(t.first_fit(1, 4), Some(1));
        assert_eq!(t.first_fit(1, 5), Some(15));
        assert!(t.intersects(4, 2) && !t.intersects(5, 10));
    }

    proptest! {
        #[test]
        fn matches_a_bitmap(ops in proptest::collection::vec((any::<bool>(), 0u64..256, 1u64..32), 1..200)) {
            let mut t = RangeTree::new();
            let mut model = [false; 300];
            for (add, start, len) in ops {
                let r = start as usize..(start + len) as usize;
                if add {
                    let ok = !model[r.clone()].iter().any(|&b| b);
                    prop_assert_eq!(t.add(start, len).is_ok(), ok);
                    if ok { model[r].iter_mut().for_each(|b| *b = true); }
                } else {
                    let ok = model[r.clone()].iter().all(|&b| b);
                    prop_assert_eq!(t.remove(start, len).is_ok(), ok);
                    if ok { model[r].iter_mut().for_each(|b| *b = false); }
                }
                prop_assert_eq!(t.total(), model.iter().filter(|&&b| b).count() as u64);
                prop_assert_eq!(t.largest(), t.iter().map(|(_, l)| l).max().unwrap_or(0));
                // Segments are maximal: no two touch.
                let segs: Vec<_> = t.iter().collect();
                for w in segs.windows(2) {
                    prop_assert!(w[0].0 + w[0].1 < w[1].0);
                }
            }
        }
    }
}
