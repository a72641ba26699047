//! Basin's in-process row (`basin-dmu`): the workloads of the peers, done
//! through the DMU and the dataset layer in one process with no FUSE and
//! no POSIX layer in the way. One object stands for a file; each 1 MiB (or
//! 4 KiB) write is its own transaction, as a FUSE write would be; "fsync"
//! is a txg sync, since this row does not drive the intent log (the POSIX
//! layer logs its changes; basin-fuse measures that). It runs in a child
//! process of the suite, so its peak memory is that of Basin alone.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::basin::{DslEnv, Fill, XorShift, MIB};
use crate::cleanup::check_interrupted;
use crate::error::{BenchError, Result};
use crate::sysinfo::own_peak_kib;
use crate::targets::Cells;
use crate::workload::{size, Cell, Mode, Workload};

const POOL: &str = "benchdmu";
const DS: &str = "benchdmu/data";
const COMP_DS: &str = "benchdmu/comp";
const SEQ: u64 = 10;
const HALF: u64 = 11;
const FILL_A: u64 = 20;
const FILL_B: u64 = 21;
/// Writes between two syncs of `rand-write-4k-fsync32`.
const FSYNC_EVERY: u32 = 32;

/// Extra figure: rollback after four times the change, small data set.
pub const ROLLBACK_SMALL_4X: &str = "rollback-small-4x";
/// Extra figure: rollback after four times the change, large data set.
pub const ROLLBACK_LARGE_4X: &str = "rollback-large-4x";

/// What the child reports.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RowReport {
    /// The workloads' cells.
    pub cells: Cells,
    /// Figures beyond the common workloads, by name.
    pub extra: BTreeMap<String, Cell>,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn runs_of(runs: usize, note: Option<String>, mut f: impl FnMut() -> Result<f64>) -> Result<Cell> {
    let mut v = Vec::with_capacity(runs);
    for _ in 0..runs {
        check_interrupted()?;
        v.push(f()?);
    }
    Ok(Cell::measured(v, note))
}

fn read_all(env: &DslEnv, obj: u64, bytes: u64) -> Result<()> {
    let os = env.dsl.objset(DS)?;
    let mut buf = vec![0u8; MIB as usize];
    let mut off = 0;
    while off < bytes {
        let n = (bytes - off).min(MIB) as usize;
        os.read(obj, off, &mut buf[..n])?;
        off += n as u64;
    }
    Ok(())
}

/// The pool of the row; `None` once a failed step lost it.
type Env = Option<DslEnv>;

fn live(env: &Env) -> Result<&DslEnv> {
    env.as_ref()
        .ok_or_else(|| BenchError::Other("an earlier step lost the pool".into()))
}

/// Exports and imports the pool again (empty ARC); returns the import
/// time. On failure the pool is lost for the steps after.
fn reimport(env: &mut Env) -> Result<Duration> {
    let e = env
        .take()
        .ok_or_else(|| BenchError::Other("an earlier step lost the pool".into()))?;
    let (e, d) = e.reimport()?;
    *env = Some(e);
    Ok(d)
}

/// Runs one step and records its cell; a failure is recorded as a failed
/// cell (and printed) and the row goes on; an interruption stops it.
fn record(
    rep: &mut RowReport,
    env: &mut Env,
    w: Workload,
    f: impl FnOnce(&mut Env) -> Result<Cell>,
) -> Result<()> {
    eprintln!("  basin-dmu / {}", w.id());
    match f(env) {
        Ok(c) => {
            rep.cells.insert(w, c);
            Ok(())
        }
        Err(BenchError::Interrupted) => Err(BenchError::Interrupted),
        Err(e) => {
            eprintln!("  FAILED basin-dmu / {}: {e}", w.id());
            rep.cells.insert(w, Cell::Failed { why: e.to_string() });
            Ok(())
        }
    }
}

/// Runs the row in `dir` (created); the pool is destroyed at the end.
pub fn run(dir: &Path, mode: &Mode) -> Result<RowReport> {
    std::fs::create_dir_all(dir).map_err(|e| BenchError::Io {
        context: format!("creating {}", dir.display()),
        source: e,
    })?;
    let vdev = dir.join("vdev0");
    let first = DslEnv::create(POOL, &vdev, mode.device_bytes(), mode.cache_bytes)?;
    first.dsl.create(DS, None, &[], false)?;
    let mut env: Env = Some(first);
    let mut rep = RowReport::default();
    let runs = mode.runs;
    let s = mode.seq_size;

    record(&mut rep, &mut env, Workload::SeqWrite, |env| {
        let env = live(env)?;
        runs_of(runs, None, || {
            env.free(DS, SEQ)?;
            env.sync()?;
            let t = Instant::now();
            env.write_seq(DS, SEQ, s, Fill::Incompressible, 1)?;
            env.sync()?;
            Ok(s as f64 / t.elapsed().as_secs_f64() / 1e6)
        })
    })?;
    record(&mut rep, &mut env, Workload::SeqWriteHalf, |env| {
        let env = live(env)?;
        let c = runs_of(runs, None, || {
            env.free(DS, HALF)?;
            env.sync()?;
            let t = Instant::now();
            env.write_seq(DS, HALF, s, Fill::Half, 2)?;
            env.sync()?;
            Ok(s as f64 / t.elapsed().as_secs_f64() / 1e6)
        })?;
        env.free(DS, HALF)?;
        env.sync()?;
        Ok(c)
    })?;
    record(&mut rep, &mut env, Workload::SeqReadCold, |env| {
        let mut cold = Vec::new();
        for _ in 0..runs {
            check_interrupted()?;
            reimport(env)?;
            let t = Instant::now();
            read_all(live(env)?, SEQ, s)?;
            cold.push(s as f64 / t.elapsed().as_secs_f64() / 1e6);
        }
        Ok(Cell::measured(
            cold,
            Some("after export and import: empty ARC, O_DIRECT vdev".into()),
        ))
    })?;
    record(&mut rep, &mut env, Workload::SeqReadWarm, |env| {
        let env = live(env)?;
        read_all(env, SEQ, s)?;
        runs_of(runs, Some("from the ARC".into()), || {
            let t = Instant::now();
            read_all(env, SEQ, s)?;
            Ok(s as f64 / t.elapsed().as_secs_f64() / 1e6)
        })
    })?;
    record(&mut rep, &mut env, Workload::RandRead, |env| {
        let mut rr = Vec::new();
        for r in 0..runs {
            check_interrupted()?;
            reimport(env)?;
            let os = live(env)?.dsl.objset(DS)?;
            let mut rng = XorShift::new(100 + r as u64);
            let blocks = s / 4096;
            let mut buf = vec![0u8; 4096];
            let t = Instant::now();
            let mut n = 0u64;
            while t.elapsed() < mode.rand_runtime {
                os.read(SEQ, rng.next_u64() % blocks * 4096, &mut buf)?;
                n += 1;
            }
            rr.push(n as f64 / t.elapsed().as_secs_f64());
        }
        Ok(Cell::measured(rr, Some("after export and import".into())))
    })?;
    record(&mut rep, &mut env, Workload::RandWrite, |env| {
        let env = live(env)?;
        runs_of(runs, None, || {
            let mut rng = XorShift::new(7);
            let blocks = s / 4096;
            let mut buf = vec![0u8; 4096];
            let want = mode.rand_write_bytes / 4096;
            let t = Instant::now();
            let mut n = 0;
            while n < want && t.elapsed() < mode.rand_write_max {
                rng.fill(&mut buf);
                env.write(DS, SEQ, rng.next_u64() % blocks * 4096, &buf)?;
                n += 1;
            }
            env.sync()?;
            Ok(n as f64 / t.elapsed().as_secs_f64())
        })
    })?;
    // fsync after each write, then after every FSYNC_EVERY: whole batches,
    // so that every write counted was synced.
    for (w, every, seed) in [
        (Workload::RandWriteFsync, 1, 8),
        (Workload::RandWriteFsync32, FSYNC_EVERY, 9),
    ] {
        record(&mut rep, &mut env, w, |env| {
            let env = live(env)?;
            let note = if every == 1 {
                "fsync = txg sync: this row does not use the intent log".to_string()
            } else {
                format!(
                    "fsync = txg sync, one after every {every} writes: this row does not use the intent log"
                )
            };
            runs_of(runs, Some(note), || {
                let mut rng = XorShift::new(seed);
                let blocks = s / 4096;
                let mut buf = vec![0u8; 4096];
                let t = Instant::now();
                let mut n = 0u64;
                while t.elapsed() < mode.fsync_runtime {
                    for _ in 0..every {
                        rng.fill(&mut buf);
                        env.write(DS, SEQ, rng.next_u64() % blocks * 4096, &buf)?;
                        n += 1;
                    }
                    env.sync()?;
                }
                Ok(n as f64 / t.elapsed().as_secs_f64())
            })
        })?;
    }
    if let Some(e) = &env {
        // Best effort: a failed step may have left the object unreadable.
        let _ = e.free(DS, SEQ).and_then(|_| e.sync());
    }
    for w in [
        Workload::FileCreate,
        Workload::FileStat,
        Workload::FileDelete,
    ] {
        rep.cells.insert(
            w,
            Cell::na("no files below the POSIX layer (see basin-fuse)"),
        );
    }

    eprintln!("  basin-dmu / filling {}", size(mode.snap_small));
    let filled = live(&env).and_then(|e| {
        e.write_seq(DS, FILL_A, mode.snap_small, Fill::Incompressible, 3)?;
        e.sync()
    });
    if let Err(e) = &filled {
        eprintln!("  FAILED basin-dmu / filling: {e}");
    }
    snap_cycles(
        &env,
        mode,
        &mut rep,
        Workload::SnapSmall,
        Workload::RollbackSmall,
        ROLLBACK_SMALL_4X,
    )?;
    rep.cells.insert(
        Workload::Scrub,
        Cell::pending("scrub is not built yet (pool: scrub and resilver)"),
    );
    if mode.snap_large > mode.snap_small {
        eprintln!("  basin-dmu / filling up to {}", size(mode.snap_large));
        let filled = live(&env).and_then(|e| {
            e.write_seq(
                DS,
                FILL_B,
                mode.snap_large - mode.snap_small,
                Fill::Incompressible,
                4,
            )?;
            e.sync()
        });
        if let Err(e) = &filled {
            eprintln!("  FAILED basin-dmu / filling: {e}");
        }
    }
    snap_cycles(
        &env,
        mode,
        &mut rep,
        Workload::SnapLarge,
        Workload::RollbackLarge,
        ROLLBACK_LARGE_4X,
    )?;

    record(&mut rep, &mut env, Workload::Import, |env| {
        let mut imp = Vec::new();
        for _ in 0..runs {
            check_interrupted()?;
            imp.push(ms(reimport(env)?));
        }
        Ok(Cell::measured(
            imp,
            Some("scan + pool import + dataset layer open".into()),
        ))
    })?;
    if let Some(e) = &env {
        let _ = e
            .free(DS, FILL_A)
            .and_then(|_| e.free(DS, FILL_B))
            .and_then(|_| e.sync());
    }
    record(&mut rep, &mut env, Workload::CompressRatio, |env| {
        let env = live(env)?;
        env.dsl.create(COMP_DS, None, &[], false)?;
        env.write_seq(COMP_DS, HALF, s, Fill::Half, 5)?;
        env.sync()?;
        let ratio: f64 = env
            .dsl
            .get_prop(COMP_DS, "compressratio")?
            .exact
            .parse()
            .map_err(|_| BenchError::Other("compressratio is not a number".into()))?;
        Ok(Cell::measured(vec![ratio], Some("lz4".into())))
    })?;
    rep.cells.insert(
        Workload::Memory,
        Cell::measured(
            vec![own_peak_kib() as f64 / 1024.0],
            Some(format!(
                "this process: pool, DMU and an ARC of {} MiB",
                mode.cache_bytes >> 20
            )),
        ),
    );
    if let Some(e) = env {
        e.destroy()?;
    }
    Ok(rep)
}

/// Per run: snapshot (timed), change `rollback_change` bytes, roll back
/// (timed), destroy the snapshot; then the same with four times the
/// change, for the extra figure. A failure marks both cells failed.
fn snap_cycles(
    env: &Env,
    mode: &Mode,
    rep: &mut RowReport,
    snap_w: Workload,
    roll_w: Workload,
    roll_4x: &str,
) -> Result<()> {
    eprintln!("  basin-dmu / {} + {}", snap_w.id(), roll_w.id());
    let mut snaps = Vec::new();
    let mut rolls = Vec::new();
    let mut rolls4 = Vec::new();
    let r = (|| -> Result<()> {
        let env = live(env)?;
        for i in 0..mode.runs {
            for (factor, out) in [(1u64, &mut rolls), (4, &mut rolls4)] {
                check_interrupted()?;
                let name = format!("{DS}@{}-{i}-{factor}", snap_w.id());
                let t = Instant::now();
                env.dsl.snapshot(std::slice::from_ref(&name), false)?;
                if factor == 1 {
                    snaps.push(ms(t.elapsed()));
                }
                env.write_seq(
                    DS,
                    FILL_A,
                    mode.rollback_change * factor,
                    Fill::Incompressible,
                    1000 + i as u64,
                )?;
                env.sync()?;
                let t = Instant::now();
                env.dsl.rollback(&name, false)?;
                out.push(ms(t.elapsed()));
                env.dsl.destroy(&name, false, false, false, false)?;
            }
        }
        Ok(())
    })();
    match r {
        Ok(()) => {
            rep.cells.insert(snap_w, Cell::measured(snaps, None));
            rep.cells.insert(roll_w, Cell::measured(rolls, None));
            rep.extra
                .insert(roll_4x.to_string(), Cell::measured(rolls4, None));
            Ok(())
        }
        Err(BenchError::Interrupted) => Err(BenchError::Interrupted),
        Err(e) => {
            eprintln!("  FAILED basin-dmu / {}: {e}", snap_w.id());
            for w in [snap_w, roll_w] {
                rep.cells.insert(w, Cell::Failed { why: e.to_string() });
            }
            Ok(())
        }
    }
}
