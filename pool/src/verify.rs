//! Consistency checks of an open pool: every block of the pool's own
//! metadata verifies, and the allocator's view of space agrees exactly with
//! the blocks reachable from the uberblock (no leak, no double allocation,
//! no reachable block in freed space). The checker in `fsck/` and the crash
//! tests use it.

use std::collections::BTreeMap;

use crate::blkptr::BlkPtr;
use crate::error::{PoolError, Result};
use crate::label::FRONT_RESERVE;
use crate::pool::Pool;
use crate::vdev::{AlignedBuf, IoClass};

/// Why one copy of a block, on one leaf, is not good.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CopyFault {
    /// The block pointer has no such copy, or its vdev has no such leaf.
    #[error("no such copy")]
    NoSuchCopy,
    /// The copy's address lies outside its vdev.
    #[error("address outside the vdev")]
    BadAddress,
    /// The leaf that holds the copy is missing, offline or faulted.
    #[error("device unavailable")]
    Unavailable,
    /// The read failed.
    #[error("read failed: {0}")]
    Io(std::io::Error),
    /// The bytes read do not match the block pointer's checksum.
    #[error("checksum mismatch")]
    Checksum,
    /// The bytes verify but do not decompress to the logical size.
    #[error("{0}")]
    Decode(PoolError),
}

/// What the space check found.
#[derive(Debug, Default, Clone)]
pub struct SpaceCheck {
    /// Copies examined.
    pub copies: u64,
    /// Bytes they occupy.
    pub bytes: u64,
    /// Every problem found, in words.
    pub problems: Vec<String>,
}

impl Pool {
    /// Every block of the pool's own metadata: root, space map index,
    /// checkpoints, logs and history chain (read and verified on the way).
    pub fn metadata_blocks(&self) -> Result<Vec<BlkPtr>> {
        let (root_bp, root) = {
            let rs = self.0.root.lock();
            (rs.root_bp, rs.root.clone())
        };
        let mut out = vec![root_bp];
        if !root.spacemap.is_hole() {
            out.push(root.spacemap);
            let idx = crate::spacemap::SmIndex::decode(
                &self.0.read_block(&root.spacemap, IoClass::SyncRead)?,
            )?;
            for (_, _, bp) in &idx.checkpoints {
                self.0.read_block(bp, IoClass::SyncRead)?;
                out.push(*bp);
            }
            for bp in &idx.logs {
                self.0.read_block(bp, IoClass::SyncRead)?;
                out.push(*bp);
            }
        }
        let mut bp = root.history;
        while !bp.is_hole() {
            out.push(bp);
            let (prev, _) = crate::history::decode(&self.0.read_block(&bp, IoClass::SyncRead)?)?;
            bp = prev;
        }
        Ok(out)
    }

    /// The number of leaves that hold copy `copy` of `bp` (the sides of a
    /// mirror each hold one), 0 when there is no such copy.
    pub fn copy_leaves(&self, bp: &BlkPtr, copy: usize) -> usize {
        let Some(d) = bp.dva.get(copy).filter(|d| !d.is_empty()) else {
            return 0;
        };
        self.0
            .vdevs
            .read()
            .get(d.vdev as usize)
            .map(|t| match t.layout {
                // The columns of a raidz block are checked together.
                crate::vdev::Layout::Raidz { .. } => 1,
                _ => t.leaves().len(),
            })
            .unwrap_or(0)
    }

    /// Reads copy `copy` of `bp` from leaf `leaf` of its vdev alone,
    /// verifies it against the checksum and decompresses it. Unlike
    /// [`Pool::read_block`] it neither tries another copy nor repairs this
    /// one, and counts nothing: the checker reads every copy this way.
    pub fn read_copy(
        &self,
        bp: &BlkPtr,
        copy: usize,
        leaf: usize,
    ) -> std::result::Result<AlignedBuf, CopyFault> {
        let d = *bp
            .dva
            .get(copy)
            .filter(|d| !d.is_empty())
            .ok_or(CopyFault::NoSuchCopy)?;
        let top = self
            .0
            .vdevs
            .read()
            .get(d.vdev as usize)
            .cloned()
            .ok_or(CopyFault::BadAddress)?;
        let psize = bp.psize as usize;
        if d.offset.saturating_add(d.asize as u64) > top.asize || (d.asize as usize) < psize {
            return Err(CopyFault::BadAddress);
        }
        if let crate::vdev::Layout::Raidz { .. } = top.layout {
            if leaf != 0 {
                return Err(CopyFault::NoSuchCopy);
            }
            let at = crate::vdev::BlockAt {
                offset: d.offset,
                asize: d.asize as usize,
                psize,
                birth: bp.birth,
            };
            let verify =
                |b: &[u8]| b.len() >= psize && bp.checksum_type.verify(&b[..psize], &bp.checksum);
            let data = top.check(at, &verify).map_err(|e| match e {
                crate::vdev::ReadFailure::Checksum => CopyFault::Checksum,
                crate::vdev::ReadFailure::Io(e) => CopyFault::Io(e),
            })?;
            return crate::zio::decode_stored(bp, data).map_err(CopyFault::Decode);
        }
        let leaves = top.leaves();
        let child = leaves.get(leaf).ok_or(CopyFault::NoSuchCopy)?;
        if child.lacks(bp.birth) {
            return Err(CopyFault::Unavailable);
        }
        let engine = child.engine().ok_or(CopyFault::Unavailable)?;
        let data = engine
            .read(FRONT_RESERVE + d.offset, d.asize as usize, IoClass::Scrub)
            .map_err(CopyFault::Io)?;
        if data.len() < psize || !bp.checksum_type.verify(&data[..psize], &bp.checksum) {
            return Err(CopyFault::Checksum);
        }
        crate::zio::decode_stored(bp, data).map_err(CopyFault::Decode)
    }

    /// Compares the allocator with `user` (every block pointer reachable
    /// through the layer above, each listed once per reference) plus the
    /// pool's own metadata. Blocks shared by several references (snapshots)
    /// may be listed several times with the same address.
    pub fn check_space(&self, user: &[BlkPtr]) -> Result<SpaceCheck> {
        let _serial = self.0.sync_lock.lock();
        let mut all = self.metadata_blocks()?;
        all.extend_from_slice(user);
        let mut check = SpaceCheck::default();
        // (vdev, offset) -> asize, each address once.
        let mut used: BTreeMap<(u32, u64), u64> = BTreeMap::new();
        for bp in &all {
            for d in bp.copies() {
                match used.get(&(d.vdev, d.offset)) {
                    Some(&len) if len == d.asize as u64 => continue,
                    Some(&len) => check
                        .problems
                        .push(format!("copy {d} is also referenced with size {len:#x}")),
                    None => {
                        used.insert((d.vdev, d.offset), d.asize as u64);
                    }
                }
            }
        }
        // Overlaps between distinct copies are double allocations.
        let mut prev: Option<((u32, u64), u64)> = None;
        for (&(v, off), &len) in &used {
            if let Some(((pv, poff), plen)) = prev {
                if pv == v && poff + plen > off {
                    check.problems.push(format!(
                        "double allocation: {v}:{poff:x}+{plen:x} overlaps {v}:{off:x}+{len:x}"
                    ));
                }
            }
            prev = Some(((v, off), len));
            check.copies += 1;
            check.bytes += len;
        }
        let deferred = self.0.space.deferred();
        let vdevs = self.0.space.vdev_count();
        for v in 0..vdevs {
            // Allocated per the allocator, minus deferred frees.
            let mut alloc = crate::rangetree::RangeTree::new();
            let nms = self.0.space.with_group(v, |g| g.slabs.len());
            for m in 0..nms {
                for (off, len) in self.0.space.allocated_segments(v, m) {
                    let _ = alloc.add(off, len);
                }
            }
            for &(_, dv, off, len) in &deferred {
                if dv as usize == v && alloc.remove(off, len).is_err() {
                    check.problems.push(format!(
                        "deferred free {v}:{off:x}+{len:x} is not allocated"
                    ));
                }
            }
            for (&(uv, off), &len) in used.range((v as u32, 0)..(v as u32 + 1, 0)) {
                debug_assert_eq!(uv as usize, v);
                if alloc.remove(off, len).is_err() {
                    check.problems.push(format!(
                        "reachable block {v}:{off:x}+{len:x} is not allocated (free or freed)"
                    ));
                }
            }
            for (off, len) in alloc.iter() {
                check.problems.push(format!(
                    "leak: {v}:{off:x}+{len:x} allocated but unreachable"
                ));
            }
        }
        Ok(check)
    }
}
