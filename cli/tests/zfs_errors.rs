//! Every bad `zfs` command: OpenZFS's message, the right exit code (1 for
//! a refused command, 2 for a bad command line), and nothing changed.

mod common;

use common::{Daemon, TestDir, MIB};

/// Everything an operator could see of the pool's datasets, except the
/// pool's free space, and the length of its history.
fn state(d: &Daemon) -> (Vec<String>, usize) {
    let props = d
        .zfs(&[
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
        .filter(|l| !l.contains("\tavailable\t"))
        .map(String::from)
        .collect();
    let hist = d.zpool(&["history", "tank"]).ok().lines().count();
    (props, hist)
}

fn setup() -> (TestDir, Daemon) {
    let t = TestDir::new();
    let d = t.daemon_with_pool("d", 128 * MIB);
    for cmd in [
        &["create", "-p", "tank/a/b"][..],
        &["create", "tank/q"],
        &["create", "-V", "16M", "tank/q/vol"],
        &["snapshot", "tank/a@s1"],
        &["snapshot", "tank/a@s2"],
        &["hold", "keep", "tank/a@s1"],
        &["clone", "tank/a@s2", "tank/c"],
    ] {
        d.zfs(cmd).ok();
    }
    (t, d)
}

#[test]
fn refused_commands_change_nothing() {
    let (_t, d) = setup();
    let before = state(&d);
    let long = format!("tank/{}", "x".repeat(251));
    let cases: Vec<(Vec<&str>, &str)> = vec![
        // Properties that do not exist, values that do not fit.
        (
            vec!["set", "foo=bar", "tank/a"],
            "cannot set property for 'tank/a': invalid property 'foo'\n",
        ),
        (
            vec!["set", "compression=gzip", "tank/a"],
            "cannot set property for 'tank/a': 'compression' must be one of 'on | off | lz4'\n",
        ),
        (
            vec!["set", "atime=off", "recordsize=100K", "tank/a"],
            "cannot set property for 'tank/a': 'recordsize' must be power of 2 from 512B to 1M\n",
        ),
        (
            vec!["set", "quota=lots", "tank/a"],
            "cannot set property for 'tank/a': bad numeric value 'lots'\n",
        ),
        (
            vec!["set", "used=1", "tank/a"],
            "cannot set property for 'tank/a': 'used' is readonly\n",
        ),
        (
            vec!["set", "volsize=1G", "tank/a"],
            "cannot set property for 'tank/a': 'volsize' does not apply to datasets of this type\n",
        ),
        (
            vec!["set", "mountpoint=rel", "tank/a"],
            "cannot set property for 'tank/a': 'mountpoint' must be an absolute path, 'none', or 'legacy'\n",
        ),
        (
            vec!["set", "compression=off", "tank/a@s1"],
            "cannot set property for 'tank/a@s1': 'compression' does not apply to datasets of this type\n",
        ),
        (
            vec!["create", "-o", "foo=bar", "tank/new"],
            "cannot create 'tank/new': invalid property 'foo'\n",
        ),
        (
            vec!["create", "-o", "copies=4", "tank/new"],
            "cannot create 'tank/new': 'copies' must be one of '1 | 2 | 3'\n",
        ),
        // A quota below what is used.
        (
            vec!["set", "quota=1M", "tank/q"],
            "cannot set property for 'tank/q': size is less than current used or reserved space\n",
        ),
        // Names.
        (
            vec!["create", &long],
            "': name is too long\n",
        ),
        (
            vec!["create", "tank/a*b"],
            "cannot create 'tank/a*b': invalid character '*' in name\n",
        ),
        (
            vec!["create", "tank/a@s9"],
            "cannot create 'tank/a@s9': snapshot delimiter '@' is not expected here\n",
        ),
        (
            vec!["create", "tank//a"],
            "cannot create 'tank//a': empty component or misplaced '@' or '#' delimiter in name\n",
        ),
        (
            vec!["snapshot", "tank/a@s1@x"],
            "cannot create snapshot 'tank/a@s1@x': multiple '@' and/or '#' delimiters in name\n",
        ),
        (
            vec!["snapshot", "tank/a"],
            "cannot create snapshot 'tank/a': missing '@' delimiter in snapshot name\n",
        ),
        // Datasets that do not exist, or already do.
        (
            vec!["list", "tank/nope"],
            "cannot open 'tank/nope': dataset does not exist\n",
        ),
        (
            vec!["get", "all", "tank/nope"],
            "cannot open 'tank/nope': dataset does not exist\n",
        ),
        (
            vec!["destroy", "tank/nope"],
            "cannot open 'tank/nope': dataset does not exist\n",
        ),
        (
            vec!["destroy", "tank/a@nope"],
            "could not find any snapshots to destroy; check snapshot names.\n",
        ),
        (
            vec!["snapshot", "tank/nope@s"],
            "cannot create snapshot 'tank/nope@s': dataset does not exist\n",
        ),
        (
            vec!["snapshot", "tank/a@s1"],
            "cannot create snapshot 'tank/a@s1': dataset already exists\n",
        ),
        (
            vec!["snapshot", "tank/a@x", "tank/a@y"],
            "cannot create snapshots : multiple snapshots of same fs not allowed\n",
        ),
        (
            vec!["snapshot", "-o", "compression=off", "tank/a@x"],
            "cannot create snapshots : 'compression' does not apply to datasets of this type\n",
        ),
        (
            vec!["rename", "tank/nope", "tank/x"],
            "cannot open 'tank/nope': dataset does not exist\n",
        ),
        (
            vec!["create", "tank/a"],
            "cannot create 'tank/a': dataset already exists\n",
        ),
        (
            vec!["create", "tank/x/y"],
            "cannot create 'tank/x/y': parent does not exist\n",
        ),
        (
            vec!["create", "nope/a"],
            "cannot create 'nope/a': no such pool 'nope'\n",
        ),
        (
            vec!["rename", "tank/a", "tank/c"],
            "cannot rename to 'tank/c': dataset already exists\n",
        ),
        (
            vec!["rename", "tank/a@s1", "tank/b@s1"],
            "cannot rename to 'tank/b@s1': snapshots must be part of same dataset\n",
        ),
        (
            vec!["rename", "tank/a", "other/a"],
            "cannot rename to 'other/a': datasets must be within same pool\n",
        ),
        (
            vec!["clone", "tank/a", "tank/d"],
            "cannot open 'tank/a': operation not applicable to datasets of this type\n",
        ),
        (
            vec!["clone", "tank/a@s9", "tank/d"],
            "cannot open 'tank/a@s9': dataset does not exist\n",
        ),
        // Destroys that would take more than asked.
        (
            vec!["destroy", "tank/a"],
            "cannot destroy 'tank/a': filesystem has children\nuse '-r' to destroy the following datasets:\ntank/a/b\ntank/a@s1\ntank/a@s2\n",
        ),
        (
            vec!["destroy", "tank"],
            "cannot destroy 'tank': operation does not apply to pools\nuse 'zfs destroy -r tank' to destroy all datasets in the pool\nuse 'zpool destroy tank' to destroy the pool itself\n",
        ),
        (
            vec!["destroy", "tank/a@s1"],
            "cannot destroy snapshot tank/a@s1: dataset is busy\n",
        ),
        (
            vec!["destroy", "tank/a@s2"],
            "cannot destroy 'tank/a@s2': snapshot has dependent clones\nuse '-R' to destroy the following datasets:\ntank/c\n",
        ),
        (
            vec!["destroy", "-r", "tank/a"],
            "cannot destroy 'tank/a@s2': snapshot has dependent clones\nuse '-R' to destroy the following datasets:\ntank/c\n",
        ),
        // Rollbacks over later snapshots.
        (
            vec!["rollback", "tank/a@s1"],
            "cannot rollback to 'tank/a@s1': more recent snapshots or bookmarks exist\nuse '-r' to force deletion of the following snapshots and bookmarks:\ntank/a@s2\n",
        ),
        (
            vec!["rollback", "-r", "tank/a@s1"],
            "cannot rollback to 'tank/a@s1': clones of previous snapshots exist\nuse '-R' to force deletion of the following clones and dependents:\ntank/c\n",
        ),
        (
            vec!["rollback", "tank/a"],
            "cannot open 'tank/a': operation not applicable to datasets of this type\n",
        ),
        // Holds.
        (
            vec!["hold", "keep", "tank/a@s1"],
            "cannot hold snapshot 'tank/a@s1': tag already exists on this dataset\n",
        ),
        (vec!["hold", "keep", "tank/a"], "'tank/a' is not a snapshot\n"),
        (
            vec!["release", "nope", "tank/a@s1"],
            "cannot release hold from snapshot 'tank/a@s1': no such tag on this dataset\n",
        ),
        (
            vec!["promote", "tank/a"],
            "cannot promote 'tank/a': not a cloned filesystem\n",
        ),
        (
            vec!["inherit", "used", "tank/a"],
            "used property is read-only\n",
        ),
        (
            vec!["inherit", "quota", "tank/a"],
            "'quota' property cannot be inherited\nuse 'zfs set quota=none' to clear\nuse 'zfs inherit -S quota' to revert to received value\n",
        ),
        (
            vec!["diff", "tank/a", "tank/a@s1"],
            "Badly formed snapshot name tank/a: missing '@' delimiter in snapshot name\n",
        ),
        (
            vec!["diff", "tank/a@s2", "tank/a@s1"],
            "Not an earlier snapshot from the same fs\n",
        ),
    ];
    for (args, msg) in &cases {
        let out = d.zfs(args);
        out.fails(1, msg);
        assert!(
            out.stderr.ends_with(msg),
            "{args:?}: expected {msg:?}, got {:?}",
            out.stderr
        );
        assert!(out.stdout.is_empty(), "{args:?}: {out:?}");
    }
    assert_eq!(state(&d), before, "a refused command changed something");
}

#[test]
fn bad_command_lines_exit_2_and_change_nothing() {
    let (_t, d) = setup();
    let before = state(&d);
    for (args, msg) in [
        (
            &["get", "foo", "tank"][..],
            "bad property list: invalid property 'foo'",
        ),
        (
            &["get", "used,foo", "tank"],
            "bad property list: invalid property 'foo'",
        ),
        (
            &["list", "-o", "name,foo"],
            "bad property list: invalid property 'foo'",
        ),
        (&["list", "-s", "foo"], "invalid property 'foo'"),
        (&["list", "-t", "bogus"], "invalid type 'bogus'"),
        (&["list", "-d", "x"], "invalid depth 'x'"),
        (
            &["get", "-o", "name,bogus", "all"],
            "invalid column name 'bogus'",
        ),
        (&["get", "-s", "bogus", "all"], "invalid source 'bogus'"),
        (&["inherit", "foo", "tank/a"], "invalid property 'foo'"),
        (
            &["set", "atime", "tank/a"],
            "missing property=value argument(s)",
        ),
        (
            &["set", "atime=off", "atime=on", "tank/a"],
            "property 'atime' specified multiple times",
        ),
        (
            &["create", "-V", "lots", "tank/v"],
            "bad volume size 'lots'",
        ),
        (&["frobnicate"], "unrecognized subcommand"),
        (&["create"], "required"),
    ] {
        let out = d.zfs(args);
        out.fails(2, msg);
    }
    assert_eq!(state(&d), before);
}
