//! Changing the vdevs of an open pool: `offline`, `online`, `clear`,
//! `attach`, `detach` and `replace`, the end of a resilver (which detaches
//! replaced leaves), devices that go away or fail, and fault injection.
//!
//! The runtime vdevs are the truth; after every change the configuration
//! tree is rebuilt from them and written into the labels of every leaf
//! (even labels first, then odd, so a crash leaves one good copy of the old
//! or the new tree), at the txg of a sync done for the purpose, so the
//! newest tree wins at the next import.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::error::{PoolError, Result};
use crate::label::{usable_size, PoolState, VdevConfig, VdevKind};
use crate::labelio;
use crate::pool::{new_guid, open_path, Pool};
use crate::spec::DeviceSpec;
use crate::vdev::inject::FaultRule;
use crate::vdev::{BlockDevice, IoEngine, Layout, Leaf, TopVdev, FAULT_AFTER_ERRORS};

/// Where a leaf sits: top-level vdev index, slot, and whether it is the
/// old side of a replacement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeafPos {
    /// Index of the top-level vdev.
    pub top: usize,
    /// Slot in it.
    pub slot: usize,
    /// The leaf being replaced in that slot.
    pub old_side: bool,
}

fn same_path(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

impl Pool {
    /// Finds a leaf by path (as configured, or the same file), by its last
    /// path component, or by guid.
    pub fn find_leaf(&self, name: &str) -> Result<(LeafPos, Arc<Leaf>)> {
        let guid: Option<u64> = name.parse().ok();
        let mut by_base = Vec::new();
        for (t, top) in self.vdevs().iter().enumerate() {
            for slot in 0..top.children.len() {
                let sides = [
                    Some(top.children[slot].clone()),
                    top.replacing[slot].clone(),
                ];
                for (k, leaf) in sides.into_iter().enumerate() {
                    let Some(leaf) = leaf else { continue };
                    let pos = LeafPos {
                        top: t,
                        slot,
                        old_side: k == 1,
                    };
                    if Some(leaf.guid) == guid || leaf.path == name {
                        return Ok((pos, leaf));
                    }
                    let base = Path::new(&leaf.path).file_name();
                    if base.is_some_and(|b| b.to_str() == Some(name))
                        || (name.starts_with('/') && same_path(&leaf.path, name))
                    {
                        by_base.push((pos, leaf));
                    }
                }
            }
        }
        match by_base.len() {
            1 => Ok(by_base.remove(0)),
            _ => Err(PoolError::NoSuchVdev {
                pool: self.name().to_string(),
                vdev: name.to_string(),
            }),
        }
    }

    /// Takes a leaf offline: it gets no more I/O until `online`. With
    /// `temporary`, the next import brings it back.
    pub fn offline(&self, dev: &str, temporary: bool) -> Result<()> {
        self.check_changeable()?;
        let _g = self.inner().config_lock.lock();
        let (pos, leaf) = self.find_leaf(dev)?;
        if leaf.offline.load(Ordering::Relaxed) {
            return Ok(());
        }
        let top = &self.vdevs()[pos.top];
        if leaf.engine().is_some() && !top.can_spare_one() {
            return Err(PoolError::VdevOp {
                op: "offline",
                vdev: dev.to_string(),
                why: "no valid replicas".into(),
            });
        }
        leaf.start_missing(self.txg().synced_txg() + 1);
        leaf.offline.store(true, Ordering::Relaxed);
        leaf.offline_temporary.store(temporary, Ordering::Relaxed);
        self.commit_config(&format!("offline {}", leaf.path))
    }

    /// Brings a leaf back: reopens its device (which must still carry this
    /// pool's label for it) and resilvers what it missed.
    pub fn online(&self, dev: &str) -> Result<()> {
        self.check_changeable()?;
        {
            let _g = self.inner().config_lock.lock();
            let (_, leaf) = self.find_leaf(dev)?;
            self.reopen_leaf(&leaf, "online")?;
            leaf.offline.store(false, Ordering::Relaxed);
            leaf.faulted.store(false, Ordering::Relaxed);
            leaf.removed.store(false, Ordering::Relaxed);
            self.leaf_back(&leaf);
            self.commit_config(&format!("online {}", leaf.path))?;
        }
        self.start_resilver_if_needed();
        Ok(())
    }

    /// Resets the error counters of one leaf or of all, and gives faulted
    /// or removed leaves whose device is back another chance.
    pub fn clear(&self, dev: Option<&str>) -> Result<()> {
        self.check_open_pool()?;
        let leaves: Vec<Arc<Leaf>> = match dev {
            Some(d) => vec![self.find_leaf(d)?.1],
            None => self.vdevs().iter().flat_map(|t| t.leaves()).collect(),
        };
        let mut changed = false;
        {
            let _g = self.inner().config_lock.lock();
            for leaf in &leaves {
                leaf.errors.clear();
                let down =
                    leaf.faulted.load(Ordering::Relaxed) || leaf.removed.load(Ordering::Relaxed);
                if down
                    && !leaf.offline.load(Ordering::Relaxed)
                    && self.reopen_leaf(leaf, "clear").is_ok()
                {
                    leaf.faulted.store(false, Ordering::Relaxed);
                    leaf.removed.store(false, Ordering::Relaxed);
                    self.leaf_back(leaf);
                    changed = true;
                }
            }
            if changed && !self.is_read_only() {
                self.commit_config("clear")?;
            }
        }
        if changed {
            self.start_resilver_if_needed();
        }
        Ok(())
    }

    /// Attaches `new` as another side of the mirror (or single device)
    /// holding `existing`, and resilvers it.
    pub fn attach(&self, existing: &str, new: &DeviceSpec, force: bool) -> Result<()> {
        self.check_changeable()?;
        {
            let _g = self.inner().config_lock.lock();
            let (pos, _) = self.find_leaf(existing)?;
            let vdevs = self.vdevs();
            let top = &vdevs[pos.top];
            if matches!(top.layout, Layout::Raidz { .. }) {
                return Err(PoolError::VdevOp {
                    op: "attach",
                    vdev: new.name(),
                    why: "can only attach to mirrors and top-level disks".into(),
                });
            }
            let leaf = self.new_leaf(new, top, force, "attach")?;
            let mut children = top.children.clone();
            let mut replacing = top.replacing.clone();
            children.push(leaf.clone());
            replacing.push(None);
            let guid = if top.layout == Layout::Single {
                new_guid()
            } else {
                top.guid
            };
            let t = top.rebuilt_as(guid, children, replacing, Layout::Mirror);
            self.swap_top(pos.top, t);
            leaf.stop_missing(self.txg().open_txg() + 1);
            self.commit_config(&format!("attach {} {}", existing, new.name()))?;
        }
        self.start_resilver_if_needed();
        Ok(())
    }

    /// Detaches a side of a mirror, or a side of a replacement.
    pub fn detach(&self, dev: &str) -> Result<()> {
        self.check_changeable()?;
        let _g = self.inner().config_lock.lock();
        let (pos, leaf) = self.find_leaf(dev)?;
        let vdevs = self.vdevs();
        let top = &vdevs[pos.top];
        let in_replacing = top.replacing[pos.slot].is_some();
        if top.layout != Layout::Mirror && !in_replacing {
            return Err(PoolError::VdevOp {
                op: "detach",
                vdev: dev.to_string(),
                why: "only applicable to mirror and replacing vdevs".into(),
            });
        }
        let mut children = top.children.clone();
        let mut replacing = top.replacing.clone();
        let mut layout = top.layout;
        let mut guid = top.guid;
        if in_replacing {
            // Keep the other side of the pair; it must hold everything.
            let other = if pos.old_side {
                children[pos.slot].clone()
            } else {
                replacing[pos.slot].clone().expect("replacing")
            };
            let others_ok = other.engine().is_some() && other.dtl.lock().is_none();
            if !others_ok && !top.can_spare_one() {
                return Err(PoolError::VdevOp {
                    op: "detach",
                    vdev: dev.to_string(),
                    why: "no valid replicas".into(),
                });
            }
            children[pos.slot] = other;
            replacing[pos.slot] = None;
        } else {
            let whole_elsewhere = (0..children.len()).any(|s| {
                s != pos.slot && children[s].engine().is_some() && children[s].dtl.lock().is_none()
            });
            if !whole_elsewhere {
                return Err(PoolError::VdevOp {
                    op: "detach",
                    vdev: dev.to_string(),
                    why: "no valid replicas".into(),
                });
            }
            children.remove(pos.slot);
            replacing.remove(pos.slot);
            if children.len() == 1 && replacing[0].is_none() {
                layout = Layout::Single;
                guid = children[0].guid;
            }
        }
        let t = top.rebuilt_as(guid, children, replacing, layout);
        self.swap_top(pos.top, t);
        self.commit_config(&format!("detach {}", leaf.path))?;
        self.forget_leaf(&leaf);
        Ok(())
    }

    /// Replaces a leaf with `new` (or with a fresh device at its own path,
    /// when `new` is `None`): the new leaf takes every write at once and a
    /// resilver fills it in; then the old one is detached.
    pub fn replace(&self, old: &str, new: Option<&DeviceSpec>, force: bool) -> Result<()> {
        self.check_changeable()?;
        {
            let _g = self.inner().config_lock.lock();
            let (pos, old_leaf) = self.find_leaf(old)?;
            if pos.old_side {
                return Err(PoolError::VdevOp {
                    op: "replace",
                    vdev: old.to_string(),
                    why: "it is already being replaced".into(),
                });
            }
            let vdevs = self.vdevs();
            let top = &vdevs[pos.top];
            if top.replacing[pos.slot].is_some() {
                return Err(PoolError::VdevOp {
                    op: "replace",
                    vdev: old.to_string(),
                    why: "a replacement of it is already in progress".into(),
                });
            }
            let in_place = match new {
                None => true,
                Some(DeviceSpec::Path(p)) => same_path(&old_leaf.path, &p.display().to_string()),
                Some(DeviceSpec::Device(_)) => false,
            };
            let spec = match new {
                Some(s) => s.clone(),
                None => DeviceSpec::Path(old_leaf.path.clone().into()),
            };
            if in_place {
                // The old leaf's device is the one being replaced: nothing
                // may be read from or written to it under its old identity.
                old_leaf.set_engine(None);
                old_leaf.start_missing(1);
            }
            let leaf = self.new_leaf(&spec, top, force || in_place, "replace")?;
            let mut children = top.children.clone();
            let mut replacing = top.replacing.clone();
            replacing[pos.slot] = Some(old_leaf.clone());
            children[pos.slot] = leaf.clone();
            let t = top.rebuilt_as(top.guid, children, replacing, top.layout);
            self.swap_top(pos.top, t);
            leaf.stop_missing(self.txg().open_txg() + 1);
            self.commit_config(&format!("replace {} {}", old, spec.name()))?;
        }
        self.resilver()
    }

    /// After a scan covering txgs `min..=max`: leaves whose missed txgs
    /// lay inside, and that took every write meanwhile (`before`/`after`
    /// write error counts), are whole again; replaced leaves are detached.
    pub(crate) fn resilver_done(
        &self,
        min: u64,
        max: u64,
        before: &[(u64, u64)],
        after: &[(u64, u64)],
    ) {
        let _g = self.inner().config_lock.lock();
        let errs = |list: &[(u64, u64)], g: u64| {
            list.iter()
                .find(|(x, _)| *x == g)
                .map(|(_, e)| *e)
                .unwrap_or(0)
        };
        let mut changed = false;
        for top in self.vdevs() {
            for leaf in top.leaves() {
                if leaf.engine().is_none() {
                    continue;
                }
                let mut d = leaf.dtl.lock();
                if let Some((lo, hi)) = *d {
                    if lo >= min && hi <= max && errs(after, leaf.guid) == errs(before, leaf.guid) {
                        *d = None;
                        changed = true;
                    }
                }
            }
        }
        // Finished replacements: the new side is whole, the old one goes.
        let mut detached = Vec::new();
        for (i, top) in self.vdevs().iter().enumerate() {
            let done: Vec<usize> = (0..top.children.len())
                .filter(|&s| top.replacing[s].is_some() && top.children[s].dtl.lock().is_none())
                .filter(|&s| top.children[s].engine().is_some())
                .collect();
            if done.is_empty() {
                continue;
            }
            let mut replacing = top.replacing.clone();
            for s in done {
                if let Some(old) = replacing[s].take() {
                    detached.push(old);
                }
            }
            let t = top.rebuilt_as(top.guid, top.children.clone(), replacing, top.layout);
            self.swap_top(i, t);
            changed = true;
        }
        if changed {
            let _ = self.commit_config("resilver done");
        }
        for old in detached {
            self.forget_leaf(&old);
        }
    }

    /// Starts a resilver if a usable leaf misses txgs and none runs.
    pub(crate) fn start_resilver_if_needed(&self) {
        if self.resilver_range().is_some() && !self.is_read_only() {
            let _ = self.resilver();
        }
    }

    /// Once a second: leaves whose device went away are marked removed,
    /// and leaves with too many I/O errors faulted (when their vdev can
    /// spare them); either starts their log of missed txgs.
    pub(crate) fn watch_devices(&self) {
        let mut changed = false;
        for top in self.vdevs() {
            for leaf in top.leaves() {
                let Some(engine) = leaf.engine() else {
                    continue;
                };
                let gone = engine.device().gone();
                let io_errors = leaf.errors.read.load(Ordering::Relaxed)
                    + leaf.errors.write.load(Ordering::Relaxed);
                let too_many = io_errors >= FAULT_AFTER_ERRORS && top.can_spare_one();
                if gone || too_many {
                    leaf.start_missing(self.txg().synced_txg() + 1);
                    if gone {
                        leaf.removed.store(true, Ordering::Relaxed);
                    } else {
                        leaf.faulted.store(true, Ordering::Relaxed);
                    }
                    changed = true;
                }
            }
        }
        if changed {
            self.inner().config_dirty.store(true, Ordering::Release);
            self.txg().kick(0);
        }
        // Leaves that missed writes while usable: resilver them, unless a
        // scan runs (it is restarted when it ends if still needed).
        if self.inner().resilver_wanted.load(Ordering::Acquire)
            && !self.scan_running()
            && self.inner().lister.read().is_some()
        {
            self.inner().resilver_wanted.store(false, Ordering::Release);
            self.start_resilver_if_needed();
        }
    }

    /// Adds a fault injection rule to a leaf.
    pub fn inject_fault(&self, dev: &str, rule: FaultRule) -> Result<()> {
        let (_, leaf) = self.find_leaf(dev)?;
        let engine = leaf.raw_engine().ok_or_else(|| PoolError::VdevOp {
            op: "inject faults into",
            vdev: dev.to_string(),
            why: "the device is not open".into(),
        })?;
        engine.faults().add(rule);
        Ok(())
    }

    /// Removes the injection rules of one leaf or of all; returns how many.
    pub fn clear_faults(&self, dev: Option<&str>) -> Result<usize> {
        let leaves: Vec<Arc<Leaf>> = match dev {
            Some(d) => vec![self.find_leaf(d)?.1],
            None => self.vdevs().iter().flat_map(|t| t.leaves()).collect(),
        };
        Ok(leaves
            .iter()
            .filter_map(|l| l.raw_engine())
            .map(|e| e.faults().clear())
            .sum())
    }

    /// Removes injection rule `index` of a leaf.
    pub fn remove_fault(&self, dev: &str, index: usize) -> Result<bool> {
        let (_, leaf) = self.find_leaf(dev)?;
        Ok(leaf.raw_engine().is_some_and(|e| e.faults().remove(index)))
    }

    /// Every injection rule in force, with its leaf's path.
    pub fn fault_rules(&self) -> Vec<(String, FaultRule)> {
        self.vdevs()
            .iter()
            .flat_map(|t| t.leaves())
            .filter_map(|l| l.raw_engine().map(|e| (l.path.clone(), e)))
            .flat_map(|(p, e)| e.faults().rules().into_iter().map(move |r| (p.clone(), r)))
            .collect()
    }

    fn check_open_pool(&self) -> Result<()> {
        if self.inner().closed.load(Ordering::Acquire) {
            return Err(PoolError::Closed(self.name().to_string()));
        }
        Ok(())
    }

    fn check_changeable(&self) -> Result<()> {
        self.check_open_pool()?;
        if self.is_read_only() {
            return Err(PoolError::ReadOnlyPool(self.name().to_string()));
        }
        if let Some(f) = self.suspended() {
            return Err(PoolError::Suspended(format!("{}: {f}", self.name())));
        }
        Ok(())
    }

    /// Reopens the device of `leaf` if it has none or it went away; the
    /// device must carry this pool's label for this leaf.
    fn reopen_leaf(&self, leaf: &Leaf, op: &'static str) -> Result<()> {
        if let Some(e) = leaf.raw_engine() {
            if !e.device().gone() {
                return Ok(());
            }
        }
        let ashift = self
            .vdevs()
            .iter()
            .find(|t| t.leaves().iter().any(|l| l.guid == leaf.guid))
            .map(|t| t.ashift)
            .unwrap_or(12);
        let dev =
            open_path(Path::new(&leaf.path), &self.inner().tunables, ashift).map_err(|e| {
                PoolError::VdevOp {
                    op,
                    vdev: leaf.path.clone(),
                    why: e.to_string(),
                }
            })?;
        match labelio::best_config(&dev) {
            Some(c) if c.pool_guid == self.guid() && c.guid == leaf.guid => {}
            _ => {
                return Err(PoolError::VdevOp {
                    op,
                    vdev: leaf.path.clone(),
                    why: "the device does not carry this pool's label for it; use 'zpool replace'"
                        .into(),
                })
            }
        }
        leaf.set_engine(Some(IoEngine::start(
            Arc::new(dev),
            self.inner().tunables.io_uring,
        )));
        Ok(())
    }

    /// A leaf takes writes again: what it missed is to be resilvered.
    fn leaf_back(&self, leaf: &Leaf) {
        leaf.stop_missing(self.txg().open_txg() + 1);
    }

    /// Opens, checks and labels a device joining `top`; its leaf lacks
    /// every txg until a resilver fills it in.
    fn new_leaf(
        &self,
        spec: &DeviceSpec,
        top: &TopVdev,
        force: bool,
        op: &'static str,
    ) -> Result<Arc<Leaf>> {
        let name = spec.name();
        let fail = |why: String| PoolError::VdevOp {
            op,
            vdev: name.clone(),
            why,
        };
        let in_pool = self
            .vdevs()
            .iter()
            .flat_map(|t| t.leaves())
            .any(|l| l.engine().is_some() && same_path(&l.path, &name));
        if in_pool {
            return Err(fail(format!("{name} is part of this pool already")));
        }
        let dev: Arc<dyn BlockDevice> = match spec {
            DeviceSpec::Path(p) => Arc::new(
                open_path(p, &self.inner().tunables, top.ashift)
                    .map_err(|e| fail(e.to_string()))?,
            ),
            DeviceSpec::Device(d) => d.clone(),
        };
        if let Some(cfg) = labelio::best_config(dev.as_ref()) {
            let ours = cfg.pool_guid == self.guid();
            if cfg.state != PoolState::Destroyed && !force && !ours {
                return Err(fail(format!(
                    "{name} is part of {} pool '{}'",
                    cfg.state.name(),
                    cfg.name
                )));
            }
        }
        let need = match top.layout {
            Layout::Raidz { .. } => {
                top.asize.div_ceil(top.children.len() as u64) + (2u64 << top.ashift)
            }
            _ => top.asize,
        };
        if usable_size(dev.size()) < need {
            return Err(fail(format!(
                "device is too small ({} bytes usable, {need} needed)",
                usable_size(dev.size())
            )));
        }
        labelio::clear_rings(dev.as_ref())?;
        let leaf = Leaf::new(
            new_guid(),
            name.clone(),
            Some(IoEngine::start(dev, self.inner().tunables.io_uring)),
        );
        leaf.start_missing(1);
        Ok(Arc::new(leaf))
    }

    fn swap_top(&self, index: usize, t: TopVdev) {
        self.inner().vdevs.write()[index] = Arc::new(t);
    }

    /// A leaf left the pool: its labels are wiped (so it no longer
    /// imports as part of it) and its device closed.
    fn forget_leaf(&self, leaf: &Leaf) {
        if let Some(e) = leaf.raw_engine() {
            let still_used = self.vdevs().iter().flat_map(|t| t.leaves()).any(|l| {
                l.raw_engine()
                    .is_some_and(|x| Arc::ptr_eq(x.device(), e.device()))
            });
            if !still_used && !e.device().gone() {
                let _ = labelio::wipe_configs(e.device().as_ref());
            }
        }
        leaf.set_engine(None);
    }

    /// The configuration tree as the runtime vdevs say it is.
    pub(crate) fn tree_from_runtime(&self) -> VdevConfig {
        let old = self.inner().tree.lock().clone();
        let leaf_cfg = |l: &Leaf, id: u32| {
            let kind = match old.find(l.guid) {
                Some(c) if c.children.is_empty() => c.kind,
                _ => {
                    use std::os::unix::fs::FileTypeExt;
                    match std::fs::metadata(&l.path) {
                        Ok(m) if m.file_type().is_block_device() => VdevKind::Disk,
                        _ => VdevKind::File,
                    }
                }
            };
            let (dtl_start, dtl_txg) = l.dtl.lock().unwrap_or((0, 0));
            VdevConfig {
                kind,
                guid: l.guid,
                id,
                path: Some(l.path.clone()),
                nparity: 0,
                ashift: 0,
                asize: 0,
                ms_shift: 0,
                offline: l.offline.load(Ordering::Relaxed)
                    && !l.offline_temporary.load(Ordering::Relaxed),
                dtl_txg,
                dtl_start,
                children: vec![],
            }
        };
        let slot_cfg = |top: &TopVdev, s: usize, id: u32| match &top.replacing[s] {
            None => leaf_cfg(&top.children[s], id),
            Some(oldleaf) => {
                let kids = vec![leaf_cfg(oldleaf, 0), leaf_cfg(&top.children[s], 1)];
                let guid = old
                    .find(oldleaf.guid)
                    .and_then(|_| find_parent(&old, oldleaf.guid))
                    .filter(|p| p.kind == VdevKind::Replacing)
                    .map(|p| p.guid)
                    .unwrap_or_else(new_guid);
                VdevConfig {
                    kind: VdevKind::Replacing,
                    guid,
                    id,
                    path: None,
                    nparity: 0,
                    ashift: 0,
                    asize: 0,
                    ms_shift: 0,
                    offline: false,
                    dtl_txg: 0,
                    dtl_start: 0,
                    children: kids,
                }
            }
        };
        let mut tops = Vec::new();
        for top in self.vdevs() {
            let mut t = match top.layout {
                Layout::Single => slot_cfg(&top, 0, top.id),
                Layout::Mirror | Layout::Raidz { .. } => VdevConfig {
                    kind: if top.layout == Layout::Mirror {
                        VdevKind::Mirror
                    } else {
                        VdevKind::Raidz
                    },
                    guid: top.guid,
                    id: top.id,
                    path: None,
                    nparity: top.nparity() as u8,
                    ashift: 0,
                    asize: 0,
                    ms_shift: 0,
                    offline: false,
                    dtl_txg: 0,
                    dtl_start: 0,
                    children: (0..top.children.len())
                        .map(|s| slot_cfg(&top, s, s as u32))
                        .collect(),
                },
            };
            t.id = top.id;
            t.ashift = top.ashift;
            t.asize = top.asize;
            t.ms_shift = top.ms_shift;
            tops.push(t);
        }
        VdevConfig {
            children: tops,
            ..old
        }
    }

    /// Rebuilds the tree from the runtime vdevs, commits a txg and writes
    /// the tree into every label at that txg.
    pub(crate) fn commit_config(&self, what: &str) -> Result<()> {
        *self.inner().tree.lock() = self.tree_from_runtime();
        self.log_history(&format!("vdev change: {what}"), true);
        self.sync()?;
        self.write_labels(PoolState::Active)
    }

    /// Called by the sync thread after a txg: writes a tree changed by the
    /// device watcher.
    pub(crate) fn refresh_config_if_dirty(&self) {
        if !self.inner().config_dirty.load(Ordering::Acquire) {
            return;
        }
        // A vdev change in progress holds the lock while it waits for this
        // very sync: it writes the tree itself, and the flag waits.
        let Some(_g) = self.inner().config_lock.try_lock() else {
            return;
        };
        self.inner().config_dirty.store(false, Ordering::Release);
        *self.inner().tree.lock() = self.tree_from_runtime();
        let _ = self.write_labels(PoolState::Active);
    }
}

fn find_parent(tree: &VdevConfig, guid: u64) -> Option<&VdevConfig> {
    if tree.children.iter().any(|c| c.guid == guid) {
        return Some(tree);
    }
    tree.children.iter().find_map(|c| find_parent(c, guid))
}
