//! The DMU's block cache: every block read goes through the ARC first,
//! keyed by where the block lives and when it was born (a block's address
//! and birth never change, so a cached copy is never stale).

use std::sync::Arc;

use basin_arc::{
    ArcCache, ArcConfig, ArcStats, PressureMonitor, PressurePolicy, ProcMemorySource, Weighted,
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

/// The ARC in front of the pools.
pub struct BlockCache {
    arc: Arc<ArcCache<BlockKey, CachedBlock>>,
}

impl BlockCache {
    /// A cache of at most `max` bytes.
    pub fn new(max: u64) -> Result<BlockCache> {
        let arc = ArcCache::new(ArcConfig::new(max.max(1 << 20)))
            .map_err(|e| DmuError::Invalid(format!("cannot build the ARC: {e}")))?;
        Ok(BlockCache { arc: Arc::new(arc) })
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

    /// Loads a block as read-ahead, if it is not cached yet.
    pub fn prefetch(&self, pool: &Pool, bp: &BlkPtr) {
        if bp.is_hole() {
            return;
        }
        let key = BlockKey::of(pool.instance(), bp);
        let _ = self.arc.prefetch(key, || {
            pool.read_block_class(bp, IoClass::AsyncRead)
                .map(|b| CachedBlock(Arc::new(b)))
        });
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
