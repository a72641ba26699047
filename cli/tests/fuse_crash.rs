//! Crash test through the daemon: files written through a FUSE mount that
//! basind serves, basind killed with SIGKILL in the middle of the writes
//! (and once right after an fsync), started again: every file whose fsync
//! returned is there byte for byte (the intent log, replayed when the
//! filesystem mounts), also after kills in a row with no time between
//! them, the pool imports by itself from the cache, no dead
//! mount is left, and the files read back again after an export and an
//! import. Needs root, /dev/fuse and fusermount3 (skips elsewhere, fails
//! under CI=true).

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{fuse_available, s, TestDir, MIB};

/// The bytes of file `i`: its own pattern, of a length that varies from
/// a few bytes to several records (up to 300 KiB).
fn content(i: u64) -> Vec<u8> {
    let len = (i * 7919 % 300_000 + 1) as usize;
    common::noise(i.wrapping_mul(0x9e37_79b9_7f4a_7c15), len)
}

/// Writes files `from..` into `dir`, each fsynced; records a file in
/// `synced` only once its fsync returned. Stops at the first error (the
/// daemon is gone) or when `stop` is set.
fn writer(
    dir: PathBuf,
    from: u64,
    synced: Arc<Mutex<BTreeMap<u64, PathBuf>>>,
    stop: Arc<AtomicBool>,
) {
    let mut i = from;
    while !stop.load(Ordering::SeqCst) {
        let p = dir.join(format!("f{i:06}"));
        let r = (|| -> std::io::Result<()> {
            let mut f = fs::File::create(&p)?;
            // Two writes, so that a kill can fall between them.
            let c = content(i);
            let half = c.len() / 2;
            f.write_all(&c[..half])?;
            f.write_all(&c[half..])?;
            f.sync_all()
        })();
        if r.is_err() {
            return;
        }
        synced.lock().unwrap().insert(i, p);
        i += 1;
    }
}

/// Every recorded file is there with its bytes.
fn check(synced: &BTreeMap<u64, PathBuf>, at: &Path, when: &str) {
    assert!(!synced.is_empty(), "nothing was written");
    eprintln!("checking {} fsynced files {when}", synced.len());
    for (i, p) in synced {
        let q = at.join(p.file_name().unwrap());
        let got =
            fs::read(&q).unwrap_or_else(|e| panic!("fsynced {} lost {when}: {e}", q.display()));
        assert!(got == content(*i), "fsynced {} differs {when}", q.display());
    }
}

/// No dead mount under the daemon's root: each mount answers stat.
fn no_dead_mounts(d: &common::Daemon) {
    for (src, mp, ty) in d.kernel_mounts() {
        assert_eq!(ty, "fuse.basin", "{src} at {mp}");
        fs::metadata(&mp).unwrap_or_else(|e| panic!("dead mount of {src} at {mp}: {e}"));
    }
}

#[test]
fn fsynced_files_survive_sigkill_of_basind() {
    if !fuse_available() {
        return;
    }
    let t = TestDir::new();
    let mut d = t.mounting_daemon_with_pool("d", 512 * MIB);
    d.zfs(&["create", "tank/data"]).ok();
    let dir = d.at("/tank/data");
    let synced = Arc::new(Mutex::new(BTreeMap::new()));

    // 1. Killed in the middle of the writes.
    let stop = Arc::new(AtomicBool::new(false));
    let w = {
        let (dir, synced, stop) = (dir.clone(), synced.clone(), stop.clone());
        std::thread::spawn(move || writer(dir, 0, synced, stop))
    };
    while synced.lock().unwrap().len() < 40 {
        std::thread::sleep(Duration::from_millis(5));
        assert!(!w.is_finished(), "the writer stopped:\n{}", d.log_text());
    }
    d.kill9();
    stop.store(true, Ordering::SeqCst);
    w.join().unwrap();
    let first = synced.lock().unwrap().len();
    d.restart();
    assert_eq!(
        d.zfs(&["get", "-H", "-o", "value", "mounted", "tank/data"])
            .ok(),
        "yes\n"
    );
    no_dead_mounts(&d);
    check(
        &synced.lock().unwrap(),
        &dir,
        "after a kill in the middle of writes",
    );

    // 2. Killed right after an fsync returned, with nothing in flight.
    let stop = Arc::new(AtomicBool::new(false));
    let w = {
        let (dir, synced, stop) = (dir.clone(), synced.clone(), stop.clone());
        std::thread::spawn(move || writer(dir, 1_000_000, synced, stop))
    };
    while synced.lock().unwrap().len() < first + 20 {
        std::thread::sleep(Duration::from_millis(5));
        assert!(!w.is_finished(), "the writer stopped:\n{}", d.log_text());
    }
    stop.store(true, Ordering::SeqCst);
    w.join().unwrap();
    d.kill9();
    d.restart();
    no_dead_mounts(&d);
    check(&synced.lock().unwrap(), &dir, "after a kill after an fsync");

    // 3. Killed again at once, twice in a row: the log replayed at the
    // last start is in the tree by the time the daemon serves, so nothing
    // depends on the restarts being far apart.
    for _ in 0..2 {
        d.kill9();
        d.restart();
        no_dead_mounts(&d);
    }
    check(&synced.lock().unwrap(), &dir, "after two kills in a row");

    // The pool came back from the cache, healthy, and survives an export
    // and an import with every file.
    assert_eq!(
        d.zpool(&["list", "-H", "-o", "name,health"]).ok(),
        "tank\tONLINE\n"
    );
    d.zpool(&["export", "tank"]).ok();
    assert_eq!(d.kernel_mounts(), []);
    d.zpool(&["import", "-d", s(&t.vdevs), "tank"]).ok();
    no_dead_mounts(&d);
    check(&synced.lock().unwrap(), &dir, "after export and import");
}
