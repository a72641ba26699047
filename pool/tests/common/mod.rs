//! A small workload for pool tests: data blocks under one root block that
//! lists them, written through a [`Syncer`] so that each txg commits a new
//! tree, and checked block by block after an import.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;

use basin_pool::blkptr::BLKPTR_SIZE;
use basin_pool::{
    AlignedBuf, BlkPtr, BlockType, ChecksumType, Compression, Pool, Result, Syncer, WriteProps,
};
use parking_lot::Mutex;
use rand::{Rng, RngCore, SeedableRng};

/// Content of data block `id` written with `seed`, `len` bytes.
pub fn content(id: u64, seed: u64, len: usize) -> Vec<u8> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ id.rotate_left(17));
    let mut v = vec![0u8; len];
    if seed.is_multiple_of(3) {
        // Compressible.
        for (i, b) in v.iter_mut().enumerate() {
            *b = ((i / 64) as u8).wrapping_add(seed as u8);
        }
    } else {
        rng.fill_bytes(&mut v);
    }
    v[..8].copy_from_slice(&id.to_le_bytes());
    v[8..16].copy_from_slice(&seed.to_le_bytes());
    v
}

/// The expected contents: id -> (seed, len).
pub type Model = BTreeMap<u64, (u64, usize)>;

#[derive(Default)]
struct Pending {
    writes: Vec<(u64, u64, usize)>,
    frees: Vec<u64>,
}

/// Writes the model's changes at sync time.
pub struct Workload {
    pending: Mutex<Pending>,
    live: Mutex<BTreeMap<u64, (BlkPtr, u64, usize)>>,
    root: Mutex<BlkPtr>,
    pub checksum: ChecksumType,
    pub copies: u8,
}

impl Workload {
    pub fn new() -> Arc<Workload> {
        Arc::new(Workload {
            pending: Mutex::new(Pending::default()),
            live: Mutex::new(BTreeMap::new()),
            root: Mutex::new(BlkPtr::default()),
            checksum: ChecksumType::Blake3,
            copies: 1,
        })
    }

    /// Queues a write of block `id`.
    pub fn write(&self, id: u64, seed: u64, len: usize) {
        self.pending.lock().writes.push((id, seed, len));
    }

    /// Takes over the tree of an imported pool (blocks that no longer read
    /// can still be freed).
    pub fn adopt(&self, pool: &Pool) {
        let root = pool.user_root();
        *self.root.lock() = root;
        if !root.is_hole() {
            *self.live.lock() = decode_root(&pool.read_block(&root).unwrap());
        }
    }

    /// Queues a free of block `id`.
    pub fn free(&self, id: u64) {
        self.pending.lock().frees.push(id);
    }

    /// The model as it will be after the pending changes sync.
    pub fn model_after_pending(&self) -> Model {
        let mut m: Model = self
            .live
            .lock()
            .iter()
            .map(|(k, v)| (*k, (v.1, v.2)))
            .collect();
        let p = self.pending.lock();
        for id in &p.frees {
            m.remove(id);
        }
        for (id, seed, len) in &p.writes {
            m.insert(*id, (*seed, *len));
        }
        m
    }

    /// Random changes: a few writes (new or rewrites) and frees.
    pub fn random_step(&self, rng: &mut impl Rng, next_id: &mut u64) {
        let live: Vec<u64> = self.model_after_pending().keys().copied().collect();
        for _ in 0..rng.gen_range(1..6) {
            let id = if !live.is_empty() && rng.gen_bool(0.3) {
                live[rng.gen_range(0..live.len())]
            } else {
                *next_id += 1;
                *next_id
            };
            let len = 512 * rng.gen_range(1..=64) * if rng.gen_bool(0.1) { 4 } else { 1 };
            self.write(id, rng.gen(), len);
        }
        for _ in 0..rng.gen_range(0..3) {
            if !live.is_empty() {
                self.free(live[rng.gen_range(0..live.len())]);
            }
        }
    }
}

fn encode_root(live: &BTreeMap<u64, (BlkPtr, u64, usize)>) -> Vec<u8> {
    let mut v = Vec::with_capacity(8 + live.len() * (BLKPTR_SIZE + 24));
    v.extend_from_slice(&(live.len() as u64).to_le_bytes());
    for (id, (bp, seed, len)) in live {
        v.extend_from_slice(&id.to_le_bytes());
        v.extend_from_slice(&seed.to_le_bytes());
        v.extend_from_slice(&(*len as u64).to_le_bytes());
        v.extend_from_slice(&bp.encode());
    }
    let n = v.len().div_ceil(512) * 512;
    v.resize(n, 0);
    v
}

/// Decodes a root block into id -> (bp, seed, len).
pub fn decode_root(b: &[u8]) -> BTreeMap<u64, (BlkPtr, u64, usize)> {
    let n = u64::from_le_bytes(b[..8].try_into().unwrap()) as usize;
    let mut out = BTreeMap::new();
    let mut o = 8;
    for _ in 0..n {
        let id = u64::from_le_bytes(b[o..o + 8].try_into().unwrap());
        let seed = u64::from_le_bytes(b[o + 8..o + 16].try_into().unwrap());
        let len = u64::from_le_bytes(b[o + 16..o + 24].try_into().unwrap()) as usize;
        let bp = BlkPtr::decode(&b[o + 24..o + 24 + BLKPTR_SIZE]).unwrap();
        out.insert(id, (bp, seed, len));
        o += 24 + BLKPTR_SIZE;
    }
    out
}

impl Syncer for Workload {
    fn sync(&self, pool: &Pool, txg: u64) -> Result<Option<BlkPtr>> {
        let p = std::mem::take(&mut *self.pending.lock());
        if p.writes.is_empty() && p.frees.is_empty() {
            return Ok(None);
        }
        let mut live = self.live.lock();
        for id in &p.frees {
            if let Some((bp, _, _)) = live.remove(id) {
                pool.free_block(txg, &bp);
            }
        }
        let props = WriteProps {
            checksum: self.checksum,
            compression: Compression::Lz4,
            copies: self.copies,
            ..WriteProps::new(BlockType(40))
        };
        let blocks: Vec<_> = p
            .writes
            .iter()
            .map(|(id, seed, len)| {
                let c = content(*id, *seed, *len);
                (AlignedBuf::from_slice_padded(&c, c.len()), props)
            })
            .collect();
        let bps = pool.write_blocks(txg, blocks);
        for ((id, seed, len), bp) in p.writes.iter().zip(bps) {
            let bp = bp?;
            if let Some((old, _, _)) = live.insert(*id, (bp, *seed, *len)) {
                pool.free_block(txg, &old);
            }
        }
        let root = encode_root(&live);
        let root_props = WriteProps {
            copies: 2,
            ..WriteProps::new(BlockType(41))
        };
        let bp = pool.write_block(
            txg,
            AlignedBuf::from_slice_padded(&root, root.len()),
            root_props,
        )?;
        let old = std::mem::replace(&mut *self.root.lock(), bp);
        if !old.is_hole() {
            pool.free_block(txg, &old);
        }
        Ok(Some(bp))
    }
}

/// Reads the whole tree of an imported pool; returns its model and every
/// block pointer in it.
pub fn read_tree(pool: &Pool) -> std::result::Result<(Model, Vec<BlkPtr>), String> {
    let root = pool.user_root();
    let mut model = Model::new();
    let mut bps = Vec::new();
    if root.is_hole() {
        return Ok((model, bps));
    }
    bps.push(root);
    let b = pool.read_block(&root).map_err(|e| format!("root: {e}"))?;
    for (id, (bp, seed, len)) in decode_root(&b) {
        let data = pool
            .read_block(&bp)
            .map_err(|e| format!("block {id}: {e}"))?;
        if data[..] != content(id, seed, len)[..] {
            return Err(format!("block {id} has wrong content"));
        }
        model.insert(id, (seed, len));
        bps.push(bp);
    }
    Ok((model, bps))
}

/// Lists the workload's tree for scrubs: the root block and the blocks it
/// names (owner object = block id + 1, object 0 for the root).
pub struct TreeLister;

impl basin_pool::scan::BlockLister for TreeLister {
    fn list(
        &self,
        pool: &Pool,
        min_birth: u64,
        _max_birth: u64,
        visit: &mut dyn FnMut(basin_pool::scan::ScanBlock),
    ) -> Result<()> {
        use basin_pool::scan::{BlockOwner, ScanBlock};
        let root = pool.user_root();
        if root.is_hole() {
            return Ok(());
        }
        let owner = |object| BlockOwner {
            objset: 1,
            object,
            level: 0,
            blkid: 0,
        };
        visit(ScanBlock {
            bp: root,
            owner: owner(0),
        });
        let Ok(b) = pool.read_block(&root) else {
            return Ok(());
        };
        for (id, (bp, _, _)) in decode_root(&b) {
            if bp.birth >= min_birth {
                visit(ScanBlock {
                    bp,
                    owner: owner(id + 1),
                });
            }
        }
        Ok(())
    }
}
