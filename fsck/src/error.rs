//! The checker's error type: what stops it from examining a pool at all.
//! Problems found *in* a pool are not errors but findings
//! ([`crate::check::Problem`]).

use std::path::PathBuf;

use basin_dmu::DmuError;
use basin_pool::PoolError;

/// Everything that keeps the checker from opening or reading a pool.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FsckError {
    /// An error of the pool layer (opening the devices, importing).
    #[error(transparent)]
    Pool(#[from] PoolError),
    /// An error of the dataset layer.
    #[error(transparent)]
    Dmu(#[from] DmuError),
    /// Nothing to examine was named.
    #[error("no pool to examine: name its vdevs (files or block devices), or a pool name with -p DIR to search")]
    NothingNamed,
    /// A path that cannot be examined.
    #[error("cannot open '{}': {why}", .path.display())]
    BadPath {
        /// The path.
        path: PathBuf,
        /// Why.
        why: String,
    },
    /// No pool by that name on the devices searched.
    #[error("no pool {what} found on {searched}")]
    NoPool {
        /// "named 'tank'" or an empty string.
        what: String,
        /// The devices or folders searched.
        searched: String,
    },
    /// Several pools found and none named.
    #[error("several pools found ({0}): name the one to examine")]
    Ambiguous(String),
    /// A live process holds the pool imported.
    #[error("pool '{pool}' is imported by a live process (it holds an exclusive lock on {}); export it first ('zpool export {pool}'), or examine a copy of its vdevs", .path.display())]
    Imported {
        /// The pool, as its labels name it.
        pool: String,
        /// A locked vdev.
        path: PathBuf,
    },
    /// Wrong use of the command.
    #[error("{0}")]
    Usage(String),
}

/// The checker's result type.
pub type Result<T> = std::result::Result<T, FsckError>;
