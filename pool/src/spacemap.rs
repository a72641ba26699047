//! On-disk space maps: a checkpoint of every metaslab's allocated segments,
//! then an append-only log of allocations and frees, one block per synced
//! txg, until the next condense writes new checkpoints.
//!
//! All three kinds of block are ordinary checksummed blocks in the pool's
//! Merkle tree; the pool root points at the index, which points at the rest.
//!
//! Log block ([`BlockType::SPACE_MAP_LOG`]): header of 32 bytes (magic
//! `BASINSML`, version `u32`, entry count `u32`, txg `u64`, zero `u64`), then
//! entries of 32 bytes: offset `u64`, length `u64`, txg `u64`, vdev `u32`,
//! kind `u8` (1 alloc, 2 free), three zero bytes.
//!
//! Checkpoint chunk ([`BlockType::SPACE_MAP_CHECKPOINT`]): header of 32 bytes
//! (magic `BASINSMC`, version `u32`, segment count `u32`, vdev `u32`,
//! metaslab `u32`, zero `u64`), then allocated segments of 16 bytes: offset
//! `u64`, length `u64`, in increasing order without overlap.
//!
//! Index ([`BlockType::SPACE_MAP_INDEX`]): header of 32 bytes (magic
//! `BASINSMI`, version `u32`, checkpoint count `u32`, log count `u32`, zero
//! `u32`, txg of the last condense `u64`), then checkpoint entries of 136
//! bytes (vdev `u32`, metaslab `u32`, block pointer), then log block pointers
//! of 128 bytes in txg order.
//!
//! [`BlockType::SPACE_MAP_LOG`]: crate::blkptr::BlockType::SPACE_MAP_LOG
//! [`BlockType::SPACE_MAP_CHECKPOINT`]: crate::blkptr::BlockType::SPACE_MAP_CHECKPOINT
//! [`BlockType::SPACE_MAP_INDEX`]: crate::blkptr::BlockType::SPACE_MAP_INDEX

use crate::blkptr::{BlkPtr, BLKPTR_SIZE};
use crate::error::{PoolError, Result};

const LOG_MAGIC: u64 = u64::from_le_bytes(*b"BASINSML");
const CKPT_MAGIC: u64 = u64::from_le_bytes(*b"BASINSMC");
const INDEX_MAGIC: u64 = u64::from_le_bytes(*b"BASINSMI");
const VERSION: u32 = 1;
const HEADER: usize = 32;
/// Size of a log entry.
pub const ENTRY_SIZE: usize = 32;
/// Size of a checkpoint segment.
pub const SEGMENT_SIZE: usize = 16;
const CKPT_ENTRY: usize = 8 + BLKPTR_SIZE;

/// Whether a log entry allocates or frees.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum EntryKind {
    /// Space taken.
    Alloc,
    /// Space given back (returned to the allocator two txgs later).
    Free,
}

/// One log entry.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SmEntry {
    /// Alloc or free.
    pub kind: EntryKind,
    /// Top-level vdev.
    pub vdev: u32,
    /// Offset in the vdev's allocatable space.
    pub offset: u64,
    /// Length in bytes.
    pub len: u64,
    /// Txg of the operation (frees keep theirs across condenses).
    pub txg: u64,
}

fn le64(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().expect("8 bytes"))
}
fn le32(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().expect("4 bytes"))
}

fn check_header(b: &[u8], magic: u64, what: &'static str) -> Result<()> {
    if b.len() < HEADER || le64(b, 0) != magic {
        return Err(PoolError::corrupt(what, "bad magic"));
    }
    let v = le32(b, 8);
    if v != VERSION {
        return Err(PoolError::corrupt(what, format!("unsupported version {v}")));
    }
    Ok(())
}

fn counted(b: &[u8], count: usize, unit: usize, what: &'static str) -> Result<()> {
    match count.checked_mul(unit).and_then(|n| n.checked_add(HEADER)) {
        Some(need) if need <= b.len() => Ok(()),
        _ => Err(PoolError::corrupt(
            what,
            format!("{count} entries do not fit in {} bytes", b.len()),
        )),
    }
}

/// Encodes a log block.
pub fn encode_log(txg: u64, entries: &[SmEntry]) -> Vec<u8> {
    let mut b = vec![0u8; log_size(entries.len())];
    b[0..8].copy_from_slice(&LOG_MAGIC.to_le_bytes());
    b[8..12].copy_from_slice(&VERSION.to_le_bytes());
    b[12..16].copy_from_slice(&(entries.len() as u32).to_le_bytes());
    b[16..24].copy_from_slice(&txg.to_le_bytes());
    for (i, e) in entries.iter().enumerate() {
        let o = HEADER + i * ENTRY_SIZE;
        b[o..o + 8].copy_from_slice(&e.offset.to_le_bytes());
        b[o + 8..o + 16].copy_from_slice(&e.len.to_le_bytes());
        b[o + 16..o + 24].copy_from_slice(&e.txg.to_le_bytes());
        b[o + 24..o + 28].copy_from_slice(&e.vdev.to_le_bytes());
        b[o + 28] = match e.kind {
            EntryKind::Alloc => 1,
            EntryKind::Free => 2,
        };
    }
    b
}

/// Bytes of a log block with `n` entries.
pub fn log_size(n: usize) -> usize {
    HEADER + n * ENTRY_SIZE
}

/// Decodes a log block into (txg, entries).
pub fn decode_log(b: &[u8]) -> Result<(u64, Vec<SmEntry>)> {
    const WHAT: &str = "space map log";
    check_header(b, LOG_MAGIC, WHAT)?;
    let n = le32(b, 12) as usize;
    counted(b, n, ENTRY_SIZE, WHAT)?;
    let txg = le64(b, 16);
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let o = HEADER + i * ENTRY_SIZE;
        let kind = match b[o + 28] {
            1 => EntryKind::Alloc,
            2 => EntryKind::Free,
            k => return Err(PoolError::corrupt(WHAT, format!("unknown entry kind {k}"))),
        };
        let e = SmEntry {
            kind,
            offset: le64(b, o),
            len: le64(b, o + 8),
            txg: le64(b, o + 16),
            vdev: le32(b, o + 24),
        };
        if e.len == 0 || e.offset.checked_add(e.len).is_none() || e.txg > txg {
            return Err(PoolError::corrupt(WHAT, format!("bad entry {e:?}")));
        }
        out.push(e);
    }
    Ok((txg, out))
}

/// A decoded checkpoint: (vdev, metaslab, allocated segments).
pub type Checkpoint = (u32, u32, Vec<(u64, u64)>);

/// Encodes a checkpoint chunk of a metaslab's allocated segments.
pub fn encode_checkpoint(vdev: u32, ms: u32, segs: &[(u64, u64)]) -> Vec<u8> {
    let mut b = vec![0u8; checkpoint_size(segs.len())];
    b[0..8].copy_from_slice(&CKPT_MAGIC.to_le_bytes());
    b[8..12].copy_from_slice(&VERSION.to_le_bytes());
    b[12..16].copy_from_slice(&(segs.len() as u32).to_le_bytes());
    b[16..20].copy_from_slice(&vdev.to_le_bytes());
    b[20..24].copy_from_slice(&ms.to_le_bytes());
    for (i, (off, len)) in segs.iter().enumerate() {
        let o = HEADER + i * SEGMENT_SIZE;
        b[o..o + 8].copy_from_slice(&off.to_le_bytes());
        b[o + 8..o + 16].copy_from_slice(&len.to_le_bytes());
    }
    b
}

/// Bytes of a checkpoint with `n` segments.
pub fn checkpoint_size(n: usize) -> usize {
    HEADER + n * SEGMENT_SIZE
}

/// Decodes a checkpoint into (vdev, metaslab, segments).
pub fn decode_checkpoint(b: &[u8]) -> Result<Checkpoint> {
    const WHAT: &str = "space map checkpoint";
    check_header(b, CKPT_MAGIC, WHAT)?;
    let n = le32(b, 12) as usize;
    counted(b, n, SEGMENT_SIZE, WHAT)?;
    let mut segs = Vec::with_capacity(n);
    let mut prev_end = 0u64;
    for i in 0..n {
        let o = HEADER + i * SEGMENT_SIZE;
        let (off, len) = (le64(b, o), le64(b, o + 8));
        let end = off.checked_add(len);
        if len == 0 || end.is_none() || (i > 0 && off < prev_end) {
            return Err(PoolError::corrupt(
                WHAT,
                "segments out of order or overlapping",
            ));
        }
        prev_end = end.unwrap_or(0);
        segs.push((off, len));
    }
    Ok((le32(b, 16), le32(b, 20), segs))
}

/// The space map index.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SmIndex {
    /// Txg of the last condense.
    pub condensed_txg: u64,
    /// (vdev, metaslab, checkpoint) of every checkpointed metaslab.
    pub checkpoints: Vec<(u32, u32, BlkPtr)>,
    /// Log blocks since the last condense, oldest first.
    pub logs: Vec<BlkPtr>,
}

impl SmIndex {
    /// Encoded size.
    pub fn size(&self) -> usize {
        HEADER + self.checkpoints.len() * CKPT_ENTRY + self.logs.len() * BLKPTR_SIZE
    }

    /// Encodes the index.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = vec![0u8; self.size()];
        b[0..8].copy_from_slice(&INDEX_MAGIC.to_le_bytes());
        b[8..12].copy_from_slice(&VERSION.to_le_bytes());
        b[12..16].copy_from_slice(&(self.checkpoints.len() as u32).to_le_bytes());
        b[16..20].copy_from_slice(&(self.logs.len() as u32).to_le_bytes());
        b[24..32].copy_from_slice(&self.condensed_txg.to_le_bytes());
        let mut o = HEADER;
        for (v, m, bp) in &self.checkpoints {
            b[o..o + 4].copy_from_slice(&v.to_le_bytes());
            b[o + 4..o + 8].copy_from_slice(&m.to_le_bytes());
            bp.encode_into(&mut b[o + 8..o + CKPT_ENTRY]);
            o += CKPT_ENTRY;
        }
        for bp in &self.logs {
            bp.encode_into(&mut b[o..o + BLKPTR_SIZE]);
            o += BLKPTR_SIZE;
        }
        b
    }

    /// Decodes the index.
    pub fn decode(b: &[u8]) -> Result<SmIndex> {
        const WHAT: &str = "space map index";
        check_header(b, INDEX_MAGIC, WHAT)?;
        let nc = le32(b, 12) as usize;
        let nl = le32(b, 16) as usize;
        let need = nc
            .checked_mul(CKPT_ENTRY)
            .and_then(|x| nl.checked_mul(BLKPTR_SIZE).and_then(|y| x.checked_add(y)))
            .and_then(|x| x.checked_add(HEADER));
        if need.is_none_or(|n| n > b.len()) {
            return Err(PoolError::corrupt(WHAT, "counts exceed the block"));
        }
        let mut idx = SmIndex {
            condensed_txg: le64(b, 24),
            ..Default::default()
        };
        let mut o = HEADER;
        for _ in 0..nc {
            let bp = BlkPtr::decode(&b[o + 8..o + CKPT_ENTRY])?;
            idx.checkpoints.push((le32(b, o), le32(b, o + 4), bp));
            o += CKPT_ENTRY;
        }
        for _ in 0..nl {
            idx.logs.push(BlkPtr::decode(&b[o..o + BLKPTR_SIZE])?);
            o += BLKPTR_SIZE;
        }
        Ok(idx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_round_trip() {
        let e = vec![
            SmEntry {
                kind: EntryKind::Alloc,
                vdev: 0,
                offset: 4096,
                len: 8192,
                txg: 5,
            },
            SmEntry {
                kind: EntryKind::Free,
                vdev: 2,
                offset: 0,
                len: 512,
                txg: 3,
            },
        ];
        let b = encode_log(5, &e);
        assert_eq!(decode_log(&b).unwrap(), (5, e));
        // An entry from the future is corrupt.
        let bad = encode_log(
            2,
            &[SmEntry {
                kind: EntryKind::Free,
                vdev: 0,
                offset: 0,
                len: 1,
                txg: 3,
            }],
        );
        assert!(decode_log(&bad).is_err());
    }

    #[test]
    fn checkpoint_round_trip_and_order() {
        let b = encode_checkpoint(1, 7, &[(0, 10), (20, 5)]);
        assert_eq!(
            decode_checkpoint(&b).unwrap(),
            (1, 7, vec![(0, 10), (20, 5)])
        );
        let b = encode_checkpoint(1, 7, &[(0, 10), (5, 5)]);
        assert!(decode_checkpoint(&b).is_err());
    }

    #[test]
    fn index_round_trip() {
        let idx = SmIndex {
            condensed_txg: 9,
            checkpoints: vec![(0, 1, BlkPtr::hole(512, 1))],
            logs: vec![BlkPtr::hole(512, 2), BlkPtr::hole(1024, 3)],
        };
        assert_eq!(SmIndex::decode(&idx.encode()).unwrap(), idx);
        let mut b = idx.encode();
        b[16] = 200;
        assert!(SmIndex::decode(&b).is_err());
    }

    proptest::proptest! {
        #[test]
        fn decoders_are_total(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
            let _ = decode_log(&bytes);
            let _ = decode_checkpoint(&bytes);
            let _ = SmIndex::decode(&bytes);
            // With a valid header, the bodies are exercised too.
            for magic in [LOG_MAGIC, CKPT_MAGIC, INDEX_MAGIC] {
                let mut b = bytes.clone();
                if b.len() >= HEADER {
                    b[0..8].copy_from_slice(&magic.to_le_bytes());
                    b[8..12].copy_from_slice(&VERSION.to_le_bytes());
                    let _ = decode_log(&b);
                    let _ = decode_checkpoint(&b);
                    let _ = SmIndex::decode(&b);
                }
            }
        }
    }
}
