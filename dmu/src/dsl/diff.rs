//! `zfs diff`: the objects that changed between a snapshot and a later
//! snapshot or the head of the same filesystem (or of a clone descending
//! from it).
//!
//! Birth times make this cheap. Every block of the later object set born
//! at or before the earlier snapshot's txg is shared with it, so the walk
//! visits only the metadnode's blocks born after that txg: a dnode block
//! (32 dnodes of 512 bytes in 16 KiB) that was rewritten holds every object
//! created, freed or changed in it since; a hole born later is a range of
//! dnode blocks freed whole. Each dnode there is compared with the same
//! object in the earlier snapshot: present only later is created (`+`),
//! present only earlier is removed (`-`), present in both but different is
//! modified (`M`), and a new generation in the same slot is a removal
//! followed by a creation.
//!
//! Changes name objects by number. A [`PathResolver`] turns numbers into
//! names: [`ObjectNumbers`] (`<object 5>`) until the POSIX layer supplies
//! one that walks directories.

use std::sync::Arc;

use basin_pool::blkptr::BLKPTR_SIZE;
use basin_pool::BlkPtr;

use crate::dnode::{DnodePhys, DNODE_SIZE, PTRS_PER_INDIRECT};
use crate::dsl::names::DsName;
use crate::dsl::phys::DirKind;
use crate::dsl::{DslPool, DslState};
use crate::error::{DmuError, Result};
use crate::objset::{Objset, DNODE_BLOCK, META_OBJECT};
use crate::objset_phys::{ObjsetPhys, ObjsetType};

/// Dnodes in one metadnode block.
const DNODES_PER_BLOCK: u64 = DNODE_BLOCK as u64 / DNODE_SIZE as u64;
/// log2 of the pointers in one indirect block.
const PTR_SHIFT: u32 = PTRS_PER_INDIRECT.trailing_zeros();

/// How an object changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ChangeKind {
    /// It exists only in the earlier snapshot.
    Removed,
    /// It exists only in the later state.
    Created,
    /// It exists in both and differs.
    Modified,
}

impl ChangeKind {
    /// The mark `zfs diff` prints: `-`, `+` or `M`.
    pub fn mark(self) -> char {
        match self {
            ChangeKind::Removed => '-',
            ChangeKind::Created => '+',
            ChangeKind::Modified => 'M',
        }
    }
}

/// One changed object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectChange {
    /// Object number.
    pub object: u64,
    /// What happened to it.
    pub kind: ChangeKind,
}

/// Which side of a diff an object is looked up in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The earlier snapshot (for removed objects).
    Earlier,
    /// The later snapshot or head (for created and modified objects).
    Later,
}

/// Turns object numbers into the names `zfs diff` prints.
pub trait PathResolver {
    /// The name of `object` in `os`, or `None` to fall back to the object
    /// number.
    fn path(&self, os: &Objset, object: u64, side: Side) -> Result<Option<String>>;

    /// True for an object of the layer's own bookkeeping (not a file) that
    /// a diff leaves out, as OpenZFS leaves out the ZPL's master node and
    /// delete queue.
    fn hidden(&self, _os: &Objset, _object: u64) -> bool {
        false
    }
}

/// The resolver used until the POSIX layer exists: no names, so every
/// object prints as `<object N>`.
#[derive(Clone, Copy, Debug, Default)]
pub struct ObjectNumbers;

impl PathResolver for ObjectNumbers {
    fn path(&self, _os: &Objset, _object: u64, _side: Side) -> Result<Option<String>> {
        Ok(None)
    }
}

/// The result of a diff: the changes, and both object sets (read-only) so
/// that names can be resolved afterwards.
pub struct Diff {
    /// The earlier snapshot's object set.
    pub earlier: Arc<Objset>,
    /// The later snapshot's or head's object set, as last synced.
    pub later: Arc<Objset>,
    /// Changes, by object number (a removal before a creation of the same
    /// number).
    pub changes: Vec<ObjectChange>,
}

impl Diff {
    /// The changes with their names: `resolver`'s, else `<object N>`.
    pub fn named(&self, resolver: &dyn PathResolver) -> Result<Vec<(ChangeKind, String)>> {
        let mut out = Vec::with_capacity(self.changes.len());
        for c in &self.changes {
            let (os, side) = match c.kind {
                ChangeKind::Removed => (&self.earlier, Side::Earlier),
                _ => (&self.later, Side::Later),
            };
            if resolver.hidden(os, c.object) {
                continue;
            }
            let name = resolver
                .path(os, c.object, side)?
                .unwrap_or_else(|| format!("<object {}>", c.object));
            out.push((c.kind, name));
        }
        Ok(out)
    }
}

/// What a diff compares, read under the tree's lock.
struct Plan {
    earlier_bp: BlkPtr,
    later_bp: BlkPtr,
    after: u64,
    os_type: ObjsetType,
}

fn not_earlier(from: &str, to: &str) -> DmuError {
    DmuError::Invalid(format!(
        "'{from}' is not an earlier snapshot from the same fs as '{to}'"
    ))
}

/// Checks that `from` is a snapshot that `to` descends from, and reads what
/// the walk needs.
fn plan(st: &DslState, from: &str, to: &str) -> Result<Plan> {
    let fid = st.lookup(from)?;
    let f = st.ds(fid)?;
    if f.snap_name.is_none() {
        return Err(DmuError::Invalid(format!("'{from}' is not a snapshot")));
    }
    let after = f.phys.creation_txg;
    let tid = st.lookup(to)?;
    let t = st.ds(tid)?;
    if t.snap_name.is_some() && t.phys.creation_txg < after {
        return Err(not_earlier(from, to));
    }
    // Walk from `to`'s filesystem up its origins to `from`'s.
    let mut dir = t.phys.dir;
    let mut guard = 0;
    while dir != f.phys.dir {
        let origin = st.dir(dir)?.phys.origin;
        guard += 1;
        if origin == 0 || guard > 1024 {
            return Err(not_earlier(from, to));
        }
        let o = st.ds(origin)?;
        if o.phys.creation_txg < after {
            return Err(not_earlier(from, to));
        }
        dir = o.phys.dir;
    }
    let os_type = match st.dir(f.phys.dir)?.phys.kind {
        DirKind::Filesystem => ObjsetType::Filesystem,
        DirKind::Volume => ObjsetType::Volume,
    };
    Ok(Plan {
        earlier_bp: f.phys.bp,
        later_bp: t.phys.bp,
        after,
        os_type,
    })
}

/// Where the walk found changed dnode blocks.
#[derive(Default)]
struct Changed {
    /// Rewritten dnode blocks: block id and pointer.
    blocks: Vec<(u64, BlkPtr)>,
    /// Ranges of dnode block ids freed whole (holes born later).
    freed: Vec<(u64, u64)>,
}

/// Walks the metadnode tree under `bp` (at `level`, covering the dnode
/// blocks from `first`), collecting what was born after `after`.
fn walk(
    dsl: &DslPool,
    bp: &BlkPtr,
    level: u8,
    first: u64,
    after: u64,
    out: &mut Changed,
) -> Result<()> {
    if bp.birth <= after {
        return Ok(());
    }
    let span = 1u64
        .checked_shl(PTR_SHIFT * u32::from(level))
        .unwrap_or(u64::MAX);
    if bp.is_hole() {
        out.freed.push((first, first.saturating_add(span)));
        return Ok(());
    }
    if level == 0 {
        out.blocks.push((first, *bp));
        return Ok(());
    }
    let data = dsl.cache().read(dsl.pool(), bp)?;
    let child_span = span >> PTR_SHIFT;
    for (i, chunk) in data.chunks_exact(BLKPTR_SIZE).enumerate() {
        let child = BlkPtr::decode(chunk)?;
        let start = first.saturating_add((i as u64).saturating_mul(child_span));
        walk(dsl, &child, level - 1, start, after, out)?;
    }
    Ok(())
}

/// Compares the dnodes of one metadnode block (`later` is `None` for a
/// block freed whole).
fn compare_block(
    blkid: u64,
    earlier: &[u8],
    later: Option<&[u8]>,
    out: &mut Vec<ObjectChange>,
) -> Result<()> {
    for slot in 0..DNODES_PER_BLOCK {
        let object = blkid * DNODES_PER_BLOCK + slot;
        if object == META_OBJECT {
            continue;
        }
        let off = slot as usize * DNODE_SIZE;
        let raw = |b: &[u8]| -> Result<(DnodePhys, Vec<u8>)> {
            match b.get(off..off + DNODE_SIZE) {
                Some(chunk) => Ok((DnodePhys::decode(chunk)?, chunk.to_vec())),
                None => Ok((DnodePhys::default(), vec![0u8; DNODE_SIZE])),
            }
        };
        let (e, ebytes) = raw(earlier)?;
        let (l, lbytes) = match later {
            Some(b) => raw(b)?,
            None => (DnodePhys::default(), vec![0u8; DNODE_SIZE]),
        };
        let change = |kind| ObjectChange { object, kind };
        match (e.is_free(), l.is_free()) {
            (true, true) => {}
            (true, false) => out.push(change(ChangeKind::Created)),
            (false, true) => out.push(change(ChangeKind::Removed)),
            (false, false) if e.generation != l.generation => {
                out.push(change(ChangeKind::Removed));
                out.push(change(ChangeKind::Created));
            }
            (false, false) if ebytes != lbytes => out.push(change(ChangeKind::Modified)),
            (false, false) => {}
        }
    }
    Ok(())
}

impl DslPool {
    /// The objects that changed from snapshot `from` to `to`: a later
    /// snapshot of the same filesystem, its head (synced first, so that
    /// what was written up to now counts), or a clone descending from it.
    pub fn diff(&self, from: &str, to: &str) -> Result<Diff> {
        for n in [from, to] {
            DsName::parse(n)?;
        }
        let to_is_head = !DsName::parse(to)?.is_snapshot();
        self.with_state(|st| plan(st, from, to))?;
        if to_is_head {
            self.pool().sync()?;
        }
        let p = self.with_state(|st| plan(st, from, to))?;
        let earlier = Objset::open(
            self.pool().clone(),
            self.cache().clone(),
            from,
            p.earlier_bp,
            p.os_type,
            true,
        )?;
        let later = Objset::open(
            self.pool().clone(),
            self.cache().clone(),
            to,
            p.later_bp,
            p.os_type,
            true,
        )?;
        let mut changed = Changed::default();
        if !p.later_bp.is_hole() && p.later_bp.birth > p.after {
            let root = self.cache().read(self.pool(), &p.later_bp)?;
            let meta = ObjsetPhys::decode(&root)?.metadnode;
            let top = meta.nlevels.saturating_sub(1);
            walk(self, &meta.blkptr, top, 0, p.after, &mut changed)?;
        }
        let mut changes = Vec::new();
        for (blkid, bp) in &changed.blocks {
            let later_block = self.cache().read(self.pool(), bp)?;
            let earlier_block = earlier.read_block(META_OBJECT, *blkid)?;
            compare_block(*blkid, &earlier_block, Some(&later_block), &mut changes)?;
        }
        // Freed ranges only matter up to the earlier snapshot's last object.
        let last_block = earlier.max_object() / DNODES_PER_BLOCK;
        for (start, end) in &changed.freed {
            for blkid in *start..(*end).min(last_block.saturating_add(1)) {
                let earlier_block = earlier.read_block(META_OBJECT, blkid)?;
                compare_block(blkid, &earlier_block, None, &mut changes)?;
            }
        }
        changes.sort();
        Ok(Diff {
            earlier,
            later,
            changes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dnode_block(dnodes: &[(usize, DnodePhys)]) -> Vec<u8> {
        let mut b = vec![0u8; DNODE_BLOCK as usize];
        for (slot, d) in dnodes {
            d.encode_into(&mut b[slot * DNODE_SIZE..(slot + 1) * DNODE_SIZE]);
        }
        b
    }

    fn obj(generation: u64, maxblkid: u64) -> DnodePhys {
        DnodePhys {
            maxblkid,
            ..DnodePhys::new(crate::types::ObjectType::PLAIN_FILE, 512, generation)
        }
    }

    #[test]
    fn slots_compare_as_zfs_diff_reports() {
        let earlier = dnode_block(&[
            (1, obj(5, 0)),
            (2, obj(5, 0)),
            (3, obj(5, 0)),
            (4, obj(5, 0)),
        ]);
        let later = dnode_block(&[
            (2, obj(5, 7)),
            (3, obj(9, 0)),
            (4, obj(5, 0)),
            (6, obj(9, 0)),
        ]);
        let mut out = Vec::new();
        compare_block(1, &earlier, Some(&later), &mut out).unwrap();
        let got: Vec<(u64, char)> = out.iter().map(|c| (c.object, c.kind.mark())).collect();
        assert_eq!(
            got,
            vec![(33, '-'), (34, 'M'), (35, '-'), (35, '+'), (38, '+')]
        );
        // Block 0 never reports the metadnode's own slot; a freed block
        // removes everything it held.
        let mut out = Vec::new();
        compare_block(0, &earlier, None, &mut out).unwrap();
        let got: Vec<u64> = out.iter().map(|c| c.object).collect();
        assert_eq!(got, vec![1, 2, 3, 4]);
        assert!(out.iter().all(|c| c.kind == ChangeKind::Removed));
    }
}
