//! The root block of an object set: its type, its metadnode (the object
//! whose data is the array of dnodes) and its intent log header.
//!
//! Layout (1024 bytes, little-endian): magic `BASINOS1` (8), version `u32`,
//! type `u32` (1 meta object set, 2 filesystem, 3 volume), highest object id
//! allocated `u64`, zero (40), metadnode (512), intent log header (192),
//! zero (256).

use crate::dnode::{DnodePhys, DNODE_SIZE};
use crate::error::{DmuError, Result};

const MAGIC: u64 = u64::from_le_bytes(*b"BASINOS1");
const VERSION: u32 = 1;
/// Encoded size of an object set root.
pub const OBJSET_PHYS_SIZE: usize = 1024;
const META_OFF: usize = 64;
const ZIL_OFF: usize = META_OFF + DNODE_SIZE;

/// Kind of object set.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ObjsetType {
    /// The pool's meta object set.
    Meta,
    /// A filesystem.
    Filesystem,
    /// A volume.
    Volume,
}

impl ObjsetType {
    fn code(self) -> u32 {
        match self {
            ObjsetType::Meta => 1,
            ObjsetType::Filesystem => 2,
            ObjsetType::Volume => 3,
        }
    }

    fn from_code(c: u32) -> Option<Self> {
        match c {
            1 => Some(ObjsetType::Meta),
            2 => Some(ObjsetType::Filesystem),
            3 => Some(ObjsetType::Volume),
            _ => None,
        }
    }
}

/// Where a log block lives and what it must say about itself: log blocks
/// are addressed before they are written, so they carry their own checksum
/// and sequence number instead of being covered by a block pointer.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct ZilPtr {
    /// The address (asize 0: none).
    pub dva: basin_pool::Dva,
    /// Sequence number the block must carry.
    pub seq: u64,
    /// Txg in which its space was allocated.
    pub birth: u64,
}

/// Encoded size of a [`ZilPtr`].
pub const ZIL_PTR_SIZE: usize = 40;

impl ZilPtr {
    /// True when it points nowhere.
    pub fn is_none(&self) -> bool {
        self.dva.asize == 0
    }

    /// Encodes into 40 bytes.
    pub fn encode_into(&self, b: &mut [u8]) {
        b[0..4].copy_from_slice(&self.dva.vdev.to_le_bytes());
        b[4..8].copy_from_slice(&self.dva.asize.to_le_bytes());
        b[8..16].copy_from_slice(&self.dva.offset.to_le_bytes());
        b[16..24].copy_from_slice(&self.seq.to_le_bytes());
        b[24..32].copy_from_slice(&self.birth.to_le_bytes());
        b[32..40].fill(0);
    }

    /// Decodes 40 bytes.
    pub fn decode(b: &[u8]) -> Result<ZilPtr> {
        if b.len() < ZIL_PTR_SIZE {
            return Err(DmuError::corrupt("log pointer", "too short"));
        }
        let le64 = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().expect("8"));
        let p = ZilPtr {
            dva: basin_pool::Dva {
                vdev: u32::from_le_bytes(b[0..4].try_into().expect("4")),
                asize: u32::from_le_bytes(b[4..8].try_into().expect("4")),
                offset: le64(8),
            },
            seq: le64(16),
            birth: le64(24),
        };
        if p.dva.offset.checked_add(p.dva.asize as u64).is_none() {
            return Err(DmuError::corrupt("log pointer", "address overflows"));
        }
        Ok(p)
    }
}

/// The intent log header of an object set.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct ZilHeader {
    /// Txg in which the log was claimed at import (0: not claimed).
    pub claim_txg: u64,
    /// Highest log record sequence number already replayed.
    pub replay_seq: u64,
    /// Random id of the current chain (blocks of older chains do not
    /// verify).
    pub chain_id: u64,
    /// First block of the chain.
    pub first: ZilPtr,
}

/// The decoded root of an object set.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ObjsetPhys {
    /// Kind.
    pub os_type: ObjsetType,
    /// Highest object id allocated so far.
    pub max_obj: u64,
    /// The array of dnodes.
    pub metadnode: DnodePhys,
    /// Intent log header.
    pub zil: ZilHeader,
}

impl ObjsetPhys {
    /// Encodes the root block.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = vec![0u8; OBJSET_PHYS_SIZE];
        b[0..8].copy_from_slice(&MAGIC.to_le_bytes());
        b[8..12].copy_from_slice(&VERSION.to_le_bytes());
        b[12..16].copy_from_slice(&self.os_type.code().to_le_bytes());
        b[16..24].copy_from_slice(&self.max_obj.to_le_bytes());
        self.metadnode
            .encode_into(&mut b[META_OFF..META_OFF + DNODE_SIZE]);
        b[ZIL_OFF..ZIL_OFF + 8].copy_from_slice(&self.zil.claim_txg.to_le_bytes());
        b[ZIL_OFF + 8..ZIL_OFF + 16].copy_from_slice(&self.zil.replay_seq.to_le_bytes());
        b[ZIL_OFF + 16..ZIL_OFF + 24].copy_from_slice(&self.zil.chain_id.to_le_bytes());
        self.zil
            .first
            .encode_into(&mut b[ZIL_OFF + 24..ZIL_OFF + 24 + ZIL_PTR_SIZE]);
        b
    }

    /// Decodes a root block.
    pub fn decode(b: &[u8]) -> Result<ObjsetPhys> {
        const WHAT: &str = "object set";
        if b.len() < OBJSET_PHYS_SIZE || b[0..8] != MAGIC.to_le_bytes() {
            return Err(DmuError::corrupt(WHAT, "bad magic"));
        }
        let v = u32::from_le_bytes(b[8..12].try_into().expect("4"));
        if v != VERSION {
            return Err(DmuError::corrupt(WHAT, format!("unsupported version {v}")));
        }
        let t = u32::from_le_bytes(b[12..16].try_into().expect("4"));
        let os_type =
            ObjsetType::from_code(t).ok_or_else(|| DmuError::corrupt(WHAT, format!("type {t}")))?;
        let le64 = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().expect("8"));
        Ok(ObjsetPhys {
            os_type,
            max_obj: le64(16),
            metadnode: DnodePhys::decode(&b[META_OFF..META_OFF + DNODE_SIZE])?,
            zil: ZilHeader {
                claim_txg: le64(ZIL_OFF),
                replay_seq: le64(ZIL_OFF + 8),
                chain_id: le64(ZIL_OFF + 16),
                first: ZilPtr::decode(&b[ZIL_OFF + 24..ZIL_OFF + 24 + ZIL_PTR_SIZE])?,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::ObjectType;

    #[test]
    fn round_trip() {
        let p = ObjsetPhys {
            os_type: ObjsetType::Filesystem,
            max_obj: 42,
            metadnode: DnodePhys::new(ObjectType::DNODE, 16384, 1),
            zil: ZilHeader::default(),
        };
        assert_eq!(ObjsetPhys::decode(&p.encode()).unwrap(), p);
        assert!(ObjsetPhys::decode(&[0u8; 1024]).is_err());
    }

    proptest::proptest! {
        #[test]
        fn decode_is_total(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..1100)) {
            let _ = ObjsetPhys::decode(&bytes);
            let mut b = bytes.clone();
            if b.len() >= 16 {
                b[0..8].copy_from_slice(&MAGIC.to_le_bytes());
                b[8..12].copy_from_slice(&VERSION.to_le_bytes());
                b[12..16].copy_from_slice(&2u32.to_le_bytes());
                let _ = ObjsetPhys::decode(&b);
            }
        }
    }
}
