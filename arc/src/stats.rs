//! The cache's counters, as one serialisable snapshot.

use serde::{Deserialize, Serialize};

/// A snapshot of the cache's counters and sizes.
///
/// Counters (`hits`, `evictions`, ...) count since the cache was created;
/// sizes (`size`, `c`, ...) are current. All sizes are in bytes. Field names
/// follow OpenZFS's `arcstats` where there is a counterpart, so that
/// operators' habits (`c`, `p`, `c_min`, `c_max`, `mru_ghost_hits`) carry over.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArcStats {
    /// Demand reads served from the cache.
    pub hits: u64,
    /// Demand reads that were not in the cache (including ghost hits and
    /// reads that waited for another caller's load).
    pub misses: u64,
    /// Hits on blocks in the recency list (T1, seen once).
    pub mru_hits: u64,
    /// Hits on blocks in the frequency list (T2, seen twice or more).
    pub mfu_hits: u64,
    /// Misses whose key was in the recency ghost list (B1).
    pub mru_ghost_hits: u64,
    /// Misses whose key was in the frequency ghost list (B2).
    pub mfu_ghost_hits: u64,
    /// Misses that waited for a read already in flight instead of issuing a
    /// second one.
    pub load_waits: u64,
    /// Bytes held by resident blocks.
    pub size: u64,
    /// The target size `c`: what the cache aims to hold.
    pub c: u64,
    /// The target size of the recency list, `p`.
    pub p: u64,
    /// The lower bound of `c` (arc_min).
    pub c_min: u64,
    /// The upper bound of `c` (arc_max).
    pub c_max: u64,
    /// Bytes in the recency list (T1).
    pub mru_size: u64,
    /// Bytes in the frequency list (T2).
    pub mfu_size: u64,
    /// Bytes remembered by the recency ghost list (B1); not resident.
    pub mru_ghost_size: u64,
    /// Bytes remembered by the frequency ghost list (B2); not resident.
    pub mfu_ghost_size: u64,
    /// Blocks in T1.
    pub mru_entries: u64,
    /// Blocks in T2.
    pub mfu_entries: u64,
    /// Keys in B1.
    pub mru_ghost_entries: u64,
    /// Keys in B2.
    pub mfu_ghost_entries: u64,
    /// Blocks evicted.
    pub evictions: u64,
    /// Bytes evicted.
    pub evicted_bytes: u64,
    /// Times eviction skipped a block because a reader still held it.
    pub evict_skipped_pinned: u64,
    /// Bytes evicted because the machine was short of memory.
    pub memory_given_back: u64,
    /// Times the target was lowered because of memory pressure.
    pub pressure_shrinks: u64,
    /// Prefetch requests for blocks already cached or in flight (no I/O).
    pub prefetch_hits: u64,
    /// Prefetch requests that issued a read.
    pub prefetch_misses: u64,
    /// Prefetched blocks later read on demand (read-ahead that paid off).
    pub prefetch_used: u64,
    /// Prefetched blocks evicted before any demand read.
    pub prefetch_wasted: u64,
    /// Number of independent ARC shards.
    pub shards: u64,
}

impl ArcStats {
    /// Demand reads: hits plus misses.
    pub fn reads(&self) -> u64 {
        self.hits + self.misses
    }

    /// Hits as a fraction of demand reads (0 when there were none).
    pub fn hit_ratio(&self) -> f64 {
        match self.reads() {
            0 => 0.0,
            n => self.hits as f64 / n as f64,
        }
    }

    /// Encodes the snapshot as JSON (the `-j` output).
    pub fn to_json(&self) -> Result<String, crate::ArcError> {
        Ok(serde_json::to_string(self)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hit_ratio_handles_no_reads() {
        let mut s = ArcStats::default();
        assert_eq!(s.hit_ratio(), 0.0);
        s.hits = 3;
        s.misses = 1;
        assert_eq!(s.reads(), 4);
        assert!((s.hit_ratio() - 0.75).abs() < 1e-12);
    }

    #[test]
    fn json_round_trips() {
        let s = ArcStats {
            hits: 1,
            c: 4096,
            mfu_ghost_hits: 7,
            ..ArcStats::default()
        };
        let text = s.to_json().expect("encodes");
        assert!(text.contains("\"mfu_ghost_hits\":7"));
        let back: ArcStats = serde_json::from_str(&text).expect("decodes");
        assert_eq!(back, s);
    }
}
