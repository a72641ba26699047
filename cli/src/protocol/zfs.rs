//! Requests and results of the `zfs.*` ops.
//!
//! Every op that changes a pool carries its command line for the pool
//! history. Property values travel in both forms (for people and exact),
//! with their source; the client sorts, lays out and prints. Fields added
//! later must be optional (`#[serde(default)]`).

use serde::{Deserialize, Serialize};

use super::zpool::PropSetting;
use super::WireError;

/// `zfs create [-p] [-o prop=val]... [-V size [-b blocksize] [-s]] NAME`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateRequest {
    /// The new dataset.
    pub name: String,
    /// `-V`: a volume of this size (as given: `10G`).
    #[serde(default)]
    pub volsize: Option<String>,
    /// `-b`: the volume block size (as given).
    #[serde(default)]
    pub volblocksize: Option<String>,
    /// `-s`: a sparse volume (no reservation).
    #[serde(default)]
    pub sparse: bool,
    /// `-p`: create missing parents.
    #[serde(default)]
    pub parents: bool,
    /// `-o` settings.
    #[serde(default)]
    pub props: Vec<PropSetting>,
    /// `-u`: do not mount the new filesystem.
    #[serde(default)]
    pub no_mount: bool,
    /// The command line, for the history.
    #[serde(default)]
    pub command: String,
}

/// `zfs destroy [-rRdfnvp] NAME`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DestroyRequest {
    /// A filesystem, volume or `fs@snap` (every child's `@snap` with `-r`).
    pub name: String,
    /// `-r`: descendants too.
    #[serde(default)]
    pub recursive: bool,
    /// `-R`: dependents (clones) too.
    #[serde(default)]
    pub dependents: bool,
    /// `-d`: defer the destroy of held snapshots.
    #[serde(default)]
    pub defer: bool,
    /// `-f`: unmount by force.
    #[serde(default)]
    pub force: bool,
    /// `-n`: only say what would go.
    #[serde(default)]
    pub dry_run: bool,
    /// The command line.
    #[serde(default)]
    pub command: String,
}

/// What a destroy did (or would do).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DestroyResult {
    /// The datasets destroyed (or that would be), in order.
    pub destroyed: Vec<String>,
    /// For snapshots: the bytes freed (or that would be).
    #[serde(default)]
    pub reclaim: Option<u64>,
}

/// Datasets and properties: `zfs list` and `zfs get`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryRequest {
    /// Datasets named on the command line; empty means every pool.
    #[serde(default)]
    pub names: Vec<String>,
    /// `-r`: descendants too.
    #[serde(default)]
    pub recursive: bool,
    /// `-d`: at most this many levels below each name.
    #[serde(default)]
    pub depth: Option<u64>,
    /// Types to show (`filesystem`, `volume`, `snapshot`); empty means
    /// filesystems and volumes, with snapshots when the pool's
    /// `listsnapshots` is on.
    #[serde(default)]
    pub types: Vec<String>,
    /// Properties wanted, or `all`.
    pub props: Vec<String>,
}

/// One property value of one dataset.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PropValue {
    /// Property name.
    pub property: String,
    /// Value for people (`1.50M`).
    pub value: String,
    /// Exact value (`-p`) when it differs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exact: Option<String>,
    /// `local`, `default`, `inherited`, `temporary`, `received` or `none`
    /// (left out on the wire).
    #[serde(default = "source_none", skip_serializing_if = "is_source_none")]
    pub source: String,
    /// The dataset it is inherited from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inherited_from: Option<String>,
}

fn source_none() -> String {
    "none".into()
}

#[allow(clippy::ptr_arg)] // serde hands the field itself
fn is_source_none(s: &String) -> bool {
    s == "none"
}

impl PropValue {
    /// The exact value.
    pub fn exact(&self) -> &str {
        self.exact.as_deref().unwrap_or(&self.value)
    }

    /// The value with `-p` (exact) or without.
    pub fn shown(&self, literal: bool) -> &str {
        if literal {
            self.exact()
        } else {
            &self.value
        }
    }

    /// The SOURCE column of `zfs get`.
    pub fn source_text(&self) -> String {
        match (self.source.as_str(), &self.inherited_from) {
            ("inherited", Some(from)) => format!("inherited from {from}"),
            ("none", _) => "-".into(),
            (s, _) => s.to_string(),
        }
    }
}

/// One dataset with the properties asked for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetRow {
    /// Full name.
    pub name: String,
    /// `filesystem`, `volume` or `snapshot`.
    #[serde(rename = "type")]
    pub dataset_type: String,
    /// The pool.
    pub pool: String,
    /// The txg it was created in (orders snapshots).
    pub createtxg: u64,
    /// Values, in the order asked (for `all`: those that apply).
    pub properties: Vec<PropValue>,
}

/// The answer to [`QueryRequest`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryResult {
    /// Datasets found, in no particular order.
    pub datasets: Vec<DatasetRow>,
    /// One error per name that could not be opened.
    #[serde(default)]
    pub errors: Vec<WireError>,
}

/// `zfs set PROP=VAL... NAME...`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetRequest {
    /// Datasets.
    pub names: Vec<String>,
    /// Settings.
    pub props: Vec<PropSetting>,
    /// The command line.
    #[serde(default)]
    pub command: String,
}

/// `zfs inherit [-r] PROP NAME...`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InheritRequest {
    /// Datasets.
    pub names: Vec<String>,
    /// Property.
    pub property: String,
    /// `-r`.
    #[serde(default)]
    pub recursive: bool,
    /// The command line.
    #[serde(default)]
    pub command: String,
}

/// `zfs snapshot [-r] [-o prop=val]... NAME@SNAP...`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotRequest {
    /// Snapshot names.
    pub names: Vec<String>,
    /// `-r`: every descendant too.
    #[serde(default)]
    pub recursive: bool,
    /// `-o` settings.
    #[serde(default)]
    pub props: Vec<PropSetting>,
    /// The command line.
    #[serde(default)]
    pub command: String,
}

/// `zfs rollback [-rRf] SNAP`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollbackRequest {
    /// The snapshot.
    pub snapshot: String,
    /// `-r`: destroy later snapshots.
    #[serde(default)]
    pub recursive: bool,
    /// `-R`: and their clones.
    #[serde(default)]
    pub dependents: bool,
    /// `-f`: unmount by force.
    #[serde(default)]
    pub force: bool,
    /// The command line.
    #[serde(default)]
    pub command: String,
}

/// `zfs clone [-p] [-o prop=val]... SNAP NAME`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloneRequest {
    /// The origin snapshot.
    pub snapshot: String,
    /// The new dataset.
    pub name: String,
    /// `-p`.
    #[serde(default)]
    pub parents: bool,
    /// `-o` settings.
    #[serde(default)]
    pub props: Vec<PropSetting>,
    /// The command line.
    #[serde(default)]
    pub command: String,
}

/// `zfs promote CLONE`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromoteRequest {
    /// The clone.
    pub name: String,
    /// The command line.
    #[serde(default)]
    pub command: String,
}

/// `zfs rename [-p] [-r] OLD NEW`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenameRequest {
    /// Current name.
    pub old: String,
    /// New name.
    pub new: String,
    /// `-p`: create missing parents of the new name.
    #[serde(default)]
    pub parents: bool,
    /// `-r`: rename the snapshot of every descendant too.
    #[serde(default)]
    pub recursive: bool,
    /// `-f`: unmount what must be unmounted even when busy.
    #[serde(default)]
    pub force: bool,
    /// The command line.
    #[serde(default)]
    pub command: String,
}

/// `zfs hold [-r] TAG SNAP...` and `zfs release [-r] TAG SNAP...`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldRequest {
    /// The tag.
    pub tag: String,
    /// Snapshots.
    pub snapshots: Vec<String>,
    /// `-r`: the same snapshot of every descendant too.
    #[serde(default)]
    pub recursive: bool,
    /// The command line.
    #[serde(default)]
    pub command: String,
}

/// `zfs holds [-r] SNAP...`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldsRequest {
    /// Snapshots.
    pub snapshots: Vec<String>,
    /// `-r`.
    #[serde(default)]
    pub recursive: bool,
}

/// One hold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    /// The tag.
    pub tag: String,
    /// When it was placed, in seconds since the epoch.
    pub time: u64,
}

/// The holds of one snapshot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotHolds {
    /// The snapshot.
    pub name: String,
    /// Its holds, by tag.
    pub holds: Vec<Hold>,
}

/// The answer to [`HoldsRequest`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldsResult {
    /// Snapshots found, in the order asked.
    pub snapshots: Vec<SnapshotHolds>,
    /// One error per name that could not be opened.
    #[serde(default)]
    pub errors: Vec<WireError>,
}

/// `zfs diff SNAP [SNAP|FS]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffRequest {
    /// The earlier snapshot.
    pub from: String,
    /// A later snapshot or filesystem; none means the head of `from`'s.
    #[serde(default)]
    pub to: Option<String>,
}

/// One changed object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffChange {
    /// `+`, `-` or `M`.
    pub change: String,
    /// Its path, or `<object N>` until paths are known.
    pub path: String,
}

/// The answer to [`DiffRequest`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffResult {
    /// Changes, in object order.
    pub changes: Vec<DiffChange>,
}

/// `zfs mount [-a] [NAME]`: with neither, the mounted filesystems.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountRequest {
    /// The filesystem to mount.
    #[serde(default)]
    pub name: Option<String>,
    /// `-a`: every filesystem that mounts automatically.
    #[serde(default)]
    pub all: bool,
}

/// One mounted filesystem.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountEntry {
    /// The filesystem.
    pub name: String,
    /// Where it is mounted.
    pub mountpoint: String,
}

/// The answer to [`MountRequest`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountResult {
    /// The filesystems mounted now, in the order they were mounted (the
    /// listing of `zfs mount` with no argument).
    #[serde(default)]
    pub mounted: Vec<MountEntry>,
    /// `-a`: one error per filesystem that could not be mounted.
    #[serde(default)]
    pub errors: Vec<WireError>,
}

/// `zfs unmount [-f] -a | NAME | MOUNTPOINT`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnmountRequest {
    /// A filesystem, or a mountpoint (an absolute path).
    #[serde(default)]
    pub target: Option<String>,
    /// `-a`: every mounted filesystem.
    #[serde(default)]
    pub all: bool,
    /// `-f`: even when busy.
    #[serde(default)]
    pub force: bool,
}

/// The answer to [`UnmountRequest`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnmountResult {
    /// `-a`: one error per filesystem that could not be unmounted.
    #[serde(default)]
    pub errors: Vec<WireError>,
}

/// The answer to a change that mounts or unmounts on the way (create,
/// clone, rename, rollback, set, inherit): what went wrong mounting after
/// the change was made, printed as warnings ("filesystem successfully
/// created, but not mounted"). Older clients read it as an empty answer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changed {
    /// Messages for stderr.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}
