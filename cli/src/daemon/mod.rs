//! `basind`: the one process that opens pools.
//!
//! It owns a [`Registry`] of imported pools, each with its dataset layer,
//! and one ARC ([`BlockCache`]) shared by all of them (bounded by
//! `--arc-max`, shrunk under memory pressure by basin-arc's monitor). It
//! serves the protocol on a Unix socket (one thread per connection, so long
//! work never holds up other clients), and keeps a [`Cache`] of its pools
//! in its state directory so that it imports them again when it starts,
//! whether it stopped cleanly or was killed. SIGTERM and SIGINT sync and
//! close every pool without exporting it, as OpenZFS does at shutdown.

pub mod arc;
pub mod cache;
pub mod detach;
pub mod dispatch;
pub mod fusemounts;
pub mod imported;
pub mod log;
pub mod mounts;
pub mod probe;
pub mod registry;
pub mod server;
pub mod signals;
pub mod socket;
pub mod statedir;
pub mod zfs;
pub mod zpool;

use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use basin_dmu::cache::BlockCache;
use basin_dmu::dsl::diff::PathResolver;
use basin_pool::import::scan_paths;
use basin_pool::{ImportOptions, Pool, PoolTunables};
use basin_zonefs::paths::PosixPaths;

pub use arc::ArcSettings;
pub use cache::{Cache, CachedPool};
pub use imported::Imported;
pub use mounts::{Mounter, NoMounts};
pub use registry::Registry;

use self::log::log;

/// How long a start waits for the devices of a cached pool to be
/// unlocked by a daemon that died just before.
const RELOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Where `basind` keeps its state unless told otherwise.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/basin";

/// How the daemon is set up.
#[derive(Clone, Debug)]
pub struct Config {
    /// The socket to listen on.
    pub socket: PathBuf,
    /// The state directory (cache file, lock, pid file).
    pub state_dir: PathBuf,
    /// A group whose members may use the socket (mode 0660); else 0600.
    pub group: Option<String>,
    /// arc_max (`--arc-max`); none: an eighth of the memory, at most 4 GiB.
    pub arc_max: Option<u64>,
    /// arc_min (`--arc-min`); none: a 32nd of arc_max.
    pub arc_min: Option<u64>,
    /// `--mount-root`: mount filesystems under this directory instead of
    /// at their mountpoints (tests, chroots); none: at their mountpoints.
    pub mount_root: Option<PathBuf>,
    /// `--no-automount`: only `zfs mount` mounts.
    pub no_automount: bool,
}

/// Why the daemon could not start or run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DaemonError {
    /// A file operation failed.
    #[error("cannot {what} {}: {source}", .path.display())]
    Io {
        /// What was being done ("create the state directory").
        what: &'static str,
        /// On what.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// Another daemon answers on the socket.
    #[error("another basind is already listening on {}", .0.display())]
    AlreadyRunning(PathBuf),
    /// Another daemon uses the state directory.
    #[error("another basind is using the state directory {}", .0.display())]
    StateDirBusy(PathBuf),
    /// Something that is not a socket is in the socket's place.
    #[error("{} exists and is not a socket; remove it or choose another --socket", .0.display())]
    NotASocket(PathBuf),
    /// The `--group` does not exist.
    #[error("no such group '{0}'")]
    NoSuchGroup(String),
    /// The ARC could not be set up.
    #[error("cannot set up the ARC: {0}")]
    Arc(String),
    /// A system call failed.
    #[error("cannot {what}: {source}")]
    Sys {
        /// What was being done.
        what: &'static str,
        /// The error.
        #[source]
        source: nix::Error,
    },
}

/// The state every request handler sees.
pub struct Daemon {
    /// The pools this daemon owns.
    pub registry: Registry,
    /// The cache file of imported pools.
    pub cache: Cache,
    /// Tunables for every pool this daemon opens.
    pub tunables: PoolTunables,
    /// The ARC in front of every pool, and how its limits were set.
    pub arc: ArcSettings,
    /// Mounts filesystems: [`fusemounts::FuseMounts`] in `basind`,
    /// [`NoMounts`] until [`run`] sets it up.
    pub mounts: Arc<dyn Mounter>,
    /// Names the objects `zfs diff` and `zpool status -v` report: their
    /// paths in the POSIX layer, else their numbers.
    pub paths: Arc<dyn PathResolver + Send + Sync>,
}

impl Daemon {
    /// A daemon with no pools yet.
    pub fn new(cache: Cache, tunables: PoolTunables, arc: ArcSettings) -> Daemon {
        Daemon {
            registry: Registry::new(),
            cache,
            tunables,
            arc,
            mounts: Arc::new(NoMounts),
            paths: Arc::new(PosixPaths),
        }
    }

    /// The block cache every pool reads through.
    pub fn block_cache(&self) -> Arc<BlockCache> {
        self.arc.cache().clone()
    }

    /// Records an imported or created pool in the cache file, and mounts
    /// its filesystems (the pool is in the registry by then: `zpool
    /// create` and `zpool import` call this once it is).
    pub fn remember(&self, pool: &Pool) {
        if let Err(e) = self.cache.add(CachedPool::of(pool)) {
            log(format!(
                "warning: pool '{}' will not be imported again at start: {e}",
                pool.name()
            ));
        }
        zfs::mount::mount_pool_logged(self, pool.name());
    }

    /// Drops an exported or destroyed pool from the cache file.
    pub fn forget(&self, name: &str) {
        if let Err(e) = self.cache.remove(name) {
            log(format!(
                "warning: cannot drop pool '{name}' from the cache: {e}"
            ));
        }
    }

    /// Imports again every pool of the cache file (without force: a pool
    /// that another live process or host uses stays out).
    pub fn import_cached(&self) {
        for entry in self.cache.entries() {
            match self.import_one(&entry) {
                Ok(imp) => {
                    log(format!("imported pool '{}' from the cache", imp.name()));
                    match self.registry.reserve(&entry.name, "being imported") {
                        Ok(r) => {
                            r.commit(imp);
                            // Mounting replays the intent log of each
                            // filesystem a crash left one in.
                            zfs::mount::mount_pool_logged(self, &entry.name);
                        }
                        Err(_) => {
                            let _ = imp.close();
                        }
                    }
                }
                Err(why) => log(format!(
                    "cannot import pool '{}' (guid {}) from the cache: {why}",
                    entry.name, entry.guid
                )),
            }
        }
    }

    fn import_one(&self, entry: &CachedPool) -> Result<Imported, String> {
        // The devices of a daemon killed a moment ago may stay locked for a
        // little while (the kernel tears its io_uring rings down in the
        // background): give the locks a few seconds to go.
        let deadline = std::time::Instant::now() + RELOCK_WAIT;
        while entry.vdevs.iter().any(|p| probe::is_locked(p))
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let found = scan_paths(entry.vdevs.clone());
        let c = found
            .iter()
            .find(|c| c.guid == entry.guid)
            .ok_or_else(|| "its devices were not found or are in use".to_string())?;
        let opts = ImportOptions {
            new_name: Some(entry.name.clone()).filter(|n| *n != c.name),
            tunables: self.tunables.clone(),
            ..ImportOptions::default()
        };
        let pool = Pool::import(c, &opts).map_err(|e| e.to_string())?;
        Imported::open(pool.clone(), self.block_cache()).map_err(|e| {
            let _ = pool.close();
            format!("cannot open its datasets: {e}")
        })
    }

    /// Syncs and closes every pool (they stay in the cache and stay marked
    /// active: the next start imports them again).
    pub fn close_all(&self) {
        for pool in self.registry.close_all() {
            self.mounts.unmount_pool(pool.name());
            match pool.close() {
                Ok(()) => log(format!("closed pool '{}'", pool.name())),
                Err(e) => log(format!("pool '{}' did not close cleanly: {e}", pool.name())),
            }
        }
    }
}

/// Runs the daemon until SIGTERM or SIGINT. `ready` is told once the
/// socket serves requests (a detached daemon's parent waits for it).
pub fn run(config: Config, ready: Option<detach::Ready>) -> Result<(), DaemonError> {
    // Before any thread exists, so that every thread inherits the mask and
    // only the waiter receives these signals.
    let sigs = signals::block().map_err(|source| DaemonError::Sys {
        what: "block the shutdown signals",
        source,
    })?;
    let state = statedir::StateDir::open(&config.state_dir)?;
    let listener = socket::bind(&config.socket, config.group.as_deref())?;
    let (cache, warning) = Cache::load(&config.state_dir);
    if let Some(w) = warning {
        log(format!("warning: {w}; starting with no cached pools"));
    }
    let arc = ArcSettings::start(config.arc_max, config.arc_min)?;
    let mut daemon = Daemon::new(cache, PoolTunables::default(), arc);
    // Sweeps the dead mounts a killed daemon left before any pool mounts.
    daemon.mounts = Arc::new(fusemounts::FuseMounts::start(
        config.mount_root.clone(),
        !config.no_automount,
    ));
    let daemon = Arc::new(daemon);
    daemon.import_cached();
    state.write_pid()?;

    let stop = Arc::new(AtomicBool::new(false));
    let fd = listener.as_raw_fd();
    let stop2 = stop.clone();
    signals::spawn_waiter(sigs, move |sig| {
        log(format!("{sig}: closing the pools and stopping"));
        stop2.store(true, Ordering::SeqCst);
        // Wakes the accept loop; the listener outlives this thread's use
        // of its descriptor (it lives until run returns, after the loop).
        let _ = nix::sys::socket::shutdown(fd, nix::sys::socket::Shutdown::Both);
    })
    .map_err(|e| DaemonError::Io {
        what: "start the signal thread for",
        path: config.socket.clone(),
        source: e,
    })?;

    log(format!(
        "listening on {} (pid {}, state in {})",
        config.socket.display(),
        std::process::id(),
        config.state_dir.display()
    ));
    if let Some(r) = ready {
        r.notify();
    }
    server::serve(&listener, &daemon, &stop);
    daemon.close_all();
    socket::remove(&config.socket);
    state.remove_pid();
    log("stopped");
    Ok(())
}
