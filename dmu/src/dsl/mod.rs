//! The dataset layer: the tree of filesystems and volumes of a pool, their
//! snapshots and clones, properties and space accounting, kept in the
//! pool's meta object set (MOS) and in memory.
//!
//! Every change to the dataset tree runs as a *sync task* in the syncing
//! context of a txg, after the datasets' own data of that txg was written:
//! a snapshot then captures exactly the state at the end of the txg, and a
//! change reaches disk atomically with everything else in it. The caller
//! waits for the txg.

pub mod deadlist;
pub mod diff;
pub mod info;
pub mod names;
pub mod ops;
pub mod phys;
pub mod props;
pub mod scan;
pub mod space;
pub mod space_recompute;
pub mod walk;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use basin_pool::{BlkPtr, Pool, PoolError, ReserveClass, Syncer};
use parking_lot::Mutex;

use crate::accounting::FreeAtOnce;
use crate::cache::BlockCache;
use crate::dsl::names::DsName;
use crate::dsl::phys::{DatasetPhys, DeadlistHeader, DirKind, DirPhys};
use crate::error::{DmuError, Result};
use crate::objset::{Objset, WritePolicy};
use crate::objset_phys::ObjsetType;
use crate::types::ObjectType;
use crate::zap::Zap;

/// Object id of the MOS object directory.
pub const OBJECT_DIRECTORY: u64 = 1;

/// A dataset directory in memory.
#[derive(Clone, Debug)]
pub struct DirMem {
    /// Its record.
    pub phys: DirPhys,
    /// Its last name component.
    pub name: String,
    /// Children by name.
    pub children: BTreeMap<String, u64>,
    /// Local properties.
    pub props: BTreeMap<String, String>,
    /// What it counts for in its parent: max(used, reservation).
    pub contrib: u64,
}

/// A dataset (head or snapshot) in memory.
#[derive(Clone, Debug)]
pub struct DsMem {
    /// Its record.
    pub phys: DatasetPhys,
    /// Snapshot name (snapshots only).
    pub snap_name: Option<String>,
    /// Snapshots by name (heads only).
    pub snaps: BTreeMap<String, u64>,
    /// User holds: tag to time.
    pub holds: BTreeMap<String, u64>,
    /// Clone heads (snapshots only).
    pub clones: BTreeSet<u64>,
    /// Totals of its deadlist.
    pub deadlist: DeadlistHeader,
}

/// The dataset tree in memory.
#[derive(Default)]
pub struct DslState {
    /// The pool's root directory.
    pub root_dir: u64,
    /// Directories by id.
    pub dirs: HashMap<u64, DirMem>,
    /// Datasets by id.
    pub datasets: HashMap<u64, DsMem>,
    dirty_dirs: BTreeSet<u64>,
    dirty_ds: BTreeSet<u64>,
}

impl DslState {
    /// The directory `id`.
    pub fn dir(&self, id: u64) -> Result<&DirMem> {
        self.dirs
            .get(&id)
            .ok_or_else(|| DmuError::corrupt("DSL", format!("missing directory {id}")))
    }

    /// The dataset `id`.
    pub fn ds(&self, id: u64) -> Result<&DsMem> {
        self.datasets
            .get(&id)
            .ok_or_else(|| DmuError::corrupt("DSL", format!("missing dataset {id}")))
    }

    pub(crate) fn dir_mut(&mut self, id: u64) -> Result<&mut DirMem> {
        self.dirty_dirs.insert(id);
        self.dirs
            .get_mut(&id)
            .ok_or_else(|| DmuError::corrupt("DSL", format!("missing directory {id}")))
    }

    pub(crate) fn ds_mut(&mut self, id: u64) -> Result<&mut DsMem> {
        self.dirty_ds.insert(id);
        self.datasets
            .get_mut(&id)
            .ok_or_else(|| DmuError::corrupt("DSL", format!("missing dataset {id}")))
    }

    /// The full name of directory `id`.
    pub fn dir_name(&self, id: u64) -> String {
        let mut parts = Vec::new();
        let mut cur = id;
        while let Some(d) = self.dirs.get(&cur) {
            parts.push(d.name.clone());
            if d.phys.parent == 0 {
                break;
            }
            cur = d.phys.parent;
        }
        parts.reverse();
        parts.join("/")
    }

    /// The full name of dataset `id`.
    pub fn ds_name(&self, id: u64) -> String {
        match self.datasets.get(&id) {
            Some(d) => {
                let fs = self.dir_name(d.phys.dir);
                match &d.snap_name {
                    Some(s) => format!("{fs}@{s}"),
                    None => fs,
                }
            }
            None => format!("<dataset {id}>"),
        }
    }

    /// The directory of a filesystem or volume name.
    pub fn lookup_dir(&self, name: &DsName) -> Result<u64> {
        let root = self.dir(self.root_dir)?;
        if root.name != name.path[0] {
            return Err(DmuError::NotFound(format!("dataset '{}'", name.fs())));
        }
        let mut cur = self.root_dir;
        for c in &name.path[1..] {
            cur = *self
                .dir(cur)?
                .children
                .get(c)
                .ok_or_else(|| DmuError::NotFound(format!("dataset '{}'", name.fs())))?;
        }
        Ok(cur)
    }

    /// The dataset of a name (head or snapshot).
    pub fn lookup(&self, name: &str) -> Result<u64> {
        let n = DsName::parse(name)?;
        let dir = self.lookup_dir(&n)?;
        let head = self.dir(dir)?.phys.head;
        match &n.snap {
            None => Ok(head),
            Some(s) => self
                .ds(head)?
                .snaps
                .get(s)
                .copied()
                .ok_or_else(|| DmuError::NotFound(format!("snapshot '{name}'"))),
        }
    }

    /// The snapshots of head `head`, oldest first.
    pub fn snapshots_of(&self, head: u64) -> Vec<u64> {
        let mut v: Vec<u64> = self
            .datasets
            .get(&head)
            .map(|d| d.snaps.values().copied().collect())
            .unwrap_or_default();
        v.sort_by_key(|id| {
            self.datasets
                .get(id)
                .map(|d| d.phys.creation_txg)
                .unwrap_or(0)
        });
        v
    }
}

/// A sync task: runs in the syncing context of its txg.
pub(crate) type TaskFn = Box<dyn FnOnce(&DslPool, &mut DslState, u64) -> Result<()> + Send>;

struct Task {
    run: TaskFn,
    done: crossbeam_channel::Sender<Result<()>>,
}

/// In-flight dirty bytes charged to directories and heads, for quotas.
#[derive(Default)]
struct Pending {
    by_txg: BTreeMap<u64, Vec<(u64, u64, u64)>>,
    dir: HashMap<u64, u64>,
    refd: HashMap<u64, u64>,
}

/// A pool's dataset layer.
pub struct DslPool {
    pool: Pool,
    cache: Arc<BlockCache>,
    mos: Arc<Objset>,
    st: Mutex<DslState>,
    objsets: Mutex<HashMap<u64, Arc<Objset>>>,
    tasks: Mutex<BTreeMap<u64, Vec<Task>>>,
    pending: Mutex<Pending>,
    dirty_objsets: Mutex<BTreeMap<u64, BTreeSet<u64>>>,
}

/// A transaction: a hold on the open txg with the space it may use charged
/// to the dataset.
pub struct Tx<'a> {
    dsl: &'a DslPool,
    txg: u64,
}

impl Tx<'_> {
    /// The txg the changes go to.
    pub fn txg(&self) -> u64 {
        self.txg
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        self.dsl.pool.txg().release(self.txg);
    }
}

fn to_pool(e: DmuError) -> PoolError {
    match e {
        DmuError::Pool(p) => p,
        other => PoolError::Unsupported(other.to_string()),
    }
}

impl DslPool {
    /// The pool.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The block cache.
    pub fn cache(&self) -> &Arc<BlockCache> {
        &self.cache
    }

    /// The meta object set.
    pub fn mos(&self) -> &Arc<Objset> {
        &self.mos
    }

    /// Runs `f` with the dataset tree locked.
    pub fn with_state<R>(&self, f: impl FnOnce(&DslState) -> R) -> R {
        f(&self.st.lock())
    }

    /// Sets up the dataset layer of a new pool: the root filesystem named
    /// after the pool, with `props`.
    pub fn init(
        pool: Pool,
        cache: Arc<BlockCache>,
        props: &[(String, String)],
    ) -> Result<Arc<DslPool>> {
        let mos = Objset::open(
            pool.clone(),
            cache.clone(),
            "MOS",
            BlkPtr::default(),
            ObjsetType::Meta,
            false,
        )?;
        let dsl = Arc::new(DslPool::new(pool.clone(), cache.clone(), mos));
        pool.set_syncer(Some(dsl.clone()));
        pool.set_block_lister(Some(Arc::new(scan::DslLister::new(cache))));
        let name = pool.name().to_string();
        let props: Vec<(String, String)> = props
            .iter()
            .map(|(k, v)| Ok((k.clone(), props::validate(k, v)?)))
            .collect::<Result<_>>()?;
        dsl.run_task(Box::new(move |dsl, st, txg| {
            Zap::create(&dsl.mos, txg, ObjectType::OBJECT_DIRECTORY).and_then(|id| {
                if id != OBJECT_DIRECTORY {
                    return Err(DmuError::corrupt(
                        "MOS",
                        format!("object directory got id {id}"),
                    ));
                }
                Ok(())
            })?;
            let dir = ops::create_dir(dsl, st, txg, 0, &name, DirKind::Filesystem, None, &props)?;
            st.root_dir = dir;
            Zap::new(&dsl.mos, OBJECT_DIRECTORY).update_u64(txg, "root_dataset", dir)?;
            Ok(())
        }))?;
        Ok(dsl)
    }

    /// Opens the dataset layer of an imported pool.
    pub fn open(pool: Pool, cache: Arc<BlockCache>) -> Result<Arc<DslPool>> {
        let root = pool.user_root();
        if root.is_hole() {
            return Err(DmuError::corrupt(
                "pool",
                "no meta object set: the pool holds no datasets",
            ));
        }
        let mos = Objset::open(
            pool.clone(),
            cache.clone(),
            "MOS",
            root,
            ObjsetType::Meta,
            false,
        )?;
        let dsl = DslPool::new(pool.clone(), cache, mos);
        {
            let mut st = dsl.st.lock();
            let root_dir = Zap::new(&dsl.mos, OBJECT_DIRECTORY)
                .lookup_u64("root_dataset")?
                .ok_or_else(|| DmuError::corrupt("MOS", "no root dataset"))?;
            st.root_dir = root_dir;
            dsl.load_dir(&mut st, root_dir, pool.name().to_string(), 0)?;
            space::init_contrib(&mut st);
            st.dirty_dirs.clear();
            st.dirty_ds.clear();
        }
        let dsl = Arc::new(dsl);
        pool.set_syncer(Some(dsl.clone()));
        dsl.claim_logs()?;
        pool.set_block_lister(Some(Arc::new(scan::DslLister::new(dsl.cache.clone()))));
        Ok(dsl)
    }

    /// A read-only view of the dataset layer as of the meta object set at
    /// `root` (a scan lists blocks through it): it never syncs and shares
    /// nothing with the live layer but the block cache.
    pub fn open_view(pool: Pool, cache: Arc<BlockCache>, root: BlkPtr) -> Result<DslPool> {
        let mos = Objset::open(
            pool.clone(),
            cache.clone(),
            "MOS view",
            root,
            ObjsetType::Meta,
            true,
        )?;
        let dsl = DslPool::new(pool.clone(), cache, mos);
        {
            let mut st = dsl.st.lock();
            let root_dir = Zap::new(&dsl.mos, OBJECT_DIRECTORY)
                .lookup_u64("root_dataset")?
                .ok_or_else(|| DmuError::corrupt("MOS", "no root dataset"))?;
            st.root_dir = root_dir;
            dsl.load_dir(&mut st, root_dir, pool.name().to_string(), 0)?;
        }
        Ok(dsl)
    }

    /// Claims the intent log chains of every filesystem and volume: their
    /// blocks were allocated in txgs that may not have synced, and nothing
    /// may be written over them before they are replayed.
    fn claim_logs(&self) -> Result<()> {
        let heads: Vec<(u64, String)> = self.with_state(|st| {
            st.datasets
                .iter()
                .filter(|(_, d)| d.snap_name.is_none() && !d.phys.bp.is_hole())
                .map(|(id, _)| (*id, st.ds_name(*id)))
                .collect()
        });
        let imported = self.pool.last_synced_txg();
        for (id, name) in heads {
            let os = self.objset(&name)?;
            if os.zil_header().first.is_none() {
                self.drop_objset(id);
                continue;
            }
            let txg = self.pool.txg().hold_raw();
            let r = os.zil_claim(txg, imported);
            self.dirty_objsets.lock().entry(txg).or_default().insert(id);
            self.pool.txg().release(txg);
            r?;
        }
        Ok(())
    }

    fn new(pool: Pool, cache: Arc<BlockCache>, mos: Arc<Objset>) -> DslPool {
        DslPool {
            pool,
            cache,
            mos,
            st: Mutex::new(DslState::default()),
            objsets: Mutex::new(HashMap::new()),
            tasks: Mutex::new(BTreeMap::new()),
            pending: Mutex::new(Pending::default()),
            dirty_objsets: Mutex::new(BTreeMap::new()),
        }
    }

    fn load_dir(&self, st: &mut DslState, id: u64, name: String, depth: usize) -> Result<()> {
        if depth > 64 || st.dirs.contains_key(&id) {
            return Err(DmuError::corrupt(
                "DSL",
                "directory tree has a cycle or is too deep",
            ));
        }
        let phys = DirPhys::decode(&self.mos.bonus(id)?)?;
        let children: BTreeMap<String, u64> = read_u64_zap(&self.mos, phys.children_zap)?;
        let props: BTreeMap<String, String> = Zap::new(&self.mos, phys.props_zap)
            .list()?
            .into_iter()
            .map(|e| {
                (
                    String::from_utf8_lossy(&e.name).into_owned(),
                    String::from_utf8_lossy(&e.value).into_owned(),
                )
            })
            .collect();
        let head = phys.head;
        st.dirs.insert(
            id,
            DirMem {
                phys,
                name,
                children: children.clone(),
                props,
                contrib: 0,
            },
        );
        self.load_ds(st, head, None)?;
        let snaps = st.ds(head)?.snaps.clone();
        for (sname, sid) in snaps {
            self.load_ds(st, sid, Some(sname))?;
        }
        for (cname, cid) in children {
            self.load_dir(st, cid, cname, depth + 1)?;
        }
        Ok(())
    }

    fn load_ds(&self, st: &mut DslState, id: u64, snap_name: Option<String>) -> Result<()> {
        let phys = DatasetPhys::decode(&self.mos.bonus(id)?)?;
        let snaps = if phys.snapnames_zap != 0 {
            read_u64_zap(&self.mos, phys.snapnames_zap)?
        } else {
            BTreeMap::new()
        };
        let holds = if phys.holds_zap != 0 {
            read_u64_zap(&self.mos, phys.holds_zap)?
        } else {
            BTreeMap::new()
        };
        let clones = if phys.clones_zap != 0 {
            read_u64_zap(&self.mos, phys.clones_zap)?
                .into_values()
                .collect()
        } else {
            BTreeSet::new()
        };
        let deadlist = deadlist::header(&self.mos, phys.deadlist)?;
        st.datasets.insert(
            id,
            DsMem {
                phys,
                snap_name,
                snaps,
                holds,
                clones,
                deadlist,
            },
        );
        Ok(())
    }

    /// Queues a sync task for the open txg, makes that txg sync and waits
    /// for the task's result.
    pub(crate) fn run_task(&self, run: TaskFn) -> Result<()> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let txg = self.pool.txg().hold_raw();
        self.tasks
            .lock()
            .entry(txg)
            .or_default()
            .push(Task { run, done: tx });
        self.pool.txg().release(txg);
        self.pool.wait_synced(txg)?;
        rx.recv()
            .unwrap_or_else(|_| Err(DmuError::Invalid("the sync task was dropped".into())))
    }

    /// The object set of a dataset (heads writable, snapshots read-only).
    pub fn objset(&self, name: &str) -> Result<Arc<Objset>> {
        let (id, bp, is_snap, kind, policy, recordsize) = {
            let st = self.st.lock();
            let id = st.lookup(name)?;
            let ds = st.ds(id)?;
            let dir = st.dir(ds.phys.dir)?;
            (
                id,
                ds.phys.bp,
                ds.snap_name.is_some(),
                dir.phys.kind,
                info::write_policy(&st, ds.phys.dir, id),
                info::recordsize(&st, ds.phys.dir),
            )
        };
        self.objset_by_id(id, bp, is_snap, kind, policy, recordsize, name)
    }

    #[allow(clippy::too_many_arguments)]
    fn objset_by_id(
        &self,
        id: u64,
        bp: BlkPtr,
        is_snap: bool,
        kind: DirKind,
        policy: WritePolicy,
        recordsize: u32,
        name: &str,
    ) -> Result<Arc<Objset>> {
        let mut objsets = self.objsets.lock();
        if let Some(os) = objsets.get(&id) {
            return Ok(os.clone());
        }
        let ty = match kind {
            DirKind::Filesystem => ObjsetType::Filesystem,
            DirKind::Volume => ObjsetType::Volume,
        };
        let os = Objset::open(self.pool.clone(), self.cache.clone(), name, bp, ty, is_snap)?;
        os.set_policy(policy);
        os.set_max_blksz(recordsize);
        os.set_owner(id);
        objsets.insert(id, os.clone());
        Ok(os)
    }

    /// The id of a dataset by name.
    pub fn dataset_id(&self, name: &str) -> Result<u64> {
        self.st.lock().lookup(name)
    }

    /// Starts a transaction on dataset `ds` that may write `bytes`; fails
    /// with EDQUOT or ENOSPC. `netfree` marks changes that free space
    /// overall (deletes), which may use part of the pool's slop.
    pub fn assign(&self, ds: u64, bytes: u64, netfree: bool) -> Result<Tx<'_>> {
        self.pool.txg().throttle();
        let txg = self.pool.txg().hold_raw();
        let tx = Tx { dsl: self, txg };
        let (chain, refquota, referenced, copies, name) = {
            let st = self.st.lock();
            let d = st.ds(ds)?;
            if d.snap_name.is_some() {
                return Err(DmuError::ReadOnly(st.ds_name(ds)));
            }
            let mut chain = Vec::new();
            let mut cur = d.phys.dir;
            while cur != 0 {
                let dir = st.dir(cur)?;
                chain.push((cur, space::quota_of(dir), dir.phys.used.total()));
                cur = dir.phys.parent;
            }
            let dir = st.dir(d.phys.dir)?;
            (
                chain,
                space::prop_u64(dir, "refquota"),
                d.phys.referenced,
                info::write_policy(&st, d.phys.dir, ds).copies as u64,
                st.ds_name(ds),
            )
        };
        let charge = bytes.saturating_mul(copies) + bytes / 64;
        if !netfree {
            let p = self.pending.lock();
            for (dir, quota, used) in &chain {
                if *quota > 0 && used + p.dir.get(dir).copied().unwrap_or(0) + charge > *quota {
                    return Err(DmuError::QuotaExceeded(name));
                }
            }
            if refquota > 0
                && referenced + p.refd.get(&ds).copied().unwrap_or(0) + charge > refquota
            {
                return Err(DmuError::QuotaExceeded(name));
            }
        }
        let class = if netfree {
            ReserveClass::NetFree
        } else {
            ReserveClass::Normal
        };
        self.pool.reserve(txg, charge, class).map_err(|e| match e {
            PoolError::NoSpace { .. } => {
                DmuError::NoSpace(format!("pool '{}' is full", self.pool.name()))
            }
            other => DmuError::Pool(other),
        })?;
        {
            let mut p = self.pending.lock();
            for (dir, _, _) in &chain {
                *p.dir.entry(*dir).or_default() += charge;
                p.by_txg.entry(txg).or_default().push((*dir, 0, charge));
            }
            *p.refd.entry(ds).or_default() += charge;
            p.by_txg.entry(txg).or_default().push((0, ds, charge));
        }
        self.dirty_objsets.lock().entry(txg).or_default().insert(ds);
        self.pool.txg().add_dirty(txg, bytes);
        Ok(tx)
    }

    /// A transaction in `txg`, which the caller holds open (log replay):
    /// no throttle, no quota, every change in that one txg.
    pub fn assign_in(&self, ds: u64, txg: u64) -> Result<Tx<'_>> {
        self.pool
            .txg()
            .hold_txg(txg)
            .map_err(|e| DmuError::Invalid(format!("cannot join txg: {e}")))?;
        self.dirty_objsets.lock().entry(txg).or_default().insert(ds);
        Ok(Tx { dsl: self, txg })
    }

    fn release_pending(&self, txg: u64) {
        let mut p = self.pending.lock();
        let Some(list) = p.by_txg.remove(&txg) else {
            return;
        };
        for (dir, ds, n) in list {
            if dir != 0 {
                if let Some(v) = p.dir.get_mut(&dir) {
                    *v = v.saturating_sub(n);
                }
            } else if let Some(v) = p.refd.get_mut(&ds) {
                *v = v.saturating_sub(n);
            }
        }
    }

    /// Bytes pending in open txgs for directory `dir`.
    pub fn pending_bytes(&self, dir: u64) -> u64 {
        self.pending.lock().dir.get(&dir).copied().unwrap_or(0)
    }

    fn sync_inner(&self, txg: u64) -> Result<Option<BlkPtr>> {
        // 1. Each dataset's own data (and intent log), for every dataset
        // written in the txg or open.
        let mut ids: BTreeSet<u64> = self.dirty_objsets.lock().remove(&txg).unwrap_or_default();
        ids.extend(self.objsets.lock().keys().copied());
        for id in ids {
            let os = match self.objsets.lock().get(&id) {
                Some(os) => os.clone(),
                None => continue,
            };
            let acct = space::DatasetAccounting::new(self, id);
            let synced = os.sync(txg, &acct)?;
            acct.flush(txg)?;
            if let Some(bp) = synced {
                let mut st = self.st.lock();
                if let Ok(d) = st.ds_mut(id) {
                    d.phys.bp = bp;
                }
            }
            os.synced(txg);
        }
        // 2. Changes to the dataset tree.
        let tasks = self.tasks.lock().remove(&txg).unwrap_or_default();
        for t in tasks {
            let r = {
                let mut st = self.st.lock();
                (t.run)(self, &mut st, txg)
            };
            let _ = t.done.send(r);
        }
        // 3. Records changed above go to the MOS.
        {
            let mut st = self.st.lock();
            let dirs: Vec<u64> = std::mem::take(&mut st.dirty_dirs).into_iter().collect();
            for id in dirs {
                if let Some(d) = st.dirs.get(&id) {
                    self.mos.set_bonus(txg, id, &d.phys.encode())?;
                }
            }
            let dss: Vec<u64> = std::mem::take(&mut st.dirty_ds).into_iter().collect();
            for id in dss {
                if let Some(d) = st.datasets.get(&id) {
                    self.mos.set_bonus(txg, id, &d.phys.encode())?;
                }
            }
        }
        // 4. The MOS last.
        let acct = FreeAtOnce {
            pool: &self.pool,
            cache: &self.cache,
        };
        let r = self.mos.sync(txg, &acct)?;
        self.mos.synced(txg);
        self.release_pending(txg);
        Ok(r)
    }

    pub(crate) fn drop_objset(&self, id: u64) {
        self.objsets.lock().remove(&id);
    }

    /// True when someone other than the DSL holds the object set of `id`.
    pub(crate) fn objset_busy(&self, id: u64) -> bool {
        self.objsets
            .lock()
            .get(&id)
            .is_some_and(|os| Arc::strong_count(os) > 1)
    }
}

impl Syncer for DslPool {
    fn sync(&self, _pool: &Pool, txg: u64) -> basin_pool::Result<Option<BlkPtr>> {
        self.sync_inner(txg).map_err(to_pool)
    }

    fn synced(&self, _pool: &Pool, txg: u64) {
        let open: Vec<Arc<Objset>> = self.objsets.lock().values().cloned().collect();
        for os in open {
            os.zil().clean(txg);
        }
    }
}

/// Reads a ZAP of names to `u64`s.
pub(crate) fn read_u64_zap(mos: &Objset, id: u64) -> Result<BTreeMap<String, u64>> {
    Zap::new(mos, id)
        .list()?
        .into_iter()
        .map(|e| {
            let v = e
                .value
                .get(..8)
                .map(|b| u64::from_le_bytes(b.try_into().expect("8")))
                .ok_or_else(|| DmuError::corrupt("ZAP", "value is not a u64"))?;
            Ok((String::from_utf8_lossy(&e.name).into_owned(), v))
        })
        .collect()
}
