//! Finding pools on devices and importing them: the newest valid label
//! configuration gives the vdev tree; the newest uberblock whose whole pool
//! tree (root, space maps, the user root) reads back and verifies is used.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::blkptr::BlkPtr;
use crate::error::{PoolError, Result};
use crate::label::{LabelConfig, PoolState, VdevConfig, MIN_VDEV_SIZE};
use crate::labelio;
use crate::metaslab::MetaslabGroup;
use crate::mmp::{self, GuidLock};
use crate::pool::{build_vdevs, open_path, Pool, PoolStats, PoolTunables, RootState};
use crate::poolroot::PoolRoot;
use crate::space::SpaceManager;
use crate::spacemap::{self, SmIndex};
use crate::spec::{validate_pool_name, DeviceSpec};
use crate::uberblock::Uberblock;
use crate::vdev::file::{FileDevice, OpenMode};
use crate::vdev::{BlockDevice, Health, IoClass, ReadOnlyDevice, TopVdev};
use crate::zio::read_bp;

/// Options of `zpool import`.
#[derive(Clone, Debug, Default)]
pub struct ImportOptions {
    /// Import a pool that seems in use elsewhere.
    pub force: bool,
    /// Import a destroyed pool (`-D`).
    pub destroyed: bool,
    /// Import under another name.
    pub new_name: Option<String>,
    /// Tunables of the open pool.
    pub tunables: PoolTunables,
    /// The command line, for the history.
    pub command: Option<String>,
    /// Import at the newest uberblock of at most this txg (OpenZFS's
    /// `zpool import -T`), for recovery and for examining a pool as it
    /// was; newer uberblocks are ignored.
    pub rewind_to: Option<u64>,
}

/// A pool found on devices.
#[derive(Clone)]
pub struct Candidate {
    /// Pool name.
    pub name: String,
    /// Pool guid.
    pub guid: u64,
    /// State in the labels.
    pub state: PoolState,
    /// Host id that last imported it.
    pub hostid: u32,
    /// Host name that last imported it.
    pub hostname: String,
    /// Txg of the configuration.
    pub txg: u64,
    /// The vdev tree, with the paths where the leaves were found.
    pub tree: VdevConfig,
    /// Devices found, by leaf guid.
    pub devices: HashMap<u64, DeviceSpec>,
}

impl Candidate {
    /// Leaves of the tree that were not found.
    pub fn missing(&self) -> Vec<&VdevConfig> {
        self.tree
            .leaves()
            .into_iter()
            .filter(|l| !self.devices.contains_key(&l.guid))
            .collect()
    }

    /// Health of a leaf, top-level vdev or the whole pool as found.
    pub fn health_of(&self, v: &VdevConfig) -> Health {
        if v.children.is_empty() {
            return if self.devices.contains_key(&v.guid) {
                if v.offline {
                    Health::Offline
                } else {
                    Health::Online
                }
            } else {
                Health::Unavail
            };
        }
        let hs: Vec<Health> = v.children.iter().map(|c| self.health_of(c)).collect();
        match v.kind {
            crate::label::VdevKind::Root => hs
                .iter()
                .map(|h| match h {
                    Health::Online => Health::Online,
                    Health::Degraded => Health::Degraded,
                    _ => Health::Unavail,
                })
                .max()
                .unwrap_or(Health::Online),
            _ => {
                let up = hs.iter().filter(|h| h.usable()).count();
                if up == hs.len() {
                    Health::Online
                } else if up > 0 {
                    Health::Degraded
                } else {
                    Health::Unavail
                }
            }
        }
    }

    /// Health of the pool as found.
    pub fn health(&self) -> Health {
        self.health_of(&self.tree)
    }
}

/// Reads the labels of a path without disturbing a pool that uses it.
fn probe_path(path: &Path) -> Option<(Arc<dyn BlockDevice>, LabelConfig)> {
    let dev = FileDevice::open(
        path,
        OpenMode {
            writable: false,
            direct: false,
        },
    )
    .ok()?;
    if dev.size() < MIN_VDEV_SIZE / 2 {
        return None;
    }
    let cfg = labelio::best_config(&dev)?;
    Some((Arc::new(dev), cfg))
}

/// How long an import waits for a leaf that another process holds locked.
const LOCK_WAIT: Duration = Duration::from_secs(2);

/// A leaf the scan left out may only be locked: a process that just died
/// lets go of its locks a moment after it is gone (I/O it had in flight
/// holds the file a little longer), and a live one must not share the
/// pool. Waits up to [`LOCK_WAIT`] for the lock on `path` and says whether
/// it holds leaf `leaf` of pool `pool`; still locked, it is an error
/// rather than a leaf to leave out (which would import the pool degraded),
/// unless `force`.
fn wait_for_lock(path: &Path, leaf: u64, pool: u64, force: bool) -> Result<bool> {
    if !path.is_absolute() {
        return Ok(false);
    }
    let start = Instant::now();
    loop {
        let mode = OpenMode {
            writable: false,
            direct: false,
        };
        match FileDevice::open(path, mode) {
            Ok(dev) => {
                return Ok(labelio::best_config(&dev)
                    .is_some_and(|l| l.guid == leaf && l.pool_guid == pool))
            }
            Err(PoolError::VdevLocked(n)) if start.elapsed() >= LOCK_WAIT => {
                return if force {
                    Ok(false)
                } else {
                    Err(PoolError::VdevLocked(n))
                };
            }
            Err(PoolError::VdevLocked(_)) => std::thread::sleep(Duration::from_millis(10)),
            Err(_) => return Ok(false),
        }
    }
}

/// Groups labels into candidates.
fn assemble(found: Vec<(DeviceSpec, LabelConfig)>) -> Vec<Candidate> {
    let mut by_pool: BTreeMap<u64, Vec<(DeviceSpec, LabelConfig)>> = BTreeMap::new();
    for (d, c) in found {
        by_pool.entry(c.pool_guid).or_default().push((d, c));
    }
    let mut out = Vec::new();
    for (guid, members) in by_pool {
        let Some(best) = members
            .iter()
            .map(|(_, c)| c)
            .max_by_key(|c| c.txg)
            .cloned()
        else {
            continue;
        };
        let mut tree = best.vdev_tree.clone();
        let mut devices = HashMap::new();
        for (d, c) in members {
            if let Some(leaf) = tree.find_mut(c.guid) {
                if leaf.children.is_empty() && !devices.contains_key(&c.guid) {
                    if let DeviceSpec::Path(p) = &d {
                        leaf.path = Some(p.display().to_string());
                    }
                    devices.insert(c.guid, d);
                }
            }
        }
        out.push(Candidate {
            name: best.name,
            guid,
            state: best.state,
            hostid: best.hostid,
            hostname: best.hostname,
            txg: best.txg,
            tree,
            devices,
        });
    }
    out
}

/// Pools on the given files or block devices.
pub fn scan_paths(paths: impl IntoIterator<Item = PathBuf>) -> Vec<Candidate> {
    let found = paths
        .into_iter()
        .filter_map(|p| probe_path(&p).map(|(_, c)| (DeviceSpec::Path(p), c)))
        .collect();
    assemble(found)
}

/// Pools on the files and block devices directly inside `dirs` (as
/// `zpool import -d`).
pub fn scan_dirs(dirs: &[PathBuf]) -> Vec<Candidate> {
    let mut paths = Vec::new();
    for d in dirs {
        let Ok(rd) = std::fs::read_dir(d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            let Ok(m) = std::fs::metadata(&p) else {
                continue;
            };
            use std::os::unix::fs::FileTypeExt;
            if m.is_file() || m.file_type().is_block_device() {
                paths.push(p);
            }
        }
    }
    paths.sort();
    scan_paths(paths)
}

/// Pools on devices opened in process (tests).
pub fn scan_devices(devs: &[Arc<dyn BlockDevice>]) -> Vec<Candidate> {
    let found = devs
        .iter()
        .filter_map(|d| {
            labelio::best_config(d.as_ref()).map(|c| (DeviceSpec::Device(d.clone()), c))
        })
        .collect();
    assemble(found)
}

/// What an uberblock's tree gave when it was loaded.
struct Loaded {
    ub: Uberblock,
    root: PoolRoot,
    index: SmIndex,
    space: SpaceManager,
    history_blocks: usize,
}

fn load_tree(
    name: &str,
    tree: &VdevConfig,
    vdevs: &[Arc<TopVdev>],
    ub: &Uberblock,
) -> Result<Loaded> {
    let stats = PoolStats::default();
    let read = |bp: &BlkPtr| read_bp(vdevs, bp, IoClass::SyncRead, &stats);
    let root = PoolRoot::decode(&read(&ub.root)?)?;
    if root.txg != ub.txg {
        return Err(PoolError::corrupt(
            "pool root",
            format!("txg {} under uberblock {}", root.txg, ub.txg),
        ));
    }
    let index = if root.spacemap.is_hole() {
        SmIndex::default()
    } else {
        SmIndex::decode(&read(&root.spacemap)?)?
    };
    let groups: Vec<MetaslabGroup> = tree
        .children
        .iter()
        .enumerate()
        .map(|(i, t)| MetaslabGroup::new(i as u32, t.asize, t.ms_shift, t.ashift))
        .collect();
    let space = SpaceManager::new(name, groups);
    for (v, m, bp) in &index.checkpoints {
        let (cv, cm, segs) = spacemap::decode_checkpoint(&read(bp)?)?;
        if (cv, cm) != (*v, *m) {
            return Err(PoolError::corrupt(
                "space map checkpoint",
                "belongs to another metaslab",
            ));
        }
        for (off, len) in segs {
            space.claim(*v as usize, off, len)?;
        }
    }
    space.mark_all_clean();
    let mut last = 0;
    for bp in &index.logs {
        let (t, entries) = spacemap::decode_log(&read(bp)?)?;
        if t <= last || t > ub.txg {
            return Err(PoolError::corrupt(
                "space map log",
                format!("txg {t} out of order"),
            ));
        }
        last = t;
        space.replay(t, &entries)?;
    }
    if ub.txg >= crate::space::DEFER_TXGS {
        space.release_deferred(ub.txg - crate::space::DEFER_TXGS)?;
    }
    if !root.user_root.is_hole() {
        read(&root.user_root)?;
    }
    // The history chain is walked when it is read; count it for compaction.
    let mut history_blocks = 0;
    let mut bp = root.history;
    while !bp.is_hole() && history_blocks < 1000 {
        let (prev, _) = crate::history::decode(&read(&bp)?)?;
        bp = prev;
        history_blocks += 1;
    }
    Ok(Loaded {
        ub: *ub,
        root,
        index,
        space,
        history_blocks,
    })
}

fn pid_alive(pid: u32) -> bool {
    pid != 0 && nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), None).is_ok()
}

impl Pool {
    /// Imports a pool found by a scan.
    pub fn import(c: &Candidate, opts: &ImportOptions) -> Result<Pool> {
        Pool::open_candidate(c, opts, false)
    }

    /// Opens a pool found by a scan without changing a byte of it, for the
    /// checker: files are opened read-only under a shared lock (so a pool
    /// that a live process imported, which holds an exclusive lock on every
    /// vdev, is refused with [`PoolError::VdevLocked`]), no label is
    /// written, no sync or heartbeat thread runs, reads do not rewrite
    /// damaged copies, and every write, sync or destroy fails with
    /// [`PoolError::ReadOnlyPool`]. `opts.force` only skips the check of a
    /// live heartbeat; `opts.command` is ignored.
    pub fn open_read_only(c: &Candidate, opts: &ImportOptions) -> Result<Pool> {
        Pool::open_candidate(c, opts, true)
    }

    fn open_candidate(c: &Candidate, opts: &ImportOptions, read_only: bool) -> Result<Pool> {
        let name = opts.new_name.clone().unwrap_or_else(|| c.name.clone());
        validate_pool_name(&name)?;
        if c.state == PoolState::Destroyed && !opts.destroyed {
            return Err(PoolError::NoSuchPool(format!(
                "{} (destroyed; use -D)",
                c.name
            )));
        }
        // Is somebody else using it?
        let me = mmp::hostid();
        let heartbeat = c.devices.values().find_map(|d| match d {
            DeviceSpec::Path(p) => {
                probe_path(p).and_then(|(dev, _)| labelio::read_heartbeat(dev.as_ref()))
            }
            DeviceSpec::Device(dev) => labelio::read_heartbeat(dev.as_ref()),
        });
        if c.state == PoolState::Active && !opts.force {
            if let Some(hb) = heartbeat.filter(|h| h.pool_guid == c.guid) {
                let age = mmp::now_ms().saturating_sub(hb.time_ms);
                let live = if hb.hostid == me {
                    hb.pid != std::process::id() && pid_alive(hb.pid)
                } else {
                    true
                };
                if live && age < mmp::HEARTBEAT_FRESH_MS {
                    return Err(PoolError::PoolActive {
                        pool: c.name.clone(),
                        host: c.hostname.clone(),
                        hostid: hb.hostid,
                        age_secs: age / 1000,
                    });
                }
            }
            // Reading a pool that another host left imported is harmless.
            if c.hostid != me && !read_only {
                return Err(PoolError::PoolForeign {
                    pool: c.name.clone(),
                    host: c.hostname.clone(),
                    hostid: c.hostid,
                });
            }
        }
        let guid_lock = if opts.tunables.guid_lock && !read_only {
            match GuidLock::acquire(&mmp::lock_dir(), c.guid, &c.name) {
                Ok(l) => Some(l),
                Err(_) if opts.force => None,
                Err(e) => return Err(e),
            }
        } else {
            None
        };

        // Open the devices found, writable and locked (read-only and
        // shared for the checker).
        let ashift_of = |leaf: u64| {
            c.tree
                .children
                .iter()
                .find(|t| t.find(leaf).is_some())
                .map(|t| t.ashift)
                .unwrap_or(12)
        };
        let mut found = c.devices.clone();
        for leaf in c.missing() {
            if let Some(p) = leaf.path.as_deref().map(Path::new) {
                if wait_for_lock(p, leaf.guid, c.guid, opts.force)? {
                    found.insert(leaf.guid, DeviceSpec::Path(p.to_path_buf()));
                }
            }
        }
        let mut devices: HashMap<u64, Arc<dyn BlockDevice>> = HashMap::new();
        for (guid, d) in &found {
            let dev: Arc<dyn BlockDevice> = match d {
                DeviceSpec::Path(p) if read_only => {
                    Arc::new(ReadOnlyDevice(Arc::new(FileDevice::open(
                        p,
                        OpenMode {
                            writable: false,
                            direct: false,
                        },
                    )?)))
                }
                DeviceSpec::Path(p) => Arc::new(open_path(p, &opts.tunables, ashift_of(*guid))?),
                DeviceSpec::Device(dev) if read_only => Arc::new(ReadOnlyDevice(dev.clone())),
                DeviceSpec::Device(dev) => dev.clone(),
            };
            match labelio::best_config(dev.as_ref()) {
                Some(l) if l.guid == *guid && l.pool_guid == c.guid => {
                    devices.insert(*guid, dev);
                }
                _ => {}
            }
        }
        let vdevs = build_vdevs(&c.tree, &devices, &opts.tunables)?;
        if read_only {
            // Even the reads of the import itself must not repair anything.
            for top in &vdevs {
                top.set_no_heal(true);
            }
        }
        let unusable: Vec<String> = vdevs
            .iter()
            .filter(|v| !v.health().usable())
            .map(|v| {
                v.children
                    .iter()
                    .map(|l| l.path.clone())
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .collect();
        if !unusable.is_empty() {
            return Err(PoolError::MissingDevices {
                pool: c.name.clone(),
                detail: format!(
                    "one or more devices are missing or unreadable, with no redundancy left: {}",
                    unusable.join("; ")
                ),
            });
        }

        // The newest uberblock whose tree reads back.
        let mut ubs: Vec<Uberblock> = Vec::new();
        for top in &vdevs {
            for leaf in top.leaves().iter() {
                if let Some(e) = leaf.raw_engine() {
                    ubs.extend(labelio::read_uberblocks(e.device().as_ref(), top.ashift));
                }
            }
        }
        ubs.retain(|u| u.pool_guid == c.guid);
        ubs.sort_by_key(|u| std::cmp::Reverse(u.txg));
        ubs.dedup_by_key(|u| (u.txg, u.root));
        // New txgs follow every txg on disk, rewound past or not, so that
        // the next import prefers what this one writes.
        let max_seen = ubs.first().map(|u| u.txg).unwrap_or(0);
        ubs.retain(|u| opts.rewind_to.is_none_or(|t| u.txg <= t));
        let mut loaded = None;
        let mut last_err = None;
        for ub in &ubs {
            match load_tree(&name, &c.tree, &vdevs, ub) {
                Ok(l) => {
                    loaded = Some(l);
                    break;
                }
                Err(e) => last_err = Some(e),
            }
        }
        let Some(l) = loaded else {
            return Err(match last_err {
                Some(e) => PoolError::MissingDevices {
                    pool: c.name.clone(),
                    detail: format!("no uberblock whose tree verifies: {e}"),
                },
                None => PoolError::NoUberblock(c.name.clone()),
            });
        };

        let root = RootState {
            root_bp: l.ub.root,
            user_root: l.root.user_root,
            root: l.root,
            index_bp: BlkPtr::default(),
            index: l.index,
            history_pending: Vec::new(),
            history_blocks: l.history_blocks,
            extras_dirty: false,
        };
        let pool = Pool::assemble(
            name,
            c.guid,
            c.tree.clone(),
            vdevs,
            max_seen.max(l.ub.txg),
            root,
            l.space,
            opts.tunables.clone(),
        )?;
        {
            let mut rs = pool.0.root.lock();
            rs.index_bp = rs.root.spacemap;
        }
        *pool.0._guid_lock.lock() = guid_lock;
        if read_only {
            pool.0.read_only.store(true, Ordering::Release);
            return Ok(pool);
        }
        // Leaves missing now miss every txg from here; leaves back after
        // missing some get them from a resilver (started once the layer
        // above can list its blocks).
        let next = pool.txg().open_txg();
        for top in pool.vdevs() {
            for leaf in top.leaves() {
                if leaf.engine().is_none() {
                    leaf.start_missing(next);
                } else {
                    leaf.stop_missing(next);
                }
            }
        }
        *pool.0.tree.lock() = pool.tree_from_runtime();
        pool.write_labels(PoolState::Active)?;
        pool.start_threads();
        if let Some(cmd) = &opts.command {
            pool.log_history(cmd, false);
        }
        if l.ub.txg < max_seen && opts.rewind_to.is_none() {
            // The newest uberblocks did not verify: say so where an
            // operator looks (`zpool history -i`).
            pool.log_history(
                &format!(
                    "imported at txg {}: txgs up to {max_seen} did not verify",
                    l.ub.txg
                ),
                true,
            );
        }
        if l.ub.txg < max_seen && opts.rewind_to.is_some() {
            // A new uberblock at once, so that no later import goes back
            // to the txgs rewound past.
            pool.log_history(
                &format!("rewound from txg {max_seen} to txg {}", l.ub.txg),
                true,
            );
            pool.sync()?;
        }
        Ok(pool)
    }

    /// The txg of the uberblock the pool was opened at, or last synced.
    pub fn last_synced_txg(&self) -> u64 {
        self.0.root.lock().root.txg
    }
}
