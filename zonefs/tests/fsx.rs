//! fsx-style random I/O through a FUSE mount: writes, reads, truncates,
//! hole punches and mmap reads and writes on a few files, compared byte for
//! byte with a model after every operation, across unmounts, export and
//! import of the pool. `BASIN_SEED` replays a seed, `BASIN_FSX_OPS` runs
//! longer.

mod common;

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::time::Duration;

use basin_dmu::cache::BlockCache;
use basin_dmu::DslPool;
use basin_pool::import::scan_devices;
use basin_pool::spec::{DeviceSpec, TopKind, TopSpec};
use basin_pool::vdev::mem::MemDevice;
use basin_pool::vdev::BlockDevice;
use basin_pool::{CreateOptions, ImportOptions, Pool, PoolTunables, VdevSpec};
use basin_zonefs::mount::{mount, Mount, MountRequest};
use common::fuse_available;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const FILES: usize = 3;
const MAX_LEN: u64 = 4 << 20;

fn tunables() -> PoolTunables {
    PoolTunables {
        sync_interval: Duration::from_secs(2),
        ..PoolTunables::for_tests()
    }
}

struct World {
    devs: Vec<Arc<dyn BlockDevice>>,
    pool: Pool,
    dsl: Arc<DslPool>,
    mount: Option<Mount>,
    dir: std::path::PathBuf,
}

impl World {
    fn path(&self, i: usize) -> std::path::PathBuf {
        self.dir.join(format!("file{i}"))
    }

    fn remount(&mut self) {
        if let Some(m) = self.mount.take() {
            m.unmount(false).expect("unmount of an idle filesystem");
        }
        self.mount = Some(
            mount(
                self.dsl.clone(),
                "fx/fs",
                &self.dir,
                &MountRequest::default(),
            )
            .unwrap(),
        );
    }

    fn reimport(&mut self) {
        if let Some(m) = self.mount.take() {
            m.unmount(false).unwrap();
        }
        self.pool.sync().unwrap();
        self.pool.set_syncer(None);
        self.pool.export().unwrap();
        let found = scan_devices(&self.devs);
        self.pool = Pool::import(
            &found[0],
            &ImportOptions {
                tunables: tunables(),
                ..Default::default()
            },
        )
        .unwrap();
        self.dsl = DslPool::open(
            self.pool.clone(),
            Arc::new(BlockCache::new(128 << 20).unwrap()),
        )
        .unwrap();
        self.mount = Some(
            mount(
                self.dsl.clone(),
                "fx/fs",
                &self.dir,
                &MountRequest::default(),
            )
            .unwrap(),
        );
    }
}

fn check(w: &World, model: &[Vec<u8>], ctx: &str) {
    for (i, m) in model.iter().enumerate() {
        let got = std::fs::read(w.path(i)).unwrap();
        if got != *m {
            let first = got.iter().zip(m.iter()).position(|(a, b)| a != b);
            panic!(
                "{ctx}: file{i} differs (len {} vs model {}, first difference at {first:?})",
                got.len(),
                m.len()
            );
        }
    }
}

fn open(w: &World, i: usize) -> File {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(w.path(i))
        .unwrap()
}

#[test]
fn random_io_matches_the_model() {
    if !fuse_available() {
        return;
    }
    let seed: u64 = std::env::var("BASIN_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let ops: usize = std::env::var("BASIN_FSX_OPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1500);
    eprintln!("fsx seed {seed}, {ops} operations");
    let devs: Vec<Arc<dyn BlockDevice>> = vec![Arc::new(MemDevice::new("m0", 1 << 30))];
    let spec = VdevSpec {
        tops: vec![TopSpec {
            kind: TopKind::Single,
            devices: vec![DeviceSpec::Device(devs[0].clone())],
        }],
    };
    let pool = Pool::create(
        "fx",
        &spec,
        &CreateOptions {
            tunables: tunables(),
            ..Default::default()
        },
    )
    .unwrap();
    let dsl = DslPool::init(
        pool.clone(),
        Arc::new(BlockCache::new(128 << 20).unwrap()),
        &[],
    )
    .unwrap();
    dsl.create("fx/fs", None, &[("recordsize".into(), "32K".into())], false)
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut w = World {
        devs,
        pool,
        dsl,
        mount: None,
        dir: tmp.path().to_path_buf(),
    };
    w.remount();
    let mut model: Vec<Vec<u8>> = vec![Vec::new(); FILES];
    for i in 0..FILES {
        File::create(w.path(i)).unwrap();
    }
    let mut rng = StdRng::seed_from_u64(seed);
    for step in 0..ops {
        let i = rng.gen_range(0..FILES);
        let len = model[i].len() as u64;
        let what: String = match rng.gen_range(0..100) {
            0..=34 => {
                let off = rng.gen_range(0..MAX_LEN);
                let n = rng
                    .gen_range(1..65536usize)
                    .min((MAX_LEN - off) as usize)
                    .max(1);
                let data: Vec<u8> = (0..n).map(|_| rng.gen()).collect();
                open(&w, i).write_all_at(&data, off).unwrap();
                let m = &mut model[i];
                if m.len() < off as usize + n {
                    m.resize(off as usize + n, 0);
                }
                m[off as usize..off as usize + n].copy_from_slice(&data);
                format!("write file{i} {off}+{n}")
            }
            35..=54 => {
                if len == 0 {
                    continue;
                }
                let off = rng.gen_range(0..len);
                let n = rng.gen_range(1..=(len - off).min(200_000));
                let mut b = vec![0u8; n as usize];
                open(&w, i).read_exact_at(&mut b, off).unwrap();
                assert!(
                    b[..] == model[i][off as usize..(off + n) as usize],
                    "step {step} seed {seed}: read file{i} {off}+{n} differs"
                );
                format!("read file{i} {off}+{n}")
            }
            55..=64 => {
                let to = rng.gen_range(0..MAX_LEN);
                open(&w, i).set_len(to).unwrap();
                model[i].resize(to as usize, 0);
                format!("truncate file{i} {to}")
            }
            65..=72 => {
                if len == 0 {
                    continue;
                }
                let off = rng.gen_range(0..len);
                let n = rng.gen_range(1..=(len - off));
                let f = open(&w, i);
                // SAFETY: fallocate on a descriptor we own, no memory passed.
                let r = unsafe {
                    libc::fallocate(
                        f.as_raw_fd(),
                        libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
                        off as i64,
                        n as i64,
                    )
                };
                assert_eq!(r, 0, "punch hole: {}", std::io::Error::last_os_error());
                model[i][off as usize..(off + n) as usize].fill(0);
                format!("punch file{i} {off}+{n}")
            }
            73..=82 => {
                // mmap: read a range, write a range through the mapping.
                if len == 0 {
                    continue;
                }
                let f = open(&w, i);
                let map_len = len as usize;
                // SAFETY: a shared mapping of a file we hold open, of its
                // current length, unmapped below before anything else
                // changes the file's size.
                let p = unsafe {
                    libc::mmap(
                        std::ptr::null_mut(),
                        map_len,
                        libc::PROT_READ | libc::PROT_WRITE,
                        libc::MAP_SHARED,
                        f.as_raw_fd(),
                        0,
                    )
                };
                assert_ne!(
                    p,
                    libc::MAP_FAILED,
                    "mmap: {}",
                    std::io::Error::last_os_error()
                );
                // SAFETY: p maps map_len bytes, valid until munmap below.
                let s = unsafe { std::slice::from_raw_parts_mut(p.cast::<u8>(), map_len) };
                let off = rng.gen_range(0..len) as usize;
                let n = rng.gen_range(1..=(map_len - off).min(20_000));
                assert!(
                    s[off..off + n] == model[i][off..off + n],
                    "step {step} seed {seed}: mmap read differs"
                );
                let v: u8 = rng.gen();
                s[off..off + n].fill(v);
                model[i][off..off + n].fill(v);
                // SAFETY: the same mapping, flushed then unmapped once.
                unsafe {
                    assert_eq!(libc::msync(p, map_len, libc::MS_SYNC), 0);
                    libc::munmap(p, map_len);
                }
                format!("mmap file{i} {off}+{n}")
            }
            83..=86 => {
                open(&w, i).sync_all().unwrap();
                format!("fsync file{i}")
            }
            87..=88 => {
                w.remount();
                "remount".into()
            }
            89 => {
                w.reimport();
                "export and import".into()
            }
            _ => continue,
        };
        if step % 10 == 0 || what.contains("mount") || what.contains("import") {
            check(&w, &model, &format!("seed {seed} step {step} after {what}"));
        }
    }
    check(&w, &model, "end");
    w.reimport();
    check(&w, &model, "after the last import");
    if let Some(m) = w.mount.take() {
        m.unmount(false).unwrap();
    }
}
