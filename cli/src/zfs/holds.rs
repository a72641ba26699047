//! `zfs holds`: NAME TAG TIMESTAMP, as OpenZFS prints it.

use super::{Connect, HoldsArgs};
use crate::errors::{print_err, print_out, CliResult, EXIT_ERROR, EXIT_OK};
use crate::format::time;
use crate::protocol::zfs::{HoldsRequest, HoldsResult, SnapshotHolds};
use crate::protocol::Request;

/// The text `zfs holds` prints.
pub fn render(snaps: &[SnapshotHolds], scripted: bool, literal: bool) -> String {
    let nwidth = snaps.iter().map(|s| s.name.len()).max().unwrap_or(0);
    let twidth = snaps
        .iter()
        .flat_map(|s| s.holds.iter().map(|h| h.tag.len()))
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    if !scripted {
        out.push_str(&format!(
            "{:<nwidth$}  {:<twidth$}  TIMESTAMP\n",
            "NAME", "TAG"
        ));
    }
    for s in snaps {
        for h in &s.holds {
            let when = if literal {
                h.time.to_string()
            } else {
                time::local(h.time).zfs_date()
            };
            if scripted {
                out.push_str(&format!("{}\t{}\t{when}\n", s.name, h.tag));
            } else {
                out.push_str(&format!(
                    "{:<nwidth$}  {:<twidth$}  {when}\n",
                    s.name, h.tag
                ));
            }
        }
    }
    out
}

/// Runs `zfs holds`.
pub fn run(connect: Connect, a: &HoldsArgs) -> CliResult {
    let result: HoldsResult = connect()?.call(&Request::ZfsHolds(HoldsRequest {
        snapshots: a.snapshots.clone(),
        recursive: a.recursive,
    }))?;
    for e in &result.errors {
        print_err(&format!("{}\n", e.message));
    }
    print_out(&render(&result.snapshots, a.scripted, a.literal))?;
    if result.snapshots.is_empty() {
        print_err("no datasets available\n");
    }
    Ok(if result.errors.is_empty() {
        EXIT_OK
    } else {
        EXIT_ERROR
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::zfs::Hold;

    #[test]
    fn layout() {
        let s = vec![SnapshotHolds {
            name: "tank/a@s".into(),
            holds: vec![
                Hold {
                    tag: "keep".into(),
                    time: 1_795_341_600,
                },
                Hold {
                    tag: "backup".into(),
                    time: 1_795_341_600,
                },
            ],
        }];
        let when = time::local(1_795_341_600).zfs_date();
        assert_eq!(
            render(&s, false, false),
            format!(
                "NAME      TAG     TIMESTAMP\ntank/a@s  keep    {when}\ntank/a@s  backup  {when}\n"
            )
        );
        assert_eq!(
            render(&s, true, true),
            "tank/a@s\tkeep\t1795341600\ntank/a@s\tbackup\t1795341600\n"
        );
    }
}
