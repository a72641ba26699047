//! Results as Markdown tables and as JSON.

use std::fmt::Write as _;

use serde::Serialize;

use crate::micro::HitCost;
use crate::readahead::SeqRead;

/// The citation every report of the paper's traces carries.
pub const CITATION: &str = "Nimrod Megiddo and Dharmendra S. Modha, \"ARC: A Self-Tuning, Low \
Overhead Replacement Cache\", USENIX FAST '03, pp. 115-130, 2003.";

/// One row of the hit-ratio table.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    /// Trace name.
    pub trace: String,
    /// Whether the trace is one of the paper's (needs the citation).
    pub from_paper: bool,
    /// Page accesses in the trace.
    pub accesses: u64,
    /// Distinct pages in the trace.
    pub unique_pages: u64,
    /// Cache size in pages.
    pub size: u64,
    /// LRU hit ratio, percent.
    pub lru: f64,
    /// ARC (one shard: the paper's algorithm) hit ratio, percent.
    pub arc: f64,
    /// ARC's `p` at the end of the run, in pages.
    pub arc_p: u64,
    /// Shards of the sharded ARC run.
    pub shards: usize,
    /// Sharded ARC hit ratio, percent.
    pub arc_sharded: f64,
}

/// Everything one run of the replayer measured.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    /// Source of the real traces.
    pub citation: String,
    /// Hit ratios.
    pub replay: Vec<Row>,
    /// Cost of a hit.
    pub hit_cost: Vec<HitCost>,
    /// Sequential reads against a simulated disk.
    pub readahead: Vec<SeqRead>,
    /// Parameters of the read-ahead run: latency (ms) and queue depth.
    pub readahead_disk: Option<(f64, usize)>,
    /// Remarks (missing traces, cells where ARC trails LRU).
    pub notes: Vec<String>,
}

impl Report {
    /// The report as Markdown.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        // Writing to a String cannot fail; the results are ignored below.
        let _ = writeln!(s, "# ARC trace replay\n");
        if !self.replay.is_empty() {
            let shards = self.replay.first().map_or(0, |r| r.shards);
            let _ = writeln!(s, "## Hit ratio, ARC vs LRU\n");
            let _ = writeln!(
                s,
                "Every page weighs the same (4 KiB); \"ARC\" is one shard (exactly the \
                 paper's algorithm), \"ARC x{shards}\" the same cache split into {shards} shards.\n"
            );
            let _ = writeln!(
                s,
                "| trace | accesses | unique pages | cache (pages) | LRU hit % | ARC hit % | ARC - LRU | ARC x{shards} hit % |"
            );
            let _ = writeln!(
                s,
                "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
            );
            for r in &self.replay {
                let flag = if r.arc + 1e-9 < r.lru { " (below)" } else { "" };
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | {:.2} | {:.2} | {:+.2}{flag} | {:.2} |",
                    r.trace,
                    r.accesses,
                    r.unique_pages,
                    r.size,
                    r.lru,
                    r.arc,
                    r.arc - r.lru,
                    r.arc_sharded
                );
            }
            let below = self.replay.iter().filter(|r| r.arc + 1e-9 < r.lru).count();
            let _ = writeln!(
                s,
                "\nARC >= LRU in {} of {} cells.",
                self.replay.len() - below,
                self.replay.len()
            );
            if self.replay.iter().any(|r| r.from_paper) {
                let _ = writeln!(s, "\nOLTP, P3, P6 and P12 traces: {CITATION}");
            }
        }
        if !self.hit_cost.is_empty() {
            let _ = writeln!(s, "\n## Cost of a hit\n");
            let _ = writeln!(
                s,
                "`get` of a resident block on a warm cache, random keys; fastest of several runs.\n"
            );
            let _ = writeln!(
                s,
                "| threads | shards | blocks | ns per get | M gets/s (all threads) |"
            );
            let _ = writeln!(s, "| ---: | ---: | ---: | ---: | ---: |");
            for h in &self.hit_cost {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {:.1} | {:.2} |",
                    h.threads, h.shards, h.blocks, h.ns_per_get, h.mgets_per_sec
                );
            }
        }
        if !self.readahead.is_empty() {
            let _ = writeln!(s, "\n## Cold sequential read\n");
            if let Some((ms, depth)) = self.readahead_disk {
                let _ = writeln!(
                    s,
                    "Simulated disk: {ms} ms per request, {depth} requests at once \
                     (disk speed {:.0} blocks/s).\n",
                    depth as f64 / ms * 1000.0
                );
            }
            let _ = writeln!(
                s,
                "| mode | blocks | seconds | blocks/s | % of disk speed |"
            );
            let _ = writeln!(s, "| --- | ---: | ---: | ---: | ---: |");
            for r in &self.readahead {
                let _ = writeln!(
                    s,
                    "| {} | {} | {:.3} | {:.0} | {:.0} |",
                    r.mode, r.blocks, r.seconds, r.blocks_per_sec, r.percent_of_disk
                );
            }
        }
        if !self.notes.is_empty() {
            let _ = writeln!(s, "\n## Notes\n");
            for n in &self.notes {
                let _ = writeln!(s, "- {n}");
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_flags_cells_below_lru_and_cites_the_paper() {
        let row = |arc: f64| Row {
            trace: "OLTP".into(),
            from_paper: true,
            accesses: 10,
            unique_pages: 5,
            size: 2,
            lru: 30.0,
            arc,
            arc_p: 0,
            shards: 16,
            arc_sharded: arc,
        };
        let r = Report {
            replay: vec![row(40.0), row(20.0)],
            ..Report::default()
        };
        let md = r.markdown();
        assert!(md.contains("| +10.00 |"));
        assert!(md.contains("-10.00 (below)"));
        assert!(md.contains("ARC >= LRU in 1 of 2 cells."));
        assert!(md.contains("Megiddo"));
    }
}
