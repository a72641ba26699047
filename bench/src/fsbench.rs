//! The workloads every filesystem target runs, in one order, with the same
//! fio job lines: sequential writes, reads cold and warm, random I/O,
//! small files, then the data-set workloads (snapshots, rollbacks, scrub,
//! import) and last the compression ratio and the daemon's memory.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::cleanup::check_interrupted;
use crate::error::{BenchError, Result};
use crate::fio::{Data, Job, Style};
use crate::smallfile;
use crate::sysinfo::{memory_kib, syncfs};
use crate::targets::{Cells, Ctx, Mounted, Support};
use crate::workload::{size, Cell, Workload};

const MIB: u64 = 1 << 20;
const KIB4: u64 = 4096;

fn remove(p: &Path) {
    let _ = fs::remove_file(p);
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Records the runs of one workload (or why it has none). A failure is
/// recorded as a failed cell and printed; an interruption stops the run.
fn each<M: Mounted + ?Sized>(
    cells: &mut Cells,
    t: &mut M,
    w: Workload,
    runs: usize,
    note: Option<String>,
    mut f: impl FnMut(&mut M) -> Result<f64>,
) -> Result<()> {
    if let Support::No(c) = t.support(w) {
        cells.insert(w, c);
        return Ok(());
    }
    eprintln!("  {} / {}", t.name(), w.id());
    let mut v = Vec::new();
    for _ in 0..runs {
        check_interrupted()?;
        match f(t) {
            Ok(x) => v.push(x),
            Err(BenchError::Interrupted) => return Err(BenchError::Interrupted),
            Err(e) => {
                eprintln!("  FAILED {} / {}: {e}", t.name(), w.id());
                cells.insert(w, Cell::Failed { why: e.to_string() });
                return Ok(());
            }
        }
    }
    cells.insert(w, Cell::measured(v, note));
    Ok(())
}

fn supported<M: Mounted + ?Sized>(t: &M, w: Workload) -> bool {
    t.support(w) == Support::Yes
}

fn job(name: &str, file: &Path, rw: &'static str, bs: u64, size: u64, style: Style) -> Job {
    let mut j = Job::new(name, file, rw, bs, size);
    j.style = style;
    j
}

/// Writes `bytes` of incompressible data to `file`, synced (setup of the
/// data-set workloads, not measured).
fn fill(file: &Path, bytes: u64, style: Style) -> Result<()> {
    remove(file);
    job("fill", file, "write", MIB, bytes, style).run()?;
    Ok(())
}

/// Runs every workload on `t`.
pub fn run<M: Mounted + ?Sized>(t: &mut M, ctx: &Ctx) -> Result<Cells> {
    let mut cells = Cells::new();
    let mode = ctx.mode.clone();
    let dir = t.dir();
    let style = t.style();
    let runs = mode.runs;
    let seq = dir.join("seq.dat");
    let half = dir.join("half.dat");
    let s = mode.seq_size;

    each(&mut cells, t, Workload::SeqWrite, runs, None, |_| {
        remove(&seq);
        Ok(job("seq-write", &seq, "write", MIB, s, style)
            .run()?
            .mb_per_s())
    })?;
    each(&mut cells, t, Workload::SeqWriteHalf, runs, None, |_| {
        remove(&half);
        let mut j = job("seq-write-half", &half, "write", MIB, s, style);
        j.data = Data::Half;
        Ok(j.run()?.mb_per_s())
    })?;
    remove(&half);
    if !seq.exists() {
        fill(&seq, s, style)?;
    }
    each(&mut cells, t, Workload::SeqReadCold, runs, None, |t| {
        t.make_cold(ctx)?;
        Ok(job("seq-read-cold", &seq, "read", MIB, s, style)
            .run()?
            .mb_per_s())
    })?;
    if supported(t, Workload::SeqReadWarm) {
        // One read to bring the file in, then the measured ones.
        job("warm-up", &seq, "read", MIB, s, style).run()?;
    }
    each(&mut cells, t, Workload::SeqReadWarm, runs, None, |_| {
        Ok(job("seq-read-warm", &seq, "read", MIB, s, style)
            .run()?
            .mb_per_s())
    })?;
    each(&mut cells, t, Workload::RandRead, runs, None, |t| {
        t.make_cold(ctx)?;
        let mut j = job("rand-read", &seq, "randread", KIB4, s, style);
        j.runtime = Some(mode.rand_runtime);
        j.time_based = true;
        Ok(j.run()?.iops())
    })?;
    each(&mut cells, t, Workload::RandWrite, runs, None, |_| {
        let mut j = job("rand-write", &seq, "randwrite", KIB4, s, style);
        j.io_size = Some(mode.rand_write_bytes);
        j.runtime = Some(mode.rand_write_max);
        Ok(j.run()?.iops())
    })?;
    each(&mut cells, t, Workload::RandWriteFsync, runs, None, |_| {
        let mut j = job("rand-write-fsync", &seq, "randwrite", KIB4, s, style);
        j.runtime = Some(mode.fsync_runtime);
        j.time_based = true;
        j.fsync_every = 1;
        j.end_fsync = false;
        Ok(j.run()?.iops())
    })?;
    each(
        &mut cells,
        t,
        Workload::RandWriteFsync32,
        runs,
        None,
        |_| {
            let mut j = job("rand-write-fsync32", &seq, "randwrite", KIB4, s, style);
            j.runtime = Some(mode.fsync_runtime);
            j.time_based = true;
            j.fsync_every = 32;
            j.end_fsync = false;
            Ok(j.run()?.iops())
        },
    )?;
    remove(&seq);

    small_files(&mut cells, t, ctx)?;
    data_sets(&mut cells, t, ctx)?;

    // Compression: only the half-compressible file in the data directory.
    each(&mut cells, t, Workload::CompressRatio, 1, None, |t| {
        remove(&half);
        let mut j = job("compress", &half, "write", MIB, s, style);
        j.data = Data::Half;
        j.run()?;
        syncfs(&dir)?;
        t.compress_ratio(&half)
    })?;
    remove(&half);

    each(&mut cells, t, Workload::Memory, 1, None, |t| {
        let pid = t
            .daemon_pid()
            .ok_or_else(|| BenchError::Other("no daemon to measure".into()))?;
        Ok(memory_kib(pid)?.0 as f64 / 1024.0)
    })?;
    Ok(cells)
}

fn small_files<M: Mounted + ?Sized>(cells: &mut Cells, t: &mut M, ctx: &Ctx) -> Result<()> {
    if !supported(t, Workload::FileCreate) {
        for w in [
            Workload::FileCreate,
            Workload::FileStat,
            Workload::FileDelete,
        ] {
            if let Support::No(c) = t.support(w) {
                cells.insert(w, c);
            }
        }
        return Ok(());
    }
    eprintln!("  {} / small files", t.name());
    let root = t.dir().join("small");
    let mut runs = Vec::new();
    for _ in 0..ctx.mode.runs {
        check_interrupted()?;
        let _ = fs::remove_dir_all(&root);
        fs::create_dir(&root).map_err(|e| BenchError::Io {
            context: format!("mkdir {}", root.display()),
            source: e,
        })?;
        let r = smallfile::run(&root, ctx.mode.small_files, || t.make_cold(ctx));
        match r {
            Ok(p) => runs.push(p),
            Err(BenchError::Interrupted) => return Err(BenchError::Interrupted),
            Err(e) => {
                eprintln!("  FAILED {} / small files: {e}", t.name());
                for w in [
                    Workload::FileCreate,
                    Workload::FileStat,
                    Workload::FileDelete,
                ] {
                    cells.insert(w, Cell::Failed { why: e.to_string() });
                }
                let _ = fs::remove_dir_all(&root);
                return Ok(());
            }
        }
    }
    let _ = fs::remove_dir_all(&root);
    cells.insert(
        Workload::FileCreate,
        Cell::measured(runs.iter().map(|p| p.create).collect(), None),
    );
    cells.insert(
        Workload::FileStat,
        Cell::measured(runs.iter().map(|p| p.stat).collect(), None),
    );
    cells.insert(
        Workload::FileDelete,
        Cell::measured(runs.iter().map(|p| p.delete).collect(), None),
    );
    Ok(())
}

/// Snapshot and rollback at the small size, scrub, then the same at the
/// large size, and import with the large data set in place.
fn data_sets<M: Mounted + ?Sized>(cells: &mut Cells, t: &mut M, ctx: &Ctx) -> Result<()> {
    let wanted = [
        Workload::SnapSmall,
        Workload::SnapLarge,
        Workload::RollbackSmall,
        Workload::RollbackLarge,
        Workload::Scrub,
        Workload::Import,
    ];
    if !wanted.iter().any(|w| supported(t, *w)) {
        for w in wanted {
            if let Support::No(c) = t.support(w) {
                cells.insert(w, c);
            }
        }
        return Ok(());
    }
    let mode = ctx.mode.clone();
    let style = t.style();
    let dir = t.dir();
    let a = dir.join("fill-a.dat");
    let b = dir.join("fill-b.dat");
    eprintln!("  {} / filling {}", t.name(), size(mode.snap_small));
    fill(&a, mode.snap_small, style)?;
    snap_cycle(
        cells,
        t,
        ctx,
        &a,
        Workload::SnapSmall,
        Workload::RollbackSmall,
    )?;
    let small = mode.snap_small;
    each(cells, t, Workload::Scrub, mode.runs, None, move |t| {
        let t0 = Instant::now();
        t.scrub()?;
        Ok(small as f64 / t0.elapsed().as_secs_f64() / 1e6)
    })?;
    if mode.snap_large > mode.snap_small
        && (supported(t, Workload::SnapLarge) || supported(t, Workload::Import))
    {
        eprintln!("  {} / filling up to {}", t.name(), size(mode.snap_large));
        fill(&b, mode.snap_large - mode.snap_small, style)?;
    }
    snap_cycle(
        cells,
        t,
        ctx,
        &a,
        Workload::SnapLarge,
        Workload::RollbackLarge,
    )?;
    each(cells, t, Workload::Import, mode.runs, None, |t| {
        Ok(ms(t.remount(ctx)?))
    })?;
    remove(&a);
    remove(&b);
    Ok(())
}

/// Per run: snapshot (timed), overwrite the first `rollback_change` bytes
/// of `file`, sync, roll back (timed), destroy the snapshot.
fn snap_cycle<M: Mounted + ?Sized>(
    cells: &mut Cells,
    t: &mut M,
    ctx: &Ctx,
    file: &Path,
    snap_w: Workload,
    roll_w: Workload,
) -> Result<()> {
    if !supported(t, snap_w) {
        for w in [snap_w, roll_w] {
            if let Support::No(c) = t.support(w) {
                cells.insert(w, c);
            }
        }
        return Ok(());
    }
    eprintln!("  {} / {} + {}", t.name(), snap_w.id(), roll_w.id());
    let style = t.style();
    let change = ctx.mode.rollback_change;
    let mut snaps = Vec::new();
    let mut rolls = Vec::new();
    for i in 0..ctx.mode.runs {
        check_interrupted()?;
        let name = format!("{}-{i}", snap_w.id());
        let step = (|| -> Result<(f64, f64)> {
            let t0 = Instant::now();
            t.snapshot(&name)?;
            let snap = ms(t0.elapsed());
            job("change", file, "write", MIB, change, style).run()?;
            let t0 = Instant::now();
            t.rollback(&name)?;
            let roll = ms(t0.elapsed());
            t.destroy_snapshot(&name)?;
            Ok((snap, roll))
        })();
        match step {
            Ok((s, r)) => {
                snaps.push(s);
                rolls.push(r);
            }
            Err(BenchError::Interrupted) => return Err(BenchError::Interrupted),
            Err(e) => {
                eprintln!("  FAILED {} / {}: {e}", t.name(), snap_w.id());
                cells.insert(snap_w, Cell::Failed { why: e.to_string() });
                cells.insert(roll_w, Cell::Failed { why: e.to_string() });
                return Ok(());
            }
        }
    }
    cells.insert(snap_w, Cell::measured(snaps, None));
    cells.insert(roll_w, Cell::measured(rolls, None));
    Ok(())
}
