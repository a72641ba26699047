//! Vdevs: leaves (files, block devices, memory) with their I/O engines, and
//! the top-level vdevs built from them (a single leaf or a mirror), which
//! place, verify and self-heal copies.

pub mod buf;
pub mod device;
pub mod engine;
pub mod file;
pub mod mem;
pub mod queue;
pub mod raidz;

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use serde::Serialize;

use crate::label::FRONT_RESERVE;
pub use buf::AlignedBuf;
pub use device::{BlockDevice, ReadOnlyDevice};
pub use engine::{IoEngine, IoOp, IoOutcome, IoRequest};
pub use queue::IoClass;

/// Health of a vdev or pool, with OpenZFS's names.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "UPPERCASE")]
pub enum Health {
    /// Everything works.
    Online,
    /// Serving, with redundancy reduced.
    Degraded,
    /// Failed after errors.
    Faulted,
    /// Taken offline by the operator.
    Offline,
    /// Cannot be opened.
    Unavail,
    /// Removed from the system.
    Removed,
}

impl Health {
    /// Upper-case name as `zpool status` prints it.
    pub fn name(self) -> &'static str {
        match self {
            Health::Online => "ONLINE",
            Health::Degraded => "DEGRADED",
            Health::Faulted => "FAULTED",
            Health::Offline => "OFFLINE",
            Health::Unavail => "UNAVAIL",
            Health::Removed => "REMOVED",
        }
    }

    /// True when the vdev can serve I/O.
    pub fn usable(self) -> bool {
        matches!(self, Health::Online | Health::Degraded)
    }
}

/// Error counters of a leaf, as the READ, WRITE and CKSUM columns show them.
#[derive(Default, Debug)]
pub struct ErrorCounters {
    /// Failed reads.
    pub read: AtomicU64,
    /// Failed writes.
    pub write: AtomicU64,
    /// Reads that returned data failing its checksum.
    pub checksum: AtomicU64,
    /// Bytes rewritten to repair damage.
    pub repaired: AtomicU64,
}

impl ErrorCounters {
    /// Sets every counter back to zero (`zpool clear`).
    pub fn clear(&self) {
        self.read.store(0, Ordering::Relaxed);
        self.write.store(0, Ordering::Relaxed);
        self.checksum.store(0, Ordering::Relaxed);
    }
}

/// A leaf vdev.
pub struct Leaf {
    /// Unique id.
    pub guid: u64,
    /// Path as configured.
    pub path: String,
    engine: RwLock<Option<Arc<IoEngine>>>,
    /// Its error counters.
    pub errors: ErrorCounters,
    /// Taken offline by the operator.
    pub offline: AtomicBool,
    /// Failed after errors.
    pub faulted: AtomicBool,
    /// Txgs up to which this leaf may lack data (set while it was
    /// unavailable; cleared by a resilver).
    pub dtl: Mutex<Option<(u64, u64)>>,
}

impl Leaf {
    /// A leaf served by `engine`, or unavailable when `None`.
    pub fn new(guid: u64, path: String, engine: Option<IoEngine>) -> Leaf {
        Leaf {
            guid,
            path,
            engine: RwLock::new(engine.map(Arc::new)),
            errors: ErrorCounters::default(),
            offline: AtomicBool::new(false),
            faulted: AtomicBool::new(false),
            dtl: Mutex::new(None),
        }
    }

    /// The engine, while the leaf is usable.
    pub fn engine(&self) -> Option<Arc<IoEngine>> {
        if self.offline.load(Ordering::Relaxed) || self.faulted.load(Ordering::Relaxed) {
            return None;
        }
        self.engine.read().clone()
    }

    /// The engine even when offline or faulted (labels, reopen).
    pub fn raw_engine(&self) -> Option<Arc<IoEngine>> {
        self.engine.read().clone()
    }

    /// Replaces the engine (reopen after the device came back).
    pub fn set_engine(&self, engine: Option<IoEngine>) {
        *self.engine.write() = engine.map(Arc::new);
    }

    /// Current health.
    pub fn health(&self) -> Health {
        if self.offline.load(Ordering::Relaxed) {
            Health::Offline
        } else if self.faulted.load(Ordering::Relaxed) {
            Health::Faulted
        } else if self.engine.read().is_none() {
            Health::Unavail
        } else {
            Health::Online
        }
    }
}

/// How a top-level vdev lays out its copies.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Layout {
    /// One leaf.
    Single,
    /// Every child holds a full copy.
    Mirror,
}

/// A top-level vdev.
pub struct TopVdev {
    /// Index in the pool (the `vdev` of a DVA).
    pub id: u32,
    /// Unique id.
    pub guid: u64,
    /// Layout.
    pub layout: Layout,
    /// Leaves.
    pub children: Vec<Arc<Leaf>>,
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

impl TopVdev {
    /// A top-level vdev.
    pub fn new(
        id: u32,
        guid: u64,
        layout: Layout,
        children: Vec<Arc<Leaf>>,
        ashift: u8,
        asize: u64,
        ms_shift: u8,
    ) -> TopVdev {
        TopVdev {
            id,
            guid,
            layout,
            children,
            ashift,
            asize,
            ms_shift,
            rotor: AtomicUsize::new(0),
            no_heal: AtomicBool::new(false),
        }
    }

    /// Stops reads from rewriting damaged copies (a read-only pool).
    pub fn set_no_heal(&self, no_heal: bool) {
        self.no_heal.store(no_heal, Ordering::Release);
    }

    /// True when reads leave damaged copies as they are.
    pub fn no_heal(&self) -> bool {
        self.no_heal.load(Ordering::Acquire)
    }

    /// Bytes allocated for a block of `psize` stored bytes.
    pub fn alloc_size(&self, psize: u64) -> u64 {
        let unit = 1u64 << self.ashift;
        psize.div_ceil(unit) * unit
    }

    /// Health, from the children's.
    pub fn health(&self) -> Health {
        let states: Vec<Health> = self.children.iter().map(|c| c.health()).collect();
        match self.layout {
            Layout::Single => states[0],
            Layout::Mirror => {
                let up = states.iter().filter(|h| h.usable()).count();
                if up == states.len() {
                    Health::Online
                } else if up > 0 {
                    Health::Degraded
                } else {
                    Health::Unavail
                }
            }
        }
    }

    /// Writes `buf` at `offset` on every usable child; `done` gets Ok when
    /// at least one child has it.
    pub fn write(
        &self,
        offset: u64,
        buf: Arc<AlignedBuf>,
        class: IoClass,
        tenant: u64,
        weight: u32,
        done: Box<dyn FnOnce(io::Result<()>) + Send>,
    ) {
        let targets: Vec<(Arc<Leaf>, Arc<IoEngine>)> = self
            .children
            .iter()
            .filter_map(|c| c.engine().map(|e| (c.clone(), e)))
            .collect();
        if targets.is_empty() {
            done(Err(io::Error::other(format!(
                "top-level vdev {} has no usable device",
                self.id
            ))));
            return;
        }
        struct Join {
            left: usize,
            ok: usize,
            err: Option<io::Error>,
            done: Option<Box<dyn FnOnce(io::Result<()>) + Send>>,
        }
        let join = Arc::new(Mutex::new(Join {
            left: targets.len(),
            ok: 0,
            err: None,
            done: Some(done),
        }));
        for (leaf, engine) in targets {
            let join = join.clone();
            engine.submit(IoRequest {
                op: IoOp::Write {
                    offset: FRONT_RESERVE + offset,
                    buf: buf.clone(),
                },
                class,
                tenant,
                weight,
                done: Box::new(move |r| {
                    let mut j = join.lock();
                    match r {
                        Ok(_) => j.ok += 1,
                        Err(e) => {
                            leaf.errors.write.fetch_add(1, Ordering::Relaxed);
                            j.err = Some(e);
                        }
                    }
                    j.left -= 1;
                    if j.left == 0 {
                        let result = if j.ok > 0 {
                            Ok(())
                        } else {
                            Err(j
                                .err
                                .take()
                                .unwrap_or_else(|| io::Error::other("write failed")))
                        };
                        if let Some(d) = j.done.take() {
                            drop(j);
                            d(result);
                        }
                    }
                }),
            });
        }
    }

    /// Reads `len` bytes at `offset` and returns the first copy that
    /// `verify` accepts, rewriting the children that returned bad data.
    pub fn read_verified(
        &self,
        offset: u64,
        len: usize,
        class: IoClass,
        verify: &dyn Fn(&[u8]) -> bool,
    ) -> Result<VerifiedRead, ReadFailure> {
        let n = self.children.len();
        let first = match self.layout {
            Layout::Single => 0,
            Layout::Mirror => self.rotor.fetch_add(1, Ordering::Relaxed) % n,
        };
        // Leaves that may have missed writes (a DTL) are read last.
        let mut order: Vec<&Arc<Leaf>> = (0..n).map(|k| &self.children[(first + k) % n]).collect();
        order.sort_by_key(|l| l.dtl.lock().is_some());
        let mut damaged: Vec<Arc<Leaf>> = Vec::new();
        let mut last_io: Option<io::Error> = None;
        let mut saw_data = false;
        for leaf in order {
            let Some(engine) = leaf.engine() else {
                continue;
            };
            match engine.read(FRONT_RESERVE + offset, len, class) {
                Ok(data) => {
                    saw_data = true;
                    if verify(&data) {
                        let repaired = self.heal(&damaged, offset, &data);
                        return Ok(VerifiedRead { data, repaired });
                    }
                    leaf.errors.checksum.fetch_add(1, Ordering::Relaxed);
                    damaged.push(leaf.clone());
                }
                Err(e) => {
                    leaf.errors.read.fetch_add(1, Ordering::Relaxed);
                    damaged.push(leaf.clone());
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

    /// Rewrites good data over the damaged copies; returns the bytes written.
    fn heal(&self, damaged: &[Arc<Leaf>], offset: u64, good: &[u8]) -> u64 {
        if damaged.is_empty() || self.no_heal() {
            return 0;
        }
        let buf = Arc::new(AlignedBuf::from_slice_padded(good, good.len()));
        let mut repaired = 0;
        for leaf in damaged {
            if let Some(engine) = leaf.engine() {
                if engine
                    .write(FRONT_RESERVE + offset, buf.clone(), IoClass::SyncWrite)
                    .is_ok()
                {
                    leaf.errors
                        .repaired
                        .fetch_add(good.len() as u64, Ordering::Relaxed);
                    repaired += good.len() as u64;
                } else {
                    leaf.errors.write.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        repaired
    }

    /// Flushes every usable child; Ok when at least one flushed.
    pub fn flush(&self) -> io::Result<()> {
        let mut ok = false;
        let mut err = None;
        for c in &self.children {
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
