//! The check: walk every block from the chosen uberblock, read every copy
//! of each on every leaf that holds one and verify its checksum, compare
//! the space maps with the blocks reached (no leak, no double allocation),
//! recompute the dataset accounting, and decode every ZAP.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use basin_dmu::cache::BlockCache;
use basin_dmu::dnode::DnodePhys;
use basin_dmu::objset_phys::ObjsetType;
use basin_dmu::zap::Zap;
use basin_dmu::{DslPool, ObjectType, Objset};
use basin_pool::verify::CopyFault;
use basin_pool::{BlkPtr, Pool};

use crate::walk::{Place, Visitor, Walker, POOL_METADATA};

/// What the check does.
#[derive(Clone, Debug)]
pub struct CheckOptions {
    /// Read and verify every copy of every block on every leaf (`zdb -cc`);
    /// without it only the blocks the walk reads (metadata) are verified.
    pub every_copy: bool,
    /// Bytes of block cache for the dataset layer's reads (ZAPs).
    pub cache_bytes: u64,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            every_copy: true,
            cache_bytes: 64 << 20,
        }
    }
}

/// The kinds of problem the check reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum ProblemKind {
    /// No copy of a block verifies: its data is lost.
    PermanentError,
    /// Some copies of a block are damaged, at least one is good: a scrub
    /// would rewrite the others.
    Repairable,
    /// A structure that cannot be read or decoded (the walk skipped what
    /// is beneath it).
    Corrupt,
    /// Space allocated that no block uses.
    Leak,
    /// Space used by two blocks, or by a block the space maps call free.
    DoubleAllocation,
    /// Any other disagreement between the space maps and the blocks.
    SpaceMap,
    /// A space figure of the dataset layer that its blocks contradict.
    Accounting,
    /// A key-value object that does not decode or disagrees with itself.
    Zap,
}

impl ProblemKind {
    /// The name printed before the message.
    pub fn name(self) -> &'static str {
        match self {
            ProblemKind::PermanentError => "permanent error",
            ProblemKind::Repairable => "checksum error (repairable)",
            ProblemKind::Corrupt => "corrupt",
            ProblemKind::Leak => "leak",
            ProblemKind::DoubleAllocation => "double allocation",
            ProblemKind::SpaceMap => "space map",
            ProblemKind::Accounting => "accounting",
            ProblemKind::Zap => "ZAP",
        }
    }
}

/// One problem found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Its kind.
    pub kind: ProblemKind,
    /// What and where, for an operator.
    pub message: String,
}

/// Blocks and bytes of one kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Blocks.
    pub count: u64,
    /// Logical bytes.
    pub lsize: u64,
    /// Physical (stored) bytes.
    pub psize: u64,
    /// Allocated bytes, every copy.
    pub asize: u64,
}

impl Tally {
    fn add(&mut self, bp: &BlkPtr) {
        self.count += 1;
        self.lsize += bp.lsize as u64;
        self.psize += bp.psize as u64;
        self.asize += bp.asize();
    }
}

/// What the check found.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Pool name.
    pub pool: String,
    /// The txg of the uberblock the pool was opened at.
    pub txg: u64,
    /// Distinct blocks by block type code.
    pub by_type: BTreeMap<u8, Tally>,
    /// All distinct blocks.
    pub total: Tally,
    /// Block pointers met, a shared block once per reference.
    pub references: u64,
    /// Copies read on their own and verified.
    pub copies_read: u64,
    /// Copies that failed.
    pub copies_bad: u64,
    /// Copies on leaves that are missing or offline (not read).
    pub copies_unavailable: u64,
    /// Object sets walked (the MOS, datasets and snapshots).
    pub objsets: u64,
    /// Allocated objects met.
    pub objects: u64,
    /// Key-value objects decoded.
    pub zaps: u64,
    /// True when the space maps were compared with the blocks.
    pub space_compared: bool,
    /// True when the dataset accounting was recomputed.
    pub accounting_checked: bool,
    /// Every problem, in the order found.
    pub problems: Vec<Problem>,
}

impl Report {
    /// True when nothing is wrong.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }

    /// Problems of one kind.
    pub fn count(&self, kind: ProblemKind) -> usize {
        self.problems.iter().filter(|p| p.kind == kind).count()
    }

    fn push(&mut self, kind: ProblemKind, message: String) {
        self.problems.push(Problem { kind, message });
    }
}

/// True for objects whose contents are a ZAP.
pub fn is_zap(t: ObjectType) -> bool {
    matches!(
        t,
        ObjectType::OBJECT_DIRECTORY
            | ObjectType::DSL_PROPS
            | ObjectType::DSL_CHILDREN
            | ObjectType::DSL_SNAPNAMES
            | ObjectType::DSL_CLONES
            | ObjectType::USER_REFS
            | ObjectType::ZAP
            | ObjectType::DIRECTORY
            | ObjectType::MASTER_NODE
            | ObjectType::DELETE_QUEUE
            | ObjectType::XATTR
            | ObjectType::ZVOL_PROP
    )
}

struct CheckVisitor<'a> {
    pool: &'a Pool,
    opts: &'a CheckOptions,
    cache: Arc<BlockCache>,
    report: Report,
    /// Every distinct block of the layers above the pool.
    user: Vec<BlkPtr>,
    /// Object sets opened for ZAP reads, by root block.
    objsets: HashMap<(u32, u64, u64), Option<Arc<Objset>>>,
    /// True once a subtree could not be walked (leaks are then unknown).
    incomplete: bool,
}

impl CheckVisitor<'_> {
    fn verify_copies(&mut self, bp: &BlkPtr, at: &Place<'_>) {
        let vdevs = self.pool.vdevs();
        let (mut good, mut bad) = (0, Vec::new());
        for (c, d) in bp.dva.iter().enumerate().filter(|(_, d)| !d.is_empty()) {
            let leaves = self.pool.copy_leaves(bp, c);
            if leaves == 0 {
                bad.push(format!("copy {c} at {d}: no such vdev"));
                continue;
            }
            for l in 0..leaves {
                // Leaf `l` as `read_copy` counts them (replacing ones
                // included); a raidz block is read from all its columns.
                let path = vdevs
                    .get(d.vdev as usize)
                    .map(|t| match t.layout {
                        basin_pool::vdev::Layout::Raidz { .. } => format!("raidz vdev {}", d.vdev),
                        _ => t
                            .leaves()
                            .get(l)
                            .map(|leaf| leaf.path.clone())
                            .unwrap_or_default(),
                    })
                    .unwrap_or_default();
                match self.pool.read_copy(bp, c, l) {
                    Ok(_) => {
                        self.report.copies_read += 1;
                        good += 1;
                    }
                    Err(CopyFault::Unavailable) => self.report.copies_unavailable += 1,
                    Err(e) => {
                        self.report.copies_read += 1;
                        self.report.copies_bad += 1;
                        bad.push(format!("copy {c} at {d} on {path}: {e}"));
                    }
                }
            }
        }
        if bad.is_empty() {
            return;
        }
        let what = format!("{at} [{}]: {}", kind_name(bp), bad.join("; "));
        if good > 0 {
            self.report.push(
                ProblemKind::Repairable,
                format!("{what} ({good} good copies remain: a scrub rewrites the damaged ones)"),
            );
        } else {
            self.incomplete = true;
            self.report.push(
                ProblemKind::PermanentError,
                format!("{what} (no good copy: the block is lost)"),
            );
        }
    }

    fn objset_for(&mut self, root: &BlkPtr, name: &str) -> Option<Arc<Objset>> {
        let k = (root.dva[0].vdev, root.dva[0].offset, root.birth);
        if let Some(os) = self.objsets.get(&k) {
            return os.clone();
        }
        let os = Objset::open(
            self.pool.clone(),
            self.cache.clone(),
            name,
            *root,
            ObjsetType::Filesystem,
            true,
        )
        .ok();
        self.objsets.insert(k, os.clone());
        os
    }

    fn check_zap(&mut self, root: &BlkPtr, at: &Place<'_>, id: u64) {
        let Some(os) = self.objset_for(root, at.objset) else {
            self.report.push(
                ProblemKind::Zap,
                format!(
                    "{}: object {id}: its object set cannot be opened",
                    at.objset
                ),
            );
            return;
        };
        self.report.zaps += 1;
        let zap = Zap::new(&os, id);
        match zap.list() {
            Err(e) => self.report.push(
                ProblemKind::Zap,
                format!("{}: ZAP object {id} does not decode: {e}", at.objset),
            ),
            Ok(entries) => match zap.count() {
                Ok(n) if n == entries.len() as u64 => {}
                Ok(n) => self.report.push(
                    ProblemKind::Zap,
                    format!(
                        "{}: ZAP object {id} counts {n} entries but holds {}",
                        at.objset,
                        entries.len()
                    ),
                ),
                Err(e) => self.report.push(
                    ProblemKind::Zap,
                    format!("{}: ZAP object {id}: {e}", at.objset),
                ),
            },
        }
    }
}

/// The name of a block's type, for the summary and messages.
pub fn type_name(code: u8) -> &'static str {
    match code {
        1 => "pool root",
        2 => "space map index",
        3 => "space map checkpoint",
        4 => "space map log",
        5 => "pool history",
        6 => "error log",
        7 => "test data",
        c => match ObjectType::from_block_type(basin_pool::BlockType(c)) {
            Some(t) => t.name(),
            None => "unknown",
        },
    }
}

fn kind_name(bp: &BlkPtr) -> String {
    format!("L{} {}", bp.level, type_name(bp.block_type.0))
}

impl Visitor for CheckVisitor<'_> {
    fn block(&mut self, bp: &BlkPtr, at: &Place<'_>, first: bool) {
        self.report.references += 1;
        if !first {
            return;
        }
        self.report.total.add(bp);
        self.report
            .by_type
            .entry(bp.block_type.0)
            .or_default()
            .add(bp);
        if at.objset != POOL_METADATA {
            self.user.push(*bp);
        }
        if at.object.is_none() && at.objset != POOL_METADATA {
            self.report.objsets += 1;
        }
        if self.opts.every_copy {
            self.verify_copies(bp, at);
        }
    }

    fn object(&mut self, root: &BlkPtr, at: &Place<'_>, dn: &DnodePhys) {
        self.report.objects += 1;
        if let (true, Some(id)) = (is_zap(dn.object_type), at.object) {
            self.check_zap(root, at, id);
        }
    }

    fn problem(&mut self, at: &Place<'_>, what: String) {
        self.incomplete = true;
        self.report
            .push(ProblemKind::Corrupt, format!("{at}: {what}"));
    }
}

/// Checks `pool` (opened read-only, or at least quiet) and, when it could
/// be opened, its dataset layer `dsl`.
pub fn check(pool: &Pool, dsl: Option<&DslPool>, opts: &CheckOptions) -> Report {
    let cache = match BlockCache::new(opts.cache_bytes) {
        Ok(c) => Arc::new(c),
        Err(e) => {
            let mut r = Report::default();
            r.push(ProblemKind::Corrupt, format!("cannot set up a cache: {e}"));
            return r;
        }
    };
    let mut v = CheckVisitor {
        pool,
        opts,
        cache,
        report: Report {
            pool: pool.name().to_string(),
            txg: pool.last_synced_txg(),
            ..Default::default()
        },
        user: Vec::new(),
        objsets: HashMap::new(),
        incomplete: false,
    };
    let mut w = Walker::new(pool);
    w.pool_metadata(&mut v);
    let mos = pool.user_root();
    w.objset("mos", &mos, &mut v);
    let datasets: Vec<(String, BlkPtr, u64)> = dsl
        .map(|d| {
            d.with_state(|st| {
                let mut v: Vec<_> = st
                    .datasets
                    .iter()
                    .map(|(id, ds)| (st.ds_name(*id), ds.phys.bp, ds.phys.referenced))
                    .collect();
                v.sort_by(|a, b| a.0.cmp(&b.0));
                v
            })
        })
        .unwrap_or_default();
    let mut referenced = Vec::new();
    for (name, bp, refd) in &datasets {
        let sum = w.objset(name, bp, &mut v);
        referenced.push((name, sum, *refd));
    }

    // The space maps against the blocks reached.
    match pool.check_space(&v.user) {
        Ok(sc) => {
            v.report.space_compared = true;
            for p in sc.problems {
                let kind = if p.starts_with("leak") {
                    if v.incomplete {
                        // Blocks beneath what could not be read look leaked.
                        continue;
                    }
                    ProblemKind::Leak
                } else if p.starts_with("double allocation")
                    || p.starts_with("reachable block")
                    || p.contains("also referenced")
                {
                    ProblemKind::DoubleAllocation
                } else {
                    ProblemKind::SpaceMap
                };
                v.report.push(kind, p);
            }
        }
        Err(e) => v.report.push(
            ProblemKind::SpaceMap,
            format!("cannot compare the space maps: {e}"),
        ),
    }

    // The dataset layer's figures against its deadlists and blocks.
    if let Some(d) = dsl {
        match d.verify_accounting() {
            Ok(ps) => {
                v.report.accounting_checked = true;
                for p in ps {
                    v.report.push(ProblemKind::Accounting, p);
                }
            }
            Err(e) => v.report.push(
                ProblemKind::Accounting,
                format!("cannot recompute the accounting: {e}"),
            ),
        }
        if !v.incomplete {
            for (name, sum, refd) in referenced {
                if sum != refd {
                    v.report.push(
                        ProblemKind::Accounting,
                        format!("{name}: referenced {refd}, but its blocks add up to {sum}"),
                    );
                }
            }
        }
    }
    v.report
}
