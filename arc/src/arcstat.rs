//! `arcstat`-style text for [`ArcStats`].
//!
//! One header line and one row per sample, columns as OpenZFS's `arcstat`
//! names them. With a previous sample, counters are the difference between
//! the two (per second when an interval is given); sizes are always current.
//! `-H` (scripted: tabs, no header), `-p` (exact numbers) and `-o` (columns)
//! map onto [`ArcstatOptions`]; `-j` is [`ArcStats::to_json`].

use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::{ArcError, ArcStats};

/// Every column [`format_arcstat`] knows, with what it shows.
pub const ARCSTAT_COLUMNS: &[(&str, &str)] = &[
    ("time", "time of day (UTC)"),
    ("read", "demand reads"),
    ("hits", "demand hits"),
    ("miss", "demand misses"),
    ("hit%", "hit percentage"),
    ("miss%", "miss percentage"),
    ("mru", "hits in the recency list (T1)"),
    ("mfu", "hits in the frequency list (T2)"),
    ("mrug", "hits in the recency ghost list (B1)"),
    ("mfug", "hits in the frequency ghost list (B2)"),
    ("wait", "misses that waited for a read in flight"),
    ("pread", "prefetch requests"),
    ("ph%", "prefetch requests already cached or in flight"),
    ("pused", "prefetched blocks read on demand"),
    ("evict", "blocks evicted"),
    ("eskip", "evictions skipped: block held by a reader"),
    ("given", "bytes given back under memory pressure"),
    ("arcsz", "bytes cached"),
    ("c", "target size"),
    ("p", "target size of the recency list"),
    ("mrusz", "bytes in the recency list"),
    ("mfusz", "bytes in the frequency list"),
    ("cmin", "arc_min"),
    ("cmax", "arc_max"),
];

/// The columns shown when none are asked for.
pub const ARCSTAT_DEFAULT_COLUMNS: &[&str] = &[
    "time", "read", "hit%", "miss%", "mrug", "mfug", "arcsz", "c",
];

/// How [`format_arcstat`] prints.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ArcstatOptions {
    /// Columns to show (`-o`); empty means [`ARCSTAT_DEFAULT_COLUMNS`].
    pub columns: Vec<String>,
    /// Print no header line.
    pub no_header: bool,
    /// Scripted mode (`-H`): no header, fields separated by one tab.
    pub scripted: bool,
    /// Exact numbers (`-p`) instead of 1.5K-style ones.
    pub parsable: bool,
    /// With a previous sample, divide counter differences by this interval
    /// to show rates per second.
    pub interval: Option<Duration>,
}

enum Cell {
    Text(String),
    /// An event count (scaled by 1000).
    Count(f64),
    /// A size in bytes (scaled by 1024).
    Bytes(u64),
    Percent(f64),
}

fn width(column: &str) -> usize {
    match column {
        "time" => 8,
        _ => column.len().max(5),
    }
}

/// Formats one sample: a header line (unless disabled) and one row, each
/// ending in a newline. `prev` is the previous sample, if any; `at` is the
/// time the sample was taken. Fails on an unknown column name.
pub fn format_arcstat(
    cur: &ArcStats,
    prev: Option<&ArcStats>,
    at: SystemTime,
    opts: &ArcstatOptions,
) -> Result<String, ArcError> {
    let columns: Vec<&str> = if opts.columns.is_empty() {
        ARCSTAT_DEFAULT_COLUMNS.to_vec()
    } else {
        opts.columns.iter().map(String::as_str).collect()
    };
    let mut cells = Vec::with_capacity(columns.len());
    for &col in &columns {
        cells.push(cell(col, cur, prev, at, opts.interval)?);
    }
    let mut out = String::new();
    if !opts.no_header && !opts.scripted {
        let names: Vec<String> = columns
            .iter()
            .map(|c| format!("{c:>w$}", w = width(c)))
            .collect();
        out.push_str(&names.join("  "));
        out.push('\n');
    }
    let texts: Vec<String> = columns
        .iter()
        .zip(cells)
        .map(|(col, cell)| {
            let text = render(cell, opts.parsable);
            if opts.scripted {
                text
            } else {
                format!("{text:>w$}", w = width(col))
            }
        })
        .collect();
    out.push_str(&texts.join(if opts.scripted { "\t" } else { "  " }));
    out.push('\n');
    Ok(out)
}

fn cell(
    col: &str,
    cur: &ArcStats,
    prev: Option<&ArcStats>,
    at: SystemTime,
    interval: Option<Duration>,
) -> Result<Cell, ArcError> {
    let zero = ArcStats::default();
    let base = prev.unwrap_or(&zero);
    let secs = match (prev, interval) {
        (Some(_), Some(d)) if !d.is_zero() => d.as_secs_f64(),
        _ => 1.0,
    };
    let delta = |f: fn(&ArcStats) -> u64| f(cur).saturating_sub(f(base));
    let rate = |f: fn(&ArcStats) -> u64| Cell::Count(delta(f) as f64 / secs);
    let pct = |num: u64, den: u64| match den {
        0 => Cell::Percent(0.0),
        d => Cell::Percent(100.0 * num as f64 / d as f64),
    };
    let reads = delta(|s| s.hits) + delta(|s| s.misses);
    let preads = delta(|s| s.prefetch_hits) + delta(|s| s.prefetch_misses);
    Ok(match col {
        "time" => Cell::Text(time_of_day(at)),
        "read" => Cell::Count(reads as f64 / secs),
        "hits" => rate(|s| s.hits),
        "miss" => rate(|s| s.misses),
        "hit%" => pct(delta(|s| s.hits), reads),
        "miss%" => pct(delta(|s| s.misses), reads),
        "mru" => rate(|s| s.mru_hits),
        "mfu" => rate(|s| s.mfu_hits),
        "mrug" => rate(|s| s.mru_ghost_hits),
        "mfug" => rate(|s| s.mfu_ghost_hits),
        "wait" => rate(|s| s.load_waits),
        "pread" => Cell::Count(preads as f64 / secs),
        "ph%" => pct(delta(|s| s.prefetch_hits), preads),
        "pused" => rate(|s| s.prefetch_used),
        "evict" => rate(|s| s.evictions),
        "eskip" => rate(|s| s.evict_skipped_pinned),
        "given" => Cell::Bytes((delta(|s| s.memory_given_back) as f64 / secs) as u64),
        "arcsz" => Cell::Bytes(cur.size),
        "c" => Cell::Bytes(cur.c),
        "p" => Cell::Bytes(cur.p),
        "mrusz" => Cell::Bytes(cur.mru_size),
        "mfusz" => Cell::Bytes(cur.mfu_size),
        "cmin" => Cell::Bytes(cur.c_min),
        "cmax" => Cell::Bytes(cur.c_max),
        other => {
            let known: Vec<&str> = ARCSTAT_COLUMNS.iter().map(|(n, _)| *n).collect();
            return Err(ArcError::InvalidConfig(format!(
                "unknown arcstat column {other:?}; known columns: {}",
                known.join(", ")
            )));
        }
    })
}

fn render(cell: Cell, parsable: bool) -> String {
    match cell {
        Cell::Text(t) => t,
        Cell::Percent(p) => format!("{}", p.round() as u64),
        Cell::Count(n) if parsable => format!("{}", n.round() as u64),
        Cell::Bytes(b) if parsable => b.to_string(),
        Cell::Count(n) => scaled(n, 1000.0),
        Cell::Bytes(b) => scaled(b as f64, 1024.0),
    }
}

/// `n` in at most four characters and a unit, arcstat style: 999, 1.5K, 20M.
fn scaled(mut n: f64, step: f64) -> String {
    const UNITS: [&str; 7] = ["", "K", "M", "G", "T", "P", "E"];
    let mut unit = 0;
    while n >= step && unit + 1 < UNITS.len() {
        n /= step;
        unit += 1;
    }
    let mut s = String::new();
    // Writing to a String cannot fail.
    let _ = if unit == 0 {
        write!(s, "{}", n.round() as u64)
    } else if n < 10.0 {
        write!(s, "{n:.1}{}", UNITS[unit])
    } else {
        write!(s, "{}{}", n.round() as u64, UNITS[unit])
    };
    s
}

fn time_of_day(at: SystemTime) -> String {
    let secs = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) % 86_400;
    format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ArcStats {
        ArcStats {
            hits: 900,
            misses: 100,
            mru_ghost_hits: 7,
            mfu_ghost_hits: 3,
            size: 3 << 30,
            c: 4 << 30,
            ..ArcStats::default()
        }
    }

    fn at() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(3600 * 24 * 365 + 13 * 3600 + 5 * 60 + 9)
    }

    #[test]
    fn default_columns_with_header() {
        let out = format_arcstat(&sample(), None, at(), &ArcstatOptions::default()).expect("ok");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2);
        let header: Vec<&str> = lines[0].split_whitespace().collect();
        assert_eq!(header, ARCSTAT_DEFAULT_COLUMNS);
        let row: Vec<&str> = lines[1].split_whitespace().collect();
        assert_eq!(
            row,
            ["13:05:09", "1.0K", "90", "10", "7", "3", "3.0G", "4.0G"]
        );
        assert_eq!(lines[0].len(), lines[1].len(), "columns line up");
    }

    #[test]
    fn scripted_and_parsable() {
        let opts = ArcstatOptions {
            columns: vec!["read".into(), "hits".into(), "arcsz".into()],
            scripted: true,
            parsable: true,
            ..ArcstatOptions::default()
        };
        let out = format_arcstat(&sample(), None, at(), &opts).expect("ok");
        assert_eq!(out, format!("1000\t900\t{}\n", 3u64 << 30));
    }

    #[test]
    fn deltas_and_rates_between_samples() {
        let prev = sample();
        let mut cur = sample();
        cur.hits += 400;
        cur.misses += 100;
        let opts = ArcstatOptions {
            columns: vec!["read".into(), "hit%".into(), "miss".into()],
            no_header: true,
            parsable: true,
            interval: Some(Duration::from_secs(5)),
            ..ArcstatOptions::default()
        };
        let out = format_arcstat(&cur, Some(&prev), at(), &opts).expect("ok");
        let row: Vec<&str> = out.split_whitespace().collect();
        assert_eq!(row, ["100", "80", "20"]);
    }

    #[test]
    fn unknown_columns_are_refused_with_the_list() {
        let opts = ArcstatOptions {
            columns: vec!["bogus".into()],
            ..ArcstatOptions::default()
        };
        let err = format_arcstat(&sample(), None, at(), &opts).expect_err("bad column");
        assert!(err.to_string().contains("arcsz"));
    }

    #[test]
    fn every_listed_column_renders() {
        let opts = ArcstatOptions {
            columns: ARCSTAT_COLUMNS.iter().map(|(n, _)| n.to_string()).collect(),
            ..ArcstatOptions::default()
        };
        let out = format_arcstat(&sample(), None, at(), &opts).expect("ok");
        assert_eq!(out.lines().count(), 2);
    }

    #[test]
    fn scaling() {
        assert_eq!(scaled(999.0, 1000.0), "999");
        assert_eq!(scaled(1500.0, 1000.0), "1.5K");
        assert_eq!(scaled(20.0 * 1024.0 * 1024.0, 1024.0), "20M");
    }
}
