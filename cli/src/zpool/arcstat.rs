//! `zpool arcstat`: the ARC's counters as `arcstat` prints them (basin-arc's
//! `format_arcstat`), one sample, or one every INTERVAL seconds with the
//! counters as rates; `-j` prints each sample's counters as JSON.

use std::time::{Duration, SystemTime};

use basin_arc::{format_arcstat, ArcStats, ArcstatOptions};

use super::{ArcstatArgs, Connect};
use crate::errors::{print_out, CliError, CliResult, EXIT_OK};
use crate::format::split_list;
use crate::protocol::Request;

/// The options for `format_arcstat` of the `n`th sample (from 0).
pub fn options(a: &ArcstatArgs, n: u64) -> ArcstatOptions {
    ArcstatOptions {
        columns: a.fields.as_deref().map(split_list).unwrap_or_default(),
        no_header: n > 0,
        scripted: a.scripted,
        parsable: a.literal,
        interval: a.interval.map(Duration::from_secs),
    }
}

/// One sample as text (or JSON with `-j`).
pub fn sample(
    a: &ArcstatArgs,
    cur: &ArcStats,
    prev: Option<&ArcStats>,
    n: u64,
) -> Result<String, CliError> {
    if a.json {
        let mut s = cur
            .to_json()
            .map_err(|e| CliError::Failed(format!("cannot encode the ARC statistics: {e}")))?;
        s.push('\n');
        return Ok(s);
    }
    format_arcstat(cur, prev, SystemTime::now(), &options(a, n))
        .map_err(|e| CliError::Usage(e.to_string()))
}

/// Runs `zpool arcstat`.
pub fn run(connect: Connect, a: &ArcstatArgs) -> CliResult {
    if a.interval == Some(0) {
        return Err(CliError::Usage("interval must be at least 1 second".into()));
    }
    // Bad columns are refused before the daemon is asked anything.
    sample(a, &ArcStats::default(), None, 0)?;
    let mut client = connect()?;
    let mut prev: Option<ArcStats> = None;
    let mut n = 0u64;
    loop {
        let cur: ArcStats = client.call(&Request::ZpoolArcstat)?;
        print_out(&sample(a, &cur, prev.as_ref(), n)?)?;
        n += 1;
        let Some(secs) = a.interval else {
            break;
        };
        if a.count.is_some_and(|c| n >= c) {
            break;
        }
        prev = Some(cur);
        std::thread::sleep(Duration::from_secs(secs));
    }
    Ok(EXIT_OK)
}
