//! Self-healing and rewinding: damage on one side of a mirror is read
//! around, repaired and counted; a damaged newest txg falls back to older
//! ones, which deferred frees keep intact.

mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use basin_pool::import::scan_devices;
use basin_pool::label::FRONT_RESERVE;
use basin_pool::labelio;
use basin_pool::spec::{DeviceSpec, TopKind, TopSpec};
use basin_pool::vdev::mem::MemDevice;
use basin_pool::vdev::BlockDevice;
use basin_pool::{CreateOptions, ImportOptions, Pool, PoolTunables, VdevSpec};
use common::{decode_root, read_tree, Model, Workload};
use rand::{Rng, SeedableRng};

const MIB: u64 = 1 << 20;

fn tunables() -> PoolTunables {
    PoolTunables {
        sync_interval: Duration::from_secs(3600),
        ..PoolTunables::for_tests()
    }
}

fn make(kind: TopKind, n: usize) -> (Vec<Arc<MemDevice>>, Pool) {
    let devs: Vec<Arc<MemDevice>> = (0..n)
        .map(|i| Arc::new(MemDevice::new(&format!("m{i}"), 64 * MIB)))
        .collect();
    let spec = VdevSpec {
        tops: vec![TopSpec {
            kind,
            devices: devs.iter().map(|d| DeviceSpec::Device(d.clone())).collect(),
        }],
    };
    let opts = CreateOptions {
        tunables: tunables(),
        ..Default::default()
    };
    let pool = Pool::create("heal", &spec, &opts).unwrap();
    (devs, pool)
}

fn dyns(devs: &[Arc<MemDevice>]) -> Vec<Arc<dyn BlockDevice>> {
    devs.iter()
        .map(|d| d.clone() as Arc<dyn BlockDevice>)
        .collect()
}

#[test]
fn mirror_reads_around_damage_and_repairs_it() {
    let (devs, pool) = make(TopKind::Mirror, 2);
    let w = Workload::new();
    pool.set_syncer(Some(w.clone()));
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    for id in 0..200u64 {
        w.write(id, rng.gen(), 512 * rng.gen_range(1..64));
    }
    pool.sync().unwrap();
    let model = w.model_after_pending();
    pool.export().unwrap();

    // Overwrite a random third of the data blocks on side 0 with garbage.
    let pool = Pool::import(
        &scan_devices(&dyns(&devs))[0],
        &ImportOptions {
            tunables: tunables(),
            ..Default::default()
        },
    )
    .unwrap();
    let root = decode_root(&pool.read_block(&pool.user_root()).unwrap());
    let mut damaged = 0u64;
    for (_, (bp, _, _)) in root.iter() {
        if rng.gen_bool(0.33) {
            let d = bp.dva[0];
            let junk: Vec<u8> = (0..d.asize).map(|_| rng.gen()).collect();
            devs[0].corrupt(FRONT_RESERVE + d.offset, &junk);
            damaged += 1;
        }
    }
    assert!(damaged > 30);
    // Every read returns the right bytes, whichever side it tries first.
    for _ in 0..2 {
        let (got, _) = read_tree(&pool).unwrap();
        assert_eq!(got, model);
    }
    let side0 = &pool.vdevs()[0].children[0];
    let cksum = side0.errors.checksum.load(Ordering::Relaxed);
    assert!(
        cksum >= damaged / 2 && cksum <= damaged,
        "{cksum} checksum errors for {damaged} damaged blocks"
    );
    assert!(pool.stats().repaired.load(Ordering::Relaxed) > 0);
    pool.export().unwrap();

    // The damage was rewritten: side 0 alone now holds every block.
    let only0 = vec![devs[0].clone() as Arc<dyn BlockDevice>];
    let found = scan_devices(&only0);
    let pool = Pool::import(
        &found[0],
        &ImportOptions {
            tunables: tunables(),
            ..Default::default()
        },
    )
    .unwrap();
    // Blocks read first from side 1 were not noticed; read twice more so
    // that the rotor sends every block to side 0 at least once.
    for _ in 0..2 {
        let _ = read_tree(&pool);
    }
    let (got, _) = read_tree(&pool).unwrap();
    assert_eq!(got, model);
    assert_eq!(pool.health(), basin_pool::Health::Degraded);
}

#[test]
fn single_device_damage_is_an_error_never_wrong_data() {
    let (devs, pool) = make(TopKind::Single, 1);
    let w = Workload::new();
    pool.set_syncer(Some(w.clone()));
    for id in 0..20u64 {
        w.write(id, id + 1, 8192);
    }
    pool.sync().unwrap();
    let root = decode_root(&pool.read_block(&pool.user_root()).unwrap());
    let (bp, _, _) = root[&3];
    devs[0].corrupt(FRONT_RESERVE + bp.dva[0].offset + 100, b"rot");
    let e = pool.read_block(&bp).unwrap_err();
    assert_eq!(e.errno(), libc::EIO, "{e}");
    assert!(
        pool.vdevs()[0].children[0]
            .errors
            .checksum
            .load(Ordering::Relaxed)
            >= 1
    );
    // The root itself has two copies on the one device: it survives rot.
    let rbp = pool.user_root();
    devs[0].corrupt(FRONT_RESERVE + rbp.dva[0].offset, &[0u8; 512]);
    assert!(pool.read_block(&rbp).is_ok());
}

#[test]
fn import_rewinds_past_damaged_txgs_and_frees_kept_them_intact() {
    let (devs, pool) = make(TopKind::Single, 1);
    let w = Workload::new();
    pool.set_syncer(Some(w.clone()));
    let mut models: Vec<(u64, Model)> = Vec::new();
    let mut rng = rand::rngs::StdRng::seed_from_u64(9);
    // Fill most of the pool, so that the allocator has to reuse freed space.
    for id in 0..24u64 {
        w.write(id, 3 * id + 1, 1 << 20);
    }
    models.push((pool.sync().unwrap(), w.model_after_pending()));
    for _ in 0..8 {
        // Free or rewrite a third of the blocks each txg, so that every txg
        // frees blocks of the one before and the next wants their space.
        let live: Vec<u64> = w.model_after_pending().keys().copied().collect();
        for id in live {
            match rng.gen_range(0..8) {
                0 => w.free(id),
                1 => w.write(id, 3 * rng.gen_range(1..1u64 << 40) + 1, 1 << 20),
                _ => {}
            }
        }
        for _ in 0..2 {
            let id = rng.gen_range(100..10_000);
            w.write(id, 3 * rng.gen_range(1..1u64 << 40) + 2, 1 << 20);
        }
        let m = w.model_after_pending();
        let txg = pool.sync().unwrap();
        models.push((txg, m));
    }
    pool.crash();
    // Wreck the pool roots of the two newest txgs on every copy.
    let mut ubs = labelio::read_uberblocks(devs[0].as_ref(), 12);
    ubs.sort_by_key(|u| std::cmp::Reverse(u.txg));
    ubs.dedup_by_key(|u| u.txg);
    for ub in &ubs[..2] {
        for d in ub.root.copies() {
            devs[0].corrupt(FRONT_RESERVE + d.offset, &vec![0xeeu8; d.asize as usize]);
        }
    }
    let third = ubs[2].txg;
    let pool = Pool::import(
        &scan_devices(&dyns(&devs))[0],
        &ImportOptions {
            tunables: tunables(),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(pool.last_synced_txg(), third);
    let want = &models.iter().find(|(t, _)| *t == third).unwrap().1;
    let (got, bps) = read_tree(&pool).unwrap();
    assert_eq!(&got, want);
    let c = pool.check_space(&bps).unwrap();
    assert!(c.problems.is_empty(), "{:?}", c.problems);
}

/// A read-ahead may carry a pointer to a block freed since, whose space a
/// new block took: what it finds "damaged" there must stay as it is. The
/// same read on demand repairs it (so the test sees a rewrite if one is
/// made).
#[test]
fn read_ahead_repairs_nothing_and_counts_nothing() {
    use basin_pool::vdev::IoClass;
    for (kind, n) in [(TopKind::Mirror, 2usize), (TopKind::Raidz(1), 3)] {
        let (devs, pool) = make(kind, n);
        let w = Workload::new();
        pool.set_syncer(Some(w.clone()));
        for id in 0..8u64 {
            w.write(id, id + 1, 64 * 1024);
        }
        pool.sync().unwrap();
        let root = decode_root(&pool.read_block(&pool.user_root()).unwrap());
        let (bp, _, _) = root[&3];
        let off = bp.dva[0].offset;
        // "Another block" lands over the first data column (the mirror's
        // first side; on raidz1 the child after the parity column).
        let (dev, at) = if kind == TopKind::Mirror {
            (0, FRONT_RESERVE + off)
        } else {
            let sector = off >> 12;
            (
                ((sector + 1) % n as u64) as usize,
                FRONT_RESERVE + ((sector / n as u64) << 12),
            )
        };
        let new: Vec<u8> = (0..4096u32).map(|i| (i % 251) as u8).collect();
        devs[dev].corrupt(at, &new);
        let on_disk = |d: &MemDevice| {
            let mut b = vec![0u8; new.len()];
            d.read_at(at, &mut b).unwrap();
            b
        };
        let errors = |p: &Pool| -> u64 {
            p.vdevs()[0]
                .children
                .iter()
                .map(|l| l.errors.checksum.load(Ordering::Relaxed))
                .sum()
        };
        for _ in 0..3 {
            let _ = pool.read_block_class(&bp, IoClass::AsyncRead);
        }
        assert!(
            on_disk(&devs[dev]) == new,
            "{kind:?}: a read-ahead rewrote the device"
        );
        assert_eq!(errors(&pool), 0, "{kind:?}: a read-ahead counted errors");
        assert_eq!(pool.stats().repaired.load(Ordering::Relaxed), 0);
        // On demand, the damage is found and repaired.
        for _ in 0..3 {
            pool.read_block_class(&bp, IoClass::SyncRead).unwrap();
        }
        assert!(
            on_disk(&devs[dev]) != new,
            "{kind:?}: a demand read did not repair"
        );
        assert!(errors(&pool) > 0);
        pool.export().unwrap();
    }
}
