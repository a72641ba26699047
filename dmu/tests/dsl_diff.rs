//! `zfs diff` in the dataset layer: objects created, removed and modified
//! between snapshots, a snapshot and the head, and along a clone.

mod common;

use basin_dmu::dsl::diff::{ChangeKind, ObjectNumbers};
use common::{new_pool, pattern, TestPool};

fn changes(t: &TestPool, from: &str, to: &str) -> Vec<(u64, char)> {
    t.dsl
        .diff(from, to)
        .unwrap()
        .changes
        .iter()
        .map(|c| (c.object, c.kind.mark()))
        .collect()
}

fn free(t: &TestPool, ds: &str, obj: u64) {
    let os = t.dsl.objset(ds).unwrap();
    let id = t.dsl.dataset_id(ds).unwrap();
    let tx = t.dsl.assign(id, 0, true).unwrap();
    os.free_object(tx.txg(), obj).unwrap();
}

#[test]
fn created_removed_and_modified_objects() {
    let t = new_pool("tank", 256 << 20);
    t.dsl.create("tank/fs", None, &[], false).unwrap();
    for obj in [1, 2, 3, 40] {
        t.write("tank/fs", obj, 0, &pattern(4096, obj));
    }
    t.dsl.snapshot(&["tank/fs@a".into()], false).unwrap();
    // Nothing changed yet.
    assert!(changes(&t, "tank/fs@a", "tank/fs").is_empty());

    t.write("tank/fs", 2, 8192, &pattern(100, 9)); // modified
    free(&t, "tank/fs", 3); // removed
    t.write("tank/fs", 5, 0, &pattern(10, 5)); // created
    t.write("tank/fs", 70, 0, &pattern(10, 7)); // created in a new dnode block
    assert_eq!(
        changes(&t, "tank/fs@a", "tank/fs"),
        vec![(2, 'M'), (3, '-'), (5, '+'), (70, '+')]
    );
    t.dsl.snapshot(&["tank/fs@b".into()], false).unwrap();
    assert_eq!(
        changes(&t, "tank/fs@a", "tank/fs@b"),
        vec![(2, 'M'), (3, '-'), (5, '+'), (70, '+')]
    );

    // A slot reused by a new object is a removal and a creation.
    free(&t, "tank/fs", 5);
    t.pool.sync().unwrap();
    t.write("tank/fs", 5, 0, &pattern(10, 55));
    assert_eq!(
        changes(&t, "tank/fs@b", "tank/fs"),
        vec![(5, '-'), (5, '+')]
    );

    // Names: object numbers until a resolver knows better.
    let d = t.dsl.diff("tank/fs@a", "tank/fs@b").unwrap();
    let named = d.named(&ObjectNumbers).unwrap();
    assert_eq!(named[0], (ChangeKind::Modified, "<object 2>".to_string()));

    // Everything in a dnode block freed.
    free(&t, "tank/fs", 40);
    free(&t, "tank/fs", 70);
    let got = changes(&t, "tank/fs@b", "tank/fs");
    assert!(
        got.contains(&(40, '-')) && got.contains(&(70, '-')),
        "{got:?}"
    );
}

#[test]
fn clones_and_wrong_orders() {
    let t = new_pool("tank", 256 << 20);
    t.dsl.create("tank/fs", None, &[], false).unwrap();
    t.write("tank/fs", 1, 0, &pattern(4096, 1));
    t.dsl.snapshot(&["tank/fs@a".into()], false).unwrap();
    t.write("tank/fs", 2, 0, &pattern(4096, 2));
    t.dsl.snapshot(&["tank/fs@b".into()], false).unwrap();
    t.dsl
        .clone_snapshot("tank/fs@b", "tank/clone", &[])
        .unwrap();
    t.write("tank/clone", 3, 0, &pattern(4096, 3));
    // From an ancestor snapshot of the clone's origin.
    assert_eq!(
        changes(&t, "tank/fs@a", "tank/clone"),
        vec![(2, '+'), (3, '+')]
    );
    // Later to earlier, a filesystem as the first argument, strangers.
    for (from, to) in [
        ("tank/fs@b", "tank/fs@a"),
        ("tank/fs", "tank/fs@a"),
        ("tank/clone@x", "tank/fs"),
    ] {
        assert!(t.dsl.diff(from, to).is_err(), "{from} {to}");
    }
    t.dsl.create("tank/other", None, &[], false).unwrap();
    let e = t.dsl.diff("tank/fs@a", "tank/other").err().unwrap();
    assert!(e.to_string().contains("not an earlier snapshot"), "{e}");
}
