//! The pool layer's error type.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong in the pool layer.
///
/// Messages are written for an operator: they name the vdev, pool or value at
/// fault and, where there is one, the way out.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PoolError {
    /// An I/O error on a named device.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The device or file.
        path: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A vdev path that does not exist.
    #[error("cannot open '{}': no such file or device (file vdevs must exist: create them with truncate -s SIZE)", .0.display())]
    MissingVdev(PathBuf),
    /// A vdev that is too small to hold a pool.
    #[error("vdev {path} is too small: {size} bytes, the minimum is {min} bytes (64 MiB)")]
    VdevTooSmall {
        /// The device.
        path: String,
        /// Its size.
        size: u64,
        /// The minimum.
        min: u64,
    },
    /// The same vdev named twice.
    #[error("vdev {0} is named more than once")]
    DuplicateVdev(String),
    /// A vdev that already belongs to a pool.
    #[error("vdev {path} is part of {state} pool '{pool}' (guid {guid:016x}); use -f to override")]
    VdevInUse {
        /// The device.
        path: String,
        /// The pool it belongs to.
        pool: String,
        /// That pool's guid.
        guid: u64,
        /// "active", "exported", "destroyed".
        state: String,
    },
    /// A vdev another process holds open.
    #[error("vdev {0} is in use by another process (it holds an exclusive lock on it)")]
    VdevLocked(String),
    /// A pool that is in use on a live host.
    #[error("pool '{pool}' is in use on host {host} (hostid {hostid:08x}, last heartbeat {age_secs} s ago); export it there first, or use -f to force")]
    PoolActive {
        /// The pool.
        pool: String,
        /// Hostname.
        host: String,
        /// Host id.
        hostid: u32,
        /// Seconds since the last heartbeat.
        age_secs: u64,
    },
    /// A pool last used by another system and not exported.
    #[error("pool '{pool}' was last accessed by another system (host {host}, hostid {hostid:08x}) and not exported; use -f to import it anyway")]
    PoolForeign {
        /// The pool.
        pool: String,
        /// Hostname.
        host: String,
        /// Host id.
        hostid: u32,
    },
    /// A pool name that breaks the naming rules.
    #[error("invalid pool name '{name}': {why}")]
    BadPoolName {
        /// The name.
        name: String,
        /// The rule it breaks.
        why: &'static str,
    },
    /// A vdev specification that makes no sense.
    #[error("invalid vdev specification: {0}")]
    BadVdevSpec(String),
    /// A property name that is not known.
    #[error("unknown pool property '{0}'")]
    UnknownProperty(String),
    /// A property value that is not valid.
    #[error("invalid value '{value}' for pool property '{prop}': {why}")]
    BadPropertyValue {
        /// The property.
        prop: String,
        /// The value given.
        value: String,
        /// What is expected.
        why: String,
    },
    /// A property that may not be changed.
    #[error("pool property '{0}' is read-only")]
    ReadOnlyProperty(String),
    /// Nothing was found to import.
    #[error("no pool named '{0}' found to import")]
    NoSuchPool(String),
    /// No usable label on a vdev.
    #[error("no valid label on {0}")]
    NoLabel(String),
    /// No usable uberblock on any label of the pool.
    #[error("pool '{0}': no valid uberblock whose tree reads back; the pool cannot be opened")]
    NoUberblock(String),
    /// Devices of the pool are missing, so it cannot be opened.
    #[error("pool '{pool}' cannot be opened: {detail}")]
    MissingDevices {
        /// The pool.
        pool: String,
        /// Which devices are missing.
        detail: String,
    },
    /// The pool is out of space.
    #[error("out of space in pool '{pool}' ({needed} bytes needed, {available} available)")]
    NoSpace {
        /// The pool.
        pool: String,
        /// Bytes asked for.
        needed: u64,
        /// Bytes available to this kind of write.
        available: u64,
    },
    /// A block failed its checksum on every copy.
    #[error("checksum error: block {0} could not be read from any copy")]
    Checksum(String),
    /// A block could not be read at all.
    #[error("cannot read block {0}: every copy failed")]
    Unreadable(String),
    /// Bytes on disk that do not decode.
    #[error("corrupt {what}: {why}")]
    Corrupt {
        /// The structure.
        what: &'static str,
        /// What is wrong with it.
        why: String,
    },
    /// The pool has been suspended after a failure it cannot work around.
    #[error("pool '{0}' is suspended after a write failure; export and re-import it")]
    Suspended(String),
    /// An operation on a pool that is being exported or has been closed.
    #[error("pool '{0}' is closed")]
    Closed(String),
    /// A change asked of a pool opened read-only (by the checker).
    #[error("pool '{0}' is open read-only: nothing may be written to it")]
    ReadOnlyPool(String),
    /// Something the pool does not do (yet).
    #[error("{0}")]
    Unsupported(String),
    /// A scrub or resilver request that the current scan state refuses.
    #[error("{0}")]
    ScanBusy(String),
    /// A vdev operation (offline, attach, replace...) that cannot be done.
    #[error("cannot {op} {vdev}: {why}")]
    VdevOp {
        /// The operation.
        op: &'static str,
        /// The vdev named.
        vdev: String,
        /// Why not.
        why: String,
    },
    /// No vdev of the pool goes by that name.
    #[error("no such device in pool '{pool}': {vdev}")]
    NoSuchVdev {
        /// The pool.
        pool: String,
        /// The name given.
        vdev: String,
    },
}

impl PoolError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<String>, source: io::Error) -> Self {
        PoolError::Io {
            path: path.into(),
            source,
        }
    }

    /// A decode failure of structure `what`.
    pub fn corrupt(what: &'static str, why: impl Into<String>) -> Self {
        PoolError::Corrupt {
            what,
            why: why.into(),
        }
    }

    /// The closest POSIX errno, for the FUSE and NBD front ends.
    pub fn errno(&self) -> i32 {
        match self {
            PoolError::NoSpace { .. } => libc::ENOSPC,
            PoolError::Checksum(_) | PoolError::Unreadable(_) | PoolError::Corrupt { .. } => {
                libc::EIO
            }
            PoolError::Io { source, .. } => source.raw_os_error().unwrap_or(libc::EIO),
            PoolError::Suspended(_) | PoolError::Closed(_) => libc::EIO,
            PoolError::MissingVdev(_) | PoolError::NoSuchPool(_) => libc::ENOENT,
            PoolError::VdevLocked(_) | PoolError::PoolActive { .. } => libc::EBUSY,
            PoolError::Unsupported(_) => libc::ENOTSUP,
            PoolError::ReadOnlyPool(_) => libc::EROFS,
            PoolError::ScanBusy(_) => libc::EBUSY,
            PoolError::NoSuchVdev { .. } => libc::ENODEV,
            _ => libc::EINVAL,
        }
    }
}

/// The pool layer's result type.
pub type Result<T> = std::result::Result<T, PoolError>;
