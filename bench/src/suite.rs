//! One run of the suite: check the machine, set up each system in turn,
//! run its workloads, tear it down; then the figures of the other issues;
//! then the report. A system that cannot be set up stops the run (after
//! cleaning up); a measurement that fails is marked FAILED in the report
//! and makes the run exit non-zero.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::basin::Goal;
use crate::cleanup;
use crate::cmd;
use crate::error::{BenchError, Result};
use crate::report::{Report, TargetRow};
use crate::sysinfo::{self, Machine};
use crate::targets::{self, basin::run_child, Availability, Cells, Ctx, Target};
use crate::workload::{Cell, Mode, Workload};

/// The issue figures run as child processes: (subcommand, what).
pub const FIGURES: [(&str, &str); 4] = [
    ("pool-write", "issue 2: pool write against fio"),
    ("pipeline", "issue 2: checksum and compression CPU"),
    ("import", "issue 2: import time"),
    ("list", "issue 3: listing 10,000 snapshots"),
];

/// What to run.
#[derive(Clone, Debug)]
pub struct Options {
    /// Sizes and repetitions.
    pub mode: Mode,
    /// The checkout (for the commit, the default output and docs/).
    pub repo: PathBuf,
    /// Where the systems' files go (same disk as the repo by default).
    pub work: PathBuf,
    /// Where the report goes (default: bench/results/DATE-COMMIT for a
    /// full run, WORK/quick-report for a quick one).
    pub out: Option<PathBuf>,
    /// Only these targets (empty: all).
    pub only: Vec<String>,
    /// Leave these targets out (reported as skipped).
    pub skip: Vec<String>,
    /// Skip the issue figures.
    pub no_figures: bool,
    /// Copy the summary into docs/performance.md.
    pub publish: bool,
    /// This program.
    pub exe: PathBuf,
    /// The command line, for the report.
    pub command: String,
}

/// Checks what the run needs before anything is made.
fn preflight(opts: &Options) -> Result<()> {
    if !sysinfo::is_root() {
        return Err(BenchError::NotRoot);
    }
    cmd::require(&["fio"])?;
    std::fs::create_dir_all(&opts.work).map_err(|e| BenchError::Io {
        context: format!("creating {}", opts.work.display()),
        source: e,
    })?;
    let free = sysinfo::free_bytes(&opts.work)?;
    let need = opts.mode.space_needed();
    if free < need {
        return Err(BenchError::NoSpace {
            dir: opts.work.clone(),
            free_gib: free as f64 / (1u64 << 30) as f64,
            need_gib: need as f64 / (1u64 << 30) as f64,
        });
    }
    let names = targets::names();
    for n in opts.only.iter().chain(&opts.skip) {
        if !names.contains(&n.as_str()) {
            return Err(BenchError::Other(format!(
                "no target named {n}; the targets are {}",
                names.join(", ")
            )));
        }
    }
    Ok(())
}

/// Runs one target: setup, workloads, teardown. A setup failure is an
/// error (after teardown); so is a teardown failure.
fn run_target(t: &mut dyn Target, ctx: &Ctx) -> Result<Cells> {
    eprintln!("== {}: {}", t.name(), t.describe(&ctx.mode));
    let avail = match t.setup(ctx) {
        Ok(a) => a,
        Err(e) => {
            if let Err(te) = t.teardown(ctx) {
                eprintln!(
                    "basin-bench: tearing down {} after its failed set-up: {te}",
                    t.name()
                );
            }
            return Err(e);
        }
    };
    let cells = match avail {
        Availability::Pending(why) => {
            eprintln!("   {}: {why}", t.name());
            Workload::ALL
                .iter()
                .map(|w| (*w, Cell::pending(why.clone())))
                .collect()
        }
        Availability::Ready => {
            let t0 = Instant::now();
            let r = t.run(ctx);
            let td = t.teardown(ctx);
            let cells = match r {
                Ok(c) => c,
                Err(BenchError::Interrupted) => return Err(BenchError::Interrupted),
                Err(e) => {
                    eprintln!("basin-bench: FAILED {}: {e}", t.name());
                    Workload::ALL
                        .iter()
                        .map(|w| (*w, Cell::Failed { why: e.to_string() }))
                        .collect()
                }
            };
            td?;
            eprintln!(
                "   {} done in {:.0} s",
                t.name(),
                t0.elapsed().as_secs_f64()
            );
            cells
        }
    };
    Ok(cells)
}

/// Issue 5's reference: the FUSE ceiling measured by memfs.
fn ceiling_goal(rows: &[TargetRow], mode: &Mode) -> Option<Goal> {
    let m = rows.iter().find(|r| r.name == "memfs")?;
    let v = |w| m.cells.get(&w).and_then(Cell::value);
    let (w, rc, rw) = (
        v(Workload::SeqWrite)?,
        v(Workload::SeqReadCold)?,
        v(Workload::SeqReadWarm)?,
    );
    Some(Goal {
        issue: 5,
        what: "FUSE ceiling (memfs) under zonefs' goals".into(),
        value: format!("write {w:.0} MB/s, read {rc:.0} MB/s cold, {rw:.0} MB/s warm"),
        goal: "room for zonefs' ~450 MB/s write and 1.2 GB/s read".into(),
        met: mode.is_full().then_some(w >= 450.0 && rc >= 1200.0),
        detail: "memfs answers every FUSE request from memory: no FUSE filesystem on this machine can be faster; \"met\" means the ceiling leaves room for issue 5's figures".into(),
    })
}

/// Runs the suite; returns the report and where it was written.
pub fn run(opts: &Options) -> Result<(Report, PathBuf)> {
    preflight(opts)?;
    let _guard = cleanup::install(&opts.work);
    for line in cleanup::sweep(&opts.work) {
        eprintln!("basin-bench: leftover of an earlier run: {line}");
    }
    let started = Instant::now();
    let machine = Machine::read(&opts.repo, &opts.work);
    eprintln!(
        "basin-bench: {} run, commit {}, work directory {}",
        opts.mode.name,
        machine.commit,
        opts.work.display()
    );
    let ctx = Ctx {
        work: opts.work.clone(),
        mode: opts.mode.clone(),
        exe: opts.exe.clone(),
    };
    let mut rows = Vec::new();
    let mut goals = Vec::new();
    for mut t in targets::all() {
        let name = t.name().to_string();
        let chosen = opts.only.is_empty() || opts.only.contains(&name);
        let cells = if !chosen || opts.skip.contains(&name) {
            let why = if opts.skip.contains(&name) {
                "--skip"
            } else {
                "not in --only"
            };
            Workload::ALL
                .iter()
                .map(|w| (*w, Cell::Skipped { why: why.into() }))
                .collect()
        } else {
            let cells = run_target(t.as_mut(), &ctx)?;
            goals.extend(t.goals(&opts.mode));
            cells
        };
        rows.push(TargetRow {
            name,
            description: t.describe(&opts.mode),
            basin: t.is_basin(),
            cells,
        });
    }
    goals.extend(ceiling_goal(&rows, &opts.mode));
    if !opts.no_figures {
        for (sub, what) in FIGURES {
            cleanup::check_interrupted()?;
            eprintln!("== {what}");
            match run_child(&ctx, sub, sub).and_then(|t| Ok(serde_json::from_str::<Vec<Goal>>(&t)?))
            {
                Ok(g) => goals.extend(g),
                Err(BenchError::Interrupted) => return Err(BenchError::Interrupted),
                Err(e) => {
                    eprintln!("basin-bench: FAILED {what}: {e}");
                    goals.push(Goal {
                        issue: 0,
                        what: what.to_string(),
                        value: format!("FAILED: {e}"),
                        goal: String::new(),
                        met: Some(false),
                        detail: format!("`basin-bench {sub}` failed"),
                    });
                }
            }
        }
    }
    goals.sort_by_key(|g| g.issue);
    let report = Report {
        machine,
        mode: opts.mode.clone(),
        command: opts.command.clone(),
        targets: rows,
        goals,
        seconds: started.elapsed().as_secs_f64(),
    };
    let out = match &opts.out {
        Some(o) => o.clone(),
        None if opts.mode.is_full() => opts.repo.join("bench").join("results").join(format!(
            "{}-{}",
            sysinfo::utc_date(),
            report.machine.commit
        )),
        None => opts.work.join("quick-report"),
    };
    report.write(&out)?;
    if opts.publish {
        publish(&report, &opts.repo, &out)?;
    }
    Ok((report, out))
}

/// Writes docs/performance.md: the summary, its charts linked from the
/// results folder.
pub fn publish(report: &Report, repo: &Path, out: &Path) -> Result<()> {
    let rel = out
        .strip_prefix(repo)
        .map(|p| p.to_string_lossy().into_owned())
        .map_err(|_| {
            BenchError::Other(format!(
                "cannot publish a report outside the checkout ({}): use the default --out",
                out.display()
            ))
        })?;
    let mut md = format!(
        "<!-- Generated by `scripts/bench.sh --full` from {rel}/report.md; do not edit by hand. -->\n\n"
    );
    md.push_str(&report.summary(&format!("../{rel}/charts")));
    md.push_str(&format!(
        "\nThe full report, its charts and the raw results (every run) are in [`{rel}/`](../{rel}/).\n"
    ));
    let p = repo.join("docs").join("performance.md");
    std::fs::write(&p, md).map_err(|e| BenchError::Io {
        context: format!("writing {}", p.display()),
        source: e,
    })
}
