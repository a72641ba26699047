//! Scrub and resilver: read every live block (or, for a resilver, every
//! block born in the txgs some leaf missed), verify every copy, side and
//! column of it, repair what redundancy allows, and fill in leaves that
//! lack blocks.
//!
//! A scan lists its blocks first, from the synced tree, then issues them
//! in disk order (sorted by their first address, so the reads stream) on a
//! few worker threads at the scrub I/O class, which yields to user I/O.
//! Two things keep a listed block from being read after the tree moved on:
//! while the scan lists, and while it reads a block, no freed space becomes
//! reusable ([`crate::space::SpaceManager::hold_reuse`]); and a block freed
//! since the listing began, or freed before it and not yet reusable (the
//! synced tree the scan lists may lag the frees of the txg syncing), is
//! skipped ([`crate::space::SpaceManager::watch_frees`]). Progress, with a
//! bookmark (the first address of the last block done), is written into
//! the pool root every few seconds and at pause or export, so a scan
//! resumes where it stopped after an export or a crash.
//!
//! The pool lists its own metadata; the layer above lists the rest through
//! a [`BlockLister`], naming the owner of every block so that permanent
//! errors can be reported by dataset and object.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::blkptr::BlkPtr;
use crate::error::{PoolError, Result};
use crate::pool::{now_secs, Pool, PoolInner};
use crate::poolroot::{ScanState, MAX_ERRLOG};
use crate::vdev::{BlockAt, IoClass, Layout, TopVdev};

/// The `objset` of the pool's own metadata in a [`BlockOwner`].
pub const POOL_METADATA: u64 = u64::MAX;

/// Where a block belongs: object set, object, level and block id, as the
/// error log records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct BlockOwner {
    /// Object set (dataset object number; 0 for the meta object set,
    /// [`POOL_METADATA`] for the pool's own).
    pub objset: u64,
    /// Object in it (0: the object set's own metadata).
    pub object: u64,
    /// Indirection level (0: data).
    #[serde(default)]
    pub level: u8,
    /// Block id at that level.
    #[serde(default)]
    pub blkid: u64,
}

/// A block to scan and its owner.
#[derive(Clone, Copy, Debug)]
pub struct ScanBlock {
    /// The block.
    pub bp: BlkPtr,
    /// Where it belongs.
    pub owner: BlockOwner,
}

/// The layer above lists its blocks for a scan.
pub trait BlockLister: Send + Sync {
    /// Calls `visit` for every block reachable from the synced root of
    /// the layer above whose birth lies in `min_birth..=max_birth`
    /// (subtrees born before `min_birth` may be skipped whole).
    fn list(
        &self,
        pool: &Pool,
        min_birth: u64,
        max_birth: u64,
        visit: &mut dyn FnMut(ScanBlock),
    ) -> Result<()>;
}

/// What a scan does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScanFunc {
    /// Verify everything.
    Scrub,
    /// Fill in leaves that missed txgs.
    Resilver,
}

impl ScanFunc {
    /// Name as `zpool status` prints it.
    pub fn name(self) -> &'static str {
        match self {
            ScanFunc::Scrub => "scrub",
            ScanFunc::Resilver => "resilver",
        }
    }

    fn parse(s: &str) -> ScanFunc {
        if s == "resilver" {
            ScanFunc::Resilver
        } else {
            ScanFunc::Scrub
        }
    }
}

/// What scrubbing one block found, over all its copies.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlockScrub {
    /// Bytes read.
    pub read: u64,
    /// Bytes rewritten.
    pub repaired: u64,
    /// Sides or columns found damaged.
    pub damaged: u64,
    /// No copy could be read correctly.
    pub unrecoverable: bool,
}

/// Worker threads issuing a scan's reads.
const SCAN_WORKERS: usize = 8;
/// Blocks issued between bookmarks when the scan is slowed down by a
/// pause after each batch ([`crate::PoolTunables::scan_batch_delay`]).
const BATCH: usize = 256;
/// Blocks issued between bookmarks otherwise: the workers run dry at the
/// end of each batch, so batches are long.
const BATCH_FAST: usize = 4096;
/// Longest read of a span, per leaf: blocks that follow each other on a
/// vdev are checked together, with one read per leaf.
const SPAN_MAX: u64 = 1 << 20;
/// Largest gap between two blocks of a span (read, and ignored).
const SPAN_GAP: u64 = 32 << 10;
/// Seconds between writes of the progress into the pool root.
const PERSIST_EVERY: Duration = Duration::from_secs(5);

/// How a running scan is steered.
#[derive(Default)]
pub(crate) struct ScanCtl {
    /// Stop and record the scan as canceled.
    cancel: AtomicBool,
    /// Stop and record the scan as paused.
    pause: AtomicBool,
    /// Stop and leave the scan recorded as running (export): the next
    /// import resumes it.
    suspend: AtomicBool,
    /// Live progress.
    state: Mutex<ScanState>,
}

impl ScanCtl {
    fn stopping(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
            || self.pause.load(Ordering::Relaxed)
            || self.suspend.load(Ordering::Relaxed)
    }
}

/// The running scan of a pool.
pub(crate) struct ScanHandle {
    pub(crate) func: ScanFunc,
    pub(crate) ctl: Arc<ScanCtl>,
    pub(crate) thread: Option<JoinHandle<()>>,
}

impl ScanHandle {
    fn running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }
}

impl Pool {
    /// Sets (or clears) the lister of the layer above, then resumes a scan
    /// recorded as running, or starts the resilver a leaf needs.
    pub fn set_block_lister(&self, lister: Option<Arc<dyn BlockLister>>) {
        let set = lister.is_some();
        *self.inner().lister.write() = lister;
        if !set || self.is_read_only() {
            return;
        }
        let recorded = self.extras().scan;
        match recorded {
            Some(s) if s.state == "scanning" => {
                let func = ScanFunc::parse(&s.func);
                let _ = self.spawn_scan(func, Some(s));
            }
            _ => {
                if self.resilver_range().is_some() {
                    let _ = self.spawn_scan(ScanFunc::Resilver, None);
                }
            }
        }
    }

    /// Starts a scrub, or resumes a paused one.
    pub fn scrub(&self) -> Result<()> {
        self.check_scan_allowed()?;
        let mut slot = self.inner().scan.lock();
        if let Some(h) = slot.as_ref().filter(|h| h.running()) {
            return Err(PoolError::ScanBusy(match h.func {
                ScanFunc::Scrub => {
                    "currently scrubbing; use 'zpool scrub -s' to cancel current scrub".into()
                }
                ScanFunc::Resilver => "currently resilvering".into(),
            }));
        }
        drop(slot.take());
        drop(slot);
        let paused = self
            .extras()
            .scan
            .filter(|s| s.func == "scrub" && s.state == "paused");
        self.spawn_scan(ScanFunc::Scrub, paused)
    }

    /// Starts a resilver of every leaf that missed txgs, cancelling a
    /// scrub (a resilver running already starts over, covering more).
    pub fn resilver(&self) -> Result<()> {
        self.check_scan_allowed()?;
        self.stop_scan(|c| &c.cancel);
        self.spawn_scan(ScanFunc::Resilver, None)
    }

    /// Pauses the running scrub (`zpool scrub -p`).
    pub fn scrub_pause(&self) -> Result<()> {
        self.steer_scrub("paused", |c| &c.pause)
    }

    /// Cancels the running or paused scrub (`zpool scrub -s`).
    pub fn scrub_cancel(&self) -> Result<()> {
        let running = self
            .inner()
            .scan
            .lock()
            .as_ref()
            .is_some_and(|h| h.running());
        if !running {
            // A paused scrub is canceled in the record alone.
            let paused = self
                .extras()
                .scan
                .is_some_and(|s| s.func == "scrub" && s.state == "paused");
            if paused {
                self.update_extras(|e| {
                    if let Some(s) = e.scan.as_mut() {
                        s.state = "canceled".into();
                        s.end_time = now_secs();
                    }
                });
                return Ok(());
            }
        }
        self.steer_scrub("canceled", |c| &c.cancel)
    }

    fn steer_scrub(&self, what: &str, flag: fn(&ScanCtl) -> &AtomicBool) -> Result<()> {
        let h = self.inner().scan.lock().take();
        match h {
            Some(h) if h.running() && h.func == ScanFunc::Scrub => {
                flag(&h.ctl).store(true, Ordering::Relaxed);
                if let Some(t) = h.thread {
                    let _ = t.join();
                }
                Ok(())
            }
            Some(h) if h.running() => {
                *self.inner().scan.lock() = Some(h);
                Err(PoolError::ScanBusy(format!(
                    "currently resilvering; a resilver cannot be {what}"
                )))
            }
            _ => Err(PoolError::ScanBusy("there is no active scrub".into())),
        }
    }

    /// Stops the running scan, if any, through `flag`, and waits for it.
    pub(crate) fn stop_scan(&self, flag: fn(&ScanCtl) -> &AtomicBool) {
        let h = self.inner().scan.lock().take();
        if let Some(h) = h {
            flag(&h.ctl).store(true, Ordering::Relaxed);
            if let Some(t) = h.thread {
                let _ = t.join();
            }
        }
    }

    /// Stops the scan for an export: it stays recorded as running.
    pub(crate) fn suspend_scan(&self) {
        self.stop_scan(|c| &c.suspend);
    }

    fn check_scan_allowed(&self) -> Result<()> {
        if self.is_read_only() {
            return Err(PoolError::ReadOnlyPool(self.name().to_string()));
        }
        if let Some(f) = self.suspended() {
            return Err(PoolError::Suspended(format!("{}: {f}", self.name())));
        }
        Ok(())
    }

    /// The current or last scan: live figures while one runs.
    pub fn scan_state(&self) -> Option<ScanState> {
        if let Some(h) = self.inner().scan.lock().as_ref() {
            if h.running() {
                return Some(h.ctl.state.lock().clone());
            }
        }
        self.extras().scan
    }

    /// True while a scan thread runs.
    pub fn scan_running(&self) -> bool {
        self.inner()
            .scan
            .lock()
            .as_ref()
            .is_some_and(|h| h.running())
    }

    /// Waits until no scan runs (tests and `zpool wait`).
    pub fn scan_wait(&self) {
        loop {
            let t = {
                let mut slot = self.inner().scan.lock();
                match slot.as_mut() {
                    Some(h) => h.thread.take(),
                    None => None,
                }
            };
            match t {
                Some(t) => {
                    let _ = t.join();
                }
                None => return,
            }
        }
    }

    /// Blocks with permanent errors, and how many more were not kept.
    pub fn error_log(&self) -> (Vec<BlockOwner>, u64) {
        let e = self.extras();
        (e.errlog, e.errlog_more)
    }

    /// Records a block that could not be read correctly (the layer above
    /// calls this when a read of one of its blocks failed).
    pub fn note_error(&self, owner: BlockOwner) {
        if self.is_read_only() {
            return;
        }
        if self.extras().errlog.contains(&owner) {
            return;
        }
        self.update_extras(|e| add_error(e, owner));
    }

    /// The txgs some usable leaf missed and must be given: the union of
    /// their closed logs of missed txgs.
    pub fn resilver_range(&self) -> Option<(u64, u64)> {
        let mut range: Option<(u64, u64)> = None;
        for top in self.vdevs() {
            for leaf in top.leaves() {
                if leaf.engine().is_none() {
                    continue;
                }
                if let Some((lo, hi)) = *leaf.dtl.lock() {
                    if hi == u64::MAX {
                        continue;
                    }
                    range = Some(match range {
                        Some((a, b)) => (a.min(lo), b.max(hi)),
                        None => (lo, hi),
                    });
                }
            }
        }
        range
    }

    /// Verifies every copy of `bp` (every side and column, parity
    /// included), rewrites damaged ones from a good one and fills in leaves
    /// that lack the block.
    pub fn scrub_block(&self, bp: &BlkPtr, class: IoClass) -> BlockScrub {
        let mut out = BlockScrub::default();
        if bp.is_hole() {
            return out;
        }
        let psize = bp.psize as usize;
        let verify =
            |d: &[u8]| d.len() >= psize && bp.checksum_type.verify(&d[..psize], &bp.checksum);
        let vdevs = self.vdevs();
        let mut good: Option<Vec<u8>> = None;
        let mut failed = Vec::new();
        for dva in bp.copies() {
            let top = vdevs.get(dva.vdev as usize);
            let Some(top) = top.filter(|t| {
                dva.offset.saturating_add(dva.asize as u64) <= t.asize
                    && dva.asize as usize >= psize
            }) else {
                failed.push(*dva);
                continue;
            };
            let at = BlockAt {
                offset: dva.offset,
                asize: dva.asize as usize,
                psize,
                birth: bp.birth,
            };
            let (o, data) = top.scrub(at, class, &verify);
            out.read += o.read;
            out.repaired += o.repaired;
            out.damaged += o.damaged;
            match data {
                Some(d) if good.is_none() => good = Some(d[..psize].to_vec()),
                Some(_) => {}
                None => failed.push(*dva),
            }
        }
        match good {
            Some(g) => {
                for d in failed {
                    if let Some(top) = vdevs.get(d.vdev as usize) {
                        if d.offset.saturating_add(d.asize as u64) <= top.asize
                            && top.rewrite(d.offset, &g, psize)
                        {
                            out.repaired += d.asize as u64;
                        }
                    }
                }
            }
            None => out.unrecoverable = true,
        }
        if out.repaired > 0 {
            self.stats()
                .repaired
                .fetch_add(out.repaired, Ordering::Relaxed);
        }
        out
    }

    /// Scrubs a span of blocks (see [`spans`]): one read per leaf checks
    /// them all; a block not found good there, or all of them when the
    /// vdev is not whole, is scrubbed on its own ([`Pool::scrub_block`]),
    /// which repairs what it can. Blocks marked in `skip` (freed since
    /// the listing) are read but not judged.
    fn scrub_span(&self, blocks: &[ScanBlock], skip: &[bool], class: IoClass) -> Vec<BlockScrub> {
        let vdevs = self.vdevs();
        let top = blocks
            .first()
            .and_then(|b| vdevs.get(b.bp.dva[0].vdev as usize));
        let ats: Vec<BlockAt> = blocks
            .iter()
            .map(|b| BlockAt {
                offset: b.bp.dva[0].offset,
                asize: b.bp.dva[0].asize as usize,
                psize: b.bp.psize as usize,
                birth: b.bp.birth,
            })
            .collect();
        let verify = |k: usize, d: &[u8]| {
            let bp = &blocks[k].bp;
            let psize = bp.psize as usize;
            skip[k] || (d.len() >= psize && bp.checksum_type.verify(&d[..psize], &bp.checksum))
        };
        let checked = top.and_then(|t| t.scrub_span(&ats, class, &verify));
        let per_block = checked
            .as_ref()
            .map_or(0, |(_, read)| read / blocks.len() as u64);
        blocks
            .iter()
            .enumerate()
            .map(|(k, b)| {
                if skip[k] {
                    BlockScrub::default()
                } else if checked.as_ref().is_some_and(|(good, _)| good[k]) {
                    BlockScrub {
                        read: per_block,
                        ..Default::default()
                    }
                } else {
                    self.scrub_block(&b.bp, class)
                }
            })
            .collect()
    }

    fn spawn_scan(&self, func: ScanFunc, resume: Option<ScanState>) -> Result<()> {
        let (min_txg, max_txg) = match (&resume, func) {
            (Some(s), _) => (s.min_txg, s.max_txg),
            (None, ScanFunc::Scrub) => (0, self.last_synced_txg()),
            (None, ScanFunc::Resilver) => match self.resilver_range() {
                Some(r) => r,
                None => return Err(PoolError::ScanBusy("no device needs resilvering".into())),
            },
        };
        let now = now_secs();
        let state = match resume {
            Some(mut s) => {
                s.state = "scanning".into();
                s.pass_start = now;
                s.pass_examined = s.examined;
                s.pause_time = 0;
                s
            }
            None => ScanState {
                func: func.name().into(),
                state: "scanning".into(),
                start_time: now,
                pass_start: now,
                min_txg,
                max_txg,
                ..Default::default()
            },
        };
        let ctl = Arc::new(ScanCtl {
            state: Mutex::new(state.clone()),
            ..Default::default()
        });
        // Record it at once, so that status shows it and a crash resumes it.
        self.update_extras(|e| {
            e.scan = Some(state);
            if func == ScanFunc::Scrub {
                // A new scrub decides afresh which errors are permanent.
                e.errlog_more = 0;
            }
        });
        let weak = Arc::downgrade(self.inner());
        let c = ctl.clone();
        let t = std::thread::Builder::new()
            .name(format!("basin-scan {}", self.name()))
            .spawn(move || run_scan(weak, c, func))
            .map_err(|e| PoolError::io("scan thread", e))?;
        *self.inner().scan.lock() = Some(ScanHandle {
            func,
            ctl,
            thread: Some(t),
        });
        Ok(())
    }
}

fn add_error(e: &mut crate::poolroot::RootExtras, owner: BlockOwner) {
    if e.errlog.contains(&owner) {
        return;
    }
    if e.errlog.len() < MAX_ERRLOG {
        e.errlog.push(owner);
        e.errlog.sort();
    } else {
        e.errlog_more += 1;
    }
}

/// The sort key of a block: its first address.
fn key(bp: &BlkPtr) -> (u64, u64) {
    let d = bp.dva[0];
    (d.vdev as u64, d.offset)
}

/// Splits `blocks[range]` (in disk order) into spans a scrub checks with
/// one read per leaf: blocks of a single copy that follow each other on
/// one vdev, with gaps of at most [`SPAN_GAP`], up to [`SPAN_MAX`] per
/// leaf (a raidz spreads a span over its children). A block of several
/// copies is a span of its own.
fn spans(
    blocks: &[ScanBlock],
    range: std::ops::Range<usize>,
    vdevs: &[Arc<TopVdev>],
) -> Vec<std::ops::Range<usize>> {
    let mut out: Vec<std::ops::Range<usize>> = Vec::new();
    // The open span: its range, vdev, start and end offsets, and limit.
    let mut open: Option<(std::ops::Range<usize>, u32, u64, u64, u64)> = None;
    for i in range {
        let bp = &blocks[i].bp;
        let d = bp.dva[0];
        let single = bp.copies().count() == 1;
        let end = d.offset + d.asize as u64;
        if let Some((r, vdev, start, last_end, limit)) = open.as_mut() {
            let joins = single
                && d.vdev == *vdev
                && d.offset >= *last_end
                && d.offset - *last_end <= SPAN_GAP
                && end - *start <= *limit;
            if joins {
                r.end = i + 1;
                *last_end = end;
                continue;
            }
            out.push(r.clone());
            open = None;
        }
        if single {
            let width = vdevs
                .get(d.vdev as usize)
                .filter(|t| matches!(t.layout, Layout::Raidz { .. }))
                .map_or(1, |t| t.children.len() as u64);
            open = Some((i..i + 1, d.vdev, d.offset, end, SPAN_MAX * width));
        } else {
            out.push(i..i + 1);
        }
    }
    if let Some((r, ..)) = open {
        out.push(r);
    }
    out
}

/// Lists the blocks of a scan, in disk order, without duplicates.
fn list_blocks(pool: &Pool, min: u64, max: u64, ctl: &ScanCtl) -> Result<Vec<ScanBlock>> {
    let mut out: Vec<ScanBlock> = Vec::new();
    let mut visit = |b: ScanBlock| {
        if b.bp.is_hole() || b.bp.birth < min || b.bp.birth > max {
            return;
        }
        ctl.state.lock().scanned += b.bp.copies().map(|d| d.asize as u64).sum::<u64>();
        out.push(b);
    };
    for bp in pool.metadata_blocks()? {
        visit(ScanBlock {
            bp,
            owner: BlockOwner {
                objset: POOL_METADATA,
                object: 0,
                level: 0,
                blkid: 0,
            },
        });
    }
    let lister = pool.inner().lister.read().clone();
    if let Some(l) = lister {
        l.list(pool, min, max, &mut visit)?;
    }
    out.sort_by_key(|b| key(&b.bp));
    out.dedup_by_key(|b| key(&b.bp));
    Ok(out)
}

fn run_scan(weak: Weak<PoolInner>, ctl: Arc<ScanCtl>, func: ScanFunc) {
    let Some(inner) = weak.upgrade() else { return };
    let pool = Pool(inner);
    let (min, max, bookmark) = {
        let s = ctl.state.lock();
        (s.min_txg, s.max_txg, s.bookmark.clone())
    };
    let write_errors_before: Vec<(u64, u64)> = leaf_write_errors(&pool);

    // List, with reuse of freed space held back.
    let blocks = {
        let _hold = pool.inner().space.hold_reuse();
        pool.inner().space.watch_frees(true);
        match list_blocks(&pool, min, max, &ctl) {
            Ok(b) => b,
            Err(e) => {
                pool.inner().space.watch_frees(false);
                finish(&pool, &ctl, func, "canceled", Some(e.to_string()), max);
                return;
            }
        }
    };
    let total: u64 = blocks
        .iter()
        .map(|b| b.bp.copies().map(|d| d.asize as u64).sum::<u64>())
        .sum();
    let start = match bookmark.as_slice() {
        [v, o] => blocks.partition_point(|b| key(&b.bp) <= (*v, *o)),
        _ => 0,
    };
    {
        let mut s = ctl.state.lock();
        // Resumed: what was examined before counts in the total.
        let before: u64 = blocks[..start]
            .iter()
            .map(|b| b.bp.copies().map(|d| d.asize as u64).sum::<u64>())
            .sum();
        s.to_examine = total;
        s.scanned = total;
        s.examined = s.examined.max(before);
    }

    let errors: Mutex<BTreeSet<BlockOwner>> = Mutex::new(BTreeSet::new());
    let mut last_persist = Instant::now();
    let delay = pool.inner().tunables.scan_batch_delay;
    let batch = if delay.is_zero() { BATCH_FAST } else { BATCH };
    let mut at = start;
    while at < blocks.len() && !ctl.stopping() {
        let end = (at + batch).min(blocks.len());
        let spans = spans(&blocks, at..end, &pool.vdevs());
        let next = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..SCAN_WORKERS.min(spans.len()) {
                s.spawn(|| loop {
                    if ctl.stopping() {
                        return;
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(span) = spans.get(i) else { return };
                    let span = &blocks[span.clone()];
                    let space = &pool.inner().space;
                    let hold = space.hold_reuse();
                    let skip: Vec<bool> = span
                        .iter()
                        .map(|b| {
                            b.bp.copies()
                                .any(|d| space.freed_since_watch(d.vdev, d.offset))
                        })
                        .collect();
                    let results = match span {
                        [_] if skip[0] => vec![BlockScrub::default()],
                        [b] if b.bp.copies().count() > 1 => {
                            vec![pool.scrub_block(&b.bp, IoClass::Scrub)]
                        }
                        _ => pool.scrub_span(span, &skip, IoClass::Scrub),
                    };
                    drop(hold);
                    let bytes: u64 = span
                        .iter()
                        .map(|b| b.bp.copies().map(|d| d.asize as u64).sum::<u64>())
                        .sum();
                    let lost: Vec<BlockOwner> = span
                        .iter()
                        .zip(&results)
                        .filter(|(_, r)| r.unrecoverable)
                        .map(|(b, _)| b.owner)
                        .collect();
                    {
                        let mut st = ctl.state.lock();
                        st.examined += bytes;
                        st.repaired += results.iter().map(|r| r.repaired).sum::<u64>();
                        st.errors += lost.len() as u64;
                    }
                    if !lost.is_empty() {
                        errors.lock().extend(lost);
                    }
                });
            }
        });
        if ctl.stopping() {
            // The batch may be partly done: keep the bookmark where it was
            // (what was done is done again on resume, which is harmless).
            break;
        }
        at = end;
        if !delay.is_zero() {
            std::thread::sleep(delay);
        }
        let k = key(&blocks[at - 1].bp);
        ctl.state.lock().bookmark = vec![k.0, k.1];
        if last_persist.elapsed() >= PERSIST_EVERY {
            last_persist = Instant::now();
            persist(&pool, &ctl, &errors);
        }
    }
    pool.inner().space.watch_frees(false);
    persist(&pool, &ctl, &errors);
    if ctl.cancel.load(Ordering::Relaxed) {
        finish(&pool, &ctl, func, "canceled", None, max);
    } else if ctl.pause.load(Ordering::Relaxed) {
        let s = {
            let mut s = ctl.state.lock();
            s.state = "paused".into();
            s.pause_time = now_secs();
            s.clone()
        };
        pool.update_extras(|e| e.scan = Some(s));
    } else if ctl.suspend.load(Ordering::Relaxed) {
        // Left recorded as scanning, with its bookmark.
    } else {
        let clean = errors.lock().is_empty();
        if func == ScanFunc::Scrub || clean {
            let found: Vec<BlockOwner> = errors.lock().iter().copied().collect();
            if func == ScanFunc::Scrub {
                pool.update_extras(|e| {
                    e.errlog.clear();
                    e.errlog_more = 0;
                    for o in found {
                        add_error(e, o);
                    }
                });
            }
        }
        // Leaves whose missed txgs were all covered, and took every write
        // meanwhile, are whole again.
        let after = leaf_write_errors(&pool);
        pool.resilver_done(min, max, &write_errors_before, &after);
        finish(&pool, &ctl, func, "finished", None, max);
    }
    pool.inner().txg.kick(0);
}

/// (leaf guid, write errors) of every leaf.
fn leaf_write_errors(pool: &Pool) -> Vec<(u64, u64)> {
    pool.vdevs()
        .iter()
        .flat_map(|t| t.leaves())
        .map(|l| (l.guid, l.errors.write.load(Ordering::Relaxed)))
        .collect()
}

fn persist(pool: &Pool, ctl: &ScanCtl, errors: &Mutex<BTreeSet<BlockOwner>>) {
    let s = ctl.state.lock().clone();
    let found: Vec<BlockOwner> = errors.lock().iter().copied().collect();
    pool.update_extras(|e| {
        e.scan = Some(s);
        for o in found {
            add_error(e, o);
        }
    });
}

fn finish(pool: &Pool, ctl: &ScanCtl, func: ScanFunc, state: &str, why: Option<String>, _max: u64) {
    let s = {
        let mut s = ctl.state.lock();
        s.state = state.into();
        s.end_time = now_secs();
        s.clone()
    };
    if let Some(w) = why {
        pool.log_history(&format!("{} canceled: {w}", func.name()), true);
    }
    pool.log_history(
        &format!(
            "{} {state} with {} errors, {} bytes repaired",
            func.name(),
            s.errors,
            s.repaired
        ),
        true,
    );
    pool.update_extras(|e| e.scan = Some(s));
}
