//! An imported pool with its dataset layer: the pool and the `DslPool`
//! installed as its syncer, kept side by side in the registry.
//!
//! The dataset layer holds the pool and the pool holds the dataset layer
//! (as its syncer), so every way out (export, destroy, close at shutdown)
//! syncs a last time and then clears the syncer, or neither would ever be
//! freed.

use std::sync::Arc;

use basin_dmu::cache::BlockCache;
use basin_dmu::{DmuError, DslPool};
use basin_pool::{Pool, PoolError};

/// A pool and its dataset layer.
#[derive(Clone)]
pub struct Imported {
    /// The pool.
    pub pool: Pool,
    /// Its dataset layer (the pool's syncer).
    pub dsl: Arc<DslPool>,
}

impl Imported {
    /// Sets up the dataset layer of a new pool: its root filesystem gets
    /// `root_props` (`zpool create -O`).
    pub fn init(
        pool: Pool,
        cache: Arc<BlockCache>,
        root_props: &[(String, String)],
    ) -> Result<Imported, DmuError> {
        let dsl = DslPool::init(pool.clone(), cache, root_props)?;
        Ok(Imported { pool, dsl })
    }

    /// Opens the dataset layer of an imported pool. A pool that never had
    /// one (created before the daemon knew datasets) gets a fresh one.
    pub fn open(pool: Pool, cache: Arc<BlockCache>) -> Result<Imported, DmuError> {
        let dsl = if pool.user_root().is_hole() {
            DslPool::init(pool.clone(), cache, &[])?
        } else {
            DslPool::open(pool.clone(), cache)?
        };
        Ok(Imported { pool, dsl })
    }

    /// Syncs what is open, then uninstalls the dataset layer.
    fn detach(&self) -> Result<(), PoolError> {
        self.pool.sync()?;
        self.pool.set_syncer(None);
        Ok(())
    }

    fn reattach(&self) {
        self.pool.set_syncer(Some(self.dsl.clone()));
    }

    /// Exports the pool; on failure it stays imported, dataset layer and
    /// all.
    pub fn export(&self) -> Result<(), PoolError> {
        self.detach()?;
        self.pool.export().inspect_err(|_| self.reattach())
    }

    /// Destroys the pool (its devices are closed whatever happens).
    pub fn destroy(&self) -> Result<(), PoolError> {
        let _ = self.pool.sync();
        self.pool.set_syncer(None);
        self.pool.destroy()
    }

    /// Syncs and closes the pool, leaving it active for the next start.
    pub fn close(&self) -> Result<(), PoolError> {
        let synced = self.pool.sync();
        self.pool.set_syncer(None);
        let closed = self.pool.close();
        synced.and(closed)
    }

    /// The pool's name.
    pub fn name(&self) -> &str {
        self.pool.name()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use basin_pool::spec::{DeviceSpec, TopKind, TopSpec};
    use basin_pool::vdev::mem::MemDevice;
    use basin_pool::{CreateOptions, PoolTunables, VdevSpec};

    /// A pool on a memory device, with its dataset layer.
    pub(crate) fn mem_imported(name: &str) -> Imported {
        let dev = Arc::new(MemDevice::new(name, 64 << 20));
        let spec = VdevSpec {
            tops: vec![TopSpec {
                kind: TopKind::Single,
                devices: vec![DeviceSpec::Device(dev)],
            }],
        };
        let pool = Pool::create(
            name,
            &spec,
            &CreateOptions {
                tunables: PoolTunables::for_tests(),
                ..Default::default()
            },
        )
        .unwrap();
        let cache = Arc::new(BlockCache::new(16 << 20).unwrap());
        Imported::init(pool, cache, &[]).unwrap()
    }

    #[test]
    fn closing_clears_the_syncer() {
        let imp = mem_imported("tank");
        imp.dsl.create("tank/a", None, &[], false).unwrap();
        let weak = Arc::downgrade(&imp.dsl);
        let pool = imp.pool.clone();
        imp.close().unwrap();
        drop(imp);
        // Nothing holds the dataset layer any more: no cycle through the
        // pool's syncer.
        assert!(weak.upgrade().is_none());
        assert!(pool.sync().is_err());
    }
}
