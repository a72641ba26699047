//! Crash consistency of the POSIX layer with its intent log: a workload of
//! creates, writes, truncates, renames and removes, with `fsync` now and
//! then, runs on devices that record every write and flush. Each crash
//! image imports and mounts (replaying the log), and the tree it shows is
//! exactly the state after some operation at or after the last `fsync`
//! that returned before the crash: every fsynced byte is there, and
//! nothing appears that was never written.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use basin_dmu::cache::BlockCache;
use basin_dmu::DslPool;
use basin_pool::import::scan_devices;
use basin_pool::spec::{DeviceSpec, TopKind, TopSpec};
use basin_pool::vdev::mem::{CrashFaults, CrashRecorder, MemDevice};
use basin_pool::vdev::BlockDevice;
use basin_pool::{CreateOptions, ImportOptions, Pool, PoolTunables, VdevSpec};
use basin_zonefs::fs::{RenameFlags, SetAttr, Zfs, ROOT_OBJ};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

type State = BTreeMap<String, Vec<u8>>;

fn tunables() -> PoolTunables {
    PoolTunables {
        sync_interval: Duration::from_secs(3600),
        ..PoolTunables::for_tests()
    }
}

/// Reads every file of the root directory.
fn read_state(fs: &Zfs) -> State {
    let mut out = State::new();
    let mut cookie = 0;
    loop {
        let page = fs.readdir(ROOT_OBJ, cookie, 100).unwrap();
        if page.is_empty() {
            break;
        }
        for e in &page {
            let a = fs.getattr(e.obj).unwrap();
            let data = fs.read(e.obj, 0, a.z.size as u32).unwrap();
            out.insert(String::from_utf8(e.name.clone()).unwrap(), data);
            cookie = e.next;
        }
    }
    out
}

fn lookup(fs: &Zfs, name: &str) -> Option<u64> {
    fs.lookup(ROOT_OBJ, name.as_bytes()).ok().map(|a| a.obj)
}

#[test]
fn fsynced_data_survives_every_crash_point() {
    let seed: u64 = std::env::var("BASIN_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let rec = CrashRecorder::new();
    let dev: Arc<dyn BlockDevice> = Arc::new(MemDevice::recorded("m0", 512 << 20, &rec));
    let spec = VdevSpec {
        tops: vec![TopSpec {
            kind: TopKind::Single,
            devices: vec![DeviceSpec::Device(dev.clone())],
        }],
    };
    let pool = Pool::create(
        "zc",
        &spec,
        &CreateOptions {
            tunables: tunables(),
            ..Default::default()
        },
    )
    .unwrap();
    let dsl = DslPool::init(
        pool.clone(),
        Arc::new(BlockCache::new(64 << 20).unwrap()),
        &[],
    )
    .unwrap();
    dsl.create("zc/fs", None, &[], false).unwrap();
    let fs = Zfs::open(dsl.clone(), "zc/fs").unwrap();
    pool.sync().unwrap();

    let mut rng = StdRng::seed_from_u64(seed);
    let mut model = State::new();
    // states[i]: the tree after operation i; fsyncs: (ops recorded when the
    // fsync returned, index of the state it made durable).
    let mut states: Vec<State> = vec![model.clone()];
    let mut fsyncs: Vec<(usize, usize)> = vec![(rec.len(), 0)];
    let mut n = 0u32;
    for step in 0..300 {
        let names: Vec<String> = model.keys().cloned().collect();
        let pick = |rng: &mut StdRng| names[rng.gen_range(0..names.len())].clone();
        match rng.gen_range(0..100) {
            0..=14 => {
                n += 1;
                let name = format!("f{n}");
                fs.create(
                    ROOT_OBJ,
                    name.as_bytes(),
                    libc::S_IFREG | 0o644,
                    0,
                    0,
                    0,
                    None,
                )
                .unwrap();
                model.insert(name, Vec::new());
            }
            15..=59 if !names.is_empty() => {
                let name = pick(&mut rng);
                let obj = lookup(&fs, &name).unwrap();
                let cur = model[&name].len() as u64;
                let off = rng.gen_range(0..cur + 70_000);
                let len = rng.gen_range(1..100_000usize);
                let data: Vec<u8> = (0..len)
                    .map(|i| (i as u64 * 31 + off + step) as u8)
                    .collect();
                fs.write(obj, off, &data, false, false).unwrap();
                let v = model.get_mut(&name).unwrap();
                if v.len() < off as usize + len {
                    v.resize(off as usize + len, 0);
                }
                v[off as usize..off as usize + len].copy_from_slice(&data);
            }
            60..=67 if !names.is_empty() => {
                let name = pick(&mut rng);
                let obj = lookup(&fs, &name).unwrap();
                let to = rng.gen_range(0..=model[&name].len() as u64 + 10);
                fs.setattr(
                    obj,
                    &SetAttr {
                        size: Some(to),
                        ..Default::default()
                    },
                )
                .unwrap();
                model.get_mut(&name).unwrap().resize(to as usize, 0);
            }
            68..=75 if !names.is_empty() => {
                let from = pick(&mut rng);
                n += 1;
                let to = if rng.gen_bool(0.3) {
                    pick(&mut rng)
                } else {
                    format!("r{n}")
                };
                if from != to {
                    fs.rename(
                        ROOT_OBJ,
                        from.as_bytes(),
                        ROOT_OBJ,
                        to.as_bytes(),
                        RenameFlags::default(),
                    )
                    .unwrap();
                    let v = model.remove(&from).unwrap();
                    model.insert(to, v);
                }
            }
            76..=81 if !names.is_empty() => {
                let name = pick(&mut rng);
                fs.remove(ROOT_OBJ, name.as_bytes(), false).unwrap();
                model.remove(&name);
            }
            82..=84 => {
                pool.sync().unwrap();
            }
            _ => {}
        }
        states.push(model.clone());
        if std::env::var("BASIN_DEBUG").is_ok() {
            eprintln!(
                "op {} ({} recorded, txg {}): {:?}",
                states.len() - 1,
                rec.len(),
                pool.txg().open_txg(),
                model
                    .iter()
                    .map(|(k, v)| (k.clone(), v.len()))
                    .collect::<Vec<_>>()
            );
        }
        if rng.gen_bool(0.25) {
            fs.fsync(0).unwrap();
            fsyncs.push((rec.len(), states.len() - 1));
            if std::env::var("BASIN_DEBUG").is_ok() {
                eprintln!("fsync -> {} recorded", rec.len());
            }
        }
    }
    pool.set_syncer(None);
    pool.crash();
    drop(fs);

    let total = rec.len();
    // Cuts before the filesystem was set up show no filesystem at all.
    let writes: Vec<usize> = rec
        .write_indices()
        .into_iter()
        .filter(|w| *w >= fsyncs[0].0)
        .collect();
    let mut failures = Vec::new();
    let mut replayed = 0;
    for i in 0..120u64 {
        // Mostly right after an fsync returned, sometimes anywhere.
        let cut = if i % 3 == 0 {
            writes[rng.gen_range(0..writes.len())] + 1
        } else {
            let k = rng.gen_range(1..fsyncs.len());
            (fsyncs[k].0 + rng.gen_range(0..20)).min(total)
        };
        let floor = fsyncs
            .iter()
            .filter(|f| f.0 <= cut)
            .map(|f| f.1)
            .max()
            .unwrap_or(0);
        let mut crng = StdRng::seed_from_u64(seed ^ i);
        let imgs: Vec<Arc<dyn BlockDevice>> = rec
            .crash_image(cut, CrashFaults::default(), &mut crng)
            .into_iter()
            .map(|d| Arc::new(d) as Arc<dyn BlockDevice>)
            .collect();
        let found = scan_devices(&imgs);
        let r = (|| -> Result<bool, String> {
            let pool = Pool::import(
                &found[0],
                &ImportOptions {
                    tunables: tunables(),
                    ..Default::default()
                },
            )
            .map_err(|e| format!("import: {e}"))?;
            let dsl = DslPool::open(pool.clone(), Arc::new(BlockCache::new(64 << 20).unwrap()))
                .map_err(|e| format!("dsl: {e}"))?;
            let had_log = !dsl
                .objset("zc/fs")
                .map_err(|e| e.to_string())?
                .zil_header()
                .first
                .is_none();
            let fs = Zfs::open(dsl.clone(), "zc/fs").map_err(|e| format!("mount: {e}"))?;
            let got = read_state(&fs);
            // After replay the pool is consistent.
            pool.sync().map_err(|e| e.to_string())?;
            let p = dsl.verify_accounting().map_err(|e| e.to_string())?;
            if !p.is_empty() {
                return Err(format!("accounting: {p:?}"));
            }
            let c = pool
                .check_space(&dsl.all_blocks().map_err(|e| e.to_string())?)
                .map_err(|e| e.to_string())?;
            if !c.problems.is_empty() {
                return Err(format!(
                    "space: {:?}",
                    &c.problems[..c.problems.len().min(3)]
                ));
            }
            pool.set_syncer(None);
            pool.crash();
            if !states[floor..].contains(&got) {
                // Name the differences with the closest state.
                let best = states[floor..]
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, st)| {
                        st.iter().filter(|(k, v)| got.get(*k) != Some(*v)).count()
                            + got.keys().filter(|k| !st.contains_key(*k)).count()
                    })
                    .map(|(i, st)| (i + floor, st))
                    .unwrap();
                let diff: Vec<String> = best
                    .1
                    .iter()
                    .filter(|(k, v)| got.get(*k) != Some(*v))
                    .map(|(k, v)| {
                        let g = got.get(k);
                        let first =
                            g.and_then(|g| g.iter().zip(v.iter()).position(|(a, b)| a != b));
                        format!(
                            "{k}: want {} bytes, got {:?} (first diff at {first:?})",
                            v.len(),
                            g.map(|g| g.len())
                        )
                    })
                    .chain(
                        got.keys()
                            .filter(|k| !best.1.contains_key(*k))
                            .map(|k| format!("{k}: extra")),
                    )
                    .collect();
                return Err(format!(
                    "state matches no operation after the fsync at {floor}; closest {}: {diff:?}",
                    best.0
                ));
            }
            Ok(had_log)
        })();
        match r {
            Ok(true) => replayed += 1,
            Ok(false) => {}
            Err(e) => failures.push(format!("cut {cut}: {e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "seed {seed}: {} failures: {:?}",
        failures.len(),
        &failures[..failures.len().min(3)]
    );
    assert!(
        replayed > 10,
        "only {replayed} images had a log to replay: the test does not exercise it"
    );
}
