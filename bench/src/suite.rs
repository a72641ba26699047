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

/// The median of workload `w` in the row named `name`, when measured.
fn figure(rows: &[TargetRow], name: &str, w: Workload) -> Option<f64> {
    rows.iter()
        .find(|r| r.name == name)?
        .cells
        .get(&w)
        .and_then(Cell::value)
}

/// The same, when it can divide: measured, finite and above zero.
fn divisor(rows: &[TargetRow], name: &str, w: Workload) -> Option<f64> {
    figure(rows, name, w).filter(|v| v.is_finite() && *v > 0.0)
}

/// Issue 5: basin-fuse's sequential throughput of `w` (1 MiB blocks)
/// against the FUSE ceiling (memfs), with ext4's for scale when it has a
/// figure.
fn fuse_ceiling_goal(rows: &[TargetRow], mode: &Mode, w: Workload, what: &str) -> Option<Goal> {
    let b = figure(rows, "basin-fuse", w)?;
    let m = divisor(rows, "memfs", w)?;
    let ratio = b / m;
    let mut value = format!("{ratio:.2}x memfs (basin-fuse {b:.0} MB/s, memfs {m:.0} MB/s)");
    let mut detail = format!(
        "basin-fuse's `{id}` median over memfs' `{id}` median: memfs answers every FUSE request from memory, so no FUSE filesystem on this machine can be faster",
        id = w.id()
    );
    match divisor(rows, "ext4", w) {
        Some(e) => {
            value.push_str(&format!("; {:.2}x ext4 ({e:.0} MB/s)", b / e));
            detail.push_str(&format!(
                "; the ratio to ext4 is basin-fuse's over ext4's `{}` median, for scale (not judged)",
                w.id()
            ));
        }
        None => detail.push_str("; ext4 had no figure to compare with"),
    }
    Some(Goal {
        issue: 5,
        what: what.into(),
        value,
        goal: ">= 0.9".into(),
        met: mode.is_full().then_some(ratio >= 0.9),
        detail,
    })
}

/// Issue 5: basin-fuse's 4 KiB random writes with an fsync every 32
/// against ext4's.
fn fsync32_goal(rows: &[TargetRow], mode: &Mode) -> Option<Goal> {
    let w = Workload::RandWriteFsync32;
    let b = figure(rows, "basin-fuse", w)?;
    let e = divisor(rows, "ext4", w)?;
    let ratio = b / e;
    Some(Goal {
        issue: 5,
        what: "4 KiB random writes, fsync every 32, against ext4".into(),
        value: format!("{ratio:.2}x ext4 (basin-fuse {b:.0} IOPS, ext4 {e:.0} IOPS)"),
        goal: ">= 1.0".into(),
        met: mode.is_full().then_some(ratio >= 1.0),
        detail: format!(
            "basin-fuse's `{id}` median over ext4's `{id}` median: the same fio job (`--rw=randwrite --bs=4096 --fsync=32`, time-based) on both",
            id = w.id()
        ),
    })
}

/// Issue 5: basin-fuse's small-file workload `w` within 2x of ext4 and
/// faster than zfs-fuse.
fn small_file_goal(rows: &[TargetRow], mode: &Mode, w: Workload, what: &str) -> Option<Goal> {
    let b = figure(rows, "basin-fuse", w)?;
    let e = divisor(rows, "ext4", w)?;
    let z = divisor(rows, "zfs-fuse", w)?;
    Some(Goal {
        issue: 5,
        what: what.into(),
        value: format!(
            "basin-fuse {b:.0} files/s: {:.2}x ext4 ({e:.0}), {:.2}x zfs-fuse ({z:.0})",
            b / e,
            b / z
        ),
        goal: "within 2x of ext4 and faster than zfs-fuse".into(),
        met: mode.is_full().then_some(b >= e / 2.0 && b > z),
        detail: format!(
            "the `{id}` medians in files/s; met when basin-fuse's is at least half of ext4's and above zfs-fuse's",
            id = w.id()
        ),
    })
}

/// Issue 5's figures, from the measured rows; a figure some row it needs
/// has no value for is left out.
fn issue5_goals(rows: &[TargetRow], mode: &Mode) -> Vec<Goal> {
    [
        fuse_ceiling_goal(
            rows,
            mode,
            Workload::SeqWrite,
            "seq write 1 MiB through FUSE against the FUSE ceiling",
        ),
        fuse_ceiling_goal(
            rows,
            mode,
            Workload::SeqReadCold,
            "seq read 1 MiB (cold) through FUSE against the FUSE ceiling",
        ),
        fsync32_goal(rows, mode),
        small_file_goal(
            rows,
            mode,
            Workload::FileCreate,
            "file create against ext4 and zfs-fuse",
        ),
        small_file_goal(
            rows,
            mode,
            Workload::FileStat,
            "file stat (cold cache) against ext4 and zfs-fuse",
        ),
        small_file_goal(
            rows,
            mode,
            Workload::FileDelete,
            "file delete against ext4 and zfs-fuse",
        ),
    ]
    .into_iter()
    .flatten()
    .collect()
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
    goals.extend(issue5_goals(&rows, &opts.mode));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, cells: &[(Workload, f64)]) -> TargetRow {
        TargetRow {
            name: name.into(),
            description: format!("{name} set-up"),
            basin: name.starts_with("basin"),
            cells: cells
                .iter()
                .map(|(w, v)| (*w, Cell::measured(vec![*v], None)))
                .collect(),
        }
    }

    /// Figures that meet every issue 5 goal.
    fn good_rows() -> Vec<TargetRow> {
        vec![
            row(
                "basin-fuse",
                &[
                    (Workload::SeqWrite, 950.0),
                    (Workload::SeqReadCold, 1800.0),
                    (Workload::RandWriteFsync32, 6000.0),
                    (Workload::FileCreate, 6000.0),
                    (Workload::FileStat, 50_000.0),
                    (Workload::FileDelete, 9000.0),
                ],
            ),
            row(
                "memfs",
                &[
                    (Workload::SeqWrite, 1000.0),
                    (Workload::SeqReadCold, 2000.0),
                ],
            ),
            row(
                "ext4",
                &[
                    (Workload::SeqWrite, 500.0),
                    (Workload::SeqReadCold, 900.0),
                    (Workload::RandWriteFsync32, 5000.0),
                    (Workload::FileCreate, 12_000.0),
                    (Workload::FileStat, 60_000.0),
                    (Workload::FileDelete, 10_000.0),
                ],
            ),
            row(
                "zfs-fuse",
                &[
                    (Workload::FileCreate, 3000.0),
                    (Workload::FileStat, 20_000.0),
                    (Workload::FileDelete, 4000.0),
                ],
            ),
        ]
    }

    fn set(rows: &mut [TargetRow], name: &str, w: Workload, c: Cell) {
        let r = rows.iter_mut().find(|r| r.name == name).unwrap();
        r.cells.insert(w, c);
    }

    fn find<'a>(goals: &'a [Goal], what: &str) -> Option<&'a Goal> {
        goals.iter().find(|g| g.what.starts_with(what))
    }

    #[test]
    fn issue5_goals_met() {
        let g = issue5_goals(&good_rows(), &Mode::full());
        assert_eq!(g.len(), 6, "{g:#?}");
        for x in &g {
            assert_eq!(x.issue, 5);
            assert_eq!(x.met, Some(true), "{x:#?}");
            assert!(!x.detail.is_empty());
        }
        let w = find(&g, "seq write 1 MiB through FUSE").unwrap();
        assert_eq!(
            w.value,
            "0.95x memfs (basin-fuse 950 MB/s, memfs 1000 MB/s); 1.90x ext4 (500 MB/s)"
        );
        assert_eq!(w.goal, ">= 0.9");
        let r = find(&g, "seq read 1 MiB (cold)").unwrap();
        assert!(r.value.starts_with("0.90x memfs") && r.value.contains("2.00x ext4"));
        let f = find(&g, "4 KiB random writes, fsync every 32").unwrap();
        assert_eq!(f.value, "1.20x ext4 (basin-fuse 6000 IOPS, ext4 5000 IOPS)");
        assert_eq!(f.goal, ">= 1.0");
        // Exactly half of ext4 is within 2x.
        let c = find(&g, "file create").unwrap();
        assert_eq!(
            c.value,
            "basin-fuse 6000 files/s: 0.50x ext4 (12000), 2.00x zfs-fuse (3000)"
        );
        assert_eq!(c.goal, "within 2x of ext4 and faster than zfs-fuse");
        assert!(find(&g, "file stat").is_some() && find(&g, "file delete").is_some());
    }

    #[test]
    fn issue5_goals_not_met() {
        let mut rows = good_rows();
        set(
            &mut rows,
            "basin-fuse",
            Workload::SeqWrite,
            Cell::measured(vec![899.0], None),
        );
        set(
            &mut rows,
            "basin-fuse",
            Workload::RandWriteFsync32,
            Cell::measured(vec![4999.0], None),
        );
        // Too slow against ext4, though faster than zfs-fuse.
        set(
            &mut rows,
            "basin-fuse",
            Workload::FileCreate,
            Cell::measured(vec![5999.0], None),
        );
        // Within 2x of ext4, but not faster than zfs-fuse.
        set(
            &mut rows,
            "zfs-fuse",
            Workload::FileStat,
            Cell::measured(vec![50_000.0], None),
        );
        let g = issue5_goals(&rows, &Mode::full());
        assert_eq!(g.len(), 6);
        let met = |what| find(&g, what).unwrap().met;
        assert_eq!(met("seq write 1 MiB through FUSE"), Some(false));
        assert_eq!(met("seq read 1 MiB (cold)"), Some(true));
        assert_eq!(met("4 KiB random writes, fsync every 32"), Some(false));
        assert_eq!(met("file create"), Some(false));
        assert_eq!(met("file stat"), Some(false));
        assert_eq!(met("file delete"), Some(true));
    }

    #[test]
    fn issue5_goals_are_not_judged_in_quick_mode() {
        let g = issue5_goals(&good_rows(), &Mode::quick());
        assert_eq!(g.len(), 6);
        assert!(g.iter().all(|x| x.met.is_none()), "{g:#?}");
    }

    #[test]
    fn issue5_goals_leave_out_what_has_no_figure() {
        // No row at all.
        assert!(issue5_goals(&[], &Mode::full()).is_empty());

        let mut rows = good_rows();
        // memfs pending: no ceiling rows.
        set(
            &mut rows,
            "memfs",
            Workload::SeqWrite,
            Cell::pending("not yet"),
        );
        // basin-fuse failed: no fsync row.
        set(
            &mut rows,
            "basin-fuse",
            Workload::RandWriteFsync32,
            Cell::Failed { why: "boom".into() },
        );
        // zfs-fuse skipped: no stat row; ext4 n/a: no delete row.
        set(
            &mut rows,
            "zfs-fuse",
            Workload::FileStat,
            Cell::Skipped {
                why: "--skip".into(),
            },
        );
        set(&mut rows, "ext4", Workload::FileDelete, Cell::na("n/a"));
        let g = issue5_goals(&rows, &Mode::full());
        let names: Vec<&str> = g.iter().map(|x| x.what.as_str()).collect();
        assert_eq!(
            names,
            [
                "seq read 1 MiB (cold) through FUSE against the FUSE ceiling",
                "file create against ext4 and zfs-fuse",
            ]
        );

        // ext4 is only for scale in the ceiling rows: without it the row
        // stays, judged on memfs alone.
        let mut rows = good_rows();
        rows.retain(|r| r.name != "ext4");
        let g = issue5_goals(&rows, &Mode::full());
        assert_eq!(g.len(), 2, "{g:#?}");
        let w = find(&g, "seq write 1 MiB through FUSE").unwrap();
        assert_eq!(
            w.value,
            "0.95x memfs (basin-fuse 950 MB/s, memfs 1000 MB/s)"
        );
        assert!(w.detail.contains("ext4 had no figure"));
        assert_eq!(w.met, Some(true));
    }
}
