//! ZAP objects against a BTreeMap: inserts, updates, removes, lookups and
//! resumable iteration, through micro and fat forms, syncs and an import.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use basin_dmu::accounting::FreeAtOnce;
use basin_dmu::cache::BlockCache;
use basin_dmu::objset_phys::ObjsetType;
use basin_dmu::zap::Zap;
use basin_dmu::{ObjectType, Objset};
use basin_pool::import::scan_devices;
use basin_pool::spec::{DeviceSpec, TopKind, TopSpec};
use basin_pool::vdev::mem::MemDevice;
use basin_pool::vdev::BlockDevice;
use basin_pool::{BlkPtr, CreateOptions, ImportOptions, Pool, PoolTunables, Syncer, VdevSpec};
use parking_lot::Mutex;
use rand::{Rng, SeedableRng};

struct OsSyncer {
    os: Mutex<Option<Arc<Objset>>>,
    cache: Arc<BlockCache>,
}

impl Syncer for OsSyncer {
    fn sync(&self, pool: &Pool, txg: u64) -> basin_pool::Result<Option<BlkPtr>> {
        let Some(os) = self.os.lock().clone() else {
            return Ok(None);
        };
        let acct = FreeAtOnce {
            pool,
            cache: &self.cache,
        };
        let r = os
            .sync(txg, &acct)
            .map_err(|e| basin_pool::PoolError::Unsupported(e.to_string()))?;
        os.synced(txg);
        Ok(r)
    }
}

fn setup(devs: &[Arc<dyn BlockDevice>], import: bool) -> (Pool, Arc<Objset>, Arc<OsSyncer>) {
    let tunables = PoolTunables {
        sync_interval: Duration::from_secs(3600),
        ..PoolTunables::for_tests()
    };
    let pool = if import {
        Pool::import(
            &scan_devices(devs)[0],
            &ImportOptions {
                tunables,
                ..Default::default()
            },
        )
        .unwrap()
    } else {
        let spec = VdevSpec {
            tops: vec![TopSpec {
                kind: TopKind::Single,
                devices: vec![DeviceSpec::Device(devs[0].clone())],
            }],
        };
        Pool::create(
            "zap",
            &spec,
            &CreateOptions {
                tunables,
                ..Default::default()
            },
        )
        .unwrap()
    };
    let cache = Arc::new(BlockCache::new(256 << 20).unwrap());
    let os = Objset::open(
        pool.clone(),
        cache.clone(),
        "zap",
        pool.user_root(),
        ObjsetType::Meta,
        false,
    )
    .unwrap();
    let s = Arc::new(OsSyncer {
        os: Mutex::new(Some(os.clone())),
        cache,
    });
    pool.set_syncer(Some(s.clone()));
    (pool, os, s)
}

#[test]
fn zap_matches_a_btreemap() {
    let devs: Vec<Arc<dyn BlockDevice>> = vec![Arc::new(MemDevice::new("m", 512 << 20))];
    let (pool, os, s) = setup(&devs, false);
    let txg = pool.txg().hold_raw();
    let id = Zap::create(&os, txg, ObjectType::DIRECTORY).unwrap();
    pool.txg().release(txg);
    let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for round in 0..6 {
        let txg = pool.txg().hold_raw();
        let z = Zap::new(&os, id);
        for _ in 0..8000 {
            let k = format!("file-{}", rng.gen_range(0..30_000)).into_bytes();
            match rng.gen_range(0..10) {
                0..=5 => {
                    let v = vec![rng.gen::<u8>(); rng.gen_range(0..40)];
                    let r = z.insert(txg, &k, &v);
                    match model.entry(k) {
                        std::collections::btree_map::Entry::Occupied(_) => {
                            assert!(r.is_err(), "duplicate insert must fail")
                        }
                        std::collections::btree_map::Entry::Vacant(e) => {
                            r.unwrap();
                            e.insert(v);
                        }
                    }
                }
                6..=7 => {
                    assert_eq!(z.remove(txg, &k).unwrap(), model.remove(&k).is_some());
                }
                _ => {
                    let v = vec![round as u8; 8];
                    z.update(txg, &k, &v).unwrap();
                    model.insert(k, v);
                }
            }
        }
        pool.txg().release(txg);
        pool.sync().unwrap();
        let z = Zap::new(&os, id);
        assert_eq!(z.count().unwrap(), model.len() as u64);
        for (k, v) in model.iter().take(2000) {
            assert_eq!(z.lookup(k).unwrap().as_ref(), Some(v));
        }
        assert_eq!(z.lookup(b"absent").unwrap(), None);
    }
    // Iteration in pages resumes exactly where it stopped.
    let z = Zap::new(&os, id);
    let mut seen = BTreeMap::new();
    let mut cookie = 0;
    loop {
        let page = z.list_from(cookie, 777).unwrap();
        if page.is_empty() {
            break;
        }
        for e in &page {
            assert!(
                seen.insert(e.name.clone(), e.value.clone()).is_none(),
                "entry listed twice"
            );
        }
        cookie = page.last().unwrap().cookie + 1;
    }
    assert_eq!(seen, model);
    // Everything survives export and import.
    *s.os.lock() = None;
    pool.export().unwrap();
    let (pool, os, _s) = setup(&devs, true);
    let z = Zap::new(&os, id);
    let all: BTreeMap<Vec<u8>, Vec<u8>> = z
        .list()
        .unwrap()
        .into_iter()
        .map(|e| (e.name, e.value))
        .collect();
    assert_eq!(all, model);
    pool.export().unwrap();
}

#[test]
fn bad_names_and_values_are_refused() {
    let devs: Vec<Arc<dyn BlockDevice>> = vec![Arc::new(MemDevice::new("m", 128 << 20))];
    let (pool, os, _s) = setup(&devs, false);
    let txg = pool.txg().hold_raw();
    let id = Zap::create(&os, txg, ObjectType::ZAP).unwrap();
    let z = Zap::new(&os, id);
    assert!(z.insert(txg, b"", b"x").is_err());
    assert!(z.insert(txg, &vec![b'a'; 2000], b"x").is_err());
    assert!(z.insert(txg, b"k", &vec![0; 5000]).is_err());
    assert_eq!(z.count().unwrap(), 0);
    pool.txg().release(txg);
}
