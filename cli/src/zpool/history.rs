//! `zpool history`.

use super::{Connect, HistoryArgs};
use crate::errors::{print_err, print_out, CliResult, EXIT_ERROR, EXIT_OK};
use crate::format::time;
use crate::protocol::zpool::{HistoryRequest, HistoryResult, PoolHistory};
use crate::protocol::Request;

/// One pool's history as text: a header, one line per record, a blank
/// line.
pub fn render(h: &PoolHistory, internal: bool, long: bool) -> String {
    let mut out = format!("History for '{}':\n", h.name);
    for r in h.records.iter().filter(|r| internal || !r.internal) {
        let stamp = time::local(r.time).history_stamp();
        if r.internal {
            out.push_str(&format!("{stamp} [txg:{}] {}", r.txg, r.command));
        } else {
            out.push_str(&format!("{stamp} {}", r.command));
        }
        if long && !r.host.is_empty() {
            out.push_str(&format!(" [on {}]", r.host));
        }
        out.push('\n');
    }
    out.push('\n');
    out
}

/// Runs `zpool history`.
pub fn run(connect: Connect, a: &HistoryArgs) -> CliResult {
    let result: HistoryResult = connect()?.call(&Request::ZpoolHistory(HistoryRequest {
        names: a.pools.clone(),
    }))?;
    for e in &result.errors {
        print_err(&format!("{}\n", e.message));
    }
    if a.pools.is_empty() && result.pools.is_empty() {
        print_err("no pools available\n");
    }
    let text: String = result
        .pools
        .iter()
        .map(|h| render(h, a.internal, a.long))
        .collect();
    print_out(&text)?;
    Ok(if result.errors.is_empty() {
        EXIT_OK
    } else {
        EXIT_ERROR
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::zpool::HistoryEntry;

    #[test]
    fn layout() {
        let h = PoolHistory {
            name: "tank".into(),
            records: vec![
                HistoryEntry {
                    time: 1_795_341_600,
                    command: "zpool create tank /tmp/a".into(),
                    internal: false,
                    txg: 1,
                    host: "box".into(),
                },
                HistoryEntry {
                    time: 1_795_341_601,
                    command: "scrub started".into(),
                    internal: true,
                    txg: 7,
                    host: "box".into(),
                },
            ],
        };
        let stamp = time::local(1_795_341_600).history_stamp();
        assert_eq!(
            render(&h, false, false),
            format!("History for 'tank':\n{stamp} zpool create tank /tmp/a\n\n")
        );
        let all = render(&h, true, true);
        assert!(all.contains("zpool create tank /tmp/a [on box]\n"), "{all}");
        assert!(all.contains(" [txg:7] scrub started [on box]\n"), "{all}");
    }
}
