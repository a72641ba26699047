//! Uberblocks: the root of the pool's Merkle tree, one per synced txg, kept in
//! a ring in every label.
//!
//! Layout (256 bytes, little-endian, at the start of a ring slot):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0   | 8   | magic `BASINUB1` |
//! | 8   | 8   | format version |
//! | 16  | 8   | txg |
//! | 24  | 8   | pool guid |
//! | 32  | 8   | sum of the guids of all leaf vdevs |
//! | 40  | 8   | timestamp (seconds since the epoch) |
//! | 48  | 128 | block pointer of the pool root block |
//! | 176 | 48  | reserved (zero) |
//! | 224 | 32  | blake3 over the slot's device offset and bytes 0..224 |

use crate::blkptr::{BlkPtr, BLKPTR_SIZE};
use crate::checksum::self_checksum;
use crate::error::{PoolError, Result};

/// Magic number of an uberblock.
pub const UBERBLOCK_MAGIC: u64 = u64::from_le_bytes(*b"BASINUB1");
/// Encoded size of an uberblock.
pub const UBERBLOCK_SIZE: usize = 256;
/// Smallest ring slot.
pub const UBERBLOCK_MIN_SLOT: usize = 1024;
const SUMMED: usize = 224;
/// Largest txg an uberblock may carry (a txg a second would take 146
/// billion years to get there).
pub const MAX_TXG: u64 = 1 << 62;

/// The root of one synced txg.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Uberblock {
    /// Format version.
    pub version: u64,
    /// The txg this uberblock commits.
    pub txg: u64,
    /// Guid of the pool.
    pub pool_guid: u64,
    /// Sum of the guids of every leaf vdev (a missing device changes it).
    pub guid_sum: u64,
    /// When it was written.
    pub timestamp: u64,
    /// The pool root block.
    pub root: BlkPtr,
}

impl Uberblock {
    /// Ring slot size for a vdev of the given ashift.
    pub fn slot_size(ashift: u8) -> usize {
        UBERBLOCK_MIN_SLOT.max(1usize << ashift)
    }

    /// Encodes into `UBERBLOCK_SIZE` bytes, self-checksummed for `offset`.
    pub fn encode(&self, offset: u64) -> [u8; UBERBLOCK_SIZE] {
        let mut b = [0u8; UBERBLOCK_SIZE];
        b[0..8].copy_from_slice(&UBERBLOCK_MAGIC.to_le_bytes());
        b[8..16].copy_from_slice(&self.version.to_le_bytes());
        b[16..24].copy_from_slice(&self.txg.to_le_bytes());
        b[24..32].copy_from_slice(&self.pool_guid.to_le_bytes());
        b[32..40].copy_from_slice(&self.guid_sum.to_le_bytes());
        b[40..48].copy_from_slice(&self.timestamp.to_le_bytes());
        self.root.encode_into(&mut b[48..48 + BLKPTR_SIZE]);
        let sum = self_checksum(offset, &b[..SUMMED]);
        b[SUMMED..].copy_from_slice(&sum.0);
        b
    }

    /// Decodes the uberblock at device offset `offset`; an empty or damaged
    /// slot is an error.
    pub fn decode(b: &[u8], offset: u64) -> Result<Uberblock> {
        if b.len() < UBERBLOCK_SIZE {
            return Err(PoolError::corrupt("uberblock", "slot too short"));
        }
        let le64 = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().expect("8 bytes"));
        if le64(0) != UBERBLOCK_MAGIC {
            return Err(PoolError::corrupt("uberblock", "bad magic"));
        }
        if self_checksum(offset, &b[..SUMMED]).0 != b[SUMMED..UBERBLOCK_SIZE] {
            return Err(PoolError::corrupt("uberblock", "checksum mismatch"));
        }
        let version = le64(8);
        if version == 0 || version > crate::FORMAT_VERSION {
            return Err(PoolError::corrupt(
                "uberblock",
                format!(
                    "format version {version} not supported (this build reads up to {})",
                    crate::FORMAT_VERSION
                ),
            ));
        }
        if b[176..SUMMED].iter().any(|&x| x != 0) {
            return Err(PoolError::corrupt(
                "uberblock",
                "reserved bytes are not zero",
            ));
        }
        let txg = le64(16);
        if txg == 0 || txg > MAX_TXG {
            // Import continues from the newest txg it has seen, verified or
            // not: one past u64::MAX does not exist.
            return Err(PoolError::corrupt(
                "uberblock",
                format!("txg {txg} out of range (1 to {MAX_TXG})"),
            ));
        }
        let root = BlkPtr::decode(&b[48..48 + BLKPTR_SIZE])?;
        Ok(Uberblock {
            version,
            txg,
            pool_guid: le64(24),
            guid_sum: le64(32),
            timestamp: le64(40),
            root,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_offset_binding() {
        let ub = Uberblock {
            version: crate::FORMAT_VERSION,
            txg: 9,
            pool_guid: 77,
            guid_sum: 1234,
            timestamp: 1_700_000_000,
            root: BlkPtr::hole(512, 3),
        };
        let bytes = ub.encode(4096);
        assert_eq!(Uberblock::decode(&bytes, 4096).unwrap(), ub);
        assert!(Uberblock::decode(&bytes, 8192).is_err());
        let mut torn = bytes;
        torn[100] ^= 0x40;
        assert!(Uberblock::decode(&torn, 4096).is_err());
        // Found by the pool image fuzzer: a well-sealed uberblock of txg
        // u64::MAX made import overflow computing the next txg.
        for txg in [0, MAX_TXG + 1, u64::MAX] {
            let bad = Uberblock { txg, ..ub };
            assert!(Uberblock::decode(&bad.encode(4096), 4096).is_err());
        }
        let top = Uberblock { txg: MAX_TXG, ..ub };
        assert_eq!(Uberblock::decode(&top.encode(4096), 4096).unwrap(), top);
        assert!(Uberblock::decode(&[0u8; 1024], 0).is_err());
    }

    proptest::proptest! {
        #[test]
        fn decode_is_total(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..300), off in 0u64..1<<20) {
            let _ = Uberblock::decode(&bytes, off);
        }
    }
}
