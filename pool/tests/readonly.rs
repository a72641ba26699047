//! Opening a pool read-only, as the checker does: everything reads back,
//! nothing can be written, not a byte of the vdevs changes, damaged copies
//! are reported one by one and left alone, and a pool that a live process
//! imported is refused.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use basin_pool::import::{scan_devices, scan_paths};
use basin_pool::label::FRONT_RESERVE;
use basin_pool::vdev::mem::MemDevice;
use basin_pool::vdev::BlockDevice;
use basin_pool::verify::CopyFault;
use basin_pool::{
    AlignedBuf, BlockType, CreateOptions, ImportOptions, Pool, PoolError, PoolTunables,
    ReserveClass, VdevSpec, WriteProps,
};
use common::{content, decode_root, read_tree, Workload};
use rand::SeedableRng;

const MIB: u64 = 1 << 20;

fn tunables() -> PoolTunables {
    PoolTunables {
        sync_interval: Duration::from_secs(3600),
        ..PoolTunables::for_tests()
    }
}

fn iopts() -> ImportOptions {
    ImportOptions {
        tunables: tunables(),
        ..Default::default()
    }
}

fn files(dir: &Path, n: usize) -> Vec<PathBuf> {
    (0..n)
        .map(|i| {
            let p = dir.join(format!("vdev{i}"));
            std::fs::File::create(&p)
                .unwrap()
                .set_len(64 * MIB)
                .unwrap();
            p
        })
        .collect()
}

/// A two-way mirror of files holding a workload, exported.
fn mirror_pool(dir: &Path) -> (Vec<PathBuf>, common::Model) {
    let paths = files(dir, 2);
    let mut words = vec!["mirror".to_string()];
    words.extend(paths.iter().map(|p| p.display().to_string()));
    let spec = VdevSpec::parse(&words).unwrap();
    let pool = Pool::create(
        "ro",
        &spec,
        &CreateOptions {
            tunables: tunables(),
            command: Some("zpool create ro".into()),
            ..Default::default()
        },
    )
    .unwrap();
    let w = Workload::new();
    pool.set_syncer(Some(w.clone()));
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let mut next = 0;
    for _ in 0..8 {
        w.random_step(&mut rng, &mut next);
        pool.sync().unwrap();
    }
    let model = w.model_after_pending();
    pool.export().unwrap();
    (paths, model)
}

fn bytes_of(paths: &[PathBuf]) -> Vec<Vec<u8>> {
    paths.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

#[test]
fn a_read_only_pool_reads_everything_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (paths, model) = mirror_pool(dir.path());
    let before = bytes_of(&paths);

    let found = scan_paths(paths.clone());
    assert_eq!(found.len(), 1);
    let pool = Pool::open_read_only(&found[0], &iopts()).unwrap();
    assert!(pool.is_read_only());
    let (got, bps) = read_tree(&pool).unwrap();
    assert_eq!(got, model);
    let check = pool.check_space(&bps).unwrap();
    assert!(check.problems.is_empty(), "{:?}", check.problems);
    assert!(pool.history().unwrap()[0].command.contains("zpool create"));

    // Every way of changing the pool is refused, none of them hangs.
    let txg = pool.txg().open_txg();
    let data = AlignedBuf::from_slice_padded(&[7u8; 4096], 4096);
    let e = pool
        .write_block(txg, data, WriteProps::new(BlockType::TEST_DATA))
        .unwrap_err();
    assert!(matches!(e, PoolError::ReadOnlyPool(_)), "{e}");
    assert_eq!(e.errno(), libc::EROFS);
    assert!(matches!(pool.sync(), Err(PoolError::ReadOnlyPool(_))));
    assert!(matches!(
        pool.wait_synced(0),
        Err(PoolError::ReadOnlyPool(_))
    ));
    assert!(pool.reserve(txg, 4096, ReserveClass::Normal).is_err());
    assert!(pool.set_property("comment", "changed").is_err());
    pool.log_history("zpool frob", false);
    pool.free_block(txg, &bps[0]);
    assert!(matches!(pool.destroy(), Err(PoolError::ReadOnlyPool(_))));
    pool.export().unwrap();

    assert!(
        bytes_of(&paths) == before,
        "opening read-only changed the vdev files"
    );
    // The labels still say exported: a normal import works as before.
    let found = scan_paths(paths.clone());
    assert_eq!(found[0].state, basin_pool::label::PoolState::Exported);
    let pool = Pool::import(&found[0], &iopts()).unwrap();
    assert_eq!(read_tree(&pool).unwrap().0, model);
    pool.export().unwrap();
}

#[test]
fn a_pool_imported_by_a_live_process_is_refused_and_readers_share() {
    let dir = tempfile::tempdir().unwrap();
    let (paths, _) = mirror_pool(dir.path());
    let found = scan_paths(paths.clone());

    // Imported (exclusive locks on the vdevs): the reader is refused.
    let pool = Pool::import(&found[0], &iopts()).unwrap();
    let e = Pool::open_read_only(&found[0], &iopts()).err().unwrap();
    assert!(matches!(e, PoolError::VdevLocked(_)), "{e}");
    assert!(e.to_string().contains("in use by another process"), "{e}");
    pool.export().unwrap();

    // Two readers at once are fine, and hold off an import meanwhile.
    let found = scan_paths(paths.clone());
    let a = Pool::open_read_only(&found[0], &iopts()).unwrap();
    let b = Pool::open_read_only(&found[0], &iopts()).unwrap();
    let e = Pool::import(&found[0], &iopts()).err().unwrap();
    assert!(matches!(e, PoolError::VdevLocked(_)), "{e}");
    a.export().unwrap();
    b.export().unwrap();
    Pool::import(&found[0], &iopts()).unwrap().export().unwrap();
}

#[test]
fn every_copy_is_read_alone_and_damage_is_left_in_place() {
    let devs: Vec<Arc<MemDevice>> = (0..2)
        .map(|i| Arc::new(MemDevice::new(&format!("m{i}"), 64 * MIB)))
        .collect();
    let dyns: Vec<Arc<dyn BlockDevice>> = devs
        .iter()
        .map(|d| d.clone() as Arc<dyn BlockDevice>)
        .collect();
    let spec = VdevSpec {
        tops: vec![basin_pool::spec::TopSpec {
            kind: basin_pool::spec::TopKind::Mirror,
            devices: dyns
                .iter()
                .map(|d| basin_pool::DeviceSpec::Device(d.clone()))
                .collect(),
        }],
    };
    let pool = Pool::create(
        "ro",
        &spec,
        &CreateOptions {
            tunables: tunables(),
            ..Default::default()
        },
    )
    .unwrap();
    let w = Workload::new();
    pool.set_syncer(Some(w.clone()));
    for id in 0..20u64 {
        w.write(id, id + 1, 8192);
    }
    pool.sync().unwrap();
    pool.export().unwrap();

    let pool = Pool::open_read_only(&scan_devices(&dyns)[0], &iopts()).unwrap();
    let root = decode_root(&pool.read_block(&pool.user_root()).unwrap());
    let (bp, seed, len) = root[&3];
    assert_eq!(pool.copy_leaves(&bp, 0), 2);
    assert_eq!(pool.copy_leaves(&bp, 1), 0);
    // Damage side 1 of block 3.
    let d = bp.dva[0];
    let off = FRONT_RESERVE + d.offset;
    devs[1].corrupt(off, &vec![0xa5; d.asize as usize]);
    let mut damaged = vec![0u8; d.asize as usize];
    devs[1].read_at(off, &mut damaged).unwrap();

    let good = pool.read_copy(&bp, 0, 0).unwrap();
    assert_eq!(&good[..], &content(3, seed, len)[..]);
    assert!(matches!(
        pool.read_copy(&bp, 0, 1),
        Err(CopyFault::Checksum)
    ));
    assert!(matches!(
        pool.read_copy(&bp, 1, 0),
        Err(CopyFault::NoSuchCopy)
    ));
    assert!(matches!(
        pool.read_copy(&bp, 0, 2),
        Err(CopyFault::NoSuchCopy)
    ));
    // A normal read gets the good side, whichever it tries first, and
    // repairs nothing.
    for _ in 0..4 {
        assert_eq!(
            &pool.read_block(&bp).unwrap()[..],
            &content(3, seed, len)[..]
        );
    }
    let mut after = vec![0u8; d.asize as usize];
    devs[1].read_at(off, &mut after).unwrap();
    assert_eq!(after, damaged, "a read-only pool repaired a copy");
    assert_eq!(
        pool.stats()
            .repaired
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    pool.export().unwrap();
}
