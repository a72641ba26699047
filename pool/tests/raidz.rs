//! RAID-Z end to end: blocks spread over single- and double-parity groups
//! read back through damaged and missing columns, are repaired in place,
//! and never come back wrong when more columns are lost than parity covers.

mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use basin_pool::import::scan_devices;
use basin_pool::label::FRONT_RESERVE;
use basin_pool::spec::{DeviceSpec, TopKind, TopSpec};
use basin_pool::vdev::mem::MemDevice;
use basin_pool::vdev::raidz;
use basin_pool::vdev::BlockDevice;
use basin_pool::{BlkPtr, CreateOptions, Health, ImportOptions, Pool, PoolTunables, VdevSpec};
use common::{decode_root, read_tree, Model, TreeLister, Workload};
use rand::{Rng, SeedableRng};

const MIB: u64 = 1 << 20;

fn tunables() -> PoolTunables {
    PoolTunables {
        sync_interval: Duration::from_secs(3600),
        ..PoolTunables::for_tests()
    }
}

fn make(nparity: u8, n: usize) -> (Vec<Arc<MemDevice>>, Pool) {
    let devs: Vec<Arc<MemDevice>> = (0..n)
        .map(|i| Arc::new(MemDevice::new(&format!("r{i}"), 64 * MIB)))
        .collect();
    let spec = VdevSpec {
        tops: vec![TopSpec {
            kind: TopKind::Raidz(nparity),
            devices: devs.iter().map(|d| DeviceSpec::Device(d.clone())).collect(),
        }],
    };
    let opts = CreateOptions {
        tunables: tunables(),
        ..Default::default()
    };
    let pool = Pool::create("rz", &spec, &opts).unwrap();
    (devs, pool)
}

fn import(devs: &[Arc<dyn BlockDevice>]) -> Pool {
    Pool::import(
        &scan_devices(devs)[0],
        &ImportOptions {
            tunables: tunables(),
            ..Default::default()
        },
    )
    .unwrap()
}

fn dyns(devs: &[Arc<MemDevice>]) -> Vec<Arc<dyn BlockDevice>> {
    devs.iter()
        .map(|d| d.clone() as Arc<dyn BlockDevice>)
        .collect()
}

/// Writes 150 blocks of assorted sizes and returns the model.
fn fill(pool: &Pool, seed: u64) -> Model {
    let w = Workload::new();
    pool.set_syncer(Some(w.clone()));
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    for id in 0..150u64 {
        // From one sector to 128 KiB, so both short and wide stripes occur.
        w.write(id, rng.gen(), 512 * rng.gen_range(1..256));
    }
    pool.sync().unwrap();
    pool.set_syncer(None);
    w.model_after_pending()
}

/// Overwrites column `col` of the block with garbage.
fn smash_column(pool: &Pool, devs: &[Arc<MemDevice>], bp: &BlkPtr, col: usize, rng: &mut impl Rng) {
    let top = &pool.vdevs()[0];
    let d = bp.dva[0];
    let nparity = match top.layout {
        basin_pool::vdev::Layout::Raidz { nparity } => nparity as usize,
        _ => unreachable!(),
    };
    let m = raidz::map(d.offset, bp.psize as u64, top.ashift, devs.len(), nparity);
    let c = m.cols[col];
    let junk: Vec<u8> = (0..c.len).map(|_| rng.gen()).collect();
    devs[c.child].corrupt(FRONT_RESERVE + c.offset, &junk);
}

fn columns(pool: &Pool, devs: usize, bp: &BlkPtr) -> usize {
    let top = &pool.vdevs()[0];
    let nparity = match top.layout {
        basin_pool::vdev::Layout::Raidz { nparity } => nparity as usize,
        _ => unreachable!(),
    };
    raidz::map(bp.dva[0].offset, bp.psize as u64, top.ashift, devs, nparity)
        .cols
        .len()
}

fn checksum_errors(pool: &Pool) -> u64 {
    pool.vdevs()[0]
        .children
        .iter()
        .map(|c| c.errors.checksum.load(Ordering::Relaxed))
        .sum()
}

#[test]
fn raidz1_reads_through_one_bad_column_and_repairs_it() {
    let (devs, pool) = make(1, 4);
    let model = fill(&pool, 1);
    let root = decode_root(&pool.read_block(&pool.user_root()).unwrap());
    let mut rng = rand::rngs::StdRng::seed_from_u64(2);
    let mut damaged = 0;
    for (bp, _, _) in root.values() {
        if rng.gen_bool(0.5) {
            let col = rng.gen_range(0..columns(&pool, devs.len(), bp));
            smash_column(&pool, &devs, bp, col, &mut rng);
            damaged += 1;
        }
    }
    assert!(damaged > 40);
    let (got, _) = read_tree(&pool).unwrap();
    assert_eq!(got, model);
    let errs = checksum_errors(&pool);
    let repaired = pool.stats().repaired.load(Ordering::Relaxed);
    // A smashed parity column goes unnoticed by a plain read (the data
    // checks out), so only the data-column damage is found and repaired.
    assert!(errs > 0 && errs <= damaged, "{errs} errors for {damaged}");
    assert!(repaired > 0, "nothing repaired");
    // The repairs are on disk: the same reads find nothing new.
    let (got, _) = read_tree(&pool).unwrap();
    assert_eq!(got, model);
    assert_eq!(checksum_errors(&pool), errs);
    pool.export().unwrap();
}

#[test]
fn raidz1_runs_degraded_without_one_device() {
    let (devs, pool) = make(1, 3);
    let model = fill(&pool, 3);
    pool.export().unwrap();
    for missing in 0..devs.len() {
        let rest: Vec<Arc<dyn BlockDevice>> = dyns(&devs)
            .into_iter()
            .enumerate()
            .filter(|(i, _)| *i != missing)
            .map(|(_, d)| d)
            .collect();
        let pool = import(&rest);
        assert_eq!(pool.health(), Health::Degraded);
        let (got, _) = read_tree(&pool).unwrap();
        assert_eq!(got, model, "without device {missing}");
        pool.export().unwrap();
    }
}

#[test]
fn raidz2_survives_two_lost_devices_and_two_bad_columns() {
    let (devs, pool) = make(2, 6);
    let model = fill(&pool, 4);
    let root = decode_root(&pool.read_block(&pool.user_root()).unwrap());
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    for (bp, _, _) in root.values() {
        let n = columns(&pool, devs.len(), bp);
        let a = rng.gen_range(0..n);
        let b = (a + rng.gen_range(1..n)) % n;
        smash_column(&pool, &devs, bp, a, &mut rng);
        smash_column(&pool, &devs, bp, b, &mut rng);
    }
    let (got, _) = read_tree(&pool).unwrap();
    assert_eq!(got, model);
    // Reads heal only the data columns they needed; damaged parity is
    // found by a scrub, which must leave every column right.
    pool.set_block_lister(Some(Arc::new(TreeLister)));
    pool.scrub().unwrap();
    pool.scan_wait();
    let s = pool.scan_state().unwrap();
    assert_eq!((s.state.as_str(), s.errors), ("finished", 0), "{s:?}");
    assert!(s.repaired > 0);
    pool.export().unwrap();

    // Two whole devices gone: every block still reads.
    let rest: Vec<Arc<dyn BlockDevice>> = dyns(&devs).into_iter().skip(2).collect();
    let pool = import(&rest);
    assert_eq!(pool.health(), Health::Degraded);
    let (got, _) = read_tree(&pool).unwrap();
    assert_eq!(got, model);
    pool.export().unwrap();
}

#[test]
fn raidz1_with_two_bad_columns_is_an_error_never_wrong_data() {
    let (devs, pool) = make(1, 4);
    let model = fill(&pool, 6);
    let root = decode_root(&pool.read_block(&pool.user_root()).unwrap());
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    // A wide block: damage two of its data columns.
    let (id, (bp, _, _)) = root
        .iter()
        .find(|(_, (bp, _, _))| columns(&pool, devs.len(), bp) == devs.len())
        .unwrap();
    smash_column(&pool, &devs, bp, 1, &mut rng);
    smash_column(&pool, &devs, bp, 2, &mut rng);
    let e = pool.read_block(bp).unwrap_err();
    assert_eq!(e.errno(), libc::EIO, "{e}");
    // Every other block is intact.
    for (other, (obp, _, _)) in &root {
        if other != id {
            assert!(pool.read_block(obp).is_ok(), "block {other}");
        }
    }
    assert!(model.contains_key(id));
}

#[test]
fn raidz_space_accounting_counts_parity() {
    let (_devs, pool) = make(1, 3);
    let before = pool.space();
    let model = fill(&pool, 8);
    let after = pool.space();
    let (_, bps) = read_tree(&pool).unwrap();
    let c = pool.check_space(&bps).unwrap();
    assert!(c.problems.is_empty(), "{:?}", c.problems);
    let logical: u64 = model.values().map(|(_, len)| *len as u64).sum();
    let stored: u64 = bps.iter().map(|bp| bp.psize as u64).sum();
    let used = after.allocated - before.allocated;
    // Three children with one parity: a parity sector for every two data
    // sectors, so the allocation is at least 3/2 of the stored bytes.
    assert!(
        used * 2 >= stored * 3,
        "{used} allocated for {stored} stored"
    );
    assert!(stored > 0 && logical > 0);
}
