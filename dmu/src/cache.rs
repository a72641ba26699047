//! The DMU's block cache: every block read goes through the ARC first,
//! keyed by where the block lives and when it was born (a block's address
//! and birth never change, so a cached copy is never stale).
//!
//! It also reads ahead: the ARC's [`Prefetcher`] watches the block reads of
//! each object, and once a read continues a stream it names blocks to read
//! ahead, which a few threads of the cache load into the ARC (marked as
//! prefetched) while the reader goes on. A demand read of a block being
//! read ahead waits for that read instead of issuing its own.

use std::sync::Arc;

use std::sync::OnceLock;

use basin_arc::{
    ArcCache, ArcConfig, ArcStats, PrefetchConfig, Prefetcher, PressureMonitor, PressurePolicy,
    ProcMemorySource, Weighted,
};
use basin_pool::{AlignedBuf, BlkPtr, IoClass, Pool, PoolError};

use crate::error::{DmuError, Result};

/// Identity of a block in the cache.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct BlockKey {
    /// The pool's opening ([`Pool::instance`]): after an export and an
    /// import nothing cached before is found again.
    pub pool: u64,
    /// First copy's vdev.
    pub vdev: u32,
    /// First copy's offset.
    pub offset: u64,
    /// Birth txg.
    pub birth: u64,
}

impl BlockKey {
    /// The key of a block pointer of `pool`.
    pub fn of(pool: u64, bp: &BlkPtr) -> BlockKey {
        BlockKey {
            pool,
            vdev: bp.dva[0].vdev,
            offset: bp.dva[0].offset,
            birth: bp.birth,
        }
    }
}

/// A cached logical block. Shared: a block just written is cached in the
/// very buffer its write went out from.
pub struct CachedBlock(pub Arc<AlignedBuf>);

impl Weighted for CachedBlock {
    fn weight(&self) -> usize {
        self.0.len()
    }
}

impl std::ops::Deref for CachedBlock {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

/// Threads that load the blocks named by read-ahead.
const READ_AHEAD_THREADS: usize = 16;

/// A block to read ahead, from its pool.
type ReadAheadJob = (Pool, BlkPtr);

/// The ARC in front of the pools.
pub struct BlockCache {
    arc: Arc<ArcCache<BlockKey, CachedBlock>>,
    prefetcher: Prefetcher,
    /// The queue of the read-ahead threads, started at the first use; they
    /// end when the cache goes (and the queue with it).
    read_ahead: OnceLock<crossbeam_channel::Sender<ReadAheadJob>>,
}

impl BlockCache {
    /// A cache of at most `max` bytes.
    pub fn new(max: u64) -> Result<BlockCache> {
        let arc = ArcCache::new(ArcConfig::new(max.max(1 << 20)))
            .map_err(|e| DmuError::Invalid(format!("cannot build the ARC: {e}")))?;
        let prefetcher = Prefetcher::new(PrefetchConfig::default())
            .map_err(|e| DmuError::Invalid(format!("cannot build the prefetcher: {e}")))?;
        Ok(BlockCache {
            arc: Arc::new(arc),
            prefetcher,
            read_ahead: OnceLock::new(),
        })
    }

    /// A cache sized for this machine: an eighth of its memory, at most
    /// 4 GiB.
    pub fn for_machine() -> Result<BlockCache> {
        let mem = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("MemTotal:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|v| v.parse::<u64>().ok())
            })
            .map(|kb| kb * 1024)
            .unwrap_or(2 << 30);
        BlockCache::new((mem / 8).clamp(64 << 20, 4 << 30))
    }

    /// Reads a block through the cache.
    pub fn read(&self, pool: &Pool, bp: &BlkPtr) -> Result<Arc<CachedBlock>> {
        self.read_class(pool, bp, IoClass::SyncRead)
    }

    /// Reads a block through the cache at a given I/O class.
    pub fn read_class(&self, pool: &Pool, bp: &BlkPtr, class: IoClass) -> Result<Arc<CachedBlock>> {
        if bp.is_hole() {
            return Ok(Arc::new(CachedBlock(Arc::new(AlignedBuf::zeroed(
                bp.lsize as usize,
            )))));
        }
        let key = BlockKey::of(pool.instance(), bp);
        self.arc
            .get_or_load(key, || {
                pool.read_block_class(bp, class)
                    .map(|b| CachedBlock(Arc::new(b)))
                    .map_err(Arc::new)
            })
            .map_err(|e: Arc<PoolError>| {
                DmuError::Pool(match Arc::try_unwrap(e) {
                    Ok(p) => p,
                    Err(shared) => PoolError::Checksum(shared.to_string()),
                })
            })
    }

    /// Records a read of `count` blocks of a stream (an object of an object
    /// set, named by `stream`) from block `first`; returns the blocks to
    /// read ahead now, if the read continues a sequential stream.
    pub fn note_read(&self, stream: u64, first: u64, count: u64) -> Option<std::ops::Range<u64>> {
        self.prefetcher.access(stream, first, count)
    }

    /// Forgets the read-ahead streams of `stream` (an object freed).
    pub fn forget_stream(&self, stream: u64) {
        self.prefetcher.forget(stream);
    }

    /// Loads `bp` into the cache in the background (read-ahead), unless it
    /// is cached or being read already.
    pub fn read_ahead(&self, pool: &Pool, bp: BlkPtr) {
        if bp.is_hole() {
            return;
        }
        // A warm sequential read asks for blocks the cache holds: waking a
        // read-ahead thread to find that out costs more than the lookup.
        if self
            .arc
            .prefetch_needless(&BlockKey::of(pool.instance(), &bp))
        {
            return;
        }
        let queue = self.read_ahead.get_or_init(|| {
            let (tx, rx) = crossbeam_channel::unbounded::<ReadAheadJob>();
            for i in 0..READ_AHEAD_THREADS {
                let rx = rx.clone();
                let arc = self.arc.clone();
                let spawned = std::thread::Builder::new()
                    .name(format!("dmu-readahead{i}"))
                    .spawn(move || {
                        for (pool, bp) in rx {
                            let key = BlockKey::of(pool.instance(), &bp);
                            let _ = arc.prefetch(key, || {
                                pool.read_block_class(&bp, IoClass::AsyncRead)
                                    .map(|b| CachedBlock(Arc::new(b)))
                            });
                        }
                    });
                // Without its threads read-ahead does nothing: demand reads
                // still read every block.
                if spawned.is_err() {
                    break;
                }
            }
            tx
        });
        let _ = queue.send((pool.clone(), bp));
    }

    /// Puts a block just written into the cache (the buffer is shared, not
    /// copied: nobody may change it any more).
    pub fn insert(&self, pool: &Pool, bp: &BlkPtr, data: Arc<AlignedBuf>) {
        if !bp.is_hole() {
            self.arc
                .insert(BlockKey::of(pool.instance(), bp), CachedBlock(data));
        }
    }

    /// Drops a freed block.
    pub fn forget(&self, pool: &Pool, bp: &BlkPtr) {
        if !bp.is_hole() {
            self.arc.remove(&BlockKey::of(pool.instance(), bp));
        }
    }

    /// The ARC's counters.
    pub fn stats(&self) -> ArcStats {
        self.arc.stats()
    }

    /// Sets arc_min and arc_max.
    pub fn set_limits(&self, min: u64, max: u64) -> Result<()> {
        self.arc
            .set_limits(min, max)
            .map_err(|e| DmuError::Invalid(e.to_string()))
    }

    /// The ARC itself.
    pub fn arc(&self) -> &ArcCache<BlockKey, CachedBlock> {
        &self.arc
    }

    /// Starts basin-arc's memory-pressure monitor on this cache, reading
    /// `/proc/meminfo` and `/proc/pressure/memory`: the cache gives memory
    /// back when the machine runs short. The monitor stops when dropped.
    pub fn start_pressure_monitor(&self, policy: PressurePolicy) -> Result<PressureMonitor> {
        PressureMonitor::start(&self.arc, Box::new(ProcMemorySource::default()), policy)
            .map_err(|e| DmuError::Invalid(format!("cannot start the ARC pressure monitor: {e}")))
    }
}
