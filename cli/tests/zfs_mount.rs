//! End to end: filesystems mounted through FUSE by basind, as OpenZFS
//! mounts them. Every daemon mounts under its own mount root in the
//! test's temp dir (`--mount-root`), so mountpoint=/tank/a is at
//! `d.at("/tank/a")`. These tests need root, /dev/fuse and fusermount3:
//! elsewhere they skip with a message (and fail under CI=true).

mod common;

use std::fs;
use std::io::Write;
use std::path::Path;

use common::{fuse_available, s, vdev, TestDir, MIB};

fn get1(d: &common::Daemon, prop: &str, ds: &str) -> String {
    d.zfs(&["get", "-H", "-o", "value", prop, ds])
        .ok()
        .trim_end_matches('\n')
        .to_string()
}

/// `zfs mount`'s listing as (name, path) pairs.
fn listing(d: &common::Daemon) -> Vec<(String, String)> {
    d.zfs(&["mount"])
        .ok()
        .lines()
        .map(|l| {
            let mut w = l.split_whitespace();
            (w.next().unwrap().to_string(), w.next().unwrap().to_string())
        })
        .collect()
}

fn mounted(d: &common::Daemon, name: &str) -> bool {
    listing(d).iter().any(|(n, _)| n == name)
}

/// The kernel's mount at `p`, if any: (source, fstype).
fn kernel_mount(d: &common::Daemon, p: &Path) -> Option<(String, String)> {
    d.kernel_mounts()
        .into_iter()
        .find(|(_, mp, _)| Path::new(mp) == p)
        .map(|(src, _, ty)| (src, ty))
}

fn write(p: &Path, data: &[u8]) {
    let mut f = fs::File::create(p).unwrap_or_else(|e| panic!("create {}: {e}", p.display()));
    f.write_all(data).unwrap();
    f.sync_all().unwrap();
}

#[test]
fn mounting_follows_canmount_mountpoint_and_the_pool() {
    if !fuse_available() {
        return;
    }
    let t = TestDir::new();
    let d = t.mounting_daemon_with_pool("d", 256 * MIB);

    // zpool create mounted the root filesystem.
    let root = d.at("/tank");
    assert_eq!(
        listing(&d),
        [("tank".to_string(), root.display().to_string())]
    );
    assert_eq!(
        kernel_mount(&d, &root),
        Some(("tank".into(), "fuse.basin".into()))
    );
    assert_eq!(get1(&d, "mounted", "tank"), "yes");

    // zfs create mounts (parents made by -p too); files go through FUSE.
    d.zfs(&["create", "tank/a"]).ok();
    d.zfs(&["create", "-p", "tank/p/q"]).ok();
    for n in ["tank/a", "tank/p", "tank/p/q"] {
        assert!(mounted(&d, n), "{n} not mounted: {:?}", listing(&d));
        assert_eq!(get1(&d, "mounted", n), "yes");
    }
    write(&d.at("/tank/a/hello"), b"hello, basin\n");
    assert_eq!(fs::read(d.at("/tank/a/hello")).unwrap(), b"hello, basin\n");
    // -u creates without mounting; zfs mount mounts it.
    d.zfs(&["create", "-u", "tank/u"]).ok();
    assert_eq!(get1(&d, "mounted", "tank/u"), "no");
    d.zfs(&["mount", "tank/u"]).ok();
    assert_eq!(get1(&d, "mounted", "tank/u"), "yes");

    // canmount and mountpoint decide, with OpenZFS's words.
    d.zfs(&["create", "-o", "canmount=noauto", "tank/n"]).ok();
    d.zfs(&["create", "-o", "canmount=off", "tank/off"]).ok();
    d.zfs(&["create", "-o", "mountpoint=none", "tank/none"])
        .ok();
    d.zfs(&["create", "-o", "mountpoint=legacy", "tank/leg"])
        .ok();
    d.zfs(&["create", "-V", "8M", "tank/vol"]).ok();
    for n in ["tank/n", "tank/off", "tank/none", "tank/leg"] {
        assert_eq!(get1(&d, "mounted", n), "no", "{n}");
    }
    d.zfs(&["mount", "-a"]).ok();
    assert!(!mounted(&d, "tank/n"), "-a mounts noauto");
    d.zfs(&["mount", "tank/off"]).fails(
        1,
        "cannot mount 'tank/off': 'canmount' property is set to 'off'",
    );
    d.zfs(&["mount", "tank/none"])
        .fails(1, "cannot mount 'tank/none': no mountpoint set");
    d.zfs(&["mount", "tank/leg"]).fails(
        1,
        "cannot mount 'tank/leg': legacy mountpoint\nuse mount(8) to mount this filesystem",
    );
    d.zfs(&["mount", "tank/vol"]).fails(
        1,
        "cannot open 'tank/vol': operation not applicable to datasets of this type",
    );
    d.zfs(&["mount", "tank/nope"])
        .fails(1, "cannot open 'tank/nope': dataset does not exist");
    d.zfs(&["mount", "tank/a"])
        .fails(1, "cannot mount 'tank/a': filesystem already mounted");
    d.zfs(&["mount", "-a", "tank/a"])
        .fails(2, "too many arguments");
    d.zfs(&["unmount"]).fails(2, "missing filesystem argument");
    d.zfs(&["mount", "tank/n"]).ok();
    assert!(mounted(&d, "tank/n"));

    // A busy filesystem does not unmount, and stays served.
    let held = fs::File::open(d.at("/tank/a/hello")).unwrap();
    let busy = format!(
        "cannot unmount '{}': pool or dataset is busy",
        d.at("/tank/a").display()
    );
    d.zfs(&["unmount", "tank/a"]).fails(1, &busy);
    d.zfs(&["umount", s(&d.at("/tank/a"))]).fails(1, &busy);
    assert_eq!(get1(&d, "mounted", "tank/a"), "yes");
    // Nor does a busy filesystem let a destroy, a rename or a new
    // mountpoint go ahead: nothing changes.
    d.zfs(&["destroy", "tank/a"]).fails(1, &busy);
    d.zfs(&["rename", "tank/a", "tank/b"]).fails(1, &busy);
    d.zfs(&["set", "mountpoint=/elsewhere", "tank/a"])
        .fails(1, &busy);
    assert_eq!(get1(&d, "mountpoint", "tank/a"), "/tank/a");
    assert_eq!(
        d.zfs(&["list", "-H", "-o", "name", "tank/a"]).ok(),
        "tank/a\n"
    );
    assert_eq!(fs::read(d.at("/tank/a/hello")).unwrap(), b"hello, basin\n");
    // A parent with a busy child is busy, and its other children stay.
    d.zfs(&["unmount", "tank"])
        .fails(1, "pool or dataset is busy");
    assert!(mounted(&d, "tank/p/q") && mounted(&d, "tank"));
    // Nor is a pool with a busy filesystem exported or destroyed without
    // -f: it stays imported with every filesystem mounted.
    let before = listing(&d);
    d.zpool(&["export", "tank"]).fails(1, &busy);
    d.zpool(&["destroy", "tank"]).fails(1, &busy);
    assert_eq!(listing(&d), before);
    assert_eq!(d.zpool(&["list", "-H", "-o", "name"]).ok(), "tank\n");
    drop(held);

    // Unmount by name and by mountpoint; what is not mounted says so.
    d.zfs(&["unmount", "tank/a"]).ok();
    assert_eq!(get1(&d, "mounted", "tank/a"), "no");
    assert_eq!(kernel_mount(&d, &d.at("/tank/a")), None);
    d.zfs(&["unmount", "tank/a"])
        .fails(1, "cannot unmount 'tank/a': not currently mounted");
    d.zfs(&["mount", "tank/a"]).ok();
    d.zfs(&["umount", s(&d.at("/tank/p"))]).ok();
    // Children that follow a filesystem go with it.
    assert!(!mounted(&d, "tank/p") && !mounted(&d, "tank/p/q"));
    d.zfs(&["unmount", "/nowhere/at/all"])
        .fails(1, "cannot unmount '/nowhere/at/all': not currently mounted");
    d.zfs(&["mount", "-a"]).ok();
    assert!(mounted(&d, "tank/p") && mounted(&d, "tank/p/q"));
    // -f unmounts a busy filesystem.
    let held = fs::File::open(d.at("/tank/a/hello")).unwrap();
    d.zfs(&["unmount", "-f", "tank/a"]).ok();
    assert_eq!(get1(&d, "mounted", "tank/a"), "no");
    drop(held);
    d.zfs(&["mount", "tank/a"]).ok();
    assert_eq!(fs::read(d.at("/tank/a/hello")).unwrap(), b"hello, basin\n");

    // A new mountpoint moves the filesystem and those that follow it.
    d.zfs(&["set", "mountpoint=/srv/p", "tank/p"]).ok();
    assert!(kernel_mount(&d, &d.at("/srv/p")).is_some());
    assert!(kernel_mount(&d, &d.at("/srv/p/q")).is_some());
    assert_eq!(kernel_mount(&d, &d.at("/tank/p")), None);
    assert!(!d.at("/tank/p").exists(), "the old mountpoint stays");
    d.zfs(&["inherit", "mountpoint", "tank/p"]).ok();
    assert!(kernel_mount(&d, &d.at("/tank/p/q")).is_some());
    // mountpoint=none unmounts; a path again mounts (canmount=on).
    d.zfs(&["set", "mountpoint=none", "tank/u"]).ok();
    assert_eq!(get1(&d, "mounted", "tank/u"), "no");
    d.zfs(&["set", "mountpoint=/u", "tank/u"]).ok();
    assert_eq!(get1(&d, "mounted", "tank/u"), "yes");
    assert!(kernel_mount(&d, &d.at("/u")).is_some());

    // readonly remounts in place.
    d.zfs(&["set", "readonly=on", "tank/a"]).ok();
    let e = fs::File::create(d.at("/tank/a/new")).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EROFS), "{e}");
    assert_eq!(fs::read(d.at("/tank/a/hello")).unwrap(), b"hello, basin\n");
    d.zfs(&["set", "readonly=off", "tank/a"]).ok();
    write(&d.at("/tank/a/new"), b"rw again");

    // canmount=off unmounts for good; noauto leaves it mounted.
    d.zfs(&["set", "canmount=noauto", "tank/u"]).ok();
    assert!(mounted(&d, "tank/u"));
    d.zfs(&["set", "canmount=off", "tank/u"]).ok();
    assert!(!mounted(&d, "tank/u"));

    // Snapshots under .zfs/snapshot; rollback puts the old bytes back.
    d.zfs(&["snapshot", "tank/a@before"]).ok();
    write(&d.at("/tank/a/hello"), b"changed");
    assert_eq!(
        fs::read(d.at("/tank/a/.zfs/snapshot/before/hello")).unwrap(),
        b"hello, basin\n"
    );
    d.zfs(&["rollback", "tank/a@before"]).ok();
    assert_eq!(fs::read(d.at("/tank/a/hello")).unwrap(), b"hello, basin\n");
    assert!(mounted(&d, "tank/a"));
    // A snapshot read through .zfs can still be destroyed.
    d.zfs(&["destroy", "tank/a@before"]).ok();

    // Rename moves the mount; clone mounts; destroy unmounts and tidies.
    d.zfs(&["rename", "tank/a", "tank/b"]).ok();
    assert!(!mounted(&d, "tank/a") && mounted(&d, "tank/b"));
    assert_eq!(fs::read(d.at("/tank/b/hello")).unwrap(), b"hello, basin\n");
    assert!(!d.at("/tank/a").exists());
    d.zfs(&["snapshot", "tank/b@s"]).ok();
    d.zfs(&["clone", "tank/b@s", "tank/c"]).ok();
    assert_eq!(fs::read(d.at("/tank/c/hello")).unwrap(), b"hello, basin\n");
    d.zfs(&["destroy", "-R", "tank/b"]).ok();
    assert!(!mounted(&d, "tank/b") && !mounted(&d, "tank/c"));
    assert!(!d.at("/tank/b").exists() && !d.at("/tank/c").exists());

    // zfs unmount -a leaves noauto filesystems (this one moved out from
    // under tank first: the kernel does not unmount a parent with a child
    // mounted below it); mount -a brings back the others.
    d.zfs(&["set", "mountpoint=/n", "tank/n"]).ok();
    assert!(kernel_mount(&d, &d.at("/n")).is_some());
    d.zfs(&["unmount", "-a"]).ok();
    assert_eq!(
        listing(&d).into_iter().map(|(n, _)| n).collect::<Vec<_>>(),
        ["tank/n"]
    );
    d.zfs(&["mount", "-a"]).ok();
    assert!(mounted(&d, "tank") && mounted(&d, "tank/p/q"));

    // Export unmounts everything; import mounts it again.
    write(&d.at("/tank/p/q/kept"), b"across export");
    d.zpool(&["export", "tank"]).ok();
    assert_eq!(d.kernel_mounts(), []);
    assert_eq!(listing(&d), []);
    d.zpool(&["import", "-d", s(&t.vdevs), "tank"]).ok();
    assert!(mounted(&d, "tank/p/q"));
    assert_eq!(fs::read(d.at("/tank/p/q/kept")).unwrap(), b"across export");
    // Destroy too.
    d.zpool(&["destroy", "tank"]).ok();
    assert_eq!(d.kernel_mounts(), []);
}

/// A daemon killed with its `fusermount3` helpers leaves dead mounts (the
/// kernel answers ENOTCONN): the next start sweeps them and mounts again.
#[test]
fn a_restart_sweeps_the_dead_mounts_of_a_killed_daemon() {
    if !fuse_available() {
        return;
    }
    let t = TestDir::new();
    let mut d = t.mounting_daemon_with_pool("d", 128 * MIB);
    d.zfs(&["create", "tank/a"]).ok();
    write(&d.at("/tank/a/f"), b"still here");
    // The helpers first (so that none unmounts), then the daemon.
    for pid in helpers_of(d.pid()) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    d.kill9();
    let e = fs::metadata(d.at("/tank/a")).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::ENOTCONN), "{e}");
    assert_eq!(d.kernel_mounts().len(), 2);

    d.restart();
    assert_eq!(fs::read(d.at("/tank/a/f")).unwrap(), b"still here");
    // One live mount per filesystem, nothing dead left behind.
    let mut seen = d.kernel_mounts();
    seen.sort();
    assert_eq!(
        seen.iter()
            .map(|(src, _, ty)| (src.as_str(), ty.as_str()))
            .collect::<Vec<_>>(),
        [("tank", "fuse.basin"), ("tank/a", "fuse.basin")]
    );
    assert!(d.log_text().contains("swept"), "{}", d.log_text());
}

/// The `fusermount3` children of process `pid`.
fn helpers_of(pid: u32) -> Vec<i32> {
    let mut out = Vec::new();
    for t in fs::read_dir(format!("/proc/{pid}/task")).unwrap().flatten() {
        let kids = fs::read_to_string(t.path().join("children")).unwrap_or_default();
        for k in kids
            .split_whitespace()
            .filter_map(|k| k.parse::<i32>().ok())
        {
            let comm = fs::read_to_string(format!("/proc/{k}/comm")).unwrap_or_default();
            if comm.trim().starts_with("fusermount") {
                out.push(k);
            }
        }
    }
    out
}

#[test]
fn filesystems_on_a_daemon_without_fuse_are_not_mounted_and_say_why() {
    // A daemon that cannot mount still serves every dataset command.
    if nix::unistd::geteuid().is_root() {
        eprintln!("skipping: as root this daemon can mount");
        return;
    }
    let t = TestDir::new();
    let v = vdev(&t.vdevs, "v", 64 * MIB);
    let d = t.mounting_daemon("d");
    d.zpool(&["create", "tank", s(&v)]).ok();
    d.zfs(&["create", "tank/a"]).ok();
    assert_eq!(get1(&d, "mounted", "tank/a"), "no");
    d.zfs(&["mount", "tank/a"])
        .fails(1, "cannot mount 'tank/a': ");
    assert_eq!(d.zfs(&["mount"]).ok(), "");
}

#[test]
fn diff_and_status_name_files_by_their_paths() {
    if !fuse_available() {
        return;
    }
    let t = TestDir::new();
    let d = t.mounting_daemon_with_pool("d", 256 * MIB);
    d.zfs(&["create", "tank/a"]).ok();
    let a = d.at("/tank/a");
    fs::create_dir(a.join("dir")).unwrap();
    write(&a.join("dir/kept"), b"kept\n");
    write(&a.join("gone"), b"gone\n");
    d.zfs(&["snapshot", "tank/a@s"]).ok();
    write(&a.join("dir/new"), b"new\n");
    fs::remove_file(a.join("gone")).unwrap();
    let big = common::noise(7, 256 << 10);
    write(&a.join("big"), &big);
    d.zfs(&["unmount", "tank/a"]).ok();
    d.zfs(&["mount", "tank/a"]).ok();

    // zfs diff names files under the mountpoint, as OpenZFS prints them.
    let diff = d.zfs(&["diff", "tank/a@s"]).ok().to_string();
    for want in [
        "+\t/tank/a/dir/new",
        "-\t/tank/a/gone",
        "+\t/tank/a/big",
        "M\t/tank/a/dir",
    ] {
        assert!(diff.lines().any(|l| l == want), "no {want:?} in:\n{diff}");
    }
    assert!(!diff.contains("<object"), "{diff}");

    // Rot in the middle of big's second block (one copy on one disk):
    // reading it fails with EIO, and status -v names the file.
    d.zpool(&["export", "tank"]).ok();
    let v = t.vdevs.join("d-tank");
    let mut disk = fs::read(&v).unwrap();
    let needle = &big[(128 << 10) + 4096..(128 << 10) + 8192];
    let at = disk
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("big's second block is on the disk as written");
    disk[at + 100] ^= 0xff;
    fs::write(&v, &disk).unwrap();
    drop(disk);
    d.zpool(&["import", "-d", s(&t.vdevs), "tank"]).ok();
    let err = fs::read(a.join("big")).expect_err("a damaged block is never returned");
    assert_eq!(err.raw_os_error(), Some(libc::EIO), "{err}");
    assert_eq!(fs::read(a.join("dir/kept")).unwrap(), b"kept\n");
    let st = d.zpool(&["status", "-v", "tank"]).ok().to_string();
    assert!(
        st.contains("errors: Permanent errors have been detected in the following files:"),
        "{st}"
    );
    assert!(st.lines().any(|l| l.trim() == "/tank/a/big"), "{st}");
    // Not mounted, the file is named by dataset and path.
    d.zfs(&["unmount", "tank/a"]).ok();
    let st = d.zpool(&["status", "-v", "tank"]).ok().to_string();
    assert!(st.lines().any(|l| l.trim() == "tank/a:/big"), "{st}");
}
