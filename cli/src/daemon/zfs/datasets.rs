//! Creating, destroying, renaming, cloning and promoting datasets.

use basin_dmu::dsl::props::parse_size;
use basin_dmu::dsl::DslState;

use super::errors::{dmu_error, exists, invalid, no_such_dataset};
use super::mount::{mount_created, ChangeList};
use super::names::{fs_of, parent_of, pool_of, Want};
use super::validate::{check_all, new_type};
use super::{check_name, pool_for, record, type_of, wrong_type};
use crate::daemon::{Daemon, Imported};
use crate::dsprops::{FS, VOL};
use crate::protocol::zfs::{
    Changed, CloneRequest, CreateRequest, DestroyRequest, DestroyResult, PromoteRequest,
    RenameRequest,
};
use crate::protocol::zpool::Done;
use crate::protocol::{ErrorKind, WireError};

/// Default volume block size.
const DEFAULT_VOLBLOCKSIZE: u64 = 16 << 10;
/// Block pointers per indirect block, and the indirect block size.
const PTRS_PER_INDIRECT: u64 = basin_dmu::dnode::PTRS_PER_INDIRECT;
const INDIRECT_BYTES: u64 = 1 << basin_dmu::dnode::INDIRECT_SHIFT;

/// The reservation a volume of `volsize` needs to be always writable: its
/// data times `copies` and its indirect blocks (OpenZFS's estimate).
pub fn volume_reservation(volsize: u64, volblocksize: u64, copies: u64) -> u64 {
    let mut blocks = volsize / volblocksize.max(1);
    let mut indirects: u64 = 7;
    while blocks > 1 {
        blocks = blocks.div_ceil(PTRS_PER_INDIRECT);
        indirects += blocks;
    }
    indirects *= (copies + 1).min(3);
    volsize
        .saturating_mul(copies)
        .saturating_add(indirects.saturating_mul(INDIRECT_BYTES))
}

/// Checks that the parent of `name` exists and is a filesystem.
fn check_parent(st: &DslState, context: &str, name: &str) -> Result<(), WireError> {
    let Some(parent) = parent_of(name) else {
        return Ok(());
    };
    match st.lookup(parent) {
        Err(_) => Err(WireError::new(
            ErrorKind::NotFound,
            format!("{context}: parent does not exist"),
            libc::ENOENT,
        )),
        Ok(id) if basin_dmu::dsl::info::type_name(st, id) != "filesystem" => {
            Err(invalid(format!("{context}: parent is not a filesystem")))
        }
        Ok(_) => Ok(()),
    }
}

/// Space available under the parent of `name` (or in the pool).
fn available_for(imp: &Imported, name: &str) -> u64 {
    let at = parent_of(name).unwrap_or(pool_of(name));
    imp.dsl
        .get_prop(at, "available")
        .ok()
        .and_then(|v| v.exact.parse().ok())
        .unwrap_or(u64::MAX)
}

/// The imported pool for a new dataset: "no such pool" when it is
/// missing, as OpenZFS says for a create.
fn pool_for_new(d: &Daemon, context: &str, name: &str) -> Result<Imported, WireError> {
    let pool = pool_of(name);
    d.registry.imported(pool).map_err(|e| match e {
        crate::daemon::registry::RegistryError::NoSuchPool => WireError::new(
            ErrorKind::NoSuchPool,
            format!("{context}: no such pool '{pool}'"),
            libc::ENOENT,
        ),
        other => super::errors::pool_refused(context, name, pool, &other),
    })
}

/// The ancestors of `name` that do not exist yet, parents first (what
/// `-p` creates, and then mounts).
fn missing_ancestors(imp: &Imported, name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = parent_of(name);
    while let Some(p) = cur {
        if type_of(imp, p).is_some() {
            break;
        }
        out.push(p.to_string());
        cur = parent_of(p);
    }
    out.reverse();
    out
}

/// `zfs create`.
pub fn create(d: &Daemon, req: &CreateRequest) -> Result<Changed, WireError> {
    let context = format!("cannot create '{}'", req.name);
    check_name(&context, &req.name, Want::Dataset)?;
    let imp = pool_for_new(d, &context, &req.name)?;
    let volume = req.volsize.is_some();
    let mut settings = req.props.clone();
    if let Some(b) = &req.volblocksize {
        settings.retain(|s| s.property != "volblocksize");
        settings.push(crate::protocol::zpool::PropSetting {
            property: "volblocksize".into(),
            value: b.clone(),
        });
    }
    let mut props = check_all(&settings, new_type(volume), true)
        .map_err(|why| invalid(format!("{context}: {why}")))?;
    let volsize = match &req.volsize {
        None => None,
        Some(s) => {
            let size = parse_size(s)
                .filter(|n| *n > 0)
                .ok_or_else(|| invalid(format!("{context}: bad volume size '{s}'")))?;
            let vbs = props
                .iter()
                .find(|(k, _)| k == "volblocksize")
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(DEFAULT_VOLBLOCKSIZE);
            if !size.is_multiple_of(vbs) {
                return Err(invalid(format!(
                    "{context}: volume size must be a multiple of volume block size"
                )));
            }
            if !req.sparse && !props.iter().any(|(k, _)| k == "refreservation") {
                let copies = props
                    .iter()
                    .find(|(k, _)| k == "copies")
                    .and_then(|(_, v)| v.parse().ok())
                    .unwrap_or(1);
                let need = volume_reservation(size, vbs, copies);
                if need > available_for(&imp, &req.name) {
                    return Err(WireError::new(
                        ErrorKind::NoSpace,
                        format!("{context}: out of space"),
                        libc::ENOSPC,
                    ));
                }
                props.push(("refreservation".into(), need.to_string()));
            }
            Some(size)
        }
    };
    imp.dsl.with_state(|st| {
        if st.lookup(&req.name).is_ok() {
            return Err(exists(&context));
        }
        if !req.parents {
            check_parent(st, &context, &req.name)?;
        }
        Ok(())
    })?;
    let mut created = missing_ancestors(&imp, &req.name);
    imp.dsl
        .create(&req.name, volsize, &props, req.parents)
        .map_err(|e| dmu_error(&context, &e))?;
    record(&imp, &req.command);
    // Parents made by -p mount even with -u, as in OpenZFS.
    if !volume && !req.no_mount {
        created.push(req.name.clone());
    }
    Ok(Changed {
        warnings: mount_created(d, &imp, &created),
    })
}

/// The names `zfs destroy NAME@SNAP` would take (with `-r`, the snapshot
/// of every descendant).
fn snapshots_named(st: &DslState, name: &str, recursive: bool) -> Vec<u64> {
    let Some((fs, snap)) = name.split_once('@') else {
        return Vec::new();
    };
    let Ok(top) = st.lookup(fs).and_then(|id| st.ds(id).map(|d| d.phys.dir)) else {
        return Vec::new();
    };
    let mut dirs = vec![top];
    let mut i = 0;
    while recursive && i < dirs.len() {
        if let Ok(d) = st.dir(dirs[i]) {
            dirs.extend(d.children.values().copied());
        }
        i += 1;
    }
    dirs.iter()
        .filter_map(|d| st.dir(*d).ok())
        .filter_map(|d| st.ds(d.phys.head).ok())
        .filter_map(|h| h.snaps.get(snap).copied())
        .collect()
}

/// Bytes the snapshots called `names` hold alone.
fn unique_bytes(imp: &Imported, names: &[String]) -> u64 {
    imp.dsl.with_state(|st| {
        names
            .iter()
            .filter(|n| n.contains('@'))
            .filter_map(|n| st.lookup(n).ok())
            .filter_map(|id| st.ds(id).ok())
            .map(|d| d.phys.unique)
            .sum()
    })
}

/// `zfs destroy`.
pub fn destroy(d: &Daemon, req: &DestroyRequest) -> Result<DestroyResult, WireError> {
    let context = format!("cannot destroy '{}'", req.name);
    let imp = pool_for(d, &context, &req.name)?;
    let fs = fs_of(&req.name);
    check_name(&format!("cannot open '{}'", req.name), &req.name, Want::Any)?;
    let is_snap = req.name.contains('@');
    let ty = type_of(&imp, fs).ok_or_else(|| no_such_dataset(fs))?;
    if is_snap {
        let found = imp
            .dsl
            .with_state(|st| snapshots_named(st, &req.name, req.recursive));
        if found.is_empty() {
            return Err(invalid(
                "could not find any snapshots to destroy; check snapshot names.",
            ));
        }
    } else if req.defer {
        return Err(wrong_type(&req.name));
    }
    let dsl = &imp.dsl;
    let run = |name: &str, dry: bool| {
        dsl.destroy(name, req.recursive, req.dependents, req.defer, dry)
            .map_err(|e| {
                let mut w = dmu_error(&context, &e);
                if ty == "volume" {
                    w.message = w
                        .message
                        .replace("filesystem has children", "volume has children");
                }
                w
            })
    };
    // The pool's root dataset stays; with -r everything in it goes.
    let is_root = !is_snap && !fs.contains('/');
    let targets: Vec<String> = if is_root && req.recursive {
        imp.dsl.with_state(|st| {
            let root = st.dir(st.root_dir).ok();
            let mut t: Vec<String> = root
                .map(|r| r.children.values().map(|c| st.dir_name(*c)).collect())
                .unwrap_or_default();
            if let Some(r) = root {
                t.extend(st.snapshots_of(r.phys.head).iter().map(|s| st.ds_name(*s)));
            }
            t
        })
    } else {
        vec![req.name.clone()]
    };
    let plan = || -> Result<Vec<String>, WireError> {
        let mut planned = Vec::new();
        for t in &targets {
            planned.extend(run(t, true)?);
        }
        Ok(planned)
    };
    // A mounted filesystem holds its dataset open, and the dataset layer
    // refuses to destroy a dataset in use ("dataset is busy"): unmount
    // what the destroy would take (a busy one stops it here), and plan
    // again; a refusal then mounts everything again.
    let mut unmounted = ChangeList::default();
    let planned = match plan() {
        Ok(p) => p,
        Err(e) if e.message.ends_with(": dataset is busy") => {
            unmounted = ChangeList::of(d, &imp, &destroy_scope(&imp, &targets, req.dependents));
            if unmounted.none_mounted() {
                return Err(e);
            }
            unmounted.prefix(d, &imp, req.force)?;
            match plan() {
                Ok(p) => p,
                Err(e) => {
                    unmounted.restore(d, &imp);
                    return Err(e);
                }
            }
        }
        Err(e) => return Err(e),
    };
    let reclaim = is_snap.then(|| unique_bytes(&imp, &planned));
    if req.dry_run {
        unmounted.restore(d, &imp);
        return Ok(DestroyResult {
            destroyed: planned,
            reclaim,
        });
    }
    // Every filesystem that goes is unmounted first (a busy one stops the
    // destroy before anything is gone); the snapshots that go are closed
    // under the .zfs directories that opened them.
    let filesystems: Vec<String> = planned
        .iter()
        .filter(|n| !n.contains('@'))
        .cloned()
        .collect();
    let mut mounted = ChangeList::of(d, &imp, &filesystems);
    if let Err(e) = mounted.prefix(d, &imp, req.force) {
        unmounted.restore(d, &imp);
        return Err(e);
    }
    for n in planned.iter().filter(|n| n.contains('@')) {
        d.mounts.release_snapshots(fs_of(n));
    }
    let mut destroyed = Vec::new();
    for t in &targets {
        match run(t, false) {
            Ok(gone) => destroyed.extend(gone),
            Err(e) => {
                mounted.restore(d, &imp);
                unmounted.restore(d, &imp);
                return Err(e);
            }
        }
    }
    mounted.remove_old_dirs();
    unmounted.remove_old_dirs();
    record(&imp, &req.command);
    Ok(DestroyResult { destroyed, reclaim })
}

/// The filesystems a destroy of `targets` may take: each with everything
/// below it, and with `dependents` (-R) the clones of their snapshots
/// (of a snapshot target, its clones) with everything below them.
fn destroy_scope(imp: &Imported, targets: &[String], dependents: bool) -> Vec<String> {
    imp.dsl.with_state(|st| {
        let clones_of = |snap: u64| -> Vec<u64> {
            st.ds(snap)
                .map(|s| {
                    s.clones
                        .iter()
                        .filter_map(|c| st.ds(*c).ok().map(|c| c.phys.dir))
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut dirs: Vec<u64> = Vec::new();
        for t in targets {
            let Ok(id) = st.lookup(t) else { continue };
            if t.contains('@') {
                if dependents {
                    dirs.extend(clones_of(id));
                }
            } else if let Ok(ds) = st.ds(id) {
                dirs.push(ds.phys.dir);
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        let mut i = 0;
        while i < dirs.len() {
            let dir = dirs[i];
            i += 1;
            if !seen.insert(dir) {
                continue;
            }
            let Ok(dm) = st.dir(dir) else { continue };
            dirs.extend(dm.children.values().copied());
            if dependents {
                for s in st.snapshots_of(dm.phys.head) {
                    dirs.extend(clones_of(s));
                }
            }
        }
        seen.into_iter().map(|d| st.dir_name(d)).collect()
    })
}

/// `zfs clone`.
pub fn clone(d: &Daemon, req: &CloneRequest) -> Result<Changed, WireError> {
    let open = format!("cannot open '{}'", req.snapshot);
    check_name(&open, &req.snapshot, Want::Any)?;
    let imp = pool_for(d, &open, &req.snapshot)?;
    let ty = type_of(&imp, &req.snapshot).ok_or_else(|| no_such_dataset(&req.snapshot))?;
    if ty != "snapshot" {
        return Err(wrong_type(&req.snapshot));
    }
    let context = format!("cannot create '{}'", req.name);
    check_name(&context, &req.name, Want::Dataset)?;
    if pool_of(&req.name) != pool_of(&req.snapshot) {
        return Err(invalid(format!(
            "{context}: source and target pools differ"
        )));
    }
    let kind = match type_of(&imp, fs_of(&req.snapshot)) {
        Some("volume") => VOL,
        _ => FS,
    };
    let props =
        check_all(&req.props, kind, true).map_err(|why| invalid(format!("{context}: {why}")))?;
    imp.dsl.with_state(|st| {
        if st.lookup(&req.name).is_ok() {
            return Err(exists(&context));
        }
        if !req.parents {
            check_parent(st, &context, &req.name)?;
        }
        Ok(())
    })?;
    let mut created = if req.parents {
        missing_ancestors(&imp, &req.name)
    } else {
        Vec::new()
    };
    if req.parents {
        if let Some(p) = parent_of(&req.name) {
            if type_of(&imp, p).is_none() {
                imp.dsl
                    .create(p, None, &[], true)
                    .map_err(|e| dmu_error(&context, &e))?;
            }
        }
    }
    imp.dsl
        .clone_snapshot(&req.snapshot, &req.name, &props)
        .map_err(|e| dmu_error(&context, &e))?;
    record(&imp, &req.command);
    if kind == FS {
        created.push(req.name.clone());
    }
    Ok(Changed {
        warnings: mount_created(d, &imp, &created),
    })
}

/// `zfs promote`.
pub fn promote(d: &Daemon, req: &PromoteRequest) -> Result<Done, WireError> {
    let context = format!("cannot promote '{}'", req.name);
    check_name(&format!("cannot open '{}'", req.name), &req.name, Want::Any)?;
    let imp = pool_for(d, &context, &req.name)?;
    let ty = type_of(&imp, &req.name).ok_or_else(|| no_such_dataset(&req.name))?;
    if ty == "snapshot" {
        return Err(wrong_type(&req.name));
    }
    // Snapshots move between the clone and its origin: the .zfs
    // directories of both open them again by their new names.
    for m in d.mounts.list() {
        if pool_of(&m.dataset) == pool_of(&req.name) {
            d.mounts.release_snapshots(&m.dataset);
        }
    }
    imp.dsl
        .promote(&req.name)
        .map_err(|e| dmu_error(&context, &e))?;
    record(&imp, &req.command);
    Ok(Done {})
}

/// `zfs rename`.
pub fn rename(d: &Daemon, req: &RenameRequest) -> Result<Changed, WireError> {
    let old = req.old.as_str();
    // `zfs rename tank/a@x @y` names the new snapshot by its short name.
    let new = if req.new.starts_with('@') && old.contains('@') {
        format!("{}{}", fs_of(old), req.new)
    } else {
        req.new.clone()
    };
    let open = format!("cannot open '{old}'");
    check_name(&open, old, Want::Any)?;
    let imp = pool_for(d, &open, old)?;
    let ty = type_of(&imp, old).ok_or_else(|| no_such_dataset(old))?;
    let context = format!("cannot rename to '{new}'");
    let want = if ty == "snapshot" {
        Want::Snapshot
    } else {
        Want::Dataset
    };
    check_name(&context, &new, want)?;
    if req.recursive && ty != "snapshot" {
        return Err(invalid(
            "source dataset for recursive rename must be a snapshot",
        ));
    }
    if pool_of(&new) != pool_of(old) {
        return Err(invalid(format!(
            "{context}: datasets must be within same pool"
        )));
    }
    if ty == "snapshot" && fs_of(&new) != fs_of(old) {
        return Err(invalid(format!(
            "{context}: snapshots must be part of same dataset"
        )));
    }
    if type_of(&imp, &new).is_some() {
        return Err(exists(&context));
    }
    if ty != "snapshot" && !req.parents {
        imp.dsl.with_state(|st| check_parent(st, &context, &new))?;
    }
    if ty != "snapshot" && (new == old || new.starts_with(&format!("{old}/"))) {
        return Err(invalid(format!(
            "{context}: New dataset name cannot be a descendant of current dataset name"
        )));
    }
    // The filesystem and everything below it move: unmounted first (a
    // busy one stops the rename), mounted again at their new places.
    let mut moving = ChangeList::default();
    let mut created = Vec::new();
    if ty != "snapshot" {
        moving = ChangeList::gather(d, &imp, old, None);
        moving.prefix(d, &imp, req.force)?;
        if req.parents {
            created = missing_ancestors(&imp, &new);
            if let Some(p) = parent_of(&new) {
                if type_of(&imp, p).is_none() {
                    if let Err(e) = imp.dsl.create(p, None, &[], true) {
                        moving.restore(d, &imp);
                        return Err(dmu_error(&context, &e));
                    }
                }
            }
        }
    }
    let pairs: Vec<(String, String)> = if req.recursive {
        let to = new.split_once('@').map(|x| x.1).unwrap_or_default();
        let found = imp.dsl.with_state(|st| {
            snapshots_named(st, old, true)
                .into_iter()
                .map(|id| st.ds_name(id))
                .collect::<Vec<_>>()
        });
        found
            .into_iter()
            .map(|n| {
                let target = format!("{}@{to}", fs_of(&n));
                (n, target)
            })
            .collect()
    } else {
        vec![(old.to_string(), new.clone())]
    };
    for (o, n) in &pairs {
        if o != old && type_of(&imp, n).is_some() {
            return Err(invalid(format!(
                "{context}: a child dataset already has a snapshot with the new name"
            )));
        }
    }
    for (o, _) in pairs.iter().filter(|(o, _)| o.contains('@')) {
        d.mounts.release_snapshots(fs_of(o));
    }
    for (o, n) in &pairs {
        if let Err(e) = imp.dsl.rename(o, n) {
            moving.restore(d, &imp);
            return Err(dmu_error(&context, &e));
        }
    }
    record(&imp, &req.command);
    moving.remove_old_dirs();
    moving.renamed(old, &new);
    let mut warnings = mount_created(d, &imp, &created);
    warnings.extend(moving.postfix(d, &imp, false));
    Ok(Changed { warnings })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_reservations() {
        // 16 MiB of 16 KiB blocks: 1024 blocks, one indirect block above
        // them, and the fixed few, each doubled.
        assert_eq!(
            volume_reservation(16 << 20, 16 << 10, 1),
            (16 << 20) + 16 * (128 << 10)
        );
        assert!(volume_reservation(1 << 30, 8 << 10, 2) > 2 << 30);
    }
}
