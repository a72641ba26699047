//! The pool's space: metaslab groups of every top-level vdev, the per-txg log
//! of allocations and frees that the next sync writes to the space maps, the
//! deferred frees (a block freed in txg N is reused only once N+2 has
//! synced), and reservations of dirty data for clean ENOSPC.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use parking_lot::{Mutex, RwLock, RwLockReadGuard};

use crate::blkptr::Dva;
use crate::error::{PoolError, Result};
use crate::metaslab::MetaslabGroup;
use crate::spacemap::{EntryKind, SmEntry};

/// Txgs a free waits before its space is reused.
pub const DEFER_TXGS: u64 = 2;

/// Who a reservation is for, which decides how much of the slop it may use.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ReserveClass {
    /// Ordinary writes: stop short of the slop space.
    Normal,
    /// Operations that free space overall (deletes, snapshot destroys): may
    /// use half of the slop, so a full pool can still be cleaned up.
    NetFree,
    /// The pool's own metadata during sync: may use all of it.
    Internal,
}

/// A snapshot of the pool's space figures, in bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SpaceFigures {
    /// Allocatable bytes.
    pub size: u64,
    /// Allocated and not freed.
    pub allocated: u64,
    /// Freed but not yet reusable.
    pub deferred: u64,
    /// Reserved for dirty data not yet written.
    pub reserved: u64,
    /// Kept back from ordinary writes.
    pub slop: u64,
    /// Fragmentation percentage of the free space.
    pub fragmentation: u64,
}

impl SpaceFigures {
    /// Free bytes (not allocated, deferred frees included).
    pub fn free(&self) -> u64 {
        self.size - self.allocated
    }
}

/// The slop kept back from ordinary writes for a pool of `size` bytes.
pub fn slop_for(size: u64) -> u64 {
    (size / 32).max((size / 8).min(16 << 20)).min(128 << 30)
}

/// A range of one top-level vdev: (vdev, offset, length).
pub type Extent = (u32, u64, u64);

/// The pool's allocator and its pending space map changes.
pub struct SpaceManager {
    groups: Vec<Mutex<MetaslabGroup>>,
    log: Mutex<BTreeMap<u64, Vec<SmEntry>>>,
    defer: Mutex<BTreeMap<u64, Vec<Extent>>>,
    /// Bytes in `defer`, changed under its lock: reservations read it on
    /// every write.
    deferred_bytes: AtomicU64,
    reserved: Mutex<BTreeMap<u64, u64>>,
    rotor: AtomicUsize,
    pool: String,
    /// Held shared by a scan while it reads blocks it listed earlier: no
    /// deferred free becomes reusable meanwhile, so a block the scan reads
    /// was not overwritten by a newer one.
    reuse_gate: RwLock<()>,
    /// While a scan runs: the copies freed since it listed its blocks.
    freed_watch: Mutex<Option<HashSet<(u32, u64)>>>,
    /// The newest txg whose log was sealed (taken for its space map log
    /// block, or found empty by a sync that commits nothing), changed under
    /// the `log` lock: a free in it or an older txg comes too late to be
    /// written with its txg.
    sealed: AtomicU64,
    /// Frees that came for a sealed txg (see [`SpaceManager::late_frees`]).
    late_frees: AtomicU64,
}

impl SpaceManager {
    /// A manager over `groups` (one per top-level vdev, in vdev order).
    pub fn new(pool: &str, groups: Vec<MetaslabGroup>) -> Self {
        SpaceManager {
            groups: groups.into_iter().map(Mutex::new).collect(),
            log: Mutex::new(BTreeMap::new()),
            defer: Mutex::new(BTreeMap::new()),
            deferred_bytes: AtomicU64::new(0),
            reserved: Mutex::new(BTreeMap::new()),
            rotor: AtomicUsize::new(0),
            pool: pool.to_string(),
            reuse_gate: RwLock::new(()),
            freed_watch: Mutex::new(None),
            sealed: AtomicU64::new(0),
            late_frees: AtomicU64::new(0),
        }
    }

    /// Number of top-level vdevs.
    pub fn vdev_count(&self) -> usize {
        self.groups.len()
    }

    /// Runs `f` on the group of vdev `v`.
    pub fn with_group<R>(&self, v: usize, f: impl FnOnce(&mut MetaslabGroup) -> R) -> R {
        f(&mut self.groups[v].lock())
    }

    /// Adds the group of a new top-level vdev (`zpool add`).
    pub fn push_group(&mut self, g: MetaslabGroup) {
        self.groups.push(Mutex::new(g));
    }

    /// Allocates `copies` copies of `asize(vdev)` bytes each, on distinct
    /// top-level vdevs where there are enough, logged against `txg`.
    /// `asize` maps a vdev index to the allocation size there (raidz adds
    /// parity).
    pub fn alloc(
        &self,
        txg: u64,
        copies: usize,
        asize: &dyn Fn(usize) -> u64,
        usable: &dyn Fn(usize) -> bool,
    ) -> Result<Vec<Dva>> {
        let n = self.groups.len();
        let start = self.rotor.fetch_add(1, Ordering::Relaxed) % n.max(1);
        let mut out: Vec<Dva> = Vec::with_capacity(copies);
        for copy in 0..copies {
            let mut placed = false;
            // Prefer a vdev that holds no copy yet, then any with room.
            for pass in 0..2 {
                for k in 0..n {
                    let v = (start + copy + k) % n;
                    if !usable(v) || (pass == 0 && out.iter().any(|d| d.vdev as usize == v)) {
                        continue;
                    }
                    let len = asize(v);
                    let mut g = self.groups[v].lock();
                    let avoid = out
                        .iter()
                        .filter(|d| d.vdev as usize == v)
                        .find_map(|d| g.metaslab_index(d.offset));
                    if let Some(off) = g.alloc(len, avoid) {
                        // Logged before the metaslab is let go: a
                        // checkpoint taken meanwhile sees both or neither.
                        self.log.lock().entry(txg).or_default().push(SmEntry {
                            kind: EntryKind::Alloc,
                            vdev: v as u32,
                            offset: off,
                            len,
                            txg,
                        });
                        drop(g);
                        out.push(Dva {
                            vdev: v as u32,
                            asize: len as u32,
                            offset: off,
                        });
                        placed = true;
                        break;
                    }
                }
                if placed {
                    break;
                }
            }
            if !placed {
                if out.is_empty() {
                    let needed = asize(start);
                    let f = self.figures();
                    return Err(PoolError::NoSpace {
                        pool: self.pool.clone(),
                        needed,
                        available: f.free() - f.deferred,
                    });
                }
                // Fewer copies than asked is better than failing the sync.
                break;
            }
        }
        Ok(out)
    }

    /// Holds back the reuse of freed space while the guard lives (see
    /// `reuse_gate`).
    pub fn hold_reuse(&self) -> RwLockReadGuard<'_, ()> {
        self.reuse_gate.read()
    }

    /// Starts (or, with false, stops) recording the copies freed.
    ///
    /// The watch starts with every free not yet reusable: a scan lists the
    /// last synced tree, which may still hold a block freed before the
    /// watch began (the txg freeing it is syncing, or has not published its
    /// tree yet), and whose space becomes reusable once that txg + 2 syncs.
    pub fn watch_frees(&self, on: bool) {
        // Lock order: `defer`, then `freed_watch` (as in `free`), so that
        // a concurrent free lands either in the copied deferred set or in
        // the watch.
        let defer = self.defer.lock();
        let watch = on.then(|| {
            defer
                .values()
                .flatten()
                .map(|&(v, o, _)| (v, o))
                .collect::<HashSet<_>>()
        });
        *self.freed_watch.lock() = watch;
    }

    /// True when the copy at (`vdev`, `offset`) was freed since the watch
    /// started.
    pub fn freed_since_watch(&self, vdev: u32, offset: u64) -> bool {
        self.freed_watch
            .lock()
            .as_ref()
            .is_some_and(|w| w.contains(&(vdev, offset)))
    }

    /// Frees a copy in `txg`; its space is reused after `txg + 2` syncs.
    ///
    /// A copy allocated in open context for a later txg (an intent-log
    /// block) may be freed in an earlier one (its chain destroyed by a
    /// snapshot or a rollback). Its free then goes to the log of the txg
    /// that allocated it, after the allocation: replayed in txg order, the
    /// logs would otherwise free it before allocating it, and that import
    /// would be refused.
    pub fn free(&self, txg: u64, dva: &Dva) {
        let txg = {
            let mut log = self.log.lock();
            let txg = log
                .range(txg + 1..)
                .rev()
                .find(|(_, l)| {
                    l.iter().any(|e| {
                        e.kind == EntryKind::Alloc && e.vdev == dva.vdev && e.offset == dva.offset
                    })
                })
                .map_or(txg, |(t, _)| *t);
            // A free for a txg whose log is sealed would never reach the
            // disk, and its space would be reused two txgs after that one,
            // while the change that stopped using the block may not be
            // committed yet: a crash then would leave the committed tree
            // pointing at overwritten bytes. It is an internal error, said
            // and counted; the free goes to the first txg still open to it.
            let sealed = self.sealed.load(Ordering::Relaxed);
            let txg = if txg <= sealed {
                self.late_frees.fetch_add(1, Ordering::Relaxed);
                eprintln!(
                    "{}: internal error: free of {dva} in txg {txg}, whose space map log was already sealed (txg {sealed}); freed in txg {} instead\n{}",
                    self.pool,
                    sealed + 1,
                    std::backtrace::Backtrace::force_capture()
                );
                sealed + 1
            } else {
                txg
            };
            log.entry(txg).or_default().push(SmEntry {
                kind: EntryKind::Free,
                vdev: dva.vdev,
                offset: dva.offset,
                len: dva.asize as u64,
                txg,
            });
            txg
        };
        let mut defer = self.defer.lock();
        if let Some(w) = self.freed_watch.lock().as_mut() {
            w.insert((dva.vdev, dva.offset));
        }
        self.deferred_bytes
            .fetch_add(dva.asize as u64, Ordering::Relaxed);
        defer
            .entry(txg)
            .or_default()
            .push((dva.vdev, dva.offset, dva.asize as u64));
    }

    /// Appends an entry to the log of `txg` (a claim at import).
    pub fn log_entry(&self, txg: u64, e: SmEntry) {
        self.log.lock().entry(txg).or_default().push(e);
    }

    /// Takes the log entries of `txg` (for its space map log block).
    pub fn take_log(&self, txg: u64) -> Vec<SmEntry> {
        self.log.lock().remove(&txg).unwrap_or_default()
    }

    /// Takes the log entries of `txg` for its space map log block and
    /// seals it: a free for `txg` or an older txg from now on is late (it
    /// would not be in the block). Allocations may still join (the log
    /// block's own).
    pub fn seal_log(&self, txg: u64) -> Vec<SmEntry> {
        let mut log = self.log.lock();
        self.sealed.fetch_max(txg, Ordering::Relaxed);
        log.remove(&txg).unwrap_or_default()
    }

    /// Seals the log of `txg` if it is empty (a sync that commits nothing);
    /// false, and nothing changed, when it has entries.
    pub fn seal_if_empty(&self, txg: u64) -> bool {
        let log = self.log.lock();
        if log.get(&txg).is_some_and(|l| !l.is_empty()) {
            return false;
        }
        self.sealed.fetch_max(txg, Ordering::Relaxed);
        true
    }

    /// Frees that came for a txg whose log was already sealed (an internal
    /// error: each is said on standard error when it happens).
    pub fn late_frees(&self) -> u64 {
        self.late_frees.load(Ordering::Relaxed)
    }

    /// Puts entries back in front of the log of `txg` (a failed sync).
    pub fn restore_log(&self, txg: u64, mut entries: Vec<SmEntry>) {
        let mut log = self.log.lock();
        let l = log.entry(txg).or_default();
        entries.append(l);
        *l = entries;
    }

    /// Every deferred free, with its txg, in txg order.
    pub fn deferred(&self) -> Vec<(u64, u32, u64, u64)> {
        self.defer
            .lock()
            .iter()
            .flat_map(|(t, v)| v.iter().map(move |&(vd, o, l)| (*t, vd, o, l)))
            .collect()
    }

    /// Returns frees of txgs up to `upto` to the allocator.
    pub fn release_deferred(&self, upto: u64) -> Result<()> {
        let ready: Vec<_> = {
            let mut d = self.defer.lock();
            let later = d.split_off(&(upto + 1));
            let ready: Vec<Extent> = std::mem::replace(&mut *d, later)
                .into_values()
                .flatten()
                .collect();
            let bytes: u64 = ready.iter().map(|&(_, _, l)| l).sum();
            self.deferred_bytes.fetch_sub(bytes, Ordering::Relaxed);
            ready
        };
        for (v, off, len) in ready {
            self.groups
                .get(v as usize)
                .ok_or_else(|| PoolError::corrupt("space map", format!("free on vdev {v}")))?
                .lock()
                .release(off, len)
                .map_err(|e| {
                    PoolError::corrupt("space map", format!("vdev {v}: double free: {e}"))
                })?;
        }
        Ok(())
    }

    /// Called once `txg` has synced: frees of `txg - 2` become reusable and
    /// the reservations of `txg` end.
    pub fn synced(&self, txg: u64) -> Result<()> {
        self.reserved.lock().remove(&txg);
        if txg >= DEFER_TXGS {
            // While a scan holds the gate the frees wait (a scan reading a
            // block holds it for milliseconds, its listing for longer): a
            // later sync releases everything up to its own horizon.
            if let Some(_g) = self
                .reuse_gate
                .try_write_for(std::time::Duration::from_millis(200))
            {
                self.release_deferred(txg - DEFER_TXGS)?;
            }
        }
        Ok(())
    }

    /// Replays one log block of `txg` at import.
    pub fn replay(&self, txg: u64, entries: &[SmEntry]) -> Result<()> {
        // Before txg's allocations, the frees of txg-3 and older were reusable.
        if txg > DEFER_TXGS {
            self.release_deferred(txg - DEFER_TXGS - 1)?;
        }
        for e in entries {
            let g = self.groups.get(e.vdev as usize).ok_or_else(|| {
                PoolError::corrupt(
                    "space map log",
                    format!("entry for missing vdev {}", e.vdev),
                )
            })?;
            match e.kind {
                EntryKind::Alloc => g.lock().claim(e.offset, e.len).map_err(|err| {
                    PoolError::corrupt("space map log", format!("txg {txg}: {err}"))
                })?,
                EntryKind::Free => {
                    // The range must be allocated: it stays so until released.
                    let ok = {
                        let gg = g.lock();
                        gg.metaslab_index(e.offset).is_some_and(|m| {
                            !gg.slabs[m].free.intersects(e.offset, e.len)
                                && e.offset + e.len <= gg.slabs[m].start + gg.slabs[m].size
                        })
                    };
                    if !ok {
                        return Err(PoolError::corrupt(
                            "space map log",
                            format!(
                                "txg {txg}: free of unallocated {:#x}+{:#x}",
                                e.offset, e.len
                            ),
                        ));
                    }
                    let mut defer = self.defer.lock();
                    self.deferred_bytes.fetch_add(e.len, Ordering::Relaxed);
                    defer
                        .entry(e.txg)
                        .or_default()
                        .push((e.vdev, e.offset, e.len));
                }
            }
        }
        Ok(())
    }

    /// The allocated segments of a metaslab (deferred frees included), for a
    /// checkpoint.
    pub fn allocated_segments(&self, vdev: usize, ms: usize) -> Vec<(u64, u64)> {
        self.allocated_segments_as_of(vdev, ms, u64::MAX)
    }

    /// The allocated segments of a metaslab as of `txg`, for the checkpoint
    /// a condense in its sync writes: blocks allocated in open context for
    /// a later txg (intent log blocks) are left out, since the log of their
    /// txg allocates them again when it is replayed.
    pub fn allocated_segments_as_of(&self, vdev: usize, ms: usize, txg: u64) -> Vec<(u64, u64)> {
        let g = self.groups[vdev].lock();
        let m = &g.slabs[ms];
        let mut free = m.free.clone();
        if txg != u64::MAX {
            let log = self.log.lock();
            for e in log.range(txg + 1..).flat_map(|(_, l)| l.iter()) {
                if e.kind == EntryKind::Alloc
                    && e.vdev as usize == vdev
                    && e.offset >= m.start
                    && e.offset < m.start + m.size
                {
                    let _ = free.add(e.offset, e.len);
                }
            }
        }
        let mut out = Vec::new();
        let mut at = m.start;
        for (s, l) in free.iter() {
            if s > at {
                out.push((at, s - at));
            }
            at = s + l;
        }
        if at < m.start + m.size {
            out.push((at, m.start + m.size - at));
        }
        out
    }

    /// (vdev, metaslab) of every metaslab changed since its last checkpoint,
    /// clearing the marks.
    pub fn take_dirty_metaslabs(&self) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        for (v, g) in self.groups.iter().enumerate() {
            let mut g = g.lock();
            for (i, m) in g.slabs.iter_mut().enumerate() {
                if m.dirty {
                    m.dirty = false;
                    out.push((v, i));
                }
            }
        }
        out
    }

    /// Marks every metaslab clean (after an import, whose checkpoints and
    /// logs describe the state exactly).
    pub fn mark_all_clean(&self) {
        for g in &self.groups {
            for m in g.lock().slabs.iter_mut() {
                m.dirty = false;
            }
        }
    }

    /// Marks a metaslab dirty.
    pub fn mark_dirty(&self, vdev: usize, ms: usize) {
        self.groups[vdev].lock().slabs[ms].dirty = true;
    }

    /// Claims a range during import from a checkpoint.
    pub fn claim(&self, vdev: usize, offset: u64, len: u64) -> Result<()> {
        let g = self.groups.get(vdev).ok_or_else(|| {
            PoolError::corrupt("space map checkpoint", format!("missing vdev {vdev}"))
        })?;
        g.lock()
            .claim(offset, len)
            .map_err(|e| PoolError::corrupt("space map checkpoint", e.to_string()))
    }

    /// Reserves `bytes` of dirty data in `txg`, or fails with ENOSPC.
    pub fn reserve(&self, txg: u64, bytes: u64, class: ReserveClass) -> Result<()> {
        let f = self.totals();
        let keep = match class {
            ReserveClass::Normal => f.slop,
            ReserveClass::NetFree => f.slop / 2,
            ReserveClass::Internal => 0,
        };
        let avail = (f.size - f.allocated - f.deferred).saturating_sub(f.reserved + keep);
        if bytes > avail {
            return Err(PoolError::NoSpace {
                pool: self.pool.clone(),
                needed: bytes,
                available: avail,
            });
        }
        *self.reserved.lock().entry(txg).or_default() += bytes;
        Ok(())
    }

    /// Bytes the next `reserve(.., class)` could have.
    pub fn available(&self, class: ReserveClass) -> u64 {
        let f = self.totals();
        let keep = match class {
            ReserveClass::Normal => f.slop,
            ReserveClass::NetFree => f.slop / 2,
            ReserveClass::Internal => 0,
        };
        (f.size - f.allocated - f.deferred).saturating_sub(f.reserved + keep)
    }

    /// The pool's space figures, fragmentation included (it walks every
    /// free segment: for `zpool list`, not for every write).
    pub fn figures(&self) -> SpaceFigures {
        let mut f = self.totals();
        let mut frag_weighted = 0u64;
        let mut free_total = 0u64;
        for g in &self.groups {
            let g = g.lock();
            let free = g.free();
            free_total += free;
            frag_weighted += g.fragmentation() * free;
        }
        f.fragmentation = frag_weighted.checked_div(free_total).unwrap_or(0);
        f
    }

    /// The figures a reservation needs, without fragmentation: a handful
    /// of additions, cheap enough for every write.
    fn totals(&self) -> SpaceFigures {
        let mut f = SpaceFigures::default();
        for g in &self.groups {
            let g = g.lock();
            let size = g.size();
            f.size += size;
            f.allocated += size - g.free();
        }
        f.deferred = self.deferred_bytes.load(Ordering::Relaxed);
        // Deferred frees are not allocated any more, only not yet reusable.
        f.allocated -= f.deferred.min(f.allocated);
        f.reserved = self.reserved.lock().values().sum();
        f.slop = slop_for(f.size);
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mgr() -> SpaceManager {
        SpaceManager::new(
            "t",
            vec![
                MetaslabGroup::new(0, 64 << 20, 22, 12),
                MetaslabGroup::new(1, 64 << 20, 22, 12),
            ],
        )
    }

    #[test]
    fn copies_land_on_distinct_vdevs() {
        let m = mgr();
        let d = m.alloc(1, 2, &|_| 8192, &|_| true).unwrap();
        assert_eq!(d.len(), 2);
        assert_ne!(d[0].vdev, d[1].vdev);
        let d3 = m.alloc(1, 3, &|_| 8192, &|_| true).unwrap();
        assert_eq!(d3.len(), 3);
        assert_eq!(m.take_log(1).len(), 5);
    }

    #[test]
    fn frees_wait_two_txgs() {
        let m = mgr();
        let d = m.alloc(1, 1, &|_| 8192, &|_| true).unwrap()[0];
        let before = m.with_group(d.vdev as usize, |g| g.free());
        m.free(2, &d);
        m.synced(2).unwrap();
        m.synced(3).unwrap();
        assert_eq!(m.with_group(d.vdev as usize, |g| g.free()), before);
        m.synced(4).unwrap();
        assert_eq!(m.with_group(d.vdev as usize, |g| g.free()), before + 8192);
    }

    #[test]
    fn a_free_before_its_allocation_txg_goes_to_the_allocation_log() {
        let m = mgr();
        // Allocated in open context for txg 7, freed in txg 6.
        let d = m.alloc(7, 1, &|_| 8192, &|_| true).unwrap();
        m.free(6, &d[0]);
        assert!(m.take_log(6).is_empty());
        let log = m.take_log(7);
        let kinds: Vec<EntryKind> = log.iter().map(|e| e.kind).collect();
        assert_eq!(kinds, [EntryKind::Alloc, EntryKind::Free]);
        assert!(log.iter().all(|e| e.txg == 7 && e.offset == d[0].offset));
        // An ordinary free stays in its own txg.
        let e = m.alloc(8, 1, &|_| 8192, &|_| true).unwrap();
        m.free(9, &e[0]);
        assert_eq!(m.take_log(9).len(), 1);
    }

    #[test]
    fn a_free_for_a_sealed_txg_is_counted_and_goes_to_the_next_txg() {
        let m = mgr();
        let d = m.alloc(3, 1, &|_| 8192, &|_| true).unwrap()[0];
        let e = m.alloc(3, 1, &|_| 8192, &|_| true).unwrap()[0];
        assert_eq!(m.seal_log(3).len(), 2);
        // In time: the next txg is open to frees.
        m.free(4, &d);
        assert_eq!(m.late_frees(), 0);
        // Too late for txg 3: it is said, counted, logged in txg 4, and
        // its space waits for txg 6 like the free above.
        m.free(3, &e);
        assert_eq!(m.late_frees(), 1);
        assert!(m.take_log(3).is_empty());
        let log = m.take_log(4);
        assert_eq!(log.len(), 2);
        assert!(log.iter().all(|x| x.kind == EntryKind::Free && x.txg == 4));
        let deferred: Vec<u64> = m.deferred().iter().map(|x| x.0).collect();
        assert_eq!(deferred, [4, 4]);
        // A sync that commits nothing seals its txg too, unless its log has
        // entries.
        m.free(5, &m.alloc(5, 1, &|_| 8192, &|_| true).unwrap()[0]);
        assert!(!m.seal_if_empty(5));
        assert!(m.seal_if_empty(6));
        m.free(6, &m.alloc(7, 1, &|_| 8192, &|_| true).unwrap()[0]);
        assert_eq!(
            m.late_frees(),
            1,
            "a block allocated for txg 7 is freed with it"
        );
        let f = m.alloc(5, 1, &|_| 8192, &|_| true).unwrap()[0];
        m.free(6, &f);
        assert_eq!(m.late_frees(), 2);
    }

    #[test]
    fn a_scan_watch_covers_frees_made_before_it_started() {
        let m = mgr();
        let d = m.alloc(1, 2, &|_| 8192, &|_| true).unwrap();
        // Freed while its txg syncs, before a scan starts watching: the
        // scan may still list it from the last synced tree.
        m.free(2, &d[0]);
        m.watch_frees(true);
        assert!(m.freed_since_watch(d[0].vdev, d[0].offset));
        assert!(!m.freed_since_watch(d[1].vdev, d[1].offset));
        m.free(3, &d[1]);
        assert!(m.freed_since_watch(d[1].vdev, d[1].offset));
        // Reusable frees are not watched: no listed tree holds them.
        m.watch_frees(false);
        m.synced(4).unwrap();
        m.synced(5).unwrap();
        m.watch_frees(true);
        assert!(!m.freed_since_watch(d[0].vdev, d[0].offset));
        assert!(!m.freed_since_watch(d[1].vdev, d[1].offset));
    }

    #[test]
    fn reservations_stop_at_the_slop() {
        let m = mgr();
        let f = m.figures();
        assert_eq!(f.size, 128 << 20);
        let normal = m.available(ReserveClass::Normal);
        let netfree = m.available(ReserveClass::NetFree);
        assert!(netfree > normal);
        assert!(m.reserve(5, normal + 1, ReserveClass::Normal).is_err());
        m.reserve(5, normal, ReserveClass::Normal).unwrap();
        assert!(m.reserve(5, 4096, ReserveClass::Normal).is_err());
        m.reserve(5, 4096, ReserveClass::NetFree).unwrap();
        m.synced(5).unwrap();
        assert_eq!(m.figures().reserved, 0);
    }

    #[test]
    fn replay_rejects_double_allocation() {
        let m = mgr();
        let e = SmEntry {
            kind: EntryKind::Alloc,
            vdev: 0,
            offset: 0,
            len: 4096,
            txg: 3,
        };
        m.replay(3, &[e]).unwrap();
        assert!(m.replay(4, &[e]).is_err());
        let f = SmEntry {
            kind: EntryKind::Free,
            vdev: 0,
            offset: 8192,
            len: 4096,
            txg: 5,
        };
        assert!(m.replay(5, &[f]).is_err(), "free of free space");
    }
}
