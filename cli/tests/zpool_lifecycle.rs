//! End to end: a daemon, file vdevs, and `zpool` through a pool's whole
//! life, checking what an operator sees.

mod common;

use common::{s, TestDir};

/// `zpool status` of a one-mirror pool, as OpenZFS lays it out.
fn expected_mirror_status(pool: &str, a: &str, b: &str) -> String {
    let width = [
        pool.len(),
        2 + "mirror-0".len(),
        4 + a.len(),
        4 + b.len(),
        10,
    ]
    .into_iter()
    .max()
    .unwrap();
    let line = |depth: usize, name: &str| {
        format!(
            "\t{:depth$}{:<w$}  ONLINE       0     0     0\n",
            "",
            name,
            w = width - depth
        )
    };
    format!(
        "  pool: {pool}\n state: ONLINE\n  scan: none requested\nconfig:\n\n\t{:<width$}  STATE     READ WRITE CKSUM\n{}{}{}{}\nerrors: No known data errors\n",
        "NAME",
        line(0, pool),
        line(2, "mirror-0"),
        line(4, a),
        line(4, b),
    )
}

#[test]
fn create_list_status_get_set_history_export_import_destroy() {
    let t = TestDir::new();
    let a = t.vdev("a");
    let b = t.vdev("b");
    let d = t.daemon("d");

    d.zpool(&[
        "create",
        "-o",
        "comment=first",
        "tank",
        "mirror",
        s(&a),
        s(&b),
    ])
    .ok();

    // list: OpenZFS 2.3's default columns.
    let list = d.zpool(&["list"]);
    let lines: Vec<&str> = list.ok().lines().collect();
    assert_eq!(
        lines[0],
        "NAME   SIZE  ALLOC   FREE  CKPOINT  EXPANDSZ   FRAG    CAP  DEDUP    HEALTH  ALTROOT"
    );
    assert_eq!(lines.len(), 2, "{list:?}");
    let cells: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(cells[0], "tank");
    assert_eq!(&cells[4..], &["-", "-", "0%", "0%", "1.00x", "ONLINE", "-"]);
    // Numbers and health end under the end of their headers.
    let end = |line: &str, word: &str| line.find(word).unwrap() + word.len();
    assert_eq!(end(lines[0], "HEALTH"), end(lines[1], "ONLINE"), "{list:?}");
    assert_eq!(end(lines[0], "DEDUP"), end(lines[1], "1.00x"), "{list:?}");
    assert_eq!(end(lines[0], "SIZE"), end(lines[1], cells[1]), "{list:?}");

    // status: the exact layout.
    assert_eq!(
        d.zpool(&["status", "tank"]).ok(),
        expected_mirror_status("tank", s(&a), s(&b))
    );

    // get: the values an operator asks for.
    let get = |p: &str| {
        d.zpool(&["get", "-Hp", "-o", "value", p, "tank"])
            .ok()
            .trim()
            .to_string()
    };
    let size: u64 = get("size").parse().unwrap();
    let alloc: u64 = get("allocated").parse().unwrap();
    let free: u64 = get("free").parse().unwrap();
    assert!(size > 40 << 20 && size < 64 << 20, "{size}");
    assert!(alloc > 0);
    assert_eq!(alloc + free, size);
    assert_eq!(get("capacity"), "0");
    assert_eq!(get("health"), "ONLINE");
    assert_eq!(get("ashift"), "12");
    let guid: u64 = get("guid").parse().unwrap();
    assert_eq!(
        d.zpool(&["get", "comment,autoexpand", "tank"]).ok(),
        "NAME  PROPERTY    VALUE    SOURCE\ntank  comment     first    local\ntank  autoexpand  off      default\n"
    );

    // set.
    d.zpool(&["set", "autoexpand=on", "tank"]).ok();
    assert_eq!(
        d.zpool(&["get", "-H", "autoexpand", "tank"]).ok(),
        "tank\tautoexpand\ton\tlocal\n"
    );

    // export: gone from list and status.
    d.zpool(&["export", "tank"]).ok();
    assert_eq!(d.zpool(&["list"]).ok(), "no pools available\n");
    let st = d.zpool(&["status"]);
    assert_eq!(st.ok(), "");
    assert_eq!(st.stderr, "no pools available\n");

    // import without a name lists it as OpenZFS does.
    let vdevs = s(&t.vdevs);
    let listing = d.zpool(&["import", "-d", vdevs]);
    let width = 4 + s(&a).len();
    let expected = format!(
        "  pool: tank\n    id: {guid}\n state: ONLINE\naction: The pool can be imported using its name or numeric identifier.\nconfig:\n\n\t{:<width$}  ONLINE\n\t  {:<w2$}  ONLINE\n\t    {}  ONLINE\n\t    {}  ONLINE\n",
        "tank",
        "mirror-0",
        s(&a),
        s(&b),
        w2 = width - 2
    );
    assert_eq!(listing.ok(), expected);

    // Import by id under a new name: everything came back.
    d.zpool(&["import", "-d", vdevs, &guid.to_string(), "newtank"])
        .ok();
    assert_eq!(
        d.zpool(&["list", "-H", "-o", "name,health"]).ok(),
        "newtank\tONLINE\n"
    );
    assert_eq!(
        d.zpool(&[
            "get",
            "-H",
            "-o",
            "value",
            "comment,autoexpand,guid",
            "newtank"
        ])
        .ok(),
        format!("first\non\n{guid}\n")
    );
    let hist = d.zpool(&["history", "newtank"]);
    let text = hist.ok();
    assert!(text.starts_with("History for 'newtank':\n"), "{text}");
    let commands: Vec<&str> = text
        .lines()
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (stamp, cmd) = l.split_once(' ').unwrap();
            assert_eq!(stamp.len(), 19, "{l}");
            assert_eq!(&stamp[10..11], ".", "{l}");
            cmd
        })
        .collect();
    assert_eq!(
        commands,
        vec![
            format!(
                "zpool create -o comment=first tank mirror {} {}",
                s(&a),
                s(&b)
            ),
            "zpool set autoexpand=on tank".to_string(),
            "zpool export tank".to_string(),
            format!("zpool import -d {vdevs} {guid} newtank"),
        ]
    );
    assert!(text.ends_with("\n\n"), "{text:?}");
    let long = d.zpool(&["history", "-l", "newtank"]);
    assert!(long.ok().contains("newtank [on "), "{long:?}");

    // destroy: gone, and only `import -D` finds it.
    d.zpool(&["destroy", "newtank"]).ok();
    assert_eq!(d.zpool(&["list"]).ok(), "no pools available\n");
    let none = d.zpool(&["import", "-d", vdevs]);
    assert_eq!(
        (none.ok(), none.stderr.as_str()),
        ("", "no pools available to import\n")
    );
    let destroyed = d.zpool(&["import", "-D", "-d", vdevs]);
    assert!(
        destroyed.ok().contains(" state: ONLINE (DESTROYED)\n"),
        "{destroyed:?}"
    );
    d.zpool(&["import", "-D", "-d", vdevs, "newtank"]).ok();
    assert_eq!(d.zpool(&["list", "-H", "-o", "name"]).ok(), "newtank\n");
    d.zpool(&["export", "newtank"]).ok();
}

#[test]
fn a_corrupted_label_falls_back_to_the_others() {
    let t = TestDir::new();
    let a = t.vdev("a");
    let d = t.daemon("d");
    d.zpool(&["create", "tank", s(&a)]).ok();
    d.zpool(&["set", "comment=survives", "tank"]).ok();
    d.zpool(&["export", "tank"]).ok();
    // Wreck the first label whole (configuration and uberblock ring).
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::OpenOptions::new().write(true).open(&a).unwrap();
        f.write_all_at(&vec![0xa5u8; 256 * 1024], 0).unwrap();
        f.sync_all().unwrap();
    }
    let listing = d.zpool(&["import", "-d", s(&t.vdevs)]);
    assert!(listing.ok().contains("  pool: tank\n"), "{listing:?}");
    d.zpool(&["import", "-d", s(&t.vdevs), "tank"]).ok();
    assert_eq!(
        d.zpool(&["get", "-H", "-o", "value", "health,comment", "tank"])
            .ok(),
        "ONLINE\nsurvives\n"
    );
    d.zpool(&["export", "tank"]).ok();
}

#[test]
fn a_mirror_missing_a_device_imports_degraded() {
    let t = TestDir::new();
    let a = t.vdev("a");
    let b = t.vdev("b");
    let d = t.daemon("d");
    d.zpool(&["create", "tank", "mirror", s(&a), s(&b)]).ok();
    d.zpool(&["export", "tank"]).ok();
    std::fs::rename(&b, t.root().join("b.away")).unwrap();

    let listing = d.zpool(&["import", "-d", s(&t.vdevs)]);
    let text = listing.ok();
    assert!(text.contains(" state: DEGRADED\n"), "{listing:?}");
    assert!(
        text.contains(&format!("\t    {}  UNAVAIL  cannot open\n", s(&b))),
        "{listing:?}"
    );
    d.zpool(&["import", "-d", s(&t.vdevs), "tank"]).ok();

    let status = d.zpool(&["status", "-x"]);
    let text = status.ok();
    assert!(
        text.starts_with("  pool: tank\n state: DEGRADED\nstatus: "),
        "{status:?}"
    );
    assert!(
        text.contains(&format!(
            "\t    {}  UNAVAIL      0     0     0  cannot open\n",
            s(&b)
        )),
        "{status:?}"
    );
    assert_eq!(d.zpool(&["list", "-H", "-o", "health"]).ok(), "DEGRADED\n");
    d.zpool(&["export", "tank"]).ok();
}
