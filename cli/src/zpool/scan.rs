//! `zpool scrub [-s | -p] [-w]` and `zpool wait [-t activity]`: start,
//! pause or stop scrubs, and wait for scans to end, with a progress bar
//! when the output is a terminal.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use super::status::nicebytes;
use super::{Connect, ScrubArgs, WaitArgs};
use crate::client::Client;
use crate::errors::{print_err, CliError, CliResult, EXIT_ERROR, EXIT_OK};
use crate::protocol::zpool::{
    ScanInfo, ScrubAction, ScrubRequest, ScrubResult, StatusRequest, StatusResult,
};
use crate::protocol::Request;

/// `zpool scrub`.
pub fn scrub(connect: Connect, a: &ScrubArgs, line: &str) -> CliResult {
    if a.stop && a.pause {
        return Err(CliError::Usage(
            "invalid option combination: -s and -p are mutually exclusive".into(),
        ));
    }
    let action = if a.stop {
        ScrubAction::Stop
    } else if a.pause {
        ScrubAction::Pause
    } else {
        ScrubAction::Start
    };
    let mut client = connect()?;
    let r: ScrubResult = client.call(&Request::ZpoolScrub(ScrubRequest {
        names: a.pools.clone(),
        action,
        command: line.to_string(),
    }))?;
    for e in &r.errors {
        print_err(&format!("{}\n", e.message));
    }
    if a.wait && action == ScrubAction::Start {
        for p in &a.pools {
            wait_for(&mut client, p, &["scrub"])?;
        }
    }
    Ok(if r.errors.is_empty() {
        EXIT_OK
    } else {
        EXIT_ERROR
    })
}

/// `zpool wait`.
pub fn wait(connect: Connect, a: &WaitArgs) -> CliResult {
    let activities: Vec<&str> = match &a.activities {
        Some(list) => list.split(',').collect(),
        None => vec!["scrub", "resilver", "replace"],
    };
    if let Some(bad) = activities
        .iter()
        .find(|w| !["scrub", "resilver", "replace"].contains(w))
    {
        return Err(CliError::Usage(format!("invalid activity '{bad}'")));
    }
    let mut client = connect()?;
    wait_for(&mut client, &a.pool, &activities)?;
    Ok(EXIT_OK)
}

fn scan_of(client: &mut Client, pool: &str) -> Result<Option<ScanInfo>, CliError> {
    let r: StatusResult = client.call(&Request::ZpoolStatus(StatusRequest {
        names: vec![pool.to_string()],
        verbose: false,
    }))?;
    if let Some(e) = r.errors.first() {
        return Err(CliError::Failed(e.message.clone()));
    }
    Ok(r.pools.first().and_then(|p| p.scan.clone()))
}

/// Waits until `pool` runs none of `activities` (a replacement ends with
/// its resilver).
fn wait_for(client: &mut Client, pool: &str, activities: &[&str]) -> Result<(), CliError> {
    let busy = |s: &Option<ScanInfo>| {
        s.as_ref().is_some_and(|s| {
            s.state == "scanning"
                && (activities.contains(&s.function.as_str())
                    || (s.function == "resilver" && activities.contains(&"replace")))
        })
    };
    let mut scan = scan_of(client, pool)?;
    if !busy(&scan) {
        return Ok(());
    }
    let bar = std::io::stderr().is_terminal().then(|| {
        let b = ProgressBar::new(1);
        b.set_style(
            ProgressStyle::with_template("{prefix} [{bar:40}] {percent:>3}% {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        b
    });
    while busy(&scan) {
        if let (Some(b), Some(s)) = (&bar, &scan) {
            b.set_prefix(format!("{pool}: {}", s.function));
            b.set_length(s.to_examine.max(1));
            b.set_position(s.examined.min(s.to_examine));
            b.set_message(format!(
                "{} / {} issued, {} {}",
                nicebytes(s.examined),
                nicebytes(s.to_examine),
                nicebytes(s.repaired),
                if s.function == "resilver" {
                    "resilvered"
                } else {
                    "repaired"
                }
            ));
        }
        std::thread::sleep(Duration::from_millis(250));
        scan = scan_of(client, pool)?;
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    Ok(())
}
