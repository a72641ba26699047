//! Scrub and resilver at the pool layer: bit rot repaired on mirrors and
//! raidz, permanent errors reported, leaves brought back by offline/online
//! and replace filled in, scans that survive pause, export and crash, and
//! devices pulled while the pool is written.

mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use basin_pool::import::scan_devices;
use basin_pool::label::FRONT_RESERVE;
use basin_pool::scan::ScanFunc;
use basin_pool::spec::{DeviceSpec, TopKind, TopSpec};
use basin_pool::vdev::inject::{FaultKind, FaultOps, FaultRule};
use basin_pool::vdev::mem::MemDevice;
use basin_pool::vdev::{raidz, BlockDevice, Layout};
use basin_pool::{BlkPtr, CreateOptions, Health, ImportOptions, Pool, PoolTunables, VdevSpec};
use common::{decode_root, read_tree, TreeLister, Workload};
use rand::{Rng, SeedableRng};

const MIB: u64 = 1 << 20;

fn tunables() -> PoolTunables {
    PoolTunables {
        sync_interval: Duration::from_secs(3600),
        ..PoolTunables::for_tests()
    }
}

fn devices(n: usize, prefix: &str) -> Vec<Arc<MemDevice>> {
    (0..n)
        .map(|i| Arc::new(MemDevice::new(&format!("{prefix}{i}"), 256 * MIB)))
        .collect()
}

fn make(kind: TopKind, devs: &[Arc<MemDevice>], t: PoolTunables) -> Pool {
    let spec = VdevSpec {
        tops: vec![TopSpec {
            kind,
            devices: devs.iter().map(|d| DeviceSpec::Device(d.clone())).collect(),
        }],
    };
    let opts = CreateOptions {
        tunables: t,
        ..Default::default()
    };
    let pool = Pool::create("scan", &spec, &opts).unwrap();
    pool.set_block_lister(Some(Arc::new(TreeLister)));
    pool
}

fn dyns(devs: &[Arc<MemDevice>]) -> Vec<Arc<dyn BlockDevice>> {
    devs.iter()
        .map(|d| d.clone() as Arc<dyn BlockDevice>)
        .collect()
}

fn import(devs: &[Arc<dyn BlockDevice>], t: PoolTunables) -> Pool {
    let pool = Pool::import(
        &scan_devices(devs)[0],
        &ImportOptions {
            tunables: t,
            ..Default::default()
        },
    )
    .unwrap();
    pool.set_block_lister(Some(Arc::new(TreeLister)));
    pool
}

/// Writes `n` blocks of assorted sizes (up to 64 KiB) with ids from
/// `first`.
fn write_blocks(pool: &Pool, w: &Arc<Workload>, first: u64, n: u64, seed: u64) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    for id in first..first + n {
        w.write(id, rng.gen(), 512 * rng.gen_range(1..=128));
    }
    pool.sync().unwrap();
}

fn workload(pool: &Pool) -> Arc<Workload> {
    let w = Workload::new();
    pool.set_syncer(Some(w.clone()));
    w
}

/// Scrubs and waits; returns (repaired bytes, errors).
fn scrub(pool: &Pool) -> (u64, u64) {
    pool.scrub().unwrap();
    pool.scan_wait();
    let s = pool.scan_state().unwrap();
    assert_eq!(s.state, "finished", "{s:?}");
    assert_eq!(s.examined, s.to_examine, "{s:?}");
    (s.repaired, s.errors)
}

/// Every copy on every leaf (every column with its parity) verifies.
fn every_copy_verifies(pool: &Pool) {
    let (_, bps) = read_tree(pool).unwrap();
    let mut all = bps;
    all.extend(pool.metadata_blocks().unwrap());
    for bp in &all {
        for copy in 0..bp.copies().count() {
            for leaf in 0..pool.copy_leaves(bp, copy) {
                if let Err(e) = pool.read_copy(bp, copy, leaf) {
                    panic!("copy {copy} on leaf {leaf} of {}: {e:?}", bp.describe());
                }
            }
        }
    }
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn scrub_repairs_rot_on_a_mirror_side_metadata_included() {
    let devs = devices(2, "m");
    let pool = make(TopKind::Mirror, &devs, tunables());
    let w = workload(&pool);
    write_blocks(&pool, &w, 0, 300, 1);
    let model = w.model_after_pending();
    // Rot: 10% of side 0's blocks, the pool's own metadata among them.
    let mut rng = rand::rngs::StdRng::seed_from_u64(2);
    let (_, mut bps) = read_tree(&pool).unwrap();
    bps.extend(pool.metadata_blocks().unwrap());
    let mut damaged = 0;
    for bp in &bps {
        if rng.gen_bool(0.1) {
            for d in bp.copies() {
                let junk: Vec<u8> = (0..d.asize).map(|_| rng.gen()).collect();
                devs[0].corrupt(FRONT_RESERVE + d.offset, &junk);
            }
            damaged += 1;
        }
    }
    assert!(damaged >= 20, "{damaged}");
    let (repaired, errors) = scrub(&pool);
    assert_eq!(errors, 0);
    assert!(repaired > 0);
    let cksum = pool.vdevs()[0].children[0]
        .errors
        .checksum
        .load(Ordering::Relaxed);
    assert!(
        cksum >= damaged,
        "{cksum} checksum errors for {damaged} damaged blocks"
    );
    every_copy_verifies(&pool);
    // A second scrub finds nothing left to do.
    let (repaired, errors) = scrub(&pool);
    assert_eq!((repaired, errors), (0, 0));
    assert_eq!(read_tree(&pool).unwrap().0, model);
    pool.export().unwrap();
    // Side 0 alone holds everything.
    let pool = import(&dyns(&devs[..1]), tunables());
    assert_eq!(read_tree(&pool).unwrap().0, model);
    pool.export().unwrap();
}

fn smash_columns(
    pool: &Pool,
    devs: &[Arc<MemDevice>],
    bp: &BlkPtr,
    how_many: usize,
    rng: &mut impl Rng,
) {
    let top = &pool.vdevs()[0];
    let Layout::Raidz { nparity } = top.layout else {
        unreachable!()
    };
    let d = bp.dva[0];
    let m = raidz::map(
        d.offset,
        bp.psize as u64,
        top.ashift,
        devs.len(),
        nparity as usize,
    );
    let mut cols: Vec<usize> = (0..m.cols.len()).collect();
    for _ in 0..how_many.min(cols.len()) {
        let c = m.cols[cols.remove(rng.gen_range(0..cols.len()))];
        let junk: Vec<u8> = (0..c.len).map(|_| rng.gen()).collect();
        devs[c.child].corrupt(FRONT_RESERVE + c.offset, &junk);
    }
}

fn raidz_rot(nparity: u8, n: usize) {
    let devs = devices(n, "r");
    let pool = make(TopKind::Raidz(nparity), &devs, tunables());
    let w = workload(&pool);
    write_blocks(&pool, &w, 0, 200, 3);
    let model = w.model_after_pending();
    let root = decode_root(&pool.read_block(&pool.user_root()).unwrap());
    let mut rng = rand::rngs::StdRng::seed_from_u64(4);
    for (bp, _, _) in root.values() {
        if rng.gen_bool(0.3) {
            smash_columns(&pool, &devs, bp, nparity as usize, &mut rng);
        }
    }
    let (repaired, errors) = scrub(&pool);
    assert_eq!(errors, 0);
    assert!(repaired > 0);
    every_copy_verifies(&pool);
    assert_eq!(read_tree(&pool).unwrap().0, model);
    pool.export().unwrap();
}

#[test]
fn scrub_repairs_one_raidz1_column() {
    raidz_rot(1, 4);
}

#[test]
fn scrub_repairs_two_raidz2_columns() {
    raidz_rot(2, 5);
}

/// Rot inside runs of small blocks laid end to end, which a scrub checks
/// with one read per leaf: one damaged block among its neighbours is still
/// found, counted against its leaf and repaired, on either side of a
/// mirror and in any column of a raidz, parity included.
fn span_rot(kind: TopKind, n: usize) {
    let devs = devices(n, "s");
    let pool = make(kind, &devs, tunables());
    let w = workload(&pool);
    let mut rng = rand::rngs::StdRng::seed_from_u64(21);
    for id in 0..1500 {
        // Odd seeds: not compressible, so sizes stay as written.
        w.write(id, rng.gen::<u64>() | 1, 512 * rng.gen_range(1..=8));
    }
    pool.sync().unwrap();
    let model = w.model_after_pending();
    let (_, mut bps) = read_tree(&pool).unwrap();
    bps.retain(|b| b.copies().count() == 1);
    bps.sort_by_key(|b| b.dva[0].offset);
    let top = pool.vdevs()[0].clone();
    let raidz = match top.layout {
        Layout::Raidz { nparity } => Some(nparity as usize),
        _ => None,
    };
    // Blocks with a neighbour right before and right after them.
    let end = |b: &BlkPtr| b.dva[0].offset + b.dva[0].asize as u64;
    let inner: Vec<BlkPtr> = bps
        .windows(3)
        .filter(|w| end(&w[0]) == w[1].dva[0].offset && end(&w[1]) == w[2].dva[0].offset)
        .map(|w| w[1])
        .collect();
    assert!(inner.len() > 1000, "{} blocks inside runs", inner.len());
    let mut damaged = 0u64;
    for (k, bp) in inner.iter().step_by(37).enumerate() {
        let d = bp.dva[0];
        match raidz {
            Some(nparity) => {
                let m = raidz::map(d.offset, bp.psize as u64, top.ashift, n, nparity);
                let c = m.cols[k % m.cols.len()];
                let junk: Vec<u8> = (0..c.len).map(|_| rng.gen()).collect();
                devs[c.child].corrupt(FRONT_RESERVE + c.offset, &junk);
            }
            None => {
                let junk: Vec<u8> = (0..d.asize).map(|_| rng.gen()).collect();
                devs[k % n].corrupt(FRONT_RESERVE + d.offset, &junk);
            }
        }
        damaged += 1;
    }
    assert!(damaged >= 30, "{damaged}");
    let (repaired, errors) = scrub(&pool);
    assert_eq!(errors, 0);
    assert!(repaired >= damaged * 512, "{repaired} bytes for {damaged}");
    let cksum: u64 = top
        .children
        .iter()
        .map(|l| l.errors.checksum.load(Ordering::Relaxed))
        .sum();
    assert!(cksum >= damaged, "{cksum} checksum errors for {damaged}");
    every_copy_verifies(&pool);
    assert_eq!(scrub(&pool), (0, 0));
    assert_eq!(read_tree(&pool).unwrap().0, model);
    pool.export().unwrap();
}

#[test]
fn scrub_repairs_rot_inside_runs_of_small_blocks_on_a_mirror() {
    span_rot(TopKind::Mirror, 2);
}

#[test]
fn scrub_repairs_rot_inside_runs_of_small_blocks_on_raidz1() {
    span_rot(TopKind::Raidz(1), 3);
}

#[test]
fn scrub_reports_permanent_errors_on_a_single_device() {
    let devs = devices(1, "s");
    let pool = make(TopKind::Single, &devs, tunables());
    let w = workload(&pool);
    write_blocks(&pool, &w, 0, 50, 5);
    let root = decode_root(&pool.read_block(&pool.user_root()).unwrap());
    let bad: Vec<u64> = vec![3, 17, 41];
    for id in &bad {
        let d = root[id].0.dva[0];
        devs[0].corrupt(FRONT_RESERVE + d.offset + 64, b"rot rot rot");
    }
    // The pool's metadata has three copies: rot in one is repaired (the
    // oldest history block, which no sync rewrites).
    let meta = pool.metadata_blocks().unwrap();
    let d = meta.last().unwrap().dva[0];
    devs[0].corrupt(FRONT_RESERVE + d.offset, &[0xaa; 512]);
    assert!(pool.read_copy(meta.last().unwrap(), 0, 0).is_err());
    pool.scrub().unwrap();
    pool.scan_wait();
    let s = pool.scan_state().unwrap();
    assert_eq!(s.errors, bad.len() as u64, "{s:?}");
    // Repaired by the scan (or by its listing, which reads the pool's
    // metadata through the self-healing path).
    assert!(pool.stats().repaired.load(Ordering::Relaxed) > 0);
    for copy in 0..3 {
        assert!(pool.read_copy(meta.last().unwrap(), copy, 0).is_ok());
    }
    let (log, more) = pool.error_log();
    assert_eq!(more, 0);
    let objects: Vec<u64> = log.iter().map(|o| o.object - 1).collect();
    assert_eq!(objects, bad);
    for id in &bad {
        let e = pool.read_block(&root[id].0).unwrap_err();
        assert_eq!(e.errno(), libc::EIO);
    }
    // The log is kept across an export.
    pool.export().unwrap();
    let pool = import(&dyns(&devs), tunables());
    assert_eq!(pool.error_log().0.len(), bad.len());
    // Once the damaged blocks are gone, a scrub clears the log.
    let w = workload(&pool);
    w.adopt(&pool);
    for id in &bad {
        w.free(*id);
    }
    pool.sync().unwrap();
    let (_, errors) = scrub(&pool);
    assert_eq!(errors, 0);
    assert!(pool.error_log().0.is_empty());
    pool.export().unwrap();
}

#[test]
fn offline_then_online_resilvers_only_what_was_missed() {
    let devs = devices(2, "o");
    let pool = make(TopKind::Mirror, &devs, tunables());
    let w = workload(&pool);
    write_blocks(&pool, &w, 0, 200, 6);
    pool.offline("o1", false).unwrap();
    assert_eq!(pool.health(), Health::Degraded);
    // Offlining the last side is refused.
    let e = pool.offline("o0", false).unwrap_err();
    assert!(e.to_string().contains("no valid replicas"), "{e}");
    write_blocks(&pool, &w, 1000, 20, 7);
    let model = w.model_after_pending();
    let missed: u64 = {
        let root = decode_root(&pool.read_block(&pool.user_root()).unwrap());
        root.range(1000..)
            .map(|(_, (bp, _, _))| bp.dva[0].asize as u64)
            .sum()
    };
    pool.online("o1").unwrap();
    pool.scan_wait();
    let s = pool.scan_state().unwrap();
    assert_eq!(
        (s.func.as_str(), s.state.as_str(), s.errors),
        ("resilver", "finished", 0)
    );
    // Only what was written while offline (plus metadata) was examined.
    let all: u64 = w
        .model_after_pending()
        .values()
        .map(|(_, l)| *l as u64)
        .sum();
    assert!(
        s.to_examine < all / 2,
        "resilver examined {} of {all}",
        s.to_examine
    );
    assert!(
        s.repaired >= missed,
        "{} repaired, {missed} missed",
        s.repaired
    );
    assert!(pool.vdevs()[0].children[1].dtl.lock().is_none());
    assert_eq!(pool.health(), Health::Online);
    pool.export().unwrap();
    let pool = import(&dyns(&devs[1..]), tunables());
    assert_eq!(read_tree(&pool).unwrap().0, model);
    pool.export().unwrap();
}

#[test]
fn replace_a_mirror_side_and_detach_the_old_one() {
    let devs = devices(2, "p");
    let pool = make(TopKind::Mirror, &devs, tunables());
    let w = workload(&pool);
    write_blocks(&pool, &w, 0, 200, 8);
    let model = w.model_after_pending();
    let new = Arc::new(MemDevice::new("p-new", 256 * MIB));
    // A device too small is refused and changes nothing.
    let tiny = Arc::new(MemDevice::new("tiny", 128 * MIB));
    let e = pool
        .replace("p0", Some(&DeviceSpec::Device(tiny)), false)
        .unwrap_err();
    assert!(e.to_string().contains("too small"), "{e}");
    assert!(pool.vdevs()[0].replacing.iter().all(|r| r.is_none()));
    pool.replace("p0", Some(&DeviceSpec::Device(new.clone())), false)
        .unwrap();
    pool.scan_wait();
    let s = pool.scan_state().unwrap();
    assert_eq!(
        (s.func.as_str(), s.state.as_str(), s.errors),
        ("resilver", "finished", 0)
    );
    let top = &pool.vdevs()[0];
    assert!(
        top.replacing.iter().all(|r| r.is_none()),
        "old side not detached"
    );
    assert_eq!(top.children[0].path, "p-new");
    assert_eq!(pool.health(), Health::Online);
    pool.export().unwrap();
    // The old device no longer belongs to the pool; the new one alone
    // holds everything.
    assert!(scan_devices(&dyns(&devs[..1])).is_empty());
    let pool = import(&[new.clone() as Arc<dyn BlockDevice>], tunables());
    assert_eq!(read_tree(&pool).unwrap().0, model);
    pool.export().unwrap();
}

#[test]
fn attach_makes_a_mirror_and_detach_undoes_it() {
    let devs = devices(1, "a");
    let pool = make(TopKind::Single, &devs, tunables());
    let w = workload(&pool);
    write_blocks(&pool, &w, 0, 100, 9);
    let model = w.model_after_pending();
    let side = Arc::new(MemDevice::new("a-side", 256 * MIB));
    pool.attach("a0", &DeviceSpec::Device(side.clone()), false)
        .unwrap();
    pool.scan_wait();
    assert_eq!(pool.vdevs()[0].layout, Layout::Mirror);
    assert_eq!(pool.scan_state().unwrap().state, "finished");
    // Detaching the only whole side while the new one is incomplete would
    // lose data; once resilvered either may go.
    pool.detach("a0").unwrap();
    assert_eq!(pool.vdevs()[0].layout, Layout::Single);
    let e = pool.detach("a-side").unwrap_err();
    assert!(e.to_string().contains("only applicable"), "{e}");
    assert_eq!(read_tree(&pool).unwrap().0, model);
    pool.export().unwrap();
    let pool = import(&[side as Arc<dyn BlockDevice>], tunables());
    assert_eq!(read_tree(&pool).unwrap().0, model);
    pool.export().unwrap();
}

fn pull_and_replace(kind: TopKind, n: usize) {
    let devs = devices(n, "q");
    let pool = make(kind, &devs, tunables());
    let w = workload(&pool);
    write_blocks(&pool, &w, 0, 150, 10);
    // Pull a disk between two writes: the watcher notices within a second.
    devs[1].set_pulled(true);
    let mut next = 500;
    wait_for("the pulled disk to be noticed", || {
        w.write(next, next, 4096);
        next += 1;
        pool.sync().unwrap();
        pool.vdevs()[0].children[1].health() == Health::Removed
    });
    assert_eq!(pool.health(), Health::Degraded);
    write_blocks(&pool, &w, 2000, 50, 11);
    let model = w.model_after_pending();
    assert_eq!(read_tree(&pool).unwrap().0, model);
    // The disk is swapped for a blank one at the same place.
    let blank = Arc::new(MemDevice::new("q1-new", 256 * MIB));
    pool.replace("q1", Some(&DeviceSpec::Device(blank.clone())), false)
        .unwrap();
    pool.scan_wait();
    let s = pool.scan_state().unwrap();
    assert_eq!((s.state.as_str(), s.errors), ("finished", 0), "{s:?}");
    assert_eq!(pool.health(), Health::Online);
    every_copy_verifies(&pool);
    pool.export().unwrap();
    let mut set = dyns(&devs);
    set[1] = blank;
    // Any one other device may now go missing.
    set.remove(0);
    let pool = import(&set, tunables());
    assert_eq!(read_tree(&pool).unwrap().0, model);
    pool.export().unwrap();
}

#[test]
fn pull_a_mirror_disk_while_writing_then_replace_it() {
    pull_and_replace(TopKind::Mirror, 2);
}

#[test]
fn pull_a_raidz_disk_while_writing_then_replace_it() {
    pull_and_replace(TopKind::Raidz(1), 3);
}

fn slow() -> PoolTunables {
    PoolTunables {
        scan_batch_delay: Duration::from_millis(1500),
        ..tunables()
    }
}

#[test]
fn scrub_pause_resume_and_cancel() {
    let devs = devices(2, "z");
    let pool = make(TopKind::Mirror, &devs, slow());
    let w = workload(&pool);
    write_blocks(&pool, &w, 0, 2000, 12);
    pool.scrub().unwrap();
    // A second scrub is refused while one runs.
    let e = pool.scrub().unwrap_err();
    assert!(e.to_string().contains("currently scrubbing"), "{e}");
    wait_for("some progress", || pool.scan_state().unwrap().examined > 0);
    pool.scrub_pause().unwrap();
    let paused = pool.scan_state().unwrap();
    assert_eq!(paused.state, "paused");
    assert!(paused.examined < paused.to_examine, "{paused:?}");
    // Paused survives an export.
    pool.export().unwrap();
    let pool = import(&dyns(&devs), slow());
    assert_eq!(pool.scan_state().unwrap().state, "paused");
    assert!(!pool.scan_running());
    pool.scrub().unwrap(); // resumes
    wait_for("the scrub to move on", || {
        pool.scan_state().unwrap().examined > paused.examined
    });
    pool.scrub_cancel().unwrap();
    let s = pool.scan_state().unwrap();
    assert_eq!(s.state, "canceled");
    let e = pool.scrub_cancel().unwrap_err();
    assert!(e.to_string().contains("no active scrub"), "{e}");
    pool.export().unwrap();
}

#[test]
fn resilver_resumes_after_export_and_after_a_crash() {
    for crash in [false, true] {
        let devs = devices(2, "x");
        let pool = make(TopKind::Mirror, &devs, slow());
        let w = workload(&pool);
        write_blocks(&pool, &w, 0, 100, 13);
        pool.offline("x1", false).unwrap();
        write_blocks(&pool, &w, 1000, 2000, 14);
        let model = w.model_after_pending();
        pool.online("x1").unwrap();
        wait_for("resilver progress", || {
            pool.scan_state().unwrap().examined > 0
        });
        // Let a bookmark reach the pool root.
        wait_for("a bookmark", || {
            pool.extras().scan.is_some_and(|s| !s.bookmark.is_empty())
        });
        let before = pool.scan_state().unwrap();
        assert_eq!(before.state, "scanning", "finished too fast: {before:?}");
        if crash {
            pool.sync().unwrap();
            pool.crash();
        } else {
            pool.export().unwrap();
        }
        let pool = import(&dyns(&devs), tunables());
        assert!(pool.scan_running() || pool.scan_state().unwrap().state == "finished");
        pool.scan_wait();
        let s = pool.scan_state().unwrap();
        assert_eq!(
            (s.func.as_str(), s.state.as_str(), s.errors),
            ("resilver", "finished", 0)
        );
        assert!(s.start_time == before.start_time, "it started over: {s:?}");
        assert!(pool.vdevs()[0].children[1].dtl.lock().is_none());
        pool.export().unwrap();
        let pool = import(&dyns(&devs[1..]), tunables());
        assert_eq!(read_tree(&pool).unwrap().0, model, "crash={crash}");
        pool.export().unwrap();
    }
}

#[test]
fn scrub_during_writes_and_frees_finds_no_false_errors() {
    let devs = devices(2, "w");
    let t = PoolTunables {
        scan_batch_delay: Duration::from_millis(300),
        ..tunables()
    };
    let pool = make(TopKind::Mirror, &devs, t);
    let w = workload(&pool);
    write_blocks(&pool, &w, 0, 1500, 15);
    pool.scrub().unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(16);
    let mut next = 10_000;
    while pool.scan_running() {
        // Rewrite and free blocks the scrub has listed, so their space is
        // freed and, without the guards, reused under it.
        for i in 0..40 {
            let id = rng.gen_range(0..1500);
            if rng.gen_bool(0.5) {
                w.free(id);
            } else {
                w.write(id, rng.gen(), 512 * rng.gen_range(1..64));
            }
            if i % 8 == 0 {
                w.write(next, rng.gen(), 4096);
                next += 1;
            }
        }
        pool.sync().unwrap();
    }
    let s = pool.scan_state().unwrap();
    assert_eq!((s.state.as_str(), s.errors), ("finished", 0), "{s:?}");
    assert_eq!(read_tree(&pool).unwrap().0, w.model_after_pending());
    let (_, bps) = read_tree(&pool).unwrap();
    let c = pool.check_space(&bps).unwrap();
    assert!(c.problems.is_empty(), "{:?}", c.problems);
    pool.export().unwrap();
}

#[test]
fn injected_faults_are_survived_and_fault_the_device() {
    let devs = devices(2, "f");
    let pool = make(TopKind::Mirror, &devs, tunables());
    let w = workload(&pool);
    write_blocks(&pool, &w, 0, 200, 17);
    let model = w.model_after_pending();
    // Damaged reads on one side: every read is still right.
    pool.inject_fault(
        "f0",
        FaultRule {
            kind: FaultKind::Checksum,
            ops: FaultOps::Read,
            frequency: 50.0,
        },
    )
    .unwrap();
    for _ in 0..3 {
        assert_eq!(read_tree(&pool).unwrap().0, model);
    }
    assert_eq!(pool.fault_rules().len(), 1);
    assert_eq!(pool.clear_faults(None).unwrap(), 1);
    // Failing I/O on one side: it is faulted, the pool keeps going.
    pool.inject_fault(
        "f1",
        FaultRule {
            kind: FaultKind::Io,
            ops: FaultOps::All,
            frequency: 100.0,
        },
    )
    .unwrap();
    let mut next = 1000;
    wait_for("the failing side to be faulted", || {
        w.write(next, next, 8192);
        next += 1;
        pool.sync().unwrap();
        let _ = read_tree(&pool);
        pool.vdevs()[0].children[1].health() == Health::Faulted
    });
    assert_eq!(pool.health(), Health::Degraded);
    let model = w.model_after_pending();
    assert_eq!(read_tree(&pool).unwrap().0, model);
    // The device heals: clear brings it back and resilvers it.
    pool.clear_faults(None).unwrap();
    pool.clear(None).unwrap();
    pool.scan_wait();
    assert_eq!(pool.health(), Health::Online);
    assert_eq!(pool.scan_state().unwrap().func, ScanFunc::Resilver.name());
    pool.export().unwrap();
    let pool = import(&dyns(&devs[1..]), tunables());
    assert_eq!(read_tree(&pool).unwrap().0, model);
    pool.export().unwrap();
}
