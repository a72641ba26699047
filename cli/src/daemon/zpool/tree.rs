//! Vdev trees as `zpool status` and `zpool import` show them: names,
//! states and error counters, from an open pool or from devices found.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use basin_pool::import::Candidate;
use basin_pool::label::{VdevConfig, VdevKind};
use basin_pool::vdev::{Leaf, TopVdev};
use basin_pool::{Health, Pool};

use basin_dmu::dsl::diff::Side;
use basin_pool::scan::POOL_METADATA;

use crate::daemon::Daemon;
use crate::protocol::zpool::{PoolStatus, ScanInfo, VdevNode};

/// The `vdev_type` of a kind, as OpenZFS names them.
pub fn vdev_type(kind: VdevKind) -> &'static str {
    match kind {
        VdevKind::Root => "root",
        VdevKind::File => "file",
        VdevKind::Disk => "disk",
        VdevKind::Mirror => "mirror",
        VdevKind::Raidz => "raidz",
        VdevKind::Replacing => "replacing",
    }
}

/// The name `zpool status` shows for a vdev that is not the root:
/// `mirror-0`, `raidz1-1`, the path of a file, a disk without `/dev/`.
pub fn display_name(v: &VdevConfig) -> String {
    match v.kind {
        VdevKind::Mirror => format!("mirror-{}", v.id),
        VdevKind::Raidz => format!("raidz{}-{}", v.nparity, v.id),
        VdevKind::Replacing => format!("replacing-{}", v.id),
        VdevKind::Root => "root".into(),
        VdevKind::Disk => {
            let p = v.path.clone().unwrap_or_else(|| v.guid.to_string());
            match p.strip_prefix("/dev/") {
                Some(short) if !short.is_empty() => short.to_string(),
                _ => p,
            }
        }
        VdevKind::File => v.path.clone().unwrap_or_else(|| v.guid.to_string()),
    }
}

fn aux_of(h: Health) -> Option<String> {
    match h {
        Health::Unavail => Some("cannot open".into()),
        Health::Faulted => Some("too many errors".into()),
        _ => None,
    }
}

fn node(v: &VdevConfig, name: String, state: Health, children: Vec<VdevNode>) -> VdevNode {
    VdevNode {
        name,
        vdev_type: vdev_type(v.kind).into(),
        guid: v.guid,
        path: if v.children.is_empty() {
            v.path.clone()
        } else {
            None
        },
        state: state.name().into(),
        aux: if v.children.is_empty() {
            aux_of(state)
        } else {
            None
        },
        read_errors: 0,
        write_errors: 0,
        checksum_errors: 0,
        children,
    }
}

/// The live tree of an open pool, with its leaves' error counters; a
/// leaf being filled in by a resilver says so.
pub fn live_tree(pool: &Pool) -> VdevNode {
    let tree = pool.config_tree();
    let tops: HashMap<u64, Arc<TopVdev>> = pool.vdevs().into_iter().map(|t| (t.guid, t)).collect();
    let leaves: HashMap<u64, Arc<Leaf>> = tops
        .values()
        .flat_map(|t| t.leaves().into_iter().map(|l| (l.guid, l)))
        .collect();
    let resilvering = pool.scan_running()
        && pool
            .scan_state()
            .is_some_and(|s| s.func == "resilver" && s.state == "scanning");
    let ctx = Live {
        tops: &tops,
        leaves: &leaves,
        resilvering,
    };
    let children = tree.children.iter().map(|t| ctx.node(t)).collect();
    node(&tree, pool.name().to_string(), pool.health(), children)
}

struct Live<'a> {
    tops: &'a HashMap<u64, Arc<TopVdev>>,
    leaves: &'a HashMap<u64, Arc<Leaf>>,
    resilvering: bool,
}

impl Live<'_> {
    fn node(&self, v: &VdevConfig) -> VdevNode {
        if v.children.is_empty() {
            let leaf = self.leaves.get(&v.guid);
            let state = leaf.map(|l| l.health()).unwrap_or(Health::Unavail);
            let mut n = node(v, display_name(v), state, Vec::new());
            if let Some(l) = leaf {
                n.read_errors = l.errors.read.load(Ordering::Relaxed);
                n.write_errors = l.errors.write.load(Ordering::Relaxed);
                n.checksum_errors = l.errors.checksum.load(Ordering::Relaxed);
                if self.resilvering && state.usable() && l.dtl.lock().is_some() {
                    n.aux = Some("(resilvering)".into());
                }
            }
            return n;
        }
        let children: Vec<VdevNode> = v.children.iter().map(|c| self.node(c)).collect();
        let state = match self.tops.get(&v.guid) {
            Some(t) => t.health(),
            // A replacing pair: whole while one side is.
            None => {
                let up = children
                    .iter()
                    .filter(|c| c.state == "ONLINE" || c.state == "DEGRADED")
                    .count();
                if up == children.len() {
                    Health::Online
                } else if up > 0 {
                    Health::Degraded
                } else {
                    Health::Unavail
                }
            }
        };
        node(v, display_name(v), state, children)
    }
}

/// The tree of a pool found on devices, with what was found of it.
pub fn found_tree(c: &Candidate) -> VdevNode {
    fn walk(c: &Candidate, v: &VdevConfig) -> VdevNode {
        let children = v.children.iter().map(|ch| walk(c, ch)).collect();
        node(v, display_name(v), c.health_of(v), children)
    }
    let children = c.tree.children.iter().map(|t| walk(c, t)).collect();
    node(&c.tree, c.name.clone(), c.health(), children)
}

/// Everything `zpool status` shows of an open pool; `error_files` for
/// `-v`.
pub fn pool_status(pool: &Pool, error_files: Vec<String>) -> PoolStatus {
    let space = pool.space();
    let scan = pool
        .scan_state()
        .filter(|s| !s.func.is_empty())
        .map(|s| ScanInfo {
            function: s.func,
            state: s.state,
            start_time: s.start_time,
            end_time: s.end_time,
            to_examine: s.to_examine,
            examined: s.examined,
            repaired: s.repaired,
            errors: s.errors,
            scanned: s.scanned,
            pass_start: s.pass_start,
            pass_examined: s.pass_examined,
            pause_time: s.pause_time,
        });
    let (log, more) = pool.error_log();
    let logged = log.len() as u64 + more;
    let data_errors = if logged > 0 {
        logged
    } else {
        pool.stats().data_errors.load(Ordering::Relaxed)
    };
    PoolStatus {
        name: pool.name().to_string(),
        guid: pool.guid(),
        state: pool.health().name().to_string(),
        txg: pool.last_synced_txg(),
        suspended: pool.suspended(),
        scan,
        data_errors,
        allocated: space.allocated,
        size: space.size,
        config: live_tree(pool),
        error_files,
    }
}

/// The files and objects with permanent errors, named as OpenZFS names
/// them: `/mountpoint/path` for a mounted filesystem's file,
/// `pool/fs:/path` where it is not mounted, else
/// `pool/fs:<0x1f>`, `<metadata>:<0x..>` for the pool's and the meta
/// object set's own blocks, `<0x..>:<0x..>` for a dataset since destroyed.
pub fn error_files(d: &Daemon, pool: &Pool) -> Vec<String> {
    let (log, more) = pool.error_log();
    let dsl = d.registry.imported(pool.name()).ok().map(|i| i.dsl.clone());
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for o in log {
        if !seen.insert((o.objset, o.object)) {
            continue;
        }
        let name = if o.objset == 0 || o.objset == POOL_METADATA {
            format!("<metadata>:<{:#x}>", o.object)
        } else {
            let ds = dsl.as_ref().and_then(|dsl| {
                dsl.with_state(|st| {
                    st.datasets
                        .contains_key(&o.objset)
                        .then(|| st.ds_name(o.objset))
                })
            });
            match ds {
                None => format!("<{:#x}>:<{:#x}>", o.objset, o.object),
                Some(ds) => {
                    let path = dsl
                        .as_ref()
                        .and_then(|dsl| dsl.objset(&ds).ok())
                        .and_then(|os| d.paths.path(&os, o.object, Side::Later).ok().flatten());
                    // A mounted filesystem's files print by their full
                    // path, as OpenZFS prints them.
                    let mountpoint = dsl
                        .as_ref()
                        .filter(|_| d.mounts.is_mounted(&ds))
                        .and_then(|dsl| crate::daemon::zfs::diff::mountpoint_path(dsl, &ds));
                    match (path, mountpoint) {
                        (Some(p), Some(mp)) => crate::daemon::zfs::diff::under(&mp, &p),
                        (Some(p), None) => format!("{ds}:{p}"),
                        (None, _) => format!("{ds}:<{:#x}>", o.object),
                    }
                }
            }
        };
        out.push(name);
    }
    if more > 0 {
        out.push(format!("({more} more not kept)"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(kind: VdevKind, path: &str) -> VdevConfig {
        VdevConfig {
            kind,
            guid: 7,
            id: 3,
            path: Some(path.into()),
            nparity: 0,
            ashift: 12,
            asize: 0,
            ms_shift: 0,
            offline: false,
            dtl_txg: 0,
            dtl_start: 0,
            children: vec![],
        }
    }

    #[test]
    fn names() {
        assert_eq!(
            display_name(&leaf(VdevKind::File, "/var/tmp/a")),
            "/var/tmp/a"
        );
        assert_eq!(display_name(&leaf(VdevKind::Disk, "/dev/sdb")), "sdb");
        let mut m = leaf(VdevKind::Mirror, "");
        m.path = None;
        assert_eq!(display_name(&m), "mirror-3");
        m.kind = VdevKind::Raidz;
        m.nparity = 2;
        assert_eq!(display_name(&m), "raidz2-3");
    }
}
