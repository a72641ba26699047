//! Top-level vdevs: a single leaf, a mirror (every child holds the block)
//! or RAID-Z (the block in columns with parity). They place a block's
//! bytes, read them back verified (trying the other sides, or rebuilding
//! columns, when the checksum fails), repair what was damaged, and scrub:
//! check every side and column of a block, parity included.
//!
//! Each child is a slot. A slot being replaced holds two leaves, the new
//! one and the one it replaces: writes go to both, reads prefer the new
//! one unless its log of missed txgs says it may lack the block, and a
//! resilver fills the new one in, after which the old one is detached.
//! A leaf is never read for a block born while it was missing writes.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use super::raidz;
use super::{AlignedBuf, Health, IoClass, IoEngine, IoOp, IoOutcome, IoRequest, Leaf};
use crate::label::FRONT_RESERVE;

/// How a top-level vdev lays out its copies.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Layout {
    /// One leaf.
    Single,
    /// Every child holds a full copy.
    Mirror,
    /// Columns with `nparity` parity columns.
    Raidz {
        /// 1 or 2.
        nparity: u8,
    },
}

/// A top-level vdev.
pub struct TopVdev {
    /// Index in the pool (the `vdev` of a DVA).
    pub id: u32,
    /// Unique id.
    pub guid: u64,
    /// Layout.
    pub layout: Layout,
    /// The leaf of each slot.
    pub children: Vec<Arc<Leaf>>,
    /// The leaf each slot is replacing, until its resilver completes.
    pub replacing: Vec<Option<Arc<Leaf>>>,
    /// log2 of the sector size.
    pub ashift: u8,
    /// Allocatable bytes.
    pub asize: u64,
    /// log2 of the metaslab size.
    pub ms_shift: u8,
    rotor: AtomicUsize,
    /// Reads never rewrite damaged copies (a pool opened read-only).
    no_heal: AtomicBool,
}

/// What a verified read returns.
pub struct VerifiedRead {
    /// The good bytes.
    pub data: AlignedBuf,
    /// Bytes rewritten on damaged children.
    pub repaired: u64,
}

/// Why a verified read failed.
#[derive(Debug)]
pub enum ReadFailure {
    /// No child could be read.
    Io(io::Error),
    /// Children were read but none verified.
    Checksum,
}

/// What scrubbing one block on one top-level vdev found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ScrubOutcome {
    /// Bytes read from the children.
    pub read: u64,
    /// Bytes rewritten on children that were damaged or lacked the block.
    pub repaired: u64,
    /// Sides or columns found damaged (not counting those that were only
    /// missing the block).
    pub damaged: u64,
    /// No good copy could be found here.
    pub unrecoverable: bool,
}

/// A block as the vdev sees it: where, how big, and when it was born.
#[derive(Clone, Copy, Debug)]
pub struct BlockAt {
    /// Byte offset in the vdev's allocatable space.
    pub offset: u64,
    /// Allocated bytes.
    pub asize: usize,
    /// Stored bytes.
    pub psize: usize,
    /// Birth txg (a leaf whose missed-txg log covers it is not read).
    pub birth: u64,
}

type Done = Box<dyn FnOnce(io::Result<()>) + Send>;
type Target = (Arc<Leaf>, Arc<IoEngine>);

/// Queues the write of `b` at `off` (in the vdev's allocatable space) on
/// a leaf, with its scheduling (class, tenant, weight); `part` gets the
/// result, which also counts against the leaf when it failed.
fn submit_write(
    (leaf, engine): Target,
    off: u64,
    b: Arc<AlignedBuf>,
    (class, tenant, weight): (IoClass, u64, u32),
    part: impl FnOnce(io::Result<()>) + Send + 'static,
) {
    engine.submit(IoRequest {
        op: IoOp::Write {
            offset: FRONT_RESERVE + off,
            buf: b,
        },
        class,
        tenant,
        weight,
        done: Box::new(move |r| {
            if r.is_err() {
                leaf.errors.write.fetch_add(1, Ordering::Relaxed);
                leaf.write_failed.store(true, Ordering::Release);
            }
            part(r.map(|_| ()));
        }),
    });
}

/// Joins several writes: `done` gets Ok when at most `tolerate` failed.
struct Join {
    left: usize,
    failed: usize,
    tolerate: usize,
    err: Option<io::Error>,
    done: Option<Done>,
}

impl Join {
    fn new(parts: usize, tolerate: usize, done: Done) -> Arc<Mutex<Join>> {
        Arc::new(Mutex::new(Join {
            left: parts,
            failed: 0,
            tolerate,
            err: None,
            done: Some(done),
        }))
    }

    fn part_done(j: &Arc<Mutex<Join>>, r: io::Result<()>) {
        let mut g = j.lock();
        if let Err(e) = r {
            g.failed += 1;
            g.err = Some(e);
        }
        g.left -= 1;
        if g.left == 0 {
            let result = if g.failed <= g.tolerate {
                Ok(())
            } else {
                Err(g
                    .err
                    .take()
                    .unwrap_or_else(|| io::Error::other("write failed")))
            };
            if let Some(d) = g.done.take() {
                drop(g);
                d(result);
            }
        }
    }
}

/// Reads several (leaf, offset, length) at once; `None` where it failed or
/// there was no leaf to read. A failed read counts against its leaf.
fn read_all(parts: &[(Option<Target>, u64, usize)], class: IoClass) -> Vec<Option<AlignedBuf>> {
    read_parts(parts, class, true)
}

/// [`read_all`], counting failed reads against their leaf only when
/// `count_errors` (a read that is only a shortcut, redone on failure,
/// does not count).
fn read_parts(
    parts: &[(Option<Target>, u64, usize)],
    class: IoClass,
    count_errors: bool,
) -> Vec<Option<AlignedBuf>> {
    let (tx, rx) = crossbeam_channel::unbounded();
    let mut expected = 0;
    for (i, (target, off, len)) in parts.iter().enumerate() {
        let Some((leaf, engine)) = target else {
            continue;
        };
        let tx = tx.clone();
        let leaf = leaf.clone();
        expected += 1;
        engine.submit(IoRequest {
            op: IoOp::Read {
                offset: FRONT_RESERVE + off,
                len: *len,
            },
            class,
            tenant: 0,
            weight: super::queue::DEFAULT_WEIGHT,
            done: Box::new(move |r| {
                let r = match r {
                    Ok(IoOutcome::Read(b)) => Some(b),
                    _ => {
                        if count_errors {
                            leaf.errors.read.fetch_add(1, Ordering::Relaxed);
                        }
                        None
                    }
                };
                let _ = tx.send((i, r));
            }),
        });
    }
    drop(tx);
    let mut out: Vec<Option<AlignedBuf>> = (0..parts.len()).map(|_| None).collect();
    for _ in 0..expected {
        if let Ok((i, r)) = rx.recv() {
            out[i] = r;
        }
    }
    out
}

/// Writes `buf` at `offset` of one leaf and waits; counts the outcome.
fn write_leaf(leaf: &Leaf, engine: &IoEngine, offset: u64, buf: Arc<AlignedBuf>) -> u64 {
    let len = buf.len() as u64;
    if engine
        .write(FRONT_RESERVE + offset, buf, IoClass::SyncWrite)
        .is_ok()
    {
        leaf.errors.repaired.fetch_add(len, Ordering::Relaxed);
        len
    } else {
        leaf.errors.write.fetch_add(1, Ordering::Relaxed);
        0
    }
}

/// True when the first `psize` bytes of two copies are the same.
fn same_bytes(a: &[u8], b: &[u8], psize: usize) -> bool {
    a.len() >= psize && b.len() >= psize && a[..psize] == b[..psize]
}

/// True when the parity columns of a raidz block (`cols`, parity first)
/// are what its `data` gives.
fn parity_matches(m: &raidz::Map, cols: &[&[u8]], data: &[u8]) -> bool {
    if m.nparity != 1 {
        let want = raidz::encode(m, data);
        return want[..m.nparity]
            .iter()
            .zip(cols)
            .all(|(w, c)| w[..] == c[..]);
    }
    // P is the XOR of the data columns (a short column counts as zeros
    // past its end): P xor every data column is zero.
    xor_is_zero(cols)
}

/// True when the XOR of `cols` (a short one counting as zeros past its
/// end) is zero: 4 KiB at a time, a word at a time, without allocating.
fn xor_is_zero(cols: &[&[u8]]) -> bool {
    const WORDS: usize = 512;
    let len = cols.iter().map(|c| c.len()).max().unwrap_or(0);
    if cols.iter().any(|c| c.len() % 8 != 0) {
        // Not whole words (sectors always are): byte by byte.
        return (0..len).all(|i| {
            cols.iter()
                .fold(0u8, |x, c| x ^ c.get(i).copied().unwrap_or(0))
                == 0
        });
    }
    let mut acc = [0u64; WORDS];
    for start in (0..len).step_by(WORDS * 8) {
        let n = (len - start).min(WORDS * 8) / 8;
        acc[..n].fill(0);
        for c in cols {
            let Some(rest) = c.get(start..) else { continue };
            for (a, w) in acc[..n].iter_mut().zip(rest.chunks_exact(8)) {
                let mut b = [0u8; 8];
                b.copy_from_slice(w);
                *a ^= u64::from_le_bytes(b);
            }
        }
        if acc[..n].iter().any(|&w| w != 0) {
            return false;
        }
    }
    true
}

impl TopVdev {
    /// A top-level vdev whose slots hold `children`, none being replaced.
    pub fn new(
        id: u32,
        guid: u64,
        layout: Layout,
        children: Vec<Arc<Leaf>>,
        ashift: u8,
        asize: u64,
        ms_shift: u8,
    ) -> TopVdev {
        let replacing = vec![None; children.len()];
        TopVdev::with_replacing(
            id, guid, layout, children, replacing, ashift, asize, ms_shift,
        )
    }

    /// A top-level vdev with some slots being replaced.
    #[allow(clippy::too_many_arguments)]
    pub fn with_replacing(
        id: u32,
        guid: u64,
        layout: Layout,
        children: Vec<Arc<Leaf>>,
        replacing: Vec<Option<Arc<Leaf>>>,
        ashift: u8,
        asize: u64,
        ms_shift: u8,
    ) -> TopVdev {
        assert_eq!(children.len(), replacing.len());
        TopVdev {
            id,
            guid,
            layout,
            children,
            replacing,
            ashift,
            asize,
            ms_shift,
            rotor: AtomicUsize::new(0),
            no_heal: AtomicBool::new(false),
        }
    }

    /// The same vdev with slot `slot` changed (`replace`, `attach`,
    /// `detach` and the end of a resilver build a new one).
    pub fn rebuilt_as(
        &self,
        guid: u64,
        children: Vec<Arc<Leaf>>,
        replacing: Vec<Option<Arc<Leaf>>>,
        layout: Layout,
    ) -> TopVdev {
        let t = TopVdev::with_replacing(
            self.id,
            guid,
            layout,
            children,
            replacing,
            self.ashift,
            self.asize,
            self.ms_shift,
        );
        t.set_no_heal(self.no_heal());
        t
    }

    /// Every leaf, the ones being replaced included.
    pub fn leaves(&self) -> Vec<Arc<Leaf>> {
        let mut out: Vec<Arc<Leaf>> = self.children.clone();
        out.extend(self.replacing.iter().flatten().cloned());
        out
    }

    /// The leaves of a slot: the current one, then the one it replaces.
    fn slot_leaves(&self, slot: usize) -> impl Iterator<Item = &Arc<Leaf>> {
        std::iter::once(&self.children[slot]).chain(self.replacing[slot].iter())
    }

    /// Leaves of a slot that take writes.
    fn slot_targets(&self, slot: usize) -> Vec<Target> {
        self.slot_leaves(slot)
            .filter_map(|l| l.engine().map(|e| (l.clone(), e)))
            .collect()
    }

    /// The leaf of a slot to read a block born in `birth` from.
    fn slot_source(&self, slot: usize, birth: u64) -> Option<Target> {
        self.slot_leaves(slot)
            .filter(|l| !l.lacks(birth))
            .find_map(|l| l.engine().map(|e| (l.clone(), e)))
    }

    /// Stops reads from rewriting damaged copies (a read-only pool).
    pub fn set_no_heal(&self, no_heal: bool) {
        self.no_heal.store(no_heal, Ordering::Release);
    }

    /// True when reads leave damaged copies as they are.
    pub fn no_heal(&self) -> bool {
        self.no_heal.load(Ordering::Acquire)
    }

    /// True when a read of `class` may rewrite what it finds damaged or
    /// missing: not a speculative one ([`IoClass::is_speculative`]), whose
    /// pointer may be older than a free, and would rewrite the old bytes
    /// over a new block allocated in the same place.
    fn heals(&self, class: IoClass) -> bool {
        !class.is_speculative() && !self.no_heal()
    }

    /// Parity columns (0 for a mirror or a single leaf).
    pub fn nparity(&self) -> usize {
        match self.layout {
            Layout::Raidz { nparity } => nparity as usize,
            _ => 0,
        }
    }

    /// Bytes allocated for a block of `psize` stored bytes.
    pub fn alloc_size(&self, psize: u64) -> u64 {
        match self.layout {
            Layout::Raidz { nparity } => {
                raidz::alloc_sectors(psize, self.ashift, self.children.len(), nparity as usize)
                    << self.ashift
            }
            _ => {
                let unit = 1u64 << self.ashift;
                psize.div_ceil(unit) * unit
            }
        }
    }

    /// Health of a slot: the better of its leaves, degraded while a
    /// replacement has one side down.
    pub fn slot_health(&self, slot: usize) -> Health {
        let mut hs: Vec<Health> = self.slot_leaves(slot).map(|l| l.health()).collect();
        hs.sort();
        match (hs.len(), hs[0].usable()) {
            (1, _) => hs[0],
            (_, true) if hs.iter().all(|h| h.usable()) => Health::Online,
            (_, true) => Health::Degraded,
            _ => hs[0],
        }
    }

    /// Health, from the slots'.
    pub fn health(&self) -> Health {
        let states: Vec<Health> = (0..self.children.len())
            .map(|s| self.slot_health(s))
            .collect();
        let up = states.iter().filter(|h| h.usable()).count();
        match self.layout {
            Layout::Single => states[0],
            Layout::Mirror | Layout::Raidz { .. } => {
                let tolerate = match self.layout {
                    Layout::Raidz { nparity } => nparity as usize,
                    _ => states.len() - 1,
                };
                if up == states.len() && states.iter().all(|h| *h == Health::Online) {
                    Health::Online
                } else if states.len() - up <= tolerate {
                    Health::Degraded
                } else {
                    Health::Unavail
                }
            }
        }
    }

    /// Slots with no usable leaf.
    fn missing_slots(&self) -> usize {
        (0..self.children.len())
            .filter(|&s| self.slot_targets(s).is_empty())
            .count()
    }

    /// True when one more leaf of this vdev could fail without losing it.
    pub fn can_spare_one(&self) -> bool {
        let tolerate = match self.layout {
            Layout::Single => 0,
            Layout::Mirror => self.children.len() - 1,
            Layout::Raidz { nparity } => nparity as usize,
        };
        self.missing_slots() < tolerate
    }

    /// Writes a block whose stored bytes are the first `psize` of `buf`
    /// (padded to its allocated size) at `offset`; `done` gets Ok when the
    /// block can be read back (one mirror side, or all but `nparity`
    /// columns). Both leaves of a slot being replaced are written.
    #[allow(clippy::too_many_arguments)]
    pub fn write(
        &self,
        offset: u64,
        buf: Arc<AlignedBuf>,
        psize: usize,
        class: IoClass,
        tenant: u64,
        weight: u32,
        done: Done,
    ) {
        let submit = |t: Target, off: u64, b: Arc<AlignedBuf>, join: Arc<Mutex<Join>>| {
            submit_write(t, off, b, (class, tenant, weight), move |r| {
                Join::part_done(&join, r)
            });
        };
        // Each slot succeeds when one of its leaves does.
        let slot_join = |targets: usize, outer: &Arc<Mutex<Join>>| {
            let outer = outer.clone();
            Join::new(
                targets,
                targets - 1,
                Box::new(move |r| Join::part_done(&outer, r)),
            )
        };
        // The common case, one leaf: its write is the block's, with no
        // joins to allocate and go through.
        if !matches!(self.layout, Layout::Raidz { .. })
            && self.children.len() == 1
            && self.replacing[0].is_none()
        {
            if let Some(e) = self.children[0].engine() {
                let t = (self.children[0].clone(), e);
                submit_write(t, offset, buf, (class, tenant, weight), done);
                return;
            }
        }
        match self.layout {
            Layout::Single | Layout::Mirror => {
                let slots: Vec<Vec<Target>> = (0..self.children.len())
                    .map(|s| self.slot_targets(s))
                    .filter(|t| !t.is_empty())
                    .collect();
                if slots.is_empty() {
                    done(Err(io::Error::other(format!(
                        "top-level vdev {} has no usable device",
                        self.id
                    ))));
                    return;
                }
                let join = Join::new(slots.len(), slots.len() - 1, done);
                for targets in slots {
                    let sj = slot_join(targets.len(), &join);
                    for t in targets {
                        submit(t, offset, buf.clone(), sj.clone());
                    }
                }
            }
            Layout::Raidz { nparity } => {
                let m = raidz::map(
                    offset,
                    psize as u64,
                    self.ashift,
                    self.children.len(),
                    nparity as usize,
                );
                let cols = raidz::encode(&m, &buf[..psize.min(buf.len())]);
                let targets: Vec<Vec<Target>> =
                    m.cols.iter().map(|c| self.slot_targets(c.child)).collect();
                let missing = targets.iter().filter(|t| t.is_empty()).count();
                if missing > nparity as usize {
                    done(Err(io::Error::other(format!(
                        "raidz vdev {} has {missing} devices missing, more than its parity",
                        self.id
                    ))));
                    return;
                }
                let present = m.cols.len() - missing;
                let join = Join::new(present, nparity as usize - missing, done);
                for ((c, bytes), ts) in m.cols.iter().zip(cols).zip(targets) {
                    if ts.is_empty() {
                        continue;
                    }
                    let b = Arc::new(AlignedBuf::from_slice_padded(&bytes, c.len));
                    let sj = slot_join(ts.len(), &join);
                    for t in ts {
                        submit(t, c.offset, b.clone(), sj.clone());
                    }
                }
            }
        }
    }

    /// Reads the block, returning bytes `verify` accepts, and rewrites
    /// what was found damaged.
    pub fn read_verified(
        &self,
        at: BlockAt,
        class: IoClass,
        verify: &dyn Fn(&[u8]) -> bool,
    ) -> Result<VerifiedRead, ReadFailure> {
        match self.layout {
            Layout::Raidz { nparity } => self
                .raidz_read(at, nparity as usize, class, verify, false)
                .map(|(v, _)| v),
            _ => self.mirror_read(at, class, verify),
        }
    }

    /// Every side of a mirror (leaves of every slot) that may hold a
    /// block born in `birth`, starting at the rotor.
    fn mirror_sources(&self, birth: u64, rotate: bool) -> Vec<Target> {
        let mut sides: Vec<Target> = (0..self.children.len())
            .flat_map(|s| self.slot_leaves(s).cloned().collect::<Vec<_>>())
            .filter(|l| !l.lacks(birth))
            .filter_map(|l| l.engine().map(|e| (l, e)))
            .collect();
        if rotate && self.layout == Layout::Mirror && !sides.is_empty() {
            let first = self.rotor.fetch_add(1, Ordering::Relaxed) % sides.len();
            sides.rotate_left(first);
        }
        sides
    }

    /// Usable leaves that lack a block born in `birth` (to be filled in).
    fn lacking(&self, birth: u64) -> Vec<Target> {
        (0..self.children.len())
            .flat_map(|s| self.slot_leaves(s).cloned().collect::<Vec<_>>())
            .filter(|l| l.lacks(birth))
            .filter_map(|l| l.engine().map(|e| (l, e)))
            .collect()
    }

    fn mirror_read(
        &self,
        at: BlockAt,
        class: IoClass,
        verify: &dyn Fn(&[u8]) -> bool,
    ) -> Result<VerifiedRead, ReadFailure> {
        let mut damaged: Vec<Target> = Vec::new();
        let mut last_io: Option<io::Error> = None;
        let mut saw_data = false;
        for (leaf, engine) in self.mirror_sources(at.birth, true) {
            match engine.read(FRONT_RESERVE + at.offset, at.asize, class) {
                Ok(data) => {
                    saw_data = true;
                    if verify(&data) {
                        let repaired = if self.heals(class) {
                            self.heal_sides(&damaged, at.offset, &data)
                        } else {
                            0
                        };
                        return Ok(VerifiedRead { data, repaired });
                    }
                    if self.heals(class) {
                        leaf.errors.checksum.fetch_add(1, Ordering::Relaxed);
                    }
                    damaged.push((leaf, engine));
                }
                Err(e) => {
                    if self.heals(class) {
                        leaf.errors.read.fetch_add(1, Ordering::Relaxed);
                    }
                    damaged.push((leaf, engine));
                    last_io = Some(e);
                }
            }
        }
        if saw_data {
            Err(ReadFailure::Checksum)
        } else {
            Err(ReadFailure::Io(last_io.unwrap_or_else(|| {
                io::Error::other(format!("top-level vdev {} has no usable device", self.id))
            })))
        }
    }

    /// Rewrites good data over damaged mirror sides; returns bytes written.
    fn heal_sides(&self, damaged: &[Target], offset: u64, good: &[u8]) -> u64 {
        if damaged.is_empty() || self.no_heal() {
            return 0;
        }
        let buf = Arc::new(AlignedBuf::from_slice_padded(good, good.len()));
        damaged
            .iter()
            .map(|(leaf, engine)| write_leaf(leaf, engine, offset, buf.clone()))
            .sum()
    }

    /// Reads a raidz block: the data columns, then, if the data does not
    /// verify, the parity too, and rebuilds every combination of up to
    /// `nparity` columns until it does. With `scrub`, reads parity from the
    /// start and judges every column. Columns found wrong are rewritten, and
    /// so are leaves that lack the block. Returns the data and the number
    /// of damaged columns.
    fn raidz_read(
        &self,
        at: BlockAt,
        nparity: usize,
        class: IoClass,
        verify: &dyn Fn(&[u8]) -> bool,
        scrub: bool,
    ) -> Result<(VerifiedRead, u64), ReadFailure> {
        let m = raidz::map(
            at.offset,
            at.psize as u64,
            self.ashift,
            self.children.len(),
            nparity,
        );
        let sources: Vec<Option<Target>> = m
            .cols
            .iter()
            .map(|c| self.slot_source(c.child, at.birth))
            .collect();
        // Without scrubbing, parity is read only when needed.
        let parts: Vec<_> = m
            .cols
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let t = if i >= nparity || scrub {
                    sources[i].clone()
                } else {
                    None
                };
                (t, c.offset, c.len)
            })
            .collect();
        let mut got = read_all(&parts, class);
        let mut parity_read = scrub;
        if !scrub {
            let mut data = Vec::with_capacity(m.data_len);
            let mut complete = true;
            for g in &got[nparity..] {
                match g {
                    Some(b) => data.extend_from_slice(b),
                    None => complete = false,
                }
            }
            data.truncate(m.data_len);
            if complete && verify(&data) {
                let len = data.len();
                let mut v = VerifiedRead {
                    data: AlignedBuf::from_slice_padded(&data, len),
                    repaired: 0,
                };
                // Leaves that lacked the block get it now.
                if self.heals(class) && !self.lacking(at.birth).is_empty() {
                    let good = raidz::encode(&m, &data);
                    v.repaired = self.fill_lacking(&m, &good, at.birth);
                }
                return Ok((v, 0));
            }
            // Something is wrong: read the parity too.
            let parity: Vec<_> = m
                .cols
                .iter()
                .take(nparity)
                .enumerate()
                .map(|(i, c)| (sources[i].clone(), c.offset, c.len))
                .collect();
            for (i, b) in read_all(&parity, class).into_iter().enumerate() {
                got[i] = b;
            }
            parity_read = true;
        }
        let _ = parity_read;
        let missing: Vec<usize> = (0..m.cols.len()).filter(|&i| got[i].is_none()).collect();
        if missing.len() > nparity {
            return Err(ReadFailure::Io(io::Error::other(format!(
                "raidz vdev {}: {} columns unreadable, more than its parity",
                self.id,
                missing.len()
            ))));
        }
        let read: Vec<Vec<u8>> = m
            .cols
            .iter()
            .zip(&got)
            .map(|(c, g)| {
                g.as_ref()
                    .map(|b| b[..c.len].to_vec())
                    .unwrap_or_else(|| vec![0u8; c.len])
            })
            .collect();
        // Try: the missing columns only, then every combination that
        // includes them, smallest first.
        let mut tries: Vec<Vec<usize>> = vec![missing.clone()];
        for k in 1..=nparity {
            for combo in raidz::combinations(m.cols.len(), k) {
                if combo.len() > missing.len()
                    && missing.iter().all(|x| combo.contains(x))
                    && !tries.contains(&combo)
                {
                    tries.push(combo);
                }
            }
        }
        for bad in tries {
            let mut cols = read.clone();
            if !bad.is_empty() && !raidz::reconstruct(&m, &mut cols, &bad) {
                continue;
            }
            let data = raidz::gather(&m, &cols);
            if !verify(&data) {
                continue;
            }
            // Good data: every column read should be what it says.
            let good = raidz::encode(&m, &data);
            let mut damaged = 0u64;
            let mut repaired = 0u64;
            for (i, c) in m.cols.iter().enumerate() {
                let Some(b) = &got[i] else { continue };
                if b[..c.len] == good[i][..] {
                    continue;
                }
                damaged += 1;
                if !self.heals(class) {
                    continue;
                }
                let (leaf, engine) = sources[i].as_ref().expect("a column read has a source");
                leaf.errors.checksum.fetch_add(1, Ordering::Relaxed);
                let buf = Arc::new(AlignedBuf::from_slice_padded(&good[i], c.len));
                repaired += write_leaf(leaf, engine, c.offset, buf);
            }
            if self.heals(class) {
                repaired += self.fill_lacking(&m, &good, at.birth);
            }
            let len = data.len();
            return Ok((
                VerifiedRead {
                    data: AlignedBuf::from_slice_padded(&data, len),
                    repaired,
                },
                damaged,
            ));
        }
        Err(ReadFailure::Checksum)
    }

    /// Writes the good columns to the usable leaves that lack the block.
    fn fill_lacking(&self, m: &raidz::Map, good: &[Vec<u8>], birth: u64) -> u64 {
        let mut written = 0;
        for (i, c) in m.cols.iter().enumerate() {
            for leaf in self.slot_leaves(c.child) {
                if !leaf.lacks(birth) {
                    continue;
                }
                if let Some(engine) = leaf.engine() {
                    let buf = Arc::new(AlignedBuf::from_slice_padded(&good[i], c.len));
                    written += write_leaf(leaf, &engine, c.offset, buf);
                }
            }
        }
        written
    }

    /// Checks every side or column of the block (parity included),
    /// repairs what is damaged and fills in leaves that lack it, when a
    /// good copy can be found here.
    pub fn scrub(
        &self,
        at: BlockAt,
        class: IoClass,
        verify: &dyn Fn(&[u8]) -> bool,
    ) -> (ScrubOutcome, Option<AlignedBuf>) {
        let mut out = ScrubOutcome::default();
        if let Layout::Raidz { nparity } = self.layout {
            out.read = at.asize as u64;
            return match self.raidz_read(at, nparity as usize, class, verify, true) {
                Ok((v, damaged)) => {
                    out.repaired = v.repaired;
                    out.damaged = damaged;
                    (out, Some(v.data))
                }
                Err(_) => {
                    out.unrecoverable = true;
                    (out, None)
                }
            };
        }
        let sources = self.mirror_sources(at.birth, false);
        let parts: Vec<_> = sources
            .iter()
            .map(|t| (Some(t.clone()), at.offset, at.asize))
            .collect();
        let mut got = read_all(&parts, class);
        out.read = got.iter().flatten().map(|b| b.len() as u64).sum();
        // Judge every side once: the first that verifies is the good copy,
        // and a side with the same bytes is as good without hashing it.
        let mut good_at: Option<usize> = None;
        let mut ok = vec![false; got.len()];
        for i in 0..got.len() {
            let Some(b) = &got[i] else { continue };
            ok[i] = match good_at.and_then(|g| got[g].as_ref()) {
                Some(g) => same_bytes(g, b, at.psize) || verify(b),
                None => verify(b),
            };
            if ok[i] && good_at.is_none() {
                good_at = Some(i);
            }
        }
        let Some(good) = good_at.and_then(|g| got[g].take()) else {
            out.unrecoverable = true;
            out.damaged = got.iter().flatten().count() as u64;
            for ((leaf, _), g) in sources.iter().zip(&got) {
                if g.is_some() {
                    leaf.errors.checksum.fetch_add(1, Ordering::Relaxed);
                }
            }
            return (out, None);
        };
        let mut bad = Vec::new();
        for ((t, g), ok) in sources.iter().zip(&got).zip(&ok) {
            match g {
                _ if *ok => {}
                Some(_) => {
                    t.0.errors.checksum.fetch_add(1, Ordering::Relaxed);
                    out.damaged += 1;
                    bad.push(t.clone());
                }
                None => bad.push(t.clone()),
            }
        }
        bad.extend(self.lacking(at.birth));
        out.repaired = self.heal_sides(&bad, at.offset, &good);
        (out, Some(good))
    }

    /// True when the vdev is whole: every slot has one usable leaf that
    /// missed no txg, and none is being replaced. Only then may a scrub
    /// check several blocks with one read per leaf ([`TopVdev::scrub_span`]).
    fn whole(&self) -> bool {
        self.replacing.iter().all(Option::is_none)
            && self
                .children
                .iter()
                .all(|l| l.engine().is_some() && l.dtl.lock().is_none())
    }

    /// Checks blocks laid out one after the other on this vdev (sorted by
    /// offset, not overlapping, with at most small gaps between them) with
    /// one read per leaf covering them all: every side of a mirror, or
    /// every column of a raidz, parity included. `verify(k, bytes)` judges
    /// block `k`. Returns, per block, whether every copy of it was found
    /// good (nothing to repair), and the bytes read; `None` when the vdev
    /// is not whole or a read failed. Nothing is counted or repaired here:
    /// a block not found good is for [`TopVdev::scrub`] to judge again.
    pub fn scrub_span(
        &self,
        blocks: &[BlockAt],
        class: IoClass,
        verify: &dyn Fn(usize, &[u8]) -> bool,
    ) -> Option<(Vec<bool>, u64)> {
        let first = blocks.first()?;
        if !self.whole() {
            return None;
        }
        let start = first.offset;
        let end = blocks
            .iter()
            .map(|b| b.offset + b.asize as u64)
            .max()
            .unwrap_or(start);
        if blocks.iter().any(|b| b.offset < start || b.psize > b.asize) || end > self.asize {
            return None;
        }
        let leaves: Vec<Target> = self
            .children
            .iter()
            .filter_map(|l| l.engine().map(|e| (l.clone(), e)))
            .collect();
        // Where each leaf's read starts, and how long it is.
        let (lo, len) = match self.layout {
            Layout::Raidz { .. } => {
                // A raidz spreads its virtual sectors row by row over its
                // children: virtual sector v is sector v / n of child
                // v mod n. The rows of the span, on every child.
                let n = self.children.len() as u64;
                let row_lo = (start >> self.ashift) / n;
                let row_hi = (end >> self.ashift).div_ceil(n);
                (row_lo << self.ashift, (row_hi - row_lo) << self.ashift)
            }
            _ => (start, end - start),
        };
        let parts: Vec<_> = leaves
            .iter()
            .map(|t| (Some(t.clone()), lo, len as usize))
            .collect();
        let got: Vec<AlignedBuf> = read_parts(&parts, class, false)
            .into_iter()
            .collect::<Option<_>>()?;
        let read = got.iter().map(|b| b.len() as u64).sum();
        let good = match self.layout {
            Layout::Raidz { nparity } => blocks
                .iter()
                .enumerate()
                .map(|(k, b)| {
                    self.raidz_span_block(b, nparity as usize, lo, &got, &|d| verify(k, d))
                })
                .collect(),
            _ => blocks
                .iter()
                .enumerate()
                .map(|(k, b)| {
                    let at = (b.offset - lo) as usize;
                    let Some(first) = got[0].get(at..at + b.asize) else {
                        return false;
                    };
                    verify(k, first)
                        && got[1..].iter().all(|g| {
                            g.get(at..at + b.asize)
                                .is_some_and(|o| same_bytes(first, o, b.psize))
                        })
                })
                .collect(),
        };
        Some((good, read))
    }

    /// One raidz block of a span read by [`TopVdev::scrub_span`] (each
    /// leaf's bytes from child offset `lo`): true when its data verifies
    /// and its parity is what the data gives.
    fn raidz_span_block(
        &self,
        b: &BlockAt,
        nparity: usize,
        lo: u64,
        got: &[AlignedBuf],
        verify: &dyn Fn(&[u8]) -> bool,
    ) -> bool {
        let m = raidz::map(
            b.offset,
            b.psize as u64,
            self.ashift,
            self.children.len(),
            nparity,
        );
        let mut cols: Vec<&[u8]> = Vec::with_capacity(m.cols.len());
        for c in &m.cols {
            let Some(at) = c.offset.checked_sub(lo) else {
                return false;
            };
            let at = at as usize;
            match got.get(c.child).and_then(|g| g.get(at..at + c.len)) {
                Some(x) => cols.push(x),
                None => return false,
            }
        }
        // The data gathered in one buffer per scan thread, reused: a new
        // one per block cost its allocation and page faults each time.
        thread_local! {
            static GATHER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        GATHER.with_borrow_mut(|data| {
            data.clear();
            for c in &cols[nparity..] {
                data.extend_from_slice(c);
            }
            data.truncate(m.data_len);
            data.len() >= b.psize && verify(data) && parity_matches(&m, &cols, data)
        })
    }

    /// Writes a block's good bytes over one copy that failed on this
    /// vdev (another DVA of the block held them).
    pub fn rewrite(&self, offset: u64, good: &[u8], psize: usize) -> bool {
        if self.no_heal() {
            return false;
        }
        let asize = self.alloc_size(psize as u64) as usize;
        let buf = Arc::new(AlignedBuf::from_slice_padded(good, asize.max(good.len())));
        let (tx, rx) = crossbeam_channel::bounded(1);
        self.write(
            offset,
            buf,
            psize,
            IoClass::SyncWrite,
            0,
            super::queue::DEFAULT_WEIGHT,
            Box::new(move |r| {
                let _ = tx.send(r.is_ok());
            }),
        );
        rx.recv().unwrap_or(false)
    }

    /// Checks one block without repairing anything, for the checker: Ok
    /// with the data when every side or column that should hold it (parity
    /// included) agrees with the checksum; the failure otherwise.
    pub fn check(
        &self,
        at: BlockAt,
        verify: &dyn Fn(&[u8]) -> bool,
    ) -> Result<AlignedBuf, ReadFailure> {
        let Layout::Raidz { nparity } = self.layout else {
            let parts: Vec<_> = self
                .mirror_sources(at.birth, false)
                .into_iter()
                .map(|t| (Some(t), at.offset, at.asize))
                .collect();
            let got = read_all(&parts, IoClass::Scrub);
            let mut good = None;
            for g in got {
                match g {
                    Some(b) if verify(&b) => good = Some(b),
                    Some(_) => return Err(ReadFailure::Checksum),
                    None => {
                        return Err(ReadFailure::Io(io::Error::other(
                            "a side could not be read",
                        )))
                    }
                }
            }
            return good.ok_or_else(|| ReadFailure::Io(io::Error::other("no usable side")));
        };
        let m = raidz::map(
            at.offset,
            at.psize as u64,
            self.ashift,
            self.children.len(),
            nparity as usize,
        );
        let parts: Vec<_> = m
            .cols
            .iter()
            .map(|c| (self.slot_source(c.child, at.birth), c.offset, c.len))
            .collect();
        let got = read_all(&parts, IoClass::Scrub);
        if got.iter().any(|g| g.is_none()) {
            return Err(ReadFailure::Io(io::Error::other(format!(
                "raidz vdev {}: a column could not be read",
                self.id
            ))));
        }
        let cols: Vec<Vec<u8>> = m
            .cols
            .iter()
            .zip(&got)
            .map(|(c, g)| g.as_ref().map(|b| b[..c.len].to_vec()).unwrap_or_default())
            .collect();
        let data = raidz::gather(&m, &cols);
        if !verify(&data) || raidz::encode(&m, &data) != cols {
            return Err(ReadFailure::Checksum);
        }
        let len = data.len();
        Ok(AlignedBuf::from_slice_padded(&data, len))
    }

    /// Flushes every usable leaf; Ok when at least one flushed.
    pub fn flush(&self) -> io::Result<()> {
        let mut ok = false;
        let mut err = None;
        for c in self.leaves() {
            if let Some(e) = c.engine() {
                match e.flush() {
                    Ok(()) => ok = true,
                    Err(x) => {
                        c.errors.write.fetch_add(1, Ordering::Relaxed);
                        err = Some(x)
                    }
                }
            }
        }
        if ok {
            Ok(())
        } else {
            Err(err.unwrap_or_else(|| io::Error::other("no usable device to flush")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::xor_is_zero;

    #[test]
    fn xor_of_parity_and_columns_short_ones_included() {
        let a: Vec<u8> = (0..12288u32).map(|i| (i * 7) as u8).collect();
        let b: Vec<u8> = (0..8192u32).map(|i| (i * 13 + 5) as u8).collect();
        let mut p = a.clone();
        for (x, y) in p.iter_mut().zip(&b) {
            *x ^= y;
        }
        assert!(xor_is_zero(&[&p, &a, &b]));
        for at in [0, 7, 4095, 4096, 8191, 8192, 12287] {
            let mut bad = p.clone();
            bad[at] ^= 0x40;
            assert!(!xor_is_zero(&[&bad, &a, &b]), "flip at {at}");
        }
        // Not whole words: byte by byte, same answer.
        assert!(!xor_is_zero(&[&p[..12], &a[..12], &b[..5]]));
        assert!(xor_is_zero(&[&p[..13], &a[..13], &b[..13]]));
    }
}
