//! Requests and results of the `zpool.*` ops.
//!
//! Results carry raw figures (bytes, counts, seconds since the epoch) and
//! both the human and the exact form of property values; the client does
//! all the formatting. Every field added later must be optional
//! (`#[serde(default)]`) so that older peers still decode.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::WireError;

/// One `-o property=value`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PropSetting {
    /// Property name.
    pub property: String,
    /// Value as given.
    pub value: String,
}

/// `zpool create [-f] [-o prop=val]... [-O prop=val]... NAME VDEV...`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateRequest {
    /// Pool name.
    pub name: String,
    /// The vdev words: absolute paths, device names, `mirror`.
    pub vdevs: Vec<String>,
    /// `-f`.
    #[serde(default)]
    pub force: bool,
    /// `-o` settings (pool properties).
    #[serde(default)]
    pub props: Vec<PropSetting>,
    /// `-O` settings (properties of the root filesystem).
    #[serde(default)]
    pub fs_props: Vec<PropSetting>,
    /// The command line, for the pool history.
    #[serde(default)]
    pub command: String,
}

/// A pool that was created or imported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolRef {
    /// Its name.
    pub name: String,
    /// Its guid.
    pub guid: u64,
}

/// `zpool destroy [-f] NAME`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DestroyRequest {
    /// Pool name.
    pub name: String,
    /// `-f`.
    #[serde(default)]
    pub force: bool,
    /// The command line.
    #[serde(default)]
    pub command: String,
}

/// `zpool export [-f] NAME`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportRequest {
    /// Pool name.
    pub name: String,
    /// `-f`.
    #[serde(default)]
    pub force: bool,
    /// The command line, recorded in the history before the export.
    #[serde(default)]
    pub command: String,
}

/// `zpool import [-d DIR]... [-D]`: the pools that could be imported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportScanRequest {
    /// Directories to search (absolute); empty means `/dev`.
    #[serde(default)]
    pub dirs: Vec<PathBuf>,
    /// `-D`: destroyed pools only.
    #[serde(default)]
    pub destroyed: bool,
}

/// Why a pool found on devices can or cannot be imported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ImportStatus {
    /// It can be imported.
    Ok,
    /// Another process or host is using it now.
    InUse {
        /// Host name in the labels.
        host: String,
        /// Host id of the user.
        hostid: u32,
        /// Its process id, when it runs on this host.
        #[serde(default)]
        pid: Option<u32>,
    },
    /// Last used by another host and not exported: needs `-f`.
    Foreign {
        /// Host name in the labels.
        host: String,
        /// Its host id.
        hostid: u32,
    },
    /// Devices are missing.
    MissingDevices,
}

/// A pool found on devices.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportCandidate {
    /// Name in the labels.
    pub name: String,
    /// Pool guid.
    pub guid: u64,
    /// `active`, `exported` or `destroyed`, as the labels say.
    pub pool_state: String,
    /// Health as found (ONLINE, DEGRADED, UNAVAIL).
    pub health: String,
    /// What stands in the way of an import.
    pub status: ImportStatus,
    /// The vdev tree as found.
    pub config: VdevNode,
}

/// The answer to [`ImportScanRequest`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportScanResult {
    /// What was found.
    pub candidates: Vec<ImportCandidate>,
}

/// `zpool import [-d DIR]... [-f] [-D] POOL [NEWNAME]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportRequest {
    /// Directories to search (absolute); empty means `/dev`.
    #[serde(default)]
    pub dirs: Vec<PathBuf>,
    /// A pool name or a numeric guid.
    pub pool: String,
    /// Import under this name.
    #[serde(default)]
    pub new_name: Option<String>,
    /// `-f`.
    #[serde(default)]
    pub force: bool,
    /// `-D`.
    #[serde(default)]
    pub destroyed: bool,
    /// The command line.
    #[serde(default)]
    pub command: String,
}

/// Pool properties (`zpool get`, `zpool list`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetRequest {
    /// Pools; empty means all.
    #[serde(default)]
    pub names: Vec<String>,
    /// Property names, or `all`.
    pub props: Vec<String>,
}

/// One property value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PropEntry {
    /// Property name.
    pub property: String,
    /// Value for people.
    pub value: String,
    /// Exact value (`-p`).
    pub exact: String,
    /// `-`, `local` or `default`.
    pub source: String,
}

/// The properties of one pool.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolProps {
    /// Pool name.
    pub name: String,
    /// Pool guid.
    pub guid: u64,
    /// Health.
    pub state: String,
    /// Last synced txg.
    pub txg: u64,
    /// The values, in the order asked.
    pub properties: Vec<PropEntry>,
}

/// The answer to [`GetRequest`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetResult {
    /// Pools found.
    pub pools: Vec<PoolProps>,
    /// One error per pool that could not be read ("no such pool").
    #[serde(default)]
    pub errors: Vec<WireError>,
}

/// `zpool set PROP=VAL NAME`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetRequest {
    /// Pool name.
    pub name: String,
    /// Property.
    pub property: String,
    /// Value.
    pub value: String,
    /// The command line.
    #[serde(default)]
    pub command: String,
}

/// `zpool status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusRequest {
    /// Pools; empty means all.
    #[serde(default)]
    pub names: Vec<String>,
    /// `-v`: list the files with permanent errors.
    #[serde(default)]
    pub verbose: bool,
}

/// A vdev and its children, with state and error counters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VdevNode {
    /// Display name: the pool name for the root, `mirror-0`, a path.
    pub name: String,
    /// `root`, `mirror`, `file`, `disk`...
    pub vdev_type: String,
    /// Its guid.
    pub guid: u64,
    /// Path of a leaf.
    #[serde(default)]
    pub path: Option<String>,
    /// ONLINE, DEGRADED, FAULTED, OFFLINE, UNAVAIL, REMOVED.
    pub state: String,
    /// Why it is not online ("cannot open").
    #[serde(default)]
    pub aux: Option<String>,
    /// Failed reads.
    #[serde(default)]
    pub read_errors: u64,
    /// Failed writes.
    #[serde(default)]
    pub write_errors: u64,
    /// Checksum failures.
    #[serde(default)]
    pub checksum_errors: u64,
    /// Children.
    #[serde(default)]
    pub children: Vec<VdevNode>,
}

/// A scrub or resilver, as the pool root records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanInfo {
    /// `scrub` or `resilver`.
    pub function: String,
    /// `scanning`, `finished`, `canceled`.
    pub state: String,
    /// Seconds since the epoch.
    pub start_time: u64,
    /// Seconds since the epoch, 0 while running.
    pub end_time: u64,
    /// Bytes to look at.
    pub to_examine: u64,
    /// Bytes looked at.
    pub examined: u64,
    /// Bytes repaired.
    pub repaired: u64,
    /// Errors found.
    pub errors: u64,
    /// Bytes listed (the traversal's progress).
    #[serde(default)]
    pub scanned: u64,
    /// When this pass (start or resume) began.
    #[serde(default)]
    pub pass_start: u64,
    /// Bytes examined when this pass began.
    #[serde(default)]
    pub pass_examined: u64,
    /// When it was paused (0: not paused).
    #[serde(default)]
    pub pause_time: u64,
}

/// The status of one pool.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolStatus {
    /// Pool name.
    pub name: String,
    /// Pool guid.
    pub guid: u64,
    /// Health.
    pub state: String,
    /// Last synced txg.
    pub txg: u64,
    /// Why the pool is suspended, when it is.
    #[serde(default)]
    pub suspended: Option<String>,
    /// The last or current scan.
    #[serde(default)]
    pub scan: Option<ScanInfo>,
    /// Blocks that could not be read from any copy.
    #[serde(default)]
    pub data_errors: u64,
    /// Allocated bytes.
    #[serde(default)]
    pub allocated: u64,
    /// Allocatable bytes.
    #[serde(default)]
    pub size: u64,
    /// The vdev tree, rooted at the pool.
    pub config: VdevNode,
    /// With `-v`: the files (or objects) with permanent errors, named as
    /// OpenZFS names them (`/mnt/file`, `pool/fs:<0x1f>`, `<metadata>:<0x0>`).
    #[serde(default)]
    pub error_files: Vec<String>,
}

/// The answer to [`StatusRequest`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusResult {
    /// Pools found.
    pub pools: Vec<PoolStatus>,
    /// One error per pool that could not be read.
    #[serde(default)]
    pub errors: Vec<WireError>,
}

/// `zpool history`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryRequest {
    /// Pools; empty means all.
    #[serde(default)]
    pub names: Vec<String>,
}

/// One history record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// Seconds since the epoch.
    pub time: u64,
    /// The command line, or an internal event.
    pub command: String,
    /// An internal event (`-i`).
    #[serde(default)]
    pub internal: bool,
    /// Txg in which it was recorded.
    #[serde(default)]
    pub txg: u64,
    /// Host that ran it.
    #[serde(default)]
    pub host: String,
}

/// The history of one pool.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolHistory {
    /// Pool name.
    pub name: String,
    /// Records, oldest first.
    pub records: Vec<HistoryEntry>,
}

/// The answer to [`HistoryRequest`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryResult {
    /// Pools found.
    pub pools: Vec<PoolHistory>,
    /// One error per pool that could not be read.
    #[serde(default)]
    pub errors: Vec<WireError>,
}

/// The empty result of ops that only succeed or fail.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Done {}

/// What `zpool scrub` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScrubAction {
    /// Start a scrub, or resume a paused one.
    Start,
    /// `-p`: pause it.
    Pause,
    /// `-s`: stop (cancel) it.
    Stop,
}

/// `zpool scrub [-s | -p] pool...`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScrubRequest {
    /// Pools.
    pub names: Vec<String>,
    /// What to do.
    pub action: ScrubAction,
    /// The command line.
    #[serde(default)]
    pub command: String,
}

/// The answer to [`ScrubRequest`]: one error per pool that refused.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScrubResult {
    /// Refusals ("currently scrubbing", "no such pool").
    #[serde(default)]
    pub errors: Vec<WireError>,
}

/// A change of a pool's vdevs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VdevOp {
    /// `zpool offline [-t]`.
    Offline,
    /// `zpool online`.
    Online,
    /// `zpool clear [device]`.
    Clear,
    /// `zpool attach`.
    Attach,
    /// `zpool detach`.
    Detach,
    /// `zpool replace`.
    Replace,
}

impl VdevOp {
    /// The command's name.
    pub fn name(self) -> &'static str {
        match self {
            VdevOp::Offline => "offline",
            VdevOp::Online => "online",
            VdevOp::Clear => "clear",
            VdevOp::Attach => "attach",
            VdevOp::Detach => "detach",
            VdevOp::Replace => "replace",
        }
    }
}

/// `zpool offline|online|clear|attach|detach|replace pool device [new]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VdevRequest {
    /// Pool name.
    pub name: String,
    /// The change (not `op`: that names the request on the wire).
    pub change: VdevOp,
    /// The device named (none: every device, for clear).
    #[serde(default)]
    pub device: Option<String>,
    /// The new device (attach, replace).
    #[serde(default)]
    pub new_device: Option<String>,
    /// `-f`: use a device that holds another pool's label.
    #[serde(default)]
    pub force: bool,
    /// `-t` (offline): until the next import only.
    #[serde(default)]
    pub temporary: bool,
    /// The command line.
    #[serde(default)]
    pub command: String,
}

/// `zinject -d device -e kind [-T ops] [-f freq] pool`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InjectRequest {
    /// Pool name.
    pub name: String,
    /// The device.
    pub device: String,
    /// `io`, `checksum` or `nxio`.
    pub kind: String,
    /// `read`, `write` or `all`.
    pub ops: String,
    /// Percentage of I/Os hit.
    pub frequency: f64,
}

/// One injection rule in force.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InjectRule {
    /// Its number (for `zinject -c`).
    pub id: u64,
    /// Pool.
    pub pool: String,
    /// Device path.
    pub device: String,
    /// `io`, `checksum` or `nxio`.
    pub kind: String,
    /// `read`, `write` or `all`.
    pub ops: String,
    /// Percentage of I/Os hit.
    pub frequency: f64,
}

/// The rules in force.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct InjectList {
    /// Every rule.
    pub rules: Vec<InjectRule>,
}

/// `zinject -c id|all`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InjectClearRequest {
    /// The rule to remove; `None` for all.
    #[serde(default)]
    pub id: Option<u64>,
}

/// How many rules were removed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InjectCleared {
    /// Rules removed.
    pub removed: u64,
}
