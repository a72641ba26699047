//! One entry point per decoder of on-disk or on-wire bytes. Each runs the
//! decoder on the input as it is and, where the structure carries a magic
//! or its own checksum, once more with the magic set and the checksum
//! sealed, so that the fuzzer reaches the fields behind them. Whatever
//! decodes must encode and decode back to the same value: a decoder that
//! accepts what its encoder cannot say is a bug too.
//!
//! A panic in any of these is a finding: decoders must be total.

use std::io::Cursor;

use basin_cli::protocol;
use basin_dmu::dnode::DnodePhys;
use basin_dmu::dsl::phys::{DatasetPhys, DeadlistHeader, DirPhys};
use basin_dmu::objset_phys::ObjsetPhys;
use basin_pool::checksum::self_checksum;
use basin_pool::compress::{self, Compression};
use basin_pool::history;
use basin_pool::label::{LabelConfig, CONFIG_OFFSET};
use basin_pool::mmp::{Heartbeat, HEARTBEAT_LEN};
use basin_pool::poolroot::PoolRoot;
use basin_pool::spacemap::{self, SmIndex};
use basin_pool::uberblock::{Uberblock, UBERBLOCK_MAGIC, UBERBLOCK_SIZE};
use basin_pool::BlkPtr;

/// Bytes of an uberblock covered by its self-checksum.
const UB_SUMMED: usize = UBERBLOCK_SIZE - 32;
/// Bytes of a heartbeat covered by its self-checksum.
const HB_SUMMED: usize = HEARTBEAT_LEN - 32;
/// Size of a label's configuration header.
const LABEL_HEADER: usize = 48;
/// Largest logical size the decompression target asks for.
const MAX_FUZZ_LSIZE: usize = 1 << 20;

/// Largest device offset the offset-bound targets use: a device offset is
/// the caller's, never read from disk, and no device comes near 2^64.
const MAX_DEVICE_OFFSET: u64 = (1 << 56) - 1;

/// Splits a little-endian `u64` (a device offset) off the front.
fn split_offset(data: &[u8]) -> (u64, &[u8]) {
    match data.split_first_chunk::<8>() {
        Some((o, rest)) => (u64::from_le_bytes(*o) & MAX_DEVICE_OFFSET, rest),
        None => (0, data),
    }
}

/// `data` with its first bytes replaced by `head` (when it is long enough).
fn with_head(data: &[u8], head: &[u8]) -> Option<Vec<u8>> {
    (data.len() >= head.len()).then(|| {
        let mut b = data.to_vec();
        b[..head.len()].copy_from_slice(head);
        b
    })
}

/// Block pointers.
pub fn blkptr(data: &[u8]) {
    if let Ok(bp) = BlkPtr::decode(data) {
        assert_eq!(BlkPtr::decode(&bp.encode()).ok(), Some(bp));
        let _ = (bp.describe(), bp.asize(), bp.ncopies());
    }
}

/// Uberblocks: input is the slot's device offset (8 bytes), then the slot.
pub fn uberblock(data: &[u8]) {
    let (off, body) = split_offset(data);
    let _ = Uberblock::decode(body, off);
    let mut b = body.to_vec();
    b.resize(b.len().max(UBERBLOCK_SIZE), 0);
    for force_magic in [false, true] {
        if force_magic {
            b[0..8].copy_from_slice(&UBERBLOCK_MAGIC.to_le_bytes());
        }
        let sum = self_checksum(off, &b[..UB_SUMMED]);
        b[UB_SUMMED..UBERBLOCK_SIZE].copy_from_slice(&sum.0);
        if let Ok(ub) = Uberblock::decode(&b, off) {
            assert_eq!(Uberblock::decode(&ub.encode(off), off).ok(), Some(ub));
        }
    }
}

/// Label configurations: input is the label's device offset (8 bytes),
/// then a configuration area, or only its JSON payload. The payload is
/// also sealed under a valid header.
pub fn label(data: &[u8]) {
    let (off, body) = split_offset(data);
    let _ = LabelConfig::decode(body, off);
    let payload = if body.len() >= LABEL_HEADER && body[..8] == *b"BASINLBL" {
        let len = u32::from_le_bytes([body[12], body[13], body[14], body[15]]) as usize;
        &body[LABEL_HEADER..LABEL_HEADER + len.min(body.len() - LABEL_HEADER)]
    } else {
        body
    };
    let mut area = vec![0u8; LABEL_HEADER + payload.len()];
    area[0..8].copy_from_slice(b"BASINLBL");
    area[8..12].copy_from_slice(&(basin_pool::FORMAT_VERSION as u32).to_le_bytes());
    area[12..16].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    area[LABEL_HEADER..].copy_from_slice(payload);
    let mut summed = area[..16].to_vec();
    summed.extend_from_slice(payload);
    let sum = self_checksum(off.wrapping_add(CONFIG_OFFSET), &summed);
    area[16..48].copy_from_slice(&sum.0);
    if let Ok(cfg) = LabelConfig::decode(&area, off) {
        let _ = (cfg.vdev_tree.leaves(), cfg.vdev_tree.guid_sum());
        if let Ok(again) = cfg.encode(off) {
            assert_eq!(LabelConfig::decode(&again, off).ok(), Some(cfg));
        }
    }
}

/// Heartbeats: input is the device offset (8 bytes), then the heartbeat.
pub fn heartbeat(data: &[u8]) {
    let (off, body) = split_offset(data);
    let _ = Heartbeat::decode(body, off);
    let mut b = body.to_vec();
    b.resize(b.len().max(HEARTBEAT_LEN), 0);
    b[0..8].copy_from_slice(b"BASINHB1");
    let sum = self_checksum(off, &b[..HB_SUMMED]);
    b[HB_SUMMED..HEARTBEAT_LEN].copy_from_slice(&sum.0);
    let hb = Heartbeat::decode(&b, off).expect("a sealed heartbeat decodes");
    assert_eq!(hb.encode(off)[..], b[..HEARTBEAT_LEN]);
}

/// Space map headers: magic and version 1.
fn sm_head(magic: &[u8; 8]) -> [u8; 12] {
    let mut h = [0u8; 12];
    h[..8].copy_from_slice(magic);
    h[8..].copy_from_slice(&1u32.to_le_bytes());
    h
}

/// Space map log blocks.
pub fn spacemap_log(data: &[u8]) {
    let forced = with_head(data, &sm_head(b"BASINSML"));
    for b in std::iter::once(data).chain(forced.as_deref()) {
        if let Ok((txg, entries)) = spacemap::decode_log(b) {
            let again = spacemap::encode_log(txg, &entries);
            assert_eq!(spacemap::decode_log(&again).ok(), Some((txg, entries)));
        }
    }
}

/// Space map checkpoint chunks.
pub fn spacemap_checkpoint(data: &[u8]) {
    let forced = with_head(data, &sm_head(b"BASINSMC"));
    for b in std::iter::once(data).chain(forced.as_deref()) {
        if let Ok((v, m, segs)) = spacemap::decode_checkpoint(b) {
            let again = spacemap::encode_checkpoint(v, m, &segs);
            assert_eq!(spacemap::decode_checkpoint(&again).ok(), Some((v, m, segs)));
        }
    }
}

/// Space map indexes.
pub fn spacemap_index(data: &[u8]) {
    let forced = with_head(data, &sm_head(b"BASINSMI"));
    for b in std::iter::once(data).chain(forced.as_deref()) {
        if let Ok(idx) = SmIndex::decode(b) {
            assert_eq!(SmIndex::decode(&idx.encode()).ok(), Some(idx));
        }
    }
}

/// Pool root blocks.
pub fn pool_root(data: &[u8]) {
    let forced = with_head(data, &sm_head(b"BASINPRT"));
    for b in std::iter::once(data).chain(forced.as_deref()) {
        if let Ok(root) = PoolRoot::decode(b) {
            if let Ok(again) = root.encode() {
                assert_eq!(PoolRoot::decode(&again).ok(), Some(root));
            }
        }
    }
}

/// Pool history blocks.
pub fn history(data: &[u8]) {
    let forced = with_head(data, &sm_head(b"BASINHIS"));
    for b in std::iter::once(data).chain(forced.as_deref()) {
        if let Ok((prev, recs)) = history::decode(b) {
            if let Ok(again) = history::encode(&prev, &recs) {
                assert_eq!(history::decode(&again).ok(), Some((prev, recs)));
            }
        }
    }
}

/// Dnodes.
pub fn dnode(data: &[u8]) {
    if let Ok(d) = DnodePhys::decode(data) {
        assert_eq!(DnodePhys::decode(&d.encode()).ok(), Some(d));
    }
}

/// Object set root blocks.
pub fn objset(data: &[u8]) {
    let mut head = [0u8; 16];
    head[..12].copy_from_slice(&sm_head(b"BASINOS1"));
    head[12..].copy_from_slice(&u32::from(data.first().copied().unwrap_or(0) % 4).to_le_bytes());
    let forced = with_head(data, &head);
    for b in std::iter::once(data).chain(forced.as_deref()) {
        if let Ok(os) = ObjsetPhys::decode(b) {
            assert_eq!(ObjsetPhys::decode(&os.encode()).ok(), Some(os));
        }
    }
}

/// Dataset directory records.
pub fn dsl_dir(data: &[u8]) {
    if let Ok(d) = DirPhys::decode(data) {
        assert_eq!(DirPhys::decode(&d.encode()).ok(), Some(d));
    }
}

/// Dataset records.
pub fn dsl_dataset(data: &[u8]) {
    if let Ok(d) = DatasetPhys::decode(data) {
        assert_eq!(DatasetPhys::decode(&d.encode()).ok(), Some(d));
    }
}

/// Deadlist headers.
pub fn deadlist_header(data: &[u8]) {
    if let Ok(h) = DeadlistHeader::decode(data) {
        assert_eq!(DeadlistHeader::decode(&h.encode()).ok(), Some(h));
    }
}

/// ZAP blocks: as they are, and as micro, fat and leaf blocks.
pub fn zap(data: &[u8]) {
    basin_dmu::zap::fuzz_decode(data);
    for magic in [b"BZAPMICR", b"BZAPFAT1", b"BZAPLEAF"] {
        if let Some(b) = with_head(data, magic) {
            basin_dmu::zap::fuzz_decode(&b);
        }
    }
}

/// Decompression: input is the logical size (3 bytes), the algorithm
/// (1 byte), then the stored bytes. Compressing the stored bytes must also
/// round-trip.
pub fn decompress(data: &[u8]) {
    let Some((head, stored)) = data.split_first_chunk::<4>() else {
        return;
    };
    let lsize = (u32::from_le_bytes([head[0], head[1], head[2], 0]) as usize).min(MAX_FUZZ_LSIZE);
    let algo = if head[3] & 1 == 1 {
        Compression::Lz4
    } else {
        Compression::Off
    };
    if let Ok(v) = compress::decompress(algo, stored, lsize) {
        assert_eq!(v.len(), lsize);
    }
    if let Some(c) = compress::compress(Compression::Lz4, stored) {
        assert!(c.len() < stored.len());
        let back = compress::decompress(Compression::Lz4, &c, stored.len());
        assert_eq!(back.ok().as_deref(), Some(stored));
    }
}

/// The daemon protocol: framing, requests and answers.
pub fn protocol(data: &[u8]) {
    let mut r = Cursor::new(data);
    while let Ok(Some(_)) = protocol::read_frame(&mut r, 64) {}
    if let Ok(req) = protocol::decode_request(data) {
        let line = protocol::encode(&req).expect("a decoded request encodes");
        let again = protocol::decode_request(&line).map_err(|e| e.error);
        assert_eq!(again, Ok(req));
    }
    if let Ok(resp) = protocol::decode_response(data) {
        // Numbers in answers are free JSON values, which may lose a last
        // bit of a float on the way back: only the encoding is checked.
        protocol::encode(&resp).expect("a decoded answer encodes");
    }
}
