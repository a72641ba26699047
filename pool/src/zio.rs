//! The I/O pipeline. Writing a block: compress, checksum, allocate one
//! address per copy, write every copy (the CPU work runs on the worker
//! threads; the device writes complete in the background and the txg sync
//! waits for them before it writes the uberblock). Reading a block: read a
//! copy, verify it against the checksum in its pointer, try the other
//! copies (and mirror sides) when it fails, rewrite the bad ones, decompress.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use parking_lot::{Condvar, Mutex};

use crate::blkptr::{BlkPtr, BlockType, Dva, MAX_BLOCK_SIZE, MAX_COPIES};
use crate::checksum::{Checksum, ChecksumType};
use crate::compress::{self, Compression};
use crate::error::{PoolError, Result};
use crate::pool::{PoolInner, PoolStats};
use crate::vdev::{AlignedBuf, BlockAt, IoClass, ReadFailure, TopVdev};

/// How to write one block.
#[derive(Clone, Copy, Debug)]
pub struct WriteProps {
    /// Checksum algorithm.
    pub checksum: ChecksumType,
    /// Compression algorithm.
    pub compression: Compression,
    /// Number of copies (1 to 3).
    pub copies: u8,
    /// Kind of block.
    pub block_type: BlockType,
    /// Indirection level.
    pub level: u8,
    /// Fill count to record.
    pub fill: u64,
    /// Scheduling class of the device writes.
    pub class: IoClass,
    /// Tenant the I/O is charged to.
    pub tenant: u64,
}

impl WriteProps {
    /// Properties for a data block of `block_type` with the defaults.
    pub fn new(block_type: BlockType) -> WriteProps {
        WriteProps {
            checksum: ChecksumType::Blake3,
            compression: Compression::Lz4,
            copies: 1,
            block_type,
            level: 0,
            fill: 1,
            class: IoClass::AsyncWrite,
            tenant: 0,
        }
    }
}

/// Completion tracking of the device writes of one txg.
#[derive(Default)]
pub(crate) struct TxgIo {
    state: Mutex<(usize, Option<String>)>,
    cv: Condvar,
}

impl TxgIo {
    fn start(&self) {
        self.state.lock().0 += 1;
    }

    fn finish(&self, err: Option<String>) {
        let mut s = self.state.lock();
        s.0 -= 1;
        if s.1.is_none() {
            s.1 = err;
        }
        if s.0 == 0 {
            self.cv.notify_all();
        }
    }

    fn wait(&self) -> std::result::Result<(), String> {
        let mut s = self.state.lock();
        while s.0 > 0 {
            self.cv.wait(&mut s);
        }
        match s.1.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// The device writes in flight, per txg, and the bytes of each copy still
/// on its way to the device.
#[derive(Default)]
pub(crate) struct InflightWrites {
    by_txg: Mutex<HashMap<u64, Arc<TxgIo>>>,
    /// Stored bytes of copies written but not yet on the device, by
    /// (vdev, offset): a block pointer is handed out before its write
    /// completes, and a read of it in the meantime (a sync task reading a
    /// block born earlier in the same sync) must not see the old bytes.
    blocks: Mutex<HashMap<(u32, u64), Arc<AlignedBuf>>>,
}

impl InflightWrites {
    /// Notes the bytes of a copy whose write is being issued.
    fn hold_copy(&self, dva: &Dva, buf: &Arc<AlignedBuf>) {
        self.blocks
            .lock()
            .insert((dva.vdev, dva.offset), buf.clone());
    }

    /// Forgets a copy whose write completed (unless the place was taken
    /// again by a newer write meanwhile).
    fn release_copy(&self, dva: &Dva, buf: &Arc<AlignedBuf>) {
        let mut blocks = self.blocks.lock();
        if blocks
            .get(&(dva.vdev, dva.offset))
            .is_some_and(|b| Arc::ptr_eq(b, buf))
        {
            blocks.remove(&(dva.vdev, dva.offset));
        }
    }

    /// The bytes of a copy still in flight.
    fn copy(&self, dva: &Dva) -> Option<Arc<AlignedBuf>> {
        let blocks = self.blocks.lock();
        if blocks.is_empty() {
            return None;
        }
        blocks.get(&(dva.vdev, dva.offset)).cloned()
    }

    fn of(&self, txg: u64) -> Arc<TxgIo> {
        self.by_txg.lock().entry(txg).or_default().clone()
    }

    /// Waits for every write of `txg` and forgets the txg.
    pub(crate) fn wait(&self, txg: u64) -> std::result::Result<(), String> {
        let io = self.of(txg);
        let r = io.wait();
        self.by_txg.lock().remove(&txg);
        r
    }
}

/// The bytes of a block to write: a buffer handed over, or one shared with
/// the layer above (its dirty copy of the block, which it no longer
/// changes), so that writing it costs no copy.
pub enum BlockData {
    /// Handed over.
    Owned(AlignedBuf),
    /// Shared: read only, here as in the layer above.
    Shared(Arc<AlignedBuf>),
}

impl std::ops::Deref for BlockData {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            BlockData::Owned(b) => b,
            BlockData::Shared(b) => b,
        }
    }
}

impl BlockData {
    /// The buffer the devices write: the block's first `used` bytes,
    /// zero-padded to `len`. A shared buffer that is already that long
    /// goes as it is.
    fn into_padded(self, used: usize, len: usize) -> Arc<AlignedBuf> {
        match self {
            BlockData::Owned(b) => Arc::new(padded(b, used, len)),
            BlockData::Shared(b) if b.len() == len && used == len => b,
            BlockData::Shared(b) => Arc::new(AlignedBuf::from_slice_padded(&b[..used], len)),
        }
    }
}

/// A block compressed and checksummed, ready to allocate and write.
pub(crate) struct Prepared {
    /// The stored form: its first `psize` bytes.
    stored: BlockData,
    lsize: usize,
    psize: usize,
    compression: Compression,
    checksum: Checksum,
}

/// The CPU work of writing a block: checks its size, compresses it when
/// that pays, checksums the stored form.
fn prepare(data: BlockData, props: &WriteProps) -> Result<Prepared> {
    let lsize = data.len();
    if lsize == 0 || lsize as u64 > MAX_BLOCK_SIZE as u64 || !lsize.is_multiple_of(512) {
        return Err(PoolError::Unsupported(format!(
            "block of {lsize} bytes: sizes are multiples of 512 up to {MAX_BLOCK_SIZE}"
        )));
    }
    let (stored, psize, compression) = match compress::compress_block(props.compression, &data) {
        Some((c, n)) => {
            drop(data);
            (BlockData::Owned(c), n, Compression::Lz4)
        }
        None => (data, lsize, Compression::Off),
    };
    let checksum = props.checksum.compute(&stored[..psize]);
    Ok(Prepared {
        stored,
        lsize,
        psize,
        compression,
        checksum,
    })
}

/// Pads `buf` with zeros to `len` bytes, reusing it when it has the room.
fn padded(mut buf: AlignedBuf, used: usize, len: usize) -> AlignedBuf {
    if buf.capacity() >= len {
        buf.pad_to(used, len);
        buf
    } else {
        AlignedBuf::from_slice_padded(&buf[..used], len)
    }
}

impl PoolInner {
    /// Writes a block in `txg`; `done` receives its pointer as soon as the
    /// copies are allocated and their writes issued. The txg's sync waits
    /// for the writes.
    pub(crate) fn write_block_async(
        self: &Arc<Self>,
        txg: u64,
        data: AlignedBuf,
        props: WriteProps,
        done: Box<dyn FnOnce(Result<BlkPtr>) + Send>,
    ) {
        let io = self.inflight.of(txg);
        io.start();
        let me = self.clone();
        self.workers.spawn(move || {
            let r = me.write_block_now(txg, data, &props, &io);
            if r.is_err() {
                io.finish(None);
            }
            done(r);
        });
    }

    /// The pipeline of one block, on the calling thread. On success the
    /// caller's `io.start()` is matched by the device writes' completion.
    fn write_block_now(
        self: &Arc<Self>,
        txg: u64,
        data: AlignedBuf,
        props: &WriteProps,
        io: &Arc<TxgIo>,
    ) -> Result<BlkPtr> {
        let p = prepare(BlockData::Owned(data), props)?;
        let vdevs = self.vdevs.read().clone();
        self.issue(txg, p, props, io, &vdevs)
    }

    /// Allocates a prepared block's copies on `vdevs` (the pool's, as the
    /// caller read them) and issues their writes. On success the caller's
    /// `io.start()` is matched by the device writes' completion.
    fn issue(
        self: &Arc<Self>,
        txg: u64,
        p: Prepared,
        props: &WriteProps,
        io: &Arc<TxgIo>,
        vdevs: &[Arc<TopVdev>],
    ) -> Result<BlkPtr> {
        let Prepared {
            stored,
            lsize,
            psize,
            compression,
            checksum,
        } = p;
        let copies = (props.copies as usize).clamp(1, MAX_COPIES);
        let dvas = self
            .space
            .alloc(txg, copies, &|v| vdevs[v].alloc_size(psize as u64), &|v| {
                vdevs[v].health().usable()
            })?;
        let mut bp = BlkPtr {
            lsize: lsize as u32,
            psize: psize as u32,
            birth: txg,
            fill: props.fill,
            checksum_type: props.checksum,
            compression,
            block_type: props.block_type,
            level: props.level,
            checksum,
            ..Default::default()
        };
        for (i, d) in dvas.iter().enumerate() {
            bp.dva[i] = *d;
        }
        let max_asize = dvas.iter().map(|d| d.asize as usize).max().unwrap_or(psize);
        let shared = stored.into_padded(psize, max_asize);
        // One completion for the block: Ok when every copy landed somewhere
        // (a single copy's write is the block's: no count to share).
        let left = (dvas.len() > 1).then(|| Arc::new(Mutex::new((dvas.len(), None::<String>))));
        for d in &dvas {
            let buf = if d.asize as usize == max_asize {
                shared.clone()
            } else {
                Arc::new(AlignedBuf::from_slice_padded(
                    &shared[..psize],
                    d.asize as usize,
                ))
            };
            let io = io.clone();
            let left = left.clone();
            let dva = *d;
            self.inflight.hold_copy(&dva, &buf);
            let me = Arc::downgrade(self);
            let held = buf.clone();
            vdevs[d.vdev as usize].write(
                d.offset,
                buf,
                psize,
                props.class,
                props.tenant,
                self.weight_of(props.tenant),
                Box::new(move |r| {
                    if let Some(me) = me.upgrade() {
                        me.inflight.release_copy(&dva, &held);
                    }
                    let err = r.err().map(|e| format!("write of {dva} failed: {e}"));
                    let Some(left) = left else {
                        io.finish(err);
                        return;
                    };
                    let mut l = left.lock();
                    if err.is_some() {
                        l.1 = err;
                    }
                    l.0 -= 1;
                    if l.0 == 0 {
                        let err = l.1.take();
                        drop(l);
                        io.finish(err);
                    }
                }),
            );
        }
        Ok(bp)
    }

    /// Writes a block and waits for its pointer (not for the device).
    pub(crate) fn write_block(
        self: &Arc<Self>,
        txg: u64,
        data: AlignedBuf,
        props: WriteProps,
    ) -> Result<BlkPtr> {
        let io = self.inflight.of(txg);
        io.start();
        let r = self.write_block_now(txg, data, &props, &io);
        if r.is_err() {
            io.finish(None);
        }
        r
    }

    /// Writes many blocks: compression and checksums in parallel on the
    /// workers, then allocation and the device writes from this thread in
    /// one burst, so that each device is woken once for the batch rather
    /// than once per block.
    pub(crate) fn write_blocks(
        self: &Arc<Self>,
        txg: u64,
        blocks: Vec<(BlockData, WriteProps)>,
    ) -> Vec<Result<BlkPtr>> {
        let prepared = self.workers.map(blocks, |(data, props)| {
            prepare(data, &props).map(|p| (p, props))
        });
        let io = self.inflight.of(txg);
        let vdevs = self.vdevs.read().clone();
        let _plug = crate::vdev::plug();
        prepared
            .into_iter()
            .map(|r| {
                let (p, props) = r?;
                io.start();
                let r = self.issue(txg, p, &props, &io, &vdevs);
                if r.is_err() {
                    io.finish(None);
                }
                r
            })
            .collect()
    }

    /// Waits for the device writes of `txg`.
    pub(crate) fn wait_writes(&self, txg: u64) -> Result<()> {
        self.inflight
            .wait(txg)
            .map_err(|e| PoolError::Suspended(format!("{}: {e}", self.name)))
    }

    /// Reads and verifies a block; returns its logical bytes.
    pub(crate) fn read_block(&self, bp: &BlkPtr, class: IoClass) -> Result<AlignedBuf> {
        if let Some(b) = self.read_inflight(bp) {
            return b;
        }
        let vdevs = self.vdevs.read().clone();
        read_bp(&vdevs, bp, class, &self.stats)
    }
}

impl PoolInner {
    /// A block one of whose copies is still being written: its bytes as
    /// they go to the device, verified like a read from it.
    fn read_inflight(&self, bp: &BlkPtr) -> Option<Result<AlignedBuf>> {
        if bp.is_hole() {
            return None;
        }
        let psize = bp.psize as usize;
        let stored = bp.copies().find_map(|d| self.inflight.copy(d))?;
        if stored.len() < psize || !bp.checksum_type.verify(&stored[..psize], &bp.checksum) {
            return None;
        }
        Some(decode_stored(
            bp,
            AlignedBuf::from_slice_padded(&stored[..psize], psize),
        ))
    }
}

/// Reads and verifies a block from `vdevs`, healing bad copies; returns its
/// logical bytes.
pub(crate) fn read_bp(
    vdevs: &[Arc<TopVdev>],
    bp: &BlkPtr,
    class: IoClass,
    stats: &PoolStats,
) -> Result<AlignedBuf> {
    if bp.is_hole() {
        return Ok(AlignedBuf::zeroed(bp.lsize as usize));
    }
    let psize = bp.psize as usize;
    let verify = |d: &[u8]| d.len() >= psize && bp.checksum_type.verify(&d[..psize], &bp.checksum);
    let mut failed: Vec<Dva> = Vec::new();
    let mut saw_checksum = false;
    for dva in bp.copies() {
        let Some(top) = vdevs.get(dva.vdev as usize) else {
            failed.push(*dva);
            continue;
        };
        if dva.offset.saturating_add(dva.asize as u64) > top.asize || (dva.asize as usize) < psize {
            failed.push(*dva);
            continue;
        }
        let at = BlockAt {
            offset: dva.offset,
            asize: dva.asize as usize,
            psize,
            birth: bp.birth,
        };
        match top.read_verified(at, class, &verify) {
            Ok(v) => {
                if v.repaired > 0 {
                    stats.repaired.fetch_add(v.repaired, Ordering::Relaxed);
                }
                // A read-ahead repairs nothing (see IoClass::is_speculative).
                if !class.is_speculative() {
                    heal_copies(vdevs, &failed, &v.data[..psize], stats);
                }
                return decode_stored(bp, v.data);
            }
            Err(ReadFailure::Checksum) => {
                saw_checksum = true;
                failed.push(*dva);
            }
            Err(ReadFailure::Io(_)) => failed.push(*dva),
        }
    }
    if !class.is_speculative() {
        stats.data_errors.fetch_add(1, Ordering::Relaxed);
    }
    if saw_checksum {
        Err(PoolError::Checksum(bp.describe()))
    } else {
        Err(PoolError::Unreadable(bp.describe()))
    }
}

/// Rewrites good bytes over copies that failed.
fn heal_copies(vdevs: &[Arc<TopVdev>], failed: &[Dva], good: &[u8], stats: &PoolStats) {
    for d in failed {
        let Some(top) = vdevs.get(d.vdev as usize) else {
            continue;
        };
        if d.offset.saturating_add(d.asize as u64) > top.asize {
            continue;
        }
        if top.rewrite(d.offset, good, good.len()) {
            stats.repaired.fetch_add(d.asize as u64, Ordering::Relaxed);
        }
    }
}

/// Turns verified stored bytes into the logical block.
pub(crate) fn decode_stored(bp: &BlkPtr, mut stored: AlignedBuf) -> Result<AlignedBuf> {
    let lsize = bp.lsize as usize;
    match bp.compression {
        Compression::Off => {
            stored.truncate(lsize);
            Ok(stored)
        }
        Compression::Lz4 => {
            // decompress_into fills all of `out` or fails (and `out` is dropped).
            let mut out = AlignedBuf::for_overwrite(lsize);
            compress::decompress_into(&stored[..bp.psize as usize], &mut out)?;
            Ok(out)
        }
    }
}

impl PoolInner {
    /// Allocates `copies` copies for `len` stored bytes in `txg` (pool
    /// metadata whose content must name its own address).
    pub(crate) fn alloc_for(&self, txg: u64, len: usize, copies: usize) -> Result<Vec<Dva>> {
        let vdevs = self.vdevs.read().clone();
        self.space.alloc(
            txg,
            copies.clamp(1, MAX_COPIES),
            &|v| vdevs[v].alloc_size(len as u64),
            &|v| vdevs[v].health().usable(),
        )
    }

    /// Writes `data` (uncompressed, a multiple of 512 bytes) at addresses
    /// allocated beforehand with [`PoolInner::alloc_for`].
    pub(crate) fn write_preallocated(
        &self,
        txg: u64,
        data: &[u8],
        dvas: &[Dva],
        props: &WriteProps,
    ) -> BlkPtr {
        let io = self.inflight.of(txg);
        let vdevs = self.vdevs.read().clone();
        let mut bp = BlkPtr {
            lsize: data.len() as u32,
            psize: data.len() as u32,
            birth: txg,
            fill: props.fill,
            checksum_type: props.checksum,
            compression: Compression::Off,
            block_type: props.block_type,
            level: props.level,
            checksum: props.checksum.compute(data),
            ..Default::default()
        };
        for (i, d) in dvas.iter().enumerate().take(MAX_COPIES) {
            bp.dva[i] = *d;
            io.start();
            let buf = Arc::new(AlignedBuf::from_slice_padded(data, d.asize as usize));
            let io = io.clone();
            let dva = *d;
            vdevs[d.vdev as usize].write(
                d.offset,
                buf,
                data.len(),
                props.class,
                0,
                crate::vdev::queue::DEFAULT_WEIGHT,
                Box::new(move |r| {
                    io.finish(r.err().map(|e| format!("write of {dva} failed: {e}")))
                }),
            );
        }
        bp
    }
}

/// Rounds `v` up to a multiple of 512 with zeros.
pub(crate) fn pad512(mut v: Vec<u8>) -> Vec<u8> {
    let n = v.len().div_ceil(512).max(1) * 512;
    v.resize(n, 0);
    v
}
