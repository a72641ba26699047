//! Mounting as OpenZFS does it: which filesystems mount when, in which
//! order, and what happens around changes that move or replace a mounted
//! filesystem. The mechanism is [`crate::daemon::Mounter`].
//!
//! - A filesystem mounts automatically (pool create and import, daemon
//!   start, `zfs create`, `zfs clone`, `zfs mount -a`) when `canmount=on`
//!   and its `mountpoint` is a path; `zfs mount NAME` also takes
//!   `canmount=noauto`. Parents mount before children (by mountpoint).
//! - A change list ([`ChangeList`], OpenZFS's changelist) is what a
//!   rename, rollback, destroy, unmount or property change touches: the
//!   filesystem and those below it that follow it. Its mounted members
//!   are unmounted children first; if one is busy, the ones already
//!   unmounted are mounted again and nothing changes. After the change,
//!   the members that were mounted are mounted again (and, for a new
//!   mountpoint, those with `canmount=on`), parents first.
//! - Mount failures after a change that succeeded are warnings, as in
//!   OpenZFS ("filesystem successfully created, but not mounted").

use std::path::{Path, PathBuf};

use basin_dmu::dsl::info::{type_name, PropSource};

use super::errors::{invalid, no_such_dataset};
use super::names::{pool_of, Want};
use super::{check_name, pool_for, type_of, wrong_type};
use crate::daemon::log::log;
use crate::daemon::mounts::MountError;
use crate::daemon::{Daemon, Imported};
use crate::protocol::zfs::{MountEntry, MountRequest, MountResult, UnmountRequest, UnmountResult};
use crate::protocol::{ErrorKind, WireError};

/// The mount properties of one filesystem.
#[derive(Clone, Debug)]
struct MountProps {
    /// `mountpoint`: a path, `none` or `legacy`.
    mountpoint: String,
    /// Where `mountpoint` comes from.
    source: PropSource,
    /// `canmount`: `on`, `off` or `noauto`.
    canmount: String,
}

impl MountProps {
    fn is_path(&self) -> bool {
        self.mountpoint.starts_with('/')
    }

    /// `zfs mount -a` and the automatic mounts take it.
    fn automatic(&self) -> bool {
        self.is_path() && self.canmount == "on"
    }

    /// `zfs mount NAME` and a remount take it.
    fn explicit(&self) -> bool {
        self.is_path() && self.canmount != "off"
    }
}

/// The mount properties of filesystem `name`; none when it is missing or
/// is not a filesystem.
fn props_of(imp: &Imported, name: &str) -> Option<MountProps> {
    imp.dsl.with_state(|st| {
        let id = st.lookup(name).ok()?;
        if type_name(st, id) != "filesystem" {
            return None;
        }
        let mp = imp.dsl.prop_of(st, id, "mountpoint").ok()?;
        let cm = imp.dsl.prop_of(st, id, "canmount").ok()?;
        Some(MountProps {
            mountpoint: mp.value,
            source: mp.source,
            canmount: cm.exact,
        })
    })
}

/// Filesystem `top` (the pool's root when none) and the filesystems below
/// it, parents before children. With `follows`, only those that inherit
/// that property from `top` (a child that sets it locally is left out
/// with everything below it), as OpenZFS's change lists gather.
fn subtree(imp: &Imported, top: Option<&str>, follows: Option<&str>) -> Vec<String> {
    imp.dsl.with_state(|st| {
        let start = match top {
            None => st.root_dir,
            Some(n) => match st.lookup(n).and_then(|id| st.ds(id).map(|d| d.phys.dir)) {
                Ok(d) => d,
                Err(_) => return Vec::new(),
            },
        };
        let mut out = Vec::new();
        let mut queue = vec![start];
        let mut i = 0;
        while i < queue.len() {
            let dir = queue[i];
            i += 1;
            let Ok(d) = st.dir(dir) else { continue };
            if type_name(st, d.phys.head) != "filesystem" {
                continue;
            }
            if dir != start {
                if let Some(p) = follows {
                    if d.props.contains_key(p) {
                        continue;
                    }
                }
            }
            out.push(st.dir_name(dir));
            queue.extend(d.children.values().copied());
        }
        out
    })
}

/// Sort keys that put parents before children: the mountpoint (where it
/// is mounted, else where it would be), then the name.
fn order_keys(d: &Daemon, imp: &Imported, names: &[String]) -> Vec<((String, String), String)> {
    let mounted: std::collections::HashMap<String, String> = d
        .mounts
        .list()
        .into_iter()
        .map(|m| (m.dataset, m.path.display().to_string()))
        .collect();
    names
        .iter()
        .map(|n| {
            let at = mounted
                .get(n)
                .cloned()
                .or_else(|| {
                    props_of(imp, n)
                        .filter(MountProps::is_path)
                        .map(|p| d.mounts.resolve(&p.mountpoint).display().to_string())
                })
                .unwrap_or_default();
            ((at, n.clone()), n.clone())
        })
        .collect()
}

/// A busy or failed unmount as the wire carries it.
fn unmount_error(e: MountError) -> WireError {
    match e {
        MountError::Busy(_) => WireError::new(ErrorKind::Busy, e.to_string(), libc::EBUSY),
        other => WireError::new(ErrorKind::Io, other.to_string(), libc::EIO),
    }
}

/// Mounts filesystem `name` if it mounts automatically and is not
/// mounted; nothing when this daemon cannot mount.
pub fn auto_mount(d: &Daemon, imp: &Imported, name: &str) -> Result<(), MountError> {
    if !d.mounts.automount() || d.mounts.unavailable().is_some() || d.mounts.is_mounted(name) {
        return Ok(());
    }
    match props_of(imp, name) {
        Some(p) if p.automatic() => d.mounts.mount(imp, name),
        _ => Ok(()),
    }
}

/// Mounts what `zfs create` or `zfs clone` made (`names`, parents first):
/// the warnings to show for those that did not mount.
pub fn mount_created(d: &Daemon, imp: &Imported, names: &[String]) -> Vec<String> {
    let mut warnings = Vec::new();
    for n in names {
        if let Err(e) = auto_mount(d, imp, n) {
            log(format!("{e}"));
            warnings.push(format!(
                "{e}\nfilesystem successfully created, but not mounted"
            ));
        }
    }
    warnings
}

/// Mounts every filesystem of the pool that mounts automatically, parents
/// first (pool create and import, daemon start, `zfs mount -a`). Returns
/// the failures; each is logged.
pub fn mount_pool(d: &Daemon, imp: &Imported) -> Vec<WireError> {
    if d.mounts.unavailable().is_some() {
        return Vec::new();
    }
    let names: Vec<String> = subtree(imp, None, None)
        .into_iter()
        .filter(|n| !d.mounts.is_mounted(n))
        .filter(|n| props_of(imp, n).is_some_and(|p| p.automatic()))
        .collect();
    let mut todo = order_keys(d, imp, &names);
    todo.sort();
    let mut errors = Vec::new();
    for (_, n) in todo {
        if let Err(e) = d.mounts.mount(imp, &n) {
            log(format!("{e}"));
            errors.push(WireError::new(ErrorKind::Io, e.to_string(), libc::EIO));
        }
    }
    errors
}

/// One filesystem a change touches.
#[derive(Clone, Debug)]
struct Node {
    name: String,
    /// Mounted when gathered.
    mounted: bool,
    /// Unmounted by [`ChangeList::prefix`]: to mount again.
    unmounted: bool,
    /// Its mountpoint directory when gathered, to remove once it moved
    /// (only when it was not set locally, as OpenZFS).
    old_dir: Option<PathBuf>,
}

/// The filesystems a change touches (OpenZFS's changelist).
#[derive(Debug, Default)]
pub struct ChangeList {
    /// Parents before children.
    nodes: Vec<Node>,
}

impl ChangeList {
    /// `name` and the filesystems below it that follow `follows` (all of
    /// them when none).
    pub fn gather(d: &Daemon, imp: &Imported, name: &str, follows: Option<&str>) -> ChangeList {
        ChangeList::of(d, imp, &subtree(imp, Some(name), follows))
    }

    /// Exactly the filesystems `names` (others are ignored).
    pub fn of(d: &Daemon, imp: &Imported, names: &[String]) -> ChangeList {
        let mut keyed: Vec<((String, String), Node)> = order_keys(d, imp, names)
            .into_iter()
            .filter_map(|(key, n)| {
                let p = props_of(imp, &n)?;
                let old_dir = (p.is_path() && p.source != PropSource::Local)
                    .then(|| d.mounts.resolve(&p.mountpoint));
                Some((
                    key,
                    Node {
                        mounted: d.mounts.is_mounted(&n),
                        name: n,
                        unmounted: false,
                        old_dir,
                    },
                ))
            })
            .collect();
        keyed.sort_by(|a, b| a.0.cmp(&b.0));
        keyed.dedup_by(|a, b| a.1.name == b.1.name);
        ChangeList {
            nodes: keyed.into_iter().map(|(_, n)| n).collect(),
        }
    }

    /// True when none of its filesystems is mounted.
    pub fn none_mounted(&self) -> bool {
        self.nodes.iter().all(|n| !n.mounted)
    }

    /// Unmounts its mounted filesystems, children first. If one cannot
    /// be unmounted, mounts again those already unmounted and fails with
    /// that one's error: nothing changed.
    pub fn prefix(&mut self, d: &Daemon, imp: &Imported, force: bool) -> Result<(), WireError> {
        for i in (0..self.nodes.len()).rev() {
            if !self.nodes[i].mounted {
                continue;
            }
            match d.mounts.unmount(&self.nodes[i].name, force) {
                Ok(_) => self.nodes[i].unmounted = true,
                Err(e) => {
                    self.restore(d, imp);
                    return Err(unmount_error(e));
                }
            }
        }
        Ok(())
    }

    /// Mounts again what [`ChangeList::prefix`] unmounted (the change did
    /// not happen).
    pub fn restore(&mut self, d: &Daemon, imp: &Imported) {
        for n in self.nodes.iter_mut().filter(|n| n.unmounted) {
            if let Err(e) = d.mounts.mount(imp, &n.name) {
                log(format!("cannot mount '{}' again: {e}", n.name));
            }
            n.unmounted = false;
        }
    }

    /// Removes the directories the unmounted filesystems were mounted on
    /// (empty ones only), children first: they moved or are gone.
    pub fn remove_old_dirs(&self) {
        for n in self.nodes.iter().rev().filter(|n| n.unmounted) {
            if let Some(dir) = &n.old_dir {
                let _ = std::fs::remove_dir(dir);
            }
        }
    }

    /// After a rename of `old` to `new`: the names of the members.
    pub fn renamed(&mut self, old: &str, new: &str) {
        for n in &mut self.nodes {
            if n.name == old {
                n.name = new.to_string();
            } else if let Some(rest) = n.name.strip_prefix(&format!("{old}/")) {
                n.name = format!("{new}/{rest}");
            }
        }
    }

    /// After the change: mounts again, parents first, the members that
    /// were mounted (and still exist and may mount), and with `new_mount`
    /// (a new mountpoint) also those with `canmount=on`. Returns the
    /// failures as warnings.
    pub fn postfix(&self, d: &Daemon, imp: &Imported, new_mount: bool) -> Vec<String> {
        let was: std::collections::HashMap<&str, bool> = self
            .nodes
            .iter()
            .map(|n| (n.name.as_str(), n.mounted))
            .collect();
        let names: Vec<String> = self.nodes.iter().map(|n| n.name.clone()).collect();
        // The mountpoints may have moved: order by where they are now.
        let mut order = order_keys(d, imp, &names);
        order.sort();
        let mut warnings = Vec::new();
        for (_, n) in order {
            if d.mounts.is_mounted(&n) {
                continue;
            }
            let Some(p) = props_of(imp, &n) else {
                continue;
            };
            let mounted = was.get(n.as_str()).copied().unwrap_or(false);
            let want =
                (mounted && p.explicit()) || (new_mount && d.mounts.automount() && p.automatic());
            if want && d.mounts.unavailable().is_none() {
                if let Err(e) = d.mounts.mount(imp, &n) {
                    log(format!("{e}"));
                    warnings.push(e.to_string());
                }
            }
        }
        warnings
    }
}

/// `zfs mount`, `zfs mount -a`, `zfs mount NAME`.
pub fn mount(d: &Daemon, req: &MountRequest) -> Result<MountResult, WireError> {
    let mut errors = Vec::new();
    match (&req.name, req.all) {
        (Some(_), true) => return Err(invalid("too many arguments")),
        (None, false) => {}
        (None, true) => {
            if let Some(why) = d.mounts.unavailable() {
                return Err(WireError::new(
                    ErrorKind::Unsupported,
                    format!("cannot mount filesystems: {why}"),
                    libc::ENOTSUP,
                ));
            }
            for imp in d.registry.all() {
                errors.extend(mount_pool(d, &imp));
            }
        }
        (Some(name), false) => mount_one(d, name)?,
    }
    Ok(MountResult {
        mounted: listing(d),
        errors,
    })
}

fn listing(d: &Daemon) -> Vec<MountEntry> {
    d.mounts
        .list()
        .into_iter()
        .map(|m| MountEntry {
            name: m.dataset,
            mountpoint: m.path.display().to_string(),
        })
        .collect()
}

/// `zfs mount NAME`, with OpenZFS's checks and words.
fn mount_one(d: &Daemon, name: &str) -> Result<(), WireError> {
    let open = format!("cannot open '{name}'");
    check_name(&open, name, Want::Any)?;
    let imp = pool_for(d, &open, name)?;
    match type_of(&imp, name) {
        None => return Err(no_such_dataset(name)),
        Some("filesystem") => {}
        Some(_) => return Err(wrong_type(name)),
    }
    let p = props_of(&imp, name).ok_or_else(|| no_such_dataset(name))?;
    let context = format!("cannot mount '{name}'");
    if p.mountpoint == "legacy" {
        return Err(invalid(format!(
            "{context}: legacy mountpoint\nuse mount(8) to mount this filesystem"
        )));
    }
    if p.mountpoint == "none" {
        return Err(invalid(format!("{context}: no mountpoint set")));
    }
    if p.canmount == "off" {
        return Err(invalid(format!(
            "{context}: 'canmount' property is set to 'off'"
        )));
    }
    if d.mounts.is_mounted(name) {
        return Err(WireError::new(
            ErrorKind::Busy,
            format!("{context}: filesystem already mounted"),
            libc::EBUSY,
        ));
    }
    if let Some(why) = d.mounts.unavailable() {
        return Err(WireError::new(
            ErrorKind::Unsupported,
            format!("{context}: {why}"),
            libc::ENOTSUP,
        ));
    }
    d.mounts
        .mount(&imp, name)
        .map_err(|e| WireError::new(ErrorKind::Io, e.to_string(), libc::EIO))
}

/// `zfs unmount -a`, `zfs unmount NAME`, `zfs unmount MOUNTPOINT`.
pub fn unmount(d: &Daemon, req: &UnmountRequest) -> Result<UnmountResult, WireError> {
    match (&req.target, req.all) {
        (Some(_), true) => Err(invalid("too many arguments")),
        (None, false) => Err(invalid("missing filesystem argument")),
        (None, true) => Ok(UnmountResult {
            errors: unmount_all(d, req.force),
        }),
        (Some(t), false) => {
            let name = if t.starts_with('/') {
                dataset_at(d, t)?
            } else {
                t.clone()
            };
            unmount_one(d, &name, req.force)?;
            Ok(UnmountResult::default())
        }
    }
}

/// Every mounted filesystem but those with `canmount=noauto` (as OpenZFS's
/// `zfs unmount -a`), deepest mountpoints first.
fn unmount_all(d: &Daemon, force: bool) -> Vec<WireError> {
    let mut all = d.mounts.list();
    all.sort_by(|a, b| b.path.cmp(&a.path));
    let mut errors = Vec::new();
    for m in all {
        let noauto = d
            .registry
            .imported(pool_of(&m.dataset))
            .ok()
            .and_then(|imp| props_of(&imp, &m.dataset))
            .is_some_and(|p| p.canmount == "noauto");
        if noauto {
            continue;
        }
        if let Err(e) = d.mounts.unmount(&m.dataset, force) {
            errors.push(unmount_error(e));
        }
    }
    errors
}

/// The filesystem mounted at `path` (as `zfs unmount /path` finds it).
fn dataset_at(d: &Daemon, path: &str) -> Result<String, WireError> {
    let given = Path::new(path);
    let real = std::fs::canonicalize(given).unwrap_or_else(|_| given.to_path_buf());
    let mounts = d.mounts.list();
    if let Some(m) = mounts.iter().find(|m| m.path == given || m.path == real) {
        return Ok(m.dataset.clone());
    }
    let context = format!("cannot unmount '{path}'");
    if mounts.iter().any(|m| real.starts_with(&m.path)) {
        return Err(invalid(format!("{context}: not a mountpoint")));
    }
    let other = basin_zonefs::mount::mounts()
        .into_iter()
        .any(|(_, mp, _)| Path::new(&mp) == real);
    if other {
        return Err(invalid(format!("{context}: not a ZFS filesystem")));
    }
    Err(WireError::new(
        ErrorKind::NotFound,
        format!("{context}: not currently mounted"),
        libc::ENOENT,
    ))
}

/// `zfs unmount NAME`: it and the filesystems mounted below it, children
/// first; a busy one stops it and leaves everything mounted.
fn unmount_one(d: &Daemon, name: &str, force: bool) -> Result<(), WireError> {
    let open = format!("cannot open '{name}'");
    check_name(&open, name, Want::Any)?;
    let imp = pool_for(d, &open, name)?;
    match type_of(&imp, name) {
        None => return Err(no_such_dataset(name)),
        Some("filesystem") => {}
        Some(_) => return Err(wrong_type(name)),
    }
    let context = format!("cannot unmount '{name}'");
    let p = props_of(&imp, name).ok_or_else(|| no_such_dataset(name))?;
    if p.mountpoint == "legacy" {
        return Err(invalid(format!(
            "{context}: legacy mountpoint\nuse umount(8) to unmount this filesystem"
        )));
    }
    if !d.mounts.is_mounted(name) {
        return Err(WireError::new(
            ErrorKind::NotFound,
            format!("{context}: not currently mounted"),
            libc::ENOENT,
        ));
    }
    let mut cl = ChangeList::gather(d, &imp, name, None);
    cl.prefix(d, &imp, force)
}

/// For the daemon's start and `zpool create`/`import`: mounts the pool's
/// filesystems (unless `--no-automount`), logging what failed.
pub fn mount_pool_logged(d: &Daemon, pool: &str) {
    if !d.mounts.automount() {
        return;
    }
    if let Ok(imp) = d.registry.imported(pool) {
        let failed = mount_pool(d, &imp);
        if !failed.is_empty() {
            log(format!(
                "pool '{pool}': {} filesystem(s) could not be mounted",
                failed.len()
            ));
        }
    }
}
