//! `zfs list` of 10,000 snapshots: one request, every row computed under
//! one lock of the pool's dataset tree. The snapshots are made in process
//! (100 recursive snapshots of 100 filesystems), the pool handed to a
//! daemon; the test checks the listing and prints how long it took (no
//! time is asserted: figures come from runs, not from tests).

mod common;

use std::time::Instant;

use common::offline::Offline;
use common::{s, vdev, TestDir, MIB};

const FILESYSTEMS: usize = 100;
const ROUNDS: usize = 100;

#[test]
fn listing_ten_thousand_snapshots() {
    let t = TestDir::new();
    let v = vdev(&t.vdevs, "big", 512 * MIB);
    let p = Offline::create(&v, "tank");
    let made = Instant::now();
    p.dsl.create("tank/p", None, &[], false).unwrap();
    for i in 1..FILESYSTEMS {
        p.dsl
            .create(&format!("tank/p/fs{i:03}"), None, &[], false)
            .unwrap();
    }
    for r in 0..ROUNDS {
        p.dsl
            .snapshot(&[format!("tank/p@snap{r:03}")], true)
            .unwrap();
    }
    eprintln!(
        "made {} snapshots in {:.1} s",
        FILESYSTEMS * ROUNDS,
        made.elapsed().as_secs_f64()
    );
    p.export();

    let d = t.daemon("d");
    d.zpool(&["import", "-d", s(&t.vdevs), "tank"]).ok();

    let timed = |args: &[&str]| {
        let start = Instant::now();
        let out = d.zfs(args);
        let secs = start.elapsed().as_secs_f64();
        (out, secs)
    };
    let (names, secs_names) = timed(&["list", "-H", "-o", "name", "-t", "snapshot"]);
    let (table, secs_table) = timed(&["list", "-t", "snapshot"]);
    let (sorted, secs_sorted) = timed(&[
        "list",
        "-H",
        "-o",
        "name,used",
        "-t",
        "snapshot",
        "-S",
        "createtxg",
    ]);
    eprintln!(
        "zfs list -H -o name -t snapshot: {secs_names:.3} s; zfs list -t snapshot: {secs_table:.3} s; \
         zfs list -H -o name,used -t snapshot -S createtxg: {secs_sorted:.3} s ({} snapshots, end to end)",
        FILESYSTEMS * ROUNDS
    );

    let lines: Vec<&str> = names.ok().lines().collect();
    assert_eq!(lines.len(), FILESYSTEMS * ROUNDS);
    // OpenZFS's order: by filesystem, each one's snapshots oldest first.
    assert_eq!(lines[0], "tank/p@snap000");
    assert_eq!(lines[ROUNDS - 1], "tank/p@snap099");
    assert_eq!(lines[ROUNDS], "tank/p/fs001@snap000");
    assert_eq!(lines.last(), Some(&"tank/p/fs099@snap099"));
    let rows: Vec<&str> = table.ok().lines().collect();
    assert_eq!(rows.len(), FILESYSTEMS * ROUNDS + 1);
    assert_eq!(
        rows[0],
        "NAME                   USED  AVAIL  REFER  MOUNTPOINT"
    );
    assert_eq!(rows[1], "tank/p@snap000           0B      -     0B  -");
    let newest: Vec<&str> = sorted.ok().lines().take(FILESYSTEMS).collect();
    assert!(
        newest.iter().all(|l| l.contains("@snap099\t")),
        "{newest:?}"
    );
}
