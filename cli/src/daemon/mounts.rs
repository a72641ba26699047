//! Mounting datasets: the hook for the POSIX layer.
//!
//! [`Mounter`] is the mechanism: mount one filesystem where its
//! properties say, unmount one, say what is mounted where. The daemon holds
//! one in [`super::Daemon::mounts`]: [`super::fusemounts::FuseMounts`]
//! (zonefs through FUSE) in `basind`, [`NoMounts`] in unit tests. The
//! policy (which filesystems to mount when, in which order, what to do
//! around a rename, a rollback or a property change) is OpenZFS's and lives
//! with the `zfs` handlers in [`super::zfs::mount`].

use std::path::PathBuf;

use super::Imported;

/// What went wrong mounting or unmounting, worded as OpenZFS words it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MountError {
    /// The filesystem is in use and was not forced (the path is the
    /// mountpoint).
    #[error("cannot unmount '{0}': pool or dataset is busy")]
    Busy(String),
    /// Anything else, with a complete message.
    #[error("{0}")]
    Other(String),
}

/// One mounted filesystem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mounted {
    /// The dataset.
    pub dataset: String,
    /// Where it is mounted (with the daemon's mount root, if any).
    pub path: PathBuf,
}

/// Mounts and unmounts filesystems for the `zfs` and `zpool` commands.
pub trait Mounter: Send + Sync {
    /// Why nothing can be mounted here (no FUSE, not root), if so.
    fn unavailable(&self) -> Option<String>;

    /// True when filesystems mount by themselves (pool create and import,
    /// daemon start, `zfs create`, a new mountpoint); false with
    /// `basind --no-automount`, where only `zfs mount` mounts (as if every
    /// import were `zpool import -N` and every create `zfs create -u`).
    fn automount(&self) -> bool {
        true
    }

    /// True when filesystem `dataset` is mounted (`mounted` = `yes`).
    fn is_mounted(&self, dataset: &str) -> bool;

    /// Every mounted filesystem, in the order they were mounted.
    fn list(&self) -> Vec<Mounted>;

    /// Where mountpoint property value `mountpoint` (an absolute path) is
    /// mounted: under the daemon's mount root, if it has one.
    fn resolve(&self, mountpoint: &str) -> PathBuf;

    /// Mounts filesystem `dataset` of `imp` at its `mountpoint`, with the
    /// options its properties give (`readonly`, `atime`, `exec`, ...).
    /// The caller has checked that it may be mounted and is not.
    fn mount(&self, imp: &Imported, dataset: &str) -> Result<(), MountError>;

    /// Unmounts `dataset` (and nothing else); `force` for `-f`. Returns
    /// where it was mounted; unmounting what is not mounted does nothing.
    fn unmount(&self, dataset: &str, force: bool) -> Result<Option<PathBuf>, MountError>;

    /// Closes the snapshots the mount of `dataset` opened under
    /// `.zfs/snapshot` (before one is destroyed or renamed).
    fn release_snapshots(&self, dataset: &str);

    /// Unmounts every filesystem of pool `pool`, children first, by force
    /// (export, destroy, shutdown); failures are the mounter's to log.
    fn unmount_pool(&self, pool: &str);
}

/// Nothing is ever mounted (unit tests of the handlers).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoMounts;

impl Mounter for NoMounts {
    fn unavailable(&self) -> Option<String> {
        Some("this daemon does not mount filesystems".into())
    }

    fn automount(&self) -> bool {
        false
    }

    fn is_mounted(&self, _dataset: &str) -> bool {
        false
    }

    fn list(&self) -> Vec<Mounted> {
        Vec::new()
    }

    fn resolve(&self, mountpoint: &str) -> PathBuf {
        PathBuf::from(mountpoint)
    }

    fn mount(&self, _imp: &Imported, dataset: &str) -> Result<(), MountError> {
        Err(MountError::Other(format!(
            "cannot mount '{dataset}': this daemon does not mount filesystems"
        )))
    }

    fn unmount(&self, _dataset: &str, _force: bool) -> Result<Option<PathBuf>, MountError> {
        Ok(None)
    }

    fn release_snapshots(&self, _dataset: &str) {}

    fn unmount_pool(&self, _pool: &str) {}
}
