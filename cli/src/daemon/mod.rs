//! `basind`: the one process that opens pools.
//!
//! It owns a [`Registry`] of imported pools, serves the protocol on a Unix
//! socket (one thread per connection, so long work never holds up other
//! clients), and keeps a [`Cache`] of its pools in its state directory so
//! that it imports them again when it starts, whether it stopped cleanly or
//! was killed. SIGTERM and SIGINT sync and close every pool without
//! exporting it, as OpenZFS does at shutdown.

pub mod cache;
pub mod detach;
pub mod dispatch;
pub mod log;
pub mod probe;
pub mod registry;
pub mod server;
pub mod signals;
pub mod socket;
pub mod statedir;
pub mod zpool;

use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use basin_pool::import::scan_paths;
use basin_pool::{ImportOptions, Pool, PoolTunables};

pub use cache::{Cache, CachedPool};
pub use registry::Registry;

use self::log::log;

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
}

impl Daemon {
    /// A daemon with no pools yet.
    pub fn new(cache: Cache, tunables: PoolTunables) -> Daemon {
        Daemon {
            registry: Registry::new(),
            cache,
            tunables,
        }
    }

    /// Records an imported or created pool in the cache file.
    pub fn remember(&self, pool: &Pool) {
        if let Err(e) = self.cache.add(CachedPool::of(pool)) {
            log(format!(
                "warning: pool '{}' will not be imported again at start: {e}",
                pool.name()
            ));
        }
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
                Ok(pool) => {
                    log(format!("imported pool '{}' from the cache", pool.name()));
                    if let Ok(r) = self.registry.reserve(&entry.name, "being imported") {
                        r.commit(pool);
                    }
                }
                Err(why) => log(format!(
                    "cannot import pool '{}' (guid {}) from the cache: {why}",
                    entry.name, entry.guid
                )),
            }
        }
    }

    fn import_one(&self, entry: &CachedPool) -> Result<Pool, String> {
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
        Pool::import(c, &opts).map_err(|e| e.to_string())
    }

    /// Syncs and closes every pool (they stay in the cache and stay marked
    /// active: the next start imports them again).
    pub fn close_all(&self) {
        for pool in self.registry.close_all() {
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
    let daemon = Arc::new(Daemon::new(cache, PoolTunables::default()));
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
