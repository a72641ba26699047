//! Issue 6's scrub figure: a scrub against fio sequential read of the same
//! vdev files.
//!
//! Two pools, each on files of the work directory: a mirror of 2 and a
//! raidz1 of 3, filled with incompressible data through the DMU (default
//! recordsize, 128 KiB). Per run, with the ARC emptied by an export and
//! import and the kernel's caches dropped, a scrub is timed from
//! `Pool::scrub` until `scan_state()` says finished; the engines' counters
//! say how many bytes it read from each file. Then fio reads as many
//! bytes from each file, every file at once, sequentially from where the
//! pool's space begins (O_DIRECT on both sides: the pool opens its vdevs
//! with O_DIRECT). The figure is fio's time over the scrub's: the scrub's
//! read bandwidth over fio's on the same files. The goal is 0.8.
//!
//! Bytes read, not bytes examined: a mirror's scrub examines each block
//! once (its allocated size, as `zpool status` counts) but reads every
//! side of it, and fio reads what the scrub read. On raidz the two are
//! the same (the allocated size includes parity).

use std::path::{Path, PathBuf};
use std::time::Instant;

use basin_pool::spec::TopKind;

use crate::basin::pipeline::process_cpu;
use crate::basin::scanenv::{ensure_dir, fio_read, wait_scan, ScanEnv, FIO_LINE};
use crate::basin::{Goal, MIB};
use crate::cleanup::check_interrupted;
use crate::error::{BenchError, Result};
use crate::stats::{median, sig3};
use crate::sysinfo::drop_caches;
use crate::workload::{size, Mode};

/// The goal: scrub read bandwidth over fio's.
pub const GOAL: f64 = 0.8;
/// A scrub that takes longer than this failed.
const LIMIT: std::time::Duration = std::time::Duration::from_secs(3600);

/// The layouts measured: (name, kind, files).
pub const LAYOUTS: [(&str, TopKind, usize); 2] = [
    ("mirror of 2", TopKind::Mirror, 2),
    ("raidz1 of 3", TopKind::Raidz(1), 3),
];

/// Data written into each pool.
pub fn data_bytes(mode: &Mode) -> u64 {
    if mode.is_full() {
        1 << 30
    } else {
        128 * MIB
    }
}

/// One run of one layout.
#[derive(Clone, Debug, Default)]
pub struct ScrubRun {
    /// Seconds from `scrub()` to finished.
    pub scrub_secs: f64,
    /// Bytes the scrub examined (allocated sizes, as zpool status).
    pub examined: u64,
    /// Bytes it read from the files.
    pub read: u64,
    /// Seconds fio took to read as much from the same files.
    pub fio_secs: f64,
    /// Seconds of the scrub spent listing the blocks (before the first
    /// read of data).
    pub list_secs: f64,
    /// CPU seconds the process spent during the scrub (every thread).
    pub cpu_secs: f64,
}

impl ScrubRun {
    /// fio's time over the scrub's.
    pub fn ratio(&self) -> f64 {
        self.fio_secs / self.scrub_secs
    }

    /// The scrub's read bandwidth, MB/s.
    pub fn read_mb_s(&self) -> f64 {
        self.read as f64 / self.scrub_secs / 1e6
    }

    /// fio's, MB/s.
    pub fn fio_mb_s(&self) -> f64 {
        self.read as f64 / self.fio_secs / 1e6
    }

    /// Bytes examined per second, MB/s (what zpool status shows).
    pub fn examined_mb_s(&self) -> f64 {
        self.examined as f64 / self.scrub_secs / 1e6
    }
}

/// Times one scrub of `env` (made cold first); returns the run without
/// fio's part, and the bytes read from each file.
pub fn timed_scrub(env: ScanEnv) -> Result<(ScanEnv, ScrubRun, Vec<u64>)> {
    let env = env.reimport()?;
    drop_caches()?;
    let before = env.all_leaf_bytes();
    let cpu = process_cpu();
    let t = Instant::now();
    env.pool().scrub()?;
    let (st, listed) = wait_scan(env.pool(), t, LIMIT)?;
    let secs = t.elapsed().as_secs_f64();
    let cpu_secs = (process_cpu() - cpu).as_secs_f64();
    let per_file: Vec<u64> = env
        .all_leaf_bytes()
        .iter()
        .zip(&before)
        .map(|(a, b)| a.read - b.read)
        .collect();
    let run = ScrubRun {
        scrub_secs: secs,
        examined: st.examined,
        read: per_file.iter().sum(),
        fio_secs: 0.0,
        list_secs: listed,
        cpu_secs,
    };
    Ok((env, run, per_file))
}

/// Measures one layout: `runs` scrubs, each followed by fio.
fn layout(dir: &Path, mode: &Mode, i: usize) -> Result<Vec<ScrubRun>> {
    let (name, kind, n) = LAYOUTS[i];
    let bytes = data_bytes(mode);
    let files: Vec<PathBuf> = (0..n).map(|k| dir.join(format!("scrub{i}-{k}"))).collect();
    // Room for the data, its parity or second copy, and metadata.
    let per_file = (bytes / (n as u64 - 1).max(1)) * 3 / 2 + 512 * MIB;
    eprintln!("  scrub / {name}: writing {}", size(bytes));
    let mut env = Some(ScanEnv::create(
        &format!("benchscrub{i}"),
        kind,
        &files,
        per_file,
    )?);
    let r = (|| -> Result<Vec<ScrubRun>> {
        live(&env)?.fill(1, bytes, 60 + i as u64)?;
        let mut runs = Vec::new();
        for _ in 0..mode.runs {
            check_interrupted()?;
            let e = env.take().ok_or_else(lost)?;
            let (e, mut run, per_file) = timed_scrub(e)?;
            env = Some(e);
            drop_caches()?;
            run.fio_secs = fio_read(&files, &per_file)?;
            eprintln!(
                "  scrub / {name}: scrub {:.2} s (listing {:.2} s, CPU {:.2} s; {} MB/s read, {} MB/s examined), fio {:.2} s ({} MB/s): {:.2}",
                run.scrub_secs,
                run.list_secs,
                run.cpu_secs,
                sig3(run.read_mb_s()),
                sig3(run.examined_mb_s()),
                run.fio_secs,
                sig3(run.fio_mb_s()),
                run.ratio()
            );
            runs.push(run);
        }
        Ok(runs)
    })();
    // A pool lost by a failed step leaves its files to the caller's sweep
    // of `dir`.
    let d = env.map(|e| e.destroy(&[])).unwrap_or(Ok(()));
    let runs = r?;
    d?;
    Ok(runs)
}

fn lost() -> BenchError {
    BenchError::Other("an earlier step lost the pool".into())
}

fn live(env: &Option<ScanEnv>) -> Result<&ScanEnv> {
    env.as_ref().ok_or_else(lost)
}

/// Runs the figure in `dir`.
pub fn run(dir: &Path, mode: &Mode) -> Result<Vec<Goal>> {
    ensure_dir(dir)?;
    let mut goals = Vec::new();
    for (i, (name, _, n)) in LAYOUTS.iter().enumerate() {
        let runs = layout(dir, mode, i)?;
        let ratios: Vec<f64> = runs.iter().map(ScrubRun::ratio).collect();
        let m = median(&ratios).unwrap_or(0.0);
        let med = |f: fn(&ScrubRun) -> f64| median(&runs.iter().map(f).collect::<Vec<_>>());
        let (rd, fio, ex) = (
            med(ScrubRun::read_mb_s).unwrap_or(0.0),
            med(ScrubRun::fio_mb_s).unwrap_or(0.0),
            med(ScrubRun::examined_mb_s).unwrap_or(0.0),
        );
        goals.push(Goal {
            issue: 6,
            what: format!(
                "scrub over fio sequential read of the same files, {name}, {} of data",
                size(data_bytes(mode))
            ),
            value: format!("{m:.2} ({} / {} MB/s read)", sig3(rd), sig3(fio)),
            goal: format!(">= {GOAL}"),
            met: mode.is_full().then_some(m >= GOAL),
            detail: format!(
                "{n} sparse files in the work directory, incompressible data written through the DMU (1 MiB transactions, recordsize 128 KiB, compression off); per run: export and import (empty ARC), caches dropped, `Pool::scrub` timed until `scan_state()` is finished, bytes read per file from the vdev engines' counters; then {FIO_LINE}; the figure is fio's time over the scrub's. Scrub {} MB/s examined (allocated bytes, as zpool status counts them). Runs: ratio {:?}, scrub s {:?}, CPU s during the scrub {:?}, fio s {:?}, read {:?} MiB",
                sig3(ex),
                ratios.iter().map(|r| (r * 100.0).round() / 100.0).collect::<Vec<_>>(),
                runs.iter().map(|r| (r.scrub_secs * 100.0).round() / 100.0).collect::<Vec<_>>(),
                runs.iter().map(|r| (r.cpu_secs * 100.0).round() / 100.0).collect::<Vec<_>>(),
                runs.iter().map(|r| (r.fio_secs * 100.0).round() / 100.0).collect::<Vec<_>>(),
                runs.iter().map(|r| r.read / MIB).collect::<Vec<_>>(),
            ),
        });
    }
    Ok(goals)
}
