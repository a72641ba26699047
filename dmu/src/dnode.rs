//! Dnodes: the on-disk description of one object.
//!
//! Layout (512 bytes, little-endian):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0   | 1   | object type (0: free slot) |
//! | 1   | 1   | number of levels (1: the pointer is the data block) |
//! | 2   | 1   | log2 of the indirect block size |
//! | 3   | 1   | bonus type (the layer above decides) |
//! | 4   | 4   | data block size in bytes |
//! | 8   | 2   | bonus length |
//! | 10  | 6   | zero |
//! | 16  | 8   | highest block id written (`maxblkid`) |
//! | 24  | 8   | bytes allocated for the object (`used`) |
//! | 32  | 8   | generation (txg of creation) |
//! | 40  | 24  | zero |
//! | 64  | 128 | block pointer of the top of the tree |
//! | 192 | 320 | bonus |

use basin_pool::blkptr::{BlkPtr, BLKPTR_SIZE, MAX_BLOCK_SIZE};

use crate::error::{DmuError, Result};
use crate::types::ObjectType;

/// Size of a dnode.
pub const DNODE_SIZE: usize = 512;
/// Size of the bonus area.
pub const BONUS_SIZE: usize = 320;
/// log2 of the indirect block size (128 KiB: 1024 pointers).
pub const INDIRECT_SHIFT: u8 = 17;
/// Pointers per indirect block.
pub const PTRS_PER_INDIRECT: u64 = 1 << (INDIRECT_SHIFT as u64 - 7);
/// Most levels a tree can have.
pub const MAX_LEVELS: u8 = 8;

/// The on-disk state of an object.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct DnodePhys {
    /// What the object holds.
    pub object_type: ObjectType,
    /// Levels of the block tree.
    pub nlevels: u8,
    /// log2 of the indirect block size.
    pub indblkshift: u8,
    /// Meaning of the bonus, for the layer above.
    pub bonus_type: u8,
    /// Size of the data blocks.
    pub datablksz: u32,
    /// Highest block id that was written.
    pub maxblkid: u64,
    /// Bytes allocated for the object's blocks.
    pub used: u64,
    /// Txg in which the object was created.
    pub generation: u64,
    /// Top of the block tree.
    pub blkptr: BlkPtr,
    /// Bonus bytes (at most [`BONUS_SIZE`]).
    pub bonus: Vec<u8>,
}

impl Default for DnodePhys {
    fn default() -> Self {
        DnodePhys {
            object_type: ObjectType::NONE,
            nlevels: 1,
            indblkshift: INDIRECT_SHIFT,
            bonus_type: 0,
            datablksz: 512,
            maxblkid: 0,
            used: 0,
            generation: 0,
            blkptr: BlkPtr::default(),
            bonus: Vec::new(),
        }
    }
}

impl DnodePhys {
    /// A fresh object of `object_type` with data blocks of `blksz`.
    pub fn new(object_type: ObjectType, blksz: u32, generation: u64) -> Self {
        DnodePhys {
            object_type,
            datablksz: blksz,
            generation,
            ..Default::default()
        }
    }

    /// True for a free slot.
    pub fn is_free(&self) -> bool {
        self.object_type == ObjectType::NONE
    }

    /// Encodes into exactly [`DNODE_SIZE`] bytes of `out`.
    pub fn encode_into(&self, out: &mut [u8]) {
        let b = &mut out[..DNODE_SIZE];
        b.fill(0);
        if self.is_free() {
            return;
        }
        b[0] = self.object_type.0;
        b[1] = self.nlevels;
        b[2] = self.indblkshift;
        b[3] = self.bonus_type;
        b[4..8].copy_from_slice(&self.datablksz.to_le_bytes());
        let blen = self.bonus.len().min(BONUS_SIZE);
        b[8..10].copy_from_slice(&(blen as u16).to_le_bytes());
        b[16..24].copy_from_slice(&self.maxblkid.to_le_bytes());
        b[24..32].copy_from_slice(&self.used.to_le_bytes());
        b[32..40].copy_from_slice(&self.generation.to_le_bytes());
        self.blkptr.encode_into(&mut b[64..64 + BLKPTR_SIZE]);
        b[192..192 + blen].copy_from_slice(&self.bonus[..blen]);
    }

    /// Encodes into a new array.
    pub fn encode(&self) -> [u8; DNODE_SIZE] {
        let mut b = [0u8; DNODE_SIZE];
        self.encode_into(&mut b);
        b
    }

    /// Decodes a dnode, checking every field it can.
    pub fn decode(b: &[u8]) -> Result<DnodePhys> {
        const WHAT: &str = "dnode";
        if b.len() < DNODE_SIZE {
            return Err(DmuError::corrupt(WHAT, "too short"));
        }
        if b[0] == 0 {
            return Ok(DnodePhys::default());
        }
        let le64 = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().expect("8"));
        let nlevels = b[1];
        let indblkshift = b[2];
        let datablksz = u32::from_le_bytes(b[4..8].try_into().expect("4"));
        let bonuslen = u16::from_le_bytes(b[8..10].try_into().expect("2")) as usize;
        if nlevels == 0 || nlevels > MAX_LEVELS {
            return Err(DmuError::corrupt(WHAT, format!("{nlevels} levels")));
        }
        if indblkshift != INDIRECT_SHIFT {
            return Err(DmuError::corrupt(
                WHAT,
                format!("indirect shift {indblkshift}"),
            ));
        }
        if !(512..=MAX_BLOCK_SIZE).contains(&datablksz) || !datablksz.is_multiple_of(512) {
            return Err(DmuError::corrupt(
                WHAT,
                format!("data block size {datablksz}"),
            ));
        }
        if bonuslen > BONUS_SIZE {
            return Err(DmuError::corrupt(WHAT, format!("bonus length {bonuslen}")));
        }
        let blkptr = BlkPtr::decode(&b[64..64 + BLKPTR_SIZE])?;
        Ok(DnodePhys {
            object_type: ObjectType(b[0]),
            nlevels,
            indblkshift,
            bonus_type: b[3],
            datablksz,
            maxblkid: le64(16),
            used: le64(24),
            generation: le64(32),
            blkptr,
            bonus: b[192..192 + bonuslen].to_vec(),
        })
    }

    /// Block ids one pointer at `level` covers.
    pub fn span(level: u8) -> u64 {
        PTRS_PER_INDIRECT.saturating_pow(level as u32)
    }

    /// Levels needed to address block ids up to `maxblkid`.
    pub fn levels_for(maxblkid: u64) -> u8 {
        let mut levels = 1u8;
        while maxblkid >= Self::span(levels - 1) && levels < MAX_LEVELS {
            levels += 1;
        }
        levels
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut d = DnodePhys::new(ObjectType::PLAIN_FILE, 131072, 7);
        d.nlevels = 3;
        d.maxblkid = 5000;
        d.used = 1 << 30;
        d.bonus = vec![1, 2, 3];
        d.blkptr = BlkPtr::hole(131072, 7);
        assert_eq!(DnodePhys::decode(&d.encode()).unwrap(), d);
        assert!(DnodePhys::decode(&[0u8; 512]).unwrap().is_free());
    }

    #[test]
    fn levels() {
        assert_eq!(DnodePhys::levels_for(0), 1);
        assert_eq!(DnodePhys::levels_for(1), 2);
        assert_eq!(DnodePhys::levels_for(1023), 2);
        assert_eq!(DnodePhys::levels_for(1024), 3);
        assert_eq!(DnodePhys::levels_for(1024 * 1024), 4);
    }

    proptest::proptest! {
        #[test]
        fn decode_is_total(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
            if let Ok(d) = DnodePhys::decode(&bytes) {
                proptest::prop_assert_eq!(DnodePhys::decode(&d.encode()).unwrap(), d);
            }
        }
    }
}
