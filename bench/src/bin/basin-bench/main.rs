//! `basin-bench`: Basin side by side with its peers, in one run.
//!
//! `basin-bench run --full` sets up every system, runs the workloads and
//! writes the report; `scripts/bench.sh` wraps it. The other subcommands
//! are its parts, usable on their own: the issue figures, Basin's
//! in-process row, the memfs FUSE daemon and the cleanup sweep.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use basin_bench::basin::{arcread, dmu_row, dsl, import, pipeline, poolwrite, resilver, scrub};
use basin_bench::error::{BenchError, Result};
use basin_bench::suite::{self, Options};
use basin_bench::workload::Mode;
use basin_bench::{cleanup, memfs};
use clap::{Args, Parser, Subcommand};

/// Basin's benchmark suite.
#[derive(Parser, Debug)]
#[command(name = "basin-bench", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Sizes of a run.
#[derive(Args, Debug, Clone)]
struct ModeArgs {
    /// The CI mode: small sizes, one run each (the default).
    #[arg(long, conflicts_with = "full")]
    quick: bool,
    /// The report's mode: the issues' sizes, three runs each.
    #[arg(long)]
    full: bool,
    /// Repetitions of each measurement (default: 1 quick, 3 full).
    #[arg(long)]
    runs: Option<usize>,
    /// The whole mode as JSON (how the suite hands it to its children).
    #[arg(long, hide = true)]
    mode_json: Option<String>,
}

impl ModeArgs {
    fn mode(&self) -> Result<Mode> {
        let mut m = match &self.mode_json {
            Some(j) => serde_json::from_str(j)?,
            None if self.full => Mode::full(),
            None => Mode::quick(),
        };
        if let Some(r) = self.runs {
            m.runs = r.max(1);
        }
        Ok(m)
    }
}

/// Where a part works and reports.
#[derive(Args, Debug, Clone)]
struct PartArgs {
    #[command(flatten)]
    mode: ModeArgs,
    /// Work directory (default: run/bench in the checkout).
    #[arg(long)]
    work: Option<PathBuf>,
    /// Write the result as JSON to this file (default: Markdown on stdout).
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Runs the suite and writes the report.
    Run {
        #[command(flatten)]
        mode: ModeArgs,
        /// Report folder (default: bench/results/DATE-COMMIT for --full,
        /// WORK/quick-report for --quick).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Work directory, on the disk to measure (default: run/bench in
        /// the checkout).
        #[arg(long)]
        work: Option<PathBuf>,
        /// Only these targets (comma-separated).
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
        /// Leave these targets out; the report says so.
        #[arg(long, value_delimiter = ',')]
        skip: Vec<String>,
        /// Leave out the figures of the other issues.
        #[arg(long)]
        no_figures: bool,
        /// Do not copy a full run's summary into docs/performance.md.
        #[arg(long)]
        no_publish: bool,
    },
    /// Mounts the in-memory FUSE filesystem and serves it until unmounted.
    Memfs {
        /// FUSE threads.
        #[arg(long, default_value_t = 2)]
        threads: usize,
        /// Where to mount it.
        mountpoint: PathBuf,
    },
    /// Unmounts, stops and detaches whatever a run left in its work
    /// directory.
    Cleanup {
        /// Work directory (default: run/bench in the checkout).
        #[arg(long)]
        work: Option<PathBuf>,
    },
    /// Basin's in-process row (the basin-dmu target).
    BasinDmu(PartArgs),
    /// Issue 2: pool write throughput against fio O_DIRECT.
    PoolWrite(PartArgs),
    /// Issue 2: checksum and compression CPU, raw and through the pool.
    Pipeline(PartArgs),
    /// Issue 2: import time of a pool with data.
    Import(PartArgs),
    /// Issue 3: listing 10,000 snapshots.
    List(PartArgs),
    /// Issue 4: warm sequential read through the DMU from the ARC.
    ArcRead(PartArgs),
    /// Issue 6: scrub against fio sequential read of the same vdev files.
    Scrub(PartArgs),
    /// Issue 6: resilver time against live and missed data.
    Resilver(PartArgs),
}

/// The checkout this binary was built from.
fn repo() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

fn work_dir(w: &Option<PathBuf>) -> PathBuf {
    let w = w
        .clone()
        .unwrap_or_else(|| repo().join("run").join("bench"));
    if w.is_absolute() {
        w
    } else {
        std::env::current_dir().map(|d| d.join(&w)).unwrap_or(w)
    }
}

fn exe() -> Result<PathBuf> {
    std::env::current_exe().map_err(|e| BenchError::Io {
        context: "finding this program".into(),
        source: e,
    })
}

/// Runs a part and writes its result.
fn part<T: serde::Serialize>(
    a: &PartArgs,
    sub: &str,
    f: impl FnOnce(&Path, &Mode) -> Result<T>,
    markdown: impl FnOnce(&T) -> String,
) -> Result<()> {
    let mode = a.mode.mode()?;
    let work = work_dir(&a.work);
    let dir = work.join(sub);
    let r = f(&dir, &mode);
    let _ = std::fs::remove_dir_all(&dir);
    let r = r?;
    match &a.out {
        Some(p) => {
            std::fs::write(p, serde_json::to_string_pretty(&r)?).map_err(|e| BenchError::Io {
                context: format!("writing {}", p.display()),
                source: e,
            })
        }
        None => {
            print!("{}", markdown(&r));
            Ok(())
        }
    }
}

fn goals_markdown(goals: &Vec<basin_bench::basin::Goal>) -> String {
    let mut s = String::from(
        "| issue | figure | measured | goal | met |\n| --- | --- | --- | --- | --- |\n",
    );
    for g in goals {
        let met = match g.met {
            Some(true) => "yes",
            Some(false) => "not yet",
            None => "not judged (quick mode)",
        };
        s.push_str(&format!(
            "| {} | {} | {} | {} | {met} |\n",
            g.issue, g.what, g.value, g.goal
        ));
    }
    for g in goals {
        s.push_str(&format!("\n- {}: {}", g.what, g.detail));
    }
    s.push('\n');
    s
}

fn run(cli: Cli) -> Result<bool> {
    match cli.command {
        Command::Run {
            mode,
            out,
            work,
            only,
            skip,
            no_figures,
            no_publish,
        } => {
            let m = mode.mode()?;
            let full = m.is_full();
            let opts = Options {
                publish: full && !no_publish && out.is_none(),
                mode: m,
                repo: repo(),
                work: work_dir(&work),
                out,
                only,
                skip,
                no_figures,
                exe: exe()?,
                command: format!(
                    "scripts/bench.sh {}",
                    std::env::args().skip(2).collect::<Vec<_>>().join(" ")
                ),
            };
            let (report, dir) = suite::run(&opts)?;
            eprintln!("basin-bench: report in {}", dir.join("report.md").display());
            if opts.publish {
                eprintln!("basin-bench: summary copied to docs/performance.md");
            }
            if report.failed() {
                eprintln!(
                    "basin-bench: some measurements FAILED; see the report's Failures section"
                );
                return Ok(false);
            }
            Ok(true)
        }
        Command::Memfs {
            threads,
            mountpoint,
        } => {
            memfs::serve(&mountpoint, threads).map_err(|e| BenchError::Io {
                context: format!("serving memfs on {}", mountpoint.display()),
                source: e,
            })?;
            Ok(true)
        }
        Command::Cleanup { work } => {
            let w = work_dir(&work);
            let log = cleanup::sweep(&w);
            for l in &log {
                eprintln!("cleanup: {l}");
            }
            Ok(!log.iter().any(|l| l.starts_with("FAILED")))
        }
        Command::BasinDmu(a) => {
            part(&a, "basin-dmu", dmu_row::run, |r| {
                serde_json::to_string_pretty(r).unwrap_or_default() + "\n"
            })?;
            Ok(true)
        }
        Command::PoolWrite(a) => {
            part(&a, "pool-write", poolwrite::run, goals_markdown).map(|_| true)
        }
        Command::Pipeline(a) => part(&a, "pipeline", pipeline::run, goals_markdown).map(|_| true),
        Command::Import(a) => part(&a, "import", import::run, goals_markdown).map(|_| true),
        Command::List(a) => part(&a, "list", dsl::list, goals_markdown).map(|_| true),
        Command::ArcRead(a) => part(&a, "arc-read", arcread::run, goals_markdown).map(|_| true),
        Command::Scrub(a) => part(&a, "scrub", scrub::run, goals_markdown).map(|_| true),
        Command::Resilver(a) => part(&a, "resilver", resilver::run, goals_markdown).map(|_| true),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The pools opened in process take their host-wide locks in the work
    // directory, not in /run/basin (set before any thread starts).
    let work = match &cli.command {
        Command::Run { work, .. } | Command::Cleanup { work } => work_dir(work),
        Command::BasinDmu(a)
        | Command::PoolWrite(a)
        | Command::Pipeline(a)
        | Command::Import(a)
        | Command::List(a)
        | Command::ArcRead(a)
        | Command::Scrub(a)
        | Command::Resilver(a) => work_dir(&a.work),
        Command::Memfs { .. } => PathBuf::from("/"),
    };
    if std::env::var_os("BASIN_LOCK_DIR").is_none() {
        std::env::set_var("BASIN_LOCK_DIR", work.join("locks"));
    }
    match run(cli) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("basin-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
