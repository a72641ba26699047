//! The pool: its vdevs, space, txgs and threads, and the operations the
//! layers above use (read, write and free blocks, hold txgs, wait for sync).

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::{Mutex, RwLock};

use crate::blkptr::BlkPtr;
use crate::error::{PoolError, Result};
use crate::history::HistoryRecord;
use crate::label::{LabelConfig, PoolState, VdevConfig, VdevKind};
use crate::labelio;
use crate::mmp::{self, GuidLock, Heartbeat};
use crate::poolroot::{PoolRoot, RootExtras};
use crate::space::{ReserveClass, SpaceFigures, SpaceManager};
use crate::spacemap::SmIndex;
use crate::txg::TxgState;
use crate::vdev::file::{FileDevice, OpenMode};
use crate::vdev::{AlignedBuf, BlockDevice, Health, IoClass, IoEngine, Layout, Leaf, TopVdev};
use crate::workers::Workers;
use crate::zio::{InflightWrites, WriteProps};

/// The layer above the pool: writes what is dirty in a txg and returns its
/// new root (or `None` when nothing changed).
pub trait Syncer: Send + Sync {
    /// Syncs `txg`.
    fn sync(&self, pool: &Pool, txg: u64) -> Result<Option<BlkPtr>>;

    /// Called once `txg` is durable (its uberblock written and flushed).
    fn synced(&self, _pool: &Pool, _txg: u64) {}
}

/// Counters of the whole pool.
#[derive(Default, Debug)]
pub struct PoolStats {
    /// Blocks that could not be read correctly from any copy.
    pub data_errors: AtomicU64,
    /// Bytes rewritten by self-healing.
    pub repaired: AtomicU64,
    /// Txgs synced since import.
    pub txgs_synced: AtomicU64,
}

/// Tunables of an open pool.
#[derive(Clone, Debug)]
pub struct PoolTunables {
    /// Bypass the page cache on file vdevs.
    pub direct_io: bool,
    /// Use io_uring where the kernel allows.
    pub io_uring: bool,
    /// Dirty data limit in bytes.
    pub dirty_max: u64,
    /// Interval between txg syncs.
    pub sync_interval: Duration,
    /// Write a heartbeat into the labels every second.
    pub heartbeat: bool,
    /// Take the host-wide lock on the pool guid.
    pub guid_lock: bool,
    /// Condense the space maps when this many log blocks accumulated.
    pub condense_logs: usize,
    /// A pause after each batch of blocks a scrub or resilver issues (0:
    /// none), to slow scans down in tests or on a busy host.
    pub scan_batch_delay: Duration,
}

impl PoolTunables {
    /// Settings for tests and tools that open many short-lived pools in one
    /// process: no heartbeat, no host-wide lock, no O_DIRECT.
    pub fn for_tests() -> PoolTunables {
        PoolTunables {
            direct_io: false,
            heartbeat: false,
            guid_lock: false,
            ..PoolTunables::default()
        }
    }
}

impl Default for PoolTunables {
    fn default() -> Self {
        PoolTunables {
            direct_io: true,
            io_uring: true,
            dirty_max: default_dirty_max(),
            sync_interval: crate::txg::DEFAULT_SYNC_INTERVAL,
            heartbeat: true,
            guid_lock: true,
            condense_logs: crate::sync::CONDENSE_LOGS,
            scan_batch_delay: Duration::ZERO,
        }
    }
}

fn default_dirty_max() -> u64 {
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(4 << 30);
    (mem / 10).clamp(64 << 20, 4 << 30)
}

/// The pool root as of the last sync, and what the next sync must add.
pub(crate) struct RootState {
    pub(crate) root: PoolRoot,
    pub(crate) root_bp: BlkPtr,
    pub(crate) index: SmIndex,
    pub(crate) index_bp: BlkPtr,
    pub(crate) history_pending: Vec<HistoryRecord>,
    pub(crate) history_blocks: usize,
    pub(crate) user_root: BlkPtr,
    pub(crate) extras_dirty: bool,
}

/// Everything of an open pool.
pub struct PoolInner {
    pub(crate) name: String,
    pub(crate) guid: u64,
    /// Unique to this opening of the pool in this process: caches key
    /// blocks by it, so that nothing cached before an export is served
    /// after the next import (the disks may have changed in between).
    pub(crate) instance: u64,
    pub(crate) vdevs: RwLock<Vec<Arc<TopVdev>>>,
    pub(crate) tree: Mutex<VdevConfig>,
    pub(crate) space: SpaceManager,
    pub(crate) txg: Arc<TxgState>,
    pub(crate) workers: Workers,
    pub(crate) inflight: InflightWrites,
    pub(crate) root: Mutex<RootState>,
    pub(crate) syncer: RwLock<Option<Arc<dyn Syncer>>>,
    pub(crate) sync_lock: Mutex<()>,
    pub(crate) stats: PoolStats,
    pub(crate) weights: RwLock<HashMap<u64, u32>>,
    pub(crate) hostid: u32,
    pub(crate) hostname: String,
    pub(crate) closed: AtomicBool,
    pub(crate) tunables: PoolTunables,
    pub(crate) threads: Mutex<Vec<JoinHandle<()>>>,
    pub(crate) _guid_lock: Mutex<Option<GuidLock>>,
    pub(crate) hb_seq: AtomicU64,
    /// Opened by [`Pool::open_read_only`]: nothing is ever written.
    pub(crate) read_only: AtomicBool,
    /// The running scrub or resilver.
    pub(crate) scan: Mutex<Option<crate::scan::ScanHandle>>,
    /// Lists the blocks of the layer above for scans.
    pub(crate) lister: RwLock<Option<Arc<dyn crate::scan::BlockLister>>>,
    /// Serializes changes of the vdev tree.
    pub(crate) config_lock: Mutex<()>,
    /// The device watcher changed a leaf: the labels need the new tree.
    pub(crate) config_dirty: AtomicBool,
    /// A leaf missed writes while usable: the watcher starts a resilver.
    pub(crate) resilver_wanted: AtomicBool,
}

impl Drop for PoolInner {
    fn drop(&mut self) {
        self.txg.abort();
    }
}

/// A handle on an open pool. Clones share the pool; the pool stays open
/// until [`Pool::export`], [`Pool::destroy`] or [`Pool::crash`].
#[derive(Clone)]
pub struct Pool(pub(crate) Arc<PoolInner>);

/// Seconds since the epoch.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A random 64-bit id.
pub fn new_guid() -> u64 {
    loop {
        let g: u64 = rand::random();
        if g != 0 {
            return g;
        }
    }
}

/// Opens a leaf path for a pool; O_DIRECT only where every I/O of the
/// pool (at `ashift`) is 4 KiB aligned.
pub(crate) fn open_path(path: &Path, tun: &PoolTunables, ashift: u8) -> Result<FileDevice> {
    FileDevice::open(
        path,
        OpenMode {
            writable: true,
            direct: tun.direct_io && ashift >= 12,
        },
    )
}

/// Builds the top-level vdevs of `tree`, starting an engine for every leaf
/// found in `devices` (keyed by leaf guid); the others are unavailable.
pub(crate) fn build_vdevs(
    tree: &VdevConfig,
    devices: &HashMap<u64, Arc<dyn BlockDevice>>,
    tunables: &PoolTunables,
) -> Result<Vec<Arc<TopVdev>>> {
    let mut vdevs = Vec::new();
    for top in &tree.children {
        let layout = match top.kind {
            VdevKind::Mirror => Layout::Mirror,
            VdevKind::Replacing => Layout::Single,
            VdevKind::File | VdevKind::Disk => Layout::Single,
            VdevKind::Raidz => Layout::Raidz {
                nparity: top.nparity,
            },
            k => {
                return Err(PoolError::Unsupported(format!(
                    "top-level vdev kind {k:?} is not supported by this build"
                )))
            }
        };
        let make_leaf = |l: &VdevConfig| {
            let engine = devices
                .get(&l.guid)
                .map(|d| IoEngine::start(d.clone(), tunables.io_uring));
            let leaf = Leaf::new(l.guid, l.path.clone().unwrap_or_default(), engine);
            leaf.offline.store(l.offline, Ordering::Relaxed);
            if l.dtl_txg > 0 {
                *leaf.dtl.lock() = Some((l.dtl_start.max(1), l.dtl_txg));
            }
            Arc::new(leaf)
        };
        // A slot is a leaf, or a replacing pair [old, new].
        let slot = |v: &VdevConfig| -> Result<(Arc<Leaf>, Option<Arc<Leaf>>)> {
            match v.kind {
                VdevKind::Replacing => match v.children.as_slice() {
                    [old, new] => Ok((make_leaf(new), Some(make_leaf(old)))),
                    _ => Err(PoolError::corrupt(
                        "vdev tree",
                        format!("replacing vdev {:#x} without two children", v.guid),
                    )),
                },
                _ => Ok((make_leaf(v), None)),
            }
        };
        let slots: Vec<(Arc<Leaf>, Option<Arc<Leaf>>)> = match top.kind {
            VdevKind::Mirror | VdevKind::Raidz => {
                top.children.iter().map(slot).collect::<Result<_>>()?
            }
            _ => vec![slot(top)?],
        };
        let layout = match top.kind {
            VdevKind::Replacing => Layout::Single,
            _ => layout,
        };
        let (children, replacing): (Vec<_>, Vec<_>) = slots.into_iter().unzip();
        vdevs.push(Arc::new(TopVdev::with_replacing(
            top.id,
            top.guid,
            layout,
            children,
            replacing,
            top.ashift,
            top.asize,
            top.ms_shift,
        )));
    }
    Ok(vdevs)
}

impl Pool {
    pub(crate) fn inner(&self) -> &Arc<PoolInner> {
        &self.0
    }

    /// Assembles an open pool from its parts (threads not started).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn assemble(
        name: String,
        guid: u64,
        tree: VdevConfig,
        vdevs: Vec<Arc<TopVdev>>,
        synced_txg: u64,
        root: RootState,
        space: SpaceManager,
        tunables: PoolTunables,
    ) -> Result<Pool> {
        static INSTANCES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let inner = Arc::new(PoolInner {
            instance: INSTANCES.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            space,
            name,
            guid,
            vdevs: RwLock::new(vdevs),
            tree: Mutex::new(tree),
            txg: Arc::new(TxgState::new(synced_txg, tunables.dirty_max)),
            workers: Workers::per_cpu("basin-zio"),
            inflight: InflightWrites::default(),
            root: Mutex::new(root),
            syncer: RwLock::new(None),
            sync_lock: Mutex::new(()),
            stats: PoolStats::default(),
            weights: RwLock::new(HashMap::new()),
            hostid: mmp::hostid(),
            hostname: mmp::hostname(),
            closed: AtomicBool::new(false),
            tunables,
            threads: Mutex::new(Vec::new()),
            _guid_lock: Mutex::new(None),
            hb_seq: AtomicU64::new(0),
            read_only: AtomicBool::new(false),
            scan: Mutex::new(None),
            lister: RwLock::new(None),
            config_lock: Mutex::new(()),
            config_dirty: AtomicBool::new(false),
            resilver_wanted: AtomicBool::new(false),
        });
        inner.txg.set_interval(inner.tunables.sync_interval);
        Ok(Pool(inner))
    }

    /// Starts the sync and heartbeat threads.
    pub(crate) fn start_threads(&self) {
        let weak = Arc::downgrade(&self.0);
        let txg = self.0.txg.clone();
        let t = std::thread::Builder::new()
            .name(format!("basin-sync {}", self.0.name))
            .spawn(move || sync_thread(weak, txg))
            .expect("spawn sync thread");
        self.0.threads.lock().push(t);
        // The watcher runs always (device removal, faults); it writes
        // heartbeats only when asked to.
        {
            let weak = Arc::downgrade(&self.0);
            let t = std::thread::Builder::new()
                .name(format!("basin-mmp {}", self.0.name))
                .spawn(move || heartbeat_thread(weak))
                .expect("spawn heartbeat thread");
            self.0.threads.lock().push(t);
        }
    }

    /// Pool name.
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// Pool guid.
    pub fn guid(&self) -> u64 {
        self.0.guid
    }

    /// This opening of the pool, unique in the process (a new one at each
    /// import): the key under which caches keep its blocks.
    pub fn instance(&self) -> u64 {
        self.0.instance
    }

    /// The txg state (holds, waits, the write throttle).
    pub fn txg(&self) -> &TxgState {
        &self.0.txg
    }

    /// Installs the layer above.
    pub fn set_syncer(&self, s: Option<Arc<dyn Syncer>>) {
        *self.0.syncer.write() = s;
    }

    /// The root of the layer above as of the last sync.
    pub fn user_root(&self) -> BlkPtr {
        self.0.root.lock().user_root
    }

    /// Reads and verifies a block, returning its logical bytes.
    pub fn read_block(&self, bp: &BlkPtr) -> Result<AlignedBuf> {
        self.check_open()?;
        self.0.read_block(bp, IoClass::SyncRead)
    }

    /// Reads a block at a given scheduling class (prefetch, scrub).
    pub fn read_block_class(&self, bp: &BlkPtr, class: IoClass) -> Result<AlignedBuf> {
        self.check_open()?;
        self.0.read_block(bp, class)
    }

    /// Writes a block in `txg` (which must be syncing or held) and returns
    /// its pointer; the device write completes before the txg commits.
    pub fn write_block(&self, txg: u64, data: AlignedBuf, props: WriteProps) -> Result<BlkPtr> {
        self.check_writable()?;
        self.0.write_block(txg, data, props)
    }

    /// Writes many blocks in parallel on the worker threads.
    pub fn write_blocks(
        &self,
        txg: u64,
        blocks: Vec<(AlignedBuf, WriteProps)>,
    ) -> Vec<Result<BlkPtr>> {
        self.write_blocks_of(
            txg,
            blocks
                .into_iter()
                .map(|(b, p)| (crate::zio::BlockData::Owned(b), p))
                .collect(),
        )
    }

    /// Writes many blocks in parallel on the worker threads; each may be
    /// shared with the caller, who must not change it any more.
    pub fn write_blocks_of(
        &self,
        txg: u64,
        blocks: Vec<(crate::zio::BlockData, WriteProps)>,
    ) -> Vec<Result<BlkPtr>> {
        if let Err(e) = self.check_writable() {
            let msg = e.to_string();
            return blocks
                .iter()
                .map(|_| Err(PoolError::Suspended(msg.clone())))
                .collect();
        }
        self.0.write_blocks(txg, blocks)
    }

    /// Writes a block on a worker thread; `done` receives its pointer.
    pub fn write_block_async(
        &self,
        txg: u64,
        data: AlignedBuf,
        props: WriteProps,
        done: Box<dyn FnOnce(Result<BlkPtr>) + Send>,
    ) {
        if let Err(e) = self.check_writable() {
            done(Err(e));
            return;
        }
        self.0.write_block_async(txg, data, props, done)
    }

    /// Frees a block in `txg`; its space is reused once `txg + 2` synced.
    pub fn free_block(&self, txg: u64, bp: &BlkPtr) {
        if self.is_read_only() {
            return;
        }
        for d in bp.copies() {
            self.0.space.free(txg, d);
        }
    }

    /// Reserves space for dirty data of `txg`, failing with ENOSPC.
    pub fn reserve(&self, txg: u64, bytes: u64, class: ReserveClass) -> Result<()> {
        self.check_writable()?;
        self.0.space.reserve(txg, bytes, class)
    }

    /// Bytes a reservation of `class` could have now.
    pub fn available(&self, class: ReserveClass) -> u64 {
        self.0.space.available(class)
    }

    /// Space figures.
    pub fn space(&self) -> SpaceFigures {
        self.0.space.figures()
    }

    /// Sets the I/O weight of a tenant (a zone's `zfs_io_priority`).
    pub fn set_io_weight(&self, tenant: u64, weight: u32) {
        self.0.weights.write().insert(tenant, weight.max(1));
    }

    /// Frees that came for a txg whose space map log was already sealed
    /// (an internal error, each said on standard error; 0 when all is well).
    pub fn late_frees(&self) -> u64 {
        self.0.space.late_frees()
    }

    /// Counters.
    pub fn stats(&self) -> &PoolStats {
        &self.0.stats
    }

    /// Syncs everything open now and waits for it; returns the synced txg.
    pub fn sync(&self) -> Result<u64> {
        self.check_open()?;
        if self.is_read_only() {
            return Err(PoolError::ReadOnlyPool(self.0.name.clone()));
        }
        let txg = self.0.txg.open_txg();
        self.0
            .txg
            .wait_synced(txg)
            .map_err(|e| PoolError::Suspended(format!("{}: {e}", self.0.name)))?;
        Ok(txg)
    }

    /// Waits until `txg` has synced.
    pub fn wait_synced(&self, txg: u64) -> Result<()> {
        // Nothing ever syncs a read-only pool: waiting would never end.
        if self.is_read_only() && (txg == 0 || txg > self.0.txg.synced_txg()) {
            return Err(PoolError::ReadOnlyPool(self.0.name.clone()));
        }
        self.0
            .txg
            .wait_synced(txg)
            .map_err(|e| PoolError::Suspended(format!("{}: {e}", self.0.name)))
    }

    /// Records a command in the pool history (written at the next sync).
    pub fn log_history(&self, command: &str, internal: bool) {
        let rec = HistoryRecord {
            time: now_secs(),
            command: command.to_string(),
            internal,
            txg: self.0.txg.open_txg(),
            host: self.0.hostname.clone(),
        };
        self.0.root.lock().history_pending.push(rec);
        self.0.txg.kick(0);
    }

    /// The pool history, oldest first.
    pub fn history(&self) -> Result<Vec<HistoryRecord>> {
        // A sync in progress holds records that are neither pending nor in
        // the chain yet: wait for it.
        let _quiet = self.0.sync_lock.lock();
        let (mut bp, pending) = {
            let r = self.0.root.lock();
            (r.root.history, r.history_pending.clone())
        };
        let mut chunks = Vec::new();
        let mut guard = 0;
        while !bp.is_hole() && guard < 100_000 {
            let b = self.0.read_block(&bp, IoClass::SyncRead)?;
            let (prev, recs) = crate::history::decode(&b)?;
            chunks.push(recs);
            bp = prev;
            guard += 1;
        }
        let mut out: Vec<HistoryRecord> = chunks.into_iter().rev().flatten().collect();
        out.extend(pending);
        Ok(out)
    }

    /// The persistent settable properties.
    pub fn extras(&self) -> RootExtras {
        self.0.root.lock().root.extras.clone()
    }

    /// Changes the persistent extras (written at the next sync).
    pub fn update_extras(&self, f: impl FnOnce(&mut RootExtras)) {
        let mut r = self.0.root.lock();
        f(&mut r.root.extras);
        r.extras_dirty = true;
        drop(r);
        self.0.txg.kick(0);
    }

    /// The top-level vdevs.
    pub fn vdevs(&self) -> Vec<Arc<TopVdev>> {
        self.0.vdevs.read().clone()
    }

    /// The configuration tree.
    pub fn config_tree(&self) -> VdevConfig {
        self.0.tree.lock().clone()
    }

    /// Overall health.
    pub fn health(&self) -> Health {
        if self.0.txg.failure().is_some() {
            return Health::Unavail;
        }
        let worst = self
            .0
            .vdevs
            .read()
            .iter()
            .map(|v| v.health())
            .max()
            .unwrap_or(Health::Online);
        match worst {
            Health::Online => Health::Online,
            Health::Degraded => Health::Degraded,
            _ => Health::Unavail,
        }
    }

    /// Why the pool is suspended, if it is.
    pub fn suspended(&self) -> Option<String> {
        self.0.txg.failure()
    }

    fn check_open(&self) -> Result<()> {
        if self.0.closed.load(Ordering::Acquire) {
            return Err(PoolError::Closed(self.0.name.clone()));
        }
        Ok(())
    }

    /// True for a pool opened with [`Pool::open_read_only`].
    pub fn is_read_only(&self) -> bool {
        self.0.read_only.load(Ordering::Acquire)
    }

    fn check_writable(&self) -> Result<()> {
        self.check_open()?;
        if self.is_read_only() {
            return Err(PoolError::ReadOnlyPool(self.0.name.clone()));
        }
        if self.0.txg.failure().is_some() {
            return Err(PoolError::Suspended(self.0.name.clone()));
        }
        Ok(())
    }

    /// The label configuration for leaf `guid` in `state`.
    pub(crate) fn label_for(&self, leaf: u64, state: PoolState, txg: u64) -> LabelConfig {
        let tree = self.0.tree.lock().clone();
        let top_guid = tree
            .children
            .iter()
            .find(|t| t.find(leaf).is_some())
            .map(|t| t.guid)
            .unwrap_or(0);
        LabelConfig {
            version: crate::FORMAT_VERSION,
            name: self.0.name.clone(),
            pool_guid: self.0.guid,
            state,
            txg,
            hostid: self.0.hostid,
            hostname: self.0.hostname.clone(),
            guid: leaf,
            top_guid,
            vdev_tree: tree,
        }
    }

    /// Rewrites the labels of every usable leaf with `state`.
    pub(crate) fn write_labels(&self, state: PoolState) -> Result<()> {
        if self.is_read_only() {
            return Err(PoolError::ReadOnlyPool(self.0.name.clone()));
        }
        let txg = self.0.txg.synced_txg();
        let mut devs = Vec::new();
        for top in self.0.vdevs.read().iter() {
            for leaf in top.leaves().iter() {
                // Offline leaves keep the labels they had; failed ones
                // cannot take new ones.
                if let Some(e) = leaf.engine() {
                    devs.push((e.device().clone(), self.label_for(leaf.guid, state, txg)));
                }
            }
        }
        labelio::write_configs(&devs)
    }

    /// Stops the threads; with `sync`, syncs what is open first.
    fn stop(&self, sync: bool) -> Result<()> {
        // A scan stops where it is; its record says it is still running,
        // so the next import resumes it.
        self.suspend_scan();
        *self.0.lister.write() = None;
        if sync {
            self.0.txg.shutdown();
        } else {
            self.0.txg.abort();
        }
        let threads: Vec<_> = self.0.threads.lock().drain(..).collect();
        for t in &threads {
            t.thread().unpark();
        }
        for t in threads {
            let _ = t.join();
        }
        *self.0.syncer.write() = None;
        match self.0.txg.failure() {
            Some(f) if sync => Err(PoolError::Suspended(format!("{}: {f}", self.0.name))),
            _ => Ok(()),
        }
    }

    fn close_devices(&self) {
        self.0.closed.store(true, Ordering::Release);
        for top in self.0.vdevs.read().iter() {
            for leaf in top.leaves().iter() {
                leaf.set_engine(None);
            }
        }
        *self.0._guid_lock.lock() = None;
    }

    /// Syncs everything, marks the labels exported and closes the devices.
    pub fn export(&self) -> Result<()> {
        self.check_open()?;
        if self.is_read_only() {
            // Nothing to sync and the labels stay as they were.
            let _ = self.stop(false);
            self.close_devices();
            return Ok(());
        }
        self.stop(true)?;
        let r = self.write_labels(PoolState::Exported);
        self.close_devices();
        r
    }

    /// Syncs everything and closes the devices, leaving the labels marked
    /// active: what a daemon does at shutdown, so that it imports the pool
    /// again when it starts (the pool is not exported).
    pub fn close(&self) -> Result<()> {
        self.check_open()?;
        let r = self.stop(!self.is_read_only());
        self.close_devices();
        r
    }

    /// Marks the labels destroyed and closes the devices.
    pub fn destroy(&self) -> Result<()> {
        self.check_open()?;
        if self.is_read_only() {
            return Err(PoolError::ReadOnlyPool(self.0.name.clone()));
        }
        let _ = self.stop(true);
        let r = self.write_labels(PoolState::Destroyed);
        self.close_devices();
        r
    }

    /// Stops dead without syncing or touching the labels, as a crash would
    /// (tests and the daemon's emergency path).
    pub fn crash(&self) {
        let _ = self.stop(false);
        self.close_devices();
    }

    /// The weight of a tenant.
    pub fn io_weight(&self, tenant: u64) -> u32 {
        self.0.weight_of(tenant)
    }
}

impl PoolInner {
    pub(crate) fn weight_of(&self, tenant: u64) -> u32 {
        self.weights
            .read()
            .get(&tenant)
            .copied()
            .unwrap_or(crate::vdev::queue::DEFAULT_WEIGHT)
    }
}

fn sync_thread(weak: Weak<PoolInner>, txg: Arc<TxgState>) {
    while let Some(t) = txg.next_to_sync() {
        let Some(inner) = weak.upgrade() else {
            return;
        };
        let pool = Pool(inner);
        match crate::sync::sync_txg(&pool, t) {
            Ok(()) => {
                pool.0.stats.txgs_synced.fetch_add(1, Ordering::Relaxed);
                pool.refresh_config_if_dirty();
                let syncer = pool.0.syncer.read().clone();
                if let Some(s) = syncer {
                    s.synced(&pool, t);
                }
                txg.done(t)
            }
            Err(e) => txg.fail(t, e.to_string()),
        }
    }
}

fn heartbeat_thread(weak: Weak<PoolInner>) {
    loop {
        {
            let Some(inner) = weak.upgrade() else { return };
            if inner.closed.load(Ordering::Acquire)
                || inner.txg.failure().is_some()
                || inner.txg.is_shutting_down()
            {
                return;
            }
            Pool(inner.clone()).watch_devices();
            if !inner.tunables.heartbeat {
                drop(inner);
                // Stopping the pool unparks this thread.
                std::thread::park_timeout(Duration::from_millis(1000));
                continue;
            }
            let seq = inner.hb_seq.fetch_add(1, Ordering::Relaxed) + 1;
            let hb = Heartbeat {
                hostid: inner.hostid,
                pid: std::process::id(),
                seq,
                time_ms: mmp::now_ms(),
                pool_guid: inner.guid,
            };
            let vdevs = inner.vdevs.read().clone();
            for top in vdevs {
                for leaf in top.leaves() {
                    let Some(e) = leaf.engine() else { continue };
                    for off in labelio::heartbeat_offsets(e.device().size()) {
                        let buf = Arc::new(AlignedBuf::from_slice_padded(&hb.encode(off), 4096));
                        let _ = e.write(off, buf, IoClass::SyncWrite);
                    }
                }
            }
        }
        // Sleep in short steps so that export is not held up (stopping the
        // pool unparks this thread).
        for _ in 0..(mmp::HEARTBEAT_INTERVAL_MS / 50) {
            std::thread::park_timeout(Duration::from_millis(50));
            match weak.upgrade() {
                Some(i)
                    if !i.closed.load(Ordering::Acquire)
                        && i.txg.failure().is_none()
                        && !i.txg.is_shutting_down() => {}
                _ => return,
            }
        }
    }
}

/// The allocatable size of a top-level vdev over leaves of `leaf_sizes`
/// (striped over `width` of them for RAID-Z, else the smallest one), and
/// the metaslab shift chosen for it.
pub(crate) fn top_geometry(leaf_sizes: &[u64], width: usize, ashift: u8) -> (u64, u8) {
    let per_leaf = leaf_sizes
        .iter()
        .map(|&s| crate::label::usable_size(s))
        .min()
        .unwrap_or(0)
        >> ashift
        << ashift;
    let usable = per_leaf * width.max(1) as u64;
    let target = (usable / 200).max(1);
    let shift = (64 - target.leading_zeros() as u8)
        .saturating_sub(1)
        .clamp(22, 34);
    let asize = usable >> shift << shift;
    (asize, shift)
}
