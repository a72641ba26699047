//! `basin-zdb` against pools built in process on files: a clean pool checks
//! clean and dumps; each kind of damage is found, named, and makes the exit
//! status non-zero; a pool that a live process imported is refused; and
//! the vdev files never change.

mod common;

use std::collections::HashSet;

use basin_fsck::walk::{Place, Visitor, Walker};
use basin_fsck::{check, CheckOptions, ProblemKind};
use basin_pool::{AlignedBuf, BlkPtr, BlockType, WriteProps};
use common::*;

/// Collects every distinct block the checker's walk meets.
#[derive(Default)]
struct Collect {
    blocks: HashSet<(u32, u64, u64)>,
    problems: Vec<String>,
}

impl Visitor for Collect {
    fn block(&mut self, bp: &BlkPtr, _: &Place<'_>, _first: bool) {
        self.blocks
            .insert((bp.dva[0].vdev, bp.dva[0].offset, bp.birth));
    }
    fn problem(&mut self, at: &Place<'_>, what: String) {
        self.problems.push(format!("{at}: {what}"));
    }
}

#[test]
fn a_clean_pool_checks_clean_and_dumps() {
    let b = build(false);
    // In process: the checker's own walk meets exactly the blocks the
    // dataset layer and the pool know of, and the check is clean.
    let mut c = Collect::default();
    let mut w = Walker::new(&b.pool);
    w.pool_metadata(&mut c);
    w.objset("mos", &b.pool.user_root(), &mut c);
    let heads: Vec<BlkPtr> = b
        .dsl
        .with_state(|st| st.datasets.values().map(|d| d.phys.bp).collect());
    for bp in &heads {
        w.objset("ds", bp, &mut c);
    }
    assert!(c.problems.is_empty(), "{:?}", c.problems);
    let mut expected: HashSet<(u32, u64, u64)> = b
        .dsl
        .all_blocks()
        .unwrap()
        .iter()
        .map(|bp| (bp.dva[0].vdev, bp.dva[0].offset, bp.birth))
        .collect();
    for bp in b.pool.metadata_blocks().unwrap() {
        expected.insert((bp.dva[0].vdev, bp.dva[0].offset, bp.birth));
    }
    assert_eq!(c.blocks, expected);
    let r = check(&b.pool, Some(&b.dsl), &CheckOptions::default());
    assert!(r.is_clean(), "{:?}", r.problems);
    assert_eq!(r.total.count as usize, expected.len());
    assert!(r.zaps >= 10 && r.objects >= 20, "{r:?}");
    assert!(r.copies_read >= r.total.count, "every copy is read");

    let (_dir, paths) = b.export();
    let before = bytes_of(&paths);
    let p = strs(&paths);
    let (code, out, err) = zdb(&[&p[0]]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("pool 'tank' is clean"), "{out}");
    assert!(out.contains("No leaks"), "{out}");
    assert!(
        out.contains("ZFS plain file") && out.contains("Total"),
        "{out}"
    );

    // The same pool found by name in a folder.
    let dir = paths[0].parent().unwrap().display().to_string();
    let (code, out, _) = zdb(&["-e", "-p", &dir, "-b", "tank"]);
    assert_eq!(code, 0, "{out}");
    let (code, _, err) = zdb(&["-p", &dir, "nosuchpool"]);
    assert_eq!(code, 2);
    assert!(err.contains("no pool named 'nosuchpool'"), "{err}");

    let (code, out, _) = zdb(&["-l", &p[0]]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("LABEL 0 1 2 3: valid"), "{out}");
    assert!(
        out.contains("name: 'tank'") && out.contains("state: exported"),
        "{out}"
    );

    let (code, out, _) = zdb(&["-u", &p[0]]);
    assert_eq!(code, 0, "{out}");
    let marked: Vec<&str> = out.lines().filter(|l| l.starts_with('*')).collect();
    assert_eq!(marked.len(), 1, "{out}");
    assert!(out.contains("import chooses txg"), "{out}");

    let (code, out, _) = zdb(&["-d", &p[0]]);
    assert_eq!(code, 0, "{out}");
    for name in [
        "mos [META]",
        "tank/a [filesystem]",
        "tank/a@s1 [snapshot]",
        "tank/c",
    ] {
        assert!(out.contains(&format!("Dataset {name}")), "{name}: {out}");
    }
    let (code, out, _) = zdb(&["-ddd", &p[0]]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("ZFS plain file") && out.contains("key49 = 49"),
        "{out}"
    );
    let (code, out, _) = zdb(&["-O", "tank/a", "100", &p[0]]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Indirect blocks:"), "{out}");
    // Three data blocks of 128 KiB beneath one indirect block.
    assert_eq!(out.matches(" L0 ").count(), 3, "{out}");
    assert_eq!(out.matches(" L1 ").count(), 1, "{out}");

    assert!(bytes_of(&paths) == before, "the checker changed the vdevs");
}

#[test]
fn a_damaged_copy_on_a_single_vdev_is_a_permanent_error() {
    let b = build(false);
    let bad = b.data_blocks("tank/b", BIG)[0];
    let (_dir, paths) = b.export();
    damage(&paths[0], &bad.dva[0]);
    let before = bytes_of(&paths);
    let (code, out, _) = zdb(&strs(&paths).iter().map(|s| s.as_str()).collect::<Vec<_>>());
    assert_eq!(code, 1, "{out}");
    let line = out
        .lines()
        .find(|l| l.starts_with("permanent error"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(line.contains("tank/b: object 100 L0 blkid 0"), "{line}");
    assert!(line.contains("checksum mismatch"), "{line}");
    assert!(out.contains("1 permanent error"), "{out}");
    assert!(bytes_of(&paths) == before, "the checker changed the vdevs");
}

#[test]
fn a_damaged_side_of_a_mirror_is_repairable() {
    let b = build(true);
    let bad = b.data_blocks("tank/a", SMALL)[0];
    let (_dir, paths) = b.export();
    damage(&paths[1], &bad.dva[0]);
    let before = bytes_of(&paths);
    let p = strs(&paths);
    let (code, out, _) = zdb(&[&p[0], &p[1]]);
    assert_eq!(code, 1, "{out}");
    let line = out
        .lines()
        .find(|l| l.starts_with("checksum error (repairable)"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(line.contains("tank/a: object 101 L0 blkid 0"), "{line}");
    assert!(
        line.contains(&p[1]) && !line.contains(&format!("{} :", p[0])),
        "{line}"
    );
    assert!(line.contains("1 good copies remain"), "{line}");
    assert!(!out.contains("permanent error"), "{out}");
    // Read-only: the damaged side is still damaged afterwards.
    assert!(
        bytes_of(&paths) == before,
        "the checker repaired or changed a vdev"
    );
}

#[test]
fn an_allocated_but_unreferenced_block_is_a_leak() {
    let b = build(false);
    {
        let hold = b.pool.txg().hold();
        let data = AlignedBuf::from_slice_padded(&pattern(8192, 9), 8192);
        let bp = b
            .pool
            .write_block(hold.txg(), data, WriteProps::new(BlockType::TEST_DATA))
            .unwrap();
        assert!(!bp.is_hole());
    }
    b.pool.sync().unwrap();
    let (_dir, paths) = b.export();
    let p = strs(&paths);
    let (code, out, _) = zdb(&[&p[0]]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("leak: 0:"), "{out}");
    assert!(out.contains("does NOT match the space maps"), "{out}");
    assert!(!out.contains("permanent error"), "{out}");
}

#[test]
fn a_wrong_space_figure_is_an_accounting_error() {
    let b = build(false);
    let (dir_id, mut phys) = b.dsl.with_state(|st| {
        let dir = st.dirs[&st.root_dir].phys.head;
        let ds = &st.datasets[&dir];
        (ds.phys.dir, st.dirs[&ds.phys.dir].phys.clone())
    });
    phys.used.head += 4096;
    {
        let hold = b.pool.txg().hold();
        b.dsl
            .mos()
            .set_bonus(hold.txg(), dir_id, &phys.encode())
            .unwrap();
    }
    b.pool.sync().unwrap();
    let (_dir, paths) = b.export();
    let p = strs(&paths);
    let (code, out, _) = zdb(&[&p[0]]);
    assert_eq!(code, 1, "{out}");
    let line = out
        .lines()
        .find(|l| l.starts_with("accounting"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(line.contains("tank: usedbydataset"), "{line}");
    assert_eq!(out.matches("\naccounting").count(), 1, "{out}");
}

#[test]
fn a_pool_imported_by_a_live_process_is_refused() {
    let b = build(true);
    let (_dir, paths) = b.export();
    let pool = import(&paths);
    let p = strs(&paths);
    for args in [
        vec![p[0].as_str()],
        vec!["-l", &p[1]],
        vec!["-d", &p[0], &p[1]],
    ] {
        let (code, out, err) = zdb(&args);
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert!(err.contains("imported by a live process"), "{err}");
    }
    let dir = paths[0].parent().unwrap().display().to_string();
    let (code, _, err) = zdb(&["-p", &dir, "tank"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("pool 'tank' is imported by a live process"),
        "{err}"
    );
    pool.export().unwrap();
    let (code, out, _) = zdb(&[&p[0], &p[1]]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn in_process_checks_name_every_kind() {
    // The library reports kinds an operator can tell apart.
    let b = build(true);
    let bad = b.data_blocks("tank/c", SMALL)[0];
    let (_dir, paths) = b.export();
    damage(&paths[0], &bad.dva[0]);
    damage(&paths[1], &bad.dva[0]);
    let found = basin_fsck::open::find(&basin_fsck::open::Source {
        paths: paths.clone(),
        ..Default::default()
    })
    .unwrap();
    let pool = basin_fsck::open::open(&found).unwrap();
    assert!(pool.is_read_only());
    let dsl = basin_fsck::open::open_dsl(&pool, 16 << 20).unwrap();
    let r = check(&pool, Some(&dsl), &CheckOptions::default());
    assert_eq!(r.count(ProblemKind::PermanentError), 1, "{:?}", r.problems);
    assert_eq!(r.copies_bad, 2);
    // Leaks are not claimed when a block could not be read.
    assert_eq!(r.count(ProblemKind::Leak), 0, "{:?}", r.problems);
    pool.export().unwrap();
}

#[test]
fn damaged_labels_and_uberblocks_are_shown_and_import_rewinds() {
    use basin_pool::label::{label_offsets, CONFIG_OFFSET};
    use basin_pool::labelio;
    use basin_pool::vdev::file::{FileDevice, OpenMode};
    use std::io::{Seek, SeekFrom, Write};

    let b = build(false);
    let (_dir, paths) = b.export();
    let p = strs(&paths);
    let (newest, offsets) = {
        let dev = FileDevice::open(
            &paths[0],
            OpenMode {
                writable: false,
                direct: false,
            },
        )
        .unwrap();
        let newest = labelio::read_uberblocks(&dev, 12)
            .iter()
            .map(|u| u.txg)
            .max()
            .unwrap();
        (
            newest,
            label_offsets(basin_pool::vdev::BlockDevice::size(&dev)),
        )
    };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(&paths[0])
        .unwrap();
    // Label 2's configuration, and the newest uberblock in every label.
    f.seek(SeekFrom::Start(offsets[2] + CONFIG_OFFSET + 100))
        .unwrap();
    f.write_all(&[0xee; 64]).unwrap();
    for lo in offsets {
        f.seek(SeekFrom::Start(labelio::uberblock_offset(lo, 12, newest)))
            .unwrap();
        f.write_all(&[0x11; 256]).unwrap();
    }
    f.sync_all().unwrap();
    drop(f);
    let before = bytes_of(&paths);

    let (code, out, _) = zdb(&["-l", &p[0]]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("LABEL 0 1 3: valid"), "{out}");
    assert!(
        out.contains("LABEL 2 (offset") && out.contains("not valid"),
        "{out}"
    );

    let (code, out, _) = zdb(&["-u", &p[0]]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("4 slots hold damaged uberblocks"), "{out}");
    let chosen = out
        .lines()
        .find(|l| l.starts_with('*'))
        .unwrap_or_else(|| panic!("{out}"));
    let txg: u64 = chosen.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(txg < newest, "{out}");
    assert!(!out.contains(&format!(" {newest} ")), "{out}");

    // The older tree is whole: frees wait two txgs.
    let (code, out, _) = zdb(&[&p[0]]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&format!("(txg {txg})")), "{out}");
    assert!(bytes_of(&paths) == before, "the checker changed the vdevs");
}
