//! Crash consistency: a workload of allocations, frees and txg syncs runs on
//! devices that record every write and flush; the images a crash at random
//! points would leave (with unflushed writes lost, torn inside sectors and
//! reordered) must all import, verify from the uberblock down, have space
//! maps that agree exactly with the reachable blocks, and hold every txg
//! that was reported synced before the cut.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use basin_pool::import::scan_devices;
use basin_pool::spec::{DeviceSpec, TopKind, TopSpec};
use basin_pool::vdev::mem::{CrashFaults, CrashRecorder, MemDevice};
use basin_pool::vdev::BlockDevice;
use basin_pool::{CreateOptions, ImportOptions, Pool, PoolTunables, VdevSpec};
use common::{read_tree, Model, Workload};
use rand::{Rng, SeedableRng};

const MIB: u64 = 1 << 20;

fn tunables() -> PoolTunables {
    PoolTunables {
        condense_logs: 4,
        sync_interval: Duration::from_secs(3600),
        ..PoolTunables::for_tests()
    }
}

struct Run {
    rec: Arc<CrashRecorder>,
    /// (ops recorded when the sync returned, txg, model at that txg)
    marks: Vec<(usize, u64, Model)>,
}

fn record(layout: &[TopKind], devices_per_top: usize, steps: usize, seed: u64) -> Run {
    let rec = CrashRecorder::new();
    let mut tops = Vec::new();
    let mut n = 0;
    for kind in layout {
        let count = match kind {
            TopKind::Mirror | TopKind::Raidz(_) => devices_per_top,
            _ => 1,
        };
        let devices = (0..count)
            .map(|_| {
                n += 1;
                DeviceSpec::Device(Arc::new(MemDevice::recorded(
                    &format!("d{n}"),
                    64 * MIB,
                    &rec,
                )))
            })
            .collect();
        tops.push(TopSpec {
            kind: *kind,
            devices,
        });
    }
    let opts = CreateOptions {
        tunables: tunables(),
        force: true,
        command: Some("zpool create crash".into()),
        ..Default::default()
    };
    let pool = Pool::create("crash", &VdevSpec { tops }, &opts).unwrap();
    let mut marks = vec![(rec.len(), pool.txg().synced_txg(), Model::new())];
    let w = Workload::new();
    pool.set_syncer(Some(w.clone()));
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut next = 0;
    for _ in 0..steps {
        w.random_step(&mut rng, &mut next);
        let model = w.model_after_pending();
        let txg = pool.sync().unwrap();
        marks.push((rec.len(), txg, model));
    }
    pool.crash();
    Run { rec, marks }
}

fn check_cut(run: &Run, cut: usize, rng: &mut impl Rng) -> Result<(), String> {
    let images: Vec<Arc<dyn BlockDevice>> = run
        .rec
        .crash_image(cut, CrashFaults::default(), rng)
        .into_iter()
        .map(|d| Arc::new(d) as Arc<dyn BlockDevice>)
        .collect();
    // Txgs reported synced before the cut.
    let Some(floor) = run.marks.iter().filter(|m| m.0 <= cut).map(|m| m.1).max() else {
        return Ok(()); // The pool was never reported created.
    };
    let found = scan_devices(&images);
    if found.len() != 1 {
        return Err(format!("{} pools found", found.len()));
    }
    let opts = ImportOptions {
        tunables: tunables(),
        ..Default::default()
    };
    let pool = Pool::import(&found[0], &opts).map_err(|e| format!("import: {e}"))?;
    let result = (|| {
        let txg = pool.last_synced_txg();
        let empty = Model::new();
        let mut expected: BTreeMap<u64, &Model> = run.marks.iter().map(|m| (m.1, &m.2)).collect();
        // Before the first step the pool was empty, whatever its txg.
        expected.insert(0, &empty);
        let model_at = |t: u64| expected.range(..=t).next_back().map(|(_, m)| *m);
        let want = model_at(txg).ok_or("no model")?;
        // An older txg is acceptable only if nothing changed since it: a
        // txg without changes writes no uberblock.
        if txg < floor && model_at(floor) != Some(want) {
            return Err(format!(
                "imported txg {txg}, but txg {floor} was reported synced"
            ));
        }
        let (got, bps) = read_tree(&pool)?;
        if &got != want {
            return Err(format!("txg {txg}: contents differ from the model"));
        }
        let check = pool.check_space(&bps).map_err(|e| e.to_string())?;
        if !check.problems.is_empty() {
            return Err(format!(
                "txg {txg}: space: {:?}",
                &check.problems[..check.problems.len().min(5)]
            ));
        }
        Ok(())
    })();
    pool.crash();
    result
}

fn run_cuts(layout: &[TopKind], per_top: usize, seed: u64, cuts: usize) {
    let run = record(layout, per_top, 30, seed);
    let total = run.rec.len();
    let writes = run.rec.write_indices();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ 0xc0ffee);
    let mut failures = Vec::new();
    for i in 0..cuts {
        // Half the cuts just after a write, half anywhere.
        let cut = if i % 2 == 0 {
            writes[rng.gen_range(0..writes.len())] + 1
        } else {
            rng.gen_range(0..=total)
        };
        let cut_seed: u64 = rng.gen();
        let mut cut_rng = rand::rngs::StdRng::seed_from_u64(cut_seed);
        if let Err(e) = check_cut(&run, cut, &mut cut_rng) {
            failures.push(format!("cut {cut} (seed {cut_seed}): {e}"));
        }
    }
    let marks: Vec<(usize, u64)> = run.marks.iter().take(4).map(|m| (m.0, m.1)).collect();
    assert!(
        failures.is_empty(),
        "{} of {cuts} cuts failed (layout {layout:?}, seed {seed}, first marks {marks:?}); first: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
}

#[test]
fn crash_at_random_points_single_vdev() {
    run_cuts(&[TopKind::Single], 1, 11, 500);
}

#[test]
fn crash_at_random_points_mirror_and_stripe() {
    run_cuts(&[TopKind::Mirror, TopKind::Single], 2, 12, 500);
}

#[test]
fn crash_at_random_points_raidz1() {
    run_cuts(&[TopKind::Raidz(1)], 3, 13, 300);
}

#[test]
fn crash_at_random_points_raidz2() {
    run_cuts(&[TopKind::Raidz(2)], 5, 14, 200);
}
