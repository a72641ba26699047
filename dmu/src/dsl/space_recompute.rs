//! Space figures of a directory computed from first principles (its chain
//! of snapshots, their deadlists and referenced bytes) rather than kept up
//! incrementally. Promote rebuilds the figures of the two directories it
//! reshapes this way, and the tests compare every incrementally kept figure
//! against it.
//!
//! For a directory D whose chain is its snapshots (oldest first) then its
//! head H, and whose origin (for a clone) was born in txg `o`:
//! - `usedbysnapshots` is the sum of every deadlist entry of the chain born
//!   after `o`;
//! - `usedbydataset` is H's referenced bytes less the origin's blocks H
//!   still shares (the origin's referenced bytes less the chain's deadlist
//!   entries born at or before `o`);
//! - a snapshot's unique bytes are the entries of its successor's deadlist
//!   born after its predecessor (and after `o`).

use std::collections::BTreeMap;

use crate::dsl::{deadlist, space, DslPool, DslState};
use crate::error::{DmuError, Result};
use crate::zap::Zap;

/// Figures of one directory's own datasets (children excluded).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OwnFigures {
    /// `usedbydataset`.
    pub head: u64,
    /// `usedbysnapshots`.
    pub snap: u64,
    /// Physical bytes charged to the directory's own datasets.
    pub compressed: u64,
    /// Logical bytes charged to the directory's own datasets.
    pub uncompressed: u64,
    /// Unique bytes by dataset (snapshots and the head).
    pub unique: BTreeMap<u64, u64>,
}

/// The chain of a directory: snapshots oldest first, then the head.
pub fn chain(st: &DslState, dir: u64) -> Result<Vec<u64>> {
    let head = st.dir(dir)?.phys.head;
    let mut v = st.snapshots_of(head);
    v.push(head);
    Ok(v)
}

/// Computes the figures of `dir` from its deadlists.
pub fn own_figures(dsl: &DslPool, st: &DslState, dir: u64) -> Result<OwnFigures> {
    let mos = dsl.mos();
    let d = st.dir(dir)?;
    let origin = d.phys.origin;
    let o_txg = if origin != 0 {
        st.ds(origin)?.phys.creation_txg
    } else {
        0
    };
    let chain = chain(st, dir)?;
    let mut f = OwnFigures::default();
    let mut origin_dead = (0u64, 0u64, 0u64);
    let mut dead_of: BTreeMap<u64, Vec<basin_pool::BlkPtr>> = BTreeMap::new();
    for &x in &chain {
        let dl = deadlist::read_all(mos, st.ds(x)?.phys.deadlist)?;
        for bp in &dl {
            if bp.birth > o_txg {
                f.snap += bp.asize();
                f.compressed += bp.psize as u64;
                f.uncompressed += bp.lsize as u64;
            } else {
                origin_dead.0 += bp.asize();
                origin_dead.1 += bp.psize as u64;
                origin_dead.2 += bp.lsize as u64;
            }
        }
        dead_of.insert(x, dl);
    }
    let h = &st.ds(d.phys.head)?.phys;
    let (olive, olive_c, olive_u) = if origin != 0 {
        let o = &st.ds(origin)?.phys;
        (
            o.referenced.saturating_sub(origin_dead.0),
            o.compressed.saturating_sub(origin_dead.1),
            o.uncompressed.saturating_sub(origin_dead.2),
        )
    } else {
        (0, 0, 0)
    };
    f.head = h.referenced.saturating_sub(olive);
    f.compressed += h.compressed.saturating_sub(olive_c);
    f.uncompressed += h.uncompressed.saturating_sub(olive_u);
    for (i, &x) in chain.iter().enumerate() {
        let xp = &st.ds(x)?.phys;
        if i + 1 < chain.len() {
            let next = chain[i + 1];
            let u: u64 = dead_of[&next]
                .iter()
                .filter(|bp| bp.birth > xp.prev_snap_txg && bp.birth > o_txg)
                .map(|bp| bp.asize())
                .sum();
            f.unique.insert(x, u);
        } else {
            // The head: what its predecessor does not share.
            let u = if xp.prev_snap != 0 {
                let p = &st.ds(xp.prev_snap)?.phys;
                let dead: u64 = dead_of[&x].iter().map(|bp| bp.asize()).sum();
                xp.referenced
                    .saturating_sub(p.referenced.saturating_sub(dead))
            } else {
                xp.referenced
            };
            f.unique.insert(x, u);
        }
    }
    Ok(f)
}

/// Compares every directory's kept figures with the computed ones; returns
/// the differences in words (empty when all agree).
pub fn verify(dsl: &DslPool, st: &DslState) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    for (&id, d) in &st.dirs {
        let f = own_figures(dsl, st, id)?;
        let name = st.dir_name(id);
        if d.phys.used.head != f.head {
            problems.push(format!(
                "{name}: usedbydataset {} (computed {})",
                d.phys.used.head, f.head
            ));
        }
        if d.phys.used.snap != f.snap {
            problems.push(format!(
                "{name}: usedbysnapshots {} (computed {})",
                d.phys.used.snap, f.snap
            ));
        }
        let child: u64 = d
            .children
            .values()
            .map(|c| st.dirs.get(c).map(|c| c.contrib).unwrap_or(0))
            .sum();
        if d.phys.used.child != child {
            problems.push(format!(
                "{name}: usedbychildren {} (children count {child})",
                d.phys.used.child
            ));
        }
        let kids_c: u64 = d
            .children
            .values()
            .map(|c| st.dirs.get(c).map(|c| c.phys.compressed).unwrap_or(0))
            .sum();
        if d.phys.compressed != f.compressed + kids_c {
            problems.push(format!(
                "{name}: compressed {} (computed {})",
                d.phys.compressed,
                f.compressed + kids_c
            ));
        }
        for (ds, u) in &f.unique {
            let have = st.ds(*ds)?.phys.unique;
            if have != *u {
                problems.push(format!("{}: unique {have} (computed {u})", st.ds_name(*ds)));
            }
        }
    }
    Ok(problems)
}

/// Writes computed figures into `dir`'s records.
fn apply(st: &mut DslState, dir: u64, f: &OwnFigures) -> Result<()> {
    let kids: Vec<u64> = st.dir(dir)?.children.values().copied().collect();
    let (mut kc, mut ku) = (0u64, 0u64);
    for k in kids {
        let kd = st.dir(k)?;
        kc += kd.phys.compressed;
        ku += kd.phys.uncompressed;
    }
    let old = {
        let d = st.dir(dir)?;
        (d.phys.compressed, d.phys.uncompressed)
    };
    {
        let d = st.dir_mut(dir)?;
        d.phys.used.head = f.head;
        d.phys.used.snap = f.snap;
        d.phys.compressed = f.compressed + kc;
        d.phys.uncompressed = f.uncompressed + ku;
    }
    for (ds, u) in &f.unique {
        st.ds_mut(*ds)?.phys.unique = *u;
    }
    // Carry the change of the totals to the ancestors.
    let dc = (f.compressed + kc) as i64 - old.0 as i64;
    let du = (f.uncompressed + ku) as i64 - old.1 as i64;
    let mut cur = st.dir(dir)?.phys.parent;
    while cur != 0 {
        let p = st.dir_mut(cur)?;
        p.phys.compressed = (p.phys.compressed as i64 + dc).max(0) as u64;
        p.phys.uncompressed = (p.phys.uncompressed as i64 + du).max(0) as u64;
        cur = p.phys.parent;
    }
    space::refresh_contrib(st, dir)
}

/// Promotes clone directory `cdir` whose origin is snapshot `origin`.
pub(crate) fn promote(
    dsl: &DslPool,
    st: &mut DslState,
    txg: u64,
    cdir: u64,
    origin: u64,
) -> Result<()> {
    let mos = dsl.mos();
    if st.dir(cdir)?.phys.origin != origin {
        return Err(DmuError::Invalid(
            "not a clone of that snapshot any more".into(),
        ));
    }
    let fdir = st.ds(origin)?.phys.dir;
    let fhead = st.dir(fdir)?.phys.head;
    let chead = st.dir(cdir)?.phys.head;
    let fsnaps = st.snapshots_of(fhead);
    let k = fsnaps
        .iter()
        .position(|&s| s == origin)
        .ok_or_else(|| DmuError::corrupt("DSL", "origin is not a snapshot of its filesystem"))?;
    let moving: Vec<u64> = fsnaps[..=k].to_vec();
    let after_origin = fsnaps.get(k + 1).copied().unwrap_or(fhead);
    let cfirst = st.snapshots_of(chead).first().copied().unwrap_or(chead);
    for &s in &moving {
        let sname = st.ds(s)?.snap_name.clone().unwrap_or_default();
        if st.ds(chead)?.snaps.contains_key(&sname) {
            return Err(DmuError::Exists(format!(
                "snapshot name '{sname}' conflicts"
            )));
        }
    }
    // Move the snapshots and their names.
    let fzap = st.ds(fhead)?.phys.snapnames_zap;
    let czap = st.ds(chead)?.phys.snapnames_zap;
    for &s in &moving {
        let sname = st.ds(s)?.snap_name.clone().unwrap_or_default();
        Zap::new(mos, fzap).remove(txg, sname.as_bytes())?;
        Zap::new(mos, czap).update_u64(txg, &sname, s)?;
        st.ds_mut(fhead)?.snaps.remove(&sname);
        st.ds_mut(chead)?.snaps.insert(sname, s);
        st.ds_mut(s)?.phys.dir = cdir;
    }
    // The origin now leads to the clone's chain.
    st.ds_mut(origin)?.phys.next_snap = cfirst;
    // Clone links: F becomes a clone of the origin; C takes F's place as a
    // clone of F's old origin.
    let f_old_origin = st.dir(fdir)?.phys.origin;
    st.dir_mut(fdir)?.phys.origin = origin;
    st.dir_mut(cdir)?.phys.origin = f_old_origin;
    let ozap = st.ds(origin)?.phys.clones_zap;
    if ozap != 0 {
        Zap::new(mos, ozap).remove(txg, chead.to_string().as_bytes())?;
        Zap::new(mos, ozap).update_u64(txg, &fhead.to_string(), fhead)?;
    }
    {
        let o = st.ds_mut(origin)?;
        o.clones.remove(&chead);
        o.clones.insert(fhead);
    }
    if f_old_origin != 0 {
        let xzap = st.ds(f_old_origin)?.phys.clones_zap;
        if xzap != 0 {
            Zap::new(mos, xzap).remove(txg, fhead.to_string().as_bytes())?;
            Zap::new(mos, xzap).update_u64(txg, &chead.to_string(), chead)?;
        }
        let x = st.ds_mut(f_old_origin)?;
        x.clones.remove(&fhead);
        x.clones.insert(chead);
    }
    let _ = after_origin;
    // Rebuild both directories' figures from their new chains.
    let fc = own_figures(dsl, st, cdir)?;
    let ff = own_figures(dsl, st, fdir)?;
    apply(st, cdir, &fc)?;
    apply(st, fdir, &ff)
}
