//! Object sets: numbered objects, each a sparse tree of blocks under its
//! dnode, changed in open txgs and written out at sync.
//!
//! Open context: a change to an object is recorded in the object's dirty
//! record of the txg it joined (whole new block contents, freed ranges,
//! metadata). Reads look at the dirty records from the newest txg down, then
//! at the tree on disk through the ARC.
//!
//! Syncing context ([`Objset::sync`]): for each object dirty in the txg, the
//! freed ranges are cut out of the tree, the new data blocks are written (all
//! objects' blocks in parallel), the indirect blocks above them are
//! rewritten bottom-up, and the new dnode goes into the metadnode, which is
//! synced last; then the object set's root block is written. Every block
//! written or replaced is reported to the [`BlockAccounting`] of the owner.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use basin_pool::blkptr::{BLKPTR_SIZE, MAX_COPIES};
use basin_pool::zio::BlockData;
use basin_pool::{
    AlignedBuf, BlkPtr, ChecksumType, Compression, IoClass, Pool, PoolError, WriteProps,
};
use parking_lot::{Mutex, RwLock};

use crate::accounting::BlockAccounting;
use crate::cache::BlockCache;
use crate::dnode::{DnodePhys, DNODE_SIZE, PTRS_PER_INDIRECT};
use crate::error::{DmuError, Result};
use crate::objset_phys::{ObjsetPhys, ObjsetType, ZilHeader, OBJSET_PHYS_SIZE};
use crate::types::ObjectType;

/// Block size of the dnode array.
pub const DNODE_BLOCK: u32 = 16 * 1024;
const DNODES_PER_BLOCK: u64 = DNODE_BLOCK as u64 / DNODE_SIZE as u64;
/// The metadnode's object id.
pub const META_OBJECT: u64 = 0;
/// Most bytes of indirect block cache kept per object set before clean
/// objects are dropped from memory.
const MAX_CACHED_OBJECTS: usize = 65536;

/// How data and metadata blocks of an object set are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WritePolicy {
    /// Checksum of every block.
    pub checksum: ChecksumType,
    /// Compression of data blocks (metadata is always lz4).
    pub compression: Compression,
    /// Copies of data blocks (metadata gets one more, up to three).
    pub copies: u8,
    /// I/O tenant the writes are charged to.
    pub tenant: u64,
}

impl Default for WritePolicy {
    fn default() -> Self {
        WritePolicy {
            checksum: ChecksumType::Blake3,
            compression: Compression::Lz4,
            copies: 1,
            tenant: 0,
        }
    }
}

/// The metadata of an object as of some txg.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjMeta {
    /// Type (NONE once freed).
    pub object_type: ObjectType,
    /// Bonus type.
    pub bonus_type: u8,
    /// Data block size.
    pub blksz: u32,
    /// Bonus bytes.
    pub bonus: Vec<u8>,
    /// Txg of creation.
    pub generation: u64,
    /// Highest block id that may hold data.
    pub maxblkid: u64,
}

impl ObjMeta {
    fn of(p: &DnodePhys) -> ObjMeta {
        ObjMeta {
            object_type: p.object_type,
            bonus_type: p.bonus_type,
            blksz: p.datablksz,
            bonus: p.bonus.clone(),
            generation: p.generation,
            maxblkid: p.maxblkid,
        }
    }
}

/// What an object looks like now (open context).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Its id.
    pub id: u64,
    /// Current metadata.
    pub meta: ObjMeta,
    /// Bytes allocated on disk as of the last sync.
    pub used: u64,
    /// Levels of its tree as of the last sync.
    pub nlevels: u8,
}

#[derive(Default, Clone)]
struct TxgDirty {
    blocks: BTreeMap<u64, Arc<AlignedBuf>>,
    frees: Vec<(u64, u64)>,
    meta: Option<ObjMeta>,
    /// The object as it was before this txg is freed whole. When `meta` is
    /// set, the id was claimed again in the same txg: `meta`, `frees` and
    /// `blocks` then describe the new object, built from nothing.
    freed: bool,
}

/// A decoded indirect block with the pointer it was read from.
type CachedIndirect = (BlkPtr, Arc<Vec<BlkPtr>>);

struct ObjectInner {
    phys: DnodePhys,
    meta: ObjMeta,
    /// Decoded indirect blocks of the synced tree, by position, with the
    /// pointer they were read from.
    ind: HashMap<(u8, u64), CachedIndirect>,
    dirty: BTreeMap<u64, TxgDirty>,
}

/// One object in memory.
pub struct Object {
    id: u64,
    inner: Mutex<ObjectInner>,
    /// Serialises multi-block updates by the layers above (ZAP, POSIX).
    user: RwLock<()>,
}

/// A source of a block's current contents.
enum Source {
    Dirty(Arc<AlignedBuf>),
    Zero,
    Tree,
}

struct ObjsetState {
    phys: ObjsetPhys,
    /// Intent log headers set in open context, by txg, not yet synced:
    /// each reaches `phys` when its txg syncs, so that a txg syncing
    /// meanwhile never writes a header that goes with a later txg's
    /// allocations or frees (a chain destroyed in txg N+1 must still be
    /// named in txg N, whose space maps still hold its blocks).
    zil_pending: BTreeMap<u64, ZilHeader>,
    free_ids: BTreeSet<u64>,
    freed_in: BTreeMap<u64, Vec<u64>>,
}

/// An object set in memory.
pub struct Objset {
    pool: Pool,
    cache: Arc<BlockCache>,
    name: String,
    policy: Mutex<WritePolicy>,
    state: Mutex<ObjsetState>,
    objects: Mutex<HashMap<u64, Arc<Object>>>,
    dirty: Mutex<BTreeMap<u64, BTreeSet<u64>>>,
    root_bp: Mutex<BlkPtr>,
    max_blksz: Mutex<Option<u32>>,
    read_only: bool,
    zil: crate::zil::Zil,
    /// The dataset this object set belongs to (0: none known), for the
    /// pool's log of blocks with permanent errors.
    owner: std::sync::atomic::AtomicU64,
    /// Unique to this object set in memory: names its objects' read-ahead
    /// streams in the shared cache.
    instance: u64,
}

fn zeros(len: usize) -> Arc<AlignedBuf> {
    Arc::new(AlignedBuf::zeroed(len))
}

/// The current contents of one block of an object, shared without a copy:
/// the dirty buffer of an open txg, or the ARC's copy of the block on disk.
#[derive(Clone)]
pub enum BlockRef {
    /// Changed in a txg not yet synced (or zeros).
    Dirty(Arc<AlignedBuf>),
    /// As on disk, from the block cache.
    Cached(Arc<crate::cache::CachedBlock>),
}

impl std::ops::Deref for BlockRef {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            BlockRef::Dirty(b) => b,
            BlockRef::Cached(b) => b,
        }
    }
}

fn decode_indirect(b: &[u8]) -> Result<Vec<BlkPtr>> {
    let n = b.len() / BLKPTR_SIZE;
    let mut v = Vec::with_capacity(n);
    for i in 0..n {
        v.push(BlkPtr::decode(&b[i * BLKPTR_SIZE..(i + 1) * BLKPTR_SIZE])?);
    }
    Ok(v)
}

fn encode_indirect(v: &[BlkPtr]) -> AlignedBuf {
    let mut b = AlignedBuf::zeroed(v.len() * BLKPTR_SIZE);
    for (i, bp) in v.iter().enumerate() {
        if !bp.is_hole() || bp.birth != 0 {
            bp.encode_into(&mut b[i * BLKPTR_SIZE..(i + 1) * BLKPTR_SIZE]);
        }
    }
    b
}

fn in_ranges(ranges: &[(u64, u64)], blkid: u64) -> bool {
    ranges.iter().any(|&(a, b)| blkid >= a && blkid < b)
}

impl Objset {
    /// Opens the object set whose root is `bp` (a hole: a new, empty one of
    /// `os_type`).
    pub fn open(
        pool: Pool,
        cache: Arc<BlockCache>,
        name: &str,
        bp: BlkPtr,
        os_type: ObjsetType,
        read_only: bool,
    ) -> Result<Arc<Objset>> {
        let phys = if bp.is_hole() {
            ObjsetPhys {
                os_type,
                max_obj: 0,
                metadnode: DnodePhys::new(ObjectType::DNODE, DNODE_BLOCK, 0),
                zil: ZilHeader::default(),
            }
        } else {
            ObjsetPhys::decode(&cache.read(&pool, &bp)?)?
        };
        let meta = Object {
            id: META_OBJECT,
            inner: Mutex::new(ObjectInner {
                meta: ObjMeta::of(&phys.metadnode),
                phys: phys.metadnode.clone(),
                ind: HashMap::new(),
                dirty: BTreeMap::new(),
            }),
            user: RwLock::new(()),
        };
        let mut objects = HashMap::new();
        objects.insert(META_OBJECT, Arc::new(meta));
        Ok(Arc::new(Objset {
            pool,
            cache,
            name: name.to_string(),
            policy: Mutex::new(WritePolicy::default()),
            state: Mutex::new(ObjsetState {
                phys,
                zil_pending: BTreeMap::new(),
                free_ids: BTreeSet::new(),
                freed_in: BTreeMap::new(),
            }),
            objects: Mutex::new(objects),
            dirty: Mutex::new(BTreeMap::new()),
            root_bp: Mutex::new(bp),
            max_blksz: Mutex::new(None),
            read_only,
            zil: crate::zil::Zil::new(),
            owner: std::sync::atomic::AtomicU64::new(0),
            instance: {
                static INSTANCES: std::sync::atomic::AtomicU64 =
                    std::sync::atomic::AtomicU64::new(1);
                INSTANCES.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            },
        }))
    }

    /// The name, for messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The pool.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The block cache.
    pub fn cache(&self) -> &Arc<BlockCache> {
        &self.cache
    }

    /// The root block pointer as of the last sync.
    pub fn root_bp(&self) -> BlkPtr {
        *self.root_bp.lock()
    }

    /// The object set's type.
    pub fn os_type(&self) -> ObjsetType {
        self.state.lock().phys.os_type
    }

    /// The intent log header: the newest one set, synced or not.
    pub fn zil_header(&self) -> ZilHeader {
        let st = self.state.lock();
        st.zil_pending
            .values()
            .next_back()
            .copied()
            .unwrap_or(st.phys.zil)
    }

    /// The intent log header as txg `txg` writes it: the synced one with
    /// the changes of txgs up to `txg`.
    fn zil_header_as_of(&self, txg: u64) -> ZilHeader {
        let st = self.state.lock();
        st.zil_pending
            .range(..=txg)
            .next_back()
            .map(|(_, h)| *h)
            .unwrap_or(st.phys.zil)
    }

    /// Sets the intent log header that txg `txg` writes.
    pub fn set_zil_header(&self, txg: u64, zil: ZilHeader) {
        self.state.lock().zil_pending.insert(txg, zil);
        self.mark_dirty(txg, META_OBJECT);
    }

    /// In the syncing context of `txg`: the header changes of txgs up to
    /// `txg` reach the object set's root.
    fn apply_zil_header(&self, txg: u64) {
        let mut st = self.state.lock();
        let later = st.zil_pending.split_off(&(txg + 1));
        let upto = std::mem::replace(&mut st.zil_pending, later);
        if let Some((_, h)) = upto.into_iter().next_back() {
            st.phys.zil = h;
        }
    }

    /// The intent log.
    pub fn zil(&self) -> &crate::zil::Zil {
        &self.zil
    }

    /// Writes every logged change to the intent log and flushes: what
    /// `fsync` waits for.
    pub fn zil_commit(&self) -> Result<()> {
        let read = |obj: u64, off: u64, len: usize| -> Option<Vec<u8>> {
            let mut b = vec![0u8; len];
            self.read(obj, off, &mut b).ok().map(|_| b)
        };
        self.zil
            .commit(&self.pool, &read, &|| self.zil_header(), &|txg, h| {
                self.set_zil_header(txg, h)
            })?;
        if self.zil.written_blocks() >= crate::zil::SYNC_AFTER_BLOCKS {
            self.pool.txg().kick(0);
        }
        Ok(())
    }

    /// At import: marks the blocks of a log chain left by a previous run
    /// allocated (the txgs that allocated them may not have synced) and
    /// records in the header that the chain awaits replay over the tree of
    /// txg `imported`. Returns whether there is a chain.
    pub fn zil_claim(&self, txg: u64, imported: u64) -> Result<bool> {
        let h = self.zil_header();
        if h.first.is_none() || h.claim_txg != 0 {
            return Ok(!h.first.is_none());
        }
        let (blocks, end) = crate::zil::walk_chain(&self.pool, &h);
        for (p, _, _) in &blocks {
            self.pool.claim_dva(txg, &p.dva)?;
        }
        if !end.is_none() {
            self.pool.claim_dva(txg, &end.dva)?;
        }
        self.set_zil_header(
            txg,
            ZilHeader {
                claim_txg: imported.max(1),
                ..h
            },
        );
        Ok(true)
    }

    /// True when the log chain claimed at import holds records newer than
    /// the tree (they must be replayed before the chain may go).
    pub fn zil_needs_replay(&self) -> bool {
        let h = self.zil_header();
        if h.first.is_none() || h.claim_txg == 0 {
            return false;
        }
        let (blocks, _) = crate::zil::walk_chain(&self.pool, &h);
        let whole = blocks
            .iter()
            .rposition(|(_, _, end)| *end)
            .map(|i| i + 1)
            .unwrap_or(0);
        blocks[..whole]
            .iter()
            .any(|(_, recs, _)| recs.iter().any(|r| r.txg > h.claim_txg))
    }

    /// Frees the log chain in `txg` and clears the header: the blocks
    /// written and the one preallocated, or every block of a chain claimed
    /// at import. Its records are dropped: the caller makes sure that the
    /// tree as of `txg` holds what they did, or that it no longer matters.
    pub fn zil_destroy(&self, txg: u64) {
        let h = self.zil_header();
        let mut chain = self.zil.take_chain();
        if chain.is_empty() && !h.first.is_none() && h.claim_txg != 0 {
            // Claimed at import and not replayed: only the disk knows it.
            let (blocks, end) = crate::zil::walk_chain(&self.pool, &h);
            chain = blocks.into_iter().map(|(p, _, _)| p).collect();
            if !end.is_none() {
                chain.push(end);
            }
        }
        for p in &chain {
            self.pool.free_dva(txg, &p.dva);
        }
        if !h.first.is_none() || !chain.is_empty() {
            self.set_zil_header(txg, ZilHeader::default());
        }
    }

    /// Replays a claimed log chain: calls `apply` for every record newer
    /// than the tree, in order, then destroys the chain in `txg`. Returns
    /// the records applied.
    pub fn zil_replay(
        &self,
        txg: u64,
        apply: &mut dyn FnMut(&crate::zil::LogRecord) -> Result<()>,
    ) -> Result<usize> {
        let h = self.zil_header();
        if h.first.is_none() {
            return Ok(0);
        }
        let (blocks, end) = crate::zil::walk_chain(&self.pool, &h);
        let mut n = 0;
        if h.claim_txg != 0 {
            // Only whole commits count.
            let whole = blocks
                .iter()
                .rposition(|(_, _, end)| *end)
                .map(|i| i + 1)
                .unwrap_or(0);
            let mut recs: Vec<&crate::zil::LogRecord> = blocks[..whole]
                .iter()
                .flat_map(|(_, r, _)| r.iter())
                .collect();
            recs.sort_by_key(|r| r.seq);
            for r in recs {
                if r.txg > h.claim_txg {
                    apply(r)?;
                    n += 1;
                }
            }
        } else {
            // A chain of this run (the dataset was mounted before): it
            // continues.
            let last_seq = blocks
                .iter()
                .flat_map(|(_, r, _)| r.iter().map(|x| x.seq))
                .max()
                .unwrap_or(0);
            let written = blocks
                .iter()
                .map(|(p, r, _)| (*p, r.iter().map(|x| x.txg).max().unwrap_or(0)))
                .collect();
            self.zil.adopt(&h, written, end, last_seq);
            return Ok(0);
        }
        for (p, _, _) in &blocks {
            self.pool.free_dva(txg, &p.dva);
        }
        if !end.is_none() {
            self.pool.free_dva(txg, &end.dva);
        }
        self.zil.reset();
        self.set_zil_header(txg, ZilHeader::default());
        Ok(n)
    }

    /// Sets how blocks are written from now on.
    pub fn set_policy(&self, p: WritePolicy) {
        *self.policy.lock() = p;
    }

    /// How blocks are written.
    pub fn policy(&self) -> WritePolicy {
        *self.policy.lock()
    }

    /// True when the object set may not change (a snapshot).
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    fn check_writable(&self) -> Result<()> {
        if self.read_only {
            return Err(DmuError::ReadOnly(self.name.clone()));
        }
        Ok(())
    }

    fn mark_dirty(&self, txg: u64, id: u64) {
        self.dirty.lock().entry(txg).or_default().insert(id);
    }

    /// True when nothing is dirty in `txg`.
    pub fn is_clean(&self, txg: u64) -> bool {
        !self.dirty.lock().contains_key(&txg)
    }

    /// The object `id`, loaded from the metadnode if needed.
    fn object(&self, id: u64) -> Result<Arc<Object>> {
        if let Some(o) = self.objects.lock().get(&id) {
            return Ok(o.clone());
        }
        let block = id / DNODES_PER_BLOCK;
        let data = self.read_block(META_OBJECT, block)?;
        let off = ((id % DNODES_PER_BLOCK) as usize) * DNODE_SIZE;
        let phys = if data.len() >= off + DNODE_SIZE {
            DnodePhys::decode(&data[off..off + DNODE_SIZE])?
        } else {
            DnodePhys::default()
        };
        let obj = Arc::new(Object {
            id,
            inner: Mutex::new(ObjectInner {
                meta: ObjMeta::of(&phys),
                phys,
                ind: HashMap::new(),
                dirty: BTreeMap::new(),
            }),
            user: RwLock::new(()),
        });
        let mut objects = self.objects.lock();
        if objects.len() > MAX_CACHED_OBJECTS {
            // Drop clean objects nobody holds.
            objects.retain(|&k, o| {
                k == META_OBJECT || Arc::strong_count(o) > 1 || !o.inner.lock().dirty.is_empty()
            });
        }
        Ok(objects.entry(id).or_insert(obj).clone())
    }

    /// An existing object, or NotFound.
    fn existing(&self, id: u64) -> Result<Arc<Object>> {
        let o = self.object(id)?;
        if o.inner.lock().meta.object_type == ObjectType::NONE {
            return Err(DmuError::NotFound(format!("{}: object {id}", self.name)));
        }
        Ok(o)
    }

    /// Runs `f` holding object `id`'s lock for the layers above: shared
    /// when `exclusive` is false.
    pub fn with_lock<R>(&self, id: u64, exclusive: bool, f: impl FnOnce() -> R) -> Result<R> {
        let o = self.object(id)?;
        Ok(if exclusive {
            let _g = o.user.write();
            f()
        } else {
            let _g = o.user.read();
            f()
        })
    }

    /// Current information about object `id`.
    pub fn info(&self, id: u64) -> Result<ObjectInfo> {
        let o = self.existing(id)?;
        let i = o.inner.lock();
        Ok(ObjectInfo {
            id,
            meta: i.meta.clone(),
            used: i.phys.used,
            nlevels: i.phys.nlevels,
        })
    }

    /// True when object `id` exists.
    pub fn exists(&self, id: u64) -> Result<bool> {
        Ok(self.object(id)?.inner.lock().meta.object_type != ObjectType::NONE)
    }

    /// Creates an object in `txg`; returns its id.
    pub fn create_object(
        &self,
        txg: u64,
        object_type: ObjectType,
        blksz: u32,
        bonus_type: u8,
        bonus: &[u8],
    ) -> Result<u64> {
        self.check_writable()?;
        let id = {
            let mut st = self.state.lock();
            match st.free_ids.pop_first() {
                Some(id) => id,
                None => {
                    st.phys.max_obj += 1;
                    st.phys.max_obj
                }
            }
        };
        self.claim_object(txg, id, object_type, blksz, bonus_type, bonus)?;
        Ok(id)
    }

    /// Creates object `id` (which must be free) in `txg`.
    pub fn claim_object(
        &self,
        txg: u64,
        id: u64,
        object_type: ObjectType,
        blksz: u32,
        bonus_type: u8,
        bonus: &[u8],
    ) -> Result<()> {
        self.check_writable()?;
        if id == META_OBJECT || object_type == ObjectType::NONE {
            return Err(DmuError::Invalid(format!(
                "cannot create object {id} of type {}",
                object_type.name()
            )));
        }
        if bonus.len() > crate::dnode::BONUS_SIZE {
            return Err(DmuError::TooLarge(format!(
                "bonus of {} bytes",
                bonus.len()
            )));
        }
        let blksz = blksz.clamp(512, basin_pool::blkptr::MAX_BLOCK_SIZE) / 512 * 512;
        {
            let mut st = self.state.lock();
            st.free_ids.remove(&id);
            if id > st.phys.max_obj {
                st.phys.max_obj = id;
            }
        }
        let o = self.object(id)?;
        let mut i = o.inner.lock();
        if i.meta.object_type != ObjectType::NONE {
            return Err(DmuError::Exists(format!("{}: object {id}", self.name)));
        }
        i.meta = ObjMeta {
            object_type,
            bonus_type,
            blksz,
            bonus: bonus.to_vec(),
            generation: txg,
            maxblkid: 0,
        };
        let meta = i.meta.clone();
        let d = i.dirty.entry(txg).or_default();
        // A new object starts empty, whatever the slot held before.
        d.frees.push((0, u64::MAX));
        d.blocks.clear();
        d.meta = Some(meta);
        drop(i);
        self.mark_dirty(txg, id);
        Ok(())
    }

    /// Frees object `id` and all its blocks in `txg`.
    pub fn free_object(&self, txg: u64, id: u64) -> Result<()> {
        self.check_writable()?;
        let o = self.existing(id)?;
        let mut i = o.inner.lock();
        i.meta.object_type = ObjectType::NONE;
        i.meta.maxblkid = 0;
        i.meta.bonus.clear();
        let d = i.dirty.entry(txg).or_default();
        d.freed = true;
        d.blocks.clear();
        d.meta = None;
        drop(i);
        self.mark_dirty(txg, id);
        Ok(())
    }

    /// Replaces the bonus of object `id`.
    pub fn set_bonus(&self, txg: u64, id: u64, bonus: &[u8]) -> Result<()> {
        self.check_writable()?;
        if bonus.len() > crate::dnode::BONUS_SIZE {
            return Err(DmuError::TooLarge(format!(
                "bonus of {} bytes",
                bonus.len()
            )));
        }
        let o = self.existing(id)?;
        let mut i = o.inner.lock();
        i.meta.bonus = bonus.to_vec();
        let meta = i.meta.clone();
        i.dirty.entry(txg).or_default().meta = Some(meta);
        drop(i);
        self.mark_dirty(txg, id);
        Ok(())
    }

    /// The bonus of object `id`.
    pub fn bonus(&self, id: u64) -> Result<Vec<u8>> {
        Ok(self.existing(id)?.inner.lock().meta.bonus.clone())
    }

    /// Where the current contents of block `blkid` of `o` are.
    fn source(i: &ObjectInner, blkid: u64) -> Source {
        for d in i.dirty.values().rev() {
            // Blocks of a freed record were written after a new claim.
            if let Some(b) = d.blocks.get(&blkid) {
                return Source::Dirty(b.clone());
            }
            if d.freed || in_ranges(&d.frees, blkid) {
                return Source::Zero;
            }
        }
        if blkid > i.phys.maxblkid || i.phys.object_type == ObjectType::NONE {
            Source::Zero
        } else {
            Source::Tree
        }
    }

    /// The pointer to block `blkid` at `level` in the synced tree of `o`.
    fn find_bp(&self, o: &Object, level: u8, blkid: u64) -> Result<BlkPtr> {
        let (top, nlevels) = {
            let i = o.inner.lock();
            (i.phys.blkptr, i.phys.nlevels)
        };
        if level >= nlevels {
            return Ok(BlkPtr::default());
        }
        if blkid >= DnodePhys::span(nlevels - 1 - level) {
            return Ok(BlkPtr::default());
        }
        let mut bp = top;
        let mut l = nlevels - 1;
        while l > level {
            if bp.is_hole() {
                return Ok(BlkPtr::default());
            }
            let idx = blkid >> (10 * (l - level) as u64);
            let ind = self.indirect(o, l, idx, &bp)?;
            let child = (blkid >> (10 * (l - level - 1) as u64)) & (PTRS_PER_INDIRECT - 1);
            bp = ind[child as usize];
            l -= 1;
        }
        Ok(bp)
    }

    /// The decoded indirect block (`level`, `index`) of `o`, whose pointer is `bp`.
    fn indirect(&self, o: &Object, level: u8, index: u64, bp: &BlkPtr) -> Result<Arc<Vec<BlkPtr>>> {
        if let Some((p, v)) = o.inner.lock().ind.get(&(level, index)) {
            if p == bp {
                return Ok(v.clone());
            }
        }
        let b = self.cache.read(&self.pool, bp)?;
        let v = Arc::new(decode_indirect(&b)?);
        if v.len() != PTRS_PER_INDIRECT as usize {
            return Err(DmuError::corrupt(
                "indirect block",
                format!("{} pointers", v.len()),
            ));
        }
        o.inner.lock().ind.insert((level, index), (*bp, v.clone()));
        Ok(v)
    }

    /// The current contents of block `blkid` of object `id`.
    pub fn read_block(&self, id: u64, blkid: u64) -> Result<BlockRef> {
        let o = self.object(id)?;
        self.read_obj_block(&o, blkid)
    }

    /// Names the dataset this object set belongs to: blocks of it that
    /// cannot be read correctly from any copy go to the pool's error log
    /// (`zpool status -v`).
    pub fn set_owner(&self, dataset: u64) {
        self.owner
            .store(dataset, std::sync::atomic::Ordering::Relaxed);
    }

    /// Notes a failed read of block `blkid` of object `id` in the pool's
    /// error log when the data is lost (checksum or I/O on every copy).
    fn note_lost(&self, id: u64, blkid: u64, e: &DmuError) {
        let owner = self.owner.load(std::sync::atomic::Ordering::Relaxed);
        let lost = matches!(
            e,
            DmuError::Pool(PoolError::Checksum(_) | PoolError::Unreadable(_))
        );
        if owner != 0 && lost {
            self.pool.note_error(basin_pool::scan::BlockOwner {
                objset: owner,
                object: id,
                level: 0,
                blkid,
            });
        }
    }

    fn read_obj_block(&self, o: &Object, blkid: u64) -> Result<BlockRef> {
        self.read_obj_block_inner(o, blkid)
            .inspect_err(|e| self.note_lost(o.id, blkid, e))
    }

    fn read_obj_block_inner(&self, o: &Object, blkid: u64) -> Result<BlockRef> {
        let (src, blksz) = {
            let i = o.inner.lock();
            (Self::source(&i, blkid), i.meta.blksz.max(i.phys.datablksz))
        };
        match src {
            Source::Dirty(b) => Ok(BlockRef::Dirty(b)),
            Source::Zero => Ok(BlockRef::Dirty(zeros(blksz as usize))),
            Source::Tree => {
                let bp = self.find_bp(o, 0, blkid)?;
                if bp.is_hole() {
                    let len = if bp.lsize > 0 { bp.lsize } else { blksz };
                    return Ok(BlockRef::Dirty(zeros(len as usize)));
                }
                Ok(BlockRef::Cached(self.cache.read(&self.pool, &bp)?))
            }
        }
    }

    /// Calls `f` with the current contents of block `blkid` of object
    /// `id`, without copying them.
    pub fn with_block<R>(&self, id: u64, blkid: u64, f: impl FnOnce(&[u8]) -> R) -> Result<R> {
        let o = self.existing(id)?;
        let b = self.read_obj_block(&o, blkid)?;
        Ok(f(&b))
    }

    /// Changes `data.len()` bytes at `in_blk` of block `blkid` in place when
    /// the block is already dirty in `txg` and nobody else holds its
    /// buffer (repeated small writes to one block in a txg then cost no
    /// copy of the block). False when it is not.
    fn write_in_place(o: &Object, txg: u64, blkid: u64, in_blk: usize, data: &[u8]) -> bool {
        let mut i = o.inner.lock();
        let blksz = i.meta.blksz as usize;
        let Some(d) = i.dirty.get_mut(&txg) else {
            return false;
        };
        let Some(buf) = d.blocks.get_mut(&blkid).and_then(Arc::get_mut) else {
            return false;
        };
        if buf.len() != blksz || in_blk + data.len() > blksz {
            return false;
        }
        buf[in_blk..in_blk + data.len()].copy_from_slice(data);
        i.meta.maxblkid = i.meta.maxblkid.max(blkid);
        let meta = i.meta.clone();
        if let Some(d) = i.dirty.get_mut(&txg) {
            d.meta = Some(meta);
        }
        true
    }

    /// True when block `blkid` of object `id` holds data (written, not a
    /// hole), for SEEK_DATA and SEEK_HOLE.
    pub fn block_has_data(&self, id: u64, blkid: u64) -> Result<bool> {
        let o = self.existing(id)?;
        let src = {
            let i = o.inner.lock();
            Self::source(&i, blkid)
        };
        match src {
            Source::Dirty(_) => Ok(true),
            Source::Zero => Ok(false),
            Source::Tree => Ok(!self.find_bp(&o, 0, blkid)?.is_hole()),
        }
    }

    /// The read-ahead stream of object `id` in the shared cache.
    fn stream(&self, id: u64) -> u64 {
        self.instance.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ id
    }

    /// Tells the read-ahead of a read of blocks `first..first + count` of
    /// `o`, and issues the reads it asks for: blocks on disk, not dirty,
    /// within the object.
    fn read_ahead(&self, o: &Object, first: u64, count: u64) {
        let Some(ahead) = self.cache.note_read(self.stream(o.id), first, count) else {
            return;
        };
        let last = o.inner.lock().phys.maxblkid;
        for blkid in ahead.start..ahead.end.min(last.saturating_add(1)) {
            let on_disk = matches!(Self::source(&o.inner.lock(), blkid), Source::Tree);
            if !on_disk {
                continue;
            }
            match self.find_bp(o, 0, blkid) {
                Ok(bp) => self.cache.read_ahead(&self.pool, bp),
                // The demand read will meet the error and report it.
                Err(_) => break,
            }
        }
    }

    /// Reads `buf.len()` bytes of object `id` at `offset` (holes and
    /// unwritten space read as zeros).
    pub fn read(&self, id: u64, offset: u64, buf: &mut [u8]) -> Result<()> {
        let o = self.existing(id)?;
        let blksz = o.inner.lock().meta.blksz as u64;
        if !buf.is_empty() {
            let first = offset / blksz;
            let last = (offset + buf.len() as u64 - 1) / blksz;
            self.read_ahead(&o, first, last - first + 1);
        }
        let mut done = 0usize;
        while done < buf.len() {
            let pos = offset + done as u64;
            let blkid = pos / blksz;
            let in_blk = (pos % blksz) as usize;
            let n = (blksz as usize - in_blk).min(buf.len() - done);
            let b = self.read_obj_block(&o, blkid)?;
            let have = b.len().saturating_sub(in_blk).min(n);
            buf[done..done + have].copy_from_slice(&b[in_blk..in_blk + have]);
            buf[done + have..done + n].fill(0);
            done += n;
        }
        Ok(())
    }

    /// Writes `data` into object `id` at `offset` in `txg`.
    pub fn write(&self, txg: u64, id: u64, offset: u64, data: &[u8]) -> Result<()> {
        self.check_writable()?;
        if data.is_empty() {
            return Ok(());
        }
        let o = self.existing(id)?;
        let end = offset
            .checked_add(data.len() as u64)
            .ok_or_else(|| DmuError::Invalid("write beyond the largest offset".into()))?;
        self.maybe_grow_block(&o, txg, end)?;
        let blksz = o.inner.lock().meta.blksz as u64;
        let mut done = 0usize;
        while done < data.len() {
            let pos = offset + done as u64;
            let blkid = pos / blksz;
            let in_blk = (pos % blksz) as usize;
            let n = (blksz as usize - in_blk).min(data.len() - done);
            if n < blksz as usize
                && Self::write_in_place(&o, txg, blkid, in_blk, &data[done..done + n])
            {
                done += n;
                continue;
            }
            let new = if n == blksz as usize {
                AlignedBuf::from_slice_padded(&data[done..done + n], n)
            } else {
                let cur = self.read_obj_block(&o, blkid)?;
                let keep = cur.len().min(blksz as usize);
                let mut b = AlignedBuf::from_slice_padded(&cur[..keep], blksz as usize);
                b[in_blk..in_blk + n].copy_from_slice(&data[done..done + n]);
                b
            };
            let mut i = o.inner.lock();
            i.meta.maxblkid = i.meta.maxblkid.max(blkid);
            let meta = i.meta.clone();
            let d = i.dirty.entry(txg).or_default();
            d.blocks.insert(blkid, Arc::new(new));
            d.meta = Some(meta);
            done += n;
        }
        self.mark_dirty(txg, id);
        Ok(())
    }

    /// Grows the block size of a single-block object to hold `end` bytes,
    /// up to its maximum (`max_blksz` of the write policy's caller).
    fn maybe_grow_block(&self, o: &Object, txg: u64, end: u64) -> Result<()> {
        let (blksz, maxblkid) = {
            let i = o.inner.lock();
            (i.meta.blksz as u64, i.meta.maxblkid)
        };
        let max = self.max_blksz_of(o);
        if maxblkid > 0 || end <= blksz || blksz >= max as u64 {
            return Ok(());
        }
        // Only while the object has no block beyond the first on disk.
        if o.inner.lock().phys.maxblkid > 0 {
            return Ok(());
        }
        let want = end.next_power_of_two().clamp(512, max as u64) as u32;
        let cur = self.read_obj_block(o, 0)?;
        let keep = cur.len().min(want as usize);
        let b = AlignedBuf::from_slice_padded(&cur[..keep], want as usize);
        let mut i = o.inner.lock();
        i.meta.blksz = want;
        let meta = i.meta.clone();
        let d = i.dirty.entry(txg).or_default();
        d.blocks.insert(0, Arc::new(b));
        d.meta = Some(meta);
        drop(i);
        self.mark_dirty(txg, o.id);
        Ok(())
    }

    fn max_blksz_of(&self, o: &Object) -> u32 {
        let i = o.inner.lock();
        match i.meta.object_type {
            ObjectType::PLAIN_FILE => self
                .max_blksz
                .lock()
                .map(|m| m.max(i.meta.blksz))
                .unwrap_or(i.meta.blksz),
            _ => i.meta.blksz,
        }
    }

    /// Sets the block size files grow to (the `recordsize`).
    pub fn set_max_blksz(&self, blksz: u32) {
        *self.max_blksz.lock() = Some(blksz);
    }

    /// Frees `[offset, offset+len)` of object `id` in `txg` (to the end when
    /// `len` is `u64::MAX`): whole blocks become holes, partial ones are
    /// zeroed.
    pub fn free_range(&self, txg: u64, id: u64, offset: u64, len: u64) -> Result<()> {
        self.check_writable()?;
        let o = self.existing(id)?;
        let blksz = o.inner.lock().meta.blksz as u64;
        let end = offset.saturating_add(len);
        let first_full = offset.div_ceil(blksz);
        let last_full = if len == u64::MAX {
            u64::MAX
        } else {
            end / blksz
        };
        // Partial blocks at the edges are zeroed in place.
        let head_blk = offset / blksz;
        if !offset.is_multiple_of(blksz) {
            let stop = end.min((head_blk + 1) * blksz);
            if stop > offset {
                self.zero_within(&o, txg, offset, stop)?;
            }
        }
        if len != u64::MAX
            && !end.is_multiple_of(blksz)
            && end / blksz >= first_full
            && end > offset
        {
            let start = (end / blksz) * blksz;
            if start >= offset {
                self.zero_within(&o, txg, start, end)?;
            }
        }
        if last_full > first_full {
            let mut i = o.inner.lock();
            let d = i.dirty.entry(txg).or_default();
            d.blocks.retain(|&b, _| b < first_full || b >= last_full);
            d.frees.push((first_full, last_full));
            if last_full == u64::MAX {
                i.meta.maxblkid = first_full.saturating_sub(1);
            }
            let meta = i.meta.clone();
            i.dirty.entry(txg).or_default().meta = Some(meta);
        }
        self.mark_dirty(txg, id);
        Ok(())
    }

    fn zero_within(&self, o: &Arc<Object>, txg: u64, from: u64, to: u64) -> Result<()> {
        let blksz = o.inner.lock().meta.blksz as u64;
        let blkid = from / blksz;
        let cur = self.read_obj_block(o, blkid)?;
        if cur.iter().all(|&b| b == 0) {
            return Ok(());
        }
        let keep = cur.len().min(blksz as usize);
        let mut b = AlignedBuf::from_slice_padded(&cur[..keep], blksz as usize);
        let a = (from % blksz) as usize;
        let z = ((to - 1) % blksz) as usize + 1;
        b[a..z].fill(0);
        let mut i = o.inner.lock();
        let meta = i.meta.clone();
        let d = i.dirty.entry(txg).or_default();
        d.blocks.insert(blkid, Arc::new(b));
        d.meta = Some(meta);
        Ok(())
    }

    /// Every object id in use (a scan of the dnode array), for checkers.
    pub fn object_ids(&self) -> Result<Vec<u64>> {
        let max = self.state.lock().phys.max_obj;
        let mut out = Vec::new();
        for id in 1..=max {
            if self.exists(id)? {
                out.push(id);
            }
        }
        Ok(out)
    }

    /// Highest object id allocated.
    pub fn max_object(&self) -> u64 {
        self.state.lock().phys.max_obj
    }

    /// Every block pointer of object `id`'s synced tree (for checkers and
    /// destroy), depth first.
    pub fn object_blocks(&self, id: u64, out: &mut Vec<BlkPtr>) -> Result<()> {
        let o = self.object(id)?;
        let (top, nlevels) = {
            let i = o.inner.lock();
            (i.phys.blkptr, i.phys.nlevels)
        };
        self.walk(&top, nlevels - 1, 0, &mut |bp| {
            out.push(*bp);
            true
        })
    }

    /// Calls `visit(bp, object, level, blkid)` for every block of the
    /// synced tree (the root block as object 0) whose birth is at least
    /// `min_birth`; subtrees born earlier are skipped whole. A block that
    /// cannot be read is still visited, but not descended into: the scan
    /// that asked will find it damaged.
    pub fn scan_blocks(
        &self,
        min_birth: u64,
        visit: &mut dyn FnMut(&BlkPtr, u64, u8, u64),
    ) -> Result<()> {
        let root = self.root_bp();
        if root.is_hole() || root.birth < min_birth {
            return Ok(());
        }
        visit(&root, 0, 0, 0);
        let (top, nlevels) = {
            let st = self.state.lock();
            (st.phys.metadnode.blkptr, st.phys.metadnode.nlevels)
        };
        let mut dnode_blocks = Vec::new();
        self.scan_tree(
            &top,
            nlevels.saturating_sub(1),
            0,
            min_birth,
            &mut |bp, level, blkid| {
                visit(bp, 0, level, blkid);
                if level == 0 {
                    dnode_blocks.push((*bp, blkid));
                }
            },
        );
        for (b, blkid) in dnode_blocks {
            let Ok(data) = self.cache.read(&self.pool, &b) else {
                continue;
            };
            let per_block = (data.len() / DNODE_SIZE) as u64;
            for (i, chunk) in data.chunks(DNODE_SIZE).enumerate() {
                let Ok(d) = DnodePhys::decode(chunk) else {
                    continue;
                };
                if d.is_free() {
                    continue;
                }
                let object = blkid * per_block + i as u64;
                self.scan_tree(
                    &d.blkptr,
                    d.nlevels.saturating_sub(1),
                    0,
                    min_birth,
                    &mut |bp, level, id| visit(bp, object, level, id),
                );
            }
        }
        Ok(())
    }

    fn scan_tree(
        &self,
        bp: &BlkPtr,
        level: u8,
        blkid: u64,
        min_birth: u64,
        f: &mut dyn FnMut(&BlkPtr, u8, u64),
    ) {
        if bp.is_hole() || bp.birth < min_birth {
            return;
        }
        f(bp, level, blkid);
        if level == 0 {
            return;
        }
        let Ok(b) = self.cache.read(&self.pool, bp) else {
            return;
        };
        let Ok(children) = decode_indirect(&b) else {
            return;
        };
        let fanout = children.len() as u64;
        for (i, child) in children.iter().enumerate() {
            self.scan_tree(child, level - 1, blkid * fanout + i as u64, min_birth, f);
        }
    }

    /// Every block of the synced tree born after txg `after` (the metadnode's
    /// and every object's), not counting the root block. Subtrees born
    /// earlier are skipped whole, and so are dnode blocks born earlier
    /// (their objects are unchanged): the cost is what changed.
    pub fn blocks_born_after(&self, after: u64) -> Result<Vec<BlkPtr>> {
        let (top, nlevels) = {
            let st = self.state.lock();
            (st.phys.metadnode.blkptr, st.phys.metadnode.nlevels)
        };
        let mut out = Vec::new();
        let mut dnode_blocks = Vec::new();
        self.walk_level(&top, nlevels - 1, &mut |bp, level| {
            if bp.birth <= after {
                return false;
            }
            out.push(*bp);
            if level == 0 {
                dnode_blocks.push(*bp);
            }
            true
        })?;
        for b in dnode_blocks {
            let data = self.cache.read(&self.pool, &b)?;
            for chunk in data.chunks(DNODE_SIZE) {
                let d = DnodePhys::decode(chunk)?;
                if d.is_free() {
                    continue;
                }
                self.walk_level(&d.blkptr, d.nlevels - 1, &mut |bp, _| {
                    if bp.birth <= after {
                        return false;
                    }
                    out.push(*bp);
                    true
                })?;
            }
        }
        Ok(out)
    }

    /// Walks a subtree calling `f(bp, level)`; `f` returns false to skip the
    /// pointer's children.
    fn walk_level(
        &self,
        bp: &BlkPtr,
        level: u8,
        f: &mut dyn FnMut(&BlkPtr, u8) -> bool,
    ) -> Result<()> {
        if bp.is_hole() || !f(bp, level) || level == 0 {
            return Ok(());
        }
        let b = self.cache.read(&self.pool, bp)?;
        for child in decode_indirect(&b)? {
            self.walk_level(&child, level - 1, f)?;
        }
        Ok(())
    }

    /// Walks the subtree under `bp` at `level`, calling `f` on every
    /// non-hole pointer; `f` returns false to skip a pointer's children.
    pub fn walk(
        &self,
        bp: &BlkPtr,
        level: u8,
        _index: u64,
        f: &mut dyn FnMut(&BlkPtr) -> bool,
    ) -> Result<()> {
        if bp.is_hole() {
            return Ok(());
        }
        if !f(bp) || level == 0 {
            return Ok(());
        }
        let b = self.cache.read(&self.pool, bp)?;
        for child in decode_indirect(&b)? {
            self.walk(&child, level - 1, 0, f)?;
        }
        Ok(())
    }

    // ---- syncing context ----

    /// Writes everything dirty in `txg`; returns the new root pointer, or
    /// `None` when nothing changed.
    pub fn sync(&self, txg: u64, acct: &dyn BlockAccounting) -> Result<Option<BlkPtr>> {
        // The intent log first: blocks whose records are durable go, and
        // the header follows the chain.
        if !self.read_only {
            if let Some(h) = self.zil.sync(&self.pool, txg, self.zil_header_as_of(txg)) {
                self.set_zil_header(txg, h);
            }
        }
        self.apply_zil_header(txg);
        let ids: Vec<u64> = match self.dirty.lock().remove(&txg) {
            Some(s) => s.into_iter().filter(|&i| i != META_OBJECT).collect(),
            None => return Ok(None),
        };
        let policy = self.policy();
        // Phase 1: snapshot each object's changes; write all data blocks.
        let mut jobs = Vec::new();
        for id in &ids {
            let o = self.object(*id)?;
            let (phys, d) = {
                let i = o.inner.lock();
                (
                    i.phys.clone(),
                    i.dirty.get(&txg).cloned().unwrap_or_default(),
                )
            };
            jobs.push((o, phys, d));
        }
        let mut writes = Vec::new();
        let mut slots = Vec::new();
        for (j, (_, phys, d)) in jobs.iter().enumerate() {
            if d.freed && d.meta.is_none() {
                continue;
            }
            let ty = d
                .meta
                .as_ref()
                .map(|m| m.object_type)
                .unwrap_or(phys.object_type);
            for (&blkid, data) in &d.blocks {
                // The dirty buffer itself goes to the devices: nobody
                // changes it any more (a writer in a later txg copies it).
                writes.push((
                    BlockData::Shared(data.clone()),
                    self.props(ty, 0, 1, &policy),
                ));
                slots.push((j, blkid));
            }
        }
        let results = self.pool.write_blocks_of(txg, writes);
        let mut new_l0: Vec<BTreeMap<u64, BlkPtr>> = vec![BTreeMap::new(); jobs.len()];
        for ((j, blkid), r) in slots.into_iter().zip(results) {
            let bp = r?;
            acct.born(&bp, txg);
            // What was just written is what is read next (a partial write
            // of the block, a directory's next change, a read after the
            // write): it stays in the ARC, as the buffer already in memory.
            if let Some(data) = jobs[j].2.blocks.get(&blkid) {
                self.cache.insert(&self.pool, &bp, data.clone());
            }
            new_l0[j].insert(blkid, bp);
        }
        // Phase 2: rebuild each object's tree and put its dnode in the
        // metadnode.
        for ((o, phys, d), l0) in jobs.into_iter().zip(new_l0) {
            let new_phys = self.sync_object(&o, txg, phys, &d, l0, acct, &policy)?;
            // The dnode reaches the metadnode before the object forgets its
            // dirty record, so that a reload in between sees the new one.
            self.write_dnode(txg, o.id, &new_phys)?;
            self.install(&o, txg, new_phys);
            if d.freed && d.meta.is_none() {
                self.state
                    .lock()
                    .freed_in
                    .entry(txg)
                    .or_default()
                    .push(o.id);
            }
        }
        // The metadnode last: its data is the dnodes just written.
        let meta = self.object(META_OBJECT)?;
        let (mphys, md) = {
            let i = meta.inner.lock();
            (
                i.phys.clone(),
                i.dirty.get(&txg).cloned().unwrap_or_default(),
            )
        };
        let writes: Vec<_> = md
            .blocks
            .values()
            .map(|b| {
                (
                    BlockData::Shared(b.clone()),
                    self.props(ObjectType::DNODE, 0, 1, &policy),
                )
            })
            .collect();
        let mut l0 = BTreeMap::new();
        for (blkid, r) in md.blocks.keys().zip(self.pool.write_blocks_of(txg, writes)) {
            let bp = r?;
            acct.born(&bp, txg);
            l0.insert(*blkid, bp);
        }
        let new_meta = self.sync_object(&meta, txg, mphys, &md, l0, acct, &policy)?;
        self.install(&meta, txg, new_meta.clone());
        // The root block.
        let root = {
            let mut st = self.state.lock();
            st.phys.metadnode = new_meta;
            st.phys.encode()
        };
        debug_assert_eq!(root.len(), OBJSET_PHYS_SIZE);
        let props = self.props(ObjectType::OBJSET, 0, 1, &policy);
        let bp =
            self.pool
                .write_block(txg, AlignedBuf::from_slice_padded(&root, root.len()), props)?;
        acct.born(&bp, txg);
        let old = std::mem::replace(&mut *self.root_bp.lock(), bp);
        acct.killed(&old, txg);
        Ok(Some(bp))
    }

    /// Called once `txg` has synced: object ids freed in it become reusable.
    pub fn synced(&self, txg: u64) {
        let mut st = self.state.lock();
        let ready: Vec<u64> = st
            .freed_in
            .range(..=txg)
            .flat_map(|(_, v)| v.clone())
            .collect();
        st.freed_in = st.freed_in.split_off(&(txg + 1));
        st.free_ids.extend(ready);
    }

    fn props(&self, ty: ObjectType, level: u8, fill: u64, p: &WritePolicy) -> WriteProps {
        let meta = level > 0 || ty.is_metadata();
        WriteProps {
            checksum: p.checksum,
            compression: if meta {
                Compression::Lz4
            } else {
                p.compression
            },
            copies: if meta {
                (p.copies + 1).min(MAX_COPIES as u8)
            } else {
                p.copies
            },
            block_type: ty.block_type(),
            level,
            fill,
            class: IoClass::AsyncWrite,
            tenant: p.tenant,
        }
    }

    /// Puts the new dnode of object `id` into the metadnode's dirty data.
    fn write_dnode(&self, txg: u64, id: u64, phys: &DnodePhys) -> Result<()> {
        let meta = self.object(META_OBJECT)?;
        let blkid = id / DNODES_PER_BLOCK;
        let off = ((id % DNODES_PER_BLOCK) as usize) * DNODE_SIZE;
        {
            // Most dnodes of a txg share their block with others of it.
            let mut i = meta.inner.lock();
            if let Some(buf) = i
                .dirty
                .get_mut(&txg)
                .and_then(|d| d.blocks.get_mut(&blkid))
                .and_then(Arc::get_mut)
                .filter(|b| b.len() == DNODE_BLOCK as usize)
            {
                phys.encode_into(&mut buf[off..off + DNODE_SIZE]);
                return Ok(());
            }
        }
        let cur = self.read_obj_block(&meta, blkid)?;
        let keep = cur.len().min(DNODE_BLOCK as usize);
        let mut b = AlignedBuf::from_slice_padded(&cur[..keep], DNODE_BLOCK as usize);
        phys.encode_into(&mut b[off..off + DNODE_SIZE]);
        let mut i = meta.inner.lock();
        i.meta.maxblkid = i.meta.maxblkid.max(blkid);
        let d = i.dirty.entry(txg).or_default();
        d.blocks.insert(blkid, Arc::new(b));
        Ok(())
    }

    /// Installs the synced dnode and drops the txg's dirty record.
    fn install(&self, o: &Object, txg: u64, phys: DnodePhys) {
        let mut i = o.inner.lock();
        i.phys = phys;
        i.dirty.remove(&txg);
    }

    /// Rebuilds the tree of one object for `txg`; returns its new dnode.
    #[allow(clippy::too_many_arguments)]
    fn sync_object(
        &self,
        o: &Object,
        txg: u64,
        mut phys: DnodePhys,
        d: &TxgDirty,
        l0: BTreeMap<u64, BlkPtr>,
        acct: &dyn BlockAccounting,
        policy: &WritePolicy,
    ) -> Result<DnodePhys> {
        let mut tree = TreeEdit::new(self, o, &phys);
        if d.freed {
            tree.free_all(acct, txg)?;
            o.inner.lock().ind.clear();
            if d.meta.is_none() {
                return Ok(DnodePhys::default());
            }
            // Claimed again in the same txg: the new object starts empty.
            phys = DnodePhys::default();
            tree = TreeEdit::new(self, o, &phys);
        }
        let meta = d.meta.clone().unwrap_or_else(|| ObjMeta::of(&phys));
        let mut new = phys.clone();
        new.object_type = meta.object_type;
        new.bonus_type = meta.bonus_type;
        new.bonus = meta.bonus.clone();
        new.generation = meta.generation;
        if meta.blksz != phys.datablksz {
            // Only a single-block object changes block size: its block 0
            // is rewritten below.
            new.datablksz = meta.blksz;
        }
        for &(a, b) in &d.frees {
            tree.free_range(a, b, acct, txg)?;
        }
        let max_new = l0.keys().next_back().copied();
        if let Some(m) = max_new {
            tree.grow_to(m)?;
        }
        for (blkid, bp) in l0 {
            tree.set_l0(blkid, bp, acct, txg)?;
        }
        let (top, nlevels, used, ind) = tree.finish(txg, acct, policy, meta.object_type)?;
        new.blkptr = top;
        new.nlevels = nlevels;
        new.used = used;
        new.maxblkid = match (meta.maxblkid, max_new) {
            (m, Some(x)) => m.max(x),
            (m, None) => m,
        };
        let mut i = o.inner.lock();
        for ((l, idx), v) in ind {
            match v {
                Some((bp, v)) => {
                    i.ind.insert((l, idx), (bp, Arc::new(v)));
                }
                None => {
                    i.ind.remove(&(l, idx));
                }
            }
        }
        Ok(new)
    }
}

/// The new contents of an indirect block after a sync (`None`: a hole now).
type IndirectUpdate = ((u8, u64), Option<(BlkPtr, Vec<BlkPtr>)>);

/// Changes to one object's tree during sync: the indirect blocks touched,
/// decoded, with the bytes born and killed.
struct TreeEdit<'a> {
    os: &'a Objset,
    obj: &'a Object,
    top: BlkPtr,
    nlevels: u8,
    work: BTreeMap<(u8, u64), Vec<BlkPtr>>,
    used: u64,
}

impl<'a> TreeEdit<'a> {
    fn new(os: &'a Objset, obj: &'a Object, phys: &DnodePhys) -> Self {
        TreeEdit {
            os,
            obj,
            top: phys.blkptr,
            nlevels: phys.nlevels,
            work: BTreeMap::new(),
            used: phys.used,
        }
    }

    fn kill(&mut self, bp: &BlkPtr, acct: &dyn BlockAccounting, txg: u64) {
        if !bp.is_hole() {
            self.used = self.used.saturating_sub(bp.asize());
            acct.killed(bp, txg);
        }
    }

    /// The working copy of indirect block (`level`, `index`), loaded on
    /// first use.
    fn load(&mut self, level: u8, index: u64) -> Result<&mut Vec<BlkPtr>> {
        if !self.work.contains_key(&(level, index)) {
            let bp = self.ptr_to(level, index)?;
            let v = if bp.is_hole() {
                vec![BlkPtr::default(); PTRS_PER_INDIRECT as usize]
            } else {
                (*self.os.indirect(self.obj, level, index, &bp)?).clone()
            };
            self.work.insert((level, index), v);
        }
        Ok(self.work.get_mut(&(level, index)).expect("just inserted"))
    }

    /// The pointer to indirect block (`level`, `index`) in the tree as
    /// being edited.
    fn ptr_to(&mut self, level: u8, index: u64) -> Result<BlkPtr> {
        if level + 1 == self.nlevels {
            return Ok(if index == 0 {
                self.top
            } else {
                BlkPtr::default()
            });
        }
        let parent = index / PTRS_PER_INDIRECT;
        let slot = (index % PTRS_PER_INDIRECT) as usize;
        if let Some(p) = self.work.get(&(level + 1, parent)) {
            return Ok(p[slot]);
        }
        let p = self.ptr_to(level + 1, parent)?;
        if p.is_hole() {
            return Ok(BlkPtr::default());
        }
        Ok(self.os.indirect(self.obj, level + 1, parent, &p)?[slot])
    }

    /// Adds levels until block ids up to `maxblkid` fit.
    fn grow_to(&mut self, maxblkid: u64) -> Result<()> {
        let need = DnodePhys::levels_for(maxblkid);
        while self.nlevels < need {
            // The old top becomes entry 0 of a new top indirect block.
            let old_top_level = self.nlevels - 1;
            let mut v = vec![BlkPtr::default(); PTRS_PER_INDIRECT as usize];
            v[0] = self.top;
            // Work entries keep their (level, index): the new level only
            // adds a parent above index 0.
            let _ = old_top_level;
            self.work.insert((self.nlevels, 0), v);
            self.top = BlkPtr::default();
            self.nlevels += 1;
        }
        Ok(())
    }

    /// Points block `blkid` at `bp`, killing what was there.
    fn set_l0(
        &mut self,
        blkid: u64,
        bp: BlkPtr,
        acct: &dyn BlockAccounting,
        txg: u64,
    ) -> Result<()> {
        self.used += bp.asize();
        if self.nlevels == 1 {
            debug_assert_eq!(blkid, 0);
            let old = std::mem::replace(&mut self.top, bp);
            self.kill(&old, acct, txg);
            return Ok(());
        }
        let slot = (blkid % PTRS_PER_INDIRECT) as usize;
        let ind = self.load(1, blkid / PTRS_PER_INDIRECT)?;
        let old = std::mem::replace(&mut ind[slot], bp);
        self.kill(&old, acct, txg);
        Ok(())
    }

    /// Frees block ids `[a, b)`.
    fn free_range(&mut self, a: u64, b: u64, acct: &dyn BlockAccounting, txg: u64) -> Result<()> {
        let total = DnodePhys::span(self.nlevels - 1);
        let b = b.min(total);
        if a >= b {
            return Ok(());
        }
        if self.nlevels == 1 {
            if a == 0 {
                let old = std::mem::take(&mut self.top);
                self.kill_subtree(&old, 0, acct, txg)?;
            }
            return Ok(());
        }
        self.free_in(self.nlevels - 1, 0, a, b, acct, txg)
    }

    /// Frees `[a, b)` under indirect block (`level`, `index`).
    fn free_in(
        &mut self,
        level: u8,
        index: u64,
        a: u64,
        b: u64,
        acct: &dyn BlockAccounting,
        txg: u64,
    ) -> Result<()> {
        let child_span = DnodePhys::span(level - 1);
        let base = index * DnodePhys::span(level);
        if self.ptr_to(level, index)?.is_hole() && !self.work.contains_key(&(level, index)) {
            return Ok(());
        }
        let first = (a.max(base) - base) / child_span;
        let last = ((b.min(base + DnodePhys::span(level)) - base) - 1) / child_span;
        for slot in first..=last {
            let lo = base + slot * child_span;
            let hi = lo + child_span;
            let child = self.load(level, index)?[slot as usize];
            if child.is_hole()
                && !(level > 1
                    && self
                        .work
                        .contains_key(&(level - 1, index * PTRS_PER_INDIRECT + slot)))
            {
                continue;
            }
            if a <= lo && hi <= b {
                // The whole child goes.
                self.drop_work_below(level - 1, index * PTRS_PER_INDIRECT + slot);
                self.kill_subtree(&child, level - 1, acct, txg)?;
                self.load(level, index)?[slot as usize] = BlkPtr::default();
            } else if level > 1 {
                self.free_in(level - 1, index * PTRS_PER_INDIRECT + slot, a, b, acct, txg)?;
            }
        }
        Ok(())
    }

    fn drop_work_below(&mut self, level: u8, index: u64) {
        let mut l = level;
        let mut lo = index;
        let mut hi = index + 1;
        loop {
            let keys: Vec<_> = self.work.range((l, lo)..(l, hi)).map(|(k, _)| *k).collect();
            for k in keys {
                self.work.remove(&k);
            }
            if l <= 1 {
                break;
            }
            l -= 1;
            lo *= PTRS_PER_INDIRECT;
            hi *= PTRS_PER_INDIRECT;
        }
    }

    /// Kills every block under `bp` (which is at `level`).
    fn kill_subtree(
        &mut self,
        bp: &BlkPtr,
        level: u8,
        acct: &dyn BlockAccounting,
        txg: u64,
    ) -> Result<()> {
        if bp.is_hole() {
            return Ok(());
        }
        if level > 0 {
            let b = self.os.cache.read(&self.os.pool, bp)?;
            for child in decode_indirect(&b)? {
                self.kill_subtree(&child, level - 1, acct, txg)?;
            }
        }
        self.kill(bp, acct, txg);
        Ok(())
    }

    /// Kills the whole tree.
    fn free_all(&mut self, acct: &dyn BlockAccounting, txg: u64) -> Result<()> {
        let top = self.top;
        self.kill_subtree(&top, self.nlevels - 1, acct, txg)
    }

    /// Writes the changed indirect blocks bottom-up; returns the new top,
    /// the number of levels and the new contents of every indirect block
    /// touched (`None`: now a hole).
    #[allow(clippy::type_complexity)]
    fn finish(
        mut self,
        txg: u64,
        acct: &dyn BlockAccounting,
        policy: &WritePolicy,
        ty: ObjectType,
    ) -> Result<(BlkPtr, u8, u64, Vec<IndirectUpdate>)> {
        let mut out = Vec::new();
        for level in 1..self.nlevels {
            let keys: Vec<u64> = self
                .work
                .range((level, 0)..(level + 1, 0))
                .map(|(k, _)| k.1)
                .collect();
            if keys.is_empty() {
                continue;
            }
            let mut writes = Vec::new();
            let mut empties = Vec::new();
            for &idx in &keys {
                let v = &self.work[&(level, idx)];
                let fill: u64 = v.iter().map(|b| b.fill).sum();
                if v.iter().all(|b| b.is_hole()) {
                    empties.push(idx);
                } else {
                    writes.push((idx, encode_indirect(v), fill));
                }
            }
            let reqs = writes
                .iter()
                .map(|(_, b, fill)| {
                    (
                        AlignedBuf::from_slice_padded(b, b.len()),
                        self.os.props(ty, level, *fill, policy),
                    )
                })
                .collect();
            let results = self.os.pool.write_blocks(txg, reqs);
            let mut new_ptrs: Vec<(u64, BlkPtr)> = Vec::new();
            for ((idx, _, _), r) in writes.iter().zip(results) {
                let bp = r?;
                acct.born(&bp, txg);
                self.used += bp.asize();
                new_ptrs.push((*idx, bp));
            }
            for idx in empties {
                new_ptrs.push((idx, BlkPtr::default()));
            }
            for (idx, bp) in new_ptrs {
                // Replace the pointer to this indirect block in its parent.
                let old = if level + 1 == self.nlevels {
                    std::mem::replace(&mut self.top, bp)
                } else {
                    let parent = self.load(level + 1, idx / PTRS_PER_INDIRECT)?;
                    let slot = (idx % PTRS_PER_INDIRECT) as usize;
                    std::mem::replace(&mut parent[slot], bp)
                };
                // The old indirect block itself dies (its children were
                // handled one by one).
                self.kill(&old, acct, txg);
                let content = self
                    .work
                    .remove(&(level, idx))
                    .filter(|_| !bp.is_hole())
                    .map(|v| (bp, v));
                out.push(((level, idx), content));
            }
        }
        Ok((self.top, self.nlevels, self.used, out))
    }
}
