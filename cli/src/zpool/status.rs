//! `zpool status`: the OpenZFS layout (pool, state, status and action when
//! something is wrong, scan, the config table, errors) and its `-j` form.

use serde_json::{json, Map, Value};

use super::{Connect, StatusArgs};
use crate::errors::{print_err, print_out, CliResult, EXIT_ERROR, EXIT_OK};
use crate::format::json::{self as js, JsonOpts};
use crate::format::{count, nicenum, time};
use crate::protocol::zpool::{PoolStatus, ScanInfo, StatusRequest, StatusResult, VdevNode};
use crate::protocol::Request;

/// What is wrong with a pool, worst first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// Writes failed; the pool stopped.
    Suspended(String),
    /// Devices are gone and no copy covers them.
    Unavailable,
    /// Devices are gone; redundancy covers them.
    Degraded,
    /// A device was taken offline.
    Offline,
    /// A device was faulted after errors.
    Faulted,
    /// A device went away (pulled, deleted, truncated).
    Removed,
    /// A resilver is filling devices in.
    Resilvering,
    /// Blocks that no copy could serve.
    DataErrors(u64),
    /// Devices had errors (repaired where possible).
    DeviceErrors,
}

fn any_leaf_in(v: &VdevNode, state: &str) -> bool {
    (v.children.is_empty() && v.state == state) || v.children.iter().any(|c| any_leaf_in(c, state))
}

fn any_errors(v: &VdevNode) -> bool {
    v.read_errors + v.write_errors + v.checksum_errors > 0 || v.children.iter().any(any_errors)
}

/// The problem `zpool status` reports for `p`, if any.
pub fn problem(p: &PoolStatus) -> Option<Problem> {
    if let Some(why) = &p.suspended {
        return Some(Problem::Suspended(why.clone()));
    }
    let resilvering = p
        .scan
        .as_ref()
        .is_some_and(|s| s.function == "resilver" && s.state == "scanning");
    match p.state.as_str() {
        "ONLINE" | "DEGRADED" if resilvering => return Some(Problem::Resilvering),
        "ONLINE" => {}
        "DEGRADED" if any_leaf_in(&p.config, "FAULTED") => return Some(Problem::Faulted),
        "DEGRADED" if any_leaf_in(&p.config, "REMOVED") => return Some(Problem::Removed),
        "DEGRADED" if any_leaf_in(&p.config, "OFFLINE") => return Some(Problem::Offline),
        "DEGRADED" => return Some(Problem::Degraded),
        _ => return Some(Problem::Unavailable),
    }
    if p.data_errors > 0 {
        return Some(Problem::DataErrors(p.data_errors));
    }
    any_errors(&p.config).then_some(Problem::DeviceErrors)
}

/// The `status:` and `action:` texts of a problem.
pub fn explain(pr: &Problem) -> (String, String) {
    let (s, a) = match pr {
        Problem::Suspended(why) => (
            format!("The pool is suspended after a failure it could not work around:\n\t{why}.\n"),
            "Make the devices available again, then export and import the pool.\n".to_string(),
        ),
        Problem::Unavailable => (
            "One or more devices cannot be used and no redundancy covers them.\n".into(),
            "Bring the devices back, then export and import the pool.\n".into(),
        ),
        Problem::Degraded => (
            "One or more devices cannot be used. The pool keeps working on the\n\tremaining copies, with less redundancy.\n".into(),
            "Bring the devices back, or replace them.\n".into(),
        ),
        Problem::Offline => (
            "A device was taken offline by the operator. The pool keeps working\n\ton the remaining copies, with less redundancy.\n".into(),
            "Bring it back with 'zpool online', or replace it with 'zpool replace'.\n".into(),
        ),
        Problem::Faulted => (
            "A device was faulted after repeated I/O errors. The pool keeps\n\tworking on the remaining copies, with less redundancy.\n".into(),
            "Replace it with 'zpool replace', or mark it repaired with 'zpool clear'.\n".into(),
        ),
        Problem::Removed => (
            "A device went away (removed, deleted or truncated). The pool keeps\n\tworking on the remaining copies, with less redundancy.\n".into(),
            "Put it back and run 'zpool online', or replace it with 'zpool replace'.\n".into(),
        ),
        Problem::Resilvering => (
            "A resilver is filling in one or more devices. The pool keeps\n\tworking meanwhile, possibly with less redundancy.\n".into(),
            "Wait for the resilver to complete ('zpool wait -t resilver').\n".into(),
        ),
        Problem::DataErrors(n) => (
            format!("{n} blocks could not be read correctly from any copy: the data\n\tin them is lost. Reads of it fail with an I/O error.\n"),
            "Restore the affected files from a backup ('zpool status -v' lists them).\n".into(),
        ),
        Problem::DeviceErrors => (
            "One or more devices had read, write or checksum errors. Reads were\n\tserved, and repaired, from good copies where there were any.\n".into(),
            "Watch the device and replace it if its errors keep growing.\n".into(),
        ),
    };
    (s, a)
}

/// Bytes as OpenZFS's status prints them: `512B`, `1.50K`.
pub fn nicebytes(n: u64) -> String {
    if n < 1024 {
        format!("{n}B")
    } else {
        nicenum(n)
    }
}

/// A rate in bytes per second as status prints it: `1.23G/s`.
fn rate(bytes: u64, secs: u64) -> String {
    format!("{}/s", nicebytes(bytes / secs.max(1)))
}

/// The text after `scan:`, as of `now` (seconds since the epoch).
pub fn scan_line_at(scan: Option<&ScanInfo>, now: u64) -> String {
    let Some(s) = scan else {
        return "none requested".into();
    };
    let resilver = s.function == "resilver";
    let verb = if resilver { "resilvered" } else { "repaired" };
    let pct = if s.to_examine == 0 {
        0.0
    } else {
        100.0 * s.examined as f64 / s.to_examine as f64
    };
    match s.state.as_str() {
        "finished" if resilver => format!(
            "resilvered {} in {} with {} errors on {}",
            nicebytes(s.repaired),
            time::duration(s.end_time.saturating_sub(s.start_time)),
            s.errors,
            time::local(s.end_time).ctime()
        ),
        "finished" => format!(
            "scrub repaired {} in {} with {} errors on {}",
            nicebytes(s.repaired),
            time::duration(s.end_time.saturating_sub(s.start_time)),
            s.errors,
            time::local(s.end_time).ctime()
        ),
        "canceled" => format!(
            "{} canceled on {}",
            s.function,
            time::local(s.end_time).ctime()
        ),
        "paused" => format!(
            "{f} paused since {}\n\t{f} started on {}\n\t{} / {} scanned, {} / {} issued, {} {verb}, {pct:.2}% done",
            time::local(s.pause_time).ctime(),
            time::local(s.start_time).ctime(),
            nicebytes(s.scanned),
            nicebytes(s.to_examine),
            nicebytes(s.examined),
            nicebytes(s.to_examine),
            nicebytes(s.repaired),
            f = s.function,
        ),
        _ => {
            let elapsed = now.saturating_sub(s.pass_start).max(1);
            let issued_now = s.examined.saturating_sub(s.pass_examined);
            let issue_rate = issued_now / elapsed;
            let left = match s
                .to_examine
                .saturating_sub(s.examined)
                .checked_div(issue_rate)
            {
                None => "no estimated completion time".to_string(),
                Some(secs) => format!("{} to go", time::duration(secs)),
            };
            format!(
                "{} in progress since {}\n\t{} / {} scanned at {}, {} / {} issued at {}\n\t{} {verb}, {pct:.2}% done, {left}",
                s.function,
                time::local(s.start_time).ctime(),
                nicebytes(s.scanned),
                nicebytes(s.to_examine),
                rate(s.scanned, now.saturating_sub(s.start_time)),
                nicebytes(s.examined),
                nicebytes(s.to_examine),
                rate(issued_now, elapsed),
                nicebytes(s.repaired),
            )
        }
    }
}

/// The text after `scan:`, now.
pub fn scan_line(scan: Option<&ScanInfo>) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    scan_line_at(scan, now)
}

fn name_width(v: &VdevNode, depth: usize) -> usize {
    v.children
        .iter()
        .map(|c| name_width(c, depth + 2))
        .fold(depth + v.name.chars().count(), usize::max)
}

fn config_lines(out: &mut String, v: &VdevNode, depth: usize, width: usize, literal: bool) {
    out.push_str(&format!(
        "\t{:depth$}{:<w$}  {:<8} {:>5} {:>5} {:>5}",
        "",
        v.name,
        v.state,
        count(v.read_errors, literal),
        count(v.write_errors, literal),
        count(v.checksum_errors, literal),
        w = width.saturating_sub(depth)
    ));
    if let Some(aux) = &v.aux {
        out.push_str("  ");
        out.push_str(aux);
    }
    out.push('\n');
    for c in &v.children {
        config_lines(out, c, depth + 2, width, literal);
    }
}

/// One pool's status as text; `verbose` lists the files with permanent
/// errors.
pub fn render(p: &PoolStatus, literal: bool, verbose: bool) -> String {
    let mut out = format!("  pool: {}\n state: {}\n", p.name, p.state);
    if let Some(pr) = problem(p) {
        let (s, a) = explain(&pr);
        out.push_str(&format!("status: {s}action: {a}"));
    }
    out.push_str(&format!("  scan: {}\n", scan_line(p.scan.as_ref())));
    let width = name_width(&p.config, 0).max(10);
    out.push_str("config:\n\n");
    out.push_str(&format!(
        "\t{:<width$}  {:<8} {:>5} {:>5} {:>5}\n",
        "NAME", "STATE", "READ", "WRITE", "CKSUM"
    ));
    config_lines(&mut out, &p.config, 0, width, literal);
    out.push('\n');
    if p.data_errors == 0 {
        out.push_str("errors: No known data errors\n");
    } else if verbose && !p.error_files.is_empty() {
        out.push_str("errors: Permanent errors have been detected in the following files:\n\n");
        for f in &p.error_files {
            out.push_str(&format!("        {f}\n"));
        }
    } else {
        out.push_str(&format!(
            "errors: {} data errors, use '-v' for a list\n",
            p.data_errors
        ));
    }
    out
}

fn num(n: u64, literal: bool, opts: JsonOpts) -> Value {
    if opts.as_int {
        Value::from(n)
    } else if literal {
        Value::from(n.to_string())
    } else {
        Value::from(nicenum(n))
    }
}

fn vdev_json(v: &VdevNode, root: Option<&PoolStatus>, literal: bool, opts: JsonOpts) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(v.name));
    m.insert("vdev_type".into(), json!(v.vdev_type));
    m.insert("guid".into(), js::number(v.guid, opts));
    if let Some(p) = &v.path {
        m.insert("path".into(), json!(p));
    }
    m.insert("state".into(), json!(v.state));
    if let Some(p) = root {
        let bytes = |n: u64| {
            if opts.as_int {
                Value::from(n)
            } else if literal {
                Value::from(n.to_string())
            } else {
                Value::from(nicebytes(n))
            }
        };
        m.insert("alloc_space".into(), bytes(p.allocated));
        m.insert("total_space".into(), bytes(p.size));
    }
    m.insert("read_errors".into(), num(v.read_errors, literal, opts));
    m.insert("write_errors".into(), num(v.write_errors, literal, opts));
    m.insert(
        "checksum_errors".into(),
        num(v.checksum_errors, literal, opts),
    );
    if let Some(aux) = &v.aux {
        m.insert("aux".into(), json!(aux));
    }
    if !v.children.is_empty() {
        let mut kids = Map::new();
        for c in &v.children {
            kids.insert(c.name.clone(), vdev_json(c, None, literal, opts));
        }
        m.insert("vdevs".into(), Value::Object(kids));
    }
    Value::Object(m)
}

/// One pool's `-j` object.
pub fn pool_json(p: &PoolStatus, literal: bool, opts: JsonOpts) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(p.name));
    m.insert("state".into(), json!(p.state));
    m.insert("guid".into(), js::number(p.guid, opts));
    m.insert("txg".into(), js::number(p.txg, opts));
    m.insert(
        "spa_version".into(),
        js::number(basin_pool::FORMAT_VERSION, opts),
    );
    if let Some(pr) = problem(p) {
        let (s, a) = explain(&pr);
        m.insert("status".into(), json!(s));
        m.insert("action".into(), json!(a));
    }
    if let Some(s) = &p.scan {
        m.insert(
            "scan_stats".into(),
            json!({
                "function": s.function.to_ascii_uppercase(),
                "state": s.state.to_ascii_uppercase(),
                "start_time": js::number(s.start_time, opts),
                "end_time": js::number(s.end_time, opts),
                "to_examine": num(s.to_examine, literal, opts),
                "examined": num(s.examined, literal, opts),
                "processed": num(s.repaired, literal, opts),
                "errors": num(s.errors, literal, opts),
                "bytes_scanned": num(s.scanned, literal, opts),
                "pass_start": js::number(s.pass_start, opts),
                "pause_time": js::number(s.pause_time, opts),
            }),
        );
    }
    if !p.error_files.is_empty() {
        m.insert("errors".into(), json!(p.error_files));
    }
    let mut vdevs = Map::new();
    vdevs.insert(
        p.config.name.clone(),
        vdev_json(&p.config, Some(p), literal, opts),
    );
    m.insert("vdevs".into(), Value::Object(vdevs));
    m.insert("error_count".into(), num(p.data_errors, literal, opts));
    Value::Object(m)
}

/// Runs `zpool status`.
pub fn run(connect: Connect, a: &StatusArgs) -> CliResult {
    let result: StatusResult = connect()?.call(&Request::ZpoolStatus(StatusRequest {
        names: a.pools.clone(),
        verbose: a.verbose,
    }))?;
    for e in &result.errors {
        print_err(&format!("{}\n", e.message));
    }
    let shown: Vec<&PoolStatus> = result
        .pools
        .iter()
        .filter(|p| !a.explain || problem(p).is_some())
        .collect();
    let opts = a.json.opts();
    if a.json.json {
        let mut pools = Map::new();
        for p in &shown {
            let key = if opts.key_by_guid {
                p.guid.to_string()
            } else {
                p.name.clone()
            };
            pools.insert(key, pool_json(p, a.literal, opts));
        }
        print_out(&js::render(&js::document("zpool status", "pools", pools)))?;
    } else {
        let mut out = String::new();
        if a.explain && !a.pools.is_empty() {
            for p in result.pools.iter().filter(|p| problem(p).is_none()) {
                out.push_str(&format!("pool '{}' is healthy\n", p.name));
            }
        }
        for (i, p) in shown.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            out.push_str(&render(p, a.literal, a.verbose));
        }
        if a.pools.is_empty() && result.pools.is_empty() {
            print_err("no pools available\n");
        } else if a.explain && a.pools.is_empty() && shown.is_empty() {
            out.push_str("all pools are healthy\n");
        }
        print_out(&out)?;
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

    fn leaf(name: &str) -> VdevNode {
        VdevNode {
            name: name.into(),
            vdev_type: "file".into(),
            guid: 3,
            path: Some(name.into()),
            state: "ONLINE".into(),
            aux: None,
            read_errors: 0,
            write_errors: 0,
            checksum_errors: 0,
            children: vec![],
        }
    }

    fn mirror_pool() -> PoolStatus {
        PoolStatus {
            name: "tank".into(),
            guid: 1,
            state: "ONLINE".into(),
            txg: 5,
            suspended: None,
            scan: None,
            data_errors: 0,
            allocated: 1024,
            size: 1 << 30,
            error_files: vec![],
            config: VdevNode {
                name: "tank".into(),
                vdev_type: "root".into(),
                path: None,
                children: vec![VdevNode {
                    name: "mirror-0".into(),
                    vdev_type: "mirror".into(),
                    path: None,
                    children: vec![leaf("/a"), leaf("/b")],
                    ..leaf("mirror-0")
                }],
                ..leaf("tank")
            },
        }
    }

    #[test]
    fn layout_matches_openzfs() {
        assert_eq!(
            render(&mirror_pool(), false, false),
            "  pool: tank\n state: ONLINE\n  scan: none requested\nconfig:\n\n\
             \tNAME        STATE     READ WRITE CKSUM\n\
             \ttank        ONLINE       0     0     0\n\
             \t  mirror-0  ONLINE       0     0     0\n\
             \t    /a      ONLINE       0     0     0\n\
             \t    /b      ONLINE       0     0     0\n\
             \nerrors: No known data errors\n"
        );
    }

    #[test]
    fn long_paths_widen_the_name_column() {
        let mut p = mirror_pool();
        p.config.children = vec![leaf("/var/tmp/basin/a-long-vdev")];
        p.config.children[0].checksum_errors = 2048;
        p.config.children[0].state = "FAULTED".into();
        p.config.children[0].aux = Some("too many errors".into());
        let text = render(&p, false, false);
        assert!(
            text.contains("\tNAME                          STATE     READ WRITE CKSUM\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "\t  /var/tmp/basin/a-long-vdev  FAULTED      0     0 2.00K  too many errors\n"
            ),
            "{text}"
        );
        assert!(text.contains("status: One or more devices had"), "{text}");
        assert!(render(&p, true, false).contains(" 2048  too many errors"));
    }

    #[test]
    fn problems_and_scans() {
        let mut p = mirror_pool();
        assert_eq!(problem(&p), None);
        p.state = "DEGRADED".into();
        assert_eq!(problem(&p), Some(Problem::Degraded));
        p.suspended = Some("sync of txg 9 failed".into());
        assert!(matches!(problem(&p), Some(Problem::Suspended(_))));
        assert_eq!(scan_line(None), "none requested");
        let s = ScanInfo {
            function: "scrub".into(),
            state: "finished".into(),
            start_time: 100,
            end_time: 161,
            to_examine: 10,
            examined: 10,
            repaired: 0,
            errors: 0,
            scanned: 10,
            pass_start: 100,
            pass_examined: 0,
            pause_time: 0,
        };
        assert!(scan_line(Some(&s)).starts_with("scrub repaired 0B in 00:01:01 with 0 errors on "));
        let running = ScanInfo {
            state: "scanning".into(),
            end_time: 0,
            to_examine: 4 << 30,
            examined: 1 << 30,
            scanned: 4 << 30,
            repaired: 1536,
            ..s.clone()
        };
        let text = scan_line_at(Some(&running), 110);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("scrub in progress since "), "{text}");
        assert_eq!(
            lines[1],
            "\t4.00G / 4.00G scanned at 409M/s, 1.00G / 4.00G issued at 102M/s"
        );
        assert_eq!(lines[2], "\t1.50K repaired, 25.00% done, 00:00:30 to go");
        let resilver = ScanInfo {
            function: "resilver".into(),
            ..s.clone()
        };
        assert!(
            scan_line(Some(&resilver)).starts_with("resilvered 0B in 00:01:01 with 0 errors on ")
        );
        assert_eq!(nicebytes(1536), "1.50K");
    }

    #[test]
    fn json_like_openzfs() {
        let v = pool_json(&mirror_pool(), false, JsonOpts::default());
        assert_eq!(v["name"], "tank");
        assert_eq!(v["state"], "ONLINE");
        assert_eq!(v["error_count"], "0");
        let root = &v["vdevs"]["tank"];
        assert_eq!(root["vdev_type"], "root");
        assert_eq!(root["total_space"], "1.00G");
        let m = &root["vdevs"]["mirror-0"];
        assert_eq!(m["state"], "ONLINE");
        assert_eq!(m["vdevs"]["/a"]["path"], "/a");
        assert_eq!(m["vdevs"]["/b"]["read_errors"], "0");
        assert!(v.get("status").is_none());
    }
}
