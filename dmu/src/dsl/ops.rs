//! Changes to the dataset tree: create, destroy, snapshot, rollback, clone,
//! promote, rename, holds and properties. Each is checked first in open
//! context (for a quick, clear error) and then again, and carried out, in a
//! sync task.

use std::collections::{BTreeMap, BTreeSet};

use basin_pool::pool::{new_guid, now_secs};
use basin_pool::BlkPtr;

use crate::dsl::names::DsName;
use crate::dsl::phys::{
    DatasetPhys, DeadlistHeader, DirKind, DirPhys, UsedBreakdown, DS_FLAG_DEFER_DESTROY,
};
use crate::dsl::{deadlist, props, space, DirMem, DsMem, DslPool, DslState};
use crate::error::{DmuError, Result};
use crate::objset::Objset;
use crate::types::ObjectType;
use crate::zap::Zap;

/// Creates a directory with its head dataset under `parent` (0 for the
/// pool's root) in syncing context; returns the directory id.
#[allow(clippy::too_many_arguments)]
pub(crate) fn create_dir(
    dsl: &DslPool,
    st: &mut DslState,
    txg: u64,
    parent: u64,
    name: &str,
    kind: DirKind,
    origin: Option<u64>,
    local_props: &[(String, String)],
) -> Result<u64> {
    let mos = dsl.mos();
    let children_zap = Zap::create(mos, txg, ObjectType::DSL_CHILDREN)?;
    let props_zap = Zap::create(mos, txg, ObjectType::DSL_PROPS)?;
    let snapnames = Zap::create(mos, txg, ObjectType::DSL_SNAPNAMES)?;
    let dl = deadlist::create(mos, txg)?;
    let dir_id = mos.create_object(txg, ObjectType::DSL_DIR, 512, 0, &[])?;
    let ds_id = mos.create_object(txg, ObjectType::DSL_DATASET, 512, 0, &[])?;
    let now = now_secs();
    let mut ds = DatasetPhys {
        dir: dir_id,
        prev_snap: 0,
        prev_snap_txg: 0,
        next_snap: 0,
        snapnames_zap: snapnames,
        deadlist: dl,
        creation_time: now,
        creation_txg: txg,
        referenced: 0,
        compressed: 0,
        uncompressed: 0,
        unique: 0,
        guid: new_guid(),
        flags: 0,
        clones_zap: 0,
        holds_zap: 0,
        num_clones: 0,
        bp: BlkPtr::default(),
    };
    if let Some(o) = origin {
        let op = st.ds(o)?.phys.clone();
        ds.prev_snap = o;
        ds.prev_snap_txg = op.creation_txg;
        ds.referenced = op.referenced;
        ds.compressed = op.compressed;
        ds.uncompressed = op.uncompressed;
        ds.bp = op.bp;
        let clones_zap = if op.clones_zap == 0 {
            Zap::create(mos, txg, ObjectType::DSL_CLONES)?
        } else {
            op.clones_zap
        };
        Zap::new(mos, clones_zap).update_u64(txg, &ds_id.to_string(), ds_id)?;
        let o_mem = st.ds_mut(o)?;
        o_mem.phys.clones_zap = clones_zap;
        o_mem.phys.num_clones += 1;
        o_mem.clones.insert(ds_id);
    }
    let pz = Zap::new(mos, props_zap);
    let mut props_map = BTreeMap::new();
    for (k, v) in local_props {
        pz.update(txg, k.as_bytes(), v.as_bytes())?;
        props_map.insert(k.clone(), v.clone());
    }
    let dir = DirPhys {
        creation_time: now,
        head: ds_id,
        parent,
        origin: origin.unwrap_or(0),
        children_zap,
        props_zap,
        used: UsedBreakdown::default(),
        compressed: 0,
        uncompressed: 0,
        kind,
    };
    st.dirs.insert(
        dir_id,
        DirMem {
            phys: dir,
            name: name.to_string(),
            children: BTreeMap::new(),
            props: props_map,
            contrib: 0,
        },
    );
    st.datasets.insert(
        ds_id,
        DsMem {
            phys: ds,
            snap_name: None,
            snaps: BTreeMap::new(),
            holds: BTreeMap::new(),
            clones: BTreeSet::new(),
            deadlist: DeadlistHeader::default(),
        },
    );
    st.dirty_dirs.insert(dir_id);
    st.dirty_ds.insert(ds_id);
    if parent != 0 {
        Zap::new(mos, st.dir(parent)?.phys.children_zap).update_u64(txg, name, dir_id)?;
        st.dir_mut(parent)?
            .children
            .insert(name.to_string(), dir_id);
    }
    space::refresh_contrib(st, dir_id)?;
    Ok(dir_id)
}

fn check_props(
    kind: DirKind,
    props_in: &[(String, String)],
    creating: bool,
) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for (k, v) in props_in {
        let val = props::validate(k, v)?;
        if let Some(d) = props::def(k) {
            let ok = match d.applies {
                props::Applies::All => true,
                props::Applies::Filesystem => kind == DirKind::Filesystem,
                props::Applies::Volume => kind == DirKind::Volume,
            };
            if !ok {
                return Err(DmuError::Invalid(format!(
                    "property '{k}' does not apply to {}s",
                    if kind == DirKind::Volume {
                        "volume"
                    } else {
                        "filesystem"
                    }
                )));
            }
            if d.create_only && !creating {
                return Err(DmuError::ReadOnlyProperty(k.clone()));
            }
        }
        out.push((k.clone(), val));
    }
    Ok(out)
}

impl DslPool {
    /// Creates a filesystem, or a volume of `volsize` bytes when `volsize`
    /// is given. With `parents`, missing parents are created too (`-p`).
    pub fn create(
        &self,
        name: &str,
        volsize: Option<u64>,
        props_in: &[(String, String)],
        parents: bool,
    ) -> Result<()> {
        let n = DsName::parse(name)?;
        if n.is_snapshot() {
            return Err(DmuError::Invalid(format!(
                "cannot create '{name}': use 'zfs snapshot' for snapshots"
            )));
        }
        let kind = if volsize.is_some() {
            DirKind::Volume
        } else {
            DirKind::Filesystem
        };
        let mut props_v = check_props(kind, props_in, true)?;
        if let Some(size) = volsize {
            let vbs = props_v
                .iter()
                .find(|(k, _)| k == "volblocksize")
                .and_then(|(_, v)| v.parse::<u64>().ok())
                .unwrap_or(16384);
            if size == 0 || size % vbs != 0 {
                return Err(DmuError::BadPropertyValue {
                    prop: "volsize".into(),
                    why: format!("a multiple of volblocksize ({vbs} bytes)"),
                });
            }
            props_v.retain(|(k, _)| k != "volsize");
            props_v.push(("volsize".into(), size.to_string()));
            if !props_v.iter().any(|(k, _)| k == "volblocksize") {
                props_v.push(("volblocksize".into(), vbs.to_string()));
            }
        }
        // Quick checks in open context.
        {
            let st = self.st.lock();
            if st.lookup_dir(&n).is_ok() {
                return Err(DmuError::Exists(format!("dataset '{name}'")));
            }
            let parent = n
                .parent()
                .ok_or_else(|| DmuError::Exists(format!("pool '{name}'")))?;
            if !parents {
                let pdir = st
                    .lookup_dir(&DsName::parse(&parent)?)
                    .map_err(|_| DmuError::NotFound(format!("parent of '{name}' ('{parent}')")))?;
                if st.dir(pdir)?.phys.kind == DirKind::Volume {
                    return Err(DmuError::Invalid(format!(
                        "cannot create '{name}': volumes cannot have children"
                    )));
                }
            }
        }
        let n2 = n.clone();
        self.run_task(Box::new(move |dsl, st, txg| {
            // Walk down, creating missing parents with -p.
            let mut cur = st.lookup_dir(&DsName::parse(n2.pool())?)?;
            for (i, c) in n2.path[1..].iter().enumerate() {
                let last = i + 2 == n2.path.len();
                match st.dir(cur)?.children.get(c).copied() {
                    Some(next) if last => {
                        let _ = next;
                        return Err(DmuError::Exists(format!("dataset '{}'", n2.fs())));
                    }
                    Some(next) => cur = next,
                    None if last => {
                        if st.dir(cur)?.phys.kind == DirKind::Volume {
                            return Err(DmuError::Invalid("volumes cannot have children".into()));
                        }
                        create_dir(dsl, st, txg, cur, c, kind, None, &props_v)?;
                    }
                    None if parents => {
                        cur = create_dir(dsl, st, txg, cur, c, DirKind::Filesystem, None, &[])?;
                    }
                    None => return Err(DmuError::NotFound(format!("parent of '{}'", n2.fs()))),
                }
            }
            Ok(())
        }))
    }

    /// Takes snapshots, atomically: `names` are `fs@snap`; with `recursive`
    /// every descendant filesystem gets the same snapshot name.
    pub fn snapshot(&self, names: &[String], recursive: bool) -> Result<()> {
        let mut targets: Vec<(u64, String)> = Vec::new();
        {
            let st = self.st.lock();
            for name in names {
                let n = DsName::parse(name)?;
                let snap = n.snap.clone().ok_or_else(|| {
                    DmuError::Invalid(format!("'{name}' is not a snapshot name (fs@snap)"))
                })?;
                let dir = st.lookup_dir(&n)?;
                let mut dirs = vec![dir];
                if recursive {
                    let mut i = 0;
                    while i < dirs.len() {
                        let d = st.dir(dirs[i])?;
                        dirs.extend(d.children.values().copied());
                        i += 1;
                    }
                }
                for d in dirs {
                    let head = st.dir(d)?.phys.head;
                    if st.ds(head)?.snaps.contains_key(&snap) {
                        return Err(DmuError::Exists(format!(
                            "snapshot '{}@{snap}'",
                            st.dir_name(d)
                        )));
                    }
                    targets.push((d, snap.clone()));
                }
            }
        }
        // A snapshot must hold no intent log: a clone of it, or a rollback
        // to it, would take over a chain of log blocks that is not theirs.
        // As OpenZFS's zil_suspend: commits wait, and each chain goes in a
        // txg that syncs every record in it (they all joined earlier txgs).
        let heads: Vec<(u64, std::sync::Arc<Objset>)> = {
            let st = self.st.lock();
            let open = self.objsets.lock();
            let mut v: Vec<(u64, std::sync::Arc<Objset>)> = targets
                .iter()
                .filter_map(|(dir, _)| {
                    let head = st.dir(*dir).ok()?.phys.head;
                    open.get(&head).map(|os| (head, os.clone()))
                })
                .collect();
            v.sort_by_key(|(id, _)| *id);
            v.dedup_by_key(|(id, _)| *id);
            v
        };
        let _suspended: Vec<_> = heads.iter().map(|(_, os)| os.zil().suspend()).collect();
        for (id, os) in &heads {
            if os.zil_needs_replay() {
                return Err(DmuError::Busy(format!(
                    "cannot snapshot '{}': its intent log awaits replay (mount it first)",
                    self.with_state(|s| s.ds_name(*id))
                )));
            }
        }
        if heads.iter().any(|(_, os)| !os.zil_header().first.is_none()) {
            let txg = self.pool.txg().hold_raw();
            for (id, os) in &heads {
                os.zil_destroy(txg);
                self.dirty_objsets
                    .lock()
                    .entry(txg)
                    .or_default()
                    .insert(*id);
            }
            self.pool.txg().release(txg);
        }
        self.run_task(Box::new(move |dsl, st, txg| {
            for (dir, snap) in &targets {
                let head = st.dir(*dir)?.phys.head;
                if st.ds(head)?.snaps.contains_key(snap) {
                    return Err(DmuError::Exists(format!(
                        "snapshot '{}@{snap}'",
                        st.dir_name(*dir)
                    )));
                }
            }
            for (dir, snap) in targets {
                snapshot_one(dsl, st, txg, dir, &snap)?;
            }
            Ok(())
        }))
    }

    /// Destroys a dataset or snapshot; `recursive` (-r) takes descendants
    /// and snapshots, `dependents` (-R) clones too, `defer` (-d) marks held
    /// snapshots. With `dry_run`, only lists. Returns the names destroyed
    /// (or that would be), in order.
    pub fn destroy(
        &self,
        name: &str,
        recursive: bool,
        dependents: bool,
        defer: bool,
        dry_run: bool,
    ) -> Result<Vec<String>> {
        let plan = {
            let st = self.st.lock();
            plan_destroy(self, &st, name, recursive, dependents, defer, true)?
        };
        let names: Vec<String> = {
            let st = self.st.lock();
            plan.iter().map(|p| st.ds_name(p.ds())).collect()
        };
        if dry_run {
            return Ok(names);
        }
        // As for a snapshot: no intent-log commit may start a chain on a
        // head while its log is being destroyed with it.
        let heads: Vec<u64> = plan
            .iter()
            .filter_map(|p| match p {
                Destroy::Head(id) => Some(*id),
                _ => None,
            })
            .collect();
        let held = self.open_heads(&heads);
        let _suspended: Vec<_> = held.iter().map(|os| os.zil().suspend()).collect();
        let name = name.to_string();
        self.run_task(Box::new(move |dsl, st, txg| {
            // The plan was made before the txg: a clone, snapshot, hold or
            // promote since may have changed what the destroy would take
            // with it (a snapshot that now has a clone must not go). Planned
            // again here, where nothing else changes the tree, before
            // anything is freed. (Whether a dataset is open was checked
            // then; here the DSL's own operations may hold one briefly.)
            let changed = |why: String| {
                DmuError::Busy(format!(
                    "{why}\n(the datasets changed while the destroy waited for its txg; nothing was destroyed)"
                ))
            };
            let now = plan_destroy(dsl, st, &name, recursive, dependents, defer, false)
                .map_err(|e| changed(e.to_string()))?;
            if now != plan {
                return Err(changed(format!(
                    "cannot destroy '{name}': it would now take other datasets"
                )));
            }
            for step in plan {
                match step {
                    Destroy::Snapshot(id) => destroy_snapshot(dsl, st, txg, id)?,
                    Destroy::Head(id) => destroy_head(dsl, st, txg, id)?,
                    Destroy::Defer(id) => {
                        st.ds_mut(id)?.phys.flags |= DS_FLAG_DEFER_DESTROY;
                    }
                }
            }
            Ok(())
        }))?;
        Ok(names)
    }

    /// Rolls a filesystem back to snapshot `snap`; with `destroy_later`
    /// (-r), later snapshots are destroyed first.
    pub fn rollback(&self, snap: &str, destroy_later: bool) -> Result<()> {
        let (sid, head, later) = {
            let st = self.st.lock();
            let sid = st.lookup(snap)?;
            let s = st.ds(sid)?;
            if s.snap_name.is_none() {
                return Err(DmuError::Invalid(format!("'{snap}' is not a snapshot")));
            }
            let head = st.dir(s.phys.dir)?.phys.head;
            let all = st.snapshots_of(head);
            let pos = all.iter().position(|&x| x == sid).unwrap_or(0);
            let later: Vec<u64> = all[pos + 1..].to_vec();
            if !later.is_empty() && !destroy_later {
                let names: Vec<String> = later.iter().map(|&l| st.ds_name(l)).collect();
                return Err(DmuError::Busy(format!(
                    "cannot rollback to '{snap}': more recent snapshots or bookmarks exist\nuse '-r' to force deletion of the following snapshots and bookmarks:\n{}",
                    names.join("\n")
                )));
            }
            for l in &later {
                let d = st.ds(*l)?;
                if !d.clones.is_empty() {
                    return Err(DmuError::Busy(format!(
                        "cannot destroy '{}': snapshot has dependent clones",
                        st.ds_name(*l)
                    )));
                }
                if !d.holds.is_empty() {
                    return Err(DmuError::Busy(format!(
                        "cannot destroy '{}': snapshot is held",
                        st.ds_name(*l)
                    )));
                }
            }
            (sid, head, later)
        };
        if let Some(&l) = later.iter().find(|&&l| self.objset_busy(l)) {
            return Err(DmuError::Busy(format!(
                "cannot destroy '{}': dataset is busy",
                self.with_state(|s| s.ds_name(l))
            )));
        }
        if self.objset_busy(head) {
            return Err(DmuError::Busy(format!(
                "cannot rollback '{}': dataset is busy",
                self.with_state(|s| s.ds_name(head))
            )));
        }
        // Commits wait while the head's log goes with the rollback.
        let held = self.open_heads(&[head]);
        let _suspended: Vec<_> = held.iter().map(|os| os.zil().suspend()).collect();
        let snap = snap.to_string();
        self.run_task(Box::new(move |dsl, st, txg| {
            // Checked again where nothing else changes the tree: a snapshot
            // taken since (which the rollback would strip of its blocks),
            // or a clone or hold of one that goes. (Whether the head is
            // open was checked before; the DSL's own operations may hold
            // it briefly here.)
            let s = st.ds(sid)?;
            let still_head = st.dir(s.phys.dir)?.phys.head == head;
            let all = st.snapshots_of(head);
            let pos = all.iter().position(|&x| x == sid);
            let changed = !still_head
                || pos.is_none_or(|p| all[p + 1..] != later[..])
                || later.iter().any(|l| {
                    st.ds(*l)
                        .map(|d| !d.clones.is_empty() || !d.holds.is_empty())
                        .unwrap_or(true)
                });
            if changed {
                return Err(DmuError::Busy(format!(
                    "cannot rollback to '{snap}': its filesystem's snapshots, clones or holds changed while the rollback waited for its txg; nothing was changed"
                )));
            }
            for l in later.into_iter().rev() {
                destroy_snapshot(dsl, st, txg, l)?;
            }
            rollback_head(dsl, st, txg, head, sid)
        }))
    }

    /// The open object sets of `heads` (those not open have no log being
    /// written).
    fn open_heads(&self, heads: &[u64]) -> Vec<std::sync::Arc<Objset>> {
        let open = self.objsets.lock();
        heads.iter().filter_map(|h| open.get(h).cloned()).collect()
    }

    /// Clones snapshot `snap` as `new_name`.
    pub fn clone_snapshot(
        &self,
        snap: &str,
        new_name: &str,
        props_in: &[(String, String)],
    ) -> Result<()> {
        let n = DsName::parse(new_name)?;
        if n.is_snapshot() {
            return Err(DmuError::Invalid(format!(
                "'{new_name}' is a snapshot name"
            )));
        }
        let (sid, kind, parent, comp) = {
            let st = self.st.lock();
            let sid = st.lookup(snap)?;
            let s = st.ds(sid)?;
            if s.snap_name.is_none() {
                return Err(DmuError::Invalid(format!("'{snap}' is not a snapshot")));
            }
            let sn = DsName::parse(snap)?;
            if sn.pool() != n.pool() {
                return Err(DmuError::Invalid(
                    "a clone must be in the same pool as its origin".into(),
                ));
            }
            if st.lookup_dir(&n).is_ok() {
                return Err(DmuError::Exists(format!("dataset '{new_name}'")));
            }
            let pname = n
                .parent()
                .ok_or_else(|| DmuError::Exists(format!("pool '{new_name}'")))?;
            let parent = st
                .lookup_dir(&DsName::parse(&pname)?)
                .map_err(|_| DmuError::NotFound(format!("parent of '{new_name}' ('{pname}')")))?;
            (
                sid,
                st.dir(s.phys.dir)?.phys.kind,
                parent,
                n.path.last().cloned().unwrap_or_default(),
            )
        };
        let props_v = check_props(kind, props_in, true)?;
        self.run_task(Box::new(move |dsl, st, txg| {
            if st.dir(parent)?.children.contains_key(&comp) {
                return Err(DmuError::Exists(format!("dataset '{comp}'")));
            }
            create_dir(dsl, st, txg, parent, &comp, kind, Some(sid), &props_v)?;
            Ok(())
        }))
    }

    /// Renames a filesystem (moving it under another parent in the same
    /// pool) or a snapshot (within its filesystem).
    pub fn rename(&self, old: &str, new: &str) -> Result<()> {
        let o = DsName::parse(old)?;
        let n = DsName::parse(new)?;
        if o.is_snapshot() != n.is_snapshot() {
            return Err(DmuError::Invalid(
                "cannot rename a snapshot to a filesystem or the reverse".into(),
            ));
        }
        if o.pool() != n.pool() {
            return Err(DmuError::Invalid(
                "datasets must be within the same pool".into(),
            ));
        }
        if o.is_snapshot() {
            if o.fs() != n.fs() {
                return Err(DmuError::Invalid(
                    "snapshots must be part of the same dataset".into(),
                ));
            }
            let (sid, head, to) = {
                let st = self.st.lock();
                let sid = st.lookup(old)?;
                if st.lookup(new).is_ok() {
                    return Err(DmuError::Exists(format!("dataset '{new}'")));
                }
                (
                    sid,
                    st.dir(st.ds(sid)?.phys.dir)?.phys.head,
                    n.snap.clone().unwrap_or_default(),
                )
            };
            return self.run_task(Box::new(move |dsl, st, txg| {
                let from = st.ds(sid)?.snap_name.clone().unwrap_or_default();
                let zap = st.ds(head)?.phys.snapnames_zap;
                if st.ds(head)?.snaps.contains_key(&to) {
                    return Err(DmuError::Exists(format!("snapshot '{to}'")));
                }
                Zap::new(dsl.mos(), zap).remove(txg, from.as_bytes())?;
                Zap::new(dsl.mos(), zap).update_u64(txg, &to, sid)?;
                let h = st.ds_mut(head)?;
                h.snaps.remove(&from);
                h.snaps.insert(to.clone(), sid);
                st.ds_mut(sid)?.snap_name = Some(to);
                Ok(())
            }));
        }
        let (dir, new_parent, comp) = {
            let st = self.st.lock();
            let dir = st.lookup_dir(&o)?;
            if dir == st.root_dir {
                return Err(DmuError::Invalid(
                    "cannot rename the pool's root dataset (use zpool import with a new name)"
                        .into(),
                ));
            }
            if st.lookup_dir(&n).is_ok() {
                return Err(DmuError::Exists(format!("dataset '{new}'")));
            }
            if n.fs().starts_with(&format!("{}/", o.fs())) {
                return Err(DmuError::Invalid(format!(
                    "cannot rename '{old}' to a descendant of itself"
                )));
            }
            let pname = n
                .parent()
                .ok_or_else(|| DmuError::Invalid("missing parent".into()))?;
            let np = st
                .lookup_dir(&DsName::parse(&pname)?)
                .map_err(|_| DmuError::NotFound(format!("parent of '{new}' ('{pname}')")))?;
            (dir, np, n.path.last().cloned().unwrap_or_default())
        };
        self.run_task(Box::new(move |dsl, st, txg| {
            let old_parent = st.dir(dir)?.phys.parent;
            let old_name = st.dir(dir)?.name.clone();
            if st.dir(new_parent)?.children.contains_key(&comp) {
                return Err(DmuError::Exists(format!("dataset '{comp}'")));
            }
            // Another rename since the check above may have moved the new
            // parent under this directory: the tree would get a cycle.
            let mut up = new_parent;
            while up != 0 {
                if up == dir {
                    return Err(DmuError::Invalid(format!(
                        "cannot rename '{}' under itself (its new parent moved beneath it meanwhile)",
                        st.dir_name(dir)
                    )));
                }
                up = st.dir(up)?.phys.parent;
            }
            let contrib = st.dir(dir)?.contrib;
            Zap::new(dsl.mos(), st.dir(old_parent)?.phys.children_zap)
                .remove(txg, old_name.as_bytes())?;
            st.dir_mut(old_parent)?.children.remove(&old_name);
            move_contrib(st, old_parent, -(contrib as i64))?;
            Zap::new(dsl.mos(), st.dir(new_parent)?.phys.children_zap)
                .update_u64(txg, &comp, dir)?;
            st.dir_mut(new_parent)?.children.insert(comp.clone(), dir);
            move_contrib(st, new_parent, contrib as i64)?;
            let (comp_b, uncomp_b) = {
                let d = st.dir(dir)?;
                (d.phys.compressed, d.phys.uncompressed)
            };
            carry_totals(st, old_parent, -(comp_b as i64), -(uncomp_b as i64))?;
            carry_totals(st, new_parent, comp_b as i64, uncomp_b as i64)?;
            let d = st.dir_mut(dir)?;
            d.phys.parent = new_parent;
            d.name = comp;
            Ok(())
        }))
    }

    /// Places a user hold `tag` on each snapshot.
    pub fn hold(&self, tag: &str, snaps: &[String]) -> Result<()> {
        if tag.is_empty() || tag.len() > 255 {
            return Err(DmuError::Invalid(
                "a hold tag is 1 to 255 characters".into(),
            ));
        }
        let ids = self.snapshot_ids(snaps)?;
        {
            let st = self.st.lock();
            for (id, name) in ids.iter().zip(snaps) {
                if st.ds(*id)?.holds.contains_key(tag) {
                    return Err(DmuError::Exists(format!(
                        "cannot hold snapshot '{name}': tag already exists on this dataset"
                    )));
                }
            }
        }
        let tag = tag.to_string();
        self.run_task(Box::new(move |dsl, st, txg| {
            for id in ids {
                let mut zap = st.ds(id)?.phys.holds_zap;
                if zap == 0 {
                    zap = Zap::create(dsl.mos(), txg, ObjectType::USER_REFS)?;
                    st.ds_mut(id)?.phys.holds_zap = zap;
                }
                let now = now_secs();
                Zap::new(dsl.mos(), zap).insert(txg, tag.as_bytes(), &now.to_le_bytes())?;
                st.ds_mut(id)?.holds.insert(tag.clone(), now);
            }
            Ok(())
        }))
    }

    /// Removes user hold `tag` from each snapshot; a snapshot marked for
    /// deferred destroy goes with its last hold.
    pub fn release(&self, tag: &str, snaps: &[String]) -> Result<()> {
        let ids = self.snapshot_ids(snaps)?;
        {
            let st = self.st.lock();
            for (id, name) in ids.iter().zip(snaps) {
                if !st.ds(*id)?.holds.contains_key(tag) {
                    return Err(DmuError::NotFound(format!(
                        "cannot release hold from snapshot '{name}': no such tag on this dataset"
                    )));
                }
            }
        }
        let tag = tag.to_string();
        self.run_task(Box::new(move |dsl, st, txg| {
            for id in ids {
                let zap = st.ds(id)?.phys.holds_zap;
                Zap::new(dsl.mos(), zap).remove(txg, tag.as_bytes())?;
                let d = st.ds_mut(id)?;
                d.holds.remove(&tag);
                if d.holds.is_empty()
                    && d.phys.flags & DS_FLAG_DEFER_DESTROY != 0
                    && d.clones.is_empty()
                {
                    destroy_snapshot(dsl, st, txg, id)?;
                }
            }
            Ok(())
        }))
    }

    fn snapshot_ids(&self, snaps: &[String]) -> Result<Vec<u64>> {
        let st = self.st.lock();
        snaps
            .iter()
            .map(|s| {
                let id = st.lookup(s)?;
                if st.ds(id)?.snap_name.is_none() {
                    return Err(DmuError::Invalid(format!("'{s}' is not a snapshot")));
                }
                Ok(id)
            })
            .collect()
    }

    /// Sets a property.
    pub fn set_prop(&self, name: &str, prop: &str, value: &str) -> Result<()> {
        let (dir, kind, is_snap) = {
            let st = self.st.lock();
            let id = st.lookup(name)?;
            let ds = st.ds(id)?;
            (
                ds.phys.dir,
                st.dir(ds.phys.dir)?.phys.kind,
                ds.snap_name.is_some(),
            )
        };
        if is_snap {
            return Err(DmuError::Invalid(format!(
                "cannot set property '{prop}' on snapshot '{name}'"
            )));
        }
        let v = check_props(kind, &[(prop.to_string(), value.to_string())], false)?
            .pop()
            .map(|(_, v)| v)
            .unwrap_or_default();
        // Space properties against what is used and available.
        {
            let st = self.st.lock();
            let d = st.dir(dir)?;
            let n: u64 = v.parse().unwrap_or(0);
            match prop {
                "quota"
                    if n > 0 && n < d.phys.used.total().max(space::prop_u64(d, "reservation")) =>
                {
                    return Err(DmuError::Invalid(format!(
                        "cannot set property for '{name}': size is less than current used or reserved space"
                    )));
                }
                "refquota" if n > 0 && n < st.ds(d.phys.head)?.phys.referenced => {
                    return Err(DmuError::Invalid(format!(
                        "cannot set property for '{name}': size is less than current used or reserved space"
                    )));
                }
                "reservation" | "refreservation" => {
                    let cur = space::prop_u64(d, prop);
                    let held = if prop == "reservation" {
                        d.phys.used.total()
                    } else {
                        st.ds(d.phys.head)?.phys.unique
                    };
                    let extra = n.saturating_sub(held.max(cur));
                    if extra > space::available(self, &st, dir) {
                        return Err(DmuError::NoSpace(format!(
                            "cannot set property for '{name}': size is greater than available space"
                        )));
                    }
                    if prop == "reservation" && space::quota_of(d) > 0 && n > space::quota_of(d) {
                        return Err(DmuError::Invalid(format!(
                            "cannot set property for '{name}': size is greater than the quota"
                        )));
                    }
                }
                "volsize" => {
                    let vbs = space::prop_u64(d, "volblocksize").max(512);
                    if n == 0 || !n.is_multiple_of(vbs) {
                        return Err(DmuError::BadPropertyValue {
                            prop: "volsize".into(),
                            why: format!("a multiple of volblocksize ({vbs} bytes)"),
                        });
                    }
                }
                _ => {}
            }
        }
        let prop = prop.to_string();
        self.run_task(Box::new(move |dsl, st, txg| {
            let zap = st.dir(dir)?.phys.props_zap;
            Zap::new(dsl.mos(), zap).update(txg, prop.as_bytes(), v.as_bytes())?;
            st.dir_mut(dir)?.props.insert(prop.clone(), v);
            space::refresh_contrib(st, dir)?;
            dsl.refresh_policies(st);
            Ok(())
        }))
    }

    /// Removes a local property so that it is inherited (or default); with
    /// `recursive`, from every descendant too.
    pub fn inherit(&self, name: &str, prop: &str, recursive: bool) -> Result<()> {
        if !props::is_known(prop) {
            return Err(DmuError::UnknownProperty(prop.to_string()));
        }
        if props::READONLY.contains(&prop) {
            return Err(DmuError::ReadOnlyProperty(prop.to_string()));
        }
        let dirs = {
            let st = self.st.lock();
            let n = DsName::parse(name)?;
            if n.is_snapshot() {
                return Err(DmuError::Invalid(format!(
                    "cannot inherit property on snapshot '{name}'"
                )));
            }
            let dir = st.lookup_dir(&n)?;
            let mut dirs = vec![dir];
            if recursive {
                let mut i = 0;
                while i < dirs.len() {
                    dirs.extend(st.dir(dirs[i])?.children.values().copied());
                    i += 1;
                }
            }
            dirs
        };
        let prop = prop.to_string();
        self.run_task(Box::new(move |dsl, st, txg| {
            for dir in dirs {
                let zap = st.dir(dir)?.phys.props_zap;
                Zap::new(dsl.mos(), zap).remove(txg, prop.as_bytes())?;
                st.dir_mut(dir)?.props.remove(&prop);
                space::refresh_contrib(st, dir)?;
            }
            dsl.refresh_policies(st);
            Ok(())
        }))
    }

    /// Makes clone `name` independent of its origin: the origin's
    /// filesystem's snapshots up to the origin move to it, and that
    /// filesystem becomes a clone of the origin in its new place.
    pub fn promote(&self, name: &str) -> Result<()> {
        let (cdir, origin) = {
            let st = self.st.lock();
            let n = DsName::parse(name)?;
            if n.is_snapshot() {
                return Err(DmuError::Invalid(format!("'{name}' is a snapshot")));
            }
            let cdir = st.lookup_dir(&n)?;
            let origin = st.dir(cdir)?.phys.origin;
            if origin == 0 {
                return Err(DmuError::Invalid(format!(
                    "cannot promote '{name}': not a cloned filesystem"
                )));
            }
            let odir = st.ds(origin)?.phys.dir;
            let ohead = st.dir(odir)?.phys.head;
            for s in st.snapshots_of(ohead) {
                let sname = st.ds(s)?.snap_name.clone().unwrap_or_default();
                if st.ds(st.dir(cdir)?.phys.head)?.snaps.contains_key(&sname)
                    && st.ds(s)?.phys.creation_txg <= st.ds(origin)?.phys.creation_txg
                {
                    return Err(DmuError::Exists(format!(
                        "cannot promote '{name}': snapshot name '{sname}' from origin conflicts with an existing snapshot"
                    )));
                }
                if s == origin {
                    break;
                }
            }
            (cdir, origin)
        };
        self.run_task(Box::new(move |dsl, st, txg| {
            crate::dsl::space_recompute::promote(dsl, st, txg, cdir, origin)
        }))
    }

    /// Re-applies write policies to the open object sets (after a property
    /// change).
    pub(crate) fn refresh_policies(&self, st: &DslState) {
        let open: Vec<(u64, std::sync::Arc<Objset>)> = self
            .objsets
            .lock()
            .iter()
            .map(|(k, v)| (*k, v.clone()))
            .collect();
        for (id, os) in open {
            if let Ok(d) = st.ds(id) {
                os.set_policy(crate::dsl::info::write_policy(st, d.phys.dir, id));
                os.set_max_blksz(crate::dsl::info::recordsize(st, d.phys.dir));
            }
        }
    }
}

/// Moves a directory's contribution into (or out of) `parent`.
fn move_contrib(st: &mut DslState, parent: u64, delta: i64) -> Result<()> {
    {
        let p = st.dir_mut(parent)?;
        p.phys.used.child = if delta >= 0 {
            p.phys.used.child + delta as u64
        } else {
            p.phys.used.child.saturating_sub(delta.unsigned_abs())
        };
    }
    space::refresh_contrib(st, parent)
}

fn carry_totals(st: &mut DslState, from: u64, comp: i64, uncomp: i64) -> Result<()> {
    let mut cur = from;
    while cur != 0 {
        let d = st.dir_mut(cur)?;
        d.phys.compressed = (d.phys.compressed as i64 + comp).max(0) as u64;
        d.phys.uncompressed = (d.phys.uncompressed as i64 + uncomp).max(0) as u64;
        cur = d.phys.parent;
    }
    Ok(())
}

/// Takes snapshot `name` of the head of `dir` in syncing context.
fn snapshot_one(dsl: &DslPool, st: &mut DslState, txg: u64, dir: u64, name: &str) -> Result<u64> {
    let mos = dsl.mos();
    let head = st.dir(dir)?.phys.head;
    let h = st.ds(head)?.phys.clone();
    let sid = mos.create_object(txg, ObjectType::DSL_DATASET, 512, 0, &[])?;
    let new_dl = deadlist::create(mos, txg)?;
    let s = DatasetPhys {
        snapnames_zap: 0,
        next_snap: head,
        creation_time: now_secs(),
        creation_txg: txg,
        unique: 0,
        guid: new_guid(),
        flags: 0,
        clones_zap: 0,
        holds_zap: 0,
        num_clones: 0,
        ..h.clone()
    };
    if h.prev_snap != 0 && st.ds(h.prev_snap)?.phys.next_snap == head {
        st.ds_mut(h.prev_snap)?.phys.next_snap = sid;
    }
    let dl_header = st.ds(head)?.deadlist;
    st.datasets.insert(
        sid,
        DsMem {
            phys: s,
            snap_name: Some(name.to_string()),
            snaps: BTreeMap::new(),
            holds: BTreeMap::new(),
            clones: BTreeSet::new(),
            deadlist: dl_header,
        },
    );
    st.dirty_ds.insert(sid);
    Zap::new(mos, h.snapnames_zap).update_u64(txg, name, sid)?;
    let hm = st.ds_mut(head)?;
    hm.snaps.insert(name.to_string(), sid);
    hm.phys.prev_snap = sid;
    hm.phys.prev_snap_txg = txg;
    hm.phys.deadlist = new_dl;
    hm.phys.unique = 0;
    hm.deadlist = DeadlistHeader::default();
    space::refresh_contrib(st, dir)?;
    Ok(sid)
}

/// One step of a destroy.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Destroy {
    Snapshot(u64),
    Head(u64),
    Defer(u64),
}

impl Destroy {
    fn ds(&self) -> u64 {
        match self {
            Destroy::Snapshot(d) | Destroy::Head(d) | Destroy::Defer(d) => *d,
        }
    }
}

/// What destroying `name` takes, in order, or why it may not; with
/// `check_open`, a dataset someone has open stops it too.
fn plan_destroy(
    dsl: &DslPool,
    st: &DslState,
    name: &str,
    recursive: bool,
    dependents: bool,
    defer: bool,
    check_open: bool,
) -> Result<Vec<Destroy>> {
    let n = DsName::parse(name)?;
    let top = st.lookup_dir(&n)?;
    let subtree = |d: u64| -> Result<Vec<u64>> {
        let mut v = vec![d];
        let mut i = 0;
        while i < v.len() {
            v.extend(st.dir(v[i])?.children.values().copied());
            i += 1;
        }
        Ok(v)
    };
    // What goes: whole filesystems (with their snapshots) and single
    // snapshots.
    let mut dirs: BTreeSet<u64> = BTreeSet::new();
    let mut snaps: BTreeSet<u64> = BTreeSet::new();
    let mut deferred = Vec::new();
    if let Some(snap) = &n.snap {
        let scope = if recursive { subtree(top)? } else { vec![top] };
        for d in scope {
            if let Some(&sid) = st.ds(st.dir(d)?.phys.head)?.snaps.get(snap) {
                if !st.ds(sid)?.holds.is_empty() && defer {
                    deferred.push(sid);
                } else {
                    snaps.insert(sid);
                }
            }
        }
        if snaps.is_empty() && deferred.is_empty() {
            return Err(DmuError::NotFound(format!(
                "could not find any snapshots to destroy; check snapshot names ('{name}')"
            )));
        }
    } else {
        if top == st.root_dir {
            return Err(DmuError::Invalid(format!(
                "cannot destroy '{name}': operation does not apply to pools\nuse 'zfs destroy -r {name}' to destroy all datasets in the pool\nuse 'zpool destroy {name}' to destroy the pool itself"
            )));
        }
        let d = st.dir(top)?;
        if !recursive {
            let mut kids: Vec<String> = d.children.values().map(|c| st.dir_name(*c)).collect();
            kids.extend(st.snapshots_of(d.phys.head).iter().map(|s| st.ds_name(*s)));
            if !kids.is_empty() {
                return Err(DmuError::Busy(format!(
                    "cannot destroy '{name}': filesystem has children\nuse '-r' to destroy the following datasets:\n{}",
                    kids.join("\n")
                )));
            }
        }
        dirs.extend(subtree(top)?);
    }
    // Clones of doomed snapshots go too with -R; otherwise they stop it.
    loop {
        let mut doomed: Vec<u64> = snaps.iter().copied().collect();
        for d in &dirs {
            doomed.extend(st.snapshots_of(st.dir(*d)?.phys.head));
        }
        let mut grew = false;
        for sid in doomed {
            for c in &st.ds(sid)?.clones {
                let cdir = st.ds(*c)?.phys.dir;
                if dirs.contains(&cdir) {
                    continue;
                }
                if !dependents {
                    let names: Vec<String> =
                        st.ds(sid)?.clones.iter().map(|c| st.ds_name(*c)).collect();
                    return Err(DmuError::Busy(format!(
                        "cannot destroy '{}': snapshot has dependent clones\nuse '-R' to destroy the following datasets:\n{}",
                        st.ds_name(sid),
                        names.join("\n")
                    )));
                }
                if cdir == st.root_dir {
                    return Err(DmuError::Busy(format!(
                        "cannot destroy '{}': the pool's root dataset is a clone of it; promote '{}' first",
                        st.ds_name(sid),
                        st.dir_name(cdir)
                    )));
                }
                dirs.extend(subtree(cdir)?);
                grew = true;
            }
        }
        if !grew {
            break;
        }
    }
    // Held snapshots and busy datasets stop everything.
    let mut all_snaps: Vec<u64> = snaps.iter().copied().collect();
    for d in &dirs {
        all_snaps.extend(st.snapshots_of(st.dir(*d)?.phys.head));
    }
    for sid in &all_snaps {
        // Held, or open (a reader of a snapshot would go on reading blocks
        // freed under it, and rewrite a damaged copy over whatever reuses
        // their space).
        if !st.ds(*sid)?.holds.is_empty() || (check_open && dsl.objset_busy(*sid)) {
            return Err(DmuError::Busy(format!(
                "cannot destroy snapshot {}: dataset is busy",
                st.ds_name(*sid)
            )));
        }
    }
    for d in &dirs {
        let head = st.dir(*d)?.phys.head;
        if check_open && dsl.objset_busy(head) {
            return Err(DmuError::Busy(format!(
                "cannot destroy '{}': dataset is busy",
                st.dir_name(*d)
            )));
        }
    }
    // Order: deepest filesystems first, each with its snapshots (newest
    // first) before its head, then the single snapshots. A clone may go
    // after its origin snapshot when both go: nothing reads it meanwhile.
    let depth = |mut d: u64| {
        let mut n = 0;
        while let Some(x) = st.dirs.get(&d) {
            if x.phys.parent == 0 {
                break;
            }
            n += 1;
            d = x.phys.parent;
        }
        n
    };
    let mut order: Vec<u64> = dirs.into_iter().collect();
    order.sort_by_key(|d| std::cmp::Reverse(depth(*d)));
    let mut plan = Vec::new();
    for d in order {
        let head = st.dir(d)?.phys.head;
        for sid in st.snapshots_of(head).into_iter().rev() {
            plan.push(Destroy::Snapshot(sid));
        }
        plan.push(Destroy::Head(head));
    }
    for sid in snaps {
        plan.push(Destroy::Snapshot(sid));
    }
    for sid in deferred {
        plan.push(Destroy::Defer(sid));
    }
    Ok(plan)
}

/// Frees the blocks of `bp`'s tree born after `after` (the blocks older
/// snapshots or an origin do not hold); returns (bytes, compressed, logical).
/// The walk skips every subtree born earlier, so it costs what changed.
fn free_newer(dsl: &DslPool, bp: &BlkPtr, after: u64, txg: u64) -> Result<(u64, u64, u64)> {
    if bp.is_hole() || bp.birth <= after {
        return Ok((0, 0, 0));
    }
    let os = Objset::open(
        dsl.pool().clone(),
        dsl.cache().clone(),
        "destroy",
        *bp,
        crate::objset_phys::ObjsetType::Filesystem,
        true,
    )?;
    let mut victims = os.blocks_born_after(after)?;
    victims.push(*bp);
    let mut totals = (0u64, 0u64, 0u64);
    for v in victims {
        totals.0 += v.asize();
        totals.1 += v.psize as u64;
        totals.2 += v.lsize as u64;
        dsl.cache().forget(dsl.pool(), &v);
        dsl.pool().free_block(txg, &v);
    }
    Ok(totals)
}

/// Frees the intent log of head `head` (whose root is `bp`) in `txg`: its
/// blocks are raw allocations that no block tree points to. The open
/// object set knows the chain (blocks written since its header last
/// synced included).
fn destroy_log(dsl: &DslPool, head: u64, bp: &BlkPtr, txg: u64) -> Result<()> {
    let open = dsl.objsets.lock().get(&head).cloned();
    let os = match open {
        Some(os) => os,
        None if bp.is_hole() => return Ok(()),
        None => Objset::open(
            dsl.pool().clone(),
            dsl.cache().clone(),
            "destroy",
            *bp,
            crate::objset_phys::ObjsetType::Filesystem,
            false,
        )?,
    };
    os.zil_destroy(txg);
    Ok(())
}

/// Destroys snapshot `sid` in syncing context.
pub(crate) fn destroy_snapshot(dsl: &DslPool, st: &mut DslState, txg: u64, sid: u64) -> Result<()> {
    let mos = dsl.mos();
    let s = st.ds(sid)?.phys.clone();
    let prev = s.prev_snap;
    let next = s.next_snap;
    let p_txg = s.prev_snap_txg;
    let dir = s.dir;
    // Within one destroy, a clone's origin may already be gone.
    let origin_txg = match st.dir(dir)?.phys.origin {
        0 => 0,
        o => st
            .datasets
            .get(&o)
            .map(|o| o.phys.creation_txg)
            .unwrap_or(p_txg),
    };
    let prev_in_chain = prev != 0
        && st
            .datasets
            .get(&prev)
            .is_some_and(|p| p.phys.next_snap == sid);
    let pp_txg = if prev_in_chain {
        st.ds(prev)?.phys.prev_snap_txg
    } else {
        0
    };
    let n = st.ds(next)?.phys.clone();
    // Blocks killed before `next` and born after `prev` were held by this
    // snapshot alone: free them. The rest stays on `next`'s deadlist.
    let mut kept = Vec::new();
    let (mut freed, mut fcomp, mut funcomp) = (0u64, 0u64, 0u64);
    let mut prev_unique = 0u64;
    for bp in deadlist::read_all(mos, n.deadlist)? {
        if bp.birth > p_txg {
            freed += bp.asize();
            fcomp += bp.psize as u64;
            funcomp += bp.lsize as u64;
            dsl.cache().forget(dsl.pool(), &bp);
            dsl.pool().free_block(txg, &bp);
        } else {
            if prev_in_chain && bp.birth > pp_txg && bp.birth > origin_txg {
                prev_unique += bp.asize();
            }
            kept.push(bp);
        }
    }
    kept.extend(deadlist::read_all(mos, s.deadlist)?);
    let h = deadlist::replace(mos, txg, n.deadlist, &kept)?;
    mos.free_object(txg, s.deadlist)?;
    if s.holds_zap != 0 {
        mos.free_object(txg, s.holds_zap)?;
    }
    if s.clones_zap != 0 {
        mos.free_object(txg, s.clones_zap)?;
    }
    mos.free_object(txg, sid)?;
    // What this snapshot shared only with `next` is now unique to it.
    let next_is_head = st.ds(next)?.snap_name.is_none();
    let next_unique = if next_is_head {
        // The head: what its new predecessor does not share.
        let prev_ref = st
            .datasets
            .get(&prev)
            .map(|p| p.phys.referenced)
            .unwrap_or(0);
        if prev != 0 {
            n.referenced.saturating_sub(prev_ref.saturating_sub(h.used))
        } else {
            n.referenced
        }
    } else {
        let nn = n.next_snap;
        let gained: u64 = deadlist::read_all(mos, st.ds(nn)?.phys.deadlist)?
            .iter()
            .filter(|bp| bp.birth > p_txg && bp.birth <= s.creation_txg && bp.birth > origin_txg)
            .map(|bp| bp.asize())
            .sum();
        n.unique + gained
    };
    {
        let nm = st.ds_mut(next)?;
        nm.phys.prev_snap = prev;
        nm.phys.prev_snap_txg = p_txg;
        nm.phys.unique = next_unique;
        nm.deadlist = h;
    }
    if prev_in_chain {
        let pm = st.ds_mut(prev)?;
        pm.phys.next_snap = next;
        pm.phys.unique += prev_unique;
    }
    // Remove the name.
    let head = st.dir(dir)?.phys.head;
    let sname = st.ds(sid)?.snap_name.clone().unwrap_or_default();
    Zap::new(mos, st.ds(head)?.phys.snapnames_zap).remove(txg, sname.as_bytes())?;
    st.ds_mut(head)?.snaps.remove(&sname);
    st.datasets.remove(&sid);
    st.dirty_ds.remove(&sid);
    dsl.drop_objset(sid);
    space::add_used(
        st,
        dir,
        0,
        -(freed as i64),
        -(fcomp as i64),
        -(funcomp as i64),
    )
}

/// Destroys a head dataset (no snapshots, no children) and its directory.
pub(crate) fn destroy_head(dsl: &DslPool, st: &mut DslState, txg: u64, head: u64) -> Result<()> {
    let mos = dsl.mos();
    let h = st.ds(head)?.phys.clone();
    let dir = h.dir;
    let d = st.dir(dir)?.clone();
    destroy_log(dsl, head, &h.bp, txg)?;
    let (freed, comp, uncomp) = free_newer(dsl, &h.bp, h.prev_snap_txg, txg)?;
    let _ = (freed, comp, uncomp);
    // A clone leaves its origin.
    if d.phys.origin != 0 && st.datasets.contains_key(&d.phys.origin) {
        let o = d.phys.origin;
        let zap = st.ds(o)?.phys.clones_zap;
        if zap != 0 {
            Zap::new(mos, zap).remove(txg, head.to_string().as_bytes())?;
        }
        let om = st.ds_mut(o)?;
        om.clones.remove(&head);
        om.phys.num_clones = om.phys.num_clones.saturating_sub(1);
    }
    for obj in [
        h.deadlist,
        h.snapnames_zap,
        d.phys.children_zap,
        d.phys.props_zap,
        head,
        dir,
    ] {
        if obj != 0 {
            mos.free_object(txg, obj)?;
        }
    }
    // Out of the parent.
    let parent = d.phys.parent;
    if parent != 0 {
        Zap::new(mos, st.dir(parent)?.phys.children_zap).remove(txg, d.name.as_bytes())?;
        st.dir_mut(parent)?.children.remove(&d.name);
        move_contrib(st, parent, -(d.contrib as i64))?;
        carry_totals(
            st,
            parent,
            -(d.phys.compressed as i64),
            -(d.phys.uncompressed as i64),
        )?;
    }
    st.datasets.remove(&head);
    st.dirs.remove(&dir);
    st.dirty_ds.remove(&head);
    st.dirty_dirs.remove(&dir);
    dsl.drop_objset(head);
    Ok(())
}

/// Rolls head `head` back to its newest snapshot `sid`.
fn rollback_head(dsl: &DslPool, st: &mut DslState, txg: u64, head: u64, sid: u64) -> Result<()> {
    let mos = dsl.mos();
    let h = st.ds(head)?.phys.clone();
    if h.prev_snap != sid {
        return Err(DmuError::Busy("more recent snapshots exist".into()));
    }
    let s = st.ds(sid)?.phys.clone();
    let dir = h.dir;
    let origin_txg = match st.dir(dir)?.phys.origin {
        0 => 0,
        o => st.ds(o)?.phys.creation_txg,
    };
    // What the head wrote since the snapshot goes, its intent log too.
    destroy_log(dsl, head, &h.bp, txg)?;
    let (freed, comp, uncomp) = free_newer(dsl, &h.bp, s.creation_txg, txg)?;
    // What it killed since is referenced again.
    let mut back = 0u64;
    let mut unique_back = 0u64;
    for bp in deadlist::read_all(mos, h.deadlist)? {
        if bp.birth <= origin_txg {
            continue;
        }
        back += bp.asize();
        if bp.birth > s.prev_snap_txg {
            unique_back += bp.asize();
        }
    }
    let dl = deadlist::replace(mos, txg, h.deadlist, &[])?;
    {
        let sm = st.ds_mut(sid)?;
        sm.phys.unique = sm.phys.unique.saturating_sub(unique_back);
    }
    {
        let hm = st.ds_mut(head)?;
        hm.phys.bp = s.bp;
        hm.phys.referenced = s.referenced;
        hm.phys.compressed = s.compressed;
        hm.phys.uncompressed = s.uncompressed;
        hm.phys.unique = 0;
        hm.deadlist = dl;
    }
    space::add_used(
        st,
        dir,
        back as i64 - freed as i64,
        -(back as i64),
        -(comp as i64),
        -(uncomp as i64),
    )?;
    dsl.drop_objset(head);
    Ok(())
}
