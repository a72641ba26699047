//! The seed corpus: valid encodings of every structure, most read off the
//! pool image of [`crate::image`], each in the input format of its target.
//! `examples/gen_corpus.rs` writes them to `fuzz/corpus/<target>/`.

use std::collections::BTreeMap;

use basin_dmu::cache::BlockCache;
use basin_dmu::objset::DNODE_BLOCK;
use basin_dmu::{DslPool, ObjectType};
use basin_pool::blkptr::BlockType;
use basin_pool::compress::{self, Compression};
use basin_pool::import::scan_devices;
use basin_pool::label::{label_offsets, CONFIG_OFFSET, FRONT_RESERVE, RING_OFFSET, RING_SIZE};
use basin_pool::mmp::Heartbeat;
use basin_pool::uberblock::{Uberblock, UBERBLOCK_SIZE};
use basin_pool::vdev::BlockDevice;
use basin_pool::{BlkPtr, ImportOptions, Pool};

use crate::image::{self, flags, Image};

/// Most seeds kept per target.
const PER_TARGET: usize = 12;

/// Seeds by target name.
pub type Seeds = BTreeMap<&'static str, Vec<Vec<u8>>>;

fn push(s: &mut Seeds, target: &'static str, bytes: Vec<u8>) {
    let v = s.entry(target).or_default();
    if v.len() < PER_TARGET && !v.contains(&bytes) {
        v.push(bytes);
    }
}

fn with_offset(off: u64, body: &[u8]) -> Vec<u8> {
    let mut v = off.to_le_bytes().to_vec();
    v.extend_from_slice(body);
    v
}

/// Trailing zeros cut, keeping at least `min` bytes.
fn trimmed(b: &[u8], min: usize) -> Vec<u8> {
    let end = b.iter().rposition(|&x| x != 0).map_or(0, |p| p + 1);
    b[..end.max(min).min(b.len())].to_vec()
}

fn labels_and_rings(s: &mut Seeds, img: &Image) {
    let dev = &img.devs[0];
    for lo in label_offsets(dev.size()) {
        let mut head = [0u8; 16];
        dev.read_at(lo + CONFIG_OFFSET, &mut head).expect("read");
        let len = u32::from_le_bytes([head[12], head[13], head[14], head[15]]) as usize;
        let mut area = vec![0u8; 48 + len];
        dev.read_at(lo + CONFIG_OFFSET, &mut area).expect("read");
        push(s, "label", with_offset(lo, &area));
        let mut ring = vec![0u8; RING_SIZE as usize];
        dev.read_at(lo + RING_OFFSET, &mut ring).expect("read");
        let slot = Uberblock::slot_size(12);
        for (k, sl) in ring.chunks(slot).enumerate() {
            let off = lo + RING_OFFSET + (k * slot) as u64;
            if Uberblock::decode(&sl[..UBERBLOCK_SIZE], off).is_ok() {
                push(s, "uberblock", with_offset(off, &sl[..UBERBLOCK_SIZE]));
            }
        }
    }
    let hb = Heartbeat {
        hostid: 0x1234_5678,
        pid: 4242,
        seq: 17,
        time_ms: 1_795_305_600_000,
        pool_guid: 99,
    };
    push(s, "heartbeat", with_offset(8192, &hb.encode(8192)));
}

/// The stored bytes of the first copy of `bp`.
fn stored(img: &Image, bp: &BlkPtr) -> Vec<u8> {
    let mut b = vec![0u8; bp.psize as usize];
    img.devs[0]
        .read_at(FRONT_RESERVE + bp.dva[0].offset, &mut b)
        .expect("read");
    b
}

fn blocks(s: &mut Seeds, img: &Image, pool: &Pool, dsl: &DslPool) {
    let mut all = pool.metadata_blocks().expect("metadata");
    all.extend(dsl.all_blocks().expect("blocks"));
    push(s, "blkptr", BlkPtr::hole(4096, 7).encode().to_vec());
    for bp in &all {
        let t = bp.block_type;
        let target = match t {
            BlockType::POOL_ROOT => Some("pool_root"),
            BlockType::SPACE_MAP_INDEX => Some("spacemap_index"),
            BlockType::SPACE_MAP_CHECKPOINT => Some("spacemap_checkpoint"),
            BlockType::SPACE_MAP_LOG => Some("spacemap_log"),
            BlockType::HISTORY => Some("history"),
            _ if ObjectType::from_block_type(t) == Some(ObjectType::OBJSET) => Some("objset"),
            _ => None,
        };
        push(s, "blkptr", bp.encode().to_vec());
        if let Some(target) = target {
            let b = pool.read_block(bp).expect("read");
            push(s, target, b.to_vec());
        }
        if bp.compression == Compression::Lz4 && bp.lsize <= 1 << 17 {
            let mut v = bp.lsize.to_le_bytes()[..3].to_vec();
            v.push(1);
            v.extend_from_slice(&stored(img, bp));
            push(s, "decompress", v);
        }
    }
    for (len, seed) in [(600, 2), (4096, 3), (20_000, 4)] {
        let data = image::pattern(len, seed);
        let mut v = (len as u32).to_le_bytes()[..3].to_vec();
        match compress::compress(Compression::Lz4, &data) {
            Some(c) => {
                v.push(1);
                v.extend_from_slice(&c);
            }
            None => {
                v.push(0);
                v.extend_from_slice(&data);
            }
        }
        push(s, "decompress", v);
    }
}

fn objects(s: &mut Seeds, dsl: &DslPool) {
    let mos = dsl.mos();
    let per_block = DNODE_BLOCK as u64 / 512;
    let mut sets = vec![("mos".to_string(), mos.clone())];
    for n in dsl.list(None, true, None).expect("list") {
        if let Ok(os) = dsl.objset(&n) {
            sets.push((n, os));
        }
    }
    for (_, os) in &sets {
        for id in os.object_ids().expect("objects") {
            let b = os.read_block(0, id / per_block).expect("dnodes");
            let off = (id % per_block) as usize * 512;
            push(s, "dnode", b[off..off + 512].to_vec());
            let info = os.info(id).expect("info");
            let t = info.meta.object_type;
            if basin_fsck::check::is_zap(t) {
                for blk in 0..=info.meta.maxblkid.min(3) {
                    let z = os.read_block(id, blk).expect("zap block");
                    if basin_dmu::zap::fuzz_decode(&z) > 0 || z.starts_with(b"BZAPFAT1") {
                        push(s, "zap", trimmed(&z, 64));
                    }
                }
            }
        }
    }
    for id in mos.object_ids().expect("objects") {
        let t = mos.info(id).expect("info").meta.object_type;
        let bonus = mos.bonus(id).expect("bonus");
        let target = match t {
            ObjectType::DSL_DIR => "dsl_dir",
            ObjectType::DSL_DATASET => "dsl_dataset",
            ObjectType::DEADLIST => "deadlist_header",
            _ => continue,
        };
        push(s, target, bonus);
    }
}

fn protocol(s: &mut Seeds) {
    let lines: [&[u8]; 9] = [
        br#"{"version":1,"id":1,"request":{"op":"hello"}}"#,
        br#"{"version":1,"id":2,"request":{"op":"zpool.status","names":["tank"]}}"#,
        br#"{"version":1,"id":3,"request":{"op":"zpool.create","name":"tank","vdevs":["mirror","/a","/b"],"force":true,"props":[{"property":"comment","value":"x"}],"command":"zpool create tank"}}"#,
        br#"{"version":1,"id":4,"request":{"op":"zpool.get","names":[],"props":["all"]}}"#,
        br#"{"version":1,"id":5,"request":{"op":"zpool.export","name":"tank","force":false,"command":"zpool export tank"}}"#,
        br#"{"version":1,"id":6,"result":{"pools":[{"name":"tank","size":1048576}]}}"#,
        br#"{"version":1,"id":7,"error":{"kind":"no_such_pool","message":"cannot open 'x': no such pool","errno":2}}"#,
        br#"{"version":1,"id":8,"progress":{"done":1,"total":2.5}}"#,
        b"{\"version\":1,\"id\":9,\"request\":{\"op\":\"hello\"}}\n{\"version\":1}\npartial",
    ];
    for l in lines {
        push(s, "protocol", l.to_vec());
    }
}

fn pool_image(s: &mut Seeds) {
    // kind (low 3 bits) | class << 3 (0 labels, 1 uberblocks, 2 blocks),
    // region index within the class, offset in it, value.
    let op = |kind: u8, class: u8, region: u16, at: u32, value: u8| {
        let mut v = vec![kind | class << 3];
        v.extend_from_slice(&region.to_le_bytes());
        v.extend_from_slice(&at.to_le_bytes());
        v.push(value);
        v
    };
    for f in [
        0,
        flags::CHECK,
        flags::MIRROR | flags::CHECK,
        flags::READ_WRITE,
    ] {
        push(s, "pool_image", vec![f]);
    }
    let mut v = vec![flags::RESEAL | flags::CHECK];
    v.extend(op(5, 0, 0, 200, 2));
    push(s, "pool_image", v);
    let mut v = vec![flags::RESEAL];
    v.extend(op(1, 1, 0, 60, 0xff));
    push(s, "pool_image", v);
    let mut v = vec![flags::CHECK];
    v.extend(op(0, 2, 5, 100, 0x10));
    push(s, "pool_image", v);
    let mut v = vec![flags::MIRROR | flags::READ_WRITE | flags::CHECK];
    v.extend(op(3, 2, 40, 0, 0x7f));
    v.extend(op(4, 2, 5, 0, 9));
    push(s, "pool_image", v);
    // Regression: a sealed uberblock of txg u64::MAX overflowed import.
    let mut v = vec![flags::RESEAL | flags::CHECK];
    v.extend(op(5, 1, 3, 16, 2));
    push(s, "pool_image", v);
}

/// Every target's seeds.
pub fn generate() -> Seeds {
    let mut s = Seeds::new();
    let img = image::image(false);
    labels_and_rings(&mut s, img);
    let devs: Vec<std::sync::Arc<dyn BlockDevice>> = img
        .devs
        .iter()
        .map(|d| std::sync::Arc::new(d.snapshot()) as std::sync::Arc<dyn BlockDevice>)
        .collect();
    let pool = Pool::open_read_only(
        &scan_devices(&devs)[0],
        &ImportOptions {
            tunables: image::tunables(),
            ..Default::default()
        },
    )
    .expect("open the image");
    let cache = std::sync::Arc::new(BlockCache::new(32 << 20).expect("cache"));
    let dsl = DslPool::open(pool.clone(), cache).expect("dataset layer");
    blocks(&mut s, img, &pool, &dsl);
    objects(&mut s, &dsl);
    protocol(&mut s);
    pool_image(&mut s);
    let _ = pool.export();
    s
}
