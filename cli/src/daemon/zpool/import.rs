//! `zpool import`: finding pools on devices, saying what stands in the way
//! of importing each, and importing one.

use std::path::PathBuf;

use basin_pool::import::{scan_dirs, Candidate};
use basin_pool::label::PoolState;
use basin_pool::{mmp, ImportOptions, Pool};

use super::errors::{invalid, pool_error, registry_error};
use super::tree::found_tree;
use crate::daemon::imported::Imported;
use crate::daemon::probe;
use crate::daemon::registry::RegistryError;
use crate::daemon::Daemon;
use crate::protocol::zpool::{
    ImportCandidate, ImportRequest, ImportScanRequest, ImportScanResult, ImportStatus, PoolRef,
};
use crate::protocol::{ErrorKind, WireError};

/// Where to look when no `-d` is given.
const DEFAULT_DIR: &str = "/dev";

/// What a search found.
struct Found {
    /// Pools whose devices could be opened.
    free: Vec<Candidate>,
    /// Pools whose devices another process holds.
    locked: Vec<Candidate>,
}

fn search_dirs(dirs: &[PathBuf]) -> Result<Vec<PathBuf>, WireError> {
    if dirs.is_empty() {
        return Ok(vec![PathBuf::from(DEFAULT_DIR)]);
    }
    for d in dirs {
        if !d.is_absolute() {
            return Err(invalid(format!(
                "cannot open '{}': must be an absolute path",
                d.display()
            )));
        }
        if !d.is_dir() {
            return Err(WireError::new(
                ErrorKind::NotFound,
                format!("cannot open '{}': no such directory", d.display()),
                libc::ENOENT,
            ));
        }
    }
    Ok(dirs.to_vec())
}

fn find(d: &Daemon, dirs: &[PathBuf], destroyed: bool) -> Found {
    let free: Vec<Candidate> = scan_dirs(dirs)
        .into_iter()
        .filter(|c| (c.state == PoolState::Destroyed) == destroyed)
        .filter(|c| d.registry.name_of_guid(c.guid).is_none())
        .collect();
    let locked = if destroyed {
        Vec::new()
    } else {
        probe::locked_pools(dirs)
            .into_iter()
            .filter(|c| c.state != PoolState::Destroyed)
            .filter(|c| d.registry.name_of_guid(c.guid).is_none())
            .filter(|c| free.iter().all(|f| f.guid != c.guid))
            .collect()
    };
    Found { free, locked }
}

/// The paths of the leaves found (for a pool held by another process,
/// the paths its labels record).
fn paths_of(c: &Candidate) -> Vec<PathBuf> {
    c.tree
        .leaves()
        .into_iter()
        .filter(|l| c.devices.contains_key(&l.guid))
        .filter_map(|l| l.path.as_ref().map(PathBuf::from))
        .collect()
}

fn status_of(c: &Candidate, locked: bool) -> ImportStatus {
    let me = mmp::hostid();
    let hb = probe::heartbeat(&paths_of(c), c.guid);
    if locked {
        return ImportStatus::InUse {
            host: c.hostname.clone(),
            hostid: c.hostid,
            pid: hb.filter(|h| h.hostid == me).map(|h| h.pid),
        };
    }
    if c.state == PoolState::Active {
        if let Some(h) = hb.filter(probe::heartbeat_is_live) {
            return ImportStatus::InUse {
                host: c.hostname.clone(),
                hostid: h.hostid,
                pid: (h.hostid == me).then_some(h.pid),
            };
        }
        if c.hostid != me {
            return ImportStatus::Foreign {
                host: c.hostname.clone(),
                hostid: c.hostid,
            };
        }
    }
    if !c.missing().is_empty() {
        return ImportStatus::MissingDevices;
    }
    ImportStatus::Ok
}

fn describe(c: &Candidate, locked: bool) -> ImportCandidate {
    ImportCandidate {
        name: c.name.clone(),
        guid: c.guid,
        pool_state: c.state.name().to_string(),
        health: c.health().name().to_string(),
        status: status_of(c, locked),
        config: found_tree(c),
    }
}

/// `zpool import` without a pool: every pool that could be imported.
pub fn scan(d: &Daemon, req: &ImportScanRequest) -> Result<ImportScanResult, WireError> {
    let dirs = search_dirs(&req.dirs)?;
    let found = find(d, &dirs, req.destroyed);
    let mut candidates: Vec<ImportCandidate> = found
        .free
        .iter()
        .map(|c| describe(c, false))
        .chain(found.locked.iter().map(|c| describe(c, true)))
        .collect();
    candidates.sort_by(|a, b| (&a.name, a.guid).cmp(&(&b.name, b.guid)));
    Ok(ImportScanResult { candidates })
}

fn locked_message(context: &str, c: &Candidate) -> WireError {
    let paths = paths_of(c);
    let holder = match probe::heartbeat(&paths, c.guid) {
        Some(h) if h.hostid == mmp::hostid() => format!(" (pid {})", h.pid),
        _ => String::new(),
    };
    let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    WireError::new(
        ErrorKind::InUse,
        format!(
            "{context}: pool '{}' is in use by another process on this host{holder}, which holds its devices locked ({}); export it there first",
            c.name,
            shown.join(", ")
        ),
        libc::EBUSY,
    )
}

/// `zpool import POOL [NEWNAME]`.
pub fn import(d: &Daemon, req: &ImportRequest) -> Result<PoolRef, WireError> {
    let context = format!("cannot import '{}'", req.pool);
    let dirs = search_dirs(&req.dirs)?;
    let found = find(d, &dirs, req.destroyed);
    let guid: Option<u64> = req.pool.parse().ok();
    let matches = |c: &&Candidate| c.name == req.pool || Some(c.guid) == guid;
    let free: Vec<&Candidate> = found.free.iter().filter(matches).collect();
    if free.len() > 1 {
        return Err(invalid(format!(
            "{context}: more than one matching pool\nimport by numeric ID instead"
        )));
    }
    let Some(c) = free.first() else {
        if let Some(c) = found.locked.iter().find(matches) {
            return Err(locked_message(&context, c));
        }
        if d.registry.get(&req.pool).is_ok()
            || guid.and_then(|g| d.registry.name_of_guid(g)).is_some()
        {
            return Err(WireError::new(
                ErrorKind::Exists,
                format!("{context}: a pool with that name is already imported"),
                libc::EEXIST,
            ));
        }
        return Err(WireError::new(
            ErrorKind::NoSuchPool,
            format!("{context}: no such pool available"),
            libc::ENOENT,
        ));
    };
    let name = req.new_name.clone().unwrap_or_else(|| c.name.clone());
    let reservation = d
        .registry
        .reserve(&name, "being imported")
        .map_err(|e| match e {
            RegistryError::Exists => WireError::new(
                ErrorKind::Exists,
                format!(
                    "{context}: a pool with that name already exists\nuse the form 'zpool import <pool | id> <newpool>' to give it a new name"
                ),
                libc::EEXIST,
            ),
            other => registry_error(&context, &name, &other),
        })?;
    let opts = ImportOptions {
        force: req.force,
        destroyed: req.destroyed,
        new_name: req.new_name.clone(),
        tunables: d.tunables.clone(),
        command: Some(req.command.clone()).filter(|c| !c.is_empty()),
        rewind_to: None,
    };
    let pool = Pool::import(c, &opts).map_err(|e| pool_error(&context, &e))?;
    let imp = match Imported::open(pool.clone(), d.block_cache()) {
        Ok(i) => i,
        Err(e) => {
            let _ = pool.close();
            return Err(crate::daemon::zfs::errors::dmu_error(
                &format!("{context}: cannot open its datasets"),
                &e,
            ));
        }
    };
    reservation.commit(imp);
    d.remember(&pool);
    Ok(PoolRef {
        name: pool.name().to_string(),
        guid: pool.guid(),
    })
}
