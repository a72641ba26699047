//! What issue 6's figures share: a pool with its dataset layer on several
//! file vdevs (a mirror or a raidz), the bytes each leaf read and wrote,
//! a scan timed from its start to its end, and fio reading the same files
//! side by side.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use basin_dmu::cache::BlockCache;
use basin_dmu::DslPool;
use basin_pool::label::FRONT_RESERVE;
use basin_pool::poolroot::ScanState;
use basin_pool::spec::{DeviceSpec, TopKind, TopSpec};
use basin_pool::{CreateOptions, Pool, VdevSpec};
use serde_json::Value;

use crate::basin::{reimport, tunables, vdev_file, DslEnv, Fill, MIB};
use crate::cleanup::check_interrupted;
use crate::cmd;
use crate::error::{BenchError, IoContext, Result};

/// The dataset every figure writes into.
pub const DS: &str = "data";
/// ARC of the figures' pools: small, so that nothing is read from it
/// that a scan should read from the disk.
const CACHE: u64 = 256 * MIB;

/// A pool on several file vdevs, with its dataset layer.
pub struct ScanEnv {
    /// The pool and its dataset layer (its `vdev` is the first file).
    pub env: DslEnv,
    /// Every vdev file, in the order of the spec.
    pub vdevs: Vec<PathBuf>,
    /// Its dataset, `POOL/data`.
    pub ds: String,
}

/// Bytes a leaf read and wrote, from its engine's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LeafBytes {
    /// Bytes read.
    pub read: u64,
    /// Bytes written.
    pub written: u64,
}

impl ScanEnv {
    /// Creates pool `name` of one top-level vdev of `kind` over `files`
    /// of `bytes` each (sparse), with its dataset layer and dataset,
    /// with lz4 off: the data is incompressible anyway, and the figures
    /// want every byte written to be a byte on disk.
    pub fn create(name: &str, kind: TopKind, files: &[PathBuf], bytes: u64) -> Result<ScanEnv> {
        for f in files {
            vdev_file(f, bytes)?;
        }
        let spec = VdevSpec {
            tops: vec![TopSpec {
                kind,
                devices: files.iter().cloned().map(DeviceSpec::Path).collect(),
            }],
        };
        let pool = Pool::create(
            name,
            &spec,
            &CreateOptions {
                tunables: tunables(),
                command: Some(format!("basin-bench: create {name}")),
                ..Default::default()
            },
        )?;
        let cache = Arc::new(BlockCache::new(CACHE)?);
        let dsl = DslPool::init(pool.clone(), cache, &[])?;
        let ds = format!("{name}/{DS}");
        dsl.create(&ds, None, &[("compression".into(), "off".into())], false)?;
        Ok(ScanEnv {
            env: DslEnv {
                vdev: files[0].clone(),
                pool,
                dsl,
                cache_bytes: CACHE,
            },
            vdevs: files.to_vec(),
            ds,
        })
    }

    /// The pool.
    pub fn pool(&self) -> &Pool {
        &self.env.pool
    }

    /// Writes `bytes` of incompressible data into object `obj` (created),
    /// in 1 MiB transactions, and syncs.
    pub fn fill(&self, obj: u64, bytes: u64, seed: u64) -> Result<()> {
        self.env
            .write_seq(&self.ds, obj, bytes, Fill::Incompressible, seed)?;
        self.env.sync()
    }

    /// Exports and imports again from every vdev file, with an empty ARC.
    pub fn reimport(self) -> Result<ScanEnv> {
        let ScanEnv { env, vdevs, ds } = self;
        let DslEnv {
            vdev,
            pool,
            dsl,
            cache_bytes,
        } = env;
        drop(dsl);
        let (pool, _) = reimport(pool, &vdevs)?;
        let cache = Arc::new(BlockCache::new(cache_bytes)?);
        let dsl = DslPool::open(pool.clone(), cache)?;
        Ok(ScanEnv {
            env: DslEnv {
                vdev,
                pool,
                dsl,
                cache_bytes,
            },
            vdevs,
            ds,
        })
    }

    /// Bytes read and written so far by the leaf at `path` (zeros for a
    /// leaf without an engine).
    pub fn leaf_bytes(&self, path: &Path) -> LeafBytes {
        let p = path.to_string_lossy();
        self.pool()
            .vdevs()
            .iter()
            .flat_map(|t| t.leaves())
            .filter(|l| l.path == p)
            .filter_map(|l| l.raw_engine())
            .map(|e| {
                let c = e.counters();
                LeafBytes {
                    read: c.read_bytes.load(Ordering::Relaxed),
                    written: c.write_bytes.load(Ordering::Relaxed),
                }
            })
            .next()
            .unwrap_or_default()
    }

    /// [`ScanEnv::leaf_bytes`] of every vdev file.
    pub fn all_leaf_bytes(&self) -> Vec<LeafBytes> {
        self.vdevs.iter().map(|v| self.leaf_bytes(v)).collect()
    }

    /// Closes the pool and removes every vdev file (also those a replace
    /// added: `extra`).
    pub fn destroy(self, extra: &[PathBuf]) -> Result<()> {
        let pool = self.env.pool.clone();
        pool.set_syncer(None);
        let r = pool.destroy();
        drop(self.env);
        for f in self.vdevs.iter().chain(extra) {
            let _ = std::fs::remove_file(f);
        }
        r.map_err(Into::into)
    }
}

/// Waits for the running scan of `pool` to end, up to `limit`; returns
/// its final state, which must say "finished", and how long after `t0`
/// its listing of blocks ended (when it knew how much to examine).
pub fn wait_scan(pool: &Pool, t0: Instant, limit: Duration) -> Result<(ScanState, f64)> {
    let t = Instant::now();
    let mut listed: Option<f64> = None;
    while pool.scan_running() {
        if listed.is_none() && pool.scan_state().is_some_and(|s| s.to_examine > 0) {
            listed = Some(t0.elapsed().as_secs_f64());
        }
        check_interrupted()?;
        if t.elapsed() > limit {
            return Err(BenchError::Other(format!(
                "the scan of {} still runs after {} s",
                pool.name(),
                limit.as_secs()
            )));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    pool.scan_wait();
    let s = pool
        .scan_state()
        .ok_or_else(|| BenchError::Other(format!("{}: no scan recorded", pool.name())))?;
    if s.state != "finished" {
        return Err(BenchError::Other(format!(
            "the {} of {} ended {} (examined {} of {} bytes)",
            s.func,
            pool.name(),
            s.state,
            s.examined,
            s.to_examine
        )));
    }
    if s.errors > 0 {
        return Err(BenchError::Other(format!(
            "the {} of {} found {} errors on healthy vdevs",
            s.func,
            pool.name(),
            s.errors
        )));
    }
    let listed = listed.unwrap_or_else(|| t0.elapsed().as_secs_f64());
    Ok((s, listed))
}

/// The fio command of [`fio_read`], for the report.
pub const FIO_LINE: &str = "fio --rw=read --bs=1M --direct=1 --ioengine=io_uring --iodepth=16, one job per vdev file, all at once, each reading from the end of the front labels as many bytes as the pool read from that file";

/// Reads `bytes[i]` from `files[i]` sequentially with fio, every file at
/// once (one job each, O_DIRECT, io_uring, 16 in flight, 1 MiB), starting
/// where the pool's allocatable space starts; returns the seconds until
/// the last job ended.
pub fn fio_read(files: &[PathBuf], bytes: &[u64]) -> Result<f64> {
    let mut args: Vec<String> = vec![
        "--output-format=json".into(),
        "--rw=read".into(),
        "--bs=1M".into(),
        "--direct=1".into(),
        "--ioengine=io_uring".into(),
        "--iodepth=16".into(),
        "--invalidate=1".into(),
        "--fallocate=none".into(),
        format!("--offset={FRONT_RESERVE}"),
    ];
    let mut jobs = 0;
    for (i, (f, &b)) in files.iter().zip(bytes).enumerate() {
        // fio wants whole blocks: round up to 1 MiB.
        let n = b.div_ceil(MIB) * MIB;
        if n == 0 {
            continue;
        }
        args.push(format!("--name=scan-peer-{i}"));
        args.push(format!("--filename={}", f.display()));
        args.push(format!("--size={n}"));
        jobs += 1;
    }
    if jobs == 0 {
        return Ok(0.0);
    }
    let out = cmd::run("fio", &args)?;
    let bad = |why: String| BenchError::Fio {
        job: "scan-peer".into(),
        why,
    };
    let start = out
        .find('{')
        .ok_or_else(|| bad("no JSON in its output".into()))?;
    let v: Value = serde_json::from_str(&out[start..]).map_err(|e| bad(e.to_string()))?;
    let list = v
        .get("jobs")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("no jobs".into()))?;
    let mut longest = 0.0f64;
    for j in list {
        if j.get("error").and_then(Value::as_i64).unwrap_or(0) != 0 {
            return Err(bad(format!("a job failed: {j}")));
        }
        // Milliseconds the job ran.
        let ms = j
            .get("read")
            .and_then(|r| r.get("runtime"))
            .and_then(Value::as_f64)
            .ok_or_else(|| bad("a job has no read runtime".into()))?;
        longest = longest.max(ms / 1e3);
    }
    Ok(longest)
}

/// Makes sure `dir` exists.
pub fn ensure_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).ctx(|| format!("creating {}", dir.display()))
}
