//! Block pointers: where a block lives (one address per copy), how big it is,
//! how it is compressed and checksummed, and when it was born.
//!
//! Layout (128 bytes, little-endian):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0   | 48 | three DVAs of 16 bytes: vdev `u32`, asize `u32`, offset `u64` |
//! | 48  | 4  | logical size |
//! | 52  | 4  | physical (stored) size |
//! | 56  | 8  | birth txg |
//! | 64  | 8  | fill (non-hole level-0 blocks beneath) |
//! | 72  | 1  | checksum type |
//! | 73  | 1  | compression |
//! | 74  | 1  | block type |
//! | 75  | 1  | level (0 = data) |
//! | 76  | 4  | flags, reserved (zero) |
//! | 80  | 32 | checksum of the stored bytes |
//! | 112 | 16 | reserved (zero) |
//!
//! A hole is a pointer whose first DVA is empty (asize 0); it may still carry
//! a birth txg and a logical size.

use crate::checksum::{Checksum, ChecksumType, CHECKSUM_LEN};
use crate::compress::Compression;
use crate::error::{PoolError, Result};

/// Encoded size of a block pointer.
pub const BLKPTR_SIZE: usize = 128;
/// Number of copies a block pointer can address.
pub const MAX_COPIES: usize = 3;
/// Largest logical block.
pub const MAX_BLOCK_SIZE: u32 = 16 << 20;
/// Smallest logical block.
pub const MIN_BLOCK_SIZE: u32 = 512;

/// A data virtual address: one copy of a block.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default, PartialOrd, Ord)]
pub struct Dva {
    /// Top-level vdev index.
    pub vdev: u32,
    /// Allocated size in bytes (0: no copy here).
    pub asize: u32,
    /// Offset in bytes from the start of the vdev's allocatable space.
    pub offset: u64,
}

impl Dva {
    /// True when this slot holds no copy.
    pub fn is_empty(&self) -> bool {
        self.asize == 0
    }

    fn encode(&self, out: &mut [u8]) {
        out[0..4].copy_from_slice(&self.vdev.to_le_bytes());
        out[4..8].copy_from_slice(&self.asize.to_le_bytes());
        out[8..16].copy_from_slice(&self.offset.to_le_bytes());
    }

    fn decode(b: &[u8]) -> Dva {
        Dva {
            vdev: u32::from_le_bytes(b[0..4].try_into().expect("4 bytes")),
            asize: u32::from_le_bytes(b[4..8].try_into().expect("4 bytes")),
            offset: u64::from_le_bytes(b[8..16].try_into().expect("8 bytes")),
        }
    }
}

impl std::fmt::Display for Dva {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{:x}:{:x}", self.vdev, self.offset, self.asize)
    }
}

/// What a block holds. The pool names its own kinds; upper layers use the
/// codes from [`BlockType::FIRST_UPPER`] on, named here so that the checker
/// can print them.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct BlockType(pub u8);

impl BlockType {
    /// Unused.
    pub const NONE: BlockType = BlockType(0);
    /// The pool's root block (under the uberblock).
    pub const POOL_ROOT: BlockType = BlockType(1);
    /// The space map index (checkpoint and log pointers).
    pub const SPACE_MAP_INDEX: BlockType = BlockType(2);
    /// A space map checkpoint chunk.
    pub const SPACE_MAP_CHECKPOINT: BlockType = BlockType(3);
    /// A space map log block (one txg's allocations and frees).
    pub const SPACE_MAP_LOG: BlockType = BlockType(4);
    /// Pool history.
    pub const HISTORY: BlockType = BlockType(5);
    /// Persistent error log.
    pub const ERROR_LOG: BlockType = BlockType(6);
    /// Opaque test data (pool tests and benchmarks).
    pub const TEST_DATA: BlockType = BlockType(7);
    /// First code left to the layers above the pool.
    pub const FIRST_UPPER: u8 = 32;

    /// True for blocks that hold metadata rather than file or volume data.
    pub fn is_pool_metadata(self) -> bool {
        (1..=6).contains(&self.0)
    }
}

/// A block pointer.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct BlkPtr {
    /// One address per copy; empty slots have asize 0.
    pub dva: [Dva; MAX_COPIES],
    /// Logical (uncompressed) size.
    pub lsize: u32,
    /// Stored size (compressed, before padding to a sector).
    pub psize: u32,
    /// Txg in which the block was written.
    pub birth: u64,
    /// Count of non-hole level-0 blocks beneath (1 for a data block).
    pub fill: u64,
    /// Checksum algorithm.
    pub checksum_type: ChecksumType,
    /// Compression algorithm of the stored bytes.
    pub compression: Compression,
    /// Kind of block.
    pub block_type: BlockType,
    /// Indirection level: 0 for data.
    pub level: u8,
    /// Checksum of the stored bytes.
    pub checksum: Checksum,
}

impl BlkPtr {
    /// A hole of `lsize` bytes born in `birth`.
    pub fn hole(lsize: u32, birth: u64) -> Self {
        BlkPtr {
            lsize,
            birth,
            ..Default::default()
        }
    }

    /// True when no data is behind this pointer.
    pub fn is_hole(&self) -> bool {
        self.dva[0].is_empty()
    }

    /// The copies that exist.
    pub fn copies(&self) -> impl Iterator<Item = &Dva> {
        self.dva.iter().filter(|d| !d.is_empty())
    }

    /// Number of copies.
    pub fn ncopies(&self) -> usize {
        self.copies().count()
    }

    /// Total allocated bytes of all copies.
    pub fn asize(&self) -> u64 {
        self.copies().map(|d| d.asize as u64).sum()
    }

    /// Encodes into exactly [`BLKPTR_SIZE`] bytes.
    pub fn encode(&self) -> [u8; BLKPTR_SIZE] {
        let mut b = [0u8; BLKPTR_SIZE];
        self.encode_into(&mut b);
        b
    }

    /// Encodes into the first [`BLKPTR_SIZE`] bytes of `out`.
    pub fn encode_into(&self, out: &mut [u8]) {
        let b = &mut out[..BLKPTR_SIZE];
        b.fill(0);
        for (i, d) in self.dva.iter().enumerate() {
            d.encode(&mut b[i * 16..i * 16 + 16]);
        }
        b[48..52].copy_from_slice(&self.lsize.to_le_bytes());
        b[52..56].copy_from_slice(&self.psize.to_le_bytes());
        b[56..64].copy_from_slice(&self.birth.to_le_bytes());
        b[64..72].copy_from_slice(&self.fill.to_le_bytes());
        if !self.is_hole() {
            b[72] = self.checksum_type.code();
            b[73] = self.compression.code();
        }
        b[74] = self.block_type.0;
        b[75] = self.level;
        b[80..80 + CHECKSUM_LEN].copy_from_slice(&self.checksum.0);
    }

    /// Decodes a block pointer, checking every field it can.
    pub fn decode(b: &[u8]) -> Result<BlkPtr> {
        if b.len() < BLKPTR_SIZE {
            return Err(PoolError::corrupt(
                "block pointer",
                format!("{} bytes, need {BLKPTR_SIZE}", b.len()),
            ));
        }
        let b = &b[..BLKPTR_SIZE];
        let dva = [
            Dva::decode(&b[0..16]),
            Dva::decode(&b[16..32]),
            Dva::decode(&b[32..48]),
        ];
        let le32 = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().expect("4 bytes"));
        let le64 = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().expect("8 bytes"));
        let lsize = le32(48);
        let psize = le32(52);
        let birth = le64(56);
        let fill = le64(64);
        if b[76..80].iter().any(|&x| x != 0) || b[112..].iter().any(|&x| x != 0) {
            return Err(PoolError::corrupt(
                "block pointer",
                "reserved bytes are not zero",
            ));
        }
        if lsize > MAX_BLOCK_SIZE {
            return Err(PoolError::corrupt(
                "block pointer",
                format!("logical size {lsize} over the maximum {MAX_BLOCK_SIZE}"),
            ));
        }
        let mut checksum = Checksum::default();
        checksum.0.copy_from_slice(&b[80..80 + CHECKSUM_LEN]);
        if dva[0].is_empty() {
            if dva[1..].iter().any(|d| *d != Dva::default()) || psize != 0 || b[72] != 0 {
                return Err(PoolError::corrupt("block pointer", "hole with an address"));
            }
            return Ok(BlkPtr {
                dva,
                lsize,
                psize,
                birth,
                fill,
                checksum_type: ChecksumType::default(),
                compression: Compression::Off,
                block_type: BlockType(b[74]),
                level: b[75],
                checksum,
            });
        }
        let checksum_type = ChecksumType::from_code(b[72]).ok_or_else(|| {
            PoolError::corrupt("block pointer", format!("unknown checksum type {}", b[72]))
        })?;
        let compression = Compression::from_code(b[73]).ok_or_else(|| {
            PoolError::corrupt("block pointer", format!("unknown compression {}", b[73]))
        })?;
        if lsize < MIN_BLOCK_SIZE || psize == 0 {
            return Err(PoolError::corrupt(
                "block pointer",
                format!("sizes out of range (logical {lsize}, physical {psize})"),
            ));
        }
        if compression == Compression::Off && psize != lsize {
            return Err(PoolError::corrupt(
                "block pointer",
                format!("uncompressed block with physical size {psize} != logical {lsize}"),
            ));
        }
        if psize > lsize {
            return Err(PoolError::corrupt(
                "block pointer",
                format!("physical size {psize} over logical {lsize}"),
            ));
        }
        let mut seen_empty = false;
        for d in &dva {
            if d.is_empty() {
                seen_empty = true;
                if d.offset != 0 || d.vdev != 0 {
                    return Err(PoolError::corrupt(
                        "block pointer",
                        "empty DVA with an address",
                    ));
                }
            } else if seen_empty {
                return Err(PoolError::corrupt(
                    "block pointer",
                    "DVA after an empty one",
                ));
            } else if (d.asize as u64) < psize as u64 {
                return Err(PoolError::corrupt(
                    "block pointer",
                    format!("copy {d} smaller than the physical size {psize}"),
                ));
            } else if d.offset.checked_add(d.asize as u64).is_none() {
                return Err(PoolError::corrupt("block pointer", "address overflows"));
            }
        }
        if birth == 0 {
            return Err(PoolError::corrupt(
                "block pointer",
                "allocated block born in txg 0",
            ));
        }
        Ok(BlkPtr {
            dva,
            lsize,
            psize,
            birth,
            fill,
            checksum_type,
            compression,
            block_type: BlockType(b[74]),
            level: b[75],
            checksum,
        })
    }

    /// A short description for errors and dumps.
    pub fn describe(&self) -> String {
        if self.is_hole() {
            return format!("<hole lsize={:x} birth={}>", self.lsize, self.birth);
        }
        let dvas: Vec<String> = self.copies().map(|d| d.to_string()).collect();
        format!(
            "[L{} type={} {}] {} lsize={:x} psize={:x} {} birth={} fill={} cksum={}",
            self.level,
            self.block_type.0,
            self.compression.name(),
            dvas.join(" "),
            self.lsize,
            self.psize,
            self.checksum_type.name(),
            self.birth,
            self.fill,
            &self.checksum.to_hex()[..16],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> BlkPtr {
        BlkPtr {
            dva: [
                Dva {
                    vdev: 0,
                    asize: 8192,
                    offset: 0x40000,
                },
                Dva {
                    vdev: 1,
                    asize: 8192,
                    offset: 0x80000,
                },
                Dva::default(),
            ],
            lsize: 131072,
            psize: 5000,
            birth: 42,
            fill: 1,
            checksum_type: ChecksumType::Crc32c,
            compression: Compression::Lz4,
            block_type: BlockType::TEST_DATA,
            level: 0,
            checksum: ChecksumType::Blake3.compute(b"x"),
        }
    }

    #[test]
    fn round_trip() {
        let bp = sample();
        assert_eq!(BlkPtr::decode(&bp.encode()).unwrap(), bp);
        let hole = BlkPtr::hole(4096, 7);
        assert_eq!(BlkPtr::decode(&hole.encode()).unwrap(), hole);
        assert_eq!(BlkPtr::decode(&[0u8; 128]).unwrap(), BlkPtr::default());
    }

    #[test]
    fn rejects_inconsistent_pointers() {
        let mut bp = sample();
        bp.psize = bp.lsize + 1;
        assert!(BlkPtr::decode(&bp.encode()).is_err());
        let mut bytes = sample().encode();
        bytes[72] = 99;
        assert!(BlkPtr::decode(&bytes).is_err());
        let mut bytes = sample().encode();
        bytes[120] = 1;
        assert!(BlkPtr::decode(&bytes).is_err());
        let mut bp = sample();
        bp.dva[0].asize = 100;
        assert!(BlkPtr::decode(&bp.encode()).is_err());
        assert!(BlkPtr::decode(&[1u8; 10]).is_err());
    }

    proptest::proptest! {
        #[test]
        fn decode_is_total(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..160)) {
            if let Ok(bp) = BlkPtr::decode(&bytes) {
                // Whatever decodes re-encodes to the same pointer.
                proptest::prop_assert_eq!(BlkPtr::decode(&bp.encode()).unwrap(), bp);
            }
        }
    }
}
