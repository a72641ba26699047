//! Consistency checks of an open pool: every block of the pool's own
//! metadata verifies, and the allocator's view of space agrees exactly with
//! the blocks reachable from the uberblock (no leak, no double allocation,
//! no reachable block in freed space). The checker in `fsck/` and the crash
//! tests use it.

use std::collections::BTreeMap;

use crate::blkptr::BlkPtr;
use crate::error::Result;
use crate::pool::Pool;
use crate::vdev::IoClass;

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
