//! The POSIX layer's error type: every error carries the errno a system
//! call returns.

use basin_dmu::DmuError;

/// An error of a filesystem operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FsError {
    /// An error of the DMU or the pool beneath.
    #[error(transparent)]
    Dmu(#[from] DmuError),
    /// A plain errno with a reason.
    #[error("{msg} (errno {errno})")]
    Errno {
        /// The errno.
        errno: i32,
        /// Why.
        msg: String,
    },
    /// On-disk POSIX structures that do not decode.
    #[error("corrupt filesystem structure: {0}")]
    Corrupt(String),
}

impl FsError {
    /// An errno error.
    pub fn errno(errno: i32, msg: impl Into<String>) -> FsError {
        FsError::Errno {
            errno,
            msg: msg.into(),
        }
    }

    /// The errno to return to the kernel.
    pub fn code(&self) -> i32 {
        match self {
            FsError::Dmu(e) => e.errno(),
            FsError::Errno { errno, .. } => *errno,
            FsError::Corrupt(_) => libc::EIO,
        }
    }
}

impl From<basin_pool::PoolError> for FsError {
    fn from(e: basin_pool::PoolError) -> Self {
        FsError::Dmu(DmuError::Pool(e))
    }
}

/// The POSIX layer's result type.
pub type Result<T> = std::result::Result<T, FsError>;

/// Shorthand for an errno error.
pub fn err<T>(errno: i32, msg: impl Into<String>) -> Result<T> {
    Err(FsError::errno(errno, msg))
}
