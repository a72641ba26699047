//! The DMU's error type.

use basin_pool::PoolError;

/// Everything that can go wrong in the DMU and the dataset layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DmuError {
    /// An error of the pool beneath.
    #[error(transparent)]
    Pool(#[from] PoolError),
    /// Bytes on disk that do not decode.
    #[error("corrupt {what}: {why}")]
    Corrupt {
        /// The structure.
        what: &'static str,
        /// What is wrong.
        why: String,
    },
    /// A dataset, snapshot, object or name that does not exist.
    #[error("{0}: does not exist")]
    NotFound(String),
    /// A name already taken.
    #[error("{0}: already exists")]
    Exists(String),
    /// A write over a quota.
    #[error("disk quota exceeded on '{0}'")]
    QuotaExceeded(String),
    /// The pool has no room for the change.
    #[error("out of space: {0}")]
    NoSpace(String),
    /// Something depends on the target.
    #[error("{0}")]
    Busy(String),
    /// A bad name.
    #[error("invalid name '{name}': {why}")]
    BadName {
        /// The name.
        name: String,
        /// The rule it breaks.
        why: String,
    },
    /// An unknown property.
    #[error("invalid property '{0}'")]
    UnknownProperty(String),
    /// A bad property value.
    #[error("'{prop}' must be {why}")]
    BadPropertyValue {
        /// The property.
        prop: String,
        /// What is expected.
        why: String,
    },
    /// A property that may not be changed.
    #[error("'{0}' is readonly")]
    ReadOnlyProperty(String),
    /// Changing a read-only dataset or snapshot.
    #[error("{0} is read-only")]
    ReadOnly(String),
    /// An operation that makes no sense for the target.
    #[error("{0}")]
    Invalid(String),
    /// A key too long or a value too large for a ZAP.
    #[error("{0}")]
    TooLarge(String),
}

impl DmuError {
    /// A decode failure of structure `what`.
    pub fn corrupt(what: &'static str, why: impl Into<String>) -> Self {
        DmuError::Corrupt {
            what,
            why: why.into(),
        }
    }

    /// The closest POSIX errno, for FUSE and NBD.
    pub fn errno(&self) -> i32 {
        match self {
            DmuError::Pool(p) => p.errno(),
            DmuError::Corrupt { .. } => libc::EIO,
            DmuError::NotFound(_) => libc::ENOENT,
            DmuError::Exists(_) => libc::EEXIST,
            DmuError::QuotaExceeded(_) => libc::EDQUOT,
            DmuError::NoSpace(_) => libc::ENOSPC,
            DmuError::Busy(_) => libc::EBUSY,
            DmuError::BadName { .. } => libc::EINVAL,
            DmuError::UnknownProperty(_) | DmuError::BadPropertyValue { .. } => libc::EINVAL,
            DmuError::ReadOnlyProperty(_) => libc::EINVAL,
            DmuError::ReadOnly(_) => libc::EROFS,
            DmuError::Invalid(_) => libc::EINVAL,
            DmuError::TooLarge(_) => libc::E2BIG,
        }
    }
}

/// The DMU's result type.
pub type Result<T> = std::result::Result<T, DmuError>;
