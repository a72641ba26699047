//! The pool image fuzzer. A small pool is built once in memory (a single
//! vdev and a two-way mirror variant): datasets, a snapshot and a clone,
//! files with indirect blocks, a fat ZAP; the expected contents are
//! recorded after every txg. Each input picks the variant, then mutates
//! bytes at places it chooses among the image's labels, uberblock slots and
//! allocated blocks (optionally sealing the self-checksummed structures
//! again, so that their fields are reached), imports the result and reads
//! everything: files, ZAPs, dataset properties, every block, and the
//! checker's full check.
//!
//! Errors are fine. A panic, a hang, or data that differs from what was
//! written at the txg the import chose is a finding.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use basin_dmu::cache::BlockCache;
use basin_dmu::zap::Zap;
use basin_dmu::{DslPool, ObjectType};
use basin_pool::checksum::self_checksum;
use basin_pool::import::scan_devices;
use basin_pool::label::{label_offsets, CONFIG_OFFSET, FRONT_RESERVE, RING_OFFSET, RING_SIZE};
use basin_pool::spec::{DeviceSpec, TopKind, TopSpec};
use basin_pool::uberblock::{Uberblock, UBERBLOCK_SIZE};
use basin_pool::vdev::mem::MemDevice;
use basin_pool::vdev::BlockDevice;
use basin_pool::{CreateOptions, ImportOptions, Pool, PoolTunables, VdevSpec};

/// Size of each vdev of the image.
const VDEV_SIZE: u64 = 32 << 20;
/// Most mutations applied per input.
const MAX_OPS: usize = 32;
/// Bytes of one mutation in the input.
const OP_LEN: usize = 8;
/// The file with indirect blocks.
pub const BIG: u64 = 100;
/// A small file.
pub const SMALL: u64 = 101;
/// A fat ZAP.
pub const ZAP_OBJ: u64 = 102;
/// Entries of the fat ZAP.
const ZAP_ENTRIES: u64 = 400;

/// What a region of the image holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegionKind {
    /// A label's configuration header and payload, at label offset `label`.
    Label {
        /// Device offset of the label.
        label: u64,
    },
    /// An uberblock ring slot in use.
    Uberblock,
    /// One copy of an allocated block.
    Block,
}

/// Bytes of one device worth mutating.
#[derive(Clone, Copy, Debug)]
pub struct Region {
    /// Device index.
    pub dev: usize,
    /// Device offset.
    pub offset: u64,
    /// Length.
    pub len: u64,
    /// What it holds.
    pub kind: RegionKind,
}

/// What the datasets hold at some txg.
#[derive(Clone, Debug, Default)]
pub struct State {
    /// (dataset, object) -> contents.
    pub files: BTreeMap<(String, u64), Vec<u8>>,
    /// (dataset, object) -> entries.
    pub zaps: BTreeMap<(String, u64), BTreeMap<Vec<u8>, Vec<u8>>>,
}

/// A pristine pool image and what it must read back as.
pub struct Image {
    /// The vdevs, exported.
    pub devs: Vec<Arc<MemDevice>>,
    /// (txg, what the datasets hold from that txg on), oldest first.
    pub states: Vec<(u64, State)>,
    /// Where mutations go.
    pub regions: Vec<Region>,
}

/// Contents of file `seed`, `len` bytes: half compressible, half not.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if seed.is_multiple_of(2) {
                (i / 512) as u8
            } else {
                x as u8
            }
        })
        .collect()
}

/// Tunables of the image's pools: nothing runs in the background.
pub fn tunables() -> PoolTunables {
    PoolTunables {
        sync_interval: Duration::from_secs(24 * 3600),
        condense_logs: 4,
        io_uring: false,
        ..PoolTunables::for_tests()
    }
}

struct Builder {
    pool: Pool,
    dsl: Arc<DslPool>,
    state: State,
    states: Vec<(u64, State)>,
}

impl Builder {
    fn record(&mut self) {
        self.pool.sync().expect("sync");
        let txg = self.pool.last_synced_txg();
        self.states.push((txg, self.state.clone()));
    }

    fn write(&mut self, ds: &str, obj: u64, off: usize, data: &[u8]) {
        let os = self.dsl.objset(ds).expect("objset");
        let id = self.dsl.dataset_id(ds).expect("dataset");
        {
            let tx = self
                .dsl
                .assign(id, data.len() as u64, false)
                .expect("assign");
            if !os.exists(obj).expect("exists") {
                os.claim_object(tx.txg(), obj, ObjectType::PLAIN_FILE, 4096, 0, &[])
                    .expect("claim");
            }
            os.write(tx.txg(), obj, off as u64, data).expect("write");
        }
        let f = self.state.files.entry((ds.into(), obj)).or_default();
        if f.len() < off + data.len() {
            f.resize(off + data.len(), 0);
        }
        f[off..off + data.len()].copy_from_slice(data);
        self.record();
    }

    fn zap(&mut self, ds: &str, n: u64) {
        let os = self.dsl.objset(ds).expect("objset");
        let id = self.dsl.dataset_id(ds).expect("dataset");
        let mut entries = BTreeMap::new();
        {
            let tx = self.dsl.assign(id, 256 * 1024, false).expect("assign");
            let z = Zap::create(&os, tx.txg(), ObjectType::ZAP).expect("zap");
            assert_eq!(z, ZAP_OBJ, "the ZAP got another object id");
            for i in 0..n {
                let name = format!("entry-{i:05}");
                let value = pattern(8 + (i % 24) as usize, i);
                Zap::new(&os, z)
                    .update(tx.txg(), name.as_bytes(), &value)
                    .expect("update");
                entries.insert(name.into_bytes(), value);
            }
        }
        self.state.zaps.insert((ds.into(), ZAP_OBJ), entries);
        self.record();
    }

    /// The files and ZAPs of `from` as they are now, under `to`.
    fn copy_dataset(&mut self, from: &str, to: &str) {
        let files: Vec<_> = self
            .state
            .files
            .iter()
            .filter(|((d, _), _)| d == from)
            .map(|((_, o), v)| ((to.to_string(), *o), v.clone()))
            .collect();
        self.state.files.extend(files);
        let zaps: Vec<_> = self
            .state
            .zaps
            .iter()
            .filter(|((d, _), _)| d == from)
            .map(|((_, o), v)| ((to.to_string(), *o), v.clone()))
            .collect();
        self.state.zaps.extend(zaps);
    }
}

/// Builds the image: a single vdev, or a two-way mirror.
pub fn build(mirror: bool) -> Image {
    let n = if mirror { 2 } else { 1 };
    let devs: Vec<Arc<MemDevice>> = (0..n)
        .map(|i| Arc::new(MemDevice::new(&format!("img{i}"), VDEV_SIZE)))
        .collect();
    let spec = VdevSpec {
        tops: vec![TopSpec {
            kind: if mirror {
                TopKind::Mirror
            } else {
                TopKind::Single
            },
            devices: devs
                .iter()
                .map(|d| DeviceSpec::Device(d.clone() as Arc<dyn BlockDevice>))
                .collect(),
        }],
    };
    let pool = Pool::create(
        "fz",
        &spec,
        &CreateOptions {
            tunables: tunables(),
            min_vdev_size: VDEV_SIZE,
            command: Some("zpool create fz".into()),
            ..Default::default()
        },
    )
    .expect("create");
    let cache = Arc::new(BlockCache::new(32 << 20).expect("cache"));
    let dsl = DslPool::init(pool.clone(), cache, &[]).expect("init");
    let mut b = Builder {
        pool,
        dsl,
        state: State::default(),
        states: Vec::new(),
    };
    b.record();
    for ds in ["fz/a", "fz/b"] {
        b.dsl.create(ds, None, &[], false).expect("create dataset");
        b.record();
    }
    b.write("fz/a", BIG, 0, &pattern(300 * 1024, 1));
    b.write("fz/a", SMALL, 0, &pattern(3000, 2));
    b.zap("fz/a", ZAP_ENTRIES);
    b.dsl
        .snapshot(&["fz/a@s1".to_string()], false)
        .expect("snapshot");
    b.copy_dataset("fz/a", "fz/a@s1");
    b.record();
    b.write("fz/a", BIG, 140 * 1024, &pattern(10 * 1024, 3));
    b.write("fz/b", BIG, 0, &pattern(100 * 1024, 4));
    b.dsl.clone_snapshot("fz/a@s1", "fz/c", &[]).expect("clone");
    b.copy_dataset("fz/a@s1", "fz/c");
    b.record();
    b.write("fz/c", SMALL, 1000, &pattern(500, 5));

    let regions = regions(&b.pool, &b.dsl, &devs);
    b.pool.set_syncer(None);
    b.pool.export().expect("export");
    Image {
        devs,
        states: b.states,
        regions,
    }
}

/// The labels, uberblock slots in use and allocated block copies of the
/// image.
fn regions(pool: &Pool, dsl: &DslPool, devs: &[Arc<MemDevice>]) -> Vec<Region> {
    let mut out = Vec::new();
    let mut blocks = pool.metadata_blocks().expect("metadata");
    blocks.extend(dsl.all_blocks().expect("blocks"));
    blocks.sort_by_key(|b| (b.dva[0].offset, b.birth));
    blocks.dedup_by_key(|b| (b.dva[0].offset, b.birth));
    for (i, d) in devs.iter().enumerate() {
        for lo in label_offsets(d.size()) {
            let mut head = [0u8; 16];
            d.read_at(lo + CONFIG_OFFSET, &mut head).expect("read");
            let len = u32::from_le_bytes([head[12], head[13], head[14], head[15]]) as u64;
            out.push(Region {
                dev: i,
                offset: lo + CONFIG_OFFSET,
                len: 48 + len,
                kind: RegionKind::Label { label: lo },
            });
            let mut ring = vec![0u8; RING_SIZE as usize];
            d.read_at(lo + RING_OFFSET, &mut ring).expect("read");
            let slot = Uberblock::slot_size(12);
            for (k, s) in ring.chunks(slot).enumerate() {
                if s.iter().any(|&b| b != 0) {
                    out.push(Region {
                        dev: i,
                        offset: lo + RING_OFFSET + (k * slot) as u64,
                        len: UBERBLOCK_SIZE as u64,
                        kind: RegionKind::Uberblock,
                    });
                }
            }
        }
        for bp in &blocks {
            for d in bp.copies() {
                out.push(Region {
                    dev: i,
                    offset: FRONT_RESERVE + d.offset,
                    len: d.asize as u64,
                    kind: RegionKind::Block,
                });
            }
        }
    }
    out
}

/// The pristine image of a variant, built on first use.
pub fn image(mirror: bool) -> &'static Image {
    static SINGLE: OnceLock<Image> = OnceLock::new();
    static MIRROR: OnceLock<Image> = OnceLock::new();
    if mirror {
        MIRROR.get_or_init(|| build(true))
    } else {
        SINGLE.get_or_init(|| build(false))
    }
}

/// Input flags (first byte).
pub mod flags {
    /// Use the mirror variant.
    pub const MIRROR: u8 = 1;
    /// Import read-write (self-healing on) instead of read-only.
    pub const READ_WRITE: u8 = 2;
    /// Run the checker's full check.
    pub const CHECK: u8 = 4;
    /// Seal labels and uberblocks again after mutating them.
    pub const RESEAL: u8 = 8;
}

/// The region an operation targets: `class` picks labels, uberblocks or
/// blocks (so that the few labels and uberblocks are not drowned among the
/// blocks), `index` one of them.
fn pick(img: &Image, class: u8, index: u16) -> Option<Region> {
    let wanted = |r: &&Region| match class % 4 {
        0 => matches!(r.kind, RegionKind::Label { .. }),
        1 => r.kind == RegionKind::Uberblock,
        _ => r.kind == RegionKind::Block,
    };
    let n = img.regions.iter().filter(wanted).count();
    if n == 0 {
        return None;
    }
    img.regions
        .iter()
        .filter(wanted)
        .nth(index as usize % n)
        .copied()
}

/// Applies the mutations of `ops` to copies of the image's devices. Each
/// operation is 8 bytes: what to do (low 3 bits: flip, set, zero a run,
/// fill a run, copy another region over, write a boundary word; next 2
/// bits: labels, uberblocks or blocks), which region (`u16`), where in it
/// (`u32`), and a value.
fn mutate(img: &Image, ops: &[u8], reseal: bool) -> Vec<Arc<MemDevice>> {
    let devs: Vec<Arc<MemDevice>> = img.devs.iter().map(|d| Arc::new(d.snapshot())).collect();
    if img.regions.is_empty() {
        return devs;
    }
    let mut touched = Vec::new();
    for op in ops.chunks_exact(OP_LEN).take(MAX_OPS) {
        let Some(r) = pick(img, op[0] >> 3, u16::from_le_bytes([op[1], op[2]])) else {
            continue;
        };
        let mut at = u32::from_le_bytes([op[3], op[4], op[5], op[6]]) as u64 % r.len.max(1);
        if (op[0] & 7) % 6 == 5 {
            // Words go where the fields are: at multiples of 8.
            at &= !7;
        }
        let value = op[7];
        let dev = &devs[r.dev];
        let off = r.offset + at;
        let left = r.len - at;
        let mut byte = [0u8; 1];
        let _ = dev.read_at(off, &mut byte);
        match (op[0] & 7) % 6 {
            0 => dev.corrupt(off, &[byte[0] ^ value.max(1)]),
            1 => dev.corrupt(off, &[value]),
            2 => {
                let n = (1u64 << (value % 13)).min(left) as usize;
                dev.corrupt(off, &vec![0; n]);
            }
            3 => {
                let n = (u64::from(value) + 1).min(left) as usize;
                dev.corrupt(off, &vec![value; n]);
            }
            4 => {
                // Another region's bytes here: a misdirected or lost write.
                let src = img.regions[value as usize * 257 % img.regions.len()];
                let n = src.len.min(r.len) as usize;
                let mut buf = vec![0u8; n];
                if img.devs[src.dev].read_at(src.offset, &mut buf).is_ok() {
                    dev.corrupt(r.offset, &buf);
                }
            }
            _ => {
                // A little-endian word set to a boundary value.
                let words = [0, 1, u64::MAX, u64::MAX / 2 + 1, 1 << 32, 0xffff_ffff];
                let w: u64 = words[value as usize % words.len()];
                let n = (left as usize).min(8);
                dev.corrupt(off, &w.to_le_bytes()[..n]);
            }
        }
        touched.push(r);
    }
    if reseal {
        for r in touched {
            seal(&devs[r.dev], &r);
        }
    }
    devs
}

/// Makes a label or uberblock's own checksum match its bytes again.
fn seal(dev: &MemDevice, r: &Region) {
    match r.kind {
        RegionKind::Label { label } => {
            let mut head = [0u8; 16];
            if dev.read_at(r.offset, &mut head).is_err() {
                return;
            }
            let len = u32::from_le_bytes([head[12], head[13], head[14], head[15]]) as usize;
            let len = len.min(basin_pool::label::CONFIG_SIZE as usize - 48);
            let mut payload = vec![0u8; len];
            if dev.read_at(r.offset + 48, &mut payload).is_err() {
                return;
            }
            let mut summed = head.to_vec();
            summed.extend_from_slice(&payload);
            dev.corrupt(
                r.offset + 16,
                &self_checksum(label + CONFIG_OFFSET, &summed).0,
            );
        }
        RegionKind::Uberblock => {
            let mut b = vec![0u8; UBERBLOCK_SIZE];
            if dev.read_at(r.offset, &mut b).is_err() {
                return;
            }
            let sum = self_checksum(r.offset, &b[..UBERBLOCK_SIZE - 32]);
            dev.corrupt(r.offset + (UBERBLOCK_SIZE - 32) as u64, &sum.0);
        }
        RegionKind::Block => {}
    }
}

/// What the datasets must hold at `txg`, if any dataset existed then.
fn expected(img: &Image, txg: u64) -> Option<&State> {
    img.states
        .iter()
        .rev()
        .find(|(t, _)| *t <= txg)
        .map(|(_, s)| s)
}

/// Reads everything of an imported pool and compares what reads back.
fn read_all(img: &Image, pool: &Pool, check: bool, pristine: bool) {
    let txg = pool.last_synced_txg();
    let cache = match BlockCache::new(8 << 20) {
        Ok(c) => Arc::new(c),
        Err(_) => return,
    };
    let dsl = match DslPool::open(pool.clone(), cache) {
        Ok(d) => d,
        Err(e) => {
            assert!(!pristine, "the pristine image does not open: {e}");
            return;
        }
    };
    if let Some(state) = expected(img, txg) {
        for ((ds, obj), want) in &state.files {
            let Ok(os) = dsl.objset(ds) else { continue };
            let mut got = vec![0u8; want.len() + 512];
            if os.read(*obj, 0, &mut got).is_ok() {
                assert!(
                    got[..want.len()] == want[..] && got[want.len()..].iter().all(|&b| b == 0),
                    "{ds} object {obj} read back different bytes than were written by txg {txg}"
                );
            } else {
                assert!(!pristine, "{ds} object {obj} does not read back");
            }
        }
        for ((ds, obj), want) in &state.zaps {
            let Ok(os) = dsl.objset(ds) else { continue };
            match Zap::new(&os, *obj).list() {
                Ok(entries) => {
                    let got: BTreeMap<Vec<u8>, Vec<u8>> =
                        entries.into_iter().map(|e| (e.name, e.value)).collect();
                    assert!(
                        got == *want,
                        "{ds} ZAP {obj} lists other entries than were written by txg {txg}"
                    );
                    for name in want.keys().take(3) {
                        if let Ok(v) = Zap::new(&os, *obj).lookup(name) {
                            assert_eq!(v.as_ref(), want.get(name), "{ds} ZAP {obj} lookup");
                        }
                    }
                }
                Err(e) => assert!(!pristine, "{ds} ZAP {obj}: {e}"),
            }
        }
    }
    if let Ok(names) = dsl.list(None, true, None) {
        for n in names.iter().take(16) {
            let _ = dsl.get_all(n);
        }
    }
    if !check {
        // The check walks every block and recomputes the accounting too.
        let _ = dsl.all_blocks();
        let _ = dsl.verify_accounting();
    } else {
        let r = basin_fsck::check(
            pool,
            Some(&dsl),
            &basin_fsck::CheckOptions {
                cache_bytes: 8 << 20,
                ..Default::default()
            },
        );
        assert!(
            !pristine || r.is_clean(),
            "the pristine image does not check clean: {:?}",
            r.problems
        );
    }
}

/// Runs one input (see the module documentation).
pub fn run(data: &[u8]) {
    let Some((&f, ops)) = data.split_first() else {
        return;
    };
    let img = image(f & flags::MIRROR != 0);
    let pristine = ops.len() < OP_LEN;
    let devs = mutate(img, ops, f & flags::RESEAL != 0);
    let dyns: Vec<Arc<dyn BlockDevice>> = devs
        .iter()
        .map(|d| d.clone() as Arc<dyn BlockDevice>)
        .collect();
    let found = scan_devices(&dyns);
    assert!(
        !pristine || found.len() == 1,
        "the pristine image is not found"
    );
    for c in found.iter().take(2) {
        let opts = ImportOptions {
            tunables: tunables(),
            ..Default::default()
        };
        let pool = if f & flags::READ_WRITE != 0 {
            Pool::import(c, &opts)
        } else {
            Pool::open_read_only(c, &opts)
        };
        let pool = match pool {
            Ok(p) => p,
            Err(e) => {
                assert!(!pristine, "the pristine image does not import: {e}");
                continue;
            }
        };
        read_all(img, &pool, f & flags::CHECK != 0, pristine);
        pool.set_syncer(None);
        let _ = pool.export();
    }
}
