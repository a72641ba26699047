//! The sync of one txg: the layer above writes its dirty blocks, then the
//! pool writes its history, space maps and root, waits for every write,
//! flushes, writes the uberblock into every label and flushes again. Only
//! then is the txg committed; frees of txg-2 then become reusable.

use std::sync::Arc;

use crate::blkptr::{BlkPtr, BlockType};
use crate::error::{PoolError, Result};
use crate::history;
use crate::labelio;
use crate::pool::{now_secs, Pool};
use crate::poolroot::PoolRoot;
use crate::spacemap::{self, EntryKind, SmEntry};
use crate::uberblock::Uberblock;
use crate::vdev::{AlignedBuf, IoClass};
use crate::zio::{pad512, WriteProps};

/// Copies of the pool's own metadata.
pub const METADATA_COPIES: usize = 3;
/// Condense the space maps when this many log blocks have accumulated.
pub const CONDENSE_LOGS: usize = 64;
/// Compact the history chain past this many blocks.
const HISTORY_CHAIN_MAX: usize = 64;

fn meta_props(block_type: BlockType) -> WriteProps {
    WriteProps {
        copies: METADATA_COPIES as u8,
        ..WriteProps::new(block_type)
    }
}

/// Syncs `txg` of `pool`.
pub(crate) fn sync_txg(pool: &Pool, txg: u64) -> Result<()> {
    let inner = pool.inner();
    let _serial = inner.sync_lock.lock();

    // The layer above writes its dirty data and hands over its new root.
    let syncer = inner.syncer.read().clone();
    let new_user_root = match syncer {
        Some(s) => s.sync(pool, txg)?,
        None => None,
    };

    let (
        history_pending,
        extras_dirty,
        old_root,
        old_root_bp,
        mut index,
        old_index_bp,
        history_blocks,
    ) = {
        let mut rs = inner.root.lock();
        if let Some(u) = new_user_root {
            rs.user_root = u;
        }
        let mut root = rs.root.clone();
        root.user_root = rs.user_root;
        (
            std::mem::take(&mut rs.history_pending),
            std::mem::replace(&mut rs.extras_dirty, false),
            root,
            rs.root_bp,
            rs.index.clone(),
            rs.index_bp,
            rs.history_blocks,
        )
    };
    let user_changed = new_user_root.is_some();
    if !user_changed
        && history_pending.is_empty()
        && !extras_dirty
        && !old_root_bp.is_hole()
        && inner.space.seal_if_empty(txg)
    {
        // Nothing to commit: the on-disk tree stays as it is.
        inner.wait_writes(txg)?;
        note_failed_writes(pool, txg);
        inner.space.synced(txg)?;
        return Ok(());
    }

    let result = write_metadata(
        pool,
        txg,
        old_root,
        old_root_bp,
        &mut index,
        old_index_bp,
        history_pending.clone(),
        history_blocks,
    );
    let (root, root_bp, index_bp, history_blocks) = match result {
        Ok(x) => x,
        Err(e) => {
            // Give the history back so that it is not lost if the pool recovers.
            inner
                .root
                .lock()
                .history_pending
                .splice(0..0, history_pending);
            return Err(e);
        }
    };

    // Every block of the txg must be on stable storage before the uberblock.
    inner.wait_writes(txg)?;
    note_failed_writes(pool, txg);
    flush_all(pool)?;
    write_uberblocks(pool, txg, &root_bp)?;
    flush_all(pool)?;

    {
        let mut rs = inner.root.lock();
        // Properties changed while this txg synced belong to the next one.
        let newer_extras = rs.extras_dirty.then(|| rs.root.extras.clone());
        rs.root = root;
        if let Some(extras) = newer_extras {
            rs.root.extras = extras;
        }
        rs.root_bp = root_bp;
        rs.index = index;
        rs.index_bp = index_bp;
        rs.history_blocks = history_blocks;
    }
    inner.space.synced(txg)
}

/// Leaves that failed a write of `txg` (or an intent log write before it)
/// lack blocks of `txg`: their log of missed txgs says so, and a resilver
/// will be started for them.
fn note_failed_writes(pool: &Pool, txg: u64) {
    let mut any = false;
    for top in pool.vdevs() {
        for leaf in top.leaves() {
            if leaf
                .write_failed
                .swap(false, std::sync::atomic::Ordering::AcqRel)
            {
                leaf.note_missed(txg);
                any = true;
            }
        }
    }
    if any {
        pool.inner()
            .config_dirty
            .store(true, std::sync::atomic::Ordering::Release);
        pool.inner()
            .resilver_wanted
            .store(true, std::sync::atomic::Ordering::Release);
    }
}

/// Writes history, space maps and the pool root of `txg`; returns the new
/// root, its pointer, the index pointer and the history chain length.
#[allow(clippy::too_many_arguments)]
fn write_metadata(
    pool: &Pool,
    txg: u64,
    mut root: PoolRoot,
    old_root_bp: BlkPtr,
    index: &mut spacemap::SmIndex,
    old_index_bp: BlkPtr,
    history_pending: Vec<crate::history::HistoryRecord>,
    mut history_blocks: usize,
) -> Result<(PoolRoot, BlkPtr, BlkPtr, usize)> {
    let inner = pool.inner();
    root.txg = txg;

    // History: one more block in the chain, or a compacted chain.
    if !history_pending.is_empty() {
        let (prev, records, old_chain) = if history_blocks >= HISTORY_CHAIN_MAX {
            let mut all = Vec::new();
            let mut chain = Vec::new();
            let mut bp = root.history;
            while !bp.is_hole() {
                let b = inner.read_block(&bp, IoClass::SyncRead)?;
                let (prev, recs) = history::decode(&b)?;
                all.push(recs);
                chain.push(bp);
                bp = prev;
            }
            let mut recs: Vec<_> = all.into_iter().rev().flatten().collect();
            recs.extend(history_pending);
            let keep = recs.len().saturating_sub(history::KEEP_RECORDS);
            (BlkPtr::default(), recs.split_off(keep), chain)
        } else {
            (root.history, history_pending, Vec::new())
        };
        let bytes = pad512(history::encode(&prev, &records)?);
        let props = WriteProps {
            copies: 2,
            ..WriteProps::new(BlockType::HISTORY)
        };
        root.history = inner.write_block(
            txg,
            AlignedBuf::from_slice_padded(&bytes, bytes.len()),
            props,
        )?;
        for bp in &old_chain {
            pool.free_block(txg, bp);
        }
        history_blocks = if old_chain.is_empty() {
            history_blocks + 1
        } else {
            1
        };
    }

    // Space maps.
    let mut carried: Vec<SmEntry> = Vec::new();
    if index.logs.len() >= inner.tunables.condense_logs.max(1) {
        carried = condense(pool, txg, index)?;
    }
    // Space for the new index and root, freeing the old ones.
    // The index will also name the log block written below.
    let index_len = pad512(vec![0; index.size() + crate::blkptr::BLKPTR_SIZE]).len();
    let index_dvas = inner.alloc_for(txg, index_len, METADATA_COPIES)?;
    root.spacemap = BlkPtr::default();
    let root_len = pad512(root.encode()?).len();
    let root_dvas = inner.alloc_for(txg, root_len, METADATA_COPIES)?;
    if !old_index_bp.is_hole() {
        pool.free_block(txg, &old_index_bp);
    }
    if !old_root_bp.is_hole() {
        pool.free_block(txg, &old_root_bp);
    }
    // The log block holds every entry of the txg, its own allocation too.
    let pending = inner.space.seal_log(txg);
    let n = carried.len() + pending.len() + METADATA_COPIES;
    let log_len = pad512(vec![0; spacemap::log_size(n)]).len();
    let log_dvas = match inner.alloc_for(txg, log_len, METADATA_COPIES) {
        Ok(d) => d,
        Err(e) => {
            inner.space.restore_log(txg, pending);
            return Err(e);
        }
    };
    let mut entries = carried;
    entries.extend(pending);
    entries.extend(inner.space.take_log(txg));
    let log_bytes = pad512(spacemap::encode_log(txg, &entries));
    let log_bp = inner.write_preallocated(
        txg,
        &log_bytes,
        &log_dvas,
        &meta_props(BlockType::SPACE_MAP_LOG),
    );
    index.logs.push(log_bp);

    let mut index_bytes = index.encode();
    index_bytes.resize(index_len, 0);
    let index_bp = inner.write_preallocated(
        txg,
        &index_bytes,
        &index_dvas,
        &meta_props(BlockType::SPACE_MAP_INDEX),
    );
    root.spacemap = index_bp;
    let root_bytes = pad512(root.encode()?);
    let root_bp = inner.write_preallocated(
        txg,
        &root_bytes,
        &root_dvas,
        &meta_props(BlockType::POOL_ROOT),
    );
    // Everything the metadata writes allocated after the log was sealed
    // would be lost: there must be nothing.
    let late = inner.space.take_log(txg);
    if !late.is_empty() {
        return Err(PoolError::Unsupported(format!(
            "internal error: {} space map entries after the log of txg {txg} was sealed",
            late.len()
        )));
    }
    Ok((root, root_bp, index_bp, history_blocks))
}

/// Writes checkpoints of every changed metaslab and starts a new log chain.
/// Returns the entries the first log block of the new chain must carry (the
/// frees still deferred).
fn condense(pool: &Pool, txg: u64, index: &mut spacemap::SmIndex) -> Result<Vec<SmEntry>> {
    let inner = pool.inner();
    // The checkpoints describe the state now, user changes of this txg
    // included, so those log entries are not needed any more; deferred frees
    // are carried into the new chain with their txgs.
    let _ = inner.space.take_log(txg);
    let dirty = inner.space.take_dirty_metaslabs();
    // Frees of later txgs (made in open context) are in their own txg's
    // log, not yet written: carried here too, they would be replayed twice.
    let deferred: Vec<_> = inner
        .space
        .deferred()
        .into_iter()
        .filter(|(t, ..)| *t <= txg)
        .collect();
    let mut chunks = Vec::new();
    for (v, m) in &dirty {
        let segs = inner.space.allocated_segments_as_of(*v, *m, txg);
        chunks.push((*v as u32, *m as u32, segs));
    }
    let old_logs = std::mem::take(&mut index.logs);
    let mut writes = Vec::new();
    for (v, m, segs) in &chunks {
        let pos = index
            .checkpoints
            .iter()
            .position(|(cv, cm, _)| cv == v && cm == m);
        if let Some(p) = pos {
            let (_, _, old) = index.checkpoints.remove(p);
            pool.free_block(txg, &old);
        }
        if !segs.is_empty() {
            writes.push((*v, *m, pad512(spacemap::encode_checkpoint(*v, *m, segs))));
        }
    }
    for bp in &old_logs {
        pool.free_block(txg, bp);
    }
    let blocks = writes
        .iter()
        .map(|(_, _, b)| {
            (
                crate::zio::BlockData::Owned(AlignedBuf::from_slice_padded(b, b.len())),
                WriteProps {
                    compression: crate::compress::Compression::Lz4,
                    ..meta_props(BlockType::SPACE_MAP_CHECKPOINT)
                },
            )
        })
        .collect();
    let bps = inner.write_blocks(txg, blocks);
    for ((v, m, _), bp) in writes.iter().zip(bps) {
        index.checkpoints.push((*v, *m, bp?));
    }
    index.checkpoints.sort_by_key(|(v, m, _)| (*v, *m));
    index.condensed_txg = txg;
    Ok(deferred
        .into_iter()
        .map(|(t, vdev, offset, len)| SmEntry {
            kind: EntryKind::Free,
            vdev,
            offset,
            len,
            txg: t,
        })
        .collect())
}

/// Flushes every leaf of every top-level vdev, in parallel.
pub(crate) fn flush_all(pool: &Pool) -> Result<()> {
    let vdevs = pool.vdevs();
    let results: Vec<std::io::Result<()>> = std::thread::scope(|s| {
        let hs: Vec<_> = vdevs.iter().map(|v| s.spawn(move || v.flush())).collect();
        hs.into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(std::io::Error::other("flush panicked")))
            })
            .collect()
    });
    for (v, r) in vdevs.iter().zip(results) {
        r.map_err(|e| {
            PoolError::Suspended(format!(
                "{}: flush of vdev {} failed: {e}",
                pool.name(),
                v.id
            ))
        })?;
    }
    Ok(())
}

/// Writes the uberblock of `txg` into the ring of every label of every
/// usable leaf and waits; Ok when at least one leaf per top-level vdev got it.
fn write_uberblocks(pool: &Pool, txg: u64, root_bp: &BlkPtr) -> Result<()> {
    let inner = pool.inner();
    let ub = Uberblock {
        version: crate::FORMAT_VERSION,
        txg,
        pool_guid: inner.guid,
        guid_sum: inner.tree.lock().guid_sum(),
        timestamp: now_secs(),
        root: *root_bp,
    };
    let (tx, rx) = crossbeam_channel::unbounded();
    let mut sent = 0;
    for top in pool.vdevs() {
        for leaf in top.leaves().iter() {
            let Some(e) = leaf.engine() else { continue };
            let size = e.device().size();
            for lo in crate::label::label_offsets(size) {
                let off = labelio::uberblock_offset(lo, top.ashift, txg);
                let slot = Uberblock::slot_size(top.ashift);
                let buf = Arc::new(AlignedBuf::from_slice_padded(&ub.encode(off), slot));
                let tx = tx.clone();
                let id = top.id;
                e.submit(crate::vdev::IoRequest {
                    op: crate::vdev::IoOp::Write { offset: off, buf },
                    class: IoClass::SyncWrite,
                    tenant: 0,
                    weight: crate::vdev::queue::DEFAULT_WEIGHT,
                    done: Box::new(move |r| {
                        let _ = tx.send((id, r.is_ok()));
                    }),
                });
                sent += 1;
            }
        }
    }
    drop(tx);
    let mut ok_tops = std::collections::HashSet::new();
    for _ in 0..sent {
        if let Ok((id, true)) = rx.recv() {
            ok_tops.insert(id);
        }
    }
    if ok_tops.len() < pool.vdevs().len() {
        return Err(PoolError::Suspended(format!(
            "{}: the uberblock of txg {txg} could not be written to every top-level vdev",
            pool.name()
        )));
    }
    Ok(())
}
