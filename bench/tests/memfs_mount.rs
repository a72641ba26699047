//! memfs mounted for real (`basin-bench memfs`), doing what fio and the
//! small-file workload need. Needs root and /dev/fuse: elsewhere it skips
//! with a message, and under CI=true a missing facility fails it.

use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use basin_bench::{cleanup, fio, smallfile, sysinfo};

fn facility() -> Result<(), String> {
    if !sysinfo::is_root() {
        return Err("needs root".into());
    }
    if !Path::new("/dev/fuse").exists() {
        return Err("needs /dev/fuse".into());
    }
    if basin_bench::cmd::which("fusermount3").is_none() {
        return Err("needs fusermount3 (Debian package fuse3)".into());
    }
    Ok(())
}

/// The mounted memfs; unmounted and stopped on drop, even when the test
/// fails.
struct Mounted {
    mnt: PathBuf,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Mounted {
    fn start() -> Mounted {
        let dir = tempfile::tempdir().unwrap();
        let mnt = dir.path().join("mnt");
        fs::create_dir(&mnt).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_basin-bench"))
            .args(["memfs", "--threads", "2"])
            .arg(&mnt)
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let mut m = Mounted {
            mnt,
            child,
            _dir: dir,
        };
        let t = Instant::now();
        while !cleanup::mounts_under(&m.mnt).contains(&m.mnt) {
            if let Ok(Some(st)) = m.child.try_wait() {
                panic!("memfs exited before mounting: {st}");
            }
            assert!(t.elapsed() < Duration::from_secs(10), "memfs did not mount");
            std::thread::sleep(Duration::from_millis(20));
        }
        m
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = cleanup::unmount(&self.mnt);
        if !cleanup::stop_pid(self.child.id(), None, Duration::from_secs(5)) {
            eprintln!("memfs (pid {}) did not stop", self.child.id());
        }
        let _ = self.child.wait();
    }
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[1] ^ seed)
        .collect()
}

#[test]
fn memfs_serves_what_fio_and_the_small_file_workload_need() {
    if let Err(why) = facility() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("memfs mount test: {why}");
        }
        eprintln!("skipped: memfs mount test {why}");
        return;
    }
    let m = Mounted::start();
    let root = &m.mnt;

    // Create, write across chunks, read back.
    let f = root.join("data");
    let a = pattern(3 << 20, 1);
    fs::write(&f, &a).unwrap();
    assert_eq!(fs::read(&f).unwrap(), a);
    // Positioned writes and reads, holes read as zeros.
    let h = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&f)
        .unwrap();
    h.write_all_at(b"hello", (5 << 20) + 3).unwrap();
    let mut buf = [1u8; 16];
    h.read_exact_at(&mut buf, 4 << 20).unwrap();
    assert_eq!(buf, [0u8; 16]);
    let mut hello = [0u8; 5];
    h.read_exact_at(&mut hello, (5 << 20) + 3).unwrap();
    assert_eq!(&hello, b"hello");
    // Truncate down and up again: the cut part reads as zeros.
    h.set_len(1000).unwrap();
    h.set_len(5000).unwrap();
    h.sync_all().unwrap();
    drop(h);
    let mut back = Vec::new();
    fs::File::open(&f).unwrap().read_to_end(&mut back).unwrap();
    assert_eq!(back.len(), 5000);
    assert_eq!(back[..1000], a[..1000]);
    assert!(back[1000..].iter().all(|b| *b == 0));
    // O_TRUNC on open.
    let mut t = fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&f)
        .unwrap();
    t.seek(SeekFrom::Start(10)).unwrap();
    t.write_all(b"x").unwrap();
    drop(t);
    assert_eq!(fs::metadata(&f).unwrap().len(), 11);

    // Directories, listing, rename, unlink, rmdir.
    let d = root.join("dir");
    fs::create_dir(&d).unwrap();
    for i in 0..300 {
        fs::write(d.join(format!("f{i}")), [i as u8]).unwrap();
    }
    assert_eq!(fs::read_dir(&d).unwrap().count(), 300);
    fs::rename(d.join("f0"), root.join("moved")).unwrap();
    assert_eq!(fs::read(root.join("moved")).unwrap(), vec![0u8]);
    assert!(fs::remove_dir(&d).is_err(), "rmdir of a full folder");
    for i in 1..300 {
        fs::remove_file(d.join(format!("f{i}"))).unwrap();
    }
    fs::remove_dir(&d).unwrap();
    fs::remove_file(root.join("moved")).unwrap();
    assert!(sysinfo::free_bytes(root).unwrap() > 0, "statfs");

    // The suite's own workloads on it.
    let p = smallfile::run(root, 500, || Ok(())).unwrap();
    assert!(p.create > 0.0 && p.stat > 0.0 && p.delete > 0.0);
    if basin_bench::cmd::which("fio").is_some() {
        let file = root.join("fio.dat");
        let w = fio::Job::new("w", &file, "write", 1 << 20, 16 << 20)
            .run()
            .unwrap();
        assert!(w.mb_per_s() > 0.0);
        let mut r = fio::Job::new("r", &file, "randread", 4096, 16 << 20);
        r.io_size = Some(1 << 20);
        assert!(r.run().unwrap().iops() > 0.0);
        let mut s = fio::Job::new("s", &file, "randwrite", 4096, 16 << 20);
        s.io_size = Some(256 << 10);
        s.fsync_every = 1;
        assert!(s.run().unwrap().iops() > 0.0);
    }
    fs::remove_file(f).unwrap();
}
