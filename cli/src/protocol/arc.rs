//! Requests and results of the daemon-wide ARC ops: `zpool arcstat` reads
//! the cache's counters ([`basin_arc::ArcStats`], serialised as is), and
//! `zpool get|set arc_max,arc_min` without a pool read and change its
//! limits at run time.

use serde::{Deserialize, Serialize};

/// The daemon-wide properties `zpool get` and `zpool set` know without a
/// pool.
pub const TUNABLES: &[&str] = &["arc_max", "arc_min"];

/// `zpool get arc_max,arc_min`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TunablesRequest {
    /// Names, or `all`.
    pub props: Vec<String>,
}

/// One daemon-wide property.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tunable {
    /// Name.
    pub property: String,
    /// Value for people (`1.00G`).
    pub value: String,
    /// Exact value (`-p`).
    pub exact: String,
    /// `local` (set by `--arc-max`, `--arc-min` or `zpool set`) or
    /// `default`.
    pub source: String,
}

/// The answer to [`TunablesRequest`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TunablesResult {
    /// Values, in the order asked.
    pub tunables: Vec<Tunable>,
}

/// `zpool set arc_max=SIZE` (no pool).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetTunableRequest {
    /// Name.
    pub property: String,
    /// Value as given (`2G`).
    pub value: String,
}
