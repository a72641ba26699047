//! Who pays for a block: the object set sync reports every block it writes
//! (born) and every block it replaces or frees (killed); the owner decides
//! whether a killed block is freed at once or kept for a snapshot.

use basin_pool::{BlkPtr, Pool};

use crate::cache::BlockCache;

/// Receives the births and deaths of an object set's blocks during sync.
pub trait BlockAccounting: Send + Sync {
    /// A block was written in `txg`.
    fn born(&self, bp: &BlkPtr, txg: u64);
    /// A block stopped being referenced by the object set in `txg`.
    fn killed(&self, bp: &BlkPtr, txg: u64);
}

/// Accounting for object sets nothing snapshots (the meta object set):
/// every killed block is freed.
pub struct FreeAtOnce<'a> {
    /// The pool.
    pub pool: &'a Pool,
    /// The cache to drop freed blocks from.
    pub cache: &'a BlockCache,
}

impl BlockAccounting for FreeAtOnce<'_> {
    fn born(&self, _bp: &BlkPtr, _txg: u64) {}

    fn killed(&self, bp: &BlkPtr, txg: u64) {
        if !bp.is_hole() {
            self.cache.forget(self.pool, bp);
            self.pool.free_block(txg, bp);
        }
    }
}
