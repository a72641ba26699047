//! Vdev labels: four copies of the pool's configuration and the uberblock
//! ring on every leaf vdev, two at the front and two at the back.
//!
//! Layout of one label ([`LABEL_SIZE`] = 256 KiB):
//!
//! | offset | size | content |
//! |---|---|---|
//! | 0      | 8 KiB   | blank (room for a partition table or boot code) |
//! | 8 KiB  | 8 KiB   | heartbeat of the importing host ([`crate::mmp`]) |
//! | 16 KiB | 112 KiB | configuration: a 48-byte header, then a JSON document |
//! | 128 KiB| 128 KiB | uberblock ring ([`crate::uberblock`]) |
//!
//! Configuration header (little-endian): magic `BASINLBL` (8), format version
//! `u32`, payload length `u32`, then 32 bytes of blake3 over the device offset
//! of the header, bytes 0..16 of the header and the payload.
//!
//! The JSON document is a name/value list in the spirit of OpenZFS's nvlist:
//! it is read only after its length and checksum have been verified.

use serde::{Deserialize, Serialize};

use crate::checksum::self_checksum;
use crate::error::{PoolError, Result};

/// Size of one label.
pub const LABEL_SIZE: u64 = 256 * 1024;
/// Number of labels per leaf vdev.
pub const LABEL_COUNT: usize = 4;
/// Offset of the heartbeat area inside a label.
pub const HEARTBEAT_OFFSET: u64 = 8 * 1024;
/// Size of the heartbeat area.
pub const HEARTBEAT_SIZE: u64 = 8 * 1024;
/// Offset of the configuration area inside a label.
pub const CONFIG_OFFSET: u64 = 16 * 1024;
/// Size of the configuration area.
pub const CONFIG_SIZE: u64 = 112 * 1024;
/// Offset of the uberblock ring inside a label.
pub const RING_OFFSET: u64 = 128 * 1024;
/// Size of the uberblock ring.
pub const RING_SIZE: u64 = 128 * 1024;
/// Space reserved at the front of every leaf: two labels and a boot area.
pub const FRONT_RESERVE: u64 = 4 * 1024 * 1024;
/// Space reserved at the back of every leaf: two labels.
pub const BACK_RESERVE: u64 = 2 * LABEL_SIZE;
/// Smallest leaf vdev, as in OpenZFS.
pub const MIN_VDEV_SIZE: u64 = 64 * 1024 * 1024;

/// Most metaslabs a top-level vdev may have (pools made here have about
/// 200; a label asking for more is damaged).
pub const MAX_METASLABS: u64 = 1 << 20;

const CONFIG_MAGIC: u64 = u64::from_le_bytes(*b"BASINLBL");
const CONFIG_HEADER: usize = 48;

/// Offsets of the four labels on a device of `size` bytes.
pub fn label_offsets(size: u64) -> [u64; LABEL_COUNT] {
    let end = size / LABEL_SIZE * LABEL_SIZE;
    [0, LABEL_SIZE, end - 2 * LABEL_SIZE, end - LABEL_SIZE]
}

/// Bytes a leaf of `size` bytes offers for allocation, after its labels.
pub fn usable_size(size: u64) -> u64 {
    let end = size / LABEL_SIZE * LABEL_SIZE;
    end.saturating_sub(FRONT_RESERVE + BACK_RESERVE)
}

/// The state of a pool as recorded in its labels.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PoolState {
    /// Imported (or crashed while imported).
    Active,
    /// Cleanly exported.
    Exported,
    /// Destroyed (importable only with `import -D`).
    Destroyed,
}

impl PoolState {
    /// Name for messages.
    pub fn name(self) -> &'static str {
        match self {
            PoolState::Active => "active",
            PoolState::Exported => "exported",
            PoolState::Destroyed => "destroyed",
        }
    }
}

/// The kind of a vdev in the configuration tree.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VdevKind {
    /// The root of the tree.
    Root,
    /// A regular file.
    File,
    /// A block device.
    Disk,
    /// An N-way mirror.
    Mirror,
    /// RAID-Z with single or double parity.
    Raidz,
    /// A pair being replaced (old and new side).
    Replacing,
}

/// One vdev of the configuration tree.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct VdevConfig {
    /// Kind of vdev.
    pub kind: VdevKind,
    /// Unique id.
    pub guid: u64,
    /// Index among its siblings.
    pub id: u32,
    /// Path of a leaf.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Parity count of a raidz.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub nparity: u8,
    /// log2 of the sector size (top-level vdevs).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub ashift: u8,
    /// Allocatable bytes (top-level vdevs).
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub asize: u64,
    /// log2 of the metaslab size (top-level vdevs).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub ms_shift: u8,
    /// The operator took the vdev offline.
    #[serde(default, skip_serializing_if = "is_false")]
    pub offline: bool,
    /// Txg up to which a leaf may be missing data (needs resilver);
    /// `u64::MAX` while it is still missing writes.
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub dtl_txg: u64,
    /// First txg the leaf may be missing (with `dtl_txg`).
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub dtl_start: u64,
    /// Children of an interior vdev.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<VdevConfig>,
}

fn is_zero(v: &u8) -> bool {
    *v == 0
}
fn is_zero_u64(v: &u64) -> bool {
    *v == 0
}
fn is_false(v: &bool) -> bool {
    !*v
}

impl VdevConfig {
    /// Every leaf beneath (or self, for a leaf).
    pub fn leaves(&self) -> Vec<&VdevConfig> {
        let mut out = Vec::new();
        self.collect_leaves(&mut out);
        out
    }

    fn collect_leaves<'a>(&'a self, out: &mut Vec<&'a VdevConfig>) {
        if self.children.is_empty() && matches!(self.kind, VdevKind::File | VdevKind::Disk) {
            out.push(self);
        }
        for c in &self.children {
            c.collect_leaves(out);
        }
    }

    /// The sum of the leaf guids.
    pub fn guid_sum(&self) -> u64 {
        self.leaves()
            .iter()
            .fold(0u64, |a, l| a.wrapping_add(l.guid))
    }

    /// Finds a vdev by guid.
    pub fn find(&self, guid: u64) -> Option<&VdevConfig> {
        if self.guid == guid {
            return Some(self);
        }
        self.children.iter().find_map(|c| c.find(guid))
    }

    /// Finds a vdev by guid, mutably.
    pub fn find_mut(&mut self, guid: u64) -> Option<&mut VdevConfig> {
        if self.guid == guid {
            return Some(self);
        }
        self.children.iter_mut().find_map(|c| c.find_mut(guid))
    }

    /// Checks the shape of a tree read from disk (bounded depth and sizes).
    pub fn validate(&self, depth: usize) -> Result<()> {
        if depth > 4 {
            return Err(PoolError::corrupt("label", "vdev tree too deep"));
        }
        if self.children.len() > 1024 {
            return Err(PoolError::corrupt("label", "vdev with too many children"));
        }
        match self.kind {
            VdevKind::File | VdevKind::Disk => {
                if self.path.is_none() || !self.children.is_empty() {
                    return Err(PoolError::corrupt("label", "leaf vdev without a path"));
                }
            }
            VdevKind::Mirror | VdevKind::Replacing => {
                if self.children.is_empty() {
                    return Err(PoolError::corrupt("label", "mirror without children"));
                }
            }
            VdevKind::Raidz => {
                if !(1..=2).contains(&self.nparity)
                    || self.children.len() < self.nparity as usize + 1
                {
                    return Err(PoolError::corrupt(
                        "label",
                        "raidz with bad parity or width",
                    ));
                }
            }
            VdevKind::Root => {}
        }
        if depth == 1
            && (self.ashift < 9 || self.ashift > 16 || self.ms_shift < 16 || self.ms_shift > 40)
        {
            return Err(PoolError::corrupt(
                "label",
                "top-level vdev with bad ashift or metaslab shift",
            ));
        }
        // Import builds one metaslab per 2^ms_shift bytes of asize: bound
        // what a label can make it allocate.
        if depth == 1 && self.asize >> self.ms_shift > MAX_METASLABS {
            return Err(PoolError::corrupt(
                "label",
                format!(
                    "top-level vdev of {} bytes in metaslabs of 2^{} bytes: over {MAX_METASLABS} metaslabs",
                    self.asize, self.ms_shift
                ),
            ));
        }
        for c in &self.children {
            c.validate(depth + 1)?;
        }
        Ok(())
    }
}

/// The configuration stored in every label.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct LabelConfig {
    /// Format version.
    pub version: u64,
    /// Pool name.
    pub name: String,
    /// Pool guid.
    pub pool_guid: u64,
    /// Pool state.
    pub state: PoolState,
    /// Txg at which this configuration was written.
    pub txg: u64,
    /// Host id of the importing host.
    pub hostid: u32,
    /// Host name of the importing host.
    pub hostname: String,
    /// Guid of this leaf.
    pub guid: u64,
    /// Guid of the top-level vdev this leaf belongs to.
    pub top_guid: u64,
    /// The whole vdev tree (root with its top-level children).
    pub vdev_tree: VdevConfig,
}

impl LabelConfig {
    /// Encodes the configuration area for the label at device offset
    /// `label_offset`.
    pub fn encode(&self, label_offset: u64) -> Result<Vec<u8>> {
        let payload = serde_json::to_vec(self)
            .map_err(|e| PoolError::Unsupported(format!("cannot encode label: {e}")))?;
        if payload.len() + CONFIG_HEADER > CONFIG_SIZE as usize {
            return Err(PoolError::Unsupported(format!(
                "pool configuration too large for a label ({} bytes)",
                payload.len()
            )));
        }
        let mut out = vec![0u8; CONFIG_SIZE as usize];
        out[0..8].copy_from_slice(&CONFIG_MAGIC.to_le_bytes());
        out[8..12].copy_from_slice(&(crate::FORMAT_VERSION as u32).to_le_bytes());
        out[12..16].copy_from_slice(&(payload.len() as u32).to_le_bytes());
        out[CONFIG_HEADER..CONFIG_HEADER + payload.len()].copy_from_slice(&payload);
        let sum = header_sum(label_offset + CONFIG_OFFSET, &out[..16], &payload);
        out[16..48].copy_from_slice(&sum);
        Ok(out)
    }

    /// Decodes the configuration area of the label at `label_offset`.
    pub fn decode(area: &[u8], label_offset: u64) -> Result<LabelConfig> {
        if area.len() < CONFIG_HEADER {
            return Err(PoolError::corrupt("label", "configuration area too short"));
        }
        if u64::from_le_bytes(area[0..8].try_into().expect("8 bytes")) != CONFIG_MAGIC {
            return Err(PoolError::corrupt("label", "no label magic"));
        }
        let version = u32::from_le_bytes(area[8..12].try_into().expect("4 bytes")) as u64;
        if version == 0 || version > crate::FORMAT_VERSION {
            return Err(PoolError::corrupt(
                "label",
                format!("format version {version} not supported"),
            ));
        }
        let len = u32::from_le_bytes(area[12..16].try_into().expect("4 bytes")) as usize;
        if len > area.len() - CONFIG_HEADER {
            return Err(PoolError::corrupt(
                "label",
                format!("payload length {len} too large"),
            ));
        }
        let payload = &area[CONFIG_HEADER..CONFIG_HEADER + len];
        if header_sum(label_offset + CONFIG_OFFSET, &area[..16], payload) != area[16..48] {
            return Err(PoolError::corrupt("label", "checksum mismatch"));
        }
        let cfg: LabelConfig = serde_json::from_slice(payload)
            .map_err(|e| PoolError::corrupt("label", format!("bad configuration: {e}")))?;
        if cfg.name.len() > 255 || cfg.hostname.len() > 255 {
            return Err(PoolError::corrupt("label", "name too long"));
        }
        cfg.vdev_tree.validate(0)?;
        Ok(cfg)
    }
}

fn header_sum(offset: u64, head: &[u8], payload: &[u8]) -> [u8; 32] {
    let mut joined = Vec::with_capacity(head.len() + payload.len());
    joined.extend_from_slice(head);
    joined.extend_from_slice(payload);
    self_checksum(offset, &joined).0
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> LabelConfig {
        let leaf = |guid, path: &str, id| VdevConfig {
            kind: VdevKind::File,
            guid,
            id,
            path: Some(path.into()),
            nparity: 0,
            ashift: 0,
            asize: 0,
            ms_shift: 0,
            offline: false,
            dtl_txg: 0,
            dtl_start: 0,
            children: vec![],
        };
        let mirror = VdevConfig {
            kind: VdevKind::Mirror,
            guid: 10,
            id: 0,
            path: None,
            nparity: 0,
            ashift: 12,
            asize: 1 << 30,
            ms_shift: 24,
            offline: false,
            dtl_txg: 0,
            dtl_start: 0,
            children: vec![leaf(11, "/a", 0), leaf(12, "/b", 1)],
        };
        LabelConfig {
            version: 1,
            name: "tank".into(),
            pool_guid: 99,
            state: PoolState::Active,
            txg: 4,
            hostid: 0x1234,
            hostname: "h".into(),
            guid: 11,
            top_guid: 10,
            vdev_tree: VdevConfig {
                kind: VdevKind::Root,
                guid: 99,
                id: 0,
                path: None,
                nparity: 0,
                ashift: 0,
                asize: 0,
                ms_shift: 0,
                offline: false,
                dtl_txg: 0,
                dtl_start: 0,
                children: vec![mirror],
            },
        }
    }

    #[test]
    fn round_trip_and_guid_sum() {
        let cfg = sample();
        let area = cfg.encode(LABEL_SIZE).unwrap();
        assert_eq!(LabelConfig::decode(&area, LABEL_SIZE).unwrap(), cfg);
        assert!(
            LabelConfig::decode(&area, 0).is_err(),
            "bound to its offset"
        );
        assert_eq!(cfg.vdev_tree.guid_sum(), 23);
        assert_eq!(cfg.vdev_tree.leaves().len(), 2);
    }

    #[test]
    fn corruption_is_detected() {
        let cfg = sample();
        let mut area = cfg.encode(0).unwrap();
        area[60] ^= 1;
        assert!(LabelConfig::decode(&area, 0).is_err());
        let mut area = cfg.encode(0).unwrap();
        area[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(LabelConfig::decode(&area, 0).is_err());
    }

    #[test]
    fn a_label_asking_for_too_many_metaslabs_is_refused() {
        let mut cfg = sample();
        cfg.vdev_tree.children[0].asize = u64::MAX;
        let area = cfg.encode(0).unwrap();
        let e = LabelConfig::decode(&area, 0).unwrap_err();
        assert!(e.to_string().contains("metaslabs"), "{e}");
        cfg.vdev_tree.children[0].asize = MAX_METASLABS << 24;
        assert!(LabelConfig::decode(&cfg.encode(0).unwrap(), 0).is_ok());
    }

    #[test]
    fn label_offsets_sit_at_both_ends() {
        let size = 100 * 1024 * 1024 + 1000;
        let o = label_offsets(size);
        assert_eq!(o[0], 0);
        assert_eq!(o[1], LABEL_SIZE);
        assert_eq!(o[3] + LABEL_SIZE, size / LABEL_SIZE * LABEL_SIZE);
        assert_eq!(o[2] + LABEL_SIZE, o[3]);
        assert_eq!(
            usable_size(size),
            100 * 1024 * 1024 - FRONT_RESERVE - BACK_RESERVE
        );
    }

    proptest::proptest! {
        #[test]
        fn decode_is_total(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = LabelConfig::decode(&bytes, 0);
        }
    }
}
