//! `zpool import`: without a pool, list what could be imported in
//! OpenZFS's layout; with one, import it.

use std::path::PathBuf;

use super::{Connect, ImportArgs};
use crate::errors::{print_err, print_out, CliError, CliResult, EXIT_OK};
use crate::protocol::zpool::{
    ImportCandidate, ImportRequest, ImportScanRequest, ImportScanResult, ImportStatus, PoolRef,
    VdevNode,
};
use crate::protocol::Request;

fn name_width(v: &VdevNode, depth: usize) -> usize {
    v.children
        .iter()
        .map(|c| name_width(c, depth + 2))
        .fold(depth + v.name.chars().count(), usize::max)
}

fn config_lines(out: &mut String, v: &VdevNode, depth: usize, width: usize) {
    out.push_str(&format!(
        "\t{:depth$}{:<w$}  {}",
        "",
        v.name,
        v.state,
        w = width.saturating_sub(depth)
    ));
    if let Some(aux) = &v.aux {
        out.push_str("  ");
        out.push_str(aux);
    }
    out.push('\n');
    for c in &v.children {
        config_lines(out, c, depth + 2, width);
    }
}

/// The `status:` and `action:` lines of a candidate.
fn status_action(c: &ImportCandidate) -> (Option<String>, String) {
    const CAN: &str = "The pool can be imported using its name or numeric identifier.";
    match &c.status {
        ImportStatus::Ok => (None, CAN.into()),
        ImportStatus::InUse {
            pid: Some(pid), ..
        } => (
            Some(format!(
                "The pool is in use by another process on this host (pid {pid})."
            )),
            "Export it there before importing it here.".into(),
        ),
        ImportStatus::InUse { host, hostid, .. } => (
            Some("The pool is in use by another system.".into()),
            format!("Export it on {host} (hostid {hostid:08x}) before importing it here."),
        ),
        ImportStatus::Foreign { host, hostid } => (
            Some(format!(
                "The pool was last used by another system ({host}, hostid {hostid:08x})\n\tand not exported."
            )),
            "The pool can be imported using its name or numeric identifier and\n\tthe '-f' flag."
                .into(),
        ),
        ImportStatus::MissingDevices if c.health == "DEGRADED" => (
            Some("One or more devices are missing.".into()),
            "The pool can be imported without them, with less redundancy.".into(),
        ),
        ImportStatus::MissingDevices => (
            Some("One or more devices are missing.".into()),
            "The pool cannot be imported. Attach the missing\n\tdevices and try again.".into(),
        ),
    }
}

/// One candidate as OpenZFS lists it.
pub fn render(c: &ImportCandidate) -> String {
    let destroyed = if c.pool_state == "destroyed" {
        " (DESTROYED)"
    } else {
        ""
    };
    let mut out = format!(
        "  pool: {}\n    id: {}\n state: {}{destroyed}\n",
        c.name, c.guid, c.health
    );
    let (status, action) = status_action(c);
    if let Some(s) = status {
        out.push_str(&format!("status: {s}\n"));
    }
    out.push_str(&format!("action: {action}\nconfig:\n\n"));
    let width = name_width(&c.config, 0).max(10);
    config_lines(&mut out, &c.config, 0, width);
    out
}

fn absolute(dirs: &[PathBuf]) -> Result<Vec<PathBuf>, CliError> {
    dirs.iter()
        .map(|d| {
            std::path::absolute(d)
                .map_err(|e| CliError::Failed(format!("cannot open '{}': {e}", d.display())))
        })
        .collect()
}

/// Runs `zpool import`.
pub fn run(connect: Connect, a: &ImportArgs, line: &str) -> CliResult {
    let dirs = absolute(&a.dirs)?;
    let mut client = connect()?;
    let Some(pool) = &a.pool else {
        let r: ImportScanResult = client.call(&Request::ZpoolImportScan(ImportScanRequest {
            dirs,
            destroyed: a.destroyed,
        }))?;
        if r.candidates.is_empty() {
            print_err("no pools available to import\n");
        }
        let text: Vec<String> = r.candidates.iter().map(render).collect();
        print_out(&text.join("\n"))?;
        return Ok(EXIT_OK);
    };
    let _: PoolRef = client.call(&Request::ZpoolImport(ImportRequest {
        dirs,
        pool: pool.clone(),
        new_name: a.new_name.clone(),
        force: a.force,
        destroyed: a.destroyed,
        command: line.to_string(),
    }))?;
    Ok(EXIT_OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_like_openzfs() {
        let leaf = VdevNode {
            name: "/a".into(),
            vdev_type: "file".into(),
            guid: 2,
            path: Some("/a".into()),
            state: "ONLINE".into(),
            aux: None,
            read_errors: 0,
            write_errors: 0,
            checksum_errors: 0,
            children: vec![],
        };
        let c = ImportCandidate {
            name: "tank".into(),
            guid: 15451357997522795478,
            pool_state: "exported".into(),
            health: "ONLINE".into(),
            status: ImportStatus::Ok,
            config: VdevNode {
                name: "tank".into(),
                vdev_type: "root".into(),
                path: None,
                children: vec![VdevNode {
                    name: "mirror-0".into(),
                    vdev_type: "mirror".into(),
                    path: None,
                    children: vec![
                        leaf.clone(),
                        VdevNode {
                            name: "/b".into(),
                            state: "UNAVAIL".into(),
                            aux: Some("cannot open".into()),
                            ..leaf.clone()
                        },
                    ],
                    ..leaf.clone()
                }],
                ..leaf
            },
        };
        assert_eq!(
            render(&c),
            "  pool: tank\n    id: 15451357997522795478\n state: ONLINE\n\
             action: The pool can be imported using its name or numeric identifier.\n\
             config:\n\n\
             \ttank        ONLINE\n\
             \t  mirror-0  ONLINE\n\
             \t    /a      ONLINE\n\
             \t    /b      UNAVAIL  cannot open\n"
        );
    }
}
