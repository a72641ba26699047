//! The report: a Markdown table of every workload and system (medians and
//! ratios to Basin), the goals of the other issues and whether they are
//! met, an SVG chart per workload, and the raw results as JSON.

use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::basin::Goal;
use crate::error::{IoContext, Result};
use crate::stats::sig3;
use crate::svg::{bar_chart, Bar};
use crate::sysinfo::Machine;
use crate::targets::Cells;
use crate::workload::{size, Cell, Mode, Workload};

/// One system's results.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TargetRow {
    /// Its name.
    pub name: String,
    /// How it was set up.
    pub description: String,
    /// One of Basin's rows.
    pub basin: bool,
    /// Its cells.
    pub cells: Cells,
}

/// A whole run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    /// Machine, date, commit.
    pub machine: Machine,
    /// Sizes and repetitions.
    pub mode: Mode,
    /// The command that produced it.
    pub command: String,
    /// Every system, in order.
    pub targets: Vec<TargetRow>,
    /// Goals of the other issues.
    pub goals: Vec<Goal>,
    /// Wall time of the run, seconds.
    pub seconds: f64,
}

impl Report {
    /// The Basin row a workload's ratios refer to: the first Basin row
    /// with a figure (basin-fuse once it runs, basin-dmu until then).
    pub fn reference(&self, w: Workload) -> Option<(&str, f64)> {
        self.targets.iter().filter(|t| t.basin).find_map(|t| {
            t.cells
                .get(&w)
                .and_then(Cell::value)
                .map(|v| (t.name.as_str(), v))
        })
    }

    /// True when some measurement failed.
    pub fn failed(&self) -> bool {
        self.targets
            .iter()
            .flat_map(|t| t.cells.values())
            .any(|c| matches!(c, Cell::Failed { .. }))
            || self.goals.iter().any(|g| g.value.starts_with("FAILED"))
    }

    fn cell_text(&self, w: Workload, t: &TargetRow) -> String {
        match t.cells.get(&w) {
            None => "missing".into(),
            Some(Cell::Measured { median, .. }) => {
                let v = sig3(*median);
                match self.reference(w) {
                    Some((name, _)) if name == t.name => format!("**{v}**"),
                    Some((_, r)) if r > 0.0 => format!("{v} ({:.2}x)", median / r),
                    _ => v,
                }
            }
            Some(Cell::NotApplicable { why }) => format!("n/a: {why}"),
            Some(Cell::Pending { why }) => why.clone(),
            Some(Cell::Skipped { why }) => format!("skipped: {why}"),
            Some(Cell::Failed { .. }) => "**FAILED**".into(),
        }
    }

    /// The summary (tables, goals, notes); charts are linked under
    /// `charts` (a relative path).
    pub fn summary(&self, charts: &str) -> String {
        let m = &self.machine;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "# Basin side by side with its peers ({} run)\n",
            self.mode.name
        );
        if self.failed() {
            let _ = writeln!(
                s,
                "> **This run had failures**: the cells marked FAILED are explained under \"Failures\".\n"
            );
        }
        let _ = writeln!(s, "- Date: {}", m.date);
        let _ = writeln!(s, "- Commit: `{}`", m.commit);
        let _ = writeln!(
            s,
            "- Machine: {}, {} memory, Linux {}",
            m.cpu, m.memory, m.kernel
        );
        let _ = writeln!(s, "- Disk: {}", m.disk);
        let _ = writeln!(s, "- Tools: {}", m.tools.join("; "));
        let _ = writeln!(s, "- Command: `{}`", self.command);
        let _ = writeln!(
            s,
            "- Each figure is the median of {} run{}; the run took {:.0} s.\n",
            self.mode.runs,
            if self.mode.runs == 1 { "" } else { "s" },
            self.seconds
        );
        let _ = writeln!(s, "## Systems\n");
        let _ = writeln!(s, "| system | set-up |\n| --- | --- |");
        for t in &self.targets {
            let _ = writeln!(s, "| {} | {} |", t.name, t.description);
        }
        let _ = writeln!(s, "\n## Results\n");
        let _ = writeln!(
            s,
            "Medians. In parentheses, the ratio to Basin: the system's figure over the figure of the Basin row in **bold** on that line (basin-fuse once it runs; until then basin-dmu, Basin in process without FUSE). Above 1 means a larger figure than Basin's: better for throughput, worse for times and memory.\n"
        );
        let _ = write!(s, "| workload | unit |");
        for t in &self.targets {
            let _ = write!(s, " {} |", t.name);
        }
        let _ = write!(s, "\n| --- | --- |");
        for _ in &self.targets {
            let _ = write!(s, " ---: |");
        }
        s.push('\n');
        for w in Workload::ALL {
            let better = if w.higher_is_better() {
                "higher"
            } else {
                "lower"
            };
            let _ = write!(
                s,
                "| [{}]({charts}/{}.svg) | {} ({better} is better) |",
                w.title(&self.mode),
                w.id(),
                w.unit().label()
            );
            for t in &self.targets {
                let _ = write!(s, " {} |", self.cell_text(w, t));
            }
            s.push('\n');
        }
        let _ = writeln!(s, "\n## Goals of the other issues\n");
        if self.goals.is_empty() {
            let _ = writeln!(s, "None measured in this run.");
        } else {
            let _ = writeln!(
                s,
                "| issue | figure | measured | goal | met |\n| --- | --- | --- | --- | --- |"
            );
            for g in &self.goals {
                let met = match g.met {
                    Some(true) => "yes",
                    Some(false) => "**not yet**",
                    None => "not judged (quick mode)",
                };
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | {met} |",
                    g.issue, g.what, g.value, g.goal
                );
            }
            let _ = writeln!(s, "\nHow each was measured:\n");
            for g in &self.goals {
                let _ = writeln!(s, "- issue {}, {}: {}", g.issue, g.what, g.detail);
            }
        }
        let notes = self.notes();
        if !notes.is_empty() {
            let _ = writeln!(s, "\n## Notes\n");
            for n in notes {
                let _ = writeln!(s, "- {n}");
            }
        }
        let failures: Vec<String> = self
            .targets
            .iter()
            .flat_map(|t| {
                t.cells.iter().filter_map(move |(w, c)| match c {
                    Cell::Failed { why } => Some(format!("{} / {}: {why}", t.name, w.id())),
                    _ => None,
                })
            })
            .collect();
        if !failures.is_empty() {
            let _ = writeln!(s, "\n## Failures\n");
            for f in failures {
                let _ = writeln!(s, "- {f}");
            }
        }
        s
    }

    /// How things were measured, and the notes of the cells.
    fn notes(&self) -> Vec<String> {
        let mode = &self.mode;
        let mut n = vec![
            format!(
                "File systems are driven by fio ({}), one job at a time: `--ioengine=psync --direct=0 --invalidate=0 --fallocate=none --refill_buffers=1`, writes with `--end_fsync=1`; half-compressible data is `--buffer_compress_percentage=50 --buffer_compress_chunk=4096`. raw-disk uses `--direct=1 --ioengine=io_uring --iodepth=16`.",
                self.machine.tools.first().cloned().unwrap_or_default()
            ),
            "Cold cache: dirty data written back and the kernel's caches dropped; zfs-fuse is also exported and imported (its ARC), Basin exported and imported (its ARC; its vdev is O_DIRECT).".into(),
            format!(
                "Random reads run {} s on the sequential file after the caches were made cold; random writes write {} (at most {} s) then fsync; fsync'ed writes (`--fsync=1`: after each write, `--fsync=32`: after every 32) run {} s.",
                mode.rand_runtime.as_secs(),
                size(mode.rand_write_bytes),
                mode.rand_write_max.as_secs(),
                mode.fsync_runtime.as_secs()
            ),
            format!(
                "Snapshots: with {} and then {} of incompressible data in place, a snapshot is taken (timed), the first {} of the data rewritten and synced, the snapshot rolled back to (timed) and destroyed. btrfs has no rollback: it is timed as deleting the subvolume and snapshotting the snapshot back. Import is `zpool import` (zfs-fuse), scan + import + dataset layer (Basin), `mount` (ext4, btrfs), with {} of data.",
                size(mode.snap_small),
                size(mode.snap_large),
                size(mode.rollback_change),
                size(mode.snap_large)
            ),
            format!(
                "Small files: {} files of 4 KiB in folders of 1,000: create and syncfs; stat after the caches were made cold; delete and syncfs.",
                mode.small_files
            ),
            "Memory is the daemon's peak resident set (VmHWM) over the whole run of its workloads.".into(),
        ];
        if !mode.is_full() {
            n.insert(
                0,
                "Quick mode: small sizes and one run each, to check that the suite works; its figures are not the report's and no goal is judged.".into(),
            );
        }
        for t in &self.targets {
            for (w, c) in &t.cells {
                if let Cell::Measured {
                    note: Some(note), ..
                } = c
                {
                    n.push(format!("{} / {}: {note}.", t.name, w.id()));
                }
            }
        }
        n
    }

    /// One chart per workload.
    pub fn charts(&self) -> Vec<(String, String)> {
        Workload::ALL
            .iter()
            .map(|&w| {
                let reference = self.reference(w);
                let bars: Vec<Bar> = self
                    .targets
                    .iter()
                    .map(|t| {
                        let c = t.cells.get(&w);
                        let value = c.and_then(Cell::value);
                        let note = match (c, value, reference) {
                            (_, Some(v), Some((name, r))) if name != t.name && r > 0.0 => {
                                format!("({:.2}x Basin)", v / r)
                            }
                            (_, Some(_), _) => String::new(),
                            (Some(Cell::NotApplicable { why }), _, _) => format!("n/a: {why}"),
                            (Some(Cell::Pending { why }), _, _) => why.clone(),
                            (Some(Cell::Skipped { why }), _, _) => format!("skipped: {why}"),
                            (Some(Cell::Failed { .. }), _, _) => "FAILED".into(),
                            _ => "missing".into(),
                        };
                        Bar {
                            label: t.name.clone(),
                            value,
                            note,
                            highlight: reference.map(|(n, _)| n == t.name).unwrap_or(false),
                        }
                    })
                    .collect();
                let better = if w.higher_is_better() {
                    "higher"
                } else {
                    "lower"
                };
                let svg = bar_chart(
                    &w.title(&self.mode),
                    &format!(
                        "{}, {better} is better; median of {}; {} {}",
                        w.unit().label(),
                        self.mode.runs,
                        self.machine.date,
                        self.machine.commit
                    ),
                    &bars,
                );
                (format!("{}.svg", w.id()), svg)
            })
            .collect()
    }

    /// Writes report.md, results.json and charts/ into `dir`.
    pub fn write(&self, dir: &Path) -> Result<()> {
        let charts = dir.join("charts");
        std::fs::create_dir_all(&charts).ctx(|| format!("creating {}", charts.display()))?;
        for (name, svg) in self.charts() {
            let p = charts.join(name);
            std::fs::write(&p, svg).ctx(|| format!("writing {}", p.display()))?;
        }
        let md = dir.join("report.md");
        std::fs::write(&md, self.summary("charts")).ctx(|| format!("writing {}", md.display()))?;
        let js = dir.join("results.json");
        std::fs::write(&js, serde_json::to_string_pretty(self)?)
            .ctx(|| format!("writing {}", js.display()))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, basin: bool, cells: Vec<(Workload, Cell)>) -> TargetRow {
        TargetRow {
            name: name.into(),
            description: format!("{name} set-up"),
            basin,
            cells: cells.into_iter().collect(),
        }
    }

    fn report() -> Report {
        let mut targets = vec![
            row(
                "basin-fuse",
                true,
                Workload::ALL
                    .iter()
                    .map(|w| (*w, Cell::pending("not yet available (zonefs pending)")))
                    .collect(),
            ),
            row(
                "basin-dmu",
                true,
                vec![(
                    Workload::SeqWrite,
                    Cell::measured(vec![100.0, 200.0, 300.0], None),
                )],
            ),
            row(
                "ext4",
                false,
                vec![
                    (Workload::SeqWrite, Cell::measured(vec![400.0], None)),
                    (Workload::SnapSmall, Cell::na("no snapshots")),
                    (Workload::Scrub, Cell::Failed { why: "boom".into() }),
                ],
            ),
        ];
        targets[1]
            .cells
            .insert(Workload::Scrub, Cell::pending("scrub is not built yet"));
        Report {
            machine: Machine {
                date: "2026-01-01 00:00 UTC".into(),
                commit: "abc".into(),
                ..Default::default()
            },
            mode: Mode::quick(),
            command: "scripts/bench.sh --quick".into(),
            targets,
            goals: vec![Goal {
                issue: 2,
                what: "import".into(),
                value: "12 ms".into(),
                goal: "< 1000 ms".into(),
                met: Some(false),
                detail: "d".into(),
            }],
            seconds: 1.0,
        }
    }

    #[test]
    fn ratios_refer_to_the_first_basin_row_with_a_figure() {
        let r = report();
        assert_eq!(r.reference(Workload::SeqWrite), Some(("basin-dmu", 200.0)));
        let md = r.summary("charts");
        assert!(md.contains("**200**"), "{md}");
        assert!(md.contains("400 (2.00x)"), "{md}");
    }

    #[test]
    fn nothing_is_left_out_silently() {
        let r = report();
        let md = r.summary("charts");
        assert!(md.contains("not yet available (zonefs pending)"));
        assert!(md.contains("n/a: no snapshots"));
        assert!(md.contains("**FAILED**") && md.contains("ext4 / scrub: boom"));
        assert!(md.contains("This run had failures"));
        assert!(md.contains("**not yet**"));
        // A workload a row has no cell for says so.
        assert!(md.contains("missing"));
        assert_eq!(r.charts().len(), Workload::ALL.len());
    }

    #[test]
    fn the_report_round_trips_as_json() {
        let r = report();
        let j = serde_json::to_string(&r).unwrap();
        let back: Report = serde_json::from_str(&j).unwrap();
        assert_eq!(back.targets.len(), 3);
        assert_eq!(back.targets[1].cells, r.targets[1].cells);
    }
}
