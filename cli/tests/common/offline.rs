//! Pools built in this process with the DMU (no daemon), for what the
//! commands cannot do yet (write objects) or would take too long (10,000
//! snapshots); exported, then imported by a test's daemon.

use std::path::Path;
use std::sync::Arc;

use basin_dmu::cache::BlockCache;
use basin_dmu::{DslPool, ObjectType};
use basin_pool::{CreateOptions, Pool, PoolTunables, VdevSpec};

/// A pool open in this process.
pub struct Offline {
    pub pool: Pool,
    pub dsl: Arc<DslPool>,
}

impl Offline {
    /// Creates pool `name` on the file `vdev`.
    pub fn create(vdev: &Path, name: &str) -> Offline {
        let spec = VdevSpec::parse(&[vdev.display().to_string()]).unwrap();
        let pool = Pool::create(
            name,
            &spec,
            &CreateOptions {
                tunables: PoolTunables::for_tests(),
                ..CreateOptions::default()
            },
        )
        .unwrap();
        let cache = Arc::new(BlockCache::new(64 << 20).unwrap());
        let dsl = DslPool::init(pool.clone(), cache, &[]).unwrap();
        Offline { pool, dsl }
    }

    /// Writes `data` at offset 0 of object `obj` of `ds` (created if
    /// missing).
    pub fn write(&self, ds: &str, obj: u64, data: &[u8]) {
        let os = self.dsl.objset(ds).unwrap();
        let id = self.dsl.dataset_id(ds).unwrap();
        let tx = self.dsl.assign(id, data.len() as u64, false).unwrap();
        if !os.exists(obj).unwrap() {
            os.claim_object(tx.txg(), obj, ObjectType::PLAIN_FILE, 512, 0, &[])
                .unwrap();
        }
        os.write(tx.txg(), obj, 0, data).unwrap();
    }

    /// Frees object `obj` of `ds`.
    pub fn free(&self, ds: &str, obj: u64) {
        let os = self.dsl.objset(ds).unwrap();
        let id = self.dsl.dataset_id(ds).unwrap();
        let tx = self.dsl.assign(id, 0, true).unwrap();
        os.free_object(tx.txg(), obj).unwrap();
    }

    /// Syncs, detaches the dataset layer and exports the pool.
    pub fn export(self) {
        self.pool.sync().unwrap();
        self.pool.set_syncer(None);
        self.pool.export().unwrap();
    }
}
