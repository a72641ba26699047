//! On-disk records of the dataset layer, kept in the bonus of meta object
//! set objects: a directory record per filesystem or volume name, a dataset
//! record per head or snapshot, and deadlist headers.
//!
//! Directory record (little-endian `u64`s unless noted): creation time, head
//! dataset, parent directory, origin snapshot (clones), children ZAP,
//! properties ZAP, used by the head, by snapshots, by children, by the
//! refreservation, compressed and uncompressed bytes of everything below,
//! kind (`u64`: 1 filesystem, 2 volume), then zero to 160 bytes.
//!
//! Dataset record: directory, previous snapshot, txg of the previous
//! snapshot, next snapshot (or the head, for the newest snapshot), snapshot
//! names ZAP, deadlist object, creation time, creation txg, referenced,
//! compressed, uncompressed, unique bytes, guid, flags, clones ZAP, holds
//! ZAP, number of clones, then the object set's block pointer (128), then
//! zero to 288 bytes.

use basin_pool::blkptr::{BlkPtr, BLKPTR_SIZE};

use crate::error::{DmuError, Result};

/// Encoded size of a directory record.
pub const DIR_PHYS_SIZE: usize = 160;
/// Encoded size of a dataset record.
pub const DATASET_PHYS_SIZE: usize = 288;

fn get(b: &[u8], i: usize) -> u64 {
    u64::from_le_bytes(b[i * 8..i * 8 + 8].try_into().expect("8"))
}

fn set(b: &mut [u8], i: usize, v: u64) {
    b[i * 8..i * 8 + 8].copy_from_slice(&v.to_le_bytes());
}

/// Kind of a dataset directory.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum DirKind {
    /// A filesystem.
    Filesystem,
    /// A volume.
    Volume,
}

/// Space used below a directory, by category (`zfs list -o space`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UsedBreakdown {
    /// Blocks the head references that no snapshot holds alone.
    pub head: u64,
    /// Blocks held only by snapshots.
    pub snap: u64,
    /// Children's space (their reservations included).
    pub child: u64,
    /// Unused part of the refreservation.
    pub refrsrv: u64,
}

impl UsedBreakdown {
    /// Total used.
    pub fn total(&self) -> u64 {
        self.head + self.snap + self.child + self.refrsrv
    }
}

/// A dataset directory record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirPhys {
    /// Seconds since the epoch.
    pub creation_time: u64,
    /// Head dataset id.
    pub head: u64,
    /// Parent directory id (0 for the pool's root).
    pub parent: u64,
    /// Origin snapshot of a clone (0 otherwise).
    pub origin: u64,
    /// Children ZAP (name to directory id).
    pub children_zap: u64,
    /// Properties ZAP (name to value).
    pub props_zap: u64,
    /// Space used, by category.
    pub used: UsedBreakdown,
    /// Compressed bytes (physical) of everything below.
    pub compressed: u64,
    /// Uncompressed bytes (logical) of everything below.
    pub uncompressed: u64,
    /// Filesystem or volume.
    pub kind: DirKind,
}

impl DirPhys {
    /// Encodes the record.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = vec![0u8; DIR_PHYS_SIZE];
        let vals = [
            self.creation_time,
            self.head,
            self.parent,
            self.origin,
            self.children_zap,
            self.props_zap,
            self.used.head,
            self.used.snap,
            self.used.child,
            self.used.refrsrv,
            self.compressed,
            self.uncompressed,
            match self.kind {
                DirKind::Filesystem => 1,
                DirKind::Volume => 2,
            },
        ];
        for (i, v) in vals.iter().enumerate() {
            set(&mut b, i, *v);
        }
        b
    }

    /// Decodes the record.
    pub fn decode(b: &[u8]) -> Result<DirPhys> {
        if b.len() < DIR_PHYS_SIZE {
            return Err(DmuError::corrupt(
                "DSL directory",
                format!("{} bytes", b.len()),
            ));
        }
        let kind = match get(b, 12) {
            1 => DirKind::Filesystem,
            2 => DirKind::Volume,
            k => return Err(DmuError::corrupt("DSL directory", format!("kind {k}"))),
        };
        Ok(DirPhys {
            creation_time: get(b, 0),
            head: get(b, 1),
            parent: get(b, 2),
            origin: get(b, 3),
            children_zap: get(b, 4),
            props_zap: get(b, 5),
            used: UsedBreakdown {
                head: get(b, 6),
                snap: get(b, 7),
                child: get(b, 8),
                refrsrv: get(b, 9),
            },
            compressed: get(b, 10),
            uncompressed: get(b, 11),
            kind,
        })
    }
}

/// Flag: the snapshot is to be destroyed when its last hold goes.
pub const DS_FLAG_DEFER_DESTROY: u64 = 1;

/// A dataset record (a head or a snapshot).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatasetPhys {
    /// Directory id.
    pub dir: u64,
    /// Previous snapshot id (0: none).
    pub prev_snap: u64,
    /// Txg of the previous snapshot.
    pub prev_snap_txg: u64,
    /// Next snapshot or the head (snapshots only).
    pub next_snap: u64,
    /// Snapshot names ZAP (heads only).
    pub snapnames_zap: u64,
    /// Deadlist object.
    pub deadlist: u64,
    /// Seconds since the epoch.
    pub creation_time: u64,
    /// Txg of creation.
    pub creation_txg: u64,
    /// Bytes referenced.
    pub referenced: u64,
    /// Physical bytes referenced.
    pub compressed: u64,
    /// Logical bytes referenced.
    pub uncompressed: u64,
    /// Bytes only this dataset references.
    pub unique: u64,
    /// Unique id.
    pub guid: u64,
    /// Flags.
    pub flags: u64,
    /// Clones ZAP (snapshots with clones).
    pub clones_zap: u64,
    /// Holds ZAP (snapshots).
    pub holds_zap: u64,
    /// Number of clones.
    pub num_clones: u64,
    /// The object set.
    pub bp: BlkPtr,
}

impl DatasetPhys {
    /// Encodes the record.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = vec![0u8; DATASET_PHYS_SIZE];
        let vals = [
            self.dir,
            self.prev_snap,
            self.prev_snap_txg,
            self.next_snap,
            self.snapnames_zap,
            self.deadlist,
            self.creation_time,
            self.creation_txg,
            self.referenced,
            self.compressed,
            self.uncompressed,
            self.unique,
            self.guid,
            self.flags,
            self.clones_zap,
            self.holds_zap,
            self.num_clones,
        ];
        for (i, v) in vals.iter().enumerate() {
            set(&mut b, i, *v);
        }
        self.bp.encode_into(&mut b[17 * 8..17 * 8 + BLKPTR_SIZE]);
        b
    }

    /// Decodes the record.
    pub fn decode(b: &[u8]) -> Result<DatasetPhys> {
        if b.len() < DATASET_PHYS_SIZE {
            return Err(DmuError::corrupt(
                "DSL dataset",
                format!("{} bytes", b.len()),
            ));
        }
        Ok(DatasetPhys {
            dir: get(b, 0),
            prev_snap: get(b, 1),
            prev_snap_txg: get(b, 2),
            next_snap: get(b, 3),
            snapnames_zap: get(b, 4),
            deadlist: get(b, 5),
            creation_time: get(b, 6),
            creation_txg: get(b, 7),
            referenced: get(b, 8),
            compressed: get(b, 9),
            uncompressed: get(b, 10),
            unique: get(b, 11),
            guid: get(b, 12),
            flags: get(b, 13),
            clones_zap: get(b, 14),
            holds_zap: get(b, 15),
            num_clones: get(b, 16),
            bp: BlkPtr::decode(&b[17 * 8..17 * 8 + BLKPTR_SIZE])?,
        })
    }
}

/// Totals of a deadlist, kept in its bonus.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeadlistHeader {
    /// Block pointers in it.
    pub count: u64,
    /// Allocated bytes.
    pub used: u64,
    /// Physical bytes.
    pub compressed: u64,
    /// Logical bytes.
    pub uncompressed: u64,
}

impl DeadlistHeader {
    /// Encodes into 32 bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = vec![0u8; 32];
        for (i, v) in [self.count, self.used, self.compressed, self.uncompressed]
            .iter()
            .enumerate()
        {
            set(&mut b, i, *v);
        }
        b
    }

    /// Decodes; an empty bonus is an empty list.
    pub fn decode(b: &[u8]) -> Result<DeadlistHeader> {
        if b.is_empty() {
            return Ok(DeadlistHeader::default());
        }
        if b.len() < 32 {
            return Err(DmuError::corrupt("deadlist", "short header"));
        }
        Ok(DeadlistHeader {
            count: get(b, 0),
            used: get(b, 1),
            compressed: get(b, 2),
            uncompressed: get(b, 3),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let d = DirPhys {
            creation_time: 1,
            head: 2,
            parent: 3,
            origin: 0,
            children_zap: 4,
            props_zap: 5,
            used: UsedBreakdown {
                head: 6,
                snap: 7,
                child: 8,
                refrsrv: 9,
            },
            compressed: 10,
            uncompressed: 11,
            kind: DirKind::Volume,
        };
        assert_eq!(DirPhys::decode(&d.encode()).unwrap(), d);
        let s = DatasetPhys {
            dir: 1,
            prev_snap: 2,
            prev_snap_txg: 3,
            next_snap: 4,
            snapnames_zap: 5,
            deadlist: 6,
            creation_time: 7,
            creation_txg: 8,
            referenced: 9,
            compressed: 10,
            uncompressed: 11,
            unique: 12,
            guid: 13,
            flags: 14,
            clones_zap: 15,
            holds_zap: 16,
            num_clones: 17,
            bp: BlkPtr::hole(1024, 3),
        };
        assert_eq!(DatasetPhys::decode(&s.encode()).unwrap(), s);
        assert!(DirPhys::decode(&[0u8; 10]).is_err());
    }

    proptest::proptest! {
        #[test]
        fn decoders_are_total(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
            let _ = DirPhys::decode(&bytes);
            let _ = DatasetPhys::decode(&bytes);
            let _ = DeadlistHeader::decode(&bytes);
        }
    }
}
