//! Key-value objects (ZAP): names to small values, for directories,
//! properties and the dataset tree.
//!
//! A small ZAP keeps its entries in its first block ("micro" form). When they
//! no longer fit, it becomes an extendible hash ("fat" form): block 0 holds a
//! header and, while it is small, the pointer table; the top `depth` bits of
//! a name's hash index the table, which points at leaf blocks; a full leaf
//! splits in two, doubling the table when needed. A lookup reads at most
//! three blocks whatever the number of entries.
//!
//! Entries are ordered by a cookie below 2^62: the top 46 bits of the
//! name's hash and a 16-bit collision differentiator. The cookie of an entry never
//! changes, so iteration can resume from it (directory offsets).
//!
//! Layouts (little-endian, blocks of [`ZAP_BLOCK`] bytes):
//! - micro block: magic `BZAPMICR` (8), entry count `u32`, zero (20), entries;
//! - fat header: magic `BZAPFAT1` (8), entry count `u64`, depth `u8`, zero
//!   (7), first table block `u64` (0: the table is embedded at byte 1024),
//!   table block count `u64`, next free block `u64`, zero (16);
//! - leaf: magic `BZAPLEAF` (8), prefix length `u8`, zero (7), prefix `u64`,
//!   entry count `u16`, zero (6), entries;
//! - entry: hash `u64`, collision differentiator `u16`, name length `u16`,
//!   value length `u16`, zero (2), name, value; sorted by cookie.

use crate::error::{DmuError, Result};
use crate::objset::Objset;
use crate::types::ObjectType;

/// Block size of ZAP objects.
pub const ZAP_BLOCK: usize = 16 * 1024;
/// Longest name.
pub const MAX_NAME: usize = 1024;
/// Largest value.
pub const MAX_VALUE: usize = 4096;

const MICRO_MAGIC: u64 = u64::from_le_bytes(*b"BZAPMICR");
const FAT_MAGIC: u64 = u64::from_le_bytes(*b"BZAPFAT1");
const LEAF_MAGIC: u64 = u64::from_le_bytes(*b"BZAPLEAF");
const MICRO_HEADER: usize = 32;
const LEAF_HEADER: usize = 32;
const ENTRY_HEADER: usize = 16;
const EMBED_OFF: usize = 1024;
const EMBED_PTRS: u64 = 1024;
const PTRS_PER_BLOCK: u64 = (ZAP_BLOCK / 8) as u64;
const MAX_DEPTH: u8 = 40;
/// Low hash bits left out of a cookie, so that cookies stay below 2^62
/// (directory offsets must fit a signed 64-bit number with room to spare).
const COOKIE_DROP: u32 = 18;

/// One entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZapEntry {
    /// Position cookie (stable while the entry exists).
    pub cookie: u64,
    /// Name.
    pub name: Vec<u8>,
    /// Value.
    pub value: Vec<u8>,
}

#[derive(Clone, Debug)]
struct Entry {
    hash: u64,
    cd: u16,
    name: Vec<u8>,
    value: Vec<u8>,
}

impl Entry {
    fn cookie(&self) -> u64 {
        ((self.hash >> COOKIE_DROP) << 16) | self.cd as u64
    }

    fn size(&self) -> usize {
        ENTRY_HEADER + self.name.len() + self.value.len()
    }
}

/// The hash of a name.
pub fn hash_name(name: &[u8]) -> u64 {
    let h = blake3::hash(name);
    u64::from_le_bytes(h.as_bytes()[..8].try_into().expect("8 bytes"))
}

fn le64(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().expect("8"))
}

/// One encoded entry of a block, borrowed.
struct RawEntry<'b> {
    /// Where it starts and ends in the block.
    at: usize,
    end: usize,
    hash: u64,
    cd: u16,
    name: &'b [u8],
    value: &'b [u8],
}

impl RawEntry<'_> {
    fn cookie(&self) -> u64 {
        ((self.hash >> COOKIE_DROP) << 16) | self.cd as u64
    }
}

/// The `count` encoded entries at `start` of `b`, each checked to lie
/// within the block: an error ends the walk.
fn raw_entries<'b>(
    b: &'b [u8],
    start: usize,
    count: usize,
    what: &'static str,
) -> impl Iterator<Item = Result<RawEntry<'b>>> + 'b {
    let mut o = start;
    let mut left = count;
    std::iter::from_fn(move || {
        if left == 0 {
            return None;
        }
        left -= 1;
        if o + ENTRY_HEADER > b.len() {
            left = 0;
            return Some(Err(DmuError::corrupt(what, "entry beyond the block")));
        }
        let nl = u16::from_le_bytes([b[o + 10], b[o + 11]]) as usize;
        let vl = u16::from_le_bytes([b[o + 12], b[o + 13]]) as usize;
        let end = o + ENTRY_HEADER + nl + vl;
        if nl > MAX_NAME || vl > MAX_VALUE || end > b.len() {
            left = 0;
            return Some(Err(DmuError::corrupt(what, "entry lengths out of bounds")));
        }
        let e = RawEntry {
            at: o,
            end,
            hash: le64(b, o),
            cd: u16::from_le_bytes([b[o + 8], b[o + 9]]),
            name: &b[o + ENTRY_HEADER..o + ENTRY_HEADER + nl],
            value: &b[o + ENTRY_HEADER + nl..end],
        };
        o = end;
        Some(Ok(e))
    })
}

fn decode_entries(b: &[u8], start: usize, count: usize, what: &'static str) -> Result<Vec<Entry>> {
    let mut out = Vec::with_capacity(count.min(4096));
    for e in raw_entries(b, start, count, what) {
        let e = e?;
        out.push(Entry {
            hash: e.hash,
            cd: e.cd,
            name: e.name.to_vec(),
            value: e.value.to_vec(),
        });
    }
    if out.windows(2).any(|w| w[0].cookie() >= w[1].cookie()) {
        return Err(DmuError::corrupt(what, "entries out of order"));
    }
    Ok(out)
}

/// The little-endian `u64` at `o` of a block that may be short (damaged).
fn get64(b: &[u8], o: usize, what: &'static str) -> Result<u64> {
    b.get(o..o + 8)
        .map(|s| u64::from_le_bytes(s.try_into().expect("8")))
        .ok_or_else(|| DmuError::corrupt(what, "short block"))
}

/// Finds the entry `name` (of hash `hash`) among the `count` entries at
/// `start` of `b`, checking their bounds as [`decode_entries`] does, and
/// copies its value out.
fn find_entry(
    b: &[u8],
    start: usize,
    count: usize,
    hash: u64,
    name: &[u8],
    what: &'static str,
) -> Result<Option<Vec<u8>>> {
    for e in raw_entries(b, start, count, what) {
        let e = e?;
        if e.hash == hash && e.name == name {
            return Ok(Some(e.value.to_vec()));
        }
    }
    Ok(None)
}

/// The entries of a block after one edit, still encoded.
struct RawEdit {
    /// The cookie of the entry added, replaced or removed (None: a removal
    /// found nothing).
    cookie: Option<u64>,
    /// Whether anything changed.
    changed: bool,
    /// The entries, encoded, sorted by cookie.
    entries: Vec<u8>,
    /// How many there are.
    count: usize,
}

/// Inserts, replaces or (with `value` None) removes `name` among the
/// `count` sorted entries at `start` of `b`, working on their encoded
/// bytes: unlike decoding every entry, it allocates only the result.
#[allow(clippy::too_many_arguments)]
fn edit_raw(
    b: &[u8],
    start: usize,
    count: usize,
    name: &[u8],
    value: Option<&[u8]>,
    replace: bool,
    what: &'static str,
) -> Result<RawEdit> {
    let hash = hash_name(name);
    let base = hash >> COOKIE_DROP;
    let mut last = start;
    let mut prev: Option<u64> = None;
    let mut found: Option<(usize, usize, u16)> = None;
    let mut cds_of_base: Vec<u16> = Vec::new();
    let mut cookies: Vec<(usize, u64)> = Vec::with_capacity(count);
    for e in raw_entries(b, start, count, what) {
        let e = e?;
        let cookie = e.cookie();
        if prev.is_some_and(|p| p >= cookie) {
            return Err(DmuError::corrupt(what, "entries out of order"));
        }
        prev = Some(cookie);
        if e.hash == hash && e.name == name {
            found = Some((e.at, e.end, e.cd));
        }
        if e.hash >> COOKIE_DROP == base {
            cds_of_base.push(e.cd);
        }
        cookies.push((e.at, cookie));
        last = e.end;
    }
    let entry = |cd: u16, v: &[u8], out: &mut Vec<u8>| {
        out.extend_from_slice(&hash.to_le_bytes());
        out.extend_from_slice(&cd.to_le_bytes());
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(&(v.len() as u16).to_le_bytes());
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(name);
        out.extend_from_slice(v);
    };
    let cookie_of = |cd: u16| (base << 16) | cd as u64;
    let grown = value.map_or(0, |v| ENTRY_HEADER + name.len() + v.len());
    let mut out = Vec::with_capacity(last - start + grown);
    match (found, value) {
        (Some(_), Some(_)) if !replace => {
            Err(DmuError::Exists(String::from_utf8_lossy(name).into_owned()))
        }
        (Some((at, end, cd)), Some(v)) => {
            out.extend_from_slice(&b[start..at]);
            entry(cd, v, &mut out);
            out.extend_from_slice(&b[end..last]);
            Ok(RawEdit {
                cookie: Some(cookie_of(cd)),
                changed: true,
                entries: out,
                count,
            })
        }
        (Some((at, end, cd)), None) => {
            out.extend_from_slice(&b[start..at]);
            out.extend_from_slice(&b[end..last]);
            Ok(RawEdit {
                cookie: Some(cookie_of(cd)),
                changed: true,
                entries: out,
                count: count - 1,
            })
        }
        (None, None) => Ok(RawEdit {
            cookie: None,
            changed: false,
            entries: Vec::new(),
            count,
        }),
        (None, Some(v)) => {
            let mut cd = 0u16;
            while cds_of_base.contains(&cd) {
                cd = cd
                    .checked_add(1)
                    .ok_or_else(|| DmuError::TooLarge("too many hash collisions".into()))?;
            }
            let c = cookie_of(cd);
            let at = cookies
                .iter()
                .find(|(_, k)| *k > c)
                .map_or(last, |(at, _)| *at);
            out.extend_from_slice(&b[start..at]);
            entry(cd, v, &mut out);
            out.extend_from_slice(&b[at..last]);
            Ok(RawEdit {
                cookie: Some(c),
                changed: true,
                entries: out,
                count: count + 1,
            })
        }
    }
}

fn encode_entries(entries: &[Entry], out: &mut [u8], start: usize) {
    let mut o = start;
    for e in entries {
        out[o..o + 8].copy_from_slice(&e.hash.to_le_bytes());
        out[o + 8..o + 10].copy_from_slice(&e.cd.to_le_bytes());
        out[o + 10..o + 12].copy_from_slice(&(e.name.len() as u16).to_le_bytes());
        out[o + 12..o + 14].copy_from_slice(&(e.value.len() as u16).to_le_bytes());
        out[o + ENTRY_HEADER..o + ENTRY_HEADER + e.name.len()].copy_from_slice(&e.name);
        out[o + ENTRY_HEADER + e.name.len()..o + e.size()].copy_from_slice(&e.value);
        o += e.size();
    }
}

fn entries_size(entries: &[Entry]) -> usize {
    entries.iter().map(Entry::size).sum()
}

struct Leaf {
    prefix_len: u8,
    prefix: u64,
    entries: Vec<Entry>,
}

impl Leaf {
    fn decode(b: &[u8]) -> Result<Leaf> {
        const WHAT: &str = "ZAP leaf";
        if b.len() < LEAF_HEADER || le64(b, 0) != LEAF_MAGIC {
            return Err(DmuError::corrupt(WHAT, "bad magic"));
        }
        let prefix_len = b[8];
        if prefix_len > MAX_DEPTH {
            return Err(DmuError::corrupt(WHAT, "prefix too long"));
        }
        let count = u16::from_le_bytes([b[24], b[25]]) as usize;
        Ok(Leaf {
            prefix_len,
            prefix: le64(b, 16),
            entries: decode_entries(b, LEAF_HEADER, count, WHAT)?,
        })
    }

    fn encode(&self) -> Vec<u8> {
        let mut b = vec![0u8; ZAP_BLOCK];
        b[0..8].copy_from_slice(&LEAF_MAGIC.to_le_bytes());
        b[8] = self.prefix_len;
        b[16..24].copy_from_slice(&self.prefix.to_le_bytes());
        b[24..26].copy_from_slice(&(self.entries.len() as u16).to_le_bytes());
        encode_entries(&self.entries, &mut b, LEAF_HEADER);
        b
    }

    fn fits(&self) -> bool {
        LEAF_HEADER + entries_size(&self.entries) <= ZAP_BLOCK
    }
}

#[derive(Clone, Copy)]
struct FatHeader {
    entries: u64,
    depth: u8,
    table_start: u64,
    table_blocks: u64,
    next_free: u64,
}

impl FatHeader {
    fn decode(b: &[u8]) -> Result<FatHeader> {
        let h = FatHeader {
            entries: le64(b, 8),
            depth: b[16],
            table_start: le64(b, 24),
            table_blocks: le64(b, 32),
            next_free: le64(b, 40),
        };
        if h.depth > MAX_DEPTH || (h.table_start == 0 && (1u64 << h.depth) > EMBED_PTRS) {
            return Err(DmuError::corrupt(
                "ZAP header",
                format!("depth {}", h.depth),
            ));
        }
        Ok(h)
    }

    fn write_into(&self, b: &mut [u8]) {
        b[0..8].copy_from_slice(&FAT_MAGIC.to_le_bytes());
        b[8..16].copy_from_slice(&self.entries.to_le_bytes());
        b[16] = self.depth;
        b[17..24].fill(0);
        b[24..32].copy_from_slice(&self.table_start.to_le_bytes());
        b[32..40].copy_from_slice(&self.table_blocks.to_le_bytes());
        b[40..48].copy_from_slice(&self.next_free.to_le_bytes());
    }
}

/// A ZAP object of an object set.
pub struct Zap<'a> {
    os: &'a Objset,
    id: u64,
}

enum Form {
    Micro(Vec<Entry>),
    Fat(FatHeader, Vec<u8>),
}

impl<'a> Zap<'a> {
    /// The ZAP object `id` of `os`.
    pub fn new(os: &'a Objset, id: u64) -> Zap<'a> {
        Zap { os, id }
    }

    /// Creates an empty ZAP object of `object_type` in `txg`.
    pub fn create(os: &'a Objset, txg: u64, object_type: ObjectType) -> Result<u64> {
        os.create_object(txg, object_type, ZAP_BLOCK as u32, 0, &[])
    }

    /// Creates a ZAP object with a given bonus (directories keep their
    /// attributes there).
    pub fn create_with_bonus(
        os: &'a Objset,
        txg: u64,
        object_type: ObjectType,
        bonus_type: u8,
        bonus: &[u8],
    ) -> Result<u64> {
        os.create_object(txg, object_type, ZAP_BLOCK as u32, bonus_type, bonus)
    }

    fn block(&self, blkid: u64) -> Result<Vec<u8>> {
        let mut b = vec![0u8; ZAP_BLOCK];
        self.os.read(self.id, blkid * ZAP_BLOCK as u64, &mut b)?;
        Ok(b)
    }

    fn put(&self, txg: u64, blkid: u64, b: &[u8]) -> Result<()> {
        self.os.write(txg, self.id, blkid * ZAP_BLOCK as u64, b)
    }

    fn form(&self) -> Result<Form> {
        let b = self.block(0)?;
        match le64(&b, 0) {
            0 => Ok(Form::Micro(Vec::new())),
            MICRO_MAGIC => {
                let count = u32::from_le_bytes(b[8..12].try_into().expect("4")) as usize;
                Ok(Form::Micro(decode_entries(
                    &b,
                    MICRO_HEADER,
                    count,
                    "micro ZAP",
                )?))
            }
            FAT_MAGIC => Ok(Form::Fat(FatHeader::decode(&b)?, b)),
            m => Err(DmuError::corrupt("ZAP", format!("bad magic {m:#x}"))),
        }
    }

    fn table_get(&self, h: &FatHeader, block0: &[u8], idx: u64) -> Result<u64> {
        if h.table_start == 0 {
            return Ok(le64(block0, EMBED_OFF + idx as usize * 8));
        }
        let blk = h.table_start + idx / PTRS_PER_BLOCK;
        let b = self.block(blk)?;
        Ok(le64(&b, (idx % PTRS_PER_BLOCK) as usize * 8))
    }

    /// The value of `name`.
    pub fn lookup(&self, name: &[u8]) -> Result<Option<Vec<u8>>> {
        self.os
            .with_lock(self.id, false, || self.lookup_locked(name))?
    }

    /// Looks `name` up in the blocks as they are (the cache's or a dirty
    /// txg's), copying only the value found: a lookup is on the path of
    /// every file open, create and stat.
    fn lookup_locked(&self, name: &[u8]) -> Result<Option<Vec<u8>>> {
        let hash = hash_name(name);
        enum Next {
            Found(Option<Vec<u8>>),
            Slot {
                table_blk: u64,
                at: usize,
                next_free: u64,
            },
            Leaf {
                blk: u64,
                next_free: u64,
            },
        }
        let next = self.os.with_block(self.id, 0, |b| -> Result<Next> {
            match get64(b, 0, "ZAP")? {
                0 => Ok(Next::Found(None)),
                MICRO_MAGIC => {
                    let count = u32::from_le_bytes(
                        b.get(8..12)
                            .ok_or_else(|| DmuError::corrupt("micro ZAP", "short block"))?
                            .try_into()
                            .expect("4"),
                    ) as usize;
                    find_entry(b, MICRO_HEADER, count, hash, name, "micro ZAP").map(Next::Found)
                }
                FAT_MAGIC => {
                    if b.len() < EMBED_OFF {
                        return Err(DmuError::corrupt("ZAP header", "short block"));
                    }
                    let h = FatHeader::decode(b)?;
                    let idx = if h.depth == 0 {
                        0
                    } else {
                        hash >> (64 - h.depth as u32)
                    };
                    if h.table_start == 0 {
                        Ok(Next::Leaf {
                            blk: get64(b, EMBED_OFF + idx as usize * 8, "ZAP header")?,
                            next_free: h.next_free,
                        })
                    } else {
                        Ok(Next::Slot {
                            table_blk: h.table_start + idx / PTRS_PER_BLOCK,
                            at: (idx % PTRS_PER_BLOCK) as usize * 8,
                            next_free: h.next_free,
                        })
                    }
                }
                m => Err(DmuError::corrupt("ZAP", format!("bad magic {m:#x}"))),
            }
        })??;
        let (blk, next_free) = match next {
            Next::Found(v) => return Ok(v),
            Next::Leaf { blk, next_free } => (blk, next_free),
            Next::Slot {
                table_blk,
                at,
                next_free,
            } => (
                self.os
                    .with_block(self.id, table_blk, |b| get64(b, at, "ZAP table"))??,
                next_free,
            ),
        };
        if blk == 0 || blk >= next_free {
            return Err(DmuError::corrupt(
                "ZAP",
                format!("table points at block {blk}"),
            ));
        }
        self.os
            .with_block(self.id, blk, |b| -> Result<Option<Vec<u8>>> {
                const WHAT: &str = "ZAP leaf";
                if b.len() < LEAF_HEADER || le64(b, 0) != LEAF_MAGIC {
                    return Err(DmuError::corrupt(WHAT, "bad magic"));
                }
                if b[8] > MAX_DEPTH {
                    return Err(DmuError::corrupt(WHAT, "prefix too long"));
                }
                let count = u16::from_le_bytes([b[24], b[25]]) as usize;
                find_entry(b, LEAF_HEADER, count, hash, name, WHAT)
            })?
    }

    /// The value of `name` as a little-endian `u64`.
    pub fn lookup_u64(&self, name: &str) -> Result<Option<u64>> {
        Ok(self
            .lookup(name.as_bytes())?
            .and_then(|v| v.get(..8).map(|b| le64(b, 0))))
    }

    /// Adds `name`; fails if it exists.
    pub fn insert(&self, txg: u64, name: &[u8], value: &[u8]) -> Result<u64> {
        self.change(txg, name, Some(value), false)
            .map(|c| c.expect("insert returns a cookie"))
    }

    /// Adds or replaces `name`.
    pub fn update(&self, txg: u64, name: &[u8], value: &[u8]) -> Result<u64> {
        self.change(txg, name, Some(value), true)
            .map(|c| c.expect("update returns a cookie"))
    }

    /// Adds or replaces `name` with a little-endian `u64`.
    pub fn update_u64(&self, txg: u64, name: &str, v: u64) -> Result<()> {
        self.update(txg, name.as_bytes(), &v.to_le_bytes())
            .map(|_| ())
    }

    /// Removes `name`; returns whether it existed.
    pub fn remove(&self, txg: u64, name: &[u8]) -> Result<bool> {
        Ok(self.change(txg, name, None, true)?.is_some())
    }

    fn change(
        &self,
        txg: u64,
        name: &[u8],
        value: Option<&[u8]>,
        replace: bool,
    ) -> Result<Option<u64>> {
        if name.is_empty() || name.len() > MAX_NAME {
            return Err(DmuError::TooLarge(format!(
                "name of {} bytes (1 to {MAX_NAME})",
                name.len()
            )));
        }
        if value.is_some_and(|v| v.len() > MAX_VALUE) {
            return Err(DmuError::TooLarge(format!("value over {MAX_VALUE} bytes")));
        }
        self.os.with_lock(self.id, true, || {
            self.change_locked(txg, name, value, replace)
        })?
    }

    fn change_locked(
        &self,
        txg: u64,
        name: &[u8],
        value: Option<&[u8]>,
        replace: bool,
    ) -> Result<Option<u64>> {
        let mut b0 = self.block(0)?;
        match le64(&b0, 0) {
            magic @ (0 | MICRO_MAGIC) => {
                let count = if magic == 0 {
                    0
                } else {
                    u32::from_le_bytes(b0[8..12].try_into().expect("4")) as usize
                };
                let e = edit_raw(&b0, MICRO_HEADER, count, name, value, replace, "micro ZAP")?;
                if !e.changed {
                    return Ok(e.cookie);
                }
                if MICRO_HEADER + e.entries.len() <= ZAP_BLOCK {
                    let mut b = vec![0u8; ZAP_BLOCK];
                    b[0..8].copy_from_slice(&MICRO_MAGIC.to_le_bytes());
                    b[8..12].copy_from_slice(&(e.count as u32).to_le_bytes());
                    b[MICRO_HEADER..MICRO_HEADER + e.entries.len()].copy_from_slice(&e.entries);
                    self.put(txg, 0, &b)?;
                } else {
                    let entries = decode_entries(&e.entries, 0, e.count, "micro ZAP")?;
                    self.upgrade(txg, entries)?;
                }
                Ok(e.cookie)
            }
            FAT_MAGIC => {
                const WHAT: &str = "ZAP leaf";
                let mut h = FatHeader::decode(&b0)?;
                let hash = hash_name(name);
                let idx = if h.depth == 0 {
                    0
                } else {
                    hash >> (64 - h.depth as u32)
                };
                let blk = self.table_get(&h, &b0, idx)?;
                if blk == 0 || blk >= h.next_free {
                    return Err(DmuError::corrupt(
                        "ZAP",
                        format!("table points at block {blk}"),
                    ));
                }
                let lb = self.block(blk)?;
                if le64(&lb, 0) != LEAF_MAGIC {
                    return Err(DmuError::corrupt(WHAT, "bad magic"));
                }
                if lb[8] > MAX_DEPTH {
                    return Err(DmuError::corrupt(WHAT, "prefix too long"));
                }
                let count = u16::from_le_bytes([lb[24], lb[25]]) as usize;
                let e = edit_raw(&lb, LEAF_HEADER, count, name, value, replace, WHAT)?;
                if !e.changed {
                    return Ok(e.cookie);
                }
                h.entries = h.entries + e.count as u64 - count as u64;
                if LEAF_HEADER + e.entries.len() <= ZAP_BLOCK {
                    let mut nb = vec![0u8; ZAP_BLOCK];
                    nb[..LEAF_HEADER].copy_from_slice(&lb[..LEAF_HEADER]);
                    nb[24..26].copy_from_slice(&(e.count as u16).to_le_bytes());
                    nb[LEAF_HEADER..LEAF_HEADER + e.entries.len()].copy_from_slice(&e.entries);
                    self.put(txg, blk, &nb)?;
                    h.write_into(&mut b0);
                    self.put(txg, 0, &b0)?;
                } else {
                    let leaf = Leaf {
                        prefix_len: lb[8],
                        prefix: le64(&lb, 16),
                        entries: decode_entries(&e.entries, 0, e.count, WHAT)?,
                    };
                    self.split(txg, h, b0, blk, leaf)?;
                }
                Ok(e.cookie)
            }
            m => Err(DmuError::corrupt("ZAP", format!("bad magic {m:#x}"))),
        }
    }

    /// Turns a micro ZAP that overflowed into a fat one.
    fn upgrade(&self, txg: u64, entries: Vec<Entry>) -> Result<()> {
        let h = FatHeader {
            entries: entries.len() as u64,
            depth: 0,
            table_start: 0,
            table_blocks: 0,
            next_free: 2,
        };
        let mut b0 = vec![0u8; ZAP_BLOCK];
        h.write_into(&mut b0);
        b0[EMBED_OFF..EMBED_OFF + 8].copy_from_slice(&1u64.to_le_bytes());
        let leaf = Leaf {
            prefix_len: 0,
            prefix: 0,
            entries,
        };
        self.split(txg, h, b0, 1, leaf)
    }

    /// Writes `leaf` (at block `blk`), splitting it until every part fits.
    fn split(
        &self,
        txg: u64,
        mut h: FatHeader,
        mut b0: Vec<u8>,
        blk: u64,
        leaf: Leaf,
    ) -> Result<()> {
        let mut pending = vec![(blk, leaf)];
        while let Some((blk, leaf)) = pending.pop() {
            if leaf.fits() {
                self.put(txg, blk, &leaf.encode())?;
                continue;
            }
            if leaf.prefix_len >= MAX_DEPTH {
                return Err(DmuError::TooLarge(
                    "ZAP leaf cannot split any further".into(),
                ));
            }
            if leaf.prefix_len == h.depth {
                self.grow_table(txg, &mut h, &mut b0)?;
            }
            let bit = 63 - leaf.prefix_len as u32;
            let (ones, zeros): (Vec<Entry>, Vec<Entry>) = leaf
                .entries
                .into_iter()
                .partition(|e| (e.hash >> bit) & 1 == 1);
            let plen = leaf.prefix_len + 1;
            let lo = Leaf {
                prefix_len: plen,
                prefix: leaf.prefix,
                entries: zeros,
            };
            let hi = Leaf {
                prefix_len: plen,
                prefix: leaf.prefix | (1u64 << bit),
                entries: ones,
            };
            let new_blk = h.next_free;
            h.next_free += 1;
            // Table slots of the upper half now point at the new leaf.
            let shift = 64 - h.depth as u32;
            let first = hi.prefix >> shift;
            let count = 1u64 << (h.depth - plen);
            for idx in first..first + count {
                self.table_set(txg, &h, &mut b0, idx, new_blk)?;
            }
            pending.push((blk, lo));
            pending.push((new_blk, hi));
        }
        h.write_into(&mut b0);
        self.put(txg, 0, &b0)
    }

    fn table_set(&self, txg: u64, h: &FatHeader, b0: &mut [u8], idx: u64, blk: u64) -> Result<()> {
        if h.table_start == 0 {
            b0[EMBED_OFF + idx as usize * 8..EMBED_OFF + idx as usize * 8 + 8]
                .copy_from_slice(&blk.to_le_bytes());
            return Ok(());
        }
        let tb = h.table_start + idx / PTRS_PER_BLOCK;
        let mut b = self.block(tb)?;
        let o = (idx % PTRS_PER_BLOCK) as usize * 8;
        b[o..o + 8].copy_from_slice(&blk.to_le_bytes());
        self.put(txg, tb, &b)
    }

    /// Doubles the pointer table.
    fn grow_table(&self, txg: u64, h: &mut FatHeader, b0: &mut [u8]) -> Result<()> {
        let old_n = 1u64 << h.depth;
        let mut old = Vec::with_capacity(old_n as usize);
        for i in 0..old_n {
            old.push(self.table_get(h, b0, i)?);
        }
        let new_n = old_n * 2;
        let doubled: Vec<u64> = old.iter().flat_map(|&p| [p, p]).collect();
        if new_n <= EMBED_PTRS {
            for (i, p) in doubled.iter().enumerate() {
                b0[EMBED_OFF + i * 8..EMBED_OFF + i * 8 + 8].copy_from_slice(&p.to_le_bytes());
            }
        } else {
            let blocks = new_n.div_ceil(PTRS_PER_BLOCK);
            let start = h.next_free;
            for (k, chunk) in doubled.chunks(PTRS_PER_BLOCK as usize).enumerate() {
                let mut b = vec![0u8; ZAP_BLOCK];
                for (i, p) in chunk.iter().enumerate() {
                    b[i * 8..i * 8 + 8].copy_from_slice(&p.to_le_bytes());
                }
                self.put(txg, start + k as u64, &b)?;
            }
            if h.table_start == 0 {
                b0[EMBED_OFF..EMBED_OFF + EMBED_PTRS as usize * 8].fill(0);
            } else {
                self.os.free_range(
                    txg,
                    self.id,
                    h.table_start * ZAP_BLOCK as u64,
                    h.table_blocks * ZAP_BLOCK as u64,
                )?;
            }
            h.table_start = start;
            h.table_blocks = blocks;
            h.next_free = start + blocks;
        }
        h.depth += 1;
        Ok(())
    }

    /// Number of entries.
    pub fn count(&self) -> Result<u64> {
        self.os.with_lock(self.id, false, || -> Result<u64> {
            Ok(match self.form()? {
                Form::Micro(e) => e.len() as u64,
                Form::Fat(h, _) => h.entries,
            })
        })?
    }

    /// Up to `max` entries with a cookie of at least `from`, in cookie order.
    pub fn list_from(&self, from: u64, max: usize) -> Result<Vec<ZapEntry>> {
        self.os
            .with_lock(self.id, false, || self.list_locked(from, max))?
    }

    fn list_locked(&self, from: u64, max: usize) -> Result<Vec<ZapEntry>> {
        let mut out = Vec::new();
        let take = |entries: Vec<Entry>, out: &mut Vec<ZapEntry>| {
            for e in entries {
                if out.len() >= max {
                    break;
                }
                if e.cookie() >= from {
                    out.push(ZapEntry {
                        cookie: e.cookie(),
                        name: e.name,
                        value: e.value,
                    });
                }
            }
        };
        match self.form()? {
            Form::Micro(e) => take(e, &mut out),
            Form::Fat(h, b0) => {
                let n = 1u64 << h.depth;
                let mut idx = if h.depth == 0 {
                    0
                } else {
                    (from << (COOKIE_DROP - 16)) >> (64 - h.depth as u32)
                };
                while idx < n && out.len() < max {
                    let blk = self.table_get(&h, &b0, idx)?;
                    if blk == 0 || blk >= h.next_free {
                        return Err(DmuError::corrupt(
                            "ZAP",
                            format!("table points at block {blk}"),
                        ));
                    }
                    let leaf = Leaf::decode(&self.block(blk)?)?;
                    // Skip the other table slots of this leaf.
                    let span = 1u64 << (h.depth - leaf.prefix_len.min(h.depth));
                    take(leaf.entries, &mut out);
                    idx = (idx / span + 1) * span;
                }
            }
        }
        Ok(out)
    }

    /// Every entry.
    pub fn list(&self) -> Result<Vec<ZapEntry>> {
        self.list_from(0, usize::MAX)
    }
}

/// Runs every ZAP block decoder over `bytes` taken as one block (padded or
/// cut to [`ZAP_BLOCK`]): the micro form, the fat header with its embedded
/// pointer table, and a leaf, which must encode back to what it decoded.
/// For the fuzz targets; returns the number of entries decoded.
#[doc(hidden)]
pub fn fuzz_decode(bytes: &[u8]) -> usize {
    let mut b = vec![0u8; ZAP_BLOCK];
    let n = bytes.len().min(ZAP_BLOCK);
    b[..n].copy_from_slice(&bytes[..n]);
    let mut decoded = 0;
    match le64(&b, 0) {
        MICRO_MAGIC => {
            let count = u32::from_le_bytes(b[8..12].try_into().expect("4")) as usize;
            if let Ok(e) = decode_entries(&b, MICRO_HEADER, count, "micro ZAP") {
                decoded += e.len();
            }
        }
        FAT_MAGIC => {
            if let Ok(h) = FatHeader::decode(&b) {
                if h.table_start == 0 {
                    for idx in 0..1u64 << h.depth {
                        let _ = le64(&b, EMBED_OFF + idx as usize * 8);
                    }
                }
                let mut again = vec![0u8; ZAP_BLOCK];
                h.write_into(&mut again);
                let back = FatHeader::decode(&again).expect("an encoded header decodes");
                assert_eq!(
                    (back.entries, back.depth, back.table_start),
                    (h.entries, h.depth, h.table_start)
                );
                assert_eq!(
                    (back.table_blocks, back.next_free),
                    (h.table_blocks, h.next_free)
                );
            }
        }
        _ => {}
    }
    if let Ok(leaf) = Leaf::decode(&b) {
        decoded += leaf.entries.len();
        if leaf.fits() {
            let back = Leaf::decode(&leaf.encode()).expect("an encoded leaf decodes");
            assert_eq!(back.prefix, leaf.prefix);
            assert_eq!(back.prefix_len, leaf.prefix_len);
            assert_eq!(back.entries.len(), leaf.entries.len());
            for (x, y) in back.entries.iter().zip(&leaf.entries) {
                assert_eq!(
                    (x.hash, x.cd, &x.name, &x.value),
                    (y.hash, y.cd, &y.name, &y.value)
                );
            }
        }
    }
    decoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaf_round_trip_and_corruption() {
        let leaf = Leaf {
            prefix_len: 3,
            prefix: 0xa000_0000_0000_0000,
            entries: vec![
                Entry {
                    hash: 5 << 16,
                    cd: 0,
                    name: b"a".to_vec(),
                    value: vec![1],
                },
                Entry {
                    hash: 9 << 16,
                    cd: 1,
                    name: b"bb".to_vec(),
                    value: vec![],
                },
            ],
        };
        let b = leaf.encode();
        let d = Leaf::decode(&b).unwrap();
        assert_eq!(d.entries.len(), 2);
        assert_eq!(d.entries[1].name, b"bb");
        let mut bad = b.clone();
        bad[32 + 10] = 0xff;
        bad[32 + 11] = 0xff;
        assert!(Leaf::decode(&bad).is_err());
    }

    proptest::proptest! {
        #[test]
        fn leaf_decode_is_total(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..2000)) {
            let _ = Leaf::decode(&bytes);
            let mut b = bytes.clone();
            if b.len() >= 32 {
                b[0..8].copy_from_slice(&LEAF_MAGIC.to_le_bytes());
                let _ = Leaf::decode(&b);
                let _ = decode_entries(&b, 8, 50, "x");
            }
        }
    }
}
