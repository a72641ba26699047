//! Pools for DMU tests: memory devices, a dataset layer, helpers to write
//! files (objects) and to check every space figure.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use basin_dmu::cache::BlockCache;
use basin_dmu::{DslPool, ObjectType};
use basin_pool::import::scan_devices;
use basin_pool::spec::{DeviceSpec, TopKind, TopSpec};
use basin_pool::vdev::mem::MemDevice;
use basin_pool::vdev::BlockDevice;
use basin_pool::{CreateOptions, ImportOptions, Pool, PoolTunables, VdevSpec};

pub fn tunables() -> PoolTunables {
    PoolTunables {
        sync_interval: Duration::from_secs(3600),
        ..PoolTunables::for_tests()
    }
}

pub struct TestPool {
    pub devs: Vec<Arc<dyn BlockDevice>>,
    pub pool: Pool,
    pub dsl: Arc<DslPool>,
}

pub fn new_pool(name: &str, size: u64) -> TestPool {
    let devs: Vec<Arc<dyn BlockDevice>> = vec![Arc::new(MemDevice::new("m0", size))];
    let spec = VdevSpec {
        tops: vec![TopSpec {
            kind: TopKind::Single,
            devices: vec![DeviceSpec::Device(devs[0].clone())],
        }],
    };
    let pool = Pool::create(
        name,
        &spec,
        &CreateOptions {
            tunables: tunables(),
            ..Default::default()
        },
    )
    .unwrap();
    let cache = Arc::new(BlockCache::new(128 << 20).unwrap());
    let dsl = DslPool::init(pool.clone(), cache, &[]).unwrap();
    TestPool { devs, pool, dsl }
}

impl TestPool {
    /// Exports and imports again; everything comes back from disk.
    pub fn reimport(self) -> TestPool {
        self.pool.sync().unwrap();
        self.pool.set_syncer(None);
        self.pool.export().unwrap();
        let found = scan_devices(&self.devs);
        let pool = Pool::import(
            &found[0],
            &ImportOptions {
                tunables: tunables(),
                ..Default::default()
            },
        )
        .unwrap();
        let cache = Arc::new(BlockCache::new(128 << 20).unwrap());
        let dsl = DslPool::open(pool.clone(), cache).unwrap();
        TestPool {
            devs: self.devs,
            pool,
            dsl,
        }
    }

    /// Writes `data` at `off` of object `obj` (created when missing) of
    /// dataset `ds`, in its own transaction.
    pub fn write(&self, ds: &str, obj: u64, off: u64, data: &[u8]) {
        self.try_write(ds, obj, off, data).unwrap()
    }

    pub fn try_write(&self, ds: &str, obj: u64, off: u64, data: &[u8]) -> basin_dmu::Result<()> {
        let os = self.dsl.objset(ds)?;
        let id = self.dsl.dataset_id(ds)?;
        let tx = self.dsl.assign(id, data.len() as u64, false)?;
        if !os.exists(obj)? {
            os.claim_object(tx.txg(), obj, ObjectType::PLAIN_FILE, 512, 0, &[])?;
        }
        os.write(tx.txg(), obj, off, data)
    }

    pub fn read(&self, ds: &str, obj: u64, len: usize) -> Vec<u8> {
        let os = self.dsl.objset(ds).unwrap();
        let mut b = vec![0u8; len];
        os.read(obj, 0, &mut b).unwrap();
        b
    }

    pub fn num(&self, ds: &str, prop: &str) -> u64 {
        self.dsl.get_prop(ds, prop).unwrap().exact.parse().unwrap()
    }

    /// Every kept figure agrees with the deadlists; every block is
    /// allocated exactly once and nothing leaks; the root dataset's use,
    /// the MOS and the pool's own metadata add up to the pool's allocation.
    pub fn check(&self) {
        self.pool.sync().unwrap();
        let p = self.dsl.verify_accounting().unwrap();
        assert!(p.is_empty(), "accounting: {p:?}");
        let blocks = self.dsl.all_blocks().unwrap();
        let c = self.pool.check_space(&blocks).unwrap();
        assert!(
            c.problems.is_empty(),
            "space: {:?}",
            &c.problems[..c.problems.len().min(5)]
        );
        // Bytes really allocated for datasets: head and snapshot use of every
        // filesystem (reservations are charges, not allocations).
        let used: u64 = self
            .dsl
            .list(None, true, None)
            .unwrap()
            .iter()
            .filter(|n| !n.contains('@'))
            .map(|n| self.num(n, "usedbydataset") + self.num(n, "usedbysnapshots"))
            .sum();
        let mos = self.dsl.mos_bytes().unwrap();
        let meta: u64 = self
            .pool
            .metadata_blocks()
            .unwrap()
            .iter()
            .map(|b| b.asize())
            .sum();
        assert_eq!(
            used + mos + meta,
            self.pool.space().allocated,
            "used {used} + MOS {mos} + pool metadata {meta}"
        );
    }
}

pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}
