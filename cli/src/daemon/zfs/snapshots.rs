//! Snapshots: taking them, rolling back to them, and user holds.

use std::collections::BTreeMap;

use basin_dmu::dsl::DslState;

use super::errors::{dmu_error, exists, invalid, no_such_dataset};
use super::mount::ChangeList;
use super::names::{fs_of, pool_of, Want};
use super::validate::check;
use super::{check_name, pool_for, record, type_of, wrong_type};
use crate::daemon::{Daemon, Imported};
use crate::dsprops::{self, SNAP};
use crate::protocol::zfs::{
    Changed, Hold, HoldRequest, HoldsRequest, HoldsResult, RollbackRequest, SnapshotHolds,
    SnapshotRequest,
};
use crate::protocol::zpool::Done;
use crate::protocol::{ErrorKind, WireError};

/// Every filesystem and volume at and below directory `dir`.
fn subtree(st: &DslState, dir: u64) -> Vec<u64> {
    let mut v = vec![dir];
    let mut i = 0;
    while i < v.len() {
        if let Ok(d) = st.dir(v[i]) {
            v.extend(d.children.values().copied());
        }
        i += 1;
    }
    v
}

/// `zfs snapshot`.
pub fn snapshot(d: &Daemon, req: &SnapshotRequest) -> Result<Done, WireError> {
    if let Some(p) = req.props.first() {
        let why = if dsprops::is_user(&p.property) {
            check(&p.property, &p.value, SNAP, true)
                .err()
                .unwrap_or_else(|| "user properties on snapshots are not supported yet".into())
        } else {
            check(&p.property, &p.value, SNAP, true)
                .err()
                .unwrap_or_else(|| {
                    format!("'{}' does not apply to datasets of this type", p.property)
                })
        };
        return Err(invalid(format!("cannot create snapshots : {why}")));
    }
    let mut by_pool: BTreeMap<&str, (Imported, Vec<String>)> = BTreeMap::new();
    let mut filesystems: Vec<&str> = Vec::new();
    for n in &req.names {
        let context = format!("cannot create snapshot '{n}'");
        check_name(&context, n, Want::Snapshot)?;
        let fs = fs_of(n);
        if filesystems.contains(&fs) {
            return Err(WireError::new(
                ErrorKind::Exists,
                "cannot create snapshots : multiple snapshots of same fs not allowed",
                libc::EXDEV,
            ));
        }
        filesystems.push(fs);
        let imp = match d.registry.imported(pool_of(n)) {
            Ok(i) => i,
            Err(_) if req.recursive => return Err(no_such_dataset(fs)),
            Err(_) => {
                return Err(WireError::new(
                    ErrorKind::NotFound,
                    format!("{context}: dataset does not exist"),
                    libc::ENOENT,
                ))
            }
        };
        match type_of(&imp, fs) {
            None if req.recursive => return Err(no_such_dataset(fs)),
            None => {
                return Err(WireError::new(
                    ErrorKind::NotFound,
                    format!("{context}: dataset does not exist"),
                    libc::ENOENT,
                ))
            }
            Some("snapshot") => {
                return Err(invalid(format!(
                    "{context}: multiple '@' and/or '#' delimiters in name"
                )))
            }
            Some(_) => {}
        }
        // Every snapshot to be, taken or not yet.
        let snap = n.split_once('@').map(|x| x.1).unwrap_or_default();
        let taken = imp.dsl.with_state(|st| {
            let Ok(dir) = st.lookup(fs).and_then(|id| st.ds(id).map(|x| x.phys.dir)) else {
                return None;
            };
            let dirs = if req.recursive {
                subtree(st, dir)
            } else {
                vec![dir]
            };
            dirs.into_iter()
                .find(|d| {
                    st.dir(*d)
                        .and_then(|x| st.ds(x.phys.head))
                        .is_ok_and(|h| h.snaps.contains_key(snap))
                })
                .map(|d| format!("{}@{snap}", st.dir_name(d)))
        });
        if let Some(t) = taken {
            return Err(exists(&format!("cannot create snapshot '{t}'")));
        }
        by_pool
            .entry(pool_of(n))
            .or_insert_with(|| (imp.clone(), Vec::new()))
            .1
            .push(n.clone());
    }
    for (imp, names) in by_pool.values() {
        imp.dsl
            .snapshot(names, req.recursive)
            .map_err(|e| dmu_error(&format!("cannot create snapshot '{}'", names[0]), &e))?;
        record(imp, &req.command);
    }
    Ok(Done {})
}

/// `zfs rollback`.
pub fn rollback(d: &Daemon, req: &RollbackRequest) -> Result<Changed, WireError> {
    let snap = req.snapshot.as_str();
    let open = format!("cannot open '{snap}'");
    check_name(&open, snap, Want::Any)?;
    let imp = pool_for(d, &open, snap)?;
    let ty = type_of(&imp, snap).ok_or_else(|| no_such_dataset(snap))?;
    if ty != "snapshot" {
        return Err(wrong_type(snap));
    }
    let context = format!("cannot rollback to '{snap}'");
    // Clones of the later snapshots stop a rollback unless -R.
    let clones: Vec<String> = imp.dsl.with_state(|st| {
        let Ok(sid) = st.lookup(snap) else {
            return Vec::new();
        };
        let Ok(dir) = st.ds(sid).map(|s| s.phys.dir) else {
            return Vec::new();
        };
        let Ok(head) = st.dir(dir).map(|x| x.phys.head) else {
            return Vec::new();
        };
        let all = st.snapshots_of(head);
        let pos = all.iter().position(|&x| x == sid).unwrap_or(all.len());
        all.get(pos + 1..)
            .unwrap_or_default()
            .iter()
            .filter_map(|l| st.ds(*l).ok())
            .flat_map(|l| l.clones.iter().map(|c| st.ds_name(*c)))
            .collect()
    });
    if req.recursive && !clones.is_empty() && !req.dependents {
        return Err(WireError::new(
            ErrorKind::Busy,
            format!(
                "{context}: clones of previous snapshots exist\nuse '-R' to force deletion of the following clones and dependents:\n{}",
                clones.join("\n")
            ),
            libc::EEXIST,
        ));
    }
    // Nothing is destroyed unless the rollback itself can go ahead.
    let later = imp.dsl.with_state(|st| {
        st.lookup(snap)
            .and_then(|sid| st.ds(sid).map(|s| s.phys.dir))
            .and_then(|dir| st.dir(dir).map(|x| x.phys.head))
            .map(|head| {
                let all = st.snapshots_of(head);
                let pos = all
                    .iter()
                    .position(|x| st.ds_name(*x) == snap)
                    .unwrap_or(all.len());
                all.len().saturating_sub(pos + 1)
            })
            .unwrap_or(0)
    });
    if later > 0 && !req.recursive {
        // Refused by the dataset layer ("more recent snapshots exist"):
        // nothing to unmount.
        return imp
            .dsl
            .rollback(snap, false)
            .map(|_| Changed::default())
            .map_err(|e| dmu_error(&context, &e));
    }
    // The filesystem is replaced under its mount: unmounted first (with
    // what is mounted below it, and the clones -R destroys), mounted again
    // after; a busy one stops the rollback before anything changed.
    let mut touched = ChangeList::gather(d, &imp, fs_of(snap), None);
    let mut doomed = Vec::new();
    if req.dependents {
        for c in &clones {
            doomed.extend(imp.dsl.with_state(|st| {
                let mut names = Vec::new();
                if let Ok(dir) = st.lookup(c).and_then(|id| st.ds(id).map(|x| x.phys.dir)) {
                    for d in subtree(st, dir) {
                        names.push(st.dir_name(d));
                    }
                }
                names
            }));
        }
    }
    let mut gone = ChangeList::of(d, &imp, &doomed);
    gone.prefix(d, &imp, req.force)?;
    if let Err(e) = touched.prefix(d, &imp, req.force) {
        gone.restore(d, &imp);
        return Err(e);
    }
    let undo = |touched: &mut ChangeList, gone: &mut ChangeList| {
        gone.restore(d, &imp);
        touched.restore(d, &imp);
    };
    if req.dependents {
        for c in &clones {
            if let Err(e) = imp.dsl.destroy(c, true, true, false, false) {
                undo(&mut touched, &mut gone);
                return Err(dmu_error(&format!("cannot destroy '{c}'"), &e));
            }
        }
        gone.remove_old_dirs();
    }
    if let Err(e) = imp.dsl.rollback(snap, req.recursive) {
        undo(&mut touched, &mut gone);
        return Err(dmu_error(&context, &e));
    }
    record(&imp, &req.command);
    Ok(Changed {
        warnings: touched.postfix(d, &imp, false),
    })
}

/// The snapshots a hold, release or holds request names, by pool: with
/// `recursive`, the same snapshot of every descendant too.
fn expand(
    d: &Daemon,
    snapshots: &[String],
    recursive: bool,
    verb: &str,
) -> Result<Vec<(Imported, Vec<String>)>, WireError> {
    let mut by_pool: BTreeMap<String, (Imported, Vec<String>)> = BTreeMap::new();
    for n in snapshots {
        if !n.contains('@') {
            return Err(invalid(format!("'{n}' is not a snapshot")));
        }
        let context = format!("{verb} '{n}'");
        check_name(&context, n, Want::Snapshot)?;
        let imp = pool_for(d, &context, n)?;
        let snap = n.split_once('@').map(|x| x.1).unwrap_or_default();
        let found: Option<Vec<String>> = imp.dsl.with_state(|st| {
            if !recursive {
                return st.lookup(n).ok().map(|_| vec![n.clone()]);
            }
            let dir = st
                .lookup(fs_of(n))
                .and_then(|id| st.ds(id).map(|x| x.phys.dir))
                .ok()?;
            let names: Vec<String> = subtree(st, dir)
                .into_iter()
                .filter(|d| {
                    st.dir(*d)
                        .and_then(|x| st.ds(x.phys.head))
                        .is_ok_and(|h| h.snaps.contains_key(snap))
                })
                .map(|d| format!("{}@{snap}", st.dir_name(d)))
                .collect();
            Some(names)
        });
        let names = match found {
            Some(v) if !v.is_empty() || recursive => v,
            _ => {
                return Err(WireError::new(
                    ErrorKind::NotFound,
                    format!("{context}: dataset does not exist"),
                    libc::ENOENT,
                ))
            }
        };
        let entry = by_pool
            .entry(imp.name().to_string())
            .or_insert_with(|| (imp.clone(), Vec::new()));
        for x in names {
            if !entry.1.contains(&x) {
                entry.1.push(x);
            }
        }
    }
    Ok(by_pool.into_values().collect())
}

/// `zfs hold`.
pub fn hold(d: &Daemon, req: &HoldRequest) -> Result<Done, WireError> {
    let groups = expand(d, &req.snapshots, req.recursive, "cannot hold snapshot")?;
    if req.tag.is_empty() || req.tag.len() > 255 {
        return Err(invalid("cannot hold: tag too long"));
    }
    for (imp, names) in &groups {
        if names.is_empty() {
            continue;
        }
        imp.dsl
            .hold(&req.tag, names)
            .map_err(|e| dmu_error("cannot hold", &e))?;
        record(imp, &req.command);
    }
    Ok(Done {})
}

/// `zfs release`.
pub fn release(d: &Daemon, req: &HoldRequest) -> Result<Done, WireError> {
    let groups = expand(
        d,
        &req.snapshots,
        req.recursive,
        "cannot release hold from snapshot",
    )?;
    for (imp, names) in &groups {
        if names.is_empty() {
            continue;
        }
        imp.dsl
            .release(&req.tag, names)
            .map_err(|e| dmu_error("cannot release", &e))?;
        record(imp, &req.command);
    }
    Ok(Done {})
}

/// `zfs holds`.
pub fn holds(d: &Daemon, req: &HoldsRequest) -> Result<HoldsResult, WireError> {
    let mut out = HoldsResult::default();
    for n in &req.snapshots {
        let groups = match expand(d, std::slice::from_ref(n), req.recursive, "cannot open") {
            Ok(g) => g,
            Err(e) => {
                out.errors.push(e);
                continue;
            }
        };
        for (imp, names) in groups {
            imp.dsl.with_state(|st| {
                for name in names {
                    if let Ok(ds) = st.lookup(&name).and_then(|id| st.ds(id)) {
                        out.snapshots.push(SnapshotHolds {
                            name,
                            holds: ds
                                .holds
                                .iter()
                                .map(|(tag, time)| Hold {
                                    tag: tag.clone(),
                                    time: *time,
                                })
                                .collect(),
                        });
                    }
                }
            });
        }
    }
    Ok(out)
}
