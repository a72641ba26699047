//! Objects against a model: random writes, reads, hole punches, truncates,
//! object creation and deletion, across txg syncs and an export/import;
//! every object's bytes must match a plain `Vec<u8>` after every step.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use basin_dmu::accounting::FreeAtOnce;
use basin_dmu::cache::BlockCache;
use basin_dmu::objset_phys::ObjsetType;
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

fn tunables() -> PoolTunables {
    PoolTunables {
        sync_interval: Duration::from_secs(3600),
        ..PoolTunables::for_tests()
    }
}

fn check(os: &Objset, model: &BTreeMap<u64, Vec<u8>>, ctx: &str) {
    for (id, want) in model {
        let mut got = vec![0xffu8; want.len() + 1000];
        os.read(*id, 0, &mut got).unwrap();
        assert!(got[..want.len()] == want[..], "{ctx}: object {id} differs");
        assert!(
            got[want.len()..].iter().all(|&b| b == 0),
            "{ctx}: object {id} has data past its end"
        );
    }
}

#[test]
fn random_operations_match_the_model() {
    let devs: Vec<Arc<dyn BlockDevice>> = vec![Arc::new(MemDevice::new("m0", 256 << 20))];
    let spec = VdevSpec {
        tops: vec![TopSpec {
            kind: TopKind::Single,
            devices: vec![DeviceSpec::Device(devs[0].clone())],
        }],
    };
    let pool = Pool::create(
        "dmu",
        &spec,
        &CreateOptions {
            tunables: tunables(),
            ..Default::default()
        },
    )
    .unwrap();
    let cache = Arc::new(BlockCache::new(64 << 20).unwrap());
    let os = Objset::open(
        pool.clone(),
        cache.clone(),
        "dmu",
        BlkPtr::default(),
        ObjsetType::Meta,
        false,
    )
    .unwrap();
    os.set_max_blksz(128 * 1024);
    let syncer = Arc::new(OsSyncer {
        os: Mutex::new(Some(os.clone())),
        cache: cache.clone(),
    });
    pool.set_syncer(Some(syncer.clone()));

    let seed: u64 = std::env::var("BASIN_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(42);
    eprintln!("seed {seed} (set BASIN_SEED to replay)");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut model: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
    let mut os = os;
    for step in 0..600 {
        let txg = pool.txg().hold_raw();
        let op = rng.gen_range(0..100);
        if model.is_empty() || op < 8 {
            let blksz = [512u32, 4096, 16384, 131072][rng.gen_range(0..4)];
            let id = os
                .create_object(txg, ObjectType::PLAIN_FILE, blksz, 0, &[])
                .unwrap();
            model.insert(id, Vec::new());
        } else {
            let ids: Vec<u64> = model.keys().copied().collect();
            let id = ids[rng.gen_range(0..ids.len())];
            let len = model[&id].len() as u64;
            match op {
                8..=11 => {
                    os.free_object(txg, id).unwrap();
                    model.remove(&id);
                }
                12..=60 => {
                    let off = if rng.gen_bool(0.3) {
                        len
                    } else {
                        rng.gen_range(0..len + 300_000)
                    };
                    let n = rng.gen_range(1..200_000usize);
                    let data: Vec<u8> = (0..n).map(|i| (i as u64 ^ off ^ step) as u8).collect();
                    os.write(txg, id, off, &data).unwrap();
                    let m = model.get_mut(&id).unwrap();
                    if m.len() < (off as usize + n) {
                        m.resize(off as usize + n, 0);
                    }
                    m[off as usize..off as usize + n].copy_from_slice(&data);
                }
                61..=70 => {
                    // Punch a hole.
                    let off = rng.gen_range(0..len + 1);
                    let n = rng.gen_range(0..len - off + 1);
                    os.free_range(txg, id, off, n).unwrap();
                    let m = model.get_mut(&id).unwrap();
                    m[off as usize..(off + n) as usize].fill(0);
                }
                71..=76 => {
                    // Truncate.
                    let to = rng.gen_range(0..len + 1);
                    os.free_range(txg, id, to, u64::MAX).unwrap();
                    model.get_mut(&id).unwrap().truncate(to as usize);
                }
                _ => {
                    // Read a random range.
                    if len > 0 {
                        let off = rng.gen_range(0..len);
                        let n = rng.gen_range(1..(len - off + 1).min(100_000) + 1) as usize;
                        let mut got = vec![0u8; n];
                        os.read(id, off, &mut got).unwrap();
                        let m = &model[&id];
                        let end = (off as usize + n).min(m.len());
                        assert!(
                            got[..end - off as usize] == m[off as usize..end],
                            "step {step}: read of {id} differs (seed {seed})"
                        );
                    }
                }
            }
        }
        pool.txg().release(txg);
        if rng.gen_bool(0.15) {
            pool.sync().unwrap();
            check(
                &os,
                &model,
                &format!("step {step} after sync (seed {seed})"),
            );
        }
        if step % 200 == 199 {
            // Export and import: everything must come back from disk.
            pool.sync().unwrap();
            *syncer.os.lock() = None;
            pool.export().unwrap();
            let found = scan_devices(&devs);
            let p2 = Pool::import(
                &found[0],
                &ImportOptions {
                    tunables: tunables(),
                    ..Default::default()
                },
            )
            .unwrap();
            let cache2 = Arc::new(BlockCache::new(64 << 20).unwrap());
            os = Objset::open(
                p2.clone(),
                cache2.clone(),
                "dmu",
                p2.user_root(),
                ObjsetType::Meta,
                false,
            )
            .unwrap();
            os.set_max_blksz(128 * 1024);
            check(
                &os,
                &model,
                &format!("step {step} after import (seed {seed})"),
            );
            let s2 = Arc::new(OsSyncer {
                os: Mutex::new(Some(os.clone())),
                cache: cache2,
            });
            p2.set_syncer(Some(s2.clone()));
            // Keep using the new pool.
            syncer.os.lock().take();
            check_space(&p2, &os);
            return_after(&p2, s2, os.clone(), &mut rng, &mut model, seed);
            return;
        }
    }
}

/// Every reachable block accounted for, nothing leaked.
fn check_space(pool: &Pool, os: &Objset) {
    let mut bps = vec![os.root_bp()];
    let mut meta = Vec::new();
    os.object_blocks(0, &mut meta).unwrap();
    bps.extend(meta);
    for id in os.object_ids().unwrap() {
        os.object_blocks(id, &mut bps).unwrap();
    }
    let c = pool.check_space(&bps).unwrap();
    assert!(
        c.problems.is_empty(),
        "{:?}",
        &c.problems[..c.problems.len().min(5)]
    );
}

fn return_after(
    pool: &Pool,
    _s: Arc<OsSyncer>,
    os: Arc<Objset>,
    rng: &mut impl Rng,
    model: &mut BTreeMap<u64, Vec<u8>>,
    seed: u64,
) {
    // A second round on the imported pool, with syncs, then a last check.
    for step in 0..200 {
        let txg = pool.txg().hold_raw();
        let ids: Vec<u64> = model.keys().copied().collect();
        if ids.is_empty() {
            pool.txg().release(txg);
            break;
        }
        let id = ids[rng.gen_range(0..ids.len())];
        let off = rng.gen_range(0..400_000u64);
        let n = rng.gen_range(1..50_000usize);
        let data: Vec<u8> = (0..n).map(|i| (i as u64 * 7 + step) as u8).collect();
        os.write(txg, id, off, &data).unwrap();
        let m = model.get_mut(&id).unwrap();
        if m.len() < off as usize + n {
            m.resize(off as usize + n, 0);
        }
        m[off as usize..off as usize + n].copy_from_slice(&data);
        pool.txg().release(txg);
        if step % 20 == 0 {
            pool.sync().unwrap();
        }
    }
    pool.sync().unwrap();
    check(&os, model, &format!("second round (seed {seed})"));
    check_space(pool, &os);
}

/// A pool on memory devices, one object set and the syncer that syncs it.
type OneObjset = (Vec<Arc<dyn BlockDevice>>, Pool, Arc<Objset>, Arc<OsSyncer>);

/// A pool on one memory device with one object set synced by it.
fn new_objset() -> OneObjset {
    let devs: Vec<Arc<dyn BlockDevice>> = vec![Arc::new(MemDevice::new("m0", 128 << 20))];
    let spec = VdevSpec {
        tops: vec![TopSpec {
            kind: TopKind::Single,
            devices: vec![DeviceSpec::Device(devs[0].clone())],
        }],
    };
    let pool = Pool::create(
        "dmu",
        &spec,
        &CreateOptions {
            tunables: tunables(),
            ..Default::default()
        },
    )
    .unwrap();
    let cache = Arc::new(BlockCache::new(64 << 20).unwrap());
    let os = Objset::open(
        pool.clone(),
        cache.clone(),
        "dmu",
        BlkPtr::default(),
        ObjsetType::Meta,
        false,
    )
    .unwrap();
    os.set_max_blksz(128 * 1024);
    let syncer = Arc::new(OsSyncer {
        os: Mutex::new(Some(os.clone())),
        cache,
    });
    pool.set_syncer(Some(syncer.clone()));
    (devs, pool, os, syncer)
}

/// Found by the ztest-style stress run: an object freed and claimed again
/// in the same txg (as log replay or a caller choosing ids does) read as
/// zeros and vanished at sync, because the txg's record still said
/// "freed" and that won over everything written after the claim.
#[test]
fn an_object_freed_and_claimed_again_in_one_txg_is_the_new_one() {
    let (devs, pool, os, syncer) = new_objset();
    // The old object, with indirect blocks.
    let txg = pool.txg().hold_raw();
    os.claim_object(txg, 5, ObjectType::PLAIN_FILE, 4096, 0, b"old")
        .unwrap();
    os.write(txg, 5, 0, &[1u8; 64 << 10]).unwrap();
    pool.txg().release(txg);
    pool.sync().unwrap();
    // Freed, claimed again with another block size, written: one txg.
    let txg = pool.txg().hold_raw();
    os.free_object(txg, 5).unwrap();
    os.claim_object(txg, 5, ObjectType::PLAIN_FILE, 512, 0, b"new")
        .unwrap();
    os.write(txg, 5, 100, &[2u8; 1000]).unwrap();
    let check_new = |os: &Objset, ctx: &str| {
        assert!(os.exists(5).unwrap(), "{ctx}: object 5 is gone");
        assert_eq!(os.bonus(5).unwrap(), b"new", "{ctx}");
        let mut got = vec![0xffu8; 64 << 10];
        os.read(5, 0, &mut got).unwrap();
        let mut want = vec![0u8; 64 << 10];
        want[100..1100].fill(2);
        assert!(got == want, "{ctx}: object 5 does not hold the new data");
    };
    check_new(&os, "before the sync");
    pool.txg().release(txg);
    pool.sync().unwrap();
    check_new(&os, "after the sync");
    // Its id stays taken, and the old blocks are all freed.
    let txg = pool.txg().hold_raw();
    let id = os
        .create_object(txg, ObjectType::PLAIN_FILE, 512, 0, &[])
        .unwrap();
    assert_ne!(id, 5);
    pool.txg().release(txg);
    pool.sync().unwrap();
    pool.sync().unwrap();
    check_space(&pool, &os);
    // And it all comes back from disk.
    *syncer.os.lock() = None;
    pool.export().unwrap();
    let found = scan_devices(&devs);
    let p2 = Pool::import(
        &found[0],
        &ImportOptions {
            tunables: tunables(),
            ..Default::default()
        },
    )
    .unwrap();
    let os = Objset::open(
        p2.clone(),
        Arc::new(BlockCache::new(16 << 20).unwrap()),
        "dmu",
        p2.user_root(),
        ObjsetType::Meta,
        false,
    )
    .unwrap();
    check_new(&os, "after import");
    check_space(&p2, &os);
    p2.export().unwrap();
}
