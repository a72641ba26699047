//! Bad input: every case gets a clear message, a nonzero exit code, and
//! changes nothing on disk.

mod common;

use common::{digest, s, vdev, zpool_at, TestDir, MIB};

#[test]
fn bad_create_input_is_refused_and_writes_nothing() {
    let t = TestDir::new();
    let a = t.vdev("a");
    let b = t.vdev("b");
    let small = vdev(&t.vdevs, "small", 8 * MIB);
    let missing = t.vdevs.join("nope");
    let files = [&a, &b, &small];
    let before: Vec<u64> = files.iter().map(|f| digest(f)).collect();
    let d = t.daemon("d");

    let cases: Vec<(Vec<&str>, i32, String)> = vec![
        (
            vec!["create", "tank", s(&missing)],
            1,
            format!(
                "cannot create 'tank': cannot open '{}': no such file",
                s(&missing)
            ),
        ),
        (
            vec!["create", "tank", s(&small)],
            1,
            format!("cannot create 'tank': vdev {} is too small", s(&small)),
        ),
        (
            vec!["create", "tank", s(&a), s(&a)],
            1,
            format!(
                "cannot create 'tank': vdev {} is named more than once",
                s(&a)
            ),
        ),
        (
            vec!["create", "tank", "vdevs/a"],
            1,
            "cannot open 'vdevs/a': must be a full path or shorthand device name\n".into(),
        ),
        (
            vec!["create", "1tank", s(&a)],
            1,
            "cannot create '1tank': name must begin with a letter\n".into(),
        ),
        (
            vec!["create", "mirror", s(&a), s(&b)],
            1,
            "cannot create 'mirror': name is reserved\n".into(),
        ),
        (
            vec!["create", "tank", "mirror", s(&a)],
            1,
            "cannot create 'tank': invalid vdev specification: mirror requires at least 2 devices"
                .into(),
        ),
        (
            vec!["create", "tank", s(&a), "mirror", s(&b), s(&small)],
            1,
            "mismatched replication level".into(),
        ),
        (
            vec!["create", "-o", "failmode=sometimes", "tank", s(&a)],
            1,
            "cannot create 'tank': invalid value 'sometimes' for pool property 'failmode'".into(),
        ),
        (
            vec!["create", "-o", "bogus=1", "tank", s(&a)],
            1,
            "cannot create 'tank': unknown pool property 'bogus'".into(),
        ),
        (
            vec!["create", "-o", "ashift=12", "-o", "ashift=9", "tank", s(&a)],
            1,
            "cannot create 'tank': property 'ashift' specified multiple times".into(),
        ),
        (
            vec!["create", "-o", "comment", "tank", s(&a)],
            2,
            "missing '=' for property=value argument".into(),
        ),
        (vec!["create", "tank"], 2, "required".into()),
    ];
    for (args, code, msg) in &cases {
        d.zpool(args).fails(*code, msg);
    }
    assert!(!missing.exists(), "a missing vdev was created");
    let after: Vec<u64> = files.iter().map(|f| digest(f)).collect();
    assert_eq!(before, after, "a refused create wrote to a vdev");
    assert_eq!(d.zpool(&["list"]).ok(), "no pools available\n");

    // A name that is taken; a vdev an imported pool holds.
    d.zpool(&["create", "tank", s(&a)]).ok();
    let b_before = digest(&b);
    d.zpool(&["create", "tank", s(&b)])
        .fails(1, "cannot create 'tank': pool already exists\n");
    d.zpool(&["create", "other", s(&a)]).fails(
        1,
        &format!(
            "cannot create 'other': vdev {} is part of active pool 'tank'\n",
            s(&a)
        ),
    );
    assert_eq!(digest(&b), b_before);

    // A vdev of an exported pool needs -f.
    d.zpool(&["export", "tank"]).ok();
    let a_exported = digest(&a);
    d.zpool(&["create", "other", s(&a)]).fails(
        1,
        &format!(
            "cannot create 'other': vdev {} is part of exported pool 'tank'",
            s(&a)
        ),
    );
    assert_eq!(digest(&a), a_exported);
    d.zpool(&["create", "-f", "other", s(&a)]).ok();
    d.zpool(&["destroy", "other"]).ok();
}

#[test]
fn missing_pools_and_bad_properties() {
    let t = TestDir::new();
    let a = t.vdev("a");
    let d = t.daemon("d");
    d.zpool(&["create", "tank", s(&a)]).ok();
    let nope = "cannot open 'nope': no such pool\n";
    for args in [
        vec!["destroy", "nope"],
        vec!["export", "nope"],
        vec!["get", "all", "nope"],
        vec!["set", "comment=x", "nope"],
        vec!["status", "nope"],
        vec!["history", "nope"],
        vec!["list", "nope"],
    ] {
        let out = d.zpool(&args);
        out.fails(1, nope);
        assert_eq!(out.stderr, nope, "{args:?}");
    }
    // Listing a good and a missing pool shows the good one and fails.
    let out = d.zpool(&["list", "-H", "-o", "name", "tank", "nope"]);
    out.fails(1, nope);
    assert_eq!(out.stdout, "tank\n");

    d.zpool(&["import", "-d", s(&t.vdevs), "nope"])
        .fails(1, "cannot import 'nope': no such pool available\n");
    d.zpool(&["import", "-d", "/no/such/dir", "tank"])
        .fails(1, "cannot open '/no/such/dir': no such directory");
    d.zpool(&["set", "size=1", "tank"]).fails(
        1,
        "cannot set property for 'tank': pool property 'size' is read-only",
    );
    d.zpool(&["set", "failmode=sometimes", "tank"]).fails(
        1,
        "cannot set property for 'tank': invalid value 'sometimes'",
    );
    d.zpool(&["set", "comment", "tank"])
        .fails(2, "missing '=' for property=value argument");
    d.zpool(&["get", "bogus", "tank"])
        .fails(2, "bad property list: invalid property 'bogus'");
    d.zpool(&["list", "-o", "name,bogus"])
        .fails(2, "invalid property 'bogus'");
    d.zpool(&["get", "-o", "name,bogus", "all", "tank"])
        .fails(2, "invalid column name 'bogus'");
    d.zpool(&["frobnicate"]).fails(2, "frobnicate");
    // The pool is untouched by all of it.
    assert_eq!(
        d.zpool(&["get", "-H", "-o", "value", "health,comment", "tank"])
            .ok(),
        "ONLINE\n-\n"
    );
}

#[test]
fn without_a_daemon() {
    let t = TestDir::new();
    let sock = t.root().join("none.sock");
    let out = zpool_at(&sock, &["list"]);
    out.fails(
        1,
        &format!(
            "cannot connect to basind at {}: is the daemon running?\n",
            sock.display()
        ),
    );
    // Usage errors are found before the daemon is asked.
    zpool_at(&sock, &["list", "-o", "bogus"]).fails(2, "invalid property 'bogus'");
    zpool_at(&sock, &[]).fails(2, "Usage");
    assert_eq!(zpool_at(&sock, &["--help"]).code, 0);
}
