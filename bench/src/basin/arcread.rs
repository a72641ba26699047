//! Issue 4's figure: a warm sequential read through the DMU from the ARC.
//! A 1 GiB object (the sequential size of the mode) is written through the
//! DMU and synced, read twice with `Objset::read` in 1 MiB reads; the
//! second read is the figure. Basin's in-process row measures exactly this
//! as its warm read, so the suite takes it from there; `run` measures it on
//! its own (`basin-bench arc-read`).

use std::path::Path;
use std::time::Instant;

use crate::basin::dmu_row::RowReport;
use crate::basin::{DslEnv, Fill, Goal, MIB};
use crate::error::{BenchError, Result};
use crate::workload::{size, Cell, Mode, Workload};

/// The goal, GB/s.
pub const GOAL_GBPS: f64 = 2.0;

fn goal(gbps: f64, runs: &[f64], mode: &Mode, how: &str) -> Goal {
    Goal {
        issue: 4,
        what: format!(
            "warm sequential read through the DMU from the ARC, {}",
            size(mode.seq_size)
        ),
        value: format!("{gbps:.2} GB/s"),
        goal: format!(">= {GOAL_GBPS} GB/s"),
        met: mode.is_full().then_some(gbps >= GOAL_GBPS),
        detail: format!(
            "{how}; Objset::read in 1 MiB reads, default recordsize (128 KiB), lz4 on incompressible data; runs {:?} GB/s",
            runs
        ),
    }
}

/// The goal, from Basin's in-process row.
pub fn goal_from_row(row: &RowReport, mode: &Mode) -> Option<Goal> {
    match row.cells.get(&Workload::SeqReadWarm) {
        Some(Cell::Measured { runs, median, .. }) => {
            let gb: Vec<f64> = runs.iter().map(|r| r / 1e3).collect();
            Some(goal(
                median / 1e3,
                &round_2(&gb),
                mode,
                "Basin's in-process row (seq-read-warm)",
            ))
        }
        _ => None,
    }
}

fn round_2(v: &[f64]) -> Vec<f64> {
    v.iter().map(|x| (x * 100.0).round() / 100.0).collect()
}

/// Measures it on its own in `dir`.
pub fn run(dir: &Path, mode: &Mode) -> Result<Vec<Goal>> {
    std::fs::create_dir_all(dir).map_err(|e| BenchError::Io {
        context: format!("creating {}", dir.display()),
        source: e,
    })?;
    let bytes = mode.seq_size;
    let env = DslEnv::create(
        "bencharc",
        &dir.join("vdev0"),
        2 * bytes + (1 << 30),
        mode.cache_bytes.max(bytes + bytes / 2),
    )?;
    env.dsl.create("bencharc/fs", None, &[], false)?;
    env.write_seq("bencharc/fs", 5, bytes, Fill::Incompressible, 1)?;
    env.sync()?;
    let os = env.dsl.objset("bencharc/fs")?;
    let mut buf = vec![0u8; MIB as usize];
    let mut runs = Vec::new();
    for pass in 0..=mode.runs {
        let t = Instant::now();
        let mut off = 0;
        while off < bytes {
            os.read(5, off, &mut buf)?;
            off += MIB;
        }
        if pass > 0 {
            runs.push(bytes as f64 / t.elapsed().as_secs_f64() / 1e9);
        }
    }
    drop(os);
    env.destroy()?;
    let m = crate::stats::median(&runs).unwrap_or(0.0);
    Ok(vec![goal(m, &round_2(&runs), mode, "measured on its own")])
}
