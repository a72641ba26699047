//! Mounting datasets: the hook for the POSIX layer.
//!
//! The FUSE front end (`zonefs`) will implement [`Mounter`] and the daemon
//! will hold it in [`super::Daemon::mounts`]; the `zfs` handlers already
//! call it at every point where OpenZFS mounts, unmounts or asks whether a
//! filesystem is mounted (`mounted` in `zfs list` and `zfs get`). Until
//! then [`NoMounts`] says that nothing is mounted and does nothing.

/// What went wrong mounting or unmounting.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MountError {
    /// The filesystem is in use and was not forced.
    #[error("cannot unmount '{0}': filesystem is busy")]
    Busy(String),
    /// Anything else, with a complete message.
    #[error("{0}")]
    Other(String),
}

/// Mounts and unmounts filesystems for the `zfs` commands.
pub trait Mounter: Send + Sync {
    /// True when filesystem `dataset` is mounted (`mounted` = `yes`).
    fn is_mounted(&self, dataset: &str) -> bool;

    /// Mounts a filesystem just created, cloned or renamed, when its
    /// `canmount` and `mountpoint` say so.
    fn mount(&self, dataset: &str) -> Result<(), MountError>;

    /// Unmounts `dataset` and everything below it, before a destroy,
    /// rollback or rename; `force` for `-f`.
    fn unmount(&self, dataset: &str, force: bool) -> Result<(), MountError>;

    /// Unmounts every filesystem of pool `pool` (export, destroy,
    /// shutdown); failures are the mounter's to log.
    fn unmount_pool(&self, pool: &str);
}

/// No POSIX layer yet: nothing is ever mounted.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoMounts;

impl Mounter for NoMounts {
    fn is_mounted(&self, _dataset: &str) -> bool {
        false
    }

    fn mount(&self, _dataset: &str) -> Result<(), MountError> {
        Ok(())
    }

    fn unmount(&self, _dataset: &str, _force: bool) -> Result<(), MountError> {
        Ok(())
    }

    fn unmount_pool(&self, _pool: &str) {}
}
