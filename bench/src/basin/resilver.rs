//! Issue 6's resilver figure: the time to resilver a replaced mirror side
//! follows the live data, not the size of the vdev.
//!
//! Three cases, each a new pool, a mirror of 2 sparse files in the work
//! directory, filled with incompressible data through the DMU: live data
//! `L` on vdevs of `S`, `4L` on `S`, and `L` on `4S`. Per case, caches
//! dropped, side 1 is replaced by a new empty file (`Pool::replace`, as
//! `zpool replace` does) and the resilver that starts is timed until
//! `scan_state()` says finished; the new file's engine counts the bytes
//! written. The figures: time(4L, S) / time(L, S), which should be near 4
//! (proportional to live data), and time(L, 4S) / time(L, S), which should
//! be near 1 (not proportional to vdev size).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use basin_pool::spec::{DeviceSpec, TopKind};

use crate::basin::scanenv::{ensure_dir, wait_scan, ScanEnv};
use crate::basin::{vdev_file, Goal, MIB};
use crate::cleanup::check_interrupted;
use crate::error::Result;
use crate::stats::median;
use crate::sysinfo::drop_caches;
use crate::workload::{size, Mode};

/// A resilver that takes longer than this failed.
const LIMIT: Duration = Duration::from_secs(3600);
/// The factor between the small and the large case, in data and in size.
const FACTOR: u64 = 4;
/// Largest acceptable distance of the data ratio from [`FACTOR`], and of
/// the size ratio from 1, as a fraction of the expected value.
const TOLERANCE: f64 = 0.25;

/// (live data, vdev size) of the small case.
fn base(mode: &Mode) -> (u64, u64) {
    if mode.is_full() {
        (256 * MIB, 2048 * MIB)
    } else {
        (32 * MIB, 512 * MIB)
    }
}

/// One resilver.
#[derive(Clone, Debug, Default)]
pub struct ResilverRun {
    /// Seconds from `replace()` to finished.
    pub secs: f64,
    /// Bytes the resilver examined.
    pub examined: u64,
    /// Bytes written to the new side.
    pub written: u64,
}

/// Replaces side 1 of a mirror of `size` holding `live` bytes; times the
/// resilver, `runs` times (a new pool each).
fn case(dir: &Path, mode: &Mode, k: usize, live: u64, vdev_size: u64) -> Result<Vec<ResilverRun>> {
    let mut runs = Vec::new();
    for r in 0..mode.runs {
        check_interrupted()?;
        let files: Vec<PathBuf> = (0..2)
            .map(|i| dir.join(format!("resilver{k}-{i}")))
            .collect();
        let new = dir.join(format!("resilver{k}-new"));
        let env = ScanEnv::create(
            &format!("benchresilver{k}"),
            TopKind::Mirror,
            &files,
            vdev_size,
        )?;
        let result = (|| -> Result<ResilverRun> {
            env.fill(1, live, 70 + r as u64)?;
            vdev_file(&new, vdev_size)?;
            drop_caches()?;
            let t = Instant::now();
            env.pool().replace(
                &files[1].display().to_string(),
                Some(&DeviceSpec::Path(new.clone())),
                false,
            )?;
            let (st, _) = wait_scan(env.pool(), t, LIMIT)?;
            let secs = t.elapsed().as_secs_f64();
            Ok(ResilverRun {
                secs,
                examined: st.examined,
                written: env.leaf_bytes(&new).written,
            })
        })();
        let d = env.destroy(std::slice::from_ref(&new));
        let run = result?;
        d?;
        eprintln!(
            "  resilver / {} live on {} vdevs: {:.2} s, {} MiB examined, {} MiB written to the new side",
            size(live),
            size(vdev_size),
            run.secs,
            run.examined / MIB,
            run.written / MIB
        );
        runs.push(run);
    }
    Ok(runs)
}

/// Runs the figure in `dir`.
pub fn run(dir: &Path, mode: &Mode) -> Result<Vec<Goal>> {
    ensure_dir(dir)?;
    let (l, s) = base(mode);
    let cases = [(l, s), (l * FACTOR, s), (l, s * FACTOR)];
    let mut all = Vec::new();
    for (k, &(live, sz)) in cases.iter().enumerate() {
        all.push(case(dir, mode, k, live, sz)?);
    }
    let secs: Vec<f64> = all
        .iter()
        .map(|runs| median(&runs.iter().map(|r| r.secs).collect::<Vec<_>>()).unwrap_or(0.0))
        .collect();
    let by_data = secs[1] / secs[0];
    let by_size = secs[2] / secs[0];
    let want = FACTOR as f64;
    let raw = |runs: &[ResilverRun]| {
        format!(
            "s {:?}, examined MiB {:?}, written MiB {:?}",
            runs.iter()
                .map(|r| (r.secs * 100.0).round() / 100.0)
                .collect::<Vec<_>>(),
            runs.iter().map(|r| r.examined / MIB).collect::<Vec<_>>(),
            runs.iter().map(|r| r.written / MIB).collect::<Vec<_>>(),
        )
    };
    let how = "a new mirror of 2 sparse files per run, incompressible data written through the DMU (1 MiB transactions, recordsize 128 KiB, compression off), caches dropped, side 1 replaced by a new empty file (`Pool::replace`), the resilver timed until `scan_state()` is finished";
    let case_line = |k: usize| {
        format!(
            "{} live on {}: median {:.2} s ({})",
            size(cases[k].0),
            size(cases[k].1),
            secs[k],
            raw(&all[k])
        )
    };
    Ok(vec![
        Goal {
            issue: 6,
            what: format!(
                "resilver time with {FACTOR}x the live data, same vdev size ({})",
                size(s)
            ),
            value: format!("{by_data:.2}x ({:.2} s / {:.2} s)", secs[1], secs[0]),
            goal: format!("~{FACTOR}x (proportional to live data)"),
            met: mode
                .is_full()
                .then_some((by_data / want - 1.0).abs() <= TOLERANCE),
            detail: format!("{how}. {}; {}", case_line(0), case_line(1)),
        },
        Goal {
            issue: 6,
            what: format!(
                "resilver time on {FACTOR}x the vdev size, same live data ({})",
                size(l)
            ),
            value: format!("{by_size:.2}x ({:.2} s / {:.2} s)", secs[2], secs[0]),
            goal: "~1x (not proportional to vdev size)".into(),
            met: mode.is_full().then_some((by_size - 1.0).abs() <= TOLERANCE),
            detail: format!("{how}. {}; {}", case_line(0), case_line(2)),
        },
    ])
}
