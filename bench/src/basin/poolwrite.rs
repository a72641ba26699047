//! Issue 2's write figure: the pool's write throughput (1 MiB blocks,
//! incompressible, blake3, the default lz4 attempt, sync at the end) on a
//! file vdev, against fio O_DIRECT sequential write (io_uring, 16 in
//! flight, fsync at the end) of a file of the same size in the same
//! directory. The two alternate, run by run; the goal is a ratio of medians
//! of at least 0.85.

use std::path::Path;
use std::time::Instant;

use basin_pool::{AlignedBuf, BlockType, Pool, WriteProps};

use crate::basin::{create_pool, Goal, XorShift, MIB};
use crate::cleanup::check_interrupted;
use crate::error::{BenchError, Result};
use crate::fio::{Job, Style};
use crate::stats::{median, sig3};
use crate::workload::{size, Mode};

/// Blocks handed to the pool at once.
const BATCH: usize = 32;
/// Distinct block contents cycled through.
const TEMPLATES: usize = 64;
/// The goal: pool over fio.
pub const GOAL: f64 = 0.85;

/// Writes `bytes` of 1 MiB blocks cycled from `templates` into `pool`, a
/// batch per txg hold, and syncs; returns the seconds of the final sync.
pub fn write_through(pool: &Pool, bytes: u64, templates: &[Vec<u8>]) -> Result<f64> {
    let props = WriteProps::new(BlockType::TEST_DATA);
    let blocks = bytes / MIB;
    let mut done = 0u64;
    while done < blocks {
        check_interrupted()?;
        let n = (blocks - done).min(BATCH as u64) as usize;
        let batch: Vec<(AlignedBuf, WriteProps)> = (0..n)
            .map(|i| {
                let tpl = &templates[(done as usize + i) % templates.len()];
                (AlignedBuf::from_slice_padded(tpl, tpl.len()), props)
            })
            .collect();
        let hold = pool.txg().hold();
        for r in pool.write_blocks(hold.txg(), batch) {
            r?;
        }
        drop(hold);
        done += n as u64;
    }
    let t = Instant::now();
    pool.sync()?;
    Ok(t.elapsed().as_secs_f64())
}

/// Incompressible 1 MiB blocks to cycle through.
pub fn templates(seed: u64) -> Vec<Vec<u8>> {
    let mut rng = XorShift::new(seed);
    (0..TEMPLATES)
        .map(|_| {
            let mut b = vec![0u8; MIB as usize];
            rng.fill(&mut b);
            b
        })
        .collect()
}

/// Writes `bytes` through a new pool on `vdev`; returns MB/s and the
/// seconds of the final sync (included).
pub fn pool_mb_per_s(vdev: &Path, bytes: u64, templates: &[Vec<u8>]) -> Result<(f64, f64)> {
    let pool = create_pool("benchwrite", vdev, bytes + bytes / 4 + (512 * MIB))?;
    let t = Instant::now();
    let sync = write_through(&pool, bytes, templates)?;
    let secs = t.elapsed().as_secs_f64();
    pool.destroy()?;
    let _ = std::fs::remove_file(vdev);
    Ok((bytes as f64 / secs / 1e6, sync))
}

/// fio's O_DIRECT sequential write of `bytes` to `file`; MB/s.
pub fn fio_mb_per_s(file: &Path, bytes: u64) -> Result<f64> {
    let _ = std::fs::remove_file(file);
    let mut j = Job::new("pool-write-peer", file, "write", MIB, bytes);
    j.style = Style::Direct;
    let r = j.run()?.mb_per_s();
    let _ = std::fs::remove_file(file);
    Ok(r)
}

/// Runs the figure in `dir`.
pub fn run(dir: &Path, mode: &Mode) -> Result<Vec<Goal>> {
    std::fs::create_dir_all(dir).map_err(|e| BenchError::Io {
        context: format!("creating {}", dir.display()),
        source: e,
    })?;
    let bytes = mode.pool_write_bytes;
    let templates = templates(42);
    let mut pool = Vec::new();
    let mut syncs = Vec::new();
    let mut fio = Vec::new();
    for _ in 0..mode.runs {
        eprintln!("  pool write / fio O_DIRECT, {}", size(bytes));
        fio.push(fio_mb_per_s(&dir.join("fio.dat"), bytes)?);
        eprintln!("  pool write / Basin pool, {}", size(bytes));
        let (rate, sync) = pool_mb_per_s(&dir.join("vdev0"), bytes, &templates)?;
        pool.push(rate);
        syncs.push(sync);
    }
    let (p, f) = (
        median(&pool).unwrap_or(0.0),
        median(&fio).unwrap_or(f64::NAN),
    );
    let ratio = p / f;
    Ok(vec![Goal {
        issue: 2,
        what: format!("pool write throughput over fio O_DIRECT write, {}", size(bytes)),
        value: format!("{ratio:.2} ({} / {} MB/s)", sig3(p), sig3(f)),
        goal: format!(">= {GOAL}"),
        met: mode.is_full().then_some(ratio >= GOAL),
        detail: format!(
            "pool runs {:?} MB/s (of which the final sync {:?} s); fio runs {:?} MB/s; 1 MiB incompressible blocks, blake3, lz4 attempted, {BATCH} blocks per write_blocks call under one txg hold, sync at the end; fio --rw=write --bs=1M --direct=1 --ioengine=io_uring --iodepth=16 --end_fsync=1 in the same directory",
            round(&pool),
            syncs.iter().map(|s| (s * 100.0).round() / 100.0).collect::<Vec<_>>(),
            round(&fio)
        ),
    }])
}

/// Rounds figures for the detail text.
pub fn round(v: &[f64]) -> Vec<f64> {
    v.iter().map(|x| (x * 10.0).round() / 10.0).collect()
}
