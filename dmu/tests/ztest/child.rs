//! The child process of the stress run: it imports the pool, injects
//! faults on one leaf of each top-level vdev, and runs threads of random
//! DMU operations until the parent kills it, logging what is durable.
//!
//! The child knows, for every unit it wrote, the generation and the txg
//! it went to (a short history per unit, pruned as txgs become durable),
//! so that reads in the child are checked exactly, and each `Sync` line of
//! the log states what was durable at that txg. Operations that may take
//! something away (destroy, rollback, promote, frees) first fence it off
//! (no `Sync` line mentions it until it is settled) and log an intent.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use basin_dmu::cache::BlockCache;
use basin_dmu::{DmuError, DslPool, ObjectType};
use basin_pool::import::scan_dirs;
use basin_pool::vdev::inject::{FaultKind, FaultOps, FaultRule};
use basin_pool::{ImportOptions, Pool, PoolError, PoolTunables};
use parking_lot::{Mutex, RwLock};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::check::{format_lineage, read_pool, Found, LINEAGE};
use crate::intent;
use crate::log::{Content, Entry, Log, Units};
use crate::unit::{check_bonus, check_unit, make_bonus, make_unit, UnitHeader, UNIT};

/// Object ids used in every filesystem: 1 to `OBJS`; the last one is big.
pub const OBJS: u64 = 9;
const MAX_FS: usize = 8;
const MAX_SNAPS: usize = 4;
/// Leaves of the pool: the mirror's, then the raidz's.
pub const MIRROR_LEAVES: [&str; 2] = ["m0", "m1"];
pub const RAIDZ_LEAVES: [&str; 3] = ["r0", "r1", "r2"];

fn max_units(obj: u64) -> u64 {
    if obj == OBJS {
        512
    } else {
        48
    }
}

/// A fence that is not settled yet.
const UNSETTLED: u64 = u64::MAX;

/// One unit's history: (txg, value), a positive value being the
/// generation of data written, a negative one `-g` a free at generation
/// `g`. Entries older than the newest durable one are pruned.
type Hist = Vec<(u64, i64)>;

struct Obj {
    /// Txg of its creation (0: durable since the child started).
    created: u64,
    /// Txg of the last free of some of it (or all of it).
    fence: u64,
    /// Freed whole.
    freed: bool,
    units: BTreeMap<u64, Hist>,
}

impl Obj {
    fn from_units(u: &Units) -> Obj {
        Obj {
            created: 0,
            fence: 0,
            freed: false,
            units: u.iter().map(|(&k, &g)| (k, vec![(0, g as i64)])).collect(),
        }
    }

    /// Generations as of now.
    fn now(&self) -> Units {
        self.units
            .iter()
            .filter_map(|(&u, h)| h.last().filter(|e| e.1 > 0).map(|e| (u, e.1 as u64)))
            .collect()
    }
}

#[derive(Default)]
struct Slot {
    obj: Option<Obj>,
    /// An operation logged its intent and is under way.
    busy: bool,
}

struct SnapT {
    name: String,
    content: Arc<Content>,
    fence: u64,
}

struct FsSt {
    /// Destroyed.
    dead: bool,
    fence: u64,
    snaps: Vec<SnapT>,
    origin: Option<String>,
}

struct Fs {
    name: String,
    id: u64,
    lineage: Vec<u64>,
    /// Shared by object operations, exclusive for dataset operations.
    lock: RwLock<()>,
    st: Mutex<FsSt>,
    slots: Vec<Mutex<Slot>>,
}

impl Fs {
    fn new(name: String, lineage: Vec<u64>, content: &Content, origin: Option<String>) -> Fs {
        let id = *lineage.last().expect("a lineage is never empty");
        Fs {
            name,
            id,
            lineage,
            lock: RwLock::new(()),
            st: Mutex::new(FsSt {
                dead: false,
                fence: 0,
                snaps: Vec::new(),
                origin,
            }),
            slots: (0..=OBJS)
                .map(|o| {
                    Mutex::new(Slot {
                        obj: content.get(&o).map(Obj::from_units),
                        busy: false,
                    })
                })
                .collect(),
        }
    }

    /// Contents as of now (the caller excludes writers).
    fn content_now(&self) -> Content {
        let mut c = Content::new();
        for (o, s) in self.slots.iter().enumerate() {
            if let Some(obj) = s.lock().obj.as_ref().filter(|o| !o.freed) {
                c.insert(o as u64, obj.now());
            }
        }
        c
    }

    fn set_content(&self, c: &Content) {
        for (o, s) in self.slots.iter().enumerate() {
            let mut s = s.lock();
            s.obj = c.get(&(o as u64)).map(Obj::from_units);
            s.busy = false;
        }
    }
}

struct Ctx {
    dsl: Arc<DslPool>,
    pool: Pool,
    root: String,
    round: u64,
    log: Mutex<Log>,
    gen: AtomicU64,
    ids: AtomicU64,
    snapn: AtomicU64,
    fss: Mutex<BTreeMap<String, Arc<Fs>>>,
    ops: AtomicU64,
}

fn benign(e: &DmuError) -> bool {
    matches!(
        e,
        DmuError::NoSpace(_) | DmuError::QuotaExceeded(_) | DmuError::Busy(_)
    )
}

impl Ctx {
    fn next_gen(&self) -> u64 {
        (self.round << 32) | self.gen.fetch_add(1, Ordering::Relaxed)
    }

    fn next_id(&self) -> u64 {
        self.round * 10_000 + self.ids.fetch_add(1, Ordering::Relaxed)
    }

    fn append(&self, e: &Entry) {
        self.log.lock().append(e);
    }

    fn pick_fs(&self, rng: &mut StdRng) -> Option<Arc<Fs>> {
        let m = self.fss.lock();
        if m.is_empty() {
            return None;
        }
        m.values().nth(rng.gen_range(0..m.len())).cloned()
    }

    /// Writes a `Sync` line: what is durable as of the last synced txg.
    fn record(&self) {
        let mut log = self.log.lock();
        let s = self.pool.last_synced_txg();
        let fss: Vec<Arc<Fs>> = self.fss.lock().values().cloned().collect();
        let mut out = BTreeMap::new();
        let mut snaps = Vec::new();
        for fs in fss {
            let mut st = fs.st.lock();
            if st.dead || st.fence > s {
                continue;
            }
            st.fence = 0;
            for sn in st.snaps.iter_mut() {
                if sn.fence <= s {
                    sn.fence = 0;
                    snaps.push(sn.name.clone());
                }
            }
            drop(st);
            let mut objs = BTreeMap::new();
            for (o, slot) in fs.slots.iter().enumerate() {
                let mut slot = slot.lock();
                if slot.busy {
                    continue;
                }
                let Some(obj) = slot.obj.as_mut() else {
                    continue;
                };
                if obj.fence > s || obj.created > s {
                    continue;
                }
                obj.fence = 0;
                if obj.freed {
                    slot.obj = None;
                    continue;
                }
                let mut units = Vec::new();
                for (&u, h) in obj.units.iter_mut() {
                    // The newest entry durable at `s`; older ones go.
                    if let Some(i) = h.iter().rposition(|e| e.0 <= s) {
                        h.drain(..i);
                        units.push((u, h[0].1));
                    }
                }
                objs.insert(o as u64, units);
            }
            out.insert(fs.name.clone(), objs);
        }
        log.append(&Entry::Sync {
            txg: s,
            fss: out,
            snaps,
        });
    }

    fn objset(&self, fs: &Fs) -> (Arc<basin_dmu::Objset>, u64) {
        let os = self
            .dsl
            .objset(&fs.name)
            .unwrap_or_else(|e| panic!("open {}: {e}", fs.name));
        let id = self
            .dsl
            .dataset_id(&fs.name)
            .unwrap_or_else(|e| panic!("{}: {e}", fs.name));
        (os, id)
    }

    // ---- object operations (shared lock on the filesystem) ----

    fn op_write(&self, rng: &mut StdRng) {
        let Some(fs) = self.pick_fs(rng) else { return };
        let _g = fs.lock.read();
        if fs.st.lock().dead {
            return;
        }
        let obj = rng.gen_range(1..=OBJS);
        let mut slot = fs.slots[obj as usize].lock();
        if slot.busy {
            return;
        }
        let (os, ds) = self.objset(&fs);
        let maxu = max_units(obj);
        let n = if rng.gen_bool(0.1) {
            rng.gen_range(1..=32u64)
        } else {
            rng.gen_range(1..=4u64)
        }
        .min(maxu);
        let a = rng.gen_range(0..=maxu - n);
        let tx = match self.dsl.assign(ds, n * UNIT as u64, false) {
            Ok(t) => t,
            Err(e) if benign(&e) => return,
            Err(e) => panic!("{}: assign: {e}", fs.name),
        };
        let txg = tx.txg();
        if slot.obj.as_ref().is_none_or(|o| o.freed) {
            let blksz = [512u32, 4096, 16384, 131072][rng.gen_range(0..4)];
            let bonus = make_bonus(fs.id, obj, self.next_gen());
            os.claim_object(txg, obj, ObjectType::PLAIN_FILE, blksz, 0, &bonus)
                .unwrap_or_else(|e| panic!("{}: create object {obj} in txg {txg}: {e}", fs.name));
            os.zil()
                .log(txg, intent::create(obj, blksz, &bonus))
                .expect("a create record fits");
            slot.obj = Some(Obj {
                created: txg,
                fence: 0,
                freed: false,
                units: BTreeMap::new(),
            });
        }
        let gen = self.next_gen();
        let compressible = rng.gen_bool(0.3);
        let mut buf = vec![0u8; n as usize * UNIT];
        for (i, u) in buf.chunks_mut(UNIT).enumerate() {
            let h = UnitHeader {
                lineage: fs.id,
                obj,
                offset: (a + i as u64) * UNIT as u64,
                gen,
                txg,
            };
            make_unit(u, &h, compressible);
        }
        os.write(txg, obj, a * UNIT as u64, &buf)
            .unwrap_or_else(|e| {
                panic!(
                    "{}: object {obj}: write {n} units at unit {a} in txg {txg}: {e}",
                    fs.name
                )
            });
        let mut at = 0;
        while at < buf.len() {
            let len = (buf.len() - at).min(intent::DATA_CHUNK);
            let off = a * UNIT as u64 + at as u64;
            os.zil()
                .log_data(txg, intent::write_prefix(obj, off), obj, off, len)
                .expect("a write record fits");
            at += len;
        }
        let o = slot.obj.as_mut().expect("just made sure");
        for u in a..a + n {
            o.units.entry(u).or_default().push((txg, gen as i64));
        }
        drop(tx);
    }

    /// Reads a whole object and checks it exactly against what was written.
    fn op_read(&self, rng: &mut StdRng) {
        let Some(fs) = self.pick_fs(rng) else { return };
        let _g = fs.lock.read();
        if fs.st.lock().dead {
            return;
        }
        let obj = rng.gen_range(1..=OBJS);
        let slot = fs.slots[obj as usize].lock();
        if slot.busy {
            return;
        }
        let (os, _) = self.objset(&fs);
        let ctx = |what: String| format!("{}: object {obj}: {what}", fs.name);
        let exists = os
            .exists(obj)
            .unwrap_or_else(|e| panic!("{}", ctx(format!("exists: {e}"))));
        let want = match slot.obj.as_ref().filter(|o| !o.freed) {
            None => {
                assert!(
                    !exists,
                    "{}",
                    ctx("exists, but it was never created or was freed".into())
                );
                return;
            }
            Some(o) => o.now(),
        };
        assert!(
            exists,
            "{}",
            ctx(format!("missing; it should hold {want:?}"))
        );
        let info = os
            .info(obj)
            .unwrap_or_else(|e| panic!("{}", ctx(format!("info: {e}"))));
        check_bonus(&info.meta.bonus, obj, &fs.lineage)
            .unwrap_or_else(|e| panic!("{}: {e}", fs.name));
        let blksz = info.meta.blksz as u64;
        let extent = ((info.meta.maxblkid + 1) * blksz).div_ceil(UNIT as u64) * UNIT as u64;
        let last_want = want
            .keys()
            .next_back()
            .map(|u| (u + 1) * UNIT as u64)
            .unwrap_or(0);
        assert!(
            extent >= last_want,
            "{}",
            ctx(format!(
                "extent {extent} ends before unit data at {last_want}"
            ))
        );
        let mut buf = vec![0u8; extent as usize];
        os.read(obj, 0, &mut buf)
            .unwrap_or_else(|e| panic!("{}", ctx(format!("read {extent} bytes: {e}"))));
        for (i, u) in buf.chunks(UNIT).enumerate() {
            let at = (i * UNIT) as u64;
            let got = check_unit(u, obj, at, &fs.lineage)
                .unwrap_or_else(|e| panic!("{}: {e}", fs.name))
                .map(|h| h.gen);
            let w = want.get(&(i as u64)).copied();
            assert_eq!(
                got,
                w,
                "{}",
                ctx(format!("unit {i}: read generation {got:x?}, wrote {w:x?}"))
            );
        }
    }

    fn op_free(&self, rng: &mut StdRng, whole: bool, truncate: bool) {
        let Some(fs) = self.pick_fs(rng) else { return };
        let _g = fs.lock.read();
        if fs.st.lock().dead {
            return;
        }
        let obj = rng.gen_range(1..=OBJS);
        let (lo, hi) = {
            let mut slot = fs.slots[obj as usize].lock();
            if slot.busy {
                return;
            }
            let Some(o) = slot.obj.as_ref().filter(|o| !o.freed) else {
                return;
            };
            let top = o.units.keys().next_back().map(|u| u + 1).unwrap_or(0);
            let (lo, hi) = if whole {
                (0, u64::MAX)
            } else if truncate {
                (rng.gen_range(0..=top), u64::MAX)
            } else {
                let lo = rng.gen_range(0..max_units(obj));
                (lo, (lo + rng.gen_range(1..=16)).min(max_units(obj)))
            };
            slot.busy = true;
            (lo, hi)
        };
        let (fsname, o) = (fs.name.clone(), obj);
        self.append(&if whole {
            Entry::FreeObj { fs: fsname, obj: o }
        } else {
            Entry::FreeRange {
                fs: fsname,
                obj: o,
                lo,
                hi,
            }
        });
        let (os, ds) = self.objset(&fs);
        let mut slot = fs.slots[obj as usize].lock();
        let tx = match self.dsl.assign(ds, 0, true) {
            Ok(t) => t,
            Err(e) if benign(&e) => {
                slot.busy = false;
                return;
            }
            Err(e) => panic!("{}: assign: {e}", fs.name),
        };
        let txg = tx.txg();
        let ctx = format!(
            "{}: object {obj}: free units {lo}..{hi} in txg {txg}",
            fs.name
        );
        let record = if whole {
            os.free_object(txg, obj)
                .unwrap_or_else(|e| panic!("{ctx}: {e}"));
            intent::free_obj(obj)
        } else {
            let len = if hi == u64::MAX {
                u64::MAX
            } else {
                (hi - lo) * UNIT as u64
            };
            os.free_range(txg, obj, lo * UNIT as u64, len)
                .unwrap_or_else(|e| panic!("{ctx}: {e}"));
            intent::free_range(obj, lo * UNIT as u64, len)
        };
        os.zil().log(txg, record).expect("a free record fits");
        let gen = self.next_gen() as i64;
        let o = slot.obj.as_mut().expect("busy objects stay");
        o.fence = txg;
        if whole {
            o.freed = true;
        } else {
            for (_, h) in o.units.range_mut(lo..hi) {
                h.push((txg, -gen));
            }
        }
        slot.busy = false;
        drop(tx);
    }

    /// Commits a filesystem's intent log: everything changed in it so far
    /// survives a crash, synced or not.
    fn op_fsync(&self, rng: &mut StdRng) {
        let Some(fs) = self.pick_fs(rng) else { return };
        let _g = fs.lock.write();
        if fs.st.lock().dead {
            return;
        }
        let (os, _) = self.objset(&fs);
        os.zil_commit()
            .unwrap_or_else(|e| panic!("{}: commit the intent log: {e}", fs.name));
        let mut objs = BTreeMap::new();
        for (o, slot) in fs.slots.iter().enumerate() {
            let slot = slot.lock();
            if let Some(obj) = slot.obj.as_ref().filter(|o| !o.freed) {
                let units = obj
                    .units
                    .iter()
                    .filter_map(|(&u, h)| h.last().map(|e| (u, e.1)))
                    .collect();
                objs.insert(o as u64, units);
            }
        }
        self.append(&Entry::Fsync {
            fs: fs.name.clone(),
            objs,
        });
    }

    // ---- dataset operations ----

    fn op_sync(&self) {
        self.pool
            .sync()
            .unwrap_or_else(|e| panic!("sync failed: {e}"));
        self.record();
    }

    fn random_props(&self, rng: &mut StdRng) -> Vec<(String, String)> {
        let mut p = Vec::new();
        if rng.gen_bool(0.5) {
            p.push((
                "compression".into(),
                ["lz4", "off"][rng.gen_range(0..2)].into(),
            ));
        }
        if rng.gen_bool(0.5) {
            p.push((
                "checksum".into(),
                ["blake3", "crc32c"][rng.gen_range(0..2)].into(),
            ));
        }
        if rng.gen_bool(0.2) {
            p.push(("copies".into(), "2".into()));
        }
        if rng.gen_bool(0.5) {
            p.push((
                "recordsize".into(),
                ["512", "4K", "16K", "128K"][rng.gen_range(0..4)].into(),
            ));
        }
        p
    }

    fn op_create(&self, rng: &mut StdRng) {
        if self.fss.lock().len() >= MAX_FS {
            return;
        }
        let parent = if rng.gen_bool(0.6) {
            None
        } else {
            self.pick_fs(rng)
                .filter(|p| p.name.matches('/').count() < 2)
        };
        let _g = parent.as_ref().map(|p| p.lock.read());
        if parent.as_ref().is_some_and(|p| p.st.lock().dead) {
            return;
        }
        let id = self.next_id();
        let name = format!(
            "{}/f{id:x}",
            parent
                .as_ref()
                .map(|p| p.name.as_str())
                .unwrap_or(&self.root)
        );
        let mut props = self.random_props(rng);
        props.push((LINEAGE.into(), format_lineage(&[id])));
        match self.dsl.create(&name, None, &props, false) {
            Ok(()) => {}
            Err(e) if benign(&e) => return,
            Err(e) => panic!("create {name} {props:?}: {e}"),
        }
        let fs = Fs::new(name.clone(), vec![id], &Content::new(), None);
        self.fss.lock().insert(name, Arc::new(fs));
    }

    fn op_snapshot(&self, rng: &mut StdRng) {
        let Some(fs) = self.pick_fs(rng) else { return };
        let _g = fs.lock.write();
        {
            let st = fs.st.lock();
            if st.dead || st.snaps.len() >= MAX_SNAPS {
                return;
            }
        }
        let name = format!(
            "{}@s{:x}_{:x}",
            fs.name,
            self.round,
            self.snapn.fetch_add(1, Ordering::Relaxed)
        );
        match self.dsl.snapshot(std::slice::from_ref(&name), false) {
            Ok(()) => {}
            Err(e) if benign(&e) => return,
            Err(e) => panic!("snapshot {name}: {e}"),
        }
        let content = fs.content_now();
        self.append(&Entry::Snap {
            name: name.clone(),
            content: content.clone(),
        });
        fs.st.lock().snaps.push(SnapT {
            name,
            content: Arc::new(content),
            fence: 0,
        });
    }

    fn op_destroy_snap(&self, rng: &mut StdRng) {
        let Some(fs) = self.pick_fs(rng) else { return };
        let _g = fs.lock.write();
        let name = {
            let mut st = fs.st.lock();
            if st.dead || st.snaps.is_empty() {
                return;
            }
            let i = rng.gen_range(0..st.snaps.len());
            st.snaps[i].fence = UNSETTLED;
            st.snaps[i].name.clone()
        };
        self.append(&Entry::DestroySnap { snap: name.clone() });
        let r = self.dsl.destroy(&name, false, false, false, false);
        let mut st = fs.st.lock();
        match r {
            Ok(_) => st.snaps.retain(|s| s.name != name),
            Err(e) if benign(&e) => {
                for s in st.snaps.iter_mut().filter(|s| s.name == name) {
                    s.fence = 0;
                }
            }
            Err(e) => panic!("destroy {name}: {e}"),
        }
    }

    fn op_rollback(&self, rng: &mut StdRng) {
        let Some(fs) = self.pick_fs(rng) else { return };
        let _g = fs.lock.write();
        let (snap, content) = {
            let mut st = fs.st.lock();
            if st.dead {
                return;
            }
            let Some(s) = st.snaps.last() else { return };
            let r = (s.name.clone(), s.content.clone());
            st.fence = UNSETTLED;
            r
        };
        self.append(&Entry::Rollback {
            fs: fs.name.clone(),
        });
        match self.dsl.rollback(&snap, false) {
            Ok(()) => fs.set_content(&content),
            Err(e) if benign(&e) => {}
            Err(e) => panic!("rollback to {snap}: {e}"),
        }
        fs.st.lock().fence = 0;
    }

    fn op_destroy_fs(&self, rng: &mut StdRng) {
        let Some(fs) = self.pick_fs(rng) else { return };
        let family: Vec<Arc<Fs>> = {
            let m = self.fss.lock();
            let prefix = format!("{}/", fs.name);
            m.values()
                .filter(|f| f.name == fs.name || f.name.starts_with(&prefix))
                .cloned()
                .collect()
        };
        // Write locks in name order, as every taker of several does.
        let _g: Vec<_> = family.iter().map(|f| f.lock.write()).collect();
        if fs.st.lock().dead {
            return;
        }
        // A child created meanwhile would go too, unlocked: try later. (The
        // names are compared, not counted: one child may have gone and
        // another come since.)
        {
            let m = self.fss.lock();
            let prefix = format!("{}/", fs.name);
            let now: BTreeSet<&String> = m
                .keys()
                .filter(|n| **n == fs.name || n.starts_with(&prefix))
                .collect();
            let locked: BTreeSet<&String> = family.iter().map(|f| &f.name).collect();
            if now != locked {
                return;
            }
        }
        for f in &family {
            f.st.lock().fence = UNSETTLED;
        }
        self.append(&Entry::DestroyFs {
            fs: fs.name.clone(),
        });
        let r = self.dsl.destroy(&fs.name, true, false, false, false);
        if let Err(e) = &r {
            eprintln!("ztest child: destroy -r {}: {e}", fs.name);
        }
        match r {
            Ok(_) => {
                let mut m = self.fss.lock();
                for f in &family {
                    f.st.lock().dead = true;
                    m.remove(&f.name);
                }
            }
            Err(e) if benign(&e) => {
                for f in &family {
                    f.st.lock().fence = 0;
                }
            }
            Err(e) => panic!("destroy -r {}: {e}", fs.name),
        }
    }

    fn op_clone(&self, rng: &mut StdRng) {
        if self.fss.lock().len() >= MAX_FS {
            return;
        }
        let Some(o) = self.pick_fs(rng) else { return };
        let _g = o.lock.read();
        let (snap, content) = {
            let st = o.st.lock();
            if st.dead || st.snaps.is_empty() {
                return;
            }
            let s = &st.snaps[rng.gen_range(0..st.snaps.len())];
            (s.name.clone(), s.content.clone())
        };
        let id = self.next_id();
        let name = format!("{}/f{id:x}", self.root);
        let mut lineage = o.lineage.clone();
        lineage.push(id);
        let props = vec![(LINEAGE.to_string(), format_lineage(&lineage))];
        match self.dsl.clone_snapshot(&snap, &name, &props) {
            Ok(()) => {}
            Err(e) if benign(&e) => return,
            Err(e) => panic!("clone {snap} {name}: {e}"),
        }
        let fs = Fs::new(name.clone(), lineage, &content, Some(snap));
        self.fss.lock().insert(name, Arc::new(fs));
    }

    fn op_promote(&self, rng: &mut StdRng) {
        let Some(c) = self.pick_fs(rng) else { return };
        let Some(origin) = c.st.lock().origin.clone() else {
            return;
        };
        let (ofs, _) = origin.split_once('@').expect("a snapshot name");
        let Some(o) = self.fss.lock().get(ofs).cloned() else {
            return;
        };
        let mut pair = [c.clone(), o.clone()];
        pair.sort_by(|a, b| a.name.cmp(&b.name));
        let _g: Vec<_> = pair.iter().map(|f| f.lock.write()).collect();
        {
            let cst = c.st.lock();
            if cst.dead || cst.origin.as_ref() != Some(&origin) || o.st.lock().dead {
                return;
            }
        }
        // The model and the pool must agree on what is promoted (a
        // disagreement found after the promote would be hard to trace).
        let truth = self.dsl.get_prop(&c.name, "origin").map(|p| p.value);
        assert_eq!(
            truth.as_deref().ok(),
            Some(origin.as_str()),
            "the origin of {} in the model against the pool ({truth:?}); the model's snapshots of {}: {:?}",
            c.name,
            o.name,
            o.st.lock().snaps.iter().map(|s| s.name.clone()).collect::<Vec<_>>()
        );
        c.st.lock().fence = UNSETTLED;
        o.st.lock().fence = UNSETTLED;
        self.append(&Entry::Promote {
            fss: vec![c.name.clone(), o.name.clone()],
        });
        let r = self.dsl.promote(&c.name);
        match r {
            Ok(()) => {
                // The origin's snapshots up to the origin move to the clone.
                let (moved, o_origin) = {
                    let mut ost = o.st.lock();
                    let k = ost
                        .snaps
                        .iter()
                        .position(|s| s.name == origin)
                        .unwrap_or_else(|| {
                            panic!(
                                "the origin snapshot {origin} of {} is not among the model's snapshots of {}: {:?}",
                                c.name,
                                o.name,
                                ost.snaps.iter().map(|s| &s.name).collect::<Vec<_>>()
                            )
                        });
                    let rest = ost.snaps.split_off(k + 1);
                    let moved = std::mem::replace(&mut ost.snaps, rest);
                    (moved, ost.origin.clone())
                };
                let mut renamed = Vec::new();
                let mut new_names = BTreeMap::new();
                for s in moved {
                    let short = s.name.split_once('@').expect("a snapshot name").1;
                    let n = format!("{}@{short}", c.name);
                    self.append(&Entry::Snap {
                        name: n.clone(),
                        content: (*s.content).clone(),
                    });
                    new_names.insert(s.name.clone(), n.clone());
                    renamed.push(SnapT {
                        name: n,
                        content: s.content,
                        fence: 0,
                    });
                }
                {
                    let mut cst = c.st.lock();
                    renamed.append(&mut cst.snaps);
                    cst.snaps = renamed;
                    cst.origin = o_origin;
                }
                o.st.lock().origin = new_names.get(&origin).cloned();
                // Every clone of a moved snapshot now names the new one.
                for f in self.fss.lock().values() {
                    let mut st = f.st.lock();
                    if let Some(n) = st.origin.as_ref().and_then(|x| new_names.get(x)) {
                        st.origin = Some(n.clone());
                    }
                }
            }
            Err(e) if benign(&e) || matches!(e, DmuError::Exists(_)) => {}
            Err(e) => panic!("promote {}: {e}", c.name),
        }
        c.st.lock().fence = 0;
        o.st.lock().fence = 0;
    }

    fn op_set_prop(&self, rng: &mut StdRng) {
        let Some(fs) = self.pick_fs(rng) else { return };
        let _g = fs.lock.read();
        if fs.st.lock().dead {
            return;
        }
        let props = self.random_props(rng);
        for (k, v) in props {
            match self.dsl.set_prop(&fs.name, &k, &v) {
                Ok(()) => {}
                Err(e) if benign(&e) => {}
                Err(e) => panic!("set {k}={v} on {}: {e}", fs.name),
            }
        }
    }

    fn op_scrub(&self, rng: &mut StdRng) {
        let r = if rng.gen_bool(0.2) {
            self.pool.scrub_cancel()
        } else {
            self.pool.scrub()
        };
        match r {
            Ok(()) | Err(PoolError::ScanBusy(_)) => {}
            Err(e) => panic!("scrub: {e}"),
        }
    }

    fn worker(&self, seed: u64) {
        let mut rng = StdRng::seed_from_u64(seed);
        loop {
            let x = rng.gen_range(0..100);
            match x {
                0..=39 => self.op_write(&mut rng),
                40..=53 => self.op_read(&mut rng),
                54..=58 => self.op_free(&mut rng, false, false),
                59..=61 => self.op_free(&mut rng, false, true),
                62..=64 => self.op_free(&mut rng, true, false),
                65..=67 => self.op_sync(),
                68..=69 => self.op_fsync(&mut rng),
                70..=74 => self.op_snapshot(&mut rng),
                75..=77 => self.op_destroy_snap(&mut rng),
                78..=80 => self.op_create(&mut rng),
                81 => self.op_destroy_fs(&mut rng),
                82..=84 => self.op_rollback(&mut rng),
                85..=87 => self.op_clone(&mut rng),
                88..=89 => self.op_promote(&mut rng),
                90..=91 => self.op_set_prop(&mut rng),
                92 => self.op_scrub(&mut rng),
                _ => self.op_write(&mut rng),
            }
            self.ops.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Tunables of the child's pool for this round.
fn tunables(rng: &mut StdRng) -> PoolTunables {
    let mut t = PoolTunables::for_tests();
    t.sync_interval = Duration::from_millis(rng.gen_range(50..500));
    if rng.gen_bool(0.3) {
        t.dirty_max = rng.gen_range(4u64..32) << 20;
    }
    t
}

/// Runs the child of round `round` on the pool in `dir`; never returns
/// (the parent kills it).
pub fn run(dir: &Path, round: u64, seed: u64) -> ! {
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        prev(info);
        eprintln!("ztest child: round {round} seed {seed:#x}: failed");
        std::process::exit(101);
    }));
    let mut rng = StdRng::seed_from_u64(seed);
    let found = scan_dirs(&[dir.join("vdevs")]);
    assert_eq!(found.len(), 1, "one pool in {}", dir.display());
    let pool = Pool::import(
        &found[0],
        &ImportOptions {
            tunables: tunables(&mut rng),
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("import: {e}"));
    let cache_mb = [4u64, 16, 64][rng.gen_range(0..3)];
    let cache = Arc::new(BlockCache::new(cache_mb << 20).expect("a cache"));
    let dsl = DslPool::open(pool.clone(), cache).unwrap_or_else(|e| panic!("open the DSL: {e}"));

    // Faults on one leaf of each top-level vdev; the others keep the data.
    let mut faults = Vec::new();
    let victims = [
        MIRROR_LEAVES[rng.gen_range(0..2)],
        RAIDZ_LEAVES[rng.gen_range(0..3)],
    ];
    for leaf in victims {
        let mut rules = vec![FaultRule {
            kind: FaultKind::Checksum,
            ops: FaultOps::Read,
            frequency: rng.gen_range(1.0..5.0),
        }];
        if rng.gen_bool(0.4) {
            rules.push(FaultRule {
                kind: FaultKind::Io,
                ops: FaultOps::Write,
                frequency: rng.gen_range(0.2..2.0),
            });
        }
        if rng.gen_bool(0.2) {
            rules.push(FaultRule {
                kind: FaultKind::Io,
                ops: FaultOps::Read,
                frequency: rng.gen_range(0.2..1.0),
            });
        }
        for r in rules {
            faults.push(format!(
                "{leaf}: {} {} {:.1}%",
                r.kind.name(),
                r.ops.name(),
                r.frequency
            ));
            pool.inject_fault(leaf, r)
                .unwrap_or_else(|e| panic!("inject into {leaf}: {e}"));
        }
    }
    let ctx = Arc::new(Ctx {
        dsl: dsl.clone(),
        pool: pool.clone(),
        root: pool.name().to_string(),
        round,
        log: Mutex::new(Log::open(&dir.join(format!("log.{round}")))),
        gen: AtomicU64::new(1),
        ids: AtomicU64::new(1),
        snapn: AtomicU64::new(1),
        fss: Mutex::new(BTreeMap::new()),
        ops: AtomicU64::new(0),
    });
    ctx.append(&Entry::Start {
        round,
        seed,
        faults: faults.join(", "),
    });
    eprintln!(
        "ztest child: round {round} seed {seed:#x}, faults: {}",
        faults.join(", ")
    );

    // What the intent logs hold beyond the last txg goes back first.
    let replayed =
        intent::replay_all(&dsl).unwrap_or_else(|e| panic!("replaying the intent logs: {e}"));
    eprintln!("ztest child: round {round}: {replayed} intent log records replayed");
    // What is there now: read it all (under the faults), and start from it.
    let found: Found = read_pool(&dsl).unwrap_or_else(|e| panic!("reading the pool at start: {e}"));
    for (name, f) in &found.fss {
        let fs = Fs::new(
            name.clone(),
            f.lineage.clone(),
            &f.content,
            f.origin.clone(),
        );
        for s in &f.snaps {
            let content = found.snaps[s].clone();
            ctx.append(&Entry::Snap {
                name: s.clone(),
                content: content.clone(),
            });
            fs.st.lock().snaps.push(SnapT {
                name: s.clone(),
                content: Arc::new(content),
                fence: 0,
            });
        }
        ctx.fss.lock().insert(name.clone(), Arc::new(fs));
    }
    if ctx.fss.lock().is_empty() {
        ctx.op_create(&mut rng);
    }
    ctx.record();

    let workers = rng.gen_range(3..=5);
    for i in 0..workers {
        let c = ctx.clone();
        let s = rng.gen::<u64>() ^ i;
        std::thread::Builder::new()
            .name(format!("ztest-worker-{i}"))
            .spawn(move || c.worker(s))
            .expect("spawn a worker");
    }
    {
        let c = ctx.clone();
        let mut r = StdRng::seed_from_u64(rng.gen());
        std::thread::Builder::new()
            .name("ztest-recorder".into())
            .spawn(move || loop {
                std::thread::sleep(Duration::from_millis(r.gen_range(100..400)));
                c.record();
            })
            .expect("spawn the recorder");
    }
    // The parent kills us long before this.
    for _ in 0..600 {
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!(
        "ztest child: round {round}: not killed after 120 s ({} operations)",
        ctx.ops.load(Ordering::Relaxed)
    );
    std::process::exit(3);
}
