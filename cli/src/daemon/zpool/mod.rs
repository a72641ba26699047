//! The `zpool.*` ops, carried out in the daemon: every pool is opened here
//! and only here.

pub mod errors;
pub mod import;
pub mod inject;
pub mod props;
pub mod scan;
pub mod tree;
pub mod vdevs;

use std::collections::HashSet;
use std::path::Path;

use basin_pool::spec::validate_pool_name;
use basin_pool::{CreateOptions, Pool, VdevSpec};

use self::errors::{invalid, no_such_pool, pool_error, registry_error};
use crate::daemon::imported::Imported;
use crate::daemon::registry::RegistryError;
use crate::daemon::zfs::validate::check_all;
use crate::daemon::Daemon;
use crate::dsprops::FS;
use crate::protocol::arc::SetTunableRequest;
use crate::protocol::zpool::{
    CreateRequest, DestroyRequest, Done, ExportRequest, GetRequest, GetResult, HistoryEntry,
    HistoryRequest, HistoryResult, PoolHistory, PoolRef, SetRequest, StatusRequest, StatusResult,
};
use crate::protocol::{ErrorKind, WireError};

/// Words of a vdev specification that are not devices.
const VDEV_KEYWORDS: &[&str] = &[
    "mirror", "raidz", "raidz1", "raidz2", "raidz3", "draid", "draid1", "draid2", "draid3",
    "spare", "log", "cache", "special", "dedup",
];

/// A device word as the pool layer needs it: an absolute path, or a
/// shorthand name of a device in /dev.
pub(crate) fn resolve_device(word: &str) -> Result<String, WireError> {
    if word.starts_with('/') {
        return Ok(word.to_string());
    }
    let short = Path::new("/dev").join(word);
    if !word.is_empty() && short.exists() {
        return Ok(short.display().to_string());
    }
    Err(invalid(format!(
        "cannot open '{word}': must be a full path or shorthand device name"
    )))
}

/// The pool of this daemon that has `path` as a leaf, if any (compared by
/// device and inode, so another name for the same file is caught).
pub(crate) fn owner_of(d: &Daemon, path: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let id = |p: &Path| std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()));
    let wanted = id(path)?;
    d.registry.pools().into_iter().find_map(|pool| {
        pool.config_tree()
            .leaves()
            .iter()
            .filter_map(|l| l.path.as_deref())
            .any(|p| id(Path::new(p)) == Some(wanted))
            .then(|| pool.name().to_string())
    })
}

/// The command line for the history, or none.
pub(crate) fn command(c: &str) -> Option<String> {
    Some(c.to_string()).filter(|c| !c.is_empty())
}

/// `zpool create`.
pub fn create(d: &Daemon, req: &CreateRequest) -> Result<PoolRef, WireError> {
    let context = format!("cannot create '{}'", req.name);
    validate_pool_name(&req.name).map_err(|e| pool_error(&context, &e))?;
    let mut words = Vec::with_capacity(req.vdevs.len());
    for w in &req.vdevs {
        if VDEV_KEYWORDS.contains(&w.as_str()) {
            words.push(w.clone());
        } else {
            words.push(resolve_device(w)?);
        }
    }
    let mut seen = HashSet::new();
    let mut props = Vec::new();
    for p in &req.props {
        if !seen.insert(p.property.as_str()) {
            return Err(invalid(format!(
                "{context}: property '{}' specified multiple times",
                p.property
            )));
        }
        props.push((p.property.clone(), p.value.clone()));
    }
    // The root filesystem's properties are checked before any device is
    // touched.
    let fs_props =
        check_all(&req.fs_props, FS, true).map_err(|why| invalid(format!("{context}: {why}")))?;
    let spec = VdevSpec::parse(&words).map_err(|e| pool_error(&context, &e))?;
    for w in words.iter().filter(|w| w.starts_with('/')) {
        if let Some(owner) = owner_of(d, Path::new(w)) {
            return Err(WireError::new(
                ErrorKind::InUse,
                format!("{context}: vdev {w} is part of active pool '{owner}'"),
                libc::EBUSY,
            ));
        }
    }
    let reservation = d
        .registry
        .reserve(&req.name, "being created")
        .map_err(|e| registry_error(&context, &req.name, &e))?;
    let opts = CreateOptions {
        force: req.force,
        props,
        tunables: d.tunables.clone(),
        command: command(&req.command),
        ..CreateOptions::default()
    };
    let pool = Pool::create(&req.name, &spec, &opts).map_err(|e| pool_error(&context, &e))?;
    let imp = match Imported::init(pool.clone(), d.block_cache(), &fs_props) {
        Ok(i) => i,
        Err(e) => {
            // A pool without its root filesystem is no pool: take it back.
            pool.set_syncer(None);
            let _ = pool.destroy();
            return Err(crate::daemon::zfs::errors::dmu_error(&context, &e));
        }
    };
    reservation.commit(imp);
    d.remember(&pool);
    Ok(PoolRef {
        name: pool.name().to_string(),
        guid: pool.guid(),
    })
}

/// `zpool destroy`.
pub fn destroy(d: &Daemon, req: &DestroyRequest) -> Result<Done, WireError> {
    let context = format!("cannot destroy '{}'", req.name);
    let out = d
        .registry
        .check_out(&req.name, "being destroyed")
        .map_err(|e| registry_error(&context, &req.name, &e))?;
    let Some(pool) = out.imported().cloned() else {
        return Err(no_such_pool(&req.name));
    };
    // As OpenZFS: a busy filesystem stops it unless -f; then nothing
    // changed (what was unmounted is mounted again).
    if !req.force {
        crate::daemon::zfs::mount::ChangeList::gather(d, &pool, &req.name, None)
            .prefix(d, &pool, false)?;
    }
    if let Some(c) = command(&req.command) {
        pool.pool.log_history(&c, false);
    }
    d.mounts.unmount_pool(&req.name);
    let r = pool.destroy();
    // Whatever the outcome, destroy has closed the devices.
    out.remove();
    d.forget(&req.name);
    r.map_err(|e| pool_error(&context, &e))?;
    Ok(Done {})
}

/// `zpool export`.
pub fn export(d: &Daemon, req: &ExportRequest) -> Result<Done, WireError> {
    let context = format!("cannot export '{}'", req.name);
    let out = d
        .registry
        .check_out(&req.name, "being exported")
        .map_err(|e| registry_error(&context, &req.name, &e))?;
    let Some(pool) = out.imported().cloned() else {
        return Err(no_such_pool(&req.name));
    };
    // As OpenZFS: a busy filesystem stops it unless -f; then nothing
    // changed (what was unmounted is mounted again).
    if !req.force {
        crate::daemon::zfs::mount::ChangeList::gather(d, &pool, &req.name, None)
            .prefix(d, &pool, false)?;
    }
    if let Some(c) = command(&req.command) {
        pool.pool.log_history(&c, false);
    }
    d.mounts.unmount_pool(&req.name);
    // On failure the pool stays imported (and in the registry).
    pool.export().map_err(|e| pool_error(&context, &e))?;
    out.remove();
    d.forget(&req.name);
    Ok(Done {})
}

/// The open pools called `names` (all when empty); a missing one adds
/// "cannot open 'x': no such pool" to `errors`.
fn pools_named(d: &Daemon, names: &[String], errors: &mut Vec<WireError>) -> Vec<Pool> {
    if names.is_empty() {
        return d.registry.pools();
    }
    let mut out = Vec::new();
    for n in names {
        match d.registry.get(n) {
            Ok(p) => out.push(p),
            Err(e @ RegistryError::Busy(_)) => {
                errors.push(registry_error(&format!("cannot open '{n}'"), n, &e))
            }
            Err(_) => errors.push(no_such_pool(n)),
        }
    }
    out
}

/// `zpool get` and `zpool list`.
pub fn get(d: &Daemon, req: &GetRequest) -> Result<GetResult, WireError> {
    let names = props::requested(req);
    if let Some(bad) = names.iter().find(|n| !props::is_known(n)) {
        return Err(invalid(format!(
            "bad property list: invalid property '{bad}'"
        )));
    }
    let mut errors = Vec::new();
    let mut pools = Vec::new();
    for pool in pools_named(d, &req.names, &mut errors) {
        match props::pool_props(&pool, &names) {
            Ok(p) => pools.push(p),
            Err(e) => errors.push(pool_error(
                &format!("cannot get properties of '{}'", pool.name()),
                &e,
            )),
        }
    }
    Ok(GetResult { pools, errors })
}

/// `zpool set`.
pub fn set(d: &Daemon, req: &SetRequest) -> Result<Done, WireError> {
    let context = format!("cannot set property for '{}'", req.name);
    let pool = d
        .registry
        .get(&req.name)
        .map_err(|e| registry_error(&context, &req.name, &e))?;
    pool.set_property(&req.property, &req.value)
        .map_err(|e| pool_error(&context, &e))?;
    if let Some(c) = command(&req.command) {
        pool.log_history(&c, false);
    }
    pool.sync().map_err(|e| pool_error(&context, &e))?;
    Ok(Done {})
}

/// `zpool set arc_max=SIZE` (no pool): daemon-wide, logged in the
/// daemon's log rather than a pool history.
pub fn set_tunable(d: &Daemon, req: &SetTunableRequest) -> Result<Done, WireError> {
    d.arc.set(req)?;
    Ok(Done {})
}

/// `zpool status`.
pub fn status(d: &Daemon, req: &StatusRequest) -> Result<StatusResult, WireError> {
    let mut errors = Vec::new();
    let pools = pools_named(d, &req.names, &mut errors)
        .iter()
        .map(|p| {
            let files = if req.verbose {
                tree::error_files(d, p)
            } else {
                Vec::new()
            };
            tree::pool_status(p, files)
        })
        .collect();
    Ok(StatusResult { pools, errors })
}

/// `zpool history`.
pub fn history(d: &Daemon, req: &HistoryRequest) -> Result<HistoryResult, WireError> {
    let mut errors = Vec::new();
    let mut pools = Vec::new();
    for pool in pools_named(d, &req.names, &mut errors) {
        match pool.history() {
            Ok(recs) => pools.push(PoolHistory {
                name: pool.name().to_string(),
                records: recs
                    .into_iter()
                    .map(|r| HistoryEntry {
                        time: r.time,
                        command: r.command,
                        internal: r.internal,
                        txg: r.txg,
                        host: r.host,
                    })
                    .collect(),
            }),
            Err(e) => errors.push(pool_error(
                &format!("cannot get history for '{}'", pool.name()),
                &e,
            )),
        }
    }
    Ok(HistoryResult { pools, errors })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_words() {
        assert_eq!(resolve_device("/var/tmp/a").unwrap(), "/var/tmp/a");
        let e = resolve_device("relative/file").unwrap_err();
        assert_eq!(
            e.message,
            "cannot open 'relative/file': must be a full path or shorthand device name"
        );
        assert!(resolve_device("").is_err());
        assert_eq!(resolve_device("null").unwrap(), "/dev/null");
    }
}
