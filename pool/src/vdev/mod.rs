//! Vdevs: leaves (files, block devices, memory) with their I/O engines, and
//! the top-level vdevs built from them (a single leaf or a mirror), which
//! place, verify and self-heal copies.

pub mod buf;
pub mod bufcache;
pub mod device;
pub mod engine;
pub mod file;
pub mod inject;
pub mod mem;
pub mod queue;
pub mod raidz;
pub mod top;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use serde::Serialize;

pub use buf::AlignedBuf;
pub use device::{BlockDevice, ReadOnlyDevice};
pub use engine::{plug, IoEngine, IoOp, IoOutcome, IoRequest, Plug};
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

/// Errors (read, write or checksum) after which a leaf is faulted, when
/// its top-level vdev can spare it.
pub const FAULT_AFTER_ERRORS: u64 = 32;

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
    /// Offline until the next import only (`zpool offline -t`).
    pub offline_temporary: AtomicBool,
    /// Failed after errors.
    pub faulted: AtomicBool,
    /// The device went away (file deleted or truncated, device pulled).
    pub removed: AtomicBool,
    /// A write to this leaf failed since the last sync looked.
    pub write_failed: AtomicBool,
    /// Txgs whose blocks this leaf may lack (its dirty time log): `(lo,
    /// hi)`, with `hi == u64::MAX` while it is still missing writes. Set
    /// when it stops taking writes; cleared by a resilver.
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
            offline_temporary: AtomicBool::new(false),
            faulted: AtomicBool::new(false),
            removed: AtomicBool::new(false),
            write_failed: AtomicBool::new(false),
            dtl: Mutex::new(None),
        }
    }

    /// The engine, while the leaf is usable.
    pub fn engine(&self) -> Option<Arc<IoEngine>> {
        if self.offline.load(Ordering::Relaxed)
            || self.faulted.load(Ordering::Relaxed)
            || self.removed.load(Ordering::Relaxed)
        {
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
        } else if self.removed.load(Ordering::Relaxed) {
            Health::Removed
        } else if self.faulted.load(Ordering::Relaxed) {
            Health::Faulted
        } else if self.engine.read().is_none() {
            Health::Unavail
        } else {
            Health::Online
        }
    }

    /// True when a block born in `birth` may be missing here.
    pub fn lacks(&self, birth: u64) -> bool {
        self.dtl
            .lock()
            .is_some_and(|(lo, hi)| birth >= lo && birth <= hi)
    }

    /// The leaf stops taking writes from txg `from` on: its log of missed
    /// txgs opens (or reopens, keeping an older start).
    pub fn start_missing(&self, from: u64) {
        let mut d = self.dtl.lock();
        *d = Some(match *d {
            Some((lo, _)) => (lo.min(from), u64::MAX),
            None => (from, u64::MAX),
        });
    }

    /// The leaf takes writes again from txg `upto + 1` on: its log of
    /// missed txgs closes at `upto` (to be resilvered).
    pub fn stop_missing(&self, upto: u64) {
        let mut d = self.dtl.lock();
        if let Some((lo, hi)) = *d {
            if hi == u64::MAX {
                *d = Some((lo, upto));
            }
        }
    }

    /// The leaf missed a write of txg `txg` (it failed): add it to the
    /// log of missed txgs.
    pub fn note_missed(&self, txg: u64) {
        let mut d = self.dtl.lock();
        *d = Some(match *d {
            Some((lo, hi)) => (lo.min(txg), hi.max(txg)),
            None => (txg, txg),
        });
    }

    /// Total errors counted, for the fault threshold.
    pub fn error_total(&self) -> u64 {
        self.errors.read.load(Ordering::Relaxed)
            + self.errors.write.load(Ordering::Relaxed)
            + self.errors.checksum.load(Ordering::Relaxed)
    }
}

pub use top::{BlockAt, Layout, ReadFailure, ScrubOutcome, TopVdev, VerifiedRead};
