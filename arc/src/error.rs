//! The errors of the ARC layer.

use std::path::PathBuf;

/// Everything that can go wrong in the cache itself (a loader's own error is
/// returned as it is, never wrapped in this type).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ArcError {
    /// `set_limits` (or a configuration) was given limits that cannot hold.
    #[error("invalid ARC limits: arc_min {min} bytes is above arc_max {max} bytes; lower arc_min or raise arc_max")]
    InvalidLimits {
        /// The requested lower bound, in bytes.
        min: u64,
        /// The requested upper bound, in bytes.
        max: u64,
    },
    /// arc_max of zero would make a cache that can hold nothing.
    #[error("invalid ARC limits: arc_max must be at least 1 byte")]
    ZeroMax,
    /// A configuration value is out of range.
    #[error("invalid ARC configuration: {0}")]
    InvalidConfig(String),
    /// A memory statistics file could not be read.
    #[error("cannot read {path}: {source}")]
    ReadStats {
        /// The file that failed (for example `/proc/meminfo`).
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A memory statistics file did not have the expected shape.
    #[error("cannot parse {what}: {detail}")]
    ParseStats {
        /// Which file or format (for example `/proc/meminfo`).
        what: String,
        /// What was wrong with it.
        detail: String,
    },
    /// The pressure monitor thread could not be started.
    #[error("cannot start the ARC memory pressure monitor: {0}")]
    SpawnMonitor(#[source] std::io::Error),
    /// Statistics could not be encoded as JSON.
    #[error("cannot encode ARC statistics as JSON: {0}")]
    Json(#[from] serde_json::Error),
}
