//! A ztest-style stress run: threads doing random DMU operations while
//! faults are injected, the process killed at random and the pool imported
//! again, round after round.
//!
//! The pool lives in files in a temporary directory: a two-way mirror and
//! a three-wide raidz1 side by side. Each round re-executes this test
//! binary as a child process (`BASIN_ZTEST_CHILD` names the directory),
//! which imports the pool, injects faults on one leaf of each top-level
//! vdev (damaged reads, and sometimes failed writes or reads), and runs
//! threads of random operations: objects written, overwritten, punched,
//! truncated and freed, with every 4 KiB unit describing itself (lineage,
//! object, offset, generation, hash); datasets and snapshots created and
//! destroyed; rollbacks, clones and promotes; property changes; scrubs;
//! syncs. It logs, fsynced, what each synced txg made durable. The parent
//! kills it with SIGKILL after a random time, then imports the pool itself
//! and checks: the import succeeds at or past the last txg logged durable;
//! everything the log promised is there; every unit of every object of
//! every dataset and snapshot reads back whole and where it belongs; the
//! space accounting and the allocator agree with the block tree; a scrub
//! finds no error and a second one nothing to repair. Then it exports the
//! pool and runs the next round.
//!
//! `BASIN_ZTEST_SECS=n` runs for `n` seconds (default 60);
//! `BASIN_ZTEST_SEED=n` replays a seed (the operations and faults, not
//! the timing). A failure names the seed, the round and what failed, and
//! keeps the directory with the pool, the logs and the children's stderr;
//! `BASIN_ZTEST_INSPECT=dir BASIN_ZTEST_ROUND=n cargo test --test ztest
//! ztest_inspect -- --ignored --nocapture` examines a copy of it; there
//! `BASIN_ZTEST_AT=txg` imports it as it was at that txg,
//! `BASIN_ZTEST_FIND=vdev:offset` (hex) names the block at that address
//! and its owner, `BASIN_ZTEST_DUMPLOG=txg` prints that txg's space map
//! log and `BASIN_ZTEST_TAIL=1` the last operations of the round.

#[path = "ztest/check.rs"]
mod check;
#[path = "ztest/child.rs"]
mod child;
#[path = "ztest/intent.rs"]
mod intent;
#[path = "ztest/log.rs"]
mod log;
#[path = "ztest/unit.rs"]
mod unit;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use basin_dmu::cache::BlockCache;
use basin_dmu::DslPool;
use basin_pool::import::scan_dirs;
use basin_pool::spec::{DeviceSpec, TopKind, TopSpec};
use basin_pool::{CreateOptions, Health, ImportOptions, Pool, PoolTunables, VdevSpec};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const CHILD_ENV: &str = "BASIN_ZTEST_CHILD";
const ROUND_ENV: &str = "BASIN_ZTEST_ROUND";
const CHILD_SEED_ENV: &str = "BASIN_ZTEST_CHILD_SEED";
const POOL: &str = "zt";
const VDEV_SIZE: u64 = 256 << 20;
/// Longest wait for a child to get going (import, read everything back).
const READY_TIMEOUT: Duration = Duration::from_secs(180);

fn parent_tunables() -> PoolTunables {
    PoolTunables {
        sync_interval: Duration::from_secs(1),
        ..PoolTunables::for_tests()
    }
}

fn parse_u64(s: &str) -> Option<u64> {
    match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name)
        .ok()
        .map(|v| parse_u64(&v).unwrap_or_else(|| panic!("{name}={v}: not a number")))
}

#[test]
fn ztest_stress() {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        let round = env_u64(ROUND_ENV).expect("the round of a child");
        let seed = env_u64(CHILD_SEED_ENV).expect("the seed of a child");
        child::run(Path::new(&dir), round, seed);
    }
    let secs = env_u64("BASIN_ZTEST_SECS").unwrap_or(60);
    let seed = env_u64("BASIN_ZTEST_SEED").unwrap_or_else(rand::random);
    eprintln!("ztest: seed {seed:#x}, {secs} s (replay with BASIN_ZTEST_SEED={seed:#x})");
    let tmp = tempfile::Builder::new()
        .prefix("basin-ztest-")
        .tempdir()
        .expect("a temporary directory");
    let dir = tmp.path().to_path_buf();
    create_pool(&dir);
    let mut rng = StdRng::seed_from_u64(seed);
    let start = Instant::now();
    let mut round = 0;
    // No round starts that would likely end past the budget.
    let mut last = Duration::ZERO;
    while start.elapsed() + last < Duration::from_secs(secs) {
        let began = Instant::now();
        round += 1;
        let child_seed: u64 = rng.gen();
        // Now and then the kill lands anywhere, import included.
        let early = rng.gen_bool(0.2);
        let delay = Duration::from_millis(if early {
            rng.gen_range(0..1500)
        } else {
            rng.gen_range(500..3000)
        });
        match run_round(&dir, round, child_seed, early, delay) {
            Ok(summary) => {
                last = began.elapsed();
                eprintln!("ztest: round {round}: {summary}");
            }
            Err(what) => {
                let kept = tmp.keep();
                let stderr = tail(&kept.join(format!("child.{round}.stderr")), 60);
                panic!(
                    "ztest: seed {seed:#x} round {round} (child seed {child_seed:#x}) failed: {what}\n\
                     pool, logs and the children's stderr kept in {}\n\
                     --- child stderr (tail) ---\n{stderr}",
                    kept.display()
                );
            }
        }
    }
    eprintln!(
        "ztest: {round} rounds in {:.0} s, seed {seed:#x}",
        start.elapsed().as_secs_f64()
    );
}

/// The last `n` lines of a file.
fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn create_pool(dir: &Path) {
    let vdevs = dir.join("vdevs");
    std::fs::create_dir(&vdevs).unwrap();
    let path = |n: &str| -> PathBuf {
        let p = vdevs.join(n);
        File::create(&p).unwrap().set_len(VDEV_SIZE).unwrap();
        p
    };
    let spec = VdevSpec {
        tops: vec![
            TopSpec {
                kind: TopKind::Mirror,
                devices: child::MIRROR_LEAVES
                    .iter()
                    .map(|n| DeviceSpec::Path(path(n)))
                    .collect(),
            },
            TopSpec {
                kind: TopKind::Raidz(1),
                devices: child::RAIDZ_LEAVES
                    .iter()
                    .map(|n| DeviceSpec::Path(path(n)))
                    .collect(),
            },
        ],
    };
    let pool = Pool::create(
        POOL,
        &spec,
        &CreateOptions {
            force: true,
            tunables: parent_tunables(),
            ..Default::default()
        },
    )
    .unwrap();
    let cache = Arc::new(BlockCache::new(16 << 20).unwrap());
    let dsl = DslPool::init(pool.clone(), cache, &[]).unwrap();
    drop(dsl);
    pool.export().unwrap();
}

fn spawn_child(dir: &Path, round: u64, seed: u64) -> Child {
    let out = File::create(dir.join(format!("child.{round}.stdout"))).unwrap();
    let err = File::create(dir.join(format!("child.{round}.stderr"))).unwrap();
    Command::new(std::env::current_exe().expect("the test binary"))
        .args(["ztest_stress", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, dir)
        .env(ROUND_ENV, round.to_string())
        .env(CHILD_SEED_ENV, format!("{seed:#x}"))
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("spawn the child")
}

/// A child that ended by itself has failed.
fn check_alive(child: &mut Child) -> Result<(), String> {
    match child.try_wait() {
        Ok(None) => Ok(()),
        Ok(Some(status)) => Err(format!("the child ended by itself ({status})")),
        Err(e) => Err(format!("waiting for the child: {e}")),
    }
}

fn run_round(
    dir: &Path,
    round: u64,
    seed: u64,
    early: bool,
    delay: Duration,
) -> Result<String, String> {
    let log_path = dir.join(format!("log.{round}"));
    let mut child = spawn_child(dir, round, seed);
    let spawned = Instant::now();
    let r = (|| {
        if !early {
            // Until the child logged its first durable state.
            loop {
                check_alive(&mut child)?;
                let text = std::fs::read(&log_path).unwrap_or_default();
                if text.windows(8).any(|w| w == b"{\"sync\":") {
                    break;
                }
                if spawned.elapsed() > READY_TIMEOUT {
                    return Err(format!("the child was not ready after {READY_TIMEOUT:?}"));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let t0 = Instant::now();
        while t0.elapsed() < delay {
            check_alive(&mut child)?;
            std::thread::sleep(Duration::from_millis(10));
        }
        check_alive(&mut child)
    })();
    let _ = child.kill();
    let _ = child.wait();
    r?;
    verify(dir, round, spawned.elapsed())
}

/// Imports the pool the child left and checks everything; exports it
/// again when all is well.
fn verify(dir: &Path, round: u64, lived: Duration) -> Result<String, String> {
    // The pool says its internal errors on standard error (a free that
    // came too late for its txg, ...): the child must have said none.
    let said =
        std::fs::read_to_string(dir.join(format!("child.{round}.stderr"))).unwrap_or_default();
    if let Some(line) = said.lines().find(|l| l.contains("internal error")) {
        return Err(format!("the child's pool said: {line}"));
    }
    let entries = log::read(&dir.join(format!("log.{round}")))?;
    let found = scan_dirs(&[dir.join("vdevs")]);
    if found.len() != 1 {
        return Err(format!("{} pools found on the vdevs", found.len()));
    }
    // First without writing a byte: an import that goes back past a txg
    // logged durable leaves the evidence (the newer uberblocks whose trees
    // did not load) as it was.
    let promised = entries.iter().rev().find_map(|e| match e {
        log::Entry::Sync { txg, .. } => Some(*txg),
        _ => None,
    });
    let ro = Pool::open_read_only(&found[0], &ImportOptions::default())
        .map_err(|e| format!("read-only import: {e}"))?;
    let at = ro.last_synced_txg();
    ro.export()
        .map_err(|e| format!("export after the read-only import: {e}"))?;
    if let Some(p) = promised.filter(|&p| at < p) {
        return Err(format!(
            "the pool opens at txg {at}, but txg {p} was logged as durable \
             (the pool is left as the child left it)"
        ));
    }
    let pool = Pool::import(
        &found[0],
        &ImportOptions {
            tunables: parent_tunables(),
            ..Default::default()
        },
    )
    .map_err(|e| format!("import: {e}"))?;
    let imported = pool.last_synced_txg();
    let cache = Arc::new(BlockCache::new(64 << 20).unwrap());
    let dsl = match DslPool::open(pool.clone(), cache) {
        Ok(d) => d,
        Err(e) => {
            pool.crash();
            return Err(format!("opening the datasets at txg {imported}: {e}"));
        }
    };
    let r = check_pool(&pool, &dsl, &entries, imported, lived).and_then(|summary| {
        match pool.late_frees() {
            0 => Ok(summary),
            n => Err(format!(
                "{n} frees came for a txg whose space map log was sealed (see stderr)"
            )),
        }
    });
    match &r {
        Ok(_) => pool
            .export()
            .map_err(|e| format!("export after the checks: {e}"))?,
        Err(_) => pool.crash(),
    }
    r
}

fn check_pool(
    pool: &Pool,
    dsl: &DslPool,
    entries: &[log::Entry],
    imported: u64,
    lived: Duration,
) -> Result<String, String> {
    // What the child committed to its intent logs but no txg synced.
    let replayed = intent::replay_all(dsl)?;
    // A scrub the child started resumes, and a leaf that missed writes is
    // resilvered: let them finish first.
    pool.scan_wait();
    let found = check::read_pool(dsl)?;
    let lc = check::check_log(entries, &found, imported)?;
    check_space(pool, dsl)?;
    if pool.health() != Health::Online {
        pool.clear(None).map_err(|e| format!("clear: {e}"))?;
        pool.scan_wait();
    }
    for pass in 1..=2 {
        pool.scrub().map_err(|e| format!("scrub {pass}: {e}"))?;
        pool.scan_wait();
        let s = pool
            .scan_state()
            .ok_or_else(|| format!("scrub {pass}: no scan state"))?;
        if s.func != "scrub" || s.state != "finished" || s.errors != 0 {
            return Err(format!("scrub {pass}: {s:?}"));
        }
        if pass == 2 && s.repaired != 0 {
            return Err(format!(
                "the second scrub still repaired {} bytes: {s:?}",
                s.repaired
            ));
        }
    }
    let (errlog, more) = pool.error_log();
    if !errlog.is_empty() || more != 0 {
        return Err(format!("permanent errors: {errlog:?} (+{more})"));
    }
    let data_errors = pool
        .stats()
        .data_errors
        .load(std::sync::atomic::Ordering::Relaxed);
    if data_errors != 0 {
        return Err(format!(
            "{data_errors} blocks could not be read from any copy"
        ));
    }
    if pool.health() != Health::Online || pool.resilver_range().is_some() {
        return Err(format!(
            "after the scrubs: health {:?}, missed txgs {:?}; leaves: {}",
            pool.health(),
            pool.resilver_range(),
            leaf_report(pool)
        ));
    }
    check_space(pool, dsl)?;
    Ok(format!(
        "child lived {:.1} s; imported at txg {imported}, {replayed} log records replayed: \
         {} filesystems, {} snapshots, {} units; log promised txg {}: {} filesystems, \
         {} objects, {} units, {} snapshots checked, {} intents after; {} fsyncs checked",
        lived.as_secs_f64(),
        found.fss.len(),
        found.snaps.len(),
        found.units,
        lc.txg,
        lc.fss,
        lc.objects,
        lc.units,
        lc.snaps,
        lc.intents,
        lc.fsyncs
    ))
}

/// Every kept figure agrees with the deadlists; every block is allocated
/// exactly once and nothing leaks; the datasets, the MOS and the pool's
/// own metadata add up to the pool's allocation.
fn check_space(pool: &Pool, dsl: &DslPool) -> Result<(), String> {
    pool.sync().map_err(|e| format!("sync: {e}"))?;
    let p = dsl
        .verify_accounting()
        .map_err(|e| format!("verify_accounting: {e}"))?;
    if !p.is_empty() {
        return Err(format!("accounting: {p:?}"));
    }
    let blocks = dsl.all_blocks().map_err(|e| format!("all_blocks: {e}"))?;
    let c = pool
        .check_space(&blocks)
        .map_err(|e| format!("check_space: {e}"))?;
    if !c.problems.is_empty() {
        return Err(format!(
            "space: {:?}",
            &c.problems[..c.problems.len().min(5)]
        ));
    }
    let num = |n: &str, prop: &str| -> Result<u64, String> {
        dsl.get_prop(n, prop)
            .map_err(|e| format!("{n} {prop}: {e}"))?
            .exact
            .parse::<u64>()
            .map_err(|e| format!("{n} {prop}: {e}"))
    };
    let mut used = 0;
    for n in dsl.list(None, true, None).map_err(|e| e.to_string())? {
        if !n.contains('@') {
            used += num(&n, "usedbydataset")? + num(&n, "usedbysnapshots")?;
        }
    }
    let mos = dsl.mos_bytes().map_err(|e| format!("mos_bytes: {e}"))?;
    let meta: u64 = pool
        .metadata_blocks()
        .map_err(|e| format!("metadata_blocks: {e}"))?
        .iter()
        .map(|b| b.asize())
        .sum();
    let allocated = pool.space().allocated;
    if used + mos + meta != allocated {
        return Err(format!(
            "used {used} + MOS {mos} + pool metadata {meta} = {} != allocated {allocated}",
            used + mos + meta
        ));
    }
    Ok(())
}

/// Health, error counters and missed txgs of every leaf, for messages.
fn leaf_report(pool: &Pool) -> String {
    use std::sync::atomic::Ordering::Relaxed;
    pool.vdevs()
        .iter()
        .flat_map(|t| t.leaves())
        .map(|l| {
            format!(
                "{} {:?} (read {}, write {}, cksum {}, missed {:?})",
                Path::new(&l.path)
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy(),
                l.health(),
                l.errors.read.load(Relaxed),
                l.errors.write.load(Relaxed),
                l.errors.checksum.load(Relaxed),
                *l.dtl.lock()
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Examines a pool a failed run kept: `BASIN_ZTEST_INSPECT=dir` names the
/// directory, `BASIN_ZTEST_ROUND=n` the round whose log to judge it by.
/// Prints the labels and uberblock txgs of every leaf, then imports the
/// pool (and so writes to it: inspect a copy) and runs the checks of that
/// round again, printing what every filesystem holds.
#[test]
#[ignore]
fn ztest_inspect() {
    use basin_pool::vdev::file::{FileDevice, OpenMode};
    let Ok(dir) = std::env::var("BASIN_ZTEST_INSPECT") else {
        eprintln!("BASIN_ZTEST_INSPECT names the directory of a kept run");
        return;
    };
    let dir = PathBuf::from(dir);
    let leaves = child::MIRROR_LEAVES
        .iter()
        .chain(child::RAIDZ_LEAVES.iter());
    for n in leaves {
        let p = dir.join("vdevs").join(n);
        let mode = OpenMode {
            writable: false,
            direct: false,
        };
        let dev = FileDevice::open(&p, mode).unwrap();
        for (i, c) in basin_pool::labelio::read_configs(&dev).iter().enumerate() {
            match c {
                Some(c) => eprintln!("{n} label {i}: txg {} state {:?}", c.txg, c.state),
                None => eprintln!("{n} label {i}: none"),
            }
        }
        let mut ubs: Vec<u64> = basin_pool::labelio::read_uberblocks(&dev, 12)
            .iter()
            .map(|u| u.txg)
            .collect();
        ubs.sort();
        ubs.dedup();
        eprintln!("{n} uberblocks: {ubs:?}");
    }
    let round = env_u64(ROUND_ENV).expect("BASIN_ZTEST_ROUND");
    let entries = log::read(&dir.join(format!("log.{round}"))).unwrap();
    let found = scan_dirs(&[dir.join("vdevs")]);
    let pool = Pool::import(
        &found[0],
        &ImportOptions {
            tunables: parent_tunables(),
            rewind_to: env_u64("BASIN_ZTEST_AT"),
            ..Default::default()
        },
    )
    .unwrap();
    let imported = pool.last_synced_txg();
    if let Ok(find) = std::env::var("BASIN_ZTEST_FIND") {
        find_owner(&pool, &find);
        range_history(&pool, &find);
    }
    let dsl = DslPool::open(pool.clone(), Arc::new(BlockCache::new(64 << 20).unwrap())).unwrap();
    for name in dsl.list(None, true, None).unwrap() {
        if let Ok(os) = dsl.objset(&name) {
            let h = os.zil_header();
            if !h.first.is_none() {
                let (blocks, end) = basin_dmu::zil::walk_chain(dsl.pool(), &h);
                let seqs: Vec<u64> = blocks.iter().map(|(p, _, _)| p.seq).collect();
                eprintln!("{name}: log header {h:?}; blocks {seqs:?}, end {end:?}");
            }
        }
    }
    let replayed = intent::replay_all(&dsl).unwrap();
    eprintln!("imported at txg {imported}, {replayed} log records replayed");
    let f = check::read_pool(&dsl).unwrap();
    for (name, fs) in &f.fss {
        eprintln!(
            "{name} (dataset {:?}, lineage {:x?}): origin {:?}, snapshots {:?}",
            dsl.dataset_id(name).ok(),
            fs.lineage,
            fs.origin,
            fs.snaps
        );
        for (o, units) in &fs.content {
            eprintln!("  object {o}: {units:x?}");
        }
    }
    eprintln!("{:?}", check::check_log(&entries, &f, imported));
    if std::env::var("BASIN_ZTEST_TAIL").is_ok() {
        for e in entries.iter().rev().take(40).rev() {
            let line = match e {
                log::Entry::Sync { txg, fss, .. } => format!("sync txg {txg}, {} fss", fss.len()),
                log::Entry::Snap { name, .. } => format!("snapshot {name}"),
                log::Entry::Fsync { fs, .. } => format!("fsync {fs}"),
                other => format!("{other:?}"),
            };
            eprintln!("log: {line}");
        }
    }
    describe_leaks(&pool, &dsl);
    pool.crash();
}

/// Prints which block of the synced tree lies at `find` (`vdev:offset`,
/// the offset in hex), with its owner (`BASIN_ZTEST_FIND`; with
/// `BASIN_ZTEST_AT=txg` the pool is examined as it was at that txg).
fn find_owner(pool: &Pool, find: &str) {
    use basin_pool::scan::BlockLister;
    let Some((v, off)) = find.split_once(':') else {
        eprintln!("BASIN_ZTEST_FIND is vdev:offset (hex)");
        return;
    };
    let (v, off): (u32, u64) = (v.parse().unwrap(), u64::from_str_radix(off, 16).unwrap());
    let lister = basin_dmu::dsl::scan::DslLister::new(Arc::new(BlockCache::new(64 << 20).unwrap()));
    let mut hits = 0;
    lister
        .list(pool, 0, u64::MAX, &mut |b| {
            if b.bp.copies().any(|d| d.vdev == v && d.offset == off) {
                hits += 1;
                eprintln!(
                    "find: {find} at txg {}: {:?} owned by {:?}",
                    pool.last_synced_txg(),
                    b.bp,
                    b.owner
                );
            }
        })
        .unwrap();
    eprintln!(
        "find: {find}: {hits} blocks at txg {}",
        pool.last_synced_txg()
    );
}

/// Prints every entry of the space map logs still on disk that touches
/// the 1 MiB around `find` (`vdev:offset`, hex).
fn range_history(pool: &Pool, find: &str) {
    let Some((v, off)) = find.split_once(':') else {
        return;
    };
    let (v, off): (u32, u64) = (v.parse().unwrap(), u64::from_str_radix(off, 16).unwrap());
    let (lo, hi) = (off.saturating_sub(1 << 19), off + (1 << 19));
    for bp in pool.metadata_blocks().unwrap() {
        let Ok(b) = pool.read_block(&bp) else {
            continue;
        };
        let Ok((txg, entries)) = basin_pool::spacemap::decode_log(&b) else {
            continue;
        };
        for e in entries {
            if e.vdev == v && e.offset < hi && e.offset + e.len > lo {
                eprintln!(
                    "range: log of txg {txg}: {:?} {}:{:x}+{:x} (txg {})",
                    e.kind, e.vdev, e.offset, e.len, e.txg
                );
            }
        }
    }
}

/// For each leak the space check finds, what the leaked space holds: an
/// intent log block names its chain, sequence and newest txg.
fn describe_leaks(pool: &Pool, dsl: &DslPool) {
    let blocks = dsl.all_blocks().unwrap();
    let c = pool.check_space(&blocks).unwrap();
    for p in &c.problems {
        eprintln!("space: {p}");
        let Some(rest) = p.strip_prefix("leak: ") else {
            continue;
        };
        let addr = rest.split_whitespace().next().unwrap_or_default();
        let parse = || -> Option<basin_pool::Dva> {
            let (v, r) = addr.split_once(':')?;
            let (off, len) = r.split_once('+')?;
            Some(basin_pool::Dva {
                vdev: v.parse().ok()?,
                offset: u64::from_str_radix(off, 16).ok()?,
                asize: u32::from_str_radix(len, 16).ok()?,
            })
        };
        let Some(dva) = parse() else { continue };
        match pool.read_raw(&dva, basin_dmu::zil::ZIL_BLOCK, &|_| true) {
            Ok(b) if &b[0..8] == b"BASINZLB" => eprintln!(
                "  a log block: chain {:#x}, seq {}, newest txg {}, flags {}",
                u64::from_le_bytes(b[16..24].try_into().unwrap()),
                u64::from_le_bytes(b[24..32].try_into().unwrap()),
                u64::from_le_bytes(b[32..40].try_into().unwrap()),
                u32::from_le_bytes(b[44..48].try_into().unwrap()),
            ),
            Ok(b) => eprintln!("  not a log block: {:02x?}", &b[..32]),
            Err(e) => eprintln!("  unreadable: {e}"),
        }
    }
    // What the space map logs still say of the leaked ranges.
    let leaks: Vec<(u32, u64)> = c
        .problems
        .iter()
        .filter_map(|p| {
            let (v, r) = p.strip_prefix("leak: ")?.split_once(':')?;
            let off = r.split_once('+')?.0;
            Some((v.parse().ok()?, u64::from_str_radix(off, 16).ok()?))
        })
        .collect();
    for bp in pool.metadata_blocks().unwrap() {
        let Ok(b) = pool.read_block(&bp) else {
            continue;
        };
        let Ok((txg, entries)) = basin_pool::spacemap::decode_log(&b) else {
            continue;
        };
        if env_u64("BASIN_ZTEST_DUMPLOG").is_some_and(|t| t == txg) {
            for e in &entries {
                eprintln!(
                    "  log {txg}: {:?} {}:{:x}+{:x} txg {}",
                    e.kind, e.vdev, e.offset, e.len, e.txg
                );
            }
        }
        for e in entries {
            if leaks.iter().any(|&(v, o)| v == e.vdev && o == e.offset) {
                eprintln!("  space map log of txg {txg}: {e:?}");
            }
        }
    }
    for name in dsl.list(None, true, None).unwrap() {
        if let Ok(os) = dsl.objset(&name) {
            let h = os.zil_header();
            if !h.first.is_none() {
                eprintln!("{name}: log header {h:?}");
            }
        }
    }
}
