//! The checker's own traversal of a pool: from the pool's metadata and the
//! user root down through every object set, every dnode and every indirect
//! block, decoding each structure itself (so a damaged subtree is reported
//! and skipped, and the walk goes on).
//!
//! A block pointer met again (a block a snapshot shares with its dataset)
//! names the same bytes by the Merkle property, so its subtree is not
//! walked twice: the visitor is told it is not the first meeting, and the
//! subtree's allocated bytes, remembered from the first walk, are counted.

use std::collections::HashMap;
use std::fmt;

use basin_dmu::dnode::{DnodePhys, DNODE_SIZE, PTRS_PER_INDIRECT};
use basin_dmu::objset_phys::ObjsetPhys;
use basin_pool::blkptr::BLKPTR_SIZE;
use basin_pool::{BlkPtr, Pool};

/// Object id of an object set's array of dnodes.
pub const META_OBJECT: u64 = 0;

/// Where a block or object sits.
#[derive(Clone, Copy, Debug)]
pub struct Place<'a> {
    /// The object set: a dataset's name, `mos`, or `<pool>` for the pool's
    /// own metadata.
    pub objset: &'a str,
    /// The object, or `None` for an object set's root block and pool
    /// metadata.
    pub object: Option<u64>,
    /// Level of the block (0: data).
    pub level: u8,
    /// Block id at that level.
    pub blkid: u64,
}

impl fmt::Display for Place<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.object {
            None if self.objset == POOL_METADATA => {
                write!(f, "pool metadata block {}", self.blkid)
            }
            None => write!(f, "{}: object set root block", self.objset),
            Some(META_OBJECT) => write!(
                f,
                "{}: dnode array L{} blkid {}",
                self.objset, self.level, self.blkid
            ),
            Some(o) => write!(
                f,
                "{}: object {o} L{} blkid {}",
                self.objset, self.level, self.blkid
            ),
        }
    }
}

/// The name the walk gives the pool's own metadata.
pub const POOL_METADATA: &str = "<pool>";

/// What the walk reports to.
pub trait Visitor {
    /// A block pointer; `first` is false when the same block was met
    /// before (its subtree is then not walked again).
    fn block(&mut self, bp: &BlkPtr, at: &Place<'_>, first: bool);

    /// An allocated object (met once per dnode block).
    fn object(&mut self, _objset_root: &BlkPtr, _at: &Place<'_>, _dnode: &DnodePhys) {}

    /// Something that could not be read or decoded.
    fn problem(&mut self, at: &Place<'_>, what: String);
}

/// Identity of a block: its first copy's address and its birth.
type Key = (u32, u64, u64);

fn key(bp: &BlkPtr) -> Key {
    (bp.dva[0].vdev, bp.dva[0].offset, bp.birth)
}

/// One object set's walk in progress.
struct Ctx<'a> {
    name: &'a str,
    root: BlkPtr,
    object: u64,
}

/// A traversal that remembers what it has seen.
pub struct Walker<'p> {
    pool: &'p Pool,
    /// Allocated bytes of the subtree under every block seen.
    seen: HashMap<Key, u64>,
}

impl<'p> Walker<'p> {
    /// A walker over `pool` that has seen nothing yet.
    pub fn new(pool: &'p Pool) -> Walker<'p> {
        Walker {
            pool,
            seen: HashMap::new(),
        }
    }

    /// Visits the pool's own metadata (root, space maps, history); returns
    /// its allocated bytes.
    pub fn pool_metadata(&mut self, v: &mut dyn Visitor) -> u64 {
        let mut sum = 0;
        match self.pool.metadata_blocks() {
            Ok(bps) => {
                for (i, bp) in bps.iter().enumerate() {
                    let at = Place {
                        objset: POOL_METADATA,
                        object: None,
                        level: 0,
                        blkid: i as u64,
                    };
                    let first = !self.seen.contains_key(&key(bp));
                    v.block(bp, &at, first);
                    if first {
                        self.seen.insert(key(bp), bp.asize());
                        sum += bp.asize();
                    }
                }
            }
            Err(e) => v.problem(
                &Place {
                    objset: POOL_METADATA,
                    object: None,
                    level: 0,
                    blkid: 0,
                },
                format!("cannot read the pool's metadata: {e}"),
            ),
        }
        sum
    }

    /// Visits the object set whose root block is `root` (every object of
    /// it); returns the allocated bytes of all its blocks, shared ones
    /// included.
    pub fn objset(&mut self, name: &str, root: &BlkPtr, v: &mut dyn Visitor) -> u64 {
        if root.is_hole() {
            return 0;
        }
        let at = Place {
            objset: name,
            object: None,
            level: 0,
            blkid: 0,
        };
        if let Some(&sum) = self.seen.get(&key(root)) {
            v.block(root, &at, false);
            return sum;
        }
        v.block(root, &at, true);
        self.seen.insert(key(root), root.asize());
        let phys = match self.pool.read_block(root) {
            Ok(b) => ObjsetPhys::decode(&b).map_err(|e| e.to_string()),
            Err(e) => Err(format!("cannot read: {e}")),
        };
        let sum = match phys {
            Ok(p) => {
                let ctx = Ctx {
                    name,
                    root: *root,
                    object: META_OBJECT,
                };
                root.asize() + self.tree(&ctx, &p.metadnode, v)
            }
            Err(e) => {
                v.problem(&at, e);
                root.asize()
            }
        };
        self.seen.insert(key(root), sum);
        sum
    }

    /// Visits the tree of one object whose dnode is `dnode` (a dump of one
    /// object); returns its allocated bytes.
    pub fn object(
        &mut self,
        name: &str,
        root: &BlkPtr,
        id: u64,
        dnode: &DnodePhys,
        v: &mut dyn Visitor,
    ) -> u64 {
        let ctx = Ctx {
            name,
            root: *root,
            object: id,
        };
        self.tree(&ctx, dnode, v)
    }

    fn tree(&mut self, ctx: &Ctx<'_>, dn: &DnodePhys, v: &mut dyn Visitor) -> u64 {
        if dn.is_free() {
            return 0;
        }
        self.visit(ctx, &dn.blkptr, dn.nlevels.saturating_sub(1), 0, v)
    }

    fn visit(
        &mut self,
        ctx: &Ctx<'_>,
        bp: &BlkPtr,
        level: u8,
        blkid: u64,
        v: &mut dyn Visitor,
    ) -> u64 {
        if bp.is_hole() {
            return 0;
        }
        let at = Place {
            objset: ctx.name,
            object: Some(ctx.object),
            level,
            blkid,
        };
        if let Some(&sum) = self.seen.get(&key(bp)) {
            v.block(bp, &at, false);
            return sum;
        }
        v.block(bp, &at, true);
        // Provisional, so that a damaged tree pointing at an ancestor ends.
        self.seen.insert(key(bp), bp.asize());
        let mut sum = bp.asize();
        let dnodes = ctx.object == META_OBJECT && level == 0;
        if level > 0 || dnodes {
            match self.pool.read_block(bp) {
                Err(e) => v.problem(&at, format!("cannot read: {e}")),
                Ok(data) if level > 0 => {
                    for (i, chunk) in data.chunks_exact(BLKPTR_SIZE).enumerate() {
                        let child_id = blkid
                            .saturating_mul(PTRS_PER_INDIRECT)
                            .saturating_add(i as u64);
                        match BlkPtr::decode(chunk) {
                            Ok(c) => sum += self.visit(ctx, &c, level - 1, child_id, v),
                            Err(e) => v.problem(&at, format!("pointer {i}: {e}")),
                        }
                    }
                }
                Ok(data) => {
                    let per_block = (data.len() / DNODE_SIZE) as u64;
                    for (k, chunk) in data.chunks_exact(DNODE_SIZE).enumerate() {
                        let id = blkid.saturating_mul(per_block).saturating_add(k as u64);
                        let oat = Place {
                            object: Some(id),
                            level: 0,
                            blkid: 0,
                            ..at
                        };
                        match DnodePhys::decode(chunk) {
                            Ok(dn) if dn.is_free() => {}
                            Ok(_) if id == META_OBJECT => v.problem(
                                &oat,
                                "slot 0 of the dnode array is in use (it is the array's own)"
                                    .into(),
                            ),
                            Ok(dn) => {
                                v.object(&ctx.root, &oat, &dn);
                                let octx = Ctx {
                                    name: ctx.name,
                                    root: ctx.root,
                                    object: id,
                                };
                                sum += self.tree(&octx, &dn, v);
                            }
                            Err(e) => v.problem(&oat, format!("dnode: {e}")),
                        }
                    }
                }
            }
        }
        self.seen.insert(key(bp), sum);
        sum
    }
}
