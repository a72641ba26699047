//! Space accounting of the dataset layer, by birth time (as OpenZFS):
//!
//! - a block born in a head is charged to the head (`usedbydataset`) and is
//!   unique to it;
//! - a block killed in a head that was born after the newest snapshot is
//!   freed at once;
//! - one born before it is still held by that snapshot: it goes on the
//!   head's deadlist, its space moves from the head to `usedbysnapshots`,
//!   and if no older snapshot holds it, it becomes unique to the newest one;
//! - a directory counts for its parent as the larger of its total use and
//!   its reservation.

use basin_pool::BlkPtr;
use parking_lot::Mutex;

use crate::accounting::BlockAccounting;
use crate::dsl::{deadlist, DirMem, DslPool, DslState};
use crate::error::Result;

/// A numeric property of a directory (0 when unset or `none`).
pub fn prop_u64(dir: &DirMem, name: &str) -> u64 {
    dir.props
        .get(name)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The quota of a directory (0: none).
pub fn quota_of(dir: &DirMem) -> u64 {
    prop_u64(dir, "quota")
}

/// Unused reservation of a directory.
pub fn unused_reservation(dir: &DirMem) -> u64 {
    prop_u64(dir, "reservation").saturating_sub(dir.phys.used.total())
}

fn apply(v: u64, d: i64) -> u64 {
    if d >= 0 {
        v.saturating_add(d as u64)
    } else {
        v.saturating_sub(d.unsigned_abs())
    }
}

/// Changes a directory's head and snapshot use (and its compressed and
/// logical totals and those of its ancestors), then what it counts for in
/// its ancestors.
pub(crate) fn add_used(
    st: &mut DslState,
    dir: u64,
    head: i64,
    snap: i64,
    comp: i64,
    uncomp: i64,
) -> Result<()> {
    {
        let d = st.dir_mut(dir)?;
        d.phys.used.head = apply(d.phys.used.head, head);
        d.phys.used.snap = apply(d.phys.used.snap, snap);
    }
    if comp != 0 || uncomp != 0 {
        let mut cur = dir;
        while cur != 0 {
            let d = st.dir_mut(cur)?;
            d.phys.compressed = apply(d.phys.compressed, comp);
            d.phys.uncompressed = apply(d.phys.uncompressed, uncomp);
            cur = d.phys.parent;
        }
    }
    refresh_contrib(st, dir)
}

/// Recomputes the refreservation use of `dir` and what it counts for in
/// its parent, carrying any change up the tree.
pub(crate) fn refresh_contrib(st: &mut DslState, dir: u64) -> Result<()> {
    let mut cur = dir;
    loop {
        let head_unique = {
            let d = st.dir(cur)?;
            st.datasets
                .get(&d.phys.head)
                .map(|h| h.phys.unique)
                .unwrap_or(0)
        };
        let d = st.dir_mut(cur)?;
        d.phys.used.refrsrv = prop_u64(d, "refreservation").saturating_sub(head_unique);
        let new = d.phys.used.total().max(prop_u64(d, "reservation"));
        let old = std::mem::replace(&mut d.contrib, new);
        let parent = d.phys.parent;
        if parent == 0 || new == old {
            return Ok(());
        }
        let p = st.dir_mut(parent)?;
        p.phys.used.child = apply(p.phys.used.child, new as i64 - old as i64);
        cur = parent;
    }
}

/// Sets every directory's contribution from its loaded figures (at open).
pub(crate) fn init_contrib(st: &mut DslState) {
    for d in st.dirs.values_mut() {
        d.contrib = d.phys.used.total().max(prop_u64(d, "reservation"));
    }
}

/// Space available to directory `dir`: the pool's free space less every
/// unused reservation elsewhere, within every quota on the way up.
pub fn available(dsl: &DslPool, st: &DslState, dir: u64) -> u64 {
    let pool_free = dsl.pool().available(basin_pool::ReserveClass::Normal);
    let reserved: u64 = st.dirs.values().map(unused_reservation).sum();
    let mut chain = Vec::new();
    let mut cur = dir;
    while let Some(d) = st.dirs.get(&cur) {
        chain.push(cur);
        if d.phys.parent == 0 {
            break;
        }
        cur = d.phys.parent;
    }
    let mut avail = pool_free.saturating_sub(reserved);
    for id in chain.iter().rev() {
        let d = &st.dirs[id];
        avail = avail.saturating_add(unused_reservation(d));
        let q = quota_of(d);
        if q > 0 {
            let used = d.phys.used.total() + dsl.pending_bytes(*id);
            avail = avail.min(q.saturating_sub(used));
        }
    }
    let head = st.dirs.get(&dir).map(|d| d.phys.head).unwrap_or(0);
    if let (Some(d), Some(h)) = (st.dirs.get(&dir), st.datasets.get(&head)) {
        let rq = prop_u64(d, "refquota");
        if rq > 0 {
            avail = avail.min(rq.saturating_sub(h.phys.referenced));
        }
    }
    avail
}

/// The accounting of a head dataset's object set sync.
pub struct DatasetAccounting<'a> {
    /// The dataset layer.
    pub dsl: &'a DslPool,
    /// The head dataset.
    pub ds: u64,
    /// Killed blocks for the deadlist, appended after the sync.
    pub dead: Mutex<Vec<BlkPtr>>,
}

impl<'a> DatasetAccounting<'a> {
    /// Accounting for head `ds`.
    pub fn new(dsl: &'a DslPool, ds: u64) -> Self {
        DatasetAccounting {
            dsl,
            ds,
            dead: Mutex::new(Vec::new()),
        }
    }

    /// Appends the blocks killed while snapshots held them to the deadlist.
    pub fn flush(&self, txg: u64) -> Result<()> {
        let dead = std::mem::take(&mut *self.dead.lock());
        if dead.is_empty() {
            return Ok(());
        }
        let id = self
            .dsl
            .with_state(|st| st.ds(self.ds).map(|d| d.phys.deadlist))?;
        let h = deadlist::append(self.dsl.mos(), txg, id, &dead)?;
        let mut st = self.dsl.st.lock();
        st.ds_mut(self.ds)?.deadlist = h;
        Ok(())
    }

    fn born_inner(&self, bp: &BlkPtr) -> Result<()> {
        let a = bp.asize();
        let mut st = self.dsl.st.lock();
        let d = st.ds_mut(self.ds)?;
        d.phys.referenced += a;
        d.phys.compressed += bp.psize as u64;
        d.phys.uncompressed += bp.lsize as u64;
        d.phys.unique += a;
        let dir = d.phys.dir;
        add_used(&mut st, dir, a as i64, 0, bp.psize as i64, bp.lsize as i64)
    }

    fn killed_inner(&self, bp: &BlkPtr, txg: u64) -> Result<()> {
        let a = bp.asize();
        let mut st = self.dsl.st.lock();
        let (dir, prev, prev_txg) = {
            let d = st.ds_mut(self.ds)?;
            d.phys.referenced = d.phys.referenced.saturating_sub(a);
            d.phys.compressed = d.phys.compressed.saturating_sub(bp.psize as u64);
            d.phys.uncompressed = d.phys.uncompressed.saturating_sub(bp.lsize as u64);
            (d.phys.dir, d.phys.prev_snap, d.phys.prev_snap_txg)
        };
        if bp.birth > prev_txg {
            // Nobody else holds it.
            {
                let d = st.ds_mut(self.ds)?;
                d.phys.unique = d.phys.unique.saturating_sub(a);
            }
            add_used(
                &mut st,
                dir,
                -(a as i64),
                0,
                -(bp.psize as i64),
                -(bp.lsize as i64),
            )?;
            drop(st);
            self.dsl.cache().forget(self.dsl.pool(), bp);
            self.dsl.pool().free_block(txg, bp);
            return Ok(());
        }
        // A clone's blocks from before its origin belong to the origin's
        // filesystem, which still holds them: no space moves here, but the
        // deadlist remembers it (a promote hands the origin to this chain).
        let origin = st.dir(dir)?.phys.origin;
        if origin != 0 && bp.birth <= st.ds(origin)?.phys.creation_txg {
            drop(st);
            self.dead.lock().push(*bp);
            return Ok(());
        }
        // The newest snapshot still holds it.
        if prev != 0 {
            let is_next = st.ds(prev)?.phys.next_snap == self.ds;
            let prev_prev_txg = st.ds(prev)?.phys.prev_snap_txg;
            if is_next && bp.birth > prev_prev_txg {
                st.ds_mut(prev)?.phys.unique += a;
            }
        }
        add_used(&mut st, dir, -(a as i64), a as i64, 0, 0)?;
        drop(st);
        self.dead.lock().push(*bp);
        Ok(())
    }
}

impl BlockAccounting for DatasetAccounting<'_> {
    fn born(&self, bp: &BlkPtr, _txg: u64) {
        if !bp.is_hole() {
            // Only fails on a missing record, which load refused already.
            let _ = self.born_inner(bp);
        }
    }

    fn killed(&self, bp: &BlkPtr, txg: u64) {
        if !bp.is_hole() {
            let _ = self.killed_inner(bp, txg);
        }
    }
}
