//! The dataset layer against a model: long random sequences of create,
//! write, truncate, snapshot, rollback, clone, promote, destroy, export and
//! import. After every step every dataset's and snapshot's contents match
//! the model; every few steps all space figures are checked against the
//! deadlists and the pool's allocator. Crash images of a recorded run
//! import with contents matching the model of the txg they hold.
//!
//! `BASIN_SEED=n` replays a seed; `BASIN_MODEL_STEPS=n` runs longer.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use basin_dmu::cache::BlockCache;
use basin_dmu::DslPool;
use basin_pool::import::scan_devices;
use basin_pool::spec::{DeviceSpec, TopKind, TopSpec};
use basin_pool::vdev::mem::{CrashFaults, CrashRecorder, MemDevice};
use basin_pool::vdev::BlockDevice;
use basin_pool::{CreateOptions, ImportOptions, Pool, VdevSpec};
use common::{new_pool, pattern, tunables, TestPool};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

type Contents = BTreeMap<u64, Vec<u8>>;

#[derive(Clone, Default, Debug)]
struct Fs {
    snaps: Vec<String>,
    origin: Option<String>,
}

#[derive(Clone, Default)]
struct Model {
    fss: BTreeMap<String, Fs>,
    data: BTreeMap<String, Contents>,
}

impl Model {
    fn children(&self, fs: &str) -> Vec<String> {
        let prefix = format!("{fs}/");
        self.fss
            .keys()
            .filter(|k| k.starts_with(&prefix))
            .cloned()
            .collect()
    }

    fn clones_of(&self, snap: &str) -> Vec<String> {
        self.fss
            .iter()
            .filter(|(_, f)| f.origin.as_deref() == Some(snap))
            .map(|(k, _)| k.clone())
            .collect()
    }
}

const OBJECTS: u64 = 4;

fn pick<'a, T>(rng: &mut StdRng, v: &'a [T]) -> Option<&'a T> {
    if v.is_empty() {
        None
    } else {
        Some(&v[rng.gen_range(0..v.len())])
    }
}

fn check_contents(t: &TestPool, m: &Model, ctx: &str) {
    let listed: BTreeSet<String> = t.dsl.list(None, true, None).unwrap().into_iter().collect();
    let want: BTreeSet<String> = m.data.keys().cloned().collect();
    assert_eq!(listed, want, "{ctx}: dataset names differ");
    for (name, objs) in &m.data {
        let os = t.dsl.objset(name).unwrap();
        for obj in 1..=OBJECTS {
            match objs.get(&obj) {
                Some(v) => {
                    let mut got = vec![0u8; v.len() + 4096];
                    os.read(obj, 0, &mut got)
                        .unwrap_or_else(|e| panic!("{ctx}: read {name}:{obj}: {e}"));
                    assert!(
                        got[..v.len()] == v[..],
                        "{ctx}: {name} object {obj} differs"
                    );
                    assert!(
                        got[v.len()..].iter().all(|&b| b == 0),
                        "{ctx}: {name} object {obj} has bytes past its end"
                    );
                }
                None => assert!(!os.exists(obj).unwrap(), "{ctx}: {name} has object {obj}"),
            }
        }
    }
}

/// One random step; returns a description.
fn step(t: &TestPool, m: &mut Model, rng: &mut StdRng, n: &mut u64) -> String {
    let fss: Vec<String> = m.fss.keys().cloned().collect();
    let op = rng.gen_range(0..100);
    match op {
        0..=9 => {
            let parent = pick(rng, &fss).unwrap().clone();
            *n += 1;
            let name = format!("{parent}/d{n}");
            t.dsl.create(&name, None, &[], false).unwrap();
            m.fss.insert(name.clone(), Fs::default());
            m.data.insert(name.clone(), Contents::new());
            format!("create {name}")
        }
        10..=49 => {
            let fs = pick(rng, &fss).unwrap().clone();
            let obj = rng.gen_range(1..=OBJECTS);
            let len = m.data[&fs].get(&obj).map(|v| v.len()).unwrap_or(0);
            let off = rng.gen_range(0..len as u64 + 200_000);
            let data = pattern(rng.gen_range(1..150_000), rng.gen());
            t.write(&fs, obj, off, &data);
            let v = m.data.get_mut(&fs).unwrap().entry(obj).or_default();
            let end = off as usize + data.len();
            if v.len() < end {
                v.resize(end, 0);
            }
            v[off as usize..end].copy_from_slice(&data);
            format!("write {fs}:{obj} {off}+{}", data.len())
        }
        50..=54 => {
            let fs = pick(rng, &fss).unwrap().clone();
            let obj = rng.gen_range(1..=OBJECTS);
            let Some(len) = m.data[&fs].get(&obj).map(|v| v.len()) else {
                return "nop".into();
            };
            let to = rng.gen_range(0..=len);
            let os = t.dsl.objset(&fs).unwrap();
            let tx = t
                .dsl
                .assign(t.dsl.dataset_id(&fs).unwrap(), 0, true)
                .unwrap();
            os.free_range(tx.txg(), obj, to as u64, u64::MAX).unwrap();
            drop(tx);
            m.data
                .get_mut(&fs)
                .unwrap()
                .get_mut(&obj)
                .unwrap()
                .truncate(to);
            format!("truncate {fs}:{obj} to {to}")
        }
        55..=69 => {
            let fs = pick(rng, &fss).unwrap().clone();
            *n += 1;
            let snap = format!("{fs}@s{n}");
            t.dsl.snapshot(std::slice::from_ref(&snap), false).unwrap();
            m.fss.get_mut(&fs).unwrap().snaps.push(snap.clone());
            let c = m.data[&fs].clone();
            m.data.insert(snap.clone(), c);
            format!("snapshot {snap}")
        }
        70..=76 => {
            let with: Vec<String> = fss
                .iter()
                .filter(|f| !m.fss[*f].snaps.is_empty())
                .cloned()
                .collect();
            let Some(fs) = pick(rng, &with).cloned() else {
                return "nop".into();
            };
            let snaps = m.fss[&fs].snaps.clone();
            let target = pick(rng, &snaps).unwrap().clone();
            let pos = snaps.iter().position(|s| *s == target).unwrap();
            let later = &snaps[pos + 1..];
            let blocked = later.iter().any(|s| !m.clones_of(s).is_empty());
            let r = t.dsl.rollback(&target, true);
            if blocked {
                assert!(r.is_err(), "rollback over a snapshot with clones must fail");
                return format!("rollback {target} refused");
            }
            r.unwrap_or_else(|e| panic!("rollback {target}: {e}"));
            for s in later {
                m.data.remove(s);
            }
            m.fss.get_mut(&fs).unwrap().snaps.truncate(pos + 1);
            let c = m.data[&target].clone();
            m.data.insert(fs.clone(), c);
            format!("rollback -r {target}")
        }
        77..=82 => {
            let all: Vec<String> = m.fss.values().flat_map(|f| f.snaps.clone()).collect();
            let Some(snap) = pick(rng, &all).cloned() else {
                return "nop".into();
            };
            let parent = pick(rng, &fss).unwrap().clone();
            *n += 1;
            let name = format!("{parent}/c{n}");
            t.dsl.clone_snapshot(&snap, &name, &[]).unwrap();
            m.fss.insert(
                name.clone(),
                Fs {
                    snaps: vec![],
                    origin: Some(snap.clone()),
                },
            );
            let c = m.data[&snap].clone();
            m.data.insert(name.clone(), c);
            format!("clone {snap} {name}")
        }
        83..=86 => {
            let clones: Vec<String> = fss
                .iter()
                .filter(|f| m.fss[*f].origin.is_some())
                .cloned()
                .collect();
            let Some(c) = pick(rng, &clones).cloned() else {
                return "nop".into();
            };
            let origin = m.fss[&c].origin.clone().unwrap();
            let (ofs, _) = origin.split_once('@').unwrap();
            let ofs = ofs.to_string();
            let osnaps = m.fss[&ofs].snaps.clone();
            let k = osnaps.iter().position(|s| *s == origin).unwrap();
            let moving: Vec<String> = osnaps[..=k].to_vec();
            let short = |s: &str| s.split_once('@').unwrap().1.to_string();
            let conflict = moving
                .iter()
                .any(|s| m.fss[&c].snaps.iter().any(|x| short(x) == short(s)));
            let r = t.dsl.promote(&c);
            if conflict {
                assert!(r.is_err());
                return "promote refused".into();
            }
            r.unwrap_or_else(|e| panic!("promote {c}: {e}"));
            // Snapshots up to the origin move to the clone; names follow.
            let mut renamed = Vec::new();
            for s in &moving {
                let new = format!("{c}@{}", short(s));
                let data = m.data.remove(s).unwrap();
                m.data.insert(new.clone(), data);
                renamed.push((s.clone(), new));
            }
            let rename = |x: &str| {
                renamed
                    .iter()
                    .find(|(o, _)| o == x)
                    .map(|(_, n)| n.clone())
                    .unwrap_or(x.to_string())
            };
            let old_origin_of_ofs = m.fss[&ofs].origin.clone();
            let cfs = m.fss.get_mut(&c).unwrap();
            let mut snaps: Vec<String> = renamed.iter().map(|(_, n)| n.clone()).collect();
            snaps.append(&mut cfs.snaps);
            cfs.snaps = snaps;
            cfs.origin = old_origin_of_ofs;
            let f = m.fss.get_mut(&ofs).unwrap();
            f.snaps.drain(..=k);
            f.origin = Some(rename(&origin));
            for fsm in m.fss.values_mut() {
                if let Some(o) = &fsm.origin {
                    fsm.origin = Some(rename(o));
                }
            }
            format!("promote {c}")
        }
        87..=93 => {
            let all: Vec<String> = m.fss.values().flat_map(|f| f.snaps.clone()).collect();
            let Some(snap) = pick(rng, &all).cloned() else {
                return "nop".into();
            };
            let r = t.dsl.destroy(&snap, false, false, false, false);
            if !m.clones_of(&snap).is_empty() {
                assert!(r.is_err());
                return format!("destroy {snap} refused");
            }
            r.unwrap_or_else(|e| panic!("destroy {snap}: {e}"));
            m.data.remove(&snap);
            let fs = snap.split_once('@').unwrap().0.to_string();
            m.fss.get_mut(&fs).unwrap().snaps.retain(|s| *s != snap);
            format!("destroy {snap}")
        }
        94..=97 => {
            let candidates: Vec<String> = fss.iter().filter(|f| f.contains('/')).cloned().collect();
            let Some(fs) = pick(rng, &candidates).cloned() else {
                return "nop".into();
            };
            let mut subtree = vec![fs.clone()];
            subtree.extend(m.children(&fs));
            // Clones inside the subtree go with it; one outside needs -R.
            let blocked = subtree
                .iter()
                .flat_map(|f| m.fss[f].snaps.clone())
                .any(|s| m.clones_of(&s).iter().any(|c| !subtree.contains(c)));
            let r = t.dsl.destroy(&fs, true, false, false, false);
            if blocked {
                assert!(r.is_err(), "destroy -r {fs} with clones must fail");
                return format!("destroy -r {fs} refused");
            }
            r.unwrap_or_else(|e| panic!("destroy -r {fs}: {e}"));
            for f in &subtree {
                let fsm = m.fss.remove(f).unwrap();
                m.data.remove(f);
                for s in fsm.snaps {
                    m.data.remove(&s);
                }
            }
            format!("destroy -r {fs}")
        }
        _ => {
            t.pool.sync().unwrap();
            "sync".into()
        }
    }
}

fn new_model(pool: &str) -> Model {
    let mut m = Model::default();
    m.fss.insert(pool.to_string(), Fs::default());
    m.data.insert(pool.to_string(), Contents::new());
    m
}

#[test]
fn random_sequences_match_the_model() {
    let seed: u64 = std::env::var("BASIN_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20261122);
    let steps: usize = std::env::var("BASIN_MODEL_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(400);
    eprintln!("seed {seed}, {steps} steps (BASIN_SEED / BASIN_MODEL_STEPS to change)");
    let mut rng = StdRng::seed_from_u64(seed);
    let mut t = new_pool("tank", 1 << 30);
    let mut m = new_model("tank");
    let mut n = 0;
    let mut log = Vec::new();
    for i in 0..steps {
        let what = step(&t, &mut m, &mut rng, &mut n);
        log.push(what.clone());
        let ctx = format!("seed {seed} step {i} ({what})");
        check_contents(&t, &m, &ctx);
        if i % 25 == 24 || std::env::var("BASIN_CHECK_EVERY_STEP").is_ok() {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| t.check()));
            if r.is_err() {
                panic!(
                    "{ctx}: check failed; last steps: {:?}",
                    &log[log.len().saturating_sub(8)..]
                );
            }
        }
        if i % 100 == 99 {
            t = t.reimport();
            check_contents(&t, &m, &format!("{ctx} after import"));
            t.check();
        }
    }
    t.check();
    // Destroying everything returns every dataset's space. If the root has
    // become a clone (of a child's snapshot, after a promote), it takes its
    // snapshots back first.
    // If the root has become a clone (of a child's snapshot, after
    // promotes), it takes its snapshots back first.
    while t.dsl.get_prop("tank", "origin").unwrap().value != "-" {
        t.dsl.promote("tank").unwrap();
    }
    if std::env::var("BASIN_DEBUG").is_ok() {
        for n in t.dsl.list(None, true, None).unwrap() {
            eprintln!(
                "{n} origin={} clones={}",
                t.dsl.get_prop(&n, "origin").unwrap().value,
                t.dsl.get_prop(&n, "clones").unwrap().value
            );
        }
    }
    for c in t
        .dsl
        .list(Some("tank"), false, Some(1))
        .unwrap()
        .into_iter()
        .skip(1)
    {
        if !c.contains('@') {
            // Clones may depend on snapshots elsewhere: -R takes them too.
            let r = t.dsl.destroy(&c, true, true, false, false);
            if std::env::var("BASIN_DEBUG").is_ok() {
                eprintln!("destroy -R {c}: {r:?}");
                t.dsl.verify_accounting().unwrap();
            }
        }
    }
    for s in t.dsl.list(Some("tank"), false, Some(1)).unwrap() {
        if s.contains('@') {
            t.dsl.destroy(&s, false, true, false, false).unwrap();
        }
    }
    t.check();
    assert_eq!(
        t.dsl.list(None, true, None).unwrap(),
        vec!["tank".to_string()]
    );
    assert_eq!(t.num("tank", "usedbychildren"), 0);
    assert_eq!(t.num("tank", "usedbysnapshots"), 0);
}

#[test]
fn crash_images_hold_a_synced_model() {
    let seed: u64 = std::env::var("BASIN_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(7);
    let rec = CrashRecorder::new();
    let dev: Arc<dyn BlockDevice> = Arc::new(MemDevice::recorded("m0", 256 << 20, &rec));
    let spec = VdevSpec {
        tops: vec![TopSpec {
            kind: TopKind::Single,
            devices: vec![DeviceSpec::Device(dev.clone())],
        }],
    };
    let pool = Pool::create(
        "tank",
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
    let t = TestPool {
        devs: vec![dev],
        pool,
        dsl,
    };
    let mut m = new_model("tank");
    let mut rng = StdRng::seed_from_u64(seed);
    let mut n = 0;
    // (ops recorded when the sync returned, txg, model)
    let mut marks: Vec<(usize, u64, Model)> =
        vec![(rec.len(), t.pool.txg().synced_txg(), m.clone())];
    for _ in 0..120 {
        let before = t.pool.txg().open_txg();
        let what = step(&t, &mut m, &mut rng, &mut n);
        let txg = t.pool.sync().unwrap();
        if std::env::var("BASIN_DEBUG").is_ok() {
            eprintln!("{what}: txgs {before}..={txg}");
        }
        marks.push((rec.len(), txg, m.clone()));
    }
    t.pool.set_syncer(None);
    t.pool.crash();
    let total = rec.len();
    let mut failures = Vec::new();
    for i in 0..150 {
        let cut = rng.gen_range(marks[0].0..=total);
        let mut crng = StdRng::seed_from_u64(seed ^ i);
        let imgs: Vec<Arc<dyn BlockDevice>> = rec
            .crash_image(cut, CrashFaults::default(), &mut crng)
            .into_iter()
            .map(|d| Arc::new(d) as Arc<dyn BlockDevice>)
            .collect();
        let floor = marks
            .iter()
            .filter(|k| k.0 <= cut)
            .map(|k| k.1)
            .max()
            .unwrap();
        let found = scan_devices(&imgs);
        let pool = match Pool::import(
            &found[0],
            &ImportOptions {
                tunables: tunables(),
                ..Default::default()
            },
        ) {
            Ok(p) => p,
            Err(e) => {
                failures.push(format!("cut {cut}: import: {e}"));
                continue;
            }
        };
        let txg = pool.last_synced_txg();
        // The model of the newest mark synced at or before the imported
        // txg, or of the next one: a change to the dataset tree commits in
        // its own txg, before the sync that marked it.
        let Some(k) = marks.iter().rposition(|k| k.1 <= txg) else {
            failures.push(format!("cut {cut}: txg {txg} precedes every model"));
            continue;
        };
        // An imported txg older than one reported synced is right only if
        // the txgs in between changed nothing (they wrote no uberblock): the
        // contents must then be those of the reported one.
        let candidates: Vec<&Model> = if txg < floor {
            vec![&marks.iter().find(|k| k.1 == floor).unwrap().2]
        } else {
            vec![&marks[k].2, &marks.get(k + 1).unwrap_or(&marks[k]).2]
        };
        let dsl =
            DslPool::open(pool.clone(), Arc::new(BlockCache::new(64 << 20).unwrap())).unwrap();
        let t2 = TestPool {
            devs: imgs.clone(),
            pool: pool.clone(),
            dsl,
        };
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let ctx = format!("cut {cut} txg {txg}");
            let quiet = std::panic::take_hook();
            std::panic::set_hook(Box::new(|_| {}));
            let ok = candidates.iter().any(|m| {
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    check_contents(&t2, m, &ctx)
                }))
                .is_ok()
            });
            std::panic::set_hook(quiet);
            assert!(ok, "{ctx}: contents match no model of a synced txg");
            t2.check();
        }));
        if let Err(e) = r {
            failures.push(format!("cut {cut}: {:?}", e.downcast_ref::<String>()));
        }
        pool.set_syncer(None);
        pool.crash();
    }
    assert!(
        failures.is_empty(),
        "seed {seed}: {} failures: {:?}",
        failures.len(),
        &failures[..failures.len().min(3)]
    );
}
