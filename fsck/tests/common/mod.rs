//! Pools on files for the checker's tests: a few datasets, files (objects)
//! with indirect blocks, a ZAP, a snapshot and a clone, built in process and
//! exported; helpers to run `basin-zdb`, to damage a vdev and to compare
//! vdev bytes.

#![allow(dead_code)]

use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use basin_dmu::cache::BlockCache;
use basin_dmu::zap::Zap;
use basin_dmu::{DslPool, ObjectType};
use basin_pool::import::scan_paths;
use basin_pool::label::FRONT_RESERVE;
use basin_pool::{BlkPtr, CreateOptions, Dva, ImportOptions, Pool, PoolTunables, VdevSpec};

pub const MIB: u64 = 1 << 20;
/// The file with indirect blocks, in `tank/a`.
pub const BIG: u64 = 100;
/// A small file.
pub const SMALL: u64 = 101;
/// A ZAP object in `tank/a`.
pub const ZAP_OBJ: u64 = 102;

pub fn tunables() -> PoolTunables {
    PoolTunables {
        sync_interval: Duration::from_secs(3600),
        ..PoolTunables::for_tests()
    }
}

pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// An open pool with its dataset layer, on files.
pub struct Built {
    pub dir: tempfile::TempDir,
    pub paths: Vec<PathBuf>,
    pub pool: Pool,
    pub dsl: Arc<DslPool>,
}

fn files(dir: &Path, n: usize) -> Vec<PathBuf> {
    (0..n)
        .map(|i| {
            let p = dir.join(format!("vdev{i}"));
            std::fs::File::create(&p)
                .unwrap()
                .set_len(64 * MIB)
                .unwrap();
            p
        })
        .collect()
}

impl Built {
    /// Writes `data` at `off` of object `obj` of dataset `ds` (created
    /// with `blksz` when missing) and syncs.
    pub fn write(&self, ds: &str, obj: u64, blksz: u32, off: u64, data: &[u8]) {
        let os = self.dsl.objset(ds).unwrap();
        let id = self.dsl.dataset_id(ds).unwrap();
        {
            let tx = self.dsl.assign(id, data.len() as u64, false).unwrap();
            if !os.exists(obj).unwrap() {
                os.claim_object(tx.txg(), obj, ObjectType::PLAIN_FILE, blksz, 0, &[])
                    .unwrap();
            }
            os.write(tx.txg(), obj, off, data).unwrap();
        }
        self.pool.sync().unwrap();
    }

    /// The level-0 blocks of object `obj` of dataset `ds`.
    pub fn data_blocks(&self, ds: &str, obj: u64) -> Vec<BlkPtr> {
        let os = self.dsl.objset(ds).unwrap();
        let mut v = Vec::new();
        os.object_blocks(obj, &mut v).unwrap();
        v.retain(|b| b.level == 0 && !b.is_hole());
        v
    }

    /// Syncs, detaches the dataset layer and exports.
    pub fn export(self) -> (tempfile::TempDir, Vec<PathBuf>) {
        self.pool.sync().unwrap();
        self.pool.set_syncer(None);
        self.pool.export().unwrap();
        (self.dir, self.paths)
    }
}

/// Creates pool `tank` (a single file, or a two-way mirror) holding
/// `tank/a` (a file with indirect blocks, a small file, a ZAP), a snapshot
/// `tank/a@s1` taken before part of the big file was rewritten, `tank/b`
/// and a clone `tank/c` of the snapshot.
pub fn build(mirror: bool) -> Built {
    let dir = tempfile::tempdir().unwrap();
    let paths = files(dir.path(), if mirror { 2 } else { 1 });
    let mut words: Vec<String> = Vec::new();
    if mirror {
        words.push("mirror".into());
    }
    words.extend(paths.iter().map(|p| p.display().to_string()));
    let pool = Pool::create(
        "tank",
        &VdevSpec::parse(&words).unwrap(),
        &CreateOptions {
            tunables: tunables(),
            command: Some("zpool create tank".into()),
            ..Default::default()
        },
    )
    .unwrap();
    let cache = Arc::new(BlockCache::new(64 << 20).unwrap());
    let dsl = DslPool::init(pool.clone(), cache, &[]).unwrap();
    let b = Built {
        dir,
        paths,
        pool,
        dsl,
    };
    b.dsl.create("tank/a", None, &[], false).unwrap();
    b.dsl.create("tank/b", None, &[], false).unwrap();
    b.write("tank/a", BIG, 4096, 0, &pattern(300 * 1024, 1));
    b.write("tank/a", SMALL, 512, 0, &pattern(5000, 2));
    {
        let os = b.dsl.objset("tank/a").unwrap();
        let id = b.dsl.dataset_id("tank/a").unwrap();
        let tx = b.dsl.assign(id, 64 * 1024, false).unwrap();
        let z = Zap::create(&os, tx.txg(), ObjectType::ZAP).unwrap();
        assert_eq!(z, ZAP_OBJ, "the ZAP got another id");
        for i in 0..50u64 {
            Zap::new(&os, z)
                .update_u64(tx.txg(), &format!("key{i}"), i)
                .unwrap();
        }
    }
    b.pool.sync().unwrap();
    b.dsl.snapshot(&["tank/a@s1".to_string()], false).unwrap();
    b.write("tank/a", BIG, 4096, 8192, &pattern(20 * 1024, 3));
    b.write("tank/b", BIG, 4096, 0, &pattern(60 * 1024, 4));
    b.dsl.clone_snapshot("tank/a@s1", "tank/c", &[]).unwrap();
    b.write("tank/c", SMALL, 512, 0, &pattern(3000, 5));
    b
}

/// Runs `basin-zdb` with `args`; returns (exit status, stdout, stderr).
pub fn zdb(args: &[&str]) -> (i32, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_basin-zdb"))
        .args(args)
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

pub fn strs(paths: &[PathBuf]) -> Vec<String> {
    paths.iter().map(|p| p.display().to_string()).collect()
}

pub fn bytes_of(paths: &[PathBuf]) -> Vec<Vec<u8>> {
    paths.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

/// Overwrites copy `d` of a block on the vdev file `path` with junk.
pub fn damage(path: &Path, d: &Dva) {
    let mut f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.seek(SeekFrom::Start(FRONT_RESERVE + d.offset)).unwrap();
    f.write_all(&vec![0x5a; d.asize as usize]).unwrap();
    f.sync_all().unwrap();
}

/// Imports the pool on `paths` read-write (exclusive locks), as a daemon.
pub fn import(paths: &[PathBuf]) -> Pool {
    Pool::import(
        &scan_paths(paths.to_vec())[0],
        &ImportOptions {
            tunables: tunables(),
            ..Default::default()
        },
    )
    .unwrap()
}
