//! The intent log (ZIL) of an object set: what `fsync` makes durable without
//! waiting for a txg sync.
//!
//! The layer above logs a record for every change (in memory, cheap); a
//! commit writes every pending record into log blocks and flushes the
//! devices. Log blocks form a chain: each holds the address of the next,
//! allocated before it is written, so a block cannot be covered by a
//! checksum in its parent; it carries its own (blake3 over the chain id, its
//! sequence number and its bytes) and a stale or unwritten block fails to
//! verify, which ends the chain. The object set's header points at the
//! first live block; a txg sync frees the blocks whose records it made
//! durable.
//!
//! At import, every chain is claimed (its blocks marked allocated, since the
//! txgs that allocated them may not have synced); when the dataset is
//! mounted, its records newer than the tree are replayed and the chain is
//! destroyed.
//!
//! Log block layout ([`ZIL_BLOCK`] bytes, little-endian): magic `BASINZLB`
//! (8), version `u32`, record count `u32`, chain id `u64`, block sequence
//! `u64`, highest record txg `u64`, bytes used `u32`, flags `u32` (bit 0:
//! the last block of a commit), the next block's pointer (40), zero to byte
//! 96, blake3 (32) at 96, then records
//! from byte 128: length `u32`, zero `u32`, txg `u64`, sequence `u64`,
//! payload, padded to 8 bytes.

use std::collections::VecDeque;

use basin_pool::{Dva, Pool};
use parking_lot::Mutex;

use crate::error::{DmuError, Result};
use crate::objset_phys::{ZilHeader, ZilPtr, ZIL_PTR_SIZE};

/// Size of a log block.
pub const ZIL_BLOCK: usize = 128 * 1024;
/// Log blocks a chain may hold before a commit asks for a txg sync, which
/// makes their records durable in the tree and lets the next sync free
/// them: every commit takes a whole block, so a stream of small fsyncs
/// would otherwise fill a small pool with log blocks between syncs.
pub const SYNC_AFTER_BLOCKS: usize = 64;
const HEADER: usize = 128;
const REC_HEADER: usize = 24;
/// Largest record payload.
pub const MAX_RECORD: usize = ZIL_BLOCK - HEADER - REC_HEADER;
const MAGIC: u64 = u64::from_le_bytes(*b"BASINZLB");
const VERSION: u32 = 1;
const SUM_OFF: usize = 96;

/// A record read back from the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogRecord {
    /// Txg the change joined.
    pub txg: u64,
    /// Sequence number.
    pub seq: u64,
    /// What the layer above logged.
    pub payload: Vec<u8>,
}

/// A record not yet written: its payload, or a prefix followed by bytes of
/// an object read when the record is committed (writes log their data that
/// way, so that logging costs no copy).
enum Itx {
    Eager(Vec<u8>),
    Data {
        prefix: Vec<u8>,
        obj: u64,
        offset: u64,
        len: usize,
    },
}

struct Pending {
    txg: u64,
    seq: u64,
    itx: Itx,
}

#[derive(Default)]
struct State {
    pending: Vec<Pending>,
    /// Blocks written, oldest first, with the highest txg of their records.
    written: VecDeque<(ZilPtr, u64)>,
    /// The block the next commit writes (preallocated).
    next: ZilPtr,
    chain_id: u64,
    next_seq: u64,
    /// Txgs up to this one are durable in the tree.
    clean_txg: u64,
}

/// The intent log of one object set.
#[derive(Default)]
pub struct Zil {
    state: Mutex<State>,
    commit: Mutex<()>,
}

fn checksum(chain_id: u64, seq: u64, bytes: &[u8]) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(&chain_id.to_le_bytes());
    h.update(&seq.to_le_bytes());
    h.update(&bytes[..SUM_OFF]);
    h.update(&[0u8; 32]);
    h.update(&bytes[SUM_OFF + 32..]);
    *h.finalize().as_bytes()
}

/// Flag of the last block of a commit: the records of a commit count only
/// if all its blocks made it (a write's data is read at commit time, so a
/// part of a commit is not a state the filesystem was ever in).
const FLAG_COMMIT_END: u32 = 1;

/// A decoded log block: records, the next pointer, the end-of-commit flag.
type Block = (Vec<LogRecord>, ZilPtr, bool);

/// Decodes a log block read from `ptr`, if it is the one the chain expects.
fn decode_block(b: &[u8], chain_id: u64, ptr: &ZilPtr) -> Option<Block> {
    if b.len() < HEADER || b[0..8] != MAGIC.to_le_bytes() {
        return None;
    }
    let le32 = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().expect("4"));
    let le64 = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().expect("8"));
    if le32(8) != VERSION || le64(16) != chain_id || le64(24) != ptr.seq {
        return None;
    }
    let used = le32(40) as usize;
    if !(HEADER..=b.len()).contains(&used) {
        return None;
    }
    if checksum(chain_id, ptr.seq, &b[..used]) != b[SUM_OFF..SUM_OFF + 32] {
        return None;
    }
    let next = ZilPtr::decode(&b[48..48 + ZIL_PTR_SIZE]).ok()?;
    let n = le32(12) as usize;
    let mut recs = Vec::with_capacity(n.min(4096));
    let mut o = HEADER;
    for _ in 0..n {
        if o + REC_HEADER > used {
            return None;
        }
        let len = le32(o) as usize;
        let end = o + REC_HEADER + len;
        if end > used {
            return None;
        }
        recs.push(LogRecord {
            txg: le64(o + 8),
            seq: le64(o + 16),
            payload: b[o + REC_HEADER..end].to_vec(),
        });
        o = end.div_ceil(8) * 8;
    }
    Some((recs, next, le32(44) & FLAG_COMMIT_END != 0))
}

/// A block found by [`walk_chain`]: where, its records, and whether it ends
/// a commit.
pub type ChainBlock = (ZilPtr, Vec<LogRecord>, bool);

/// Walks a chain from `h`: every block that verifies, with its records, and
/// the pointer that ended the chain (the next block, preallocated).
pub fn walk_chain(pool: &Pool, h: &ZilHeader) -> (Vec<ChainBlock>, ZilPtr) {
    let mut out = Vec::new();
    let mut ptr = h.first;
    // A chain can never be longer than the pool has blocks for it.
    for _ in 0..1_000_000 {
        // A block takes at least its size (more on RAID-Z, with parity).
        if ptr.is_none() || (ptr.dva.asize as usize) < ZIL_BLOCK {
            break;
        }
        let expected = ptr;
        let verify = |b: &[u8]| decode_block(b, h.chain_id, &expected).is_some();
        let Ok(b) = pool.read_raw(&ptr.dva, ZIL_BLOCK, &verify) else {
            break;
        };
        let Some((recs, next, end)) = decode_block(&b, h.chain_id, &ptr) else {
            break;
        };
        out.push((ptr, recs, end));
        if next.seq != ptr.seq + 1 {
            return (out, ZilPtr::default());
        }
        ptr = next;
    }
    (out, ptr)
}

impl Zil {
    /// The log of an object set whose header is `h` (a chain being
    /// continued keeps its id and sequence).
    pub fn new() -> Zil {
        Zil::default()
    }

    /// Logs a record of a change made in `txg`; returns its sequence.
    pub fn log(&self, txg: u64, payload: Vec<u8>) -> Result<u64> {
        if payload.len() > MAX_RECORD {
            return Err(DmuError::TooLarge(format!(
                "log record of {} bytes",
                payload.len()
            )));
        }
        let mut st = self.state.lock();
        st.next_seq += 1;
        let seq = st.next_seq;
        st.pending.push(Pending {
            txg,
            seq,
            itx: Itx::Eager(payload),
        });
        Ok(seq)
    }

    /// Logs a write: `prefix`, then `len` bytes of object `obj` at `offset`
    /// as they are when the record is committed.
    pub fn log_data(
        &self,
        txg: u64,
        prefix: Vec<u8>,
        obj: u64,
        offset: u64,
        len: usize,
    ) -> Result<u64> {
        if prefix.len() + len > MAX_RECORD {
            return Err(DmuError::TooLarge(format!(
                "log record of {} bytes",
                prefix.len() + len
            )));
        }
        let mut st = self.state.lock();
        st.next_seq += 1;
        let seq = st.next_seq;
        st.pending.push(Pending {
            txg,
            seq,
            itx: Itx::Data {
                prefix,
                obj,
                offset,
                len,
            },
        });
        Ok(seq)
    }

    /// Bytes of the records waiting for a commit.
    pub fn pending_bytes(&self) -> usize {
        self.state
            .lock()
            .pending
            .iter()
            .map(|p| match &p.itx {
                Itx::Eager(b) => b.len(),
                Itx::Data { prefix, len, .. } => prefix.len() + len,
            })
            .sum()
    }

    /// Log blocks written and not yet freed (each takes [`ZIL_BLOCK`] of
    /// the pool until a txg sync makes its records durable).
    pub fn written_blocks(&self) -> usize {
        self.state.lock().written.len()
    }

    /// True when records wait for a commit.
    pub fn has_pending(&self) -> bool {
        !self.state.lock().pending.is_empty()
    }

    /// Forgets records whose txg has synced (called once `txg` is durable).
    pub fn clean(&self, txg: u64) {
        let mut st = self.state.lock();
        st.pending.retain(|p| p.txg > txg);
        st.clean_txg = st.clean_txg.max(txg);
    }

    /// Writes every pending record to the log and flushes the devices.
    /// `read` fetches an object's bytes for data records; `header` reads
    /// and `set_header` updates the object set's log header (a new chain
    /// needs its first block named there, durably, once).
    pub fn commit(
        &self,
        pool: &Pool,
        read: &dyn Fn(u64, u64, usize) -> Option<Vec<u8>>,
        header: &dyn Fn() -> ZilHeader,
        set_header: &dyn Fn(u64, ZilHeader),
    ) -> Result<()> {
        let _one = self.commit.lock();
        let (pending, mut next, mut chain_id) = {
            let mut st = self.state.lock();
            if st.pending.is_empty() {
                return Ok(());
            }
            (std::mem::take(&mut st.pending), st.next, st.chain_id)
        };
        let mut records: Vec<(u64, u64, Vec<u8>)> = Vec::with_capacity(pending.len());
        for p in pending {
            let payload = match p.itx {
                Itx::Eager(b) => b,
                Itx::Data {
                    mut prefix,
                    obj,
                    offset,
                    len,
                } => match read(obj, offset, len) {
                    Some(d) => {
                        prefix.extend_from_slice(&d);
                        prefix
                    }
                    // The object went since: its removal is logged too.
                    None => continue,
                },
            };
            records.push((p.txg, p.seq, payload));
        }
        if next.is_none() {
            // Start a chain: its first block must be named in the header
            // on disk before anything relies on it.
            let txg = pool.txg().hold_raw();
            let first = pool.alloc_raw(txg, ZIL_BLOCK);
            let first = match first {
                Ok(d) => d,
                Err(e) => {
                    pool.txg().release(txg);
                    return Err(e.into());
                }
            };
            chain_id = loop {
                let id: u64 = rand_u64();
                if id != 0 {
                    break id;
                }
            };
            next = ZilPtr {
                dva: first,
                seq: 1,
                birth: txg,
            };
            let mut h = header();
            h.chain_id = chain_id;
            h.first = next;
            h.claim_txg = 0;
            set_header(txg, h);
            pool.txg().release(txg);
            pool.wait_synced(txg)?;
            let mut st = self.state.lock();
            st.chain_id = chain_id;
            st.next = next;
        }
        // Pack the records into blocks.
        let mut i = 0;
        let mut wrote = Vec::new();
        let mut failed: Option<DmuError> = None;
        while i < records.len() {
            let mut b = vec![0u8; ZIL_BLOCK];
            let mut o = HEADER;
            let mut n = 0u32;
            let mut max_txg = 0;
            while i < records.len() {
                let (txg, seq, ref payload) = records[i];
                let end = o + REC_HEADER + payload.len();
                if end > ZIL_BLOCK {
                    break;
                }
                b[o..o + 4].copy_from_slice(&(payload.len() as u32).to_le_bytes());
                b[o + 8..o + 16].copy_from_slice(&txg.to_le_bytes());
                b[o + 16..o + 24].copy_from_slice(&seq.to_le_bytes());
                b[o + REC_HEADER..end].copy_from_slice(payload);
                o = end.div_ceil(8) * 8;
                max_txg = max_txg.max(txg);
                n += 1;
                i += 1;
            }
            let used = o.min(ZIL_BLOCK);
            let flags = if i == records.len() {
                FLAG_COMMIT_END
            } else {
                0
            };
            // The next block is allocated in a txg held until this block,
            // which names it, is written: were the txg to sync first, a
            // crash would leave the allocation on disk with nothing
            // pointing at it (a claim finds the chain's blocks by their
            // pointers), as OpenZFS's lwb holds a tx until its write is done.
            let txg = pool.txg().hold_raw();
            let following = match pool.alloc_raw(txg, ZIL_BLOCK) {
                Ok(d) => ZilPtr {
                    dva: d,
                    seq: next.seq + 1,
                    birth: txg,
                },
                Err(e) => {
                    pool.txg().release(txg);
                    failed = Some(e.into());
                    break;
                }
            };
            b[0..8].copy_from_slice(&MAGIC.to_le_bytes());
            b[8..12].copy_from_slice(&VERSION.to_le_bytes());
            b[12..16].copy_from_slice(&n.to_le_bytes());
            b[16..24].copy_from_slice(&chain_id.to_le_bytes());
            b[24..32].copy_from_slice(&next.seq.to_le_bytes());
            b[32..40].copy_from_slice(&max_txg.to_le_bytes());
            b[40..44].copy_from_slice(&(used as u32).to_le_bytes());
            b[44..48].copy_from_slice(&flags.to_le_bytes());
            following.encode_into(&mut b[48..48 + ZIL_PTR_SIZE]);
            let sum = checksum(chain_id, next.seq, &b[..used]);
            b[SUM_OFF..SUM_OFF + 32].copy_from_slice(&sum);
            let w = pool.write_raw(&next.dva, &b[..used.div_ceil(4096) * 4096], ZIL_BLOCK);
            if let Err(e) = w {
                // No copy of `next` that verifies reached a device (a write
                // fails only when the block cannot be read back), so none
                // names `following`: it goes, and `next` stays for the
                // next commit to write.
                pool.free_dva(txg, &following.dva);
                pool.txg().release(txg);
                failed = Some(e.into());
                break;
            }
            pool.txg().release(txg);
            wrote.push((next, max_txg));
            next = following;
        }
        // The blocks written are part of the chain even when a later one
        // failed: they are freed with it.
        {
            let mut st = self.state.lock();
            st.written.extend(wrote);
            st.next = next;
        }
        if let Some(e) = failed {
            return Err(e);
        }
        pool.flush_devices()?;
        Ok(())
    }

    /// In the syncing context of `txg`: frees the log blocks whose records
    /// are all durable in the tree and returns the header to write, if it
    /// changed.
    pub fn sync(&self, pool: &Pool, txg: u64, header: ZilHeader) -> Option<ZilHeader> {
        let mut st = self.state.lock();
        if st.next.is_none() {
            return None;
        }
        let clean = st.clean_txg;
        while st.written.front().is_some_and(|(_, max)| *max <= clean) {
            if let Some((p, _)) = st.written.pop_front() {
                pool.free_dva(txg, &p.dva);
            }
        }
        let first = st.written.front().map(|(p, _)| *p).unwrap_or(st.next);
        if first == header.first && st.chain_id == header.chain_id {
            return None;
        }
        Some(ZilHeader {
            first,
            chain_id: st.chain_id,
            ..header
        })
    }

    /// Takes over an existing chain found at open (after its replay, or on
    /// a read-only pool nothing is written).
    pub fn adopt(&self, h: &ZilHeader, written: Vec<(ZilPtr, u64)>, next: ZilPtr, last_seq: u64) {
        let mut st = self.state.lock();
        st.chain_id = h.chain_id;
        st.written = written.into();
        st.next = next;
        st.next_seq = st.next_seq.max(last_seq);
    }

    /// Holds off commits while the guard lives (a snapshot is being taken,
    /// which must find no chain).
    pub fn suspend(&self) -> parking_lot::MutexGuard<'_, ()> {
        self.commit.lock()
    }

    /// Forgets the chain and returns its blocks, those written and the
    /// preallocated next one, for the caller to free (pending records
    /// stay, for a new chain).
    pub fn take_chain(&self) -> Vec<ZilPtr> {
        let mut st = self.state.lock();
        let mut out: Vec<ZilPtr> = st.written.drain(..).map(|(p, _)| p).collect();
        if !st.next.is_none() {
            out.push(st.next);
        }
        st.next = ZilPtr::default();
        st.chain_id = 0;
        out
    }

    /// Drops the chain: the caller frees its blocks and clears the header.
    pub fn reset(&self) {
        let mut st = self.state.lock();
        st.written.clear();
        st.next = ZilPtr::default();
        st.chain_id = 0;
    }
}

fn rand_u64() -> u64 {
    let mut b = [0u8; 8];
    // SAFETY: getrandom writes at most `len` bytes into the buffer we own.
    let n = unsafe { libc::getrandom(b.as_mut_ptr().cast(), b.len(), 0) };
    if n == 8 {
        u64::from_le_bytes(b)
    } else {
        basin_pool::pool::new_guid()
    }
}

/// Allocation-free description of a log block address, for messages.
pub fn describe(d: &Dva) -> String {
    d.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_verify_only_in_their_place() {
        let mut b = vec![0u8; ZIL_BLOCK];
        b[0..8].copy_from_slice(&MAGIC.to_le_bytes());
        b[8..12].copy_from_slice(&VERSION.to_le_bytes());
        b[12..16].copy_from_slice(&1u32.to_le_bytes());
        b[16..24].copy_from_slice(&77u64.to_le_bytes());
        b[24..32].copy_from_slice(&5u64.to_le_bytes());
        let used = HEADER + REC_HEADER + 8;
        b[40..44].copy_from_slice(&(used as u32).to_le_bytes());
        b[HEADER..HEADER + 4].copy_from_slice(&3u32.to_le_bytes());
        b[HEADER + REC_HEADER..HEADER + REC_HEADER + 3].copy_from_slice(b"abc");
        let sum = checksum(77, 5, &b[..used]);
        b[SUM_OFF..SUM_OFF + 32].copy_from_slice(&sum);
        let ptr = ZilPtr {
            seq: 5,
            ..Default::default()
        };
        let (recs, _, end) = decode_block(&b, 77, &ptr).expect("valid");
        assert!(!end);
        assert_eq!(recs[0].payload, b"abc");
        assert!(decode_block(&b, 78, &ptr).is_none(), "another chain");
        assert!(
            decode_block(&b, 77, &ZilPtr { seq: 6, ..ptr }).is_none(),
            "another place"
        );
        b[HEADER + REC_HEADER] ^= 1;
        assert!(decode_block(&b, 77, &ptr).is_none(), "damaged");
    }

    proptest::proptest! {
        #[test]
        fn decode_is_total(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..600), id in 0u64..3) {
            let mut b = bytes.clone();
            if b.len() >= 16 {
                b[0..8].copy_from_slice(&MAGIC.to_le_bytes());
                b[8..12].copy_from_slice(&VERSION.to_le_bytes());
            }
            let _ = decode_block(&b, id, &ZilPtr::default());
        }
    }
}
