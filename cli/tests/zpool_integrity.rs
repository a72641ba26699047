//! Integrity through the commands an operator types: scrub repairing a
//! damaged mirror side, a raidz disk pulled and replaced, offline, online,
//! clear, attach and detach, and faults injected with zinject.

mod common;

use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{s, Daemon, Out, TestDir};

const ZINJECT: &str = env!("CARGO_BIN_EXE_zinject");
/// The labels and boot area at the front of every vdev.
const FRONT: u64 = 4 << 20;
/// The two labels at the back.
const BACK: u64 = 512 << 10;

fn zinject(d: &Daemon, args: &[&str]) -> Out {
    let out = Command::new(ZINJECT)
        .args(args)
        .env("BASIN_SOCKET", &d.socket)
        .output()
        .expect("run zinject");
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Some metadata to scrub: datasets `fs{first}`.. and snapshots.
fn populate(d: &Daemon, first: usize, n: usize) {
    for i in first..first + n {
        d.zfs(&["create", "-p", &format!("tank/fs{i}/child")]).ok();
        d.zfs(&["snapshot", "-r", &format!("tank/fs{i}@s")]).ok();
    }
}

/// The lines of `zpool status tank`.
fn status(d: &Daemon) -> String {
    d.zpool(&["status", "tank"]).ok().to_string()
}

/// The line of a vdev in the config table: (state, read, write, cksum).
fn vdev_line(status: &str, name: &str) -> Option<Vec<String>> {
    status
        .lines()
        .map(|l| l.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .find(|w| w.first().map(String::as_str) == Some(name))
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Overwrites the whole data area of a vdev with a pattern (labels kept).
fn wipe_data(path: &Path) {
    let len = std::fs::metadata(path).unwrap().len();
    let mut f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.seek(SeekFrom::Start(FRONT)).unwrap();
    let junk: Vec<u8> = (0..1 << 20).map(|i| (i * 7 + 3) as u8).collect();
    let mut at = FRONT;
    while at < len - BACK {
        let n = ((len - BACK - at) as usize).min(junk.len());
        f.write_all(&junk[..n]).unwrap();
        at += n as u64;
    }
    f.sync_all().unwrap();
}

#[test]
fn scrub_repairs_a_damaged_mirror_side_and_says_so() {
    let t = TestDir::new();
    let a = t.vdev("a");
    let b = t.vdev("b");
    let d = t.daemon("d");
    d.zpool(&["create", "tank", "mirror", s(&a), s(&b)]).ok();
    populate(&d, 0, 8);
    d.zpool(&["scrub", "-w", "tank"]).ok();
    let st = status(&d);
    assert!(
        st.contains("  scan: scrub repaired 0B in ") && st.contains(" with 0 errors on "),
        "{st}"
    );
    // Nothing to pause or stop now.
    d.zpool(&["scrub", "-p", "tank"])
        .fails(1, "cannot pause scrubbing tank: there is no active scrub");
    d.zpool(&["scrub", "-s", "tank"])
        .fails(1, "cannot cancel scrubbing tank: there is no active scrub");
    d.zpool(&["scrub", "nope"])
        .fails(1, "cannot open 'nope': no such pool");

    // Every block of side a is overwritten while the pool is exported.
    d.zpool(&["export", "tank"]).ok();
    wipe_data(&a);
    d.zpool(&["import", "-d", s(&t.vdevs), "tank"]).ok();
    d.zpool(&["scrub", "-w", "tank"]).ok();
    let st = status(&d);
    assert!(st.contains(" with 0 errors on "), "{st}");
    assert!(!st.contains("scrub repaired 0B"), "{st}");
    let line = vdev_line(&st, s(&a)).unwrap();
    assert!(line[4].parse::<u64>().map_or(true, |n| n > 0), "{st}");
    assert!(st.contains("errors: No known data errors"), "{st}");
    // All was repaired: a second scrub finds nothing, and side a alone
    // holds the pool.
    d.zpool(&["clear", "tank"]).ok();
    d.zpool(&["scrub", "-w", "tank"]).ok();
    let st = status(&d);
    assert!(st.contains("scrub repaired 0B"), "{st}");
    assert_eq!(vdev_line(&st, s(&a)).unwrap()[4], "0", "{st}");
    d.zpool(&["export", "tank"]).ok();
    std::fs::remove_file(&b).unwrap();
    d.zpool(&["import", "-d", s(&t.vdevs), "tank"]).ok();
    let list = d.zfs(&["list", "-H", "-o", "name", "-t", "all"]);
    assert_eq!(list.ok().lines().count(), 1 + 8 * 4, "{list:?}");
    assert!(status(&d).contains("state: DEGRADED"));
}

#[test]
fn pull_a_raidz_disk_while_writing_and_replace_it() {
    let t = TestDir::new();
    let v: Vec<_> = ["a", "b", "c"].iter().map(|n| t.vdev(n)).collect();
    let d = t.daemon("d");
    d.zpool(&["create", "tank", "raidz", s(&v[0]), s(&v[1]), s(&v[2])])
        .ok();
    populate(&d, 0, 4);
    std::fs::remove_file(&v[2]).unwrap();
    let mut i = 100;
    wait_until("the pulled disk to show as REMOVED", || {
        d.zfs(&["create", &format!("tank/more{i}")]).ok();
        i += 1;
        vdev_line(&status(&d), s(&v[2])).is_some_and(|l| l[1] == "REMOVED")
    });
    let st = status(&d);
    assert!(st.contains(" state: DEGRADED"), "{st}");
    assert!(st.contains("raidz1-0"), "{st}");
    // Writes go on while degraded.
    populate(&d, 4, 6);
    // A new disk in the same place.
    common::vdev(&t.vdevs, "c", common::VDEV_SIZE);
    d.zpool(&["replace", "tank", s(&v[2])]).ok();
    d.zpool(&["wait", "-t", "resilver", "tank"]).ok();
    let st = status(&d);
    assert!(st.contains(" state: ONLINE"), "{st}");
    assert!(st.contains("  scan: resilvered "), "{st}");
    assert!(st.contains(" with 0 errors on "), "{st}");
    assert!(!st.contains("replacing"), "{st}");
    let names = d
        .zfs(&["list", "-H", "-o", "name", "-t", "all"])
        .ok()
        .to_string();
    // Any one disk may now go: the replaced one holds its share.
    d.zpool(&["export", "tank"]).ok();
    std::fs::remove_file(&v[0]).unwrap();
    d.zpool(&["import", "-d", s(&t.vdevs), "tank"]).ok();
    assert_eq!(
        d.zfs(&["list", "-H", "-o", "name", "-t", "all"]).ok(),
        names
    );
    d.zpool(&["scrub", "-w", "tank"]).ok();
    assert!(status(&d).contains(" with 0 errors on "));
}

#[test]
fn offline_online_detach_attach_and_their_refusals() {
    let t = TestDir::new();
    let a = t.vdev("a");
    let b = t.vdev("b");
    let c = t.vdev("c");
    let d = t.daemon("d");
    d.zpool(&["create", "tank", "mirror", s(&a), s(&b)]).ok();
    populate(&d, 0, 2);
    d.zpool(&["offline", "tank", s(&b)]).ok();
    let st = status(&d);
    assert!(st.contains(" state: DEGRADED"), "{st}");
    assert_eq!(vdev_line(&st, s(&b)).unwrap()[1], "OFFLINE", "{st}");
    assert!(st.contains("taken offline"), "{st}");
    d.zpool(&["offline", "tank", s(&a)])
        .fails(1, &format!("cannot offline {}: no valid replicas", s(&a)));
    d.zpool(&["offline", "tank", "/no/such"])
        .fails(1, "cannot offline /no/such: no such device in pool");
    populate(&d, 2, 4);
    d.zpool(&["online", "tank", s(&b)]).ok();
    d.zpool(&["wait", "tank"]).ok();
    let st = status(&d);
    assert!(st.contains(" state: ONLINE"), "{st}");
    assert!(st.contains("  scan: resilvered "), "{st}");

    d.zpool(&["detach", "tank", s(&b)]).ok();
    let st = status(&d);
    assert!(!st.contains("mirror-0"), "{st}");
    d.zpool(&["detach", "tank", s(&a)])
        .fails(1, "only applicable to mirror and replacing vdevs");
    d.zpool(&["attach", "-w", "tank", s(&a), s(&c)]).ok();
    let st = status(&d);
    assert!(st.contains("mirror-0"), "{st}");
    assert_eq!(vdev_line(&st, s(&c)).unwrap()[1], "ONLINE", "{st}");
    // The detached device is free for a new pool.
    d.zpool(&["create", "other", s(&b)]).ok();
    d.zpool(&["attach", "tank", s(&a), s(&b)])
        .fails(1, "is part of active pool 'other'");
    let hist = d.zpool(&["history", "tank"]).ok().to_string();
    for cmd in [
        "zpool offline tank",
        "zpool online tank",
        "zpool detach tank",
        "zpool attach -w tank",
    ] {
        assert!(hist.contains(cmd), "{cmd} missing from {hist}");
    }
}

#[test]
fn zinject_damage_is_found_and_repaired_by_scrub() {
    let t = TestDir::new();
    let a = t.vdev("a");
    let b = t.vdev("b");
    let d = t.daemon("d");
    d.zpool(&["create", "tank", "mirror", s(&a), s(&b)]).ok();
    populate(&d, 0, 4);
    let added = zinject(&d, &["-d", s(&a), "-e", "checksum", "-T", "read", "tank"]);
    assert!(added.ok().starts_with("Added handler 1 "), "{added:?}");
    let list = zinject(&d, &[]);
    assert!(list.ok().contains("checksum"), "{list:?}");
    zinject(&d, &["-d", s(&a), "-e", "lightning", "tank"])
        .fails(1, "invalid error type 'lightning'");
    zinject(&d, &["-d", "/nope", "tank"]).fails(1, "no such device");
    d.zpool(&["scrub", "-w", "tank"]).ok();
    let st = status(&d);
    assert!(st.contains(" with 0 errors on "), "{st}");
    let cksum = &vdev_line(&st, s(&a)).unwrap()[4];
    assert_ne!(cksum, "0", "{st}");
    assert_eq!(vdev_line(&st, s(&b)).unwrap()[4], "0", "{st}");
    let cleared = zinject(&d, &["-c", "all"]);
    assert_eq!(cleared.ok(), "removed 1 handler\n");
    assert_eq!(zinject(&d, &[]).ok(), "No handlers registered.\n");
    // I/O errors fault the device; the pool keeps going, clear brings it
    // back.
    zinject(&d, &["-d", s(&b), "-e", "io", "tank"]).ok();
    wait_until("the failing device to be faulted", || {
        let _ = d.zfs(&["create", &format!("tank/x{}", rand_suffix())]);
        vdev_line(&status(&d), s(&b)).is_some_and(|l| l[1] == "FAULTED")
    });
    assert!(status(&d).contains("too many errors"));
    zinject(&d, &["-c", "1"]).ok();
    d.zpool(&["clear", "tank"]).ok();
    d.zpool(&["wait", "tank"]).ok();
    let st = status(&d);
    assert!(st.contains(" state: ONLINE"), "{st}");
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}
