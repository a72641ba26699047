//! End to end: datasets through their whole life with `zfs`, checking what
//! an operator sees, the pool history, and that datasets survive SIGKILL.

mod common;

use common::{s, vdev, TestDir, MIB};

/// `zfs list -H -o name -t all -r tank`, one name per line.
fn names(d: &common::Daemon) -> Vec<String> {
    d.zfs(&["list", "-H", "-o", "name", "-t", "all", "-r", "tank"])
        .ok()
        .lines()
        .map(String::from)
        .collect()
}

fn get1(d: &common::Daemon, prop: &str, ds: &str) -> String {
    d.zfs(&["get", "-H", "-o", "value", prop, ds])
        .ok()
        .trim_end_matches('\n')
        .to_string()
}

#[test]
fn create_list_get_set_inherit_snapshot_clone_promote_rename_hold_destroy() {
    let t = TestDir::new();
    let d = t.daemon_with_pool("d", 128 * MIB);

    // create, with -p and -o.
    d.zfs(&["create", "tank/a"]).ok();
    d.zfs(&["create", "-p", "tank/a/b/c"]).ok();
    d.zfs(&[
        "create",
        "-o",
        "compression=off",
        "-o",
        "com.example:team=storage",
        "tank/x",
    ])
    .ok();
    assert_eq!(
        d.zfs(&["list", "-o", "name,type,mountpoint", "-r", "tank"])
            .ok(),
        "NAME        TYPE        MOUNTPOINT\n\
         tank        filesystem  /tank\n\
         tank/a      filesystem  /tank/a\n\
         tank/a/b    filesystem  /tank/a/b\n\
         tank/a/b/c  filesystem  /tank/a/b/c\n\
         tank/x      filesystem  /tank/x\n"
    );
    // The default columns, aligned as OpenZFS aligns them.
    let list = d.zfs(&["list", "tank/a"]);
    let lines: Vec<&str> = list.ok().lines().collect();
    assert_eq!(lines[0], "NAME     USED  AVAIL  REFER  MOUNTPOINT");
    let cells: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(
        (cells[0], cells[1], cells[3], cells[4]),
        ("tank/a", "0B", "0B", "/tank/a")
    );
    let end = |line: &str, word: &str| line.find(word).unwrap() + word.len();
    assert_eq!(end(lines[0], "AVAIL"), end(lines[1], cells[2]), "{list:?}");

    // get and its sources; set and inherit.
    assert_eq!(
        d.zfs(&["get", "compression,com.example:team", "tank/x"])
            .ok(),
        "NAME    PROPERTY          VALUE             SOURCE\n\
         tank/x  compression       off               local\n\
         tank/x  com.example:team  storage           local\n"
    );
    d.zfs(&["set", "atime=off", "com.example:team=dmu", "tank/a"])
        .ok();
    assert_eq!(
        d.zfs(&["get", "-H", "-r", "atime,com.example:team", "tank/a"])
            .ok(),
        "tank/a\tatime\toff\tlocal\n\
         tank/a\tcom.example:team\tdmu\tlocal\n\
         tank/a/b\tatime\toff\tinherited from tank/a\n\
         tank/a/b\tcom.example:team\tdmu\tinherited from tank/a\n\
         tank/a/b/c\tatime\toff\tinherited from tank/a\n\
         tank/a/b/c\tcom.example:team\tdmu\tinherited from tank/a\n"
    );
    d.zfs(&["set", "mountpoint=/srv/a", "tank/a"]).ok();
    assert_eq!(get1(&d, "mountpoint", "tank/a/b/c"), "/srv/a/b/c");
    d.zfs(&["inherit", "-r", "atime", "tank/a"]).ok();
    d.zfs(&["inherit", "mountpoint", "tank/a"]).ok();
    assert_eq!(
        d.zfs(&[
            "get",
            "-H",
            "-o",
            "name,value,source",
            "atime,mountpoint",
            "tank/a/b"
        ])
        .ok(),
        "tank/a/b\ton\tdefault\ntank/a/b\t/tank/a/b\tdefault\n"
    );
    d.zfs(&["set", "quota=10M", "tank/a/b"]).ok();
    assert_eq!(get1(&d, "quota", "tank/a/b"), "10M");
    assert_eq!(
        d.zfs(&["get", "-Hp", "-o", "value", "quota", "tank/a/b"])
            .ok(),
        format!("{}\n", 10 * MIB)
    );
    d.zfs(&["set", "quota=none", "tank/a/b"]).ok();
    assert_eq!(get1(&d, "quota", "tank/a/b"), "none");

    // Snapshots, recursive, then rollback.
    d.zfs(&["snapshot", "-r", "tank/a@one"]).ok();
    d.zfs(&["snapshot", "tank/a@two"]).ok();
    assert_eq!(
        d.zfs(&["list", "-H", "-t", "snapshot", "-o", "name"]).ok(),
        "tank/a@one\ntank/a@two\ntank/a/b@one\ntank/a/b/c@one\n"
    );
    d.zfs(&["rollback", "-r", "tank/a@one"]).ok();
    assert_eq!(
        d.zfs(&["list", "-H", "-t", "snapshot", "-o", "name", "tank/a"])
            .ok(),
        "tank/a@one\n"
    );

    // Clone, promote, and the origin moving.
    d.zfs(&[
        "clone",
        "-o",
        "com.example:role=clone",
        "tank/a@one",
        "tank/c",
    ])
    .ok();
    assert_eq!(get1(&d, "origin", "tank/c"), "tank/a@one");
    assert_eq!(get1(&d, "clones", "tank/a@one"), "tank/c");
    assert_eq!(get1(&d, "com.example:role", "tank/c"), "clone");
    d.zfs(&["promote", "tank/c"]).ok();
    assert_eq!(get1(&d, "origin", "tank/a"), "tank/c@one");
    assert_eq!(get1(&d, "origin", "tank/c"), "-");

    // Rename a filesystem (with -p) and a snapshot.
    d.zfs(&["rename", "-p", "tank/x", "tank/new/x"]).ok();
    d.zfs(&["rename", "tank/c@one", "tank/c@first"]).ok();
    d.zfs(&["rename", "tank/c@first", "@uno"]).ok();
    assert_eq!(
        names(&d),
        [
            "tank",
            "tank/a",
            "tank/a/b",
            "tank/a/b@one",
            "tank/a/b/c",
            "tank/a/b/c@one",
            "tank/c",
            "tank/c@uno",
            "tank/new",
            "tank/new/x"
        ]
    );

    // Holds keep a snapshot; release lets it go.
    d.zfs(&["hold", "-r", "keep", "tank/a/b@one"]).ok();
    let holds = d.zfs(&["holds", "-r", "tank/a/b@one"]);
    let lines: Vec<&str> = holds.ok().lines().collect();
    assert_eq!(lines[0], "NAME            TAG   TIMESTAMP");
    assert!(lines[1].starts_with("tank/a/b@one    keep  "), "{holds:?}");
    assert!(lines[2].starts_with("tank/a/b/c@one  keep  "), "{holds:?}");
    assert_eq!(get1(&d, "userrefs", "tank/a/b@one"), "1");
    d.zfs(&["release", "-r", "keep", "tank/a/b@one"]).ok();
    assert_eq!(get1(&d, "userrefs", "tank/a/b@one"), "0");

    // destroy -nv says what would go and leaves it; destroy -r does it.
    assert_eq!(
        d.zfs(&["destroy", "-rnv", "tank/a/b"]).ok(),
        "would destroy tank/a/b/c@one\nwould destroy tank/a/b/c\nwould destroy tank/a/b@one\nwould destroy tank/a/b\n"
    );
    assert!(names(&d).contains(&"tank/a/b/c".to_string()));
    d.zfs(&["destroy", "-r", "tank/a/b"]).ok();
    d.zfs(&["destroy", "tank/new/x"]).ok();
    assert_eq!(
        names(&d),
        ["tank", "tank/a", "tank/c", "tank/c@uno", "tank/new"]
    );
    // -r on the pool's root takes everything but the root itself.
    d.zfs(&["destroy", "-R", "tank"]).ok();
    assert_eq!(names(&d), ["tank"]);

    // Every change is in the pool history, with its command line.
    let hist = d.zpool(&["history", "tank"]);
    let text = hist.ok();
    for cmd in [
        "zfs create -p tank/a/b/c",
        "zfs set atime=off com.example:team=dmu tank/a",
        "zfs inherit -r atime tank/a",
        "zfs snapshot -r tank/a@one",
        "zfs rollback -r tank/a@one",
        "zfs clone -o com.example:role=clone tank/a@one tank/c",
        "zfs promote tank/c",
        "zfs rename -p tank/x tank/new/x",
        "zfs hold -r keep tank/a/b@one",
        "zfs release -r keep tank/a/b@one",
        "zfs destroy -r tank/a/b",
        "zfs destroy -R tank",
    ] {
        assert!(
            text.contains(&format!(" {cmd}\n")),
            "{cmd} missing:\n{text}"
        );
    }
    // Dry runs and reads are not history.
    assert!(!text.contains("destroy -rnv"), "{text}");
    assert!(!text.contains("zfs list"), "{text}");
}

#[test]
fn recursive_renames_of_snapshots() {
    let t = TestDir::new();
    let d = t.daemon_with_pool("d", 128 * MIB);
    d.zfs(&["create", "-p", "tank/r/s/t"]).ok();
    d.zfs(&["snapshot", "-r", "tank/r@x"]).ok();
    d.zfs(&["rename", "-r", "tank/r@x", "@y"]).ok();
    assert_eq!(
        d.zfs(&["list", "-H", "-o", "name", "-t", "snapshot"]).ok(),
        "tank/r@y\ntank/r/s@y\ntank/r/s/t@y\n"
    );
    d.zfs(&["rename", "-r", "tank/r", "tank/q"])
        .fails(2, "source dataset for recursive rename must be a snapshot");
    d.zfs(&["snapshot", "tank/r/s@z"]).ok();
    d.zfs(&["rename", "-r", "tank/r@y", "tank/r@z"]).fails(
        1,
        "cannot rename to 'tank/r@z': a child dataset already has a snapshot with the new name",
    );
    assert_eq!(
        d.zfs(&["list", "-H", "-o", "name", "-t", "snapshot"]).ok(),
        "tank/r@y\ntank/r/s@y\ntank/r/s@z\ntank/r/s/t@y\n"
    );
}

#[test]
fn volumes() {
    let t = TestDir::new();
    let d = t.daemon_with_pool("d", 128 * MIB);
    d.zfs(&["create", "-V", "16M", "tank/vol"]).ok();
    d.zfs(&["create", "-s", "-V", "1G", "-b", "8K", "tank/sparse"])
        .ok();
    assert_eq!(
        d.zfs(&[
            "get",
            "-H",
            "-o",
            "name,property,value,source",
            "type,volsize,volblocksize,refreservation",
            "tank/vol",
            "tank/sparse"
        ])
        .ok(),
        "tank/sparse\ttype\tvolume\t-\n\
         tank/sparse\tvolsize\t1G\tlocal\n\
         tank/sparse\tvolblocksize\t8K\tdefault\n\
         tank/sparse\trefreservation\tnone\tdefault\n\
         tank/vol\ttype\tvolume\t-\n\
         tank/vol\tvolsize\t16M\tlocal\n\
         tank/vol\tvolblocksize\t16K\tdefault\n\
         tank/vol\trefreservation\t18M\tlocal\n"
    );
    // A volume is not a filesystem: no mountpoint, no children.
    assert_eq!(
        d.zfs(&["list", "-H", "-o", "name,mountpoint,mounted", "tank/vol"])
            .ok(),
        "tank/vol\t-\t-\n"
    );
    d.zfs(&["create", "tank/vol/x"])
        .fails(1, "cannot create 'tank/vol/x': parent is not a filesystem");
    d.zfs(&["snapshot", "tank/vol@s"]).ok();
    d.zfs(&["destroy", "tank/vol"]).fails(
        1,
        "cannot destroy 'tank/vol': volume has children\nuse '-r' to destroy the following datasets:\ntank/vol@s\n",
    );
    d.zfs(&["destroy", "-r", "tank/vol"]).ok();
    d.zfs(&["create", "-V", "1T", "tank/huge"])
        .fails(1, "cannot create 'tank/huge': out of space");
    assert_eq!(
        d.zfs(&["list", "-H", "-o", "name", "-r", "tank"]).ok(),
        "tank\ntank/sparse\n"
    );
}

#[test]
fn datasets_survive_sigkill_and_come_with_zpool_create_dash_o() {
    let t = TestDir::new();
    let v = vdev(&t.vdevs, "a", 128 * MIB);
    let mut d = t.daemon("d");
    d.zpool(&[
        "create",
        "-O",
        "compression=off",
        "-O",
        "com.example:site=lab",
        "tank",
        s(&v),
    ])
    .ok();
    assert_eq!(
        d.zfs(&[
            "get",
            "-H",
            "-o",
            "property,value,source",
            "compression,com.example:site",
            "tank"
        ])
        .ok(),
        "compression\toff\tlocal\ncom.example:site\tlab\tlocal\n"
    );
    d.zfs(&["create", "-p", "tank/a/b"]).ok();
    d.zfs(&["snapshot", "-r", "tank/a@s"]).ok();
    d.zfs(&["hold", "keep", "tank/a@s"]).ok();
    d.zfs(&["set", "quota=50M", "tank/a"]).ok();
    // Everything but the pool's free space (its history grows).
    let all = |d: &common::Daemon| -> Vec<String> {
        d.zfs(&[
            "get",
            "-Hp",
            "-r",
            "-o",
            "name,property,value,source",
            "all",
            "tank",
        ])
        .ok()
        .lines()
        .filter(|l| !l.starts_with("tank\tavailable\t"))
        .map(String::from)
        .collect()
    };
    let before = all(&d);
    assert_eq!(before.len(), 165, "{before:?}");

    d.kill9();
    d.restart();
    assert_eq!(before, all(&d));
    assert!(d.log_text().contains("imported pool 'tank' from the cache"));
    assert_eq!(get1(&d, "userrefs", "tank/a@s"), "1");
    assert_eq!(get1(&d, "compression", "tank/a/b"), "off");

    // Export and import bring them back too.
    d.zpool(&["export", "tank"]).ok();
    d.zfs(&["list", "tank"])
        .fails(1, "cannot open 'tank': dataset does not exist");
    d.zpool(&["import", "-d", s(&t.vdevs), "tank"]).ok();
    assert_eq!(
        d.zfs(&["list", "-H", "-o", "name", "-t", "all", "-r", "tank"])
            .ok(),
        "tank\ntank/a\ntank/a@s\ntank/a/b\ntank/a/b@s\n"
    );

    // A bad -O creates nothing.
    let w = vdev(&t.vdevs, "b", 128 * MIB);
    d.zpool(&["create", "-O", "compression=zip", "other", s(&w)])
        .fails(
            1,
            "cannot create 'other': 'compression' must be one of 'on | off | lz4'",
        );
    d.zpool(&["create", "-O", "used=1", "other", s(&w)])
        .fails(1, "cannot create 'other': 'used' is readonly");
    assert_eq!(d.zpool(&["list", "-H", "-o", "name"]).ok(), "tank\n");
    d.zpool(&["create", "other", s(&w)]).ok();
}
