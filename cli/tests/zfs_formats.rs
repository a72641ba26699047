//! `zfs` output formats: -H, -p, -o, -s, -S, -t, -d and -j of `list` and
//! `get` (the JSON parsed back), `holds`, `destroy -nvp`, `diff`; and the
//! ARC's operator interface (`zpool arcstat`, `zpool get|set arc_max`).

mod common;

use common::offline::Offline;
use common::{s, vdev, TestDir, MIB};
use serde_json::Value;

fn tree(d: &common::Daemon) {
    for cmd in [
        &["create", "-p", "tank/a/b"][..],
        &["create", "tank/a-z"],
        &["create", "-V", "8M", "tank/vol"],
        &["snapshot", "tank/a@first"],
        &["snapshot", "-r", "tank/a@second"],
        &["set", "com.example:rank=2", "tank/a"],
        &["set", "com.example:rank=1", "tank/a-z"],
    ] {
        d.zfs(cmd).ok();
    }
}

#[test]
fn list_types_depths_columns_and_sorting() {
    let t = TestDir::new();
    let d = t.daemon_with_pool("d", 128 * MIB);
    tree(&d);
    let list = |args: &[&str]| d.zfs(args).ok().to_string();

    // Filesystems and volumes by default, snapshots with -t; OpenZFS's
    // order (a filesystem, its snapshots by age, then the names after it).
    assert_eq!(
        list(&["list", "-H", "-o", "name"]),
        "tank\ntank/a\ntank/a-z\ntank/a/b\ntank/vol\n"
    );
    assert_eq!(
        list(&["list", "-H", "-o", "name,type", "-t", "all"]),
        "tank\tfilesystem\ntank/a\tfilesystem\ntank/a@first\tsnapshot\ntank/a@second\tsnapshot\n\
         tank/a-z\tfilesystem\ntank/a/b\tfilesystem\ntank/a/b@second\tsnapshot\ntank/vol\tvolume\n"
    );
    assert_eq!(
        list(&["list", "-H", "-o", "name", "-t", "snapshot"]),
        "tank/a@first\ntank/a@second\ntank/a/b@second\n"
    );
    assert_eq!(
        list(&[
            "list",
            "-H",
            "-o",
            "name",
            "-t",
            "volume,snap",
            "-r",
            "tank/a"
        ]),
        "tank/a@first\ntank/a@second\ntank/a/b@second\n"
    );
    // -t snapshot with a name lists that dataset's snapshots.
    assert_eq!(
        list(&["list", "-H", "-o", "name", "-t", "snap", "tank/a"]),
        "tank/a@first\ntank/a@second\n"
    );
    // -d limits the depth; snapshots count one level down.
    assert_eq!(
        list(&["list", "-H", "-o", "name", "-d", "1", "tank"]),
        "tank\ntank/a\ntank/a-z\ntank/vol\n"
    );
    assert_eq!(
        list(&["list", "-H", "-o", "name", "-t", "all", "-d", "1", "tank/a"]),
        "tank/a\ntank/a@first\ntank/a@second\ntank/a/b\n"
    );
    assert_eq!(
        list(&["list", "-H", "-o", "name", "-d", "0", "tank"]),
        "tank\n"
    );

    // -s and -S, left to right, rows a property does not apply to last.
    assert_eq!(
        list(&[
            "list",
            "-H",
            "-o",
            "name,com.example:rank",
            "-s",
            "com.example:rank",
            "-d",
            "1"
        ]),
        "tank/a-z\t1\ntank/a\t2\ntank\t-\ntank/vol\t-\n"
    );
    assert_eq!(
        list(&["list", "-H", "-o", "name", "-S", "name", "-t", "filesystem"]),
        "tank/a/b\ntank/a-z\ntank/a\ntank\n"
    );
    assert_eq!(
        list(&[
            "list",
            "-H",
            "-o",
            "name",
            "-t",
            "all",
            "-S",
            "createtxg",
            "-s",
            "name",
            "-r",
            "tank/a"
        ]),
        // tank/a and tank/a/b came in one txg (-p): by name then.
        "tank/a/b@second\ntank/a@second\ntank/a@first\ntank/a\ntank/a/b\n"
    );
    assert_eq!(
        list(&[
            "list",
            "-H",
            "-o",
            "name,used",
            "-S",
            "used",
            "-s",
            "name",
            "-d",
            "1"
        ])
        .lines()
        .next()
        .unwrap(),
        "tank\t10M"
    );

    // -p gives exact numbers; -o space the space columns of filesystems and
    // volumes only.
    let p = list(&["list", "-Hp", "-o", "name,used,refreservation", "tank/vol"]);
    // 8 MiB of data and 2 MiB for its indirect blocks, reserved.
    assert_eq!(p, format!("tank/vol\t{}\t{}\n", 10 * MIB, 10 * MIB));
    let space = d.zfs(&["list", "-o", "space", "-r", "tank/a"]);
    let lines: Vec<&str> = space.ok().lines().collect();
    assert_eq!(
        lines[0],
        "NAME      AVAIL   USED  USEDSNAP  USEDDS  USEDREFRESERV  USEDCHILD"
    );
    assert_eq!(lines.len(), 3, "{space:?}");
    let cells: Vec<&str> = lines[2].split_whitespace().collect();
    assert_eq!(cells[0], "tank/a/b");
    assert_eq!(&cells[2..], ["0B", "0B", "0B", "0B", "0B"]);
    // Nothing to list is said on stderr, not stdout.
    let none = d.zfs(&["list", "-t", "snapshot", "tank/a-z"]);
    assert_eq!(
        (none.ok(), none.stderr.as_str()),
        ("", "no datasets available\n")
    );
    assert_eq!(
        d.zfs(&["list", "-H", "-t", "snapshot", "tank/a-z"]).stderr,
        ""
    );
}

#[test]
fn list_and_get_json() {
    let t = TestDir::new();
    let d = t.daemon_with_pool("d", 128 * MIB);
    tree(&d);
    let parse =
        |args: &[&str]| -> Value { serde_json::from_str(d.zfs(args).ok()).expect("valid JSON") };
    let doc = parse(&["list", "-j", "-t", "filesystem,snapshot", "-r", "tank/a"]);
    assert_eq!(
        doc["output_version"],
        serde_json::json!({"command": "zfs list", "vers_major": 0, "vers_minor": 1})
    );
    let ds = doc["datasets"].as_object().unwrap();
    let names: Vec<&String> = ds.keys().collect();
    assert_eq!(names.len(), 5, "{names:?}");
    let a = &ds["tank/a"];
    assert_eq!(a["name"], "tank/a");
    assert_eq!(a["type"], "FILESYSTEM");
    assert_eq!(a["pool"], "tank");
    assert!(a["createtxg"].as_str().unwrap().parse::<u64>().is_ok());
    let props = a["properties"].as_object().unwrap();
    let keys: Vec<&String> = props.keys().collect();
    assert_eq!(keys, ["available", "mountpoint", "referenced", "used"]);
    assert_eq!(props["used"]["value"], "0B");
    assert_eq!(
        props["used"]["source"],
        serde_json::json!({"type": "NONE", "data": "-"})
    );
    assert_eq!(props["mountpoint"]["source"]["type"], "DEFAULT");
    let snap = &ds["tank/a@first"];
    assert_eq!(snap["type"], "SNAPSHOT");
    assert_eq!(snap["dataset"], "tank/a");
    assert_eq!(snap["snapshot_name"], "first");
    assert_eq!(snap["properties"]["available"]["value"], "-");
    // --json-int: integers.
    let doc = parse(&[
        "list",
        "-j",
        "--json-int",
        "-o",
        "name,used,refreservation",
        "tank/vol",
    ]);
    let v = &doc["datasets"]["tank/vol"];
    assert!(v["createtxg"].is_u64());
    assert_eq!(v["properties"]["used"]["value"], 10 * MIB);
    assert_eq!(v["properties"]["refreservation"]["source"]["type"], "LOCAL");

    // get -j: inherited sources carry where from.
    let doc = parse(&["get", "-j", "-r", "com.example:rank,mountpoint", "tank/a"]);
    assert_eq!(doc["output_version"]["command"], "zfs get");
    let b = &doc["datasets"]["tank/a/b"]["properties"];
    assert_eq!(b["com.example:rank"]["value"], "2");
    assert_eq!(
        b["com.example:rank"]["source"],
        serde_json::json!({"type": "INHERITED", "data": "tank/a"})
    );
    assert_eq!(b["mountpoint"]["value"], "/tank/a/b");
    // -s filters what is shown, in JSON too.
    let doc = parse(&["get", "-j", "-s", "local", "all", "tank/a", "tank/a/b"]);
    let ds = doc["datasets"].as_object().unwrap();
    assert_eq!(ds.keys().collect::<Vec<_>>(), ["tank/a"]);
    assert_eq!(
        ds["tank/a"]["properties"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["com.example:rank"]
    );
}

#[test]
fn get_fields_sources_and_types() {
    let t = TestDir::new();
    let d = t.daemon_with_pool("d", 128 * MIB);
    tree(&d);
    d.zfs(&["set", "atime=off", "tank/a"]).ok();
    assert_eq!(
        d.zfs(&[
            "get",
            "-r",
            "-s",
            "local,inherited",
            "-o",
            "name,property,value",
            "atime,com.example:rank",
            "tank/a"
        ])
        .ok(),
        "NAME             PROPERTY          VALUE\n\
         tank/a           atime             off\n\
         tank/a           com.example:rank  2\n\
         tank/a@first     com.example:rank  2\n\
         tank/a@second    com.example:rank  2\n\
         tank/a/b         atime             off\n\
         tank/a/b         com.example:rank  2\n\
         tank/a/b@second  com.example:rank  2\n"
    );
    assert_eq!(
        d.zfs(&["get", "-H", "-o", "source,name", "atime", "tank/a/b"])
            .ok(),
        "inherited from tank/a\ttank/a/b\n"
    );
    assert_eq!(
        d.zfs(&["get", "-o", "all", "atime", "tank/a"]).ok(),
        "NAME    PROPERTY  VALUE  RECEIVED  SOURCE\ntank/a  atime     off    -         local\n"
    );
    // -t picks types; get defaults to every type, snapshots included.
    assert_eq!(
        d.zfs(&[
            "get",
            "-H",
            "-r",
            "-t",
            "snapshot",
            "-o",
            "name,value",
            "type",
            "tank"
        ])
        .ok(),
        "tank/a@first\tsnapshot\ntank/a@second\tsnapshot\ntank/a/b@second\tsnapshot\n"
    );
    assert_eq!(
        d.zfs(&["get", "-H", "-r", "-o", "name", "type", "tank/a"])
            .ok(),
        "tank/a\ntank/a@first\ntank/a@second\ntank/a/b\ntank/a/b@second\n"
    );
    // A property a dataset does not have prints "-".
    assert_eq!(
        d.zfs(&["get", "-H", "available,mountpoint", "tank/a@first"])
            .ok(),
        "tank/a@first\tavailable\t-\t-\ntank/a@first\tmountpoint\t-\t-\n"
    );
    // `get all` of a snapshot shows only what snapshots have, and user
    // properties inherited from its filesystem.
    let all = d.zfs(&["get", "-H", "-o", "property", "all", "tank/a@first"]);
    let props: Vec<&str> = all.ok().lines().collect();
    assert_eq!(props[..4], ["type", "creation", "used", "referenced"]);
    assert!(
        !props.contains(&"mountpoint") && props.contains(&"userrefs"),
        "{props:?}"
    );
    assert_eq!(props.last(), Some(&"com.example:rank"));
}

#[test]
fn holds_destroy_reports_and_diff() {
    let t = TestDir::new();
    // Objects can only be written in process for now: build the pool
    // here, then hand it to a daemon.
    let v = vdev(&t.vdevs, "off", 128 * MIB);
    let p = Offline::create(&v, "tank");
    p.dsl.create("tank/fs", None, &[], false).unwrap();
    for obj in [1, 2, 3] {
        p.write("tank/fs", obj, &vec![obj as u8; 20_000]);
    }
    p.dsl.snapshot(&["tank/fs@a".into()], false).unwrap();
    p.write("tank/fs", 2, &[9u8; 100]);
    p.free("tank/fs", 3);
    p.write("tank/fs", 40, &[4u8; 100]);
    p.dsl.snapshot(&["tank/fs@b".into()], false).unwrap();
    p.write("tank/fs", 1, &[1u8; 10]);
    p.export();
    let d = t.daemon("d");
    d.zpool(&["import", "-d", s(&t.vdevs), "tank"]).ok();

    assert_eq!(
        d.zfs(&["diff", "tank/fs@a", "tank/fs@b"]).ok(),
        "M\t<object 2>\n-\t<object 3>\n+\t<object 40>\n"
    );
    assert_eq!(
        d.zfs(&["diff", "tank/fs@a"]).ok(),
        "M\t<object 1>\nM\t<object 2>\n-\t<object 3>\n+\t<object 40>\n"
    );
    assert_eq!(
        d.zfs(&["diff", "tank/fs@b", "tank/fs"]).ok(),
        "M\t<object 1>\n"
    );

    // Holds: -H and -p.
    d.zfs(&["hold", "keep", "tank/fs@a"]).ok();
    d.zfs(&["hold", "backup", "tank/fs@a"]).ok();
    let h = d.zfs(&["holds", "-Hp", "tank/fs@a"]);
    let rows: Vec<Vec<&str>> = h.ok().lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(rows.len(), 2, "{h:?}");
    assert_eq!(rows[0][..2], ["tank/fs@a", "backup"]);
    assert_eq!(rows[1][..2], ["tank/fs@a", "keep"]);
    assert!(rows[0][2].parse::<u64>().unwrap() > 1_700_000_000);
    d.zfs(&["release", "keep", "tank/fs@a"]).ok();
    d.zfs(&["release", "backup", "tank/fs@a"]).ok();

    // destroy -nv of snapshots: what would go and what it would free.
    let unique: u64 = d
        .zfs(&["get", "-Hp", "-o", "value", "used", "tank/fs@a"])
        .ok()
        .trim()
        .parse()
        .unwrap();
    assert!(unique > 0);
    assert_eq!(
        d.zfs(&["destroy", "-nvp", "tank/fs@a"]).ok(),
        format!("destroy\ttank/fs@a\nreclaim\t{unique}\n")
    );
    let v = d.zfs(&["destroy", "-v", "tank/fs@a"]);
    assert!(
        v.ok().starts_with("will destroy tank/fs@a\nwill reclaim "),
        "{v:?}"
    );
    assert_eq!(
        d.zfs(&["list", "-H", "-o", "name", "-t", "snapshot"]).ok(),
        "tank/fs@b\n"
    );
}

#[test]
fn arcstat_and_arc_limits() {
    let t = TestDir::new();
    let d = common::Daemon::start_with(
        t.root(),
        "d",
        &t.locks,
        &["--arc-max", "64M", "--arc-min", "4M"],
    );
    let v = vdev(&t.vdevs, "a", 128 * MIB);
    d.zpool(&["create", "tank", s(&v)]).ok();
    d.zfs(&["create", "tank/a"]).ok();
    d.zfs(&["list", "-r", "tank"]).ok();

    // The default columns, one header and one row.
    let out = d.zpool(&["arcstat"]);
    let lines: Vec<&str> = out.ok().lines().collect();
    assert_eq!(lines.len(), 2, "{out:?}");
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["time", "read", "hit%", "miss%", "mrug", "mfug", "arcsz", "c"]
    );
    assert_eq!(lines[0].len(), lines[1].len());
    // -Hp -o: exact figures, tab-separated.
    let row = d.zpool(&["arcstat", "-Hp", "-o", "cmax,cmin,read"]);
    let cells: Vec<u64> = row
        .ok()
        .trim()
        .split('\t')
        .map(|c| c.parse().unwrap())
        .collect();
    assert_eq!(cells[..2], [64 * MIB, 4 * MIB]);
    assert!(cells[2] > 0, "the DMU reads through the ARC: {row:?}");
    // -j: the counters as JSON.
    let j: Value = serde_json::from_str(d.zpool(&["arcstat", "-j"]).ok().trim()).unwrap();
    assert_eq!(j["c_max"], 64 * MIB);
    assert!(j["hits"].as_u64().unwrap() + j["misses"].as_u64().unwrap() > 0);
    // Intervals: a header once, then one row per sample.
    let out = d.zpool(&["arcstat", "-o", "read,c", "1", "2"]);
    assert_eq!(out.ok().lines().count(), 3, "{out:?}");
    d.zpool(&["arcstat", "-o", "bogus"])
        .fails(2, "unknown arcstat column");

    // Limits at run time, daemon-wide.
    assert_eq!(
        d.zpool(&["get", "arc_max,arc_min"]).ok(),
        "NAME  PROPERTY  VALUE  SOURCE\n-     arc_max   64.0M  local\n-     arc_min   4.00M  local\n"
    );
    d.zpool(&["set", "arc_max=32M"]).ok();
    assert_eq!(
        d.zpool(&["get", "-Hp", "-o", "value", "arc_max"]).ok(),
        format!("{}\n", 32 * MIB)
    );
    let row = d.zpool(&["arcstat", "-Hp", "-o", "cmax,c"]);
    assert_eq!(row.ok(), format!("{}\t{}\n", 32 * MIB, 32 * MIB));
    d.zpool(&["set", "arc_max=1M", "tank"])
        .fails(1, "cannot set property for 'tank'");
    d.zpool(&["set", "arc_min=1G"]).fails(
        1,
        "cannot set property 'arc_min': invalid ARC limits: arc_min 1073741824 bytes is above arc_max 33554432 bytes",
    );
    d.zpool(&["set", "arc_max=lots"])
        .fails(1, "cannot set property 'arc_max': 'arc_max' must be a size");
    assert_eq!(
        d.zpool(&["get", "-Hp", "-o", "value", "arc_max,arc_min"])
            .ok(),
        format!("{}\n{}\n", 32 * MIB, 4 * MIB)
    );
    let help = d.zpool(&["--help"]);
    assert!(help.ok().contains("zpool set arc_max=2G"), "{help:?}");
}
