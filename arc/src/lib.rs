//! Basin's adaptive replacement cache (ARC).
//!
//! The DMU asks this cache for every block before it asks the pool. It follows
//! the ideas of Megiddo and Modha, "ARC: A Self-Tuning, Low Overhead
//! Replacement Cache" (USENIX FAST '03): a recency list T1 (blocks seen
//! once), a frequency list T2 (blocks seen at least twice), ghost lists B1
//! and B2 remembering what was recently evicted from each, and a target `p`
//! for T1's share that moves toward whichever ghost list gets hits. Blocks
//! seen only once stay in T1, so one long sequential read cannot flush the
//! blocks that are used again and again.
//!
//! # Bounded in bytes
//!
//! Blocks have different sizes, so every size, target and adaptation step is
//! in bytes (the rules are spelled out in `state.rs`); with blocks of one byte
//! each they are exactly the paper's rules for pages (ratios rounded down),
//! which the tests check step by step against a literal transcription of the
//! paper.
//!
//! # Concurrency: shards
//!
//! Every ARC hit moves its block to the head of a list, so a hit writes shared
//! state; one lock around one ARC would serialise every reader of the system.
//! The cache is instead split by key hash into independent shards (eight per
//! CPU by default, a power of two), each an exact ARC with its own lock, its
//! own lists and its share of the byte budget. A hit costs one hash, one
//! uncontended lock of one shard, a table probe and a list splice; readers on
//! different cores rarely meet on a shard. With many blocks per shard, the
//! shards see statistically identical slices of the workload, so the hit
//! ratio stays that of one ARC of the whole size (the trace replayer in
//! `bench/` measures both); a cache of one shard is exactly the paper's ARC.
//! Small caches get fewer shards, so that each holds enough blocks to adapt.
//!
//! Alternatives we did not take: a lock-free hit path that defers list
//! updates into per-thread buffers (more complex, and ARC's decisions would
//! lag behind its inputs), or CLOCK-style approximations (no longer ARC).
//!
//! # Values, pins and loads
//!
//! Values are handed out as `Arc<V>` where `V: Weighted` (reports its size).
//! While a caller holds a value's `Arc`, the block is pinned: eviction skips
//! it. [`ArcCache::get_or_load`] runs a loader on a miss without holding any
//! lock, and a second caller missing on the same block waits for that load
//! instead of issuing its own. [`ArcCache::prefetch`] loads a block as
//! read-ahead; [`Prefetcher`] detects the sequential streams that deserve it.
//!
//! # Memory
//!
//! arc_min and arc_max are set at run time ([`ArcCache::set_limits`]); the
//! target `c` lives between them. [`PressureMonitor`] watches
//! `/proc/pressure/memory` and `/proc/meminfo` and lowers the target when the
//! machine runs short, raising it again when the pressure is gone.
//! [`ArcStats`] counts everything; [`format_arcstat`] prints it like
//! `arcstat`, and `ArcStats` serialises to JSON for `-j`.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use basin_arc::{ArcCache, ArcConfig};
//!
//! let cache: ArcCache<u64, Vec<u8>> = ArcCache::new(ArcConfig::new(64 << 20))?;
//! // Errors are shared with concurrent waiters, so they must be `Clone`:
//! // wrap an `io::Error` in an `Arc`.
//! let read = || -> Result<Vec<u8>, Arc<std::io::Error>> { Ok(vec![0u8; 4096]) };
//! let block = cache.get_or_load(7, read)?;
//! assert_eq!(block.len(), 4096);
//! assert!(cache.get(&7).is_some());
//! cache.remove(&7); // the block was freed
//! assert_eq!(cache.stats().hits, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod arcstat;
mod cache;
mod error;
mod inflight;
mod list;
mod prefetch;
mod pressure;
#[cfg(test)]
mod reference;
mod state;
mod stats;
mod weight;

pub use arcstat::{format_arcstat, ArcstatOptions, ARCSTAT_COLUMNS, ARCSTAT_DEFAULT_COLUMNS};
pub use cache::{ArcCache, ArcConfig, MAX_SHARDS, MIN_SHARD_BYTES};
pub use error::ArcError;
pub use prefetch::{PrefetchConfig, Prefetcher};
pub use pressure::{
    parse_meminfo, parse_psi, MemReading, MemorySource, PressureDecision, PressureMonitor,
    PressurePolicy, ProcMemorySource,
};
pub use stats::ArcStats;
pub use weight::Weighted;
