//! Creating, writing, exporting and importing pools, on memory and on files,
//! and the errors bad input gets.

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use basin_pool::import::{scan_devices, scan_dirs};
use basin_pool::label::PoolState;
use basin_pool::spec::{DeviceSpec, TopKind, TopSpec};
use basin_pool::vdev::mem::MemDevice;
use basin_pool::vdev::BlockDevice;
use basin_pool::{CreateOptions, ImportOptions, Pool, PoolError, PoolTunables, VdevSpec};
use common::{read_tree, Workload};
use rand::SeedableRng;

const MIB: u64 = 1 << 20;

fn opts() -> CreateOptions {
    CreateOptions {
        tunables: PoolTunables::for_tests(),
        command: Some("zpool create test".into()),
        ..Default::default()
    }
}

fn iopts() -> ImportOptions {
    ImportOptions {
        tunables: PoolTunables::for_tests(),
        ..Default::default()
    }
}

fn mem_spec(devs: &[Arc<dyn BlockDevice>], kind: TopKind) -> VdevSpec {
    let devices = devs.iter().map(|d| DeviceSpec::Device(d.clone())).collect();
    VdevSpec {
        tops: vec![TopSpec { kind, devices }],
    }
}

fn mem(n: usize, size: u64) -> Vec<Arc<dyn BlockDevice>> {
    (0..n)
        .map(|i| Arc::new(MemDevice::new(&format!("mem{i}"), size)) as Arc<dyn BlockDevice>)
        .collect()
}

#[test]
fn write_export_import_read_back() {
    let devs = mem(2, 128 * MIB);
    let pool = Pool::create("tank", &mem_spec(&devs, TopKind::Mirror), &opts()).unwrap();
    let w = Workload::new();
    pool.set_syncer(Some(w.clone()));
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let mut next = 0;
    for _ in 0..20 {
        w.random_step(&mut rng, &mut next);
        pool.sync().unwrap();
    }
    let model = w.model_after_pending();
    let before = pool.space();
    assert!(before.allocated > 0);
    pool.export().unwrap();
    assert!(matches!(pool.sync(), Err(PoolError::Closed(_))));

    let found = scan_devices(&devs);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].name, "tank");
    assert_eq!(found[0].state, PoolState::Exported);
    let pool = Pool::import(&found[0], &iopts()).unwrap();
    let (got, bps) = read_tree(&pool).unwrap();
    assert_eq!(got, model);
    let check = pool.check_space(&bps).unwrap();
    assert!(check.problems.is_empty(), "{:?}", check.problems);
    assert_eq!(pool.space().allocated, before.allocated);
    let hist = pool.history().unwrap();
    assert_eq!(hist[0].command, "zpool create test");
    pool.export().unwrap();
}

#[test]
fn space_maps_survive_many_condenses() {
    let devs = mem(1, 64 * MIB);
    let mut o = opts();
    o.tunables.condense_logs = 3;
    let pool = Pool::create("tank", &mem_spec(&devs, TopKind::Single), &o).unwrap();
    let w = Workload::new();
    pool.set_syncer(Some(w.clone()));
    let mut rng = rand::rngs::StdRng::seed_from_u64(2);
    let mut next = 0;
    for i in 0..40 {
        w.random_step(&mut rng, &mut next);
        pool.sync().unwrap();
        if i % 10 == 9 {
            let (_, bps) = read_tree(&pool).unwrap();
            let c = pool.check_space(&bps).unwrap();
            assert!(c.problems.is_empty(), "txg {i}: {:?}", c.problems);
        }
    }
    let model = w.model_after_pending();
    pool.export().unwrap();
    let pool = Pool::import(&scan_devices(&devs)[0], &iopts()).unwrap();
    let (got, bps) = read_tree(&pool).unwrap();
    assert_eq!(got, model);
    let c = pool.check_space(&bps).unwrap();
    assert!(c.problems.is_empty(), "{:?}", c.problems);
}

#[test]
fn a_full_pool_refuses_writes_cleanly_and_can_still_free() {
    let devs = mem(1, 64 * MIB);
    let pool = Pool::create("tank", &mem_spec(&devs, TopKind::Single), &opts()).unwrap();
    let txg = pool.txg().open_txg();
    let avail = pool.available(basin_pool::ReserveClass::Normal);
    assert!(avail > 30 * MIB && avail < 64 * MIB);
    let err = pool
        .reserve(txg, avail + 1, basin_pool::ReserveClass::Normal)
        .unwrap_err();
    assert!(matches!(err, PoolError::NoSpace { .. }), "{err}");
    assert_eq!(err.errno(), libc::ENOSPC);
    pool.reserve(txg, avail, basin_pool::ReserveClass::Normal)
        .unwrap();
    // A delete may still reserve from the slop.
    pool.reserve(txg, MIB, basin_pool::ReserveClass::NetFree)
        .unwrap();
}

#[test]
fn a_corrupted_first_label_falls_back_to_the_others() {
    let devs: Vec<Arc<MemDevice>> = (0..1)
        .map(|i| Arc::new(MemDevice::new(&format!("m{i}"), 64 * MIB)))
        .collect();
    let dyns: Vec<Arc<dyn BlockDevice>> = devs
        .iter()
        .map(|d| d.clone() as Arc<dyn BlockDevice>)
        .collect();
    let pool = Pool::create("tank", &mem_spec(&dyns, TopKind::Single), &opts()).unwrap();
    let w = Workload::new();
    pool.set_syncer(Some(w.clone()));
    w.write(1, 11, 4096);
    pool.sync().unwrap();
    pool.export().unwrap();
    // Wreck label 0 entirely (configuration and uberblock ring).
    devs[0].corrupt(0, &vec![0xa5u8; 256 * 1024]);
    let found = scan_devices(&dyns);
    assert_eq!(found.len(), 1);
    let pool = Pool::import(&found[0], &iopts()).unwrap();
    let (got, _) = read_tree(&pool).unwrap();
    assert_eq!(got.len(), 1);
}

fn files(dir: &std::path::Path, n: usize, size: u64) -> Vec<PathBuf> {
    (0..n)
        .map(|i| {
            let p = dir.join(format!("vdev{i}"));
            std::fs::File::create(&p).unwrap().set_len(size).unwrap();
            p
        })
        .collect()
}

fn words(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn file_pool_round_trip_with_direct_io() {
    let dir = tempfile::tempdir().unwrap();
    let paths = files(dir.path(), 2, 96 * MIB);
    let spec = VdevSpec::parse(&words(&[
        "mirror",
        paths[0].to_str().unwrap(),
        paths[1].to_str().unwrap(),
    ]))
    .unwrap();
    let mut o = opts();
    o.tunables.direct_io = true;
    let pool = Pool::create("filepool", &spec, &o).unwrap();
    let w = Workload::new();
    pool.set_syncer(Some(w.clone()));
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    let mut next = 0;
    for _ in 0..5 {
        w.random_step(&mut rng, &mut next);
        pool.sync().unwrap();
    }
    let model = w.model_after_pending();
    // While imported, the vdevs are locked against a second pool.
    let again = Pool::create(
        "other",
        &spec,
        &CreateOptions {
            force: true,
            ..opts()
        },
    );
    assert!(
        matches!(again, Err(PoolError::VdevLocked(_))),
        "{:?}",
        again.err()
    );
    pool.export().unwrap();
    let found = scan_dirs(&[dir.path().to_path_buf()]);
    assert_eq!(found.len(), 1);
    assert!(found[0].missing().is_empty());
    let pool = Pool::import(&found[0], &iopts()).unwrap();
    assert_eq!(read_tree(&pool).unwrap().0, model);
    pool.export().unwrap();
}

#[test]
fn bad_input_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let good = files(dir.path(), 2, 80 * MIB);
    let small = dir.path().join("small");
    std::fs::File::create(&small)
        .unwrap()
        .set_len(8 * MIB)
        .unwrap();
    let g0 = good[0].to_str().unwrap();
    let g1 = good[1].to_str().unwrap();
    let missing = dir.path().join("nope");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (words(&[missing.to_str().unwrap()]), "no such file"),
        (words(&[small.to_str().unwrap()]), "too small"),
        (words(&[g0, g0]), "more than once"),
        (words(&["mirror", g0]), "at least 2"),
        (
            words(&[g0, "mirror", g1, small.to_str().unwrap()]),
            "mismatched replication",
        ),
    ];
    for (w, msg) in cases {
        let r = VdevSpec::parse(&w).and_then(|s| Pool::create("tank", &s, &opts()));
        let e = r.err().expect("must fail").to_string();
        assert!(e.contains(msg), "{w:?}: {e}");
    }
    // A bad name or property is refused before any device is touched.
    let spec = VdevSpec::parse(&words(&[g0])).unwrap();
    assert!(Pool::create("1bad", &spec, &opts()).is_err());
    let mut o = opts();
    o.props.push(("failmode".into(), "sometimes".into()));
    assert!(Pool::create("tank", &spec, &o).is_err());
    o.props = vec![("nosuchprop".into(), "1".into())];
    assert!(Pool::create("tank", &spec, &o).is_err());
    // Nothing was written to the good files.
    for p in &good {
        let data = std::fs::read(p).unwrap();
        assert!(data.iter().all(|&b| b == 0), "{} was written", p.display());
    }
    // A vdev of another pool needs -f.
    let pool = Pool::create("tank", &spec, &opts()).unwrap();
    pool.export().unwrap();
    let e = Pool::create("tank2", &spec, &opts())
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("part of exported pool 'tank'"), "{e}");
    let pool = Pool::create(
        "tank2",
        &spec,
        &CreateOptions {
            force: true,
            ..opts()
        },
    )
    .unwrap();
    pool.destroy().unwrap();
    // A destroyed pool is not offered for import without -D.
    let found = scan_dirs(&[dir.path().to_path_buf()]);
    assert_eq!(found.len(), 1);
    assert!(Pool::import(&found[0], &iopts()).is_err());
    let pool = Pool::import(
        &found[0],
        &ImportOptions {
            destroyed: true,
            ..iopts()
        },
    )
    .unwrap();
    pool.export().unwrap();
}

#[test]
fn pool_properties() {
    let devs = mem(1, 64 * MIB);
    let pool = Pool::create("tank", &mem_spec(&devs, TopKind::Single), &opts()).unwrap();
    assert_eq!(pool.get_property("health").unwrap().value, "ONLINE");
    assert_eq!(pool.get_property("ashift").unwrap().value, "12");
    assert_eq!(pool.get_property("autoexpand").unwrap().value, "off");
    pool.set_property("comment", "hello").unwrap();
    assert!(pool.set_property("size", "1").is_err());
    assert!(pool.set_property("failmode", "x").is_err());
    assert!(pool.get_property("bogus").is_err());
    pool.export().unwrap();
    let pool = Pool::import(&scan_devices(&devs)[0], &iopts()).unwrap();
    let c = pool.get_property("comment").unwrap();
    assert_eq!((c.value.as_str(), c.source.name()), ("hello", "local"));
}

#[test]
fn heartbeat_pools_export_and_close_without_hanging() {
    let dir = tempfile::tempdir().unwrap();
    let paths = files(dir.path(), 1, 64 * MIB);
    let spec = VdevSpec::parse(&words(&[paths[0].to_str().unwrap()])).unwrap();
    let tunables = PoolTunables {
        heartbeat: true,
        ..PoolTunables::for_tests()
    };
    let o = CreateOptions {
        tunables: tunables.clone(),
        ..opts()
    };
    let io = ImportOptions {
        tunables,
        ..iopts()
    };
    let pool = Pool::create("tank", &spec, &o).unwrap();
    pool.export().unwrap();
    // close() syncs but leaves the labels active, as a daemon's shutdown.
    let pool = Pool::import(&scan_dirs(&[dir.path().to_path_buf()])[0], &io).unwrap();
    pool.set_property("comment", "kept").unwrap();
    pool.close().unwrap();
    assert!(matches!(pool.sync(), Err(PoolError::Closed(_))));
    let found = scan_dirs(&[dir.path().to_path_buf()]);
    assert_eq!(found[0].state, PoolState::Active);
    let pool = Pool::import(&found[0], &io).unwrap();
    assert_eq!(pool.get_property("comment").unwrap().value, "kept");
    pool.export().unwrap();
}

#[test]
fn history_and_properties_are_never_lost_to_a_concurrent_sync() {
    let devs = mem(1, 64 * MIB);
    let pool = Pool::create("tank", &mem_spec(&devs, TopKind::Single), &opts()).unwrap();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let syncer = {
        let (pool, stop) = (pool.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                pool.sync().unwrap();
            }
        })
    };
    for i in 0..300 {
        let cmd = format!("zpool set comment=c{i} tank");
        // The record starts a sync that the property change races with.
        pool.log_history(&cmd, false);
        pool.set_property("comment", &format!("c{i}")).unwrap();
        let hist = pool.history().unwrap();
        assert_eq!(
            hist.last().map(|r| r.command.as_str()),
            Some(cmd.as_str()),
            "round {i}"
        );
        pool.sync().unwrap();
        assert_eq!(
            pool.get_property("comment").unwrap().value,
            format!("c{i}"),
            "round {i}"
        );
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    syncer.join().unwrap();
    pool.export().unwrap();
}

/// Found by the ztest-style stress run: a process killed with I/O in
/// flight lets go of its locks on the vdevs a few milliseconds after it is
/// reaped. An import in that moment could not read the locked leaf, left
/// it out and ran DEGRADED; it now waits for the lock, and refuses to
/// import without a leaf that stays locked.
#[test]
fn a_leaf_locked_for_a_moment_is_waited_for_not_left_out() {
    use nix::fcntl::{Flock, FlockArg};
    let dir = tempfile::tempdir().unwrap();
    let paths = files(dir.path(), 2, 96 * MIB);
    let spec = VdevSpec::parse(&words(&[
        "mirror",
        paths[0].to_str().unwrap(),
        paths[1].to_str().unwrap(),
    ]))
    .unwrap();
    let pool = Pool::create("locked", &spec, &opts()).unwrap();
    let w = Workload::new();
    pool.set_syncer(Some(w.clone()));
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    let mut next = 0;
    for _ in 0..3 {
        w.random_step(&mut rng, &mut next);
        pool.sync().unwrap();
    }
    let model = w.model_after_pending();
    pool.export().unwrap();
    let hold = || {
        let f = std::fs::File::open(&paths[1]).unwrap();
        Flock::lock(f, FlockArg::LockExclusiveNonblock).unwrap()
    };

    // Held while the scan runs, let go during the import.
    let lock = hold();
    let found = scan_dirs(&[dir.path().to_path_buf()]);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].missing().len(), 1, "the scan cannot read it");
    let t = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(300));
        drop(lock);
    });
    let pool = Pool::import(&found[0], &iopts()).unwrap();
    t.join().unwrap();
    assert_eq!(pool.health(), basin_pool::Health::Online);
    assert_eq!(read_tree(&pool).unwrap().0, model);
    pool.export().unwrap();

    // Held for good: refused, not imported without it.
    let lock = hold();
    let found = scan_dirs(&[dir.path().to_path_buf()]);
    let r = Pool::import(&found[0], &iopts());
    assert!(matches!(r, Err(PoolError::VdevLocked(_))), "{:?}", r.err());
    drop(lock);
    let pool = Pool::import(&scan_dirs(&[dir.path().to_path_buf()])[0], &iopts()).unwrap();
    assert_eq!(pool.health(), basin_pool::Health::Online);
    pool.export().unwrap();
}

/// Found by the ztest-style stress run: the intent log allocates blocks in
/// open context, for the open txg, while the txg before it syncs. When
/// that sync condensed the space maps, its checkpoint (the allocator's
/// state at that moment) already held the block, and the log of the next
/// txg allocated it again: every uberblock from then on failed to load and
/// import went silently back to the txg before the condense. A free made
/// in open context beside a condense was carried into the new log chain
/// and logged by its own txg as well: replayed twice, it failed the same way.
#[test]
fn a_condense_beside_an_open_context_allocation_imports_at_the_newest_txg() {
    let devs = mem(1, 128 * MIB);
    // A condense every other txg: one of two rounds below condenses in
    // the txg that syncs beside the allocation, not in the next.
    let tunables = PoolTunables {
        condense_logs: 2,
        ..PoolTunables::for_tests()
    };
    let pool = Pool::create(
        "tank",
        &mem_spec(&devs, TopKind::Single),
        &CreateOptions {
            tunables: tunables.clone(),
            ..opts()
        },
    )
    .unwrap();
    let w = Workload::new();
    pool.set_syncer(Some(w.clone()));
    let mut rng = rand::rngs::StdRng::seed_from_u64(9);
    let mut next = 0;
    for _ in 0..3 {
        w.random_step(&mut rng, &mut next);
        pool.sync().unwrap();
    }
    for _ in 0..4 {
        // A block of an earlier txg, freed in open context below.
        let old = {
            let t = pool.txg().hold_raw();
            let d = pool.alloc_raw(t, 128 * 1024).unwrap();
            pool.txg().release(t);
            pool.sync().unwrap();
            d
        };
        // Txg `t` is held while a sync closes it, so the next one opens...
        let t = pool.txg().hold_raw();
        w.random_step(&mut rng, &mut next);
        let syncing = {
            let p = pool.clone();
            std::thread::spawn(move || p.sync().unwrap())
        };
        while pool.txg().open_txg() == t {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        // ...and a block is allocated in it before `t` syncs.
        let t1 = pool.txg().hold_raw();
        assert_eq!(t1, t + 1);
        let dva = pool.alloc_raw(t1, 128 * 1024).unwrap();
        pool.write_raw(&dva, &[7u8; 4096], 128 * 1024).unwrap();
        pool.free_dva(t1, &old);
        pool.txg().release(t1);
        pool.txg().release(t);
        syncing.join().unwrap();
        // The block goes again, as a log chain's blocks do.
        let t2 = pool.txg().hold_raw();
        pool.free_dva(t2, &dva);
        pool.txg().release(t2);
        pool.sync().unwrap();
    }
    let newest = pool.last_synced_txg();
    let model = w.model_after_pending();
    pool.set_syncer(None);
    pool.export().unwrap();
    let found = scan_devices(&devs);
    let pool = Pool::import(
        &found[0],
        &ImportOptions {
            tunables,
            ..iopts()
        },
    )
    .unwrap();
    assert_eq!(
        pool.last_synced_txg(),
        newest,
        "the import went back to an older txg"
    );
    assert_eq!(read_tree(&pool).unwrap().0, model);
    pool.export().unwrap();
}

/// A memory device whose writes wait while its gate is closed: a write
/// the pool issued is then still on its way to the device.
struct GatedDevice {
    inner: MemDevice,
    closed: parking_lot::Mutex<bool>,
    opened: parking_lot::Condvar,
}

impl BlockDevice for GatedDevice {
    fn path(&self) -> &str {
        self.inner.path()
    }
    fn size(&self) -> u64 {
        self.inner.size()
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        self.inner.read_at(offset, buf)
    }
    fn write_at(&self, offset: u64, buf: &[u8]) -> std::io::Result<()> {
        let mut closed = self.closed.lock();
        while *closed {
            self.opened.wait(&mut closed);
        }
        drop(closed);
        self.inner.write_at(offset, buf)
    }
    fn flush(&self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Found by the ztest-style stress run: a block pointer is handed out
/// before the block's device write completes, and a read of it in that
/// window (a sync task reading a block born earlier in the same sync) got
/// the old bytes on the device and failed its checksum.
#[test]
fn a_block_still_being_written_reads_back_its_new_bytes() {
    let dev = Arc::new(GatedDevice {
        inner: MemDevice::new("gated", 128 * MIB),
        closed: parking_lot::Mutex::new(false),
        opened: parking_lot::Condvar::new(),
    });
    let devs: Vec<Arc<dyn BlockDevice>> = vec![dev.clone()];
    let pool = Pool::create("tank", &mem_spec(&devs, TopKind::Single), &opts()).unwrap();
    *dev.closed.lock() = true;
    let txg = pool.txg().hold_raw();
    let data: Vec<u8> = (0..128 * 1024u32)
        .map(|i| (i * 7 + i / 511) as u8)
        .collect();
    let props = basin_pool::WriteProps::new(basin_pool::BlockType::TEST_DATA);
    let bp = pool
        .write_block(
            txg,
            basin_pool::vdev::AlignedBuf::from_slice_padded(&data, data.len()),
            props,
        )
        .unwrap();
    let read = pool.read_block(&bp);
    *dev.closed.lock() = false;
    dev.opened.notify_all();
    pool.txg().release(txg);
    let read = read.expect("a block in flight reads back");
    assert_eq!(&read[..], &data[..]);
    pool.sync().unwrap();
    assert_eq!(&pool.read_block(&bp).unwrap()[..], &data[..]);
    pool.export().unwrap();
}

#[test]
fn import_can_rewind_to_an_earlier_txg_and_stays_there() {
    let devs = mem(1, 128 * MIB);
    let pool = Pool::create("tank", &mem_spec(&devs, TopKind::Single), &opts()).unwrap();
    let w = Workload::new();
    pool.set_syncer(Some(w.clone()));
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut next = 0;
    for _ in 0..5 {
        w.random_step(&mut rng, &mut next);
        pool.sync().unwrap();
    }
    let earlier = w.model_after_pending();
    let earlier_txg = pool.last_synced_txg();
    // One more txg of changes (its frees are not reusable yet, so the
    // earlier tree is intact on disk).
    w.random_step(&mut rng, &mut next);
    pool.sync().unwrap();
    let later = w.model_after_pending();
    assert_ne!(later, earlier);
    pool.export().unwrap();

    let found = scan_devices(&devs);
    let rewound = Pool::import(
        &found[0],
        &ImportOptions {
            rewind_to: Some(earlier_txg),
            ..iopts()
        },
    )
    .unwrap();
    let (got, bps) = read_tree(&rewound).unwrap();
    assert_eq!(got, earlier);
    let check = rewound.check_space(&bps).unwrap();
    assert!(check.problems.is_empty(), "{:?}", check.problems);
    rewound.sync().unwrap();
    assert!(rewound.last_synced_txg() > earlier_txg + 1);
    rewound.export().unwrap();

    // What the rewound import wrote is newer than what it skipped.
    let found = scan_devices(&devs);
    let pool = Pool::import(&found[0], &iopts()).unwrap();
    let (got, bps) = read_tree(&pool).unwrap();
    assert_eq!(got, earlier);
    assert!(pool.check_space(&bps).unwrap().problems.is_empty());
    pool.export().unwrap();
}
