//! `arc-replay`: replays block-access traces through Basin's ARC and plain
//! LRU at several cache sizes, measures the cost of a cache hit on one and
//! two threads, and times a cold sequential read with and without read-ahead.
//!
//! The real traces (OLTP, P3, P6, P12) come from Megiddo and Modha, "ARC: A
//! Self-Tuning, Low Overhead Replacement Cache", USENIX FAST '03; any report
//! of them carries that citation (the replayer prints it).

mod lru;
mod micro;
mod readahead;
mod replay;
mod report;
mod synth;
mod trace;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use crate::replay::Policy;
use crate::report::{Report, Row, CITATION};
use crate::trace::Trace;

/// Replays block-access traces through Basin's ARC and plain LRU.
#[derive(Parser, Debug)]
#[command(name = "arc-replay")]
struct Args {
    /// Directory holding the paper's traces (OLTP.lis.zst, P3.lis.zst, ...).
    /// Default: shared/traces/arc or ../shared/traces/arc, whichever exists.
    #[arg(long)]
    traces_dir: Option<PathBuf>,
    /// More traces to replay: `.lis` (first count ignored request) or one
    /// block number a line, optionally zstd-compressed (`.zst`).
    #[arg(long = "trace", value_name = "FILE")]
    traces: Vec<PathBuf>,
    /// Cache sizes, in pages, for the traces given with --trace.
    #[arg(long, value_delimiter = ',', default_value = "1000,5000,20000,100000")]
    sizes: Vec<u64>,
    /// A short run for CI: OLTP only, fewer repetitions.
    #[arg(long)]
    quick: bool,
    /// Print JSON instead of Markdown.
    #[arg(long)]
    json: bool,
    /// Replay jobs run at once.
    #[arg(long, default_value_t = 2)]
    jobs: usize,
    /// Shards of the sharded ARC column (a power of two).
    #[arg(long, default_value_t = 16)]
    shards: usize,
    /// Skip the paper's traces.
    #[arg(long)]
    no_real: bool,
    /// Skip the synthetic traces.
    #[arg(long)]
    no_synthetic: bool,
    /// Skip the hit-cost measurement.
    #[arg(long)]
    no_micro: bool,
    /// Skip the read-ahead measurement.
    #[arg(long)]
    no_readahead: bool,
}

/// The paper's traces and the cache sizes (pages) we replay them at.
const PAPER_TRACES: &[(&str, &[u64])] = &[
    ("OLTP", &[1000, 2000, 5000, 10000, 15000]),
    ("P3", &[1024, 4096, 16384, 65536, 262144]),
    ("P6", &[1024, 4096, 16384, 65536, 262144]),
    ("P12", &[1024, 4096, 16384, 65536, 262144]),
];

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(report) => {
            if args.json {
                match serde_json::to_string_pretty(&report) {
                    Ok(text) => println!("{text}"),
                    Err(e) => {
                        eprintln!("arc-replay: cannot encode the report: {e}");
                        return ExitCode::FAILURE;
                    }
                }
            } else {
                print!("{}", report.markdown());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("arc-replay: {e}");
            ExitCode::FAILURE
        }
    }
}

fn traces_dir(args: &Args) -> Option<PathBuf> {
    if let Some(d) = &args.traces_dir {
        return Some(d.clone());
    }
    [
        "shared/traces/arc",
        "../shared/traces/arc",
        "/work/shared/traces/arc",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.is_dir())
}

fn run(args: &Args) -> Result<Report, Box<dyn std::error::Error>> {
    let mut report = Report {
        citation: CITATION.to_string(),
        ..Report::default()
    };
    // (trace, sizes, from the paper)
    let mut sets: Vec<(Trace, Vec<u64>, bool)> = Vec::new();
    if !args.no_real {
        let names: &[(&str, &[u64])] = if args.quick {
            &PAPER_TRACES[..1]
        } else {
            PAPER_TRACES
        };
        match traces_dir(args) {
            Some(dir) => {
                for (name, sizes) in names {
                    let path = dir.join(format!("{name}.lis.zst"));
                    if path.is_file() {
                        sets.push((Trace::load(&path)?, sizes.to_vec(), true));
                    } else {
                        report
                            .notes
                            .push(format!("trace {} not found; skipped", path.display()));
                    }
                }
            }
            None => report
                .notes
                .push("no traces directory found (use --traces-dir); paper traces skipped".into()),
        }
    }
    for path in &args.traces {
        sets.push((Trace::load(Path::new(path))?, args.sizes.clone(), false));
    }
    if !args.no_synthetic {
        sets.push((
            synth::looping(11_000, 20),
            vec![2000, 5000, 10000, 12000],
            false,
        ));
        sets.push((
            synth::looping_with_hot_set(11_000, 2_000, 20),
            vec![2500, 5000, 10000, 14000],
            false,
        ));
        sets.push((
            synth::hot_and_scans(5_000, 20_000, 10_000, 20),
            vec![2500, 5500, 8000, 12000],
            false,
        ));
        sets.push((
            synth::zipf(100_000, 0.9, 1_000_000),
            vec![1000, 5000, 10000, 25000],
            false,
        ));
    }
    if !sets.is_empty() {
        report.replay = replay_table(&sets, args)?;
        for r in report.replay.iter().filter(|r| r.arc + 1e-9 < r.lru) {
            report.notes.push(format!(
                "ARC trails LRU on {} at {} pages: {:.2}% vs {:.2}%",
                r.trace, r.size, r.arc, r.lru
            ));
        }
    }
    if !args.no_micro {
        // Timings on a shared machine mean little without its load.
        if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
            let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
            report.notes.push(format!(
                "load average before the hit-cost run: {} ({cpus} CPUs)",
                load.split_whitespace()
                    .take(3)
                    .collect::<Vec<_>>()
                    .join(" ")
            ));
        }
        let (gets, reps) = if args.quick {
            (1_000_000, 3)
        } else {
            (5_000_000, 7)
        };
        let blocks = 65_536;
        for (threads, shards) in [(1, 1), (1, args.shards), (2, 1), (2, args.shards)] {
            report
                .hit_cost
                .push(micro::hit_cost(threads, shards, blocks, gets, reps)?);
        }
    }
    if !args.no_readahead {
        let latency = Duration::from_millis(1);
        let depth = 8;
        let blocks = if args.quick { 400 } else { 3000 };
        report.readahead = readahead::sequential(blocks, latency, depth)?;
        report.readahead_disk = Some((latency.as_secs_f64() * 1000.0, depth));
    }
    Ok(report)
}

fn replay_table(
    sets: &[(Trace, Vec<u64>, bool)],
    args: &Args,
) -> Result<Vec<Row>, Box<dyn std::error::Error>> {
    let mut jobs = Vec::new();
    for (t, (_, sizes, _)) in sets.iter().enumerate() {
        for &size in sizes {
            for policy in [Policy::Lru, Policy::Arc(1), Policy::Arc(args.shards)] {
                jobs.push((t, size, policy));
            }
        }
    }
    let trace_refs: Vec<&Trace> = sets.iter().map(|(t, _, _)| t).collect();
    let runs = replay::run_all(&trace_refs, &jobs, args.jobs)?;
    let mut rows = Vec::new();
    for chunk in runs.chunks(3) {
        let [lru, arc, sharded] = chunk else { continue };
        let (trace, _, from_paper) = &sets[jobs[rows.len() * 3].0];
        rows.push(Row {
            trace: trace.name.clone(),
            from_paper: *from_paper,
            accesses: trace.accesses(),
            unique_pages: 0,
            size: lru.size,
            lru: lru.hit_percent,
            arc: arc.hit_percent,
            arc_p: arc.stats.as_ref().map_or(0, |s| s.p / replay::PAGE_BYTES),
            shards: args.shards,
            arc_sharded: sharded.hit_percent,
        });
    }
    // Distinct pages, once per trace.
    let uniques: Vec<u64> = sets.iter().map(|(t, _, _)| t.unique_pages()).collect();
    for (row, job) in rows.iter_mut().zip(jobs.iter().step_by(3)) {
        row.unique_pages = uniques[job.0];
    }
    Ok(rows)
}
