//! Metaslabs: a top-level vdev's allocatable space cut into equal regions,
//! each with its free space in a [`RangeTree`].
//!
//! Allocation keeps one metaslab active and takes space from it first-fit
//! from a cursor (sequential writes stay sequential); when the metaslab is
//! mostly full it switches to best fit, and when it cannot satisfy a request
//! the group activates the metaslab with the largest free segment. Every step
//! is logarithmic in the number of free segments.

use crate::rangetree::{RangeError, RangeTree};

/// Below this fraction of free space (1/N), a metaslab allocates best-fit.
const BEST_FIT_BELOW: u64 = 25;

/// One metaslab.
#[derive(Debug, Clone)]
pub struct Metaslab {
    /// Index in its group.
    pub id: u32,
    /// First byte (offset in the vdev's allocatable space).
    pub start: u64,
    /// Size in bytes.
    pub size: u64,
    /// Free space.
    pub free: RangeTree,
    cursor: u64,
    /// Changed since its last checkpoint was written.
    pub dirty: bool,
}

impl Metaslab {
    /// An all-free metaslab.
    pub fn new(id: u32, start: u64, size: u64) -> Self {
        let mut free = RangeTree::new();
        free.add(start, size).expect("fresh tree");
        Metaslab {
            id,
            start,
            size,
            free,
            cursor: start,
            dirty: true,
        }
    }

    /// Bytes allocated (including space whose free is deferred).
    pub fn allocated(&self) -> u64 {
        self.size - self.free.total()
    }

    fn alloc(&mut self, len: u64) -> Option<u64> {
        if self.free.largest() < len {
            return None;
        }
        let best = self.free.total() * BEST_FIT_BELOW < self.size;
        let at = if best {
            self.free.best_fit(len)
        } else {
            self.free
                .first_fit(self.cursor, len)
                .or_else(|| self.free.first_fit(self.start, len))
                .or_else(|| self.free.best_fit(len))
        }?;
        self.free.remove(at, len).ok()?;
        self.cursor = at + len;
        self.dirty = true;
        Some(at)
    }
}

/// The metaslabs of one top-level vdev.
#[derive(Debug, Clone)]
pub struct MetaslabGroup {
    /// Top-level vdev index.
    pub vdev: u32,
    /// log2 of the metaslab size.
    pub ms_shift: u8,
    /// Allocation unit (1 << ashift).
    pub align: u64,
    /// The metaslabs.
    pub slabs: Vec<Metaslab>,
    active: usize,
}

impl MetaslabGroup {
    /// An all-free group over `asize` bytes.
    pub fn new(vdev: u32, asize: u64, ms_shift: u8, ashift: u8) -> Self {
        let ms_size = 1u64 << ms_shift;
        let count = (asize >> ms_shift).max(1);
        let slabs = (0..count)
            .map(|i| Metaslab::new(i as u32, i * ms_size, ms_size.min(asize - i * ms_size)))
            .collect();
        MetaslabGroup {
            vdev,
            ms_shift,
            align: 1 << ashift,
            slabs,
            active: 0,
        }
    }

    /// Total allocatable bytes.
    pub fn size(&self) -> u64 {
        self.slabs.iter().map(|m| m.size).sum()
    }

    /// Free bytes (space whose free is deferred counts as allocated).
    pub fn free(&self) -> u64 {
        self.slabs.iter().map(|m| m.free.total()).sum()
    }

    /// The largest free segment in the group.
    pub fn largest_free(&self) -> u64 {
        self.slabs
            .iter()
            .map(|m| m.free.largest())
            .max()
            .unwrap_or(0)
    }

    /// Fragmentation in percent, as `zpool list` shows it: the share of free
    /// space in segments too small for a 128 KiB block, weighted by size.
    pub fn fragmentation(&self) -> u64 {
        let free = self.free();
        if free == 0 {
            return 0;
        }
        let small: u64 = self
            .slabs
            .iter()
            .flat_map(|m| m.free.iter())
            .filter(|&(_, l)| l < 128 * 1024)
            .map(|(_, l)| l)
            .sum();
        small * 100 / free
    }

    fn slab_of(&self, offset: u64) -> Option<usize> {
        let i = (offset >> self.ms_shift) as usize;
        (i < self.slabs.len()).then_some(i)
    }

    /// Allocates `len` bytes (a multiple of the alignment), avoiding the
    /// metaslab `avoid` when another can serve (to spread copies).
    pub fn alloc(&mut self, len: u64, avoid: Option<usize>) -> Option<u64> {
        debug_assert_eq!(len % self.align, 0);
        if Some(self.active) != avoid {
            if let Some(at) = self.slabs[self.active].alloc(len) {
                return Some(at);
            }
        }
        // Activate the metaslab with the largest free segment.
        let best = self
            .slabs
            .iter()
            .enumerate()
            .filter(|(i, m)| Some(*i) != avoid && m.free.largest() >= len)
            .max_by_key(|(i, m)| {
                (
                    m.free.largest().min(1 << 20),
                    m.free.total(),
                    usize::MAX - i,
                )
            })
            .map(|(i, _)| i)
            .or_else(|| avoid.filter(|&a| self.slabs[a].free.largest() >= len))?;
        if avoid != Some(best) {
            self.active = best;
        }
        self.slabs[best].alloc(len)
    }

    /// Index of the metaslab holding `offset`.
    pub fn metaslab_index(&self, offset: u64) -> Option<usize> {
        self.slab_of(offset)
    }

    /// Marks `[offset, offset+len)` allocated (replay, claims).
    pub fn claim(&mut self, offset: u64, len: u64) -> Result<(), RangeError> {
        let i = self
            .slab_of(offset)
            .ok_or(RangeError::Missing(offset, len))?;
        self.slabs[i].free.remove(offset, len)?;
        self.slabs[i].dirty = true;
        Ok(())
    }

    /// Returns `[offset, offset+len)` to the free space.
    pub fn release(&mut self, offset: u64, len: u64) -> Result<(), RangeError> {
        let i = self
            .slab_of(offset)
            .ok_or(RangeError::Overlap(offset, len))?;
        let m = &mut self.slabs[i];
        if offset + len > m.start + m.size {
            return Err(RangeError::Overlap(offset, len));
        }
        m.free.add(offset, len)?;
        m.dirty = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn sequential_allocations_are_contiguous() {
        let mut g = MetaslabGroup::new(0, 64 << 20, 22, 12);
        assert_eq!(g.slabs.len(), 16);
        let a = g.alloc(128 << 10, None).unwrap();
        let b = g.alloc(128 << 10, None).unwrap();
        assert_eq!(b, a + (128 << 10));
        assert_eq!(g.free(), (64 << 20) - (256 << 10));
    }

    #[test]
    fn fills_to_the_last_byte_then_refuses() {
        let mut g = MetaslabGroup::new(0, 16 << 20, 22, 12);
        let mut n = 0;
        while g.alloc(1 << 20, None).is_some() {
            n += 1;
        }
        assert_eq!(n, 16);
        assert_eq!(g.free(), 0);
        assert!(g.alloc(4096, None).is_none());
    }

    #[test]
    fn fragmented_space_is_still_found() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut g = MetaslabGroup::new(0, 64 << 20, 22, 12);
        let mut live = Vec::new();
        loop {
            let len = 4096 * rng.gen_range(1..8);
            match g.alloc(len, None) {
                Some(at) => live.push((at, len)),
                None => break,
            }
        }
        assert!(g.largest_free() < 8 * 4096);
        // Free every other block: the space is full of small holes.
        let mut holes = 0;
        for (i, &(at, len)) in live.iter().enumerate() {
            if i % 2 == 0 {
                g.release(at, len).unwrap();
                holes += len;
            }
        }
        assert_eq!(
            g.free(),
            holes + (g.size() - live.iter().map(|l| l.1).sum::<u64>())
        );
        assert!(g.fragmentation() > 90);
        // Every hole can be used again, 4 KiB at a time.
        let before = g.free();
        let mut got = 0;
        while g.alloc(4096, None).is_some() {
            got += 4096;
        }
        assert_eq!(got, before);
        let (at, len) = live[1];
        assert!(g.release(at, len).is_ok());
        assert!(g.release(at, len).is_err(), "double free refused");
    }
}
