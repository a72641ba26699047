//! Issue 3's figures. Snapshot creation at two data sizes and rollback
//! against the size of the change come from Basin's in-process row
//! (`dmu_row`), which measures them with the peers' workloads; the listing
//! of 10,000 snapshots is measured here: `list_fs` filesystems with
//! `list_snaps` recursive snapshots each, then the names and the columns
//! of `zfs list -t all` (used, available, referenced, mountpoint) for every
//! dataset, in process (the `zfs` command is another issue's).

use std::path::Path;
use std::time::Instant;

use crate::basin::dmu_row::{RowReport, ROLLBACK_LARGE_4X, ROLLBACK_SMALL_4X};
use crate::basin::poolwrite::round;
use crate::basin::{DslEnv, Goal};
use crate::cleanup::check_interrupted;
use crate::error::{BenchError, Result};
use crate::stats::median;
use crate::workload::{size, Cell, Mode, Workload};

/// Snapshot creation goal, milliseconds.
pub const SNAP_GOAL_MS: f64 = 5.0;
/// Listing goal, milliseconds.
pub const LIST_GOAL_MS: f64 = 1000.0;
/// Rollback times within this factor at both sizes count as independent of
/// the dataset's size.
pub const SAME_FACTOR: f64 = 2.0;

const POOL: &str = "benchlist";
const COLUMNS: [&str; 4] = ["used", "available", "referenced", "mountpoint"];

/// Measures the listing in `dir`.
pub fn list(dir: &Path, mode: &Mode) -> Result<Vec<Goal>> {
    std::fs::create_dir_all(dir).map_err(|e| BenchError::Io {
        context: format!("creating {}", dir.display()),
        source: e,
    })?;
    let env = DslEnv::create(POOL, &dir.join("vdev0"), 2 << 30, 256 << 20)?;
    eprintln!(
        "  list / {} filesystems x {} snapshots",
        mode.list_fs, mode.list_snaps
    );
    for f in 0..mode.list_fs {
        check_interrupted()?;
        env.dsl
            .create(&format!("{POOL}/fs{f:04}"), None, &[], false)?;
    }
    for s in 0..mode.list_snaps {
        check_interrupted()?;
        env.dsl.snapshot(&[format!("{POOL}@s{s:04}")], true)?;
    }
    let mut names_ms = Vec::new();
    let mut full_ms = Vec::new();
    let mut count = 0;
    let mut snaps = 0;
    for _ in 0..mode.runs.max(3) {
        let t = Instant::now();
        let names = env.dsl.list(None, true, None)?;
        names_ms.push(t.elapsed().as_secs_f64() * 1e3);
        std::hint::black_box(names.len());
        let t = Instant::now();
        let names = env.dsl.list(None, true, None)?;
        let mut cells = 0usize;
        for n in &names {
            for c in COLUMNS {
                cells += env.dsl.get_prop(n, c)?.value.len();
            }
        }
        std::hint::black_box(cells);
        full_ms.push(t.elapsed().as_secs_f64() * 1e3);
        count = names.len();
        snaps = names.iter().filter(|n| n.contains('@')).count();
    }
    env.destroy()?;
    let m = median(&full_ms).unwrap_or(f64::NAN);
    let judged = mode.is_full() && snaps >= 10_000;
    Ok(vec![Goal {
        issue: 3,
        what: format!("zfs list of {snaps} snapshots ({count} datasets, with their columns)"),
        value: format!("{m:.1} ms"),
        goal: format!("< {LIST_GOAL_MS:.0} ms for 10,000 snapshots"),
        met: judged.then_some(m < LIST_GOAL_MS),
        detail: format!(
            "in process (DslPool::list + get_prop of {}): the zfs command is not there yet; names alone {:?} ms, with the columns {:?} ms",
            COLUMNS.join(", "),
            round(&names_ms),
            round(&full_ms)
        ),
    }])
}

fn med(c: Option<&Cell>) -> Option<f64> {
    c.and_then(Cell::value)
}

/// The snapshot and rollback goals, from Basin's in-process row.
pub fn goals_from_row(row: &RowReport, mode: &Mode) -> Vec<Goal> {
    let full = mode.is_full();
    let mut goals = Vec::new();
    let s = med(row.cells.get(&Workload::SnapSmall));
    let l = med(row.cells.get(&Workload::SnapLarge));
    if let (Some(s), Some(l)) = (s, l) {
        let same = l <= s * SAME_FACTOR;
        goals.push(Goal {
            issue: 3,
            what: format!(
                "snapshot create with {} and with {} of data",
                size(mode.snap_small),
                size(mode.snap_large)
            ),
            value: format!("{s:.2} ms and {l:.2} ms"),
            goal: format!("the same, under {SNAP_GOAL_MS} ms"),
            met: full.then_some(s < SNAP_GOAL_MS && l < SNAP_GOAL_MS && same),
            detail: format!(
                "DslPool::snapshot (one txg sync with the snapshot only) on a file vdev; \"the same\" means the large within {SAME_FACTOR}x of the small; runs {:?} and {:?} ms",
                runs(row.cells.get(&Workload::SnapSmall)),
                runs(row.cells.get(&Workload::SnapLarge))
            ),
        });
    }
    let rs = med(row.cells.get(&Workload::RollbackSmall));
    let rl = med(row.cells.get(&Workload::RollbackLarge));
    let rs4 = med(row.extra.get(ROLLBACK_SMALL_4X));
    let rl4 = med(row.extra.get(ROLLBACK_LARGE_4X));
    if let (Some(rs), Some(rl), Some(rs4), Some(rl4)) = (rs, rl, rs4, rl4) {
        let size_free = rl <= rs * SAME_FACTOR && rl4 <= rs4 * SAME_FACTOR;
        goals.push(Goal {
            issue: 3,
            what: "rollback time against the change and the dataset's size".into(),
            value: format!(
                "{} changed: {rs:.1} ms ({}) / {rl:.1} ms ({}); {} changed: {rs4:.1} / {rl4:.1} ms",
                size(mode.rollback_change),
                size(mode.snap_small),
                size(mode.snap_large),
                size(4 * mode.rollback_change),
            ),
            goal: "proportional to what changed, not to the dataset's size".into(),
            met: full.then_some(size_free),
            detail: format!(
                "met when, for the same change, the large data set rolls back within {SAME_FACTOR}x of the small one (the 4x change shows how the time follows the change)"
            ),
        });
    }
    goals
}

fn runs(c: Option<&Cell>) -> Vec<f64> {
    match c {
        Some(Cell::Measured { runs, .. }) => round(runs),
        _ => Vec::new(),
    }
}
