//! The dataset layer's side of a scrub or resilver: it lists every block
//! of the synced tree (the meta object set, then every filesystem, volume
//! and snapshot) with its owner, read from a read-only view opened at the
//! pool's synced root, so the listing never sees half-written state.

use std::collections::HashSet;
use std::sync::Arc;

use basin_pool::scan::{BlockLister, BlockOwner, ScanBlock};
use basin_pool::{BlkPtr, Pool};

use crate::cache::BlockCache;
use crate::dsl::DslPool;
use crate::error::{DmuError, Result};
use crate::objset::Objset;
use crate::objset_phys::ObjsetType;

/// Lists blocks for the pool's scans.
pub struct DslLister {
    cache: Arc<BlockCache>,
}

impl DslLister {
    /// A lister reading metadata through `cache`.
    pub fn new(cache: Arc<BlockCache>) -> DslLister {
        DslLister { cache }
    }

    fn list_all(
        &self,
        pool: &Pool,
        min_birth: u64,
        visit: &mut dyn FnMut(ScanBlock),
    ) -> Result<()> {
        let root = pool.user_root();
        if root.is_hole() || root.birth < min_birth {
            return Ok(());
        }
        let view = DslPool::open_view(pool.clone(), self.cache.clone(), root)?;
        let emit = |objset: u64| {
            move |bp: &BlkPtr, object: u64, level: u8, blkid: u64| ScanBlock {
                bp: *bp,
                owner: BlockOwner {
                    objset,
                    object,
                    level,
                    blkid,
                },
            }
        };
        let mos = emit(0);
        view.mos()
            .scan_blocks(min_birth, &mut |bp, o, l, b| visit(mos(bp, o, l, b)))?;
        let datasets: Vec<(u64, BlkPtr)> =
            view.with_state(|st| st.datasets.iter().map(|(id, d)| (*id, d.phys.bp)).collect());
        // Snapshots share their root with the head until it changes.
        let mut seen: HashSet<(u32, u64)> = HashSet::new();
        for (id, bp) in datasets {
            if bp.is_hole()
                || bp.birth < min_birth
                || !seen.insert((bp.dva[0].vdev, bp.dva[0].offset))
            {
                continue;
            }
            let os = Objset::open(
                pool.clone(),
                self.cache.clone(),
                "scan",
                bp,
                ObjsetType::Filesystem,
                true,
            )?;
            let f = emit(id);
            os.scan_blocks(min_birth, &mut |bp, o, l, b| visit(f(bp, o, l, b)))?;
        }
        Ok(())
    }
}

impl BlockLister for DslLister {
    fn list(
        &self,
        pool: &Pool,
        min_birth: u64,
        _max_birth: u64,
        visit: &mut dyn FnMut(ScanBlock),
    ) -> basin_pool::Result<()> {
        self.list_all(pool, min_birth, visit).map_err(|e| match e {
            DmuError::Pool(p) => p,
            other => basin_pool::PoolError::Unsupported(format!("listing blocks: {other}")),
        })
    }
}
