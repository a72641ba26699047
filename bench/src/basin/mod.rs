//! Basin measured in process, with no daemon: the pool on a file vdev in
//! the work directory (same disk as the peers), with the pool's default
//! tunables (O_DIRECT and io_uring on), and the DMU and dataset layer on
//! top. These give Basin's rows until its FUSE layer mounts, and the
//! figures the other issues set goals for.

pub mod arcread;
pub mod discard;
pub mod dmu_row;
pub mod dsl;
pub mod import;
pub mod pipeline;
pub mod poolwrite;
pub mod resilver;
pub mod scanenv;
pub mod scrub;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use basin_dmu::cache::BlockCache;
use basin_dmu::{DslPool, ObjectType};
use basin_pool::import::scan_paths;
use basin_pool::spec::{DeviceSpec, TopKind, TopSpec};
use basin_pool::{CreateOptions, ImportOptions, Pool, PoolTunables, VdevSpec};
use serde::{Deserialize, Serialize};

use crate::error::{BenchError, IoContext, Result};

/// One MiB.
pub const MIB: u64 = 1 << 20;

/// The pool tunables of every in-process measurement: the defaults
/// (O_DIRECT, io_uring, heartbeat, host lock), as basind would use.
pub fn tunables() -> PoolTunables {
    PoolTunables::default()
}

/// A figure with the goal an issue set for it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Goal {
    /// The issue that sets the goal.
    pub issue: u32,
    /// What is measured.
    pub what: String,
    /// The figure, formatted with its unit.
    pub value: String,
    /// The goal, in words.
    pub goal: String,
    /// Met, not met, or not judged (quick mode, sizes too small).
    pub met: Option<bool>,
    /// How it was measured; the raw numbers.
    pub detail: String,
}

/// Creates a sparse file of `bytes` for a vdev.
pub fn vdev_file(path: &Path, bytes: u64) -> Result<()> {
    let _ = std::fs::remove_file(path);
    let f = std::fs::File::create(path).ctx(|| format!("creating {}", path.display()))?;
    f.set_len(bytes)
        .ctx(|| format!("sizing {}", path.display()))
}

/// Creates pool `name` on one new file vdev `vdev` of `bytes`.
pub fn create_pool(name: &str, vdev: &Path, bytes: u64) -> Result<Pool> {
    vdev_file(vdev, bytes)?;
    let spec = VdevSpec {
        tops: vec![TopSpec {
            kind: TopKind::Single,
            devices: vec![DeviceSpec::Path(vdev.to_path_buf())],
        }],
    };
    Ok(Pool::create(
        name,
        &spec,
        &CreateOptions {
            tunables: tunables(),
            command: Some(format!("basin-bench: create {name}")),
            ..Default::default()
        },
    )?)
}

/// Exports `pool` and imports it again from `vdevs`; returns the new
/// handle and the time of the scan and import (not of the export).
pub fn reimport(pool: Pool, vdevs: &[PathBuf]) -> Result<(Pool, Duration)> {
    let name = pool.name().to_string();
    pool.sync()?;
    pool.set_syncer(None);
    pool.export()?;
    drop(pool);
    let t = Instant::now();
    let found = scan_paths(vdevs.iter().cloned());
    let c = found
        .iter()
        .find(|c| c.name == name)
        .ok_or_else(|| BenchError::Other(format!("pool {name} not found on {vdevs:?}")))?;
    let pool = Pool::import(
        c,
        &ImportOptions {
            tunables: tunables(),
            ..Default::default()
        },
    )?;
    Ok((pool, t.elapsed()))
}

/// A pool with its dataset layer, on one file vdev.
pub struct DslEnv {
    /// The vdev file.
    pub vdev: PathBuf,
    /// The pool.
    pub pool: Pool,
    /// Its dataset layer.
    pub dsl: Arc<DslPool>,
    /// ARC size, bytes.
    pub cache_bytes: u64,
}

impl DslEnv {
    /// Creates pool `name` on `vdev` with a dataset layer and an ARC of
    /// `cache_bytes`.
    pub fn create(name: &str, vdev: &Path, bytes: u64, cache_bytes: u64) -> Result<DslEnv> {
        let pool = create_pool(name, vdev, bytes)?;
        let cache = Arc::new(BlockCache::new(cache_bytes)?);
        let dsl = DslPool::init(pool.clone(), cache, &[])?;
        Ok(DslEnv {
            vdev: vdev.to_path_buf(),
            pool,
            dsl,
            cache_bytes,
        })
    }

    /// Exports and imports again with an empty ARC; returns the time of
    /// the scan, the pool import and the opening of the dataset layer.
    pub fn reimport(self) -> Result<(DslEnv, Duration)> {
        let DslEnv {
            vdev,
            pool,
            dsl,
            cache_bytes,
        } = self;
        drop(dsl);
        let (pool, t_import) = reimport(pool, std::slice::from_ref(&vdev))?;
        let t = Instant::now();
        let cache = Arc::new(BlockCache::new(cache_bytes)?);
        let dsl = DslPool::open(pool.clone(), cache)?;
        let d = t_import + t.elapsed();
        Ok((
            DslEnv {
                vdev,
                pool,
                dsl,
                cache_bytes,
            },
            d,
        ))
    }

    /// Writes `data` at `off` of object `obj` of dataset `ds` (created
    /// when missing), in its own transaction, as a FUSE write would.
    pub fn write(&self, ds: &str, obj: u64, off: u64, data: &[u8]) -> Result<()> {
        let os = self.dsl.objset(ds)?;
        let id = self.dsl.dataset_id(ds)?;
        let tx = self.dsl.assign(id, data.len() as u64, false)?;
        if !os.exists(obj)? {
            os.claim_object(tx.txg(), obj, ObjectType::PLAIN_FILE, 512, 0, &[])?;
        }
        os.write(tx.txg(), obj, off, data)?;
        Ok(())
    }

    /// Writes `bytes` sequentially into `obj` in 1 MiB writes of `kind`.
    pub fn write_seq(&self, ds: &str, obj: u64, bytes: u64, kind: Fill, seed: u64) -> Result<()> {
        let mut buf = vec![0u8; MIB as usize];
        let mut rng = XorShift::new(seed);
        let mut off = 0;
        while off < bytes {
            crate::cleanup::check_interrupted()?;
            let n = (bytes - off).min(MIB) as usize;
            kind.fill(&mut rng, &mut buf[..n]);
            self.write(ds, obj, off, &buf[..n])?;
            off += n as u64;
        }
        Ok(())
    }

    /// Frees object `obj` of `ds`, if it exists.
    pub fn free(&self, ds: &str, obj: u64) -> Result<()> {
        let os = self.dsl.objset(ds)?;
        if !os.exists(obj)? {
            return Ok(());
        }
        let id = self.dsl.dataset_id(ds)?;
        let tx = self.dsl.assign(id, 0, true)?;
        os.free_object(tx.txg(), obj)?;
        Ok(())
    }

    /// Syncs the pool.
    pub fn sync(&self) -> Result<()> {
        self.pool.sync()?;
        Ok(())
    }

    /// Syncs, then closes the pool (exported) and removes the vdev.
    pub fn destroy(self) -> Result<()> {
        self.pool.set_syncer(None);
        let r = self.pool.destroy();
        drop(self.dsl);
        let _ = std::fs::remove_file(&self.vdev);
        r.map_err(Into::into)
    }
}

/// What written data looks like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fill {
    /// Random bytes.
    Incompressible,
    /// Each 4 KiB: 2 KiB random, 2 KiB zeros (as fio's
    /// buffer_compress_percentage=50).
    Half,
}

impl Fill {
    /// Fills `buf`.
    pub fn fill(self, rng: &mut XorShift, buf: &mut [u8]) {
        match self {
            Fill::Incompressible => rng.fill(buf),
            Fill::Half => {
                for chunk in buf.chunks_mut(4096) {
                    let h = chunk.len() / 2;
                    rng.fill(&mut chunk[..h]);
                    chunk[h..].fill(0);
                }
            }
        }
    }
}

/// A fast generator for benchmark data (xorshift64*), not for anything
/// that needs real randomness.
pub struct XorShift(u64);

impl XorShift {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> XorShift {
        XorShift(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Fills `buf` with pseudo-random bytes.
    pub fn fill(&mut self, buf: &mut [u8]) {
        let mut chunks = buf.chunks_exact_mut(8);
        for c in &mut chunks {
            c.copy_from_slice(&self.next_u64().to_le_bytes());
        }
        let rest = chunks.into_remainder();
        let v = self.next_u64().to_le_bytes();
        let n = rest.len();
        rest.copy_from_slice(&v[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_compressible_data_compresses_about_two_to_one() {
        let mut rng = XorShift::new(1);
        let mut half = vec![0u8; MIB as usize];
        Fill::Half.fill(&mut rng, &mut half);
        let c = lz4_flex::block::compress(&half);
        let r = half.len() as f64 / c.len() as f64;
        assert!((1.8..2.2).contains(&r), "ratio {r}");
        let mut inc = vec![0u8; MIB as usize];
        Fill::Incompressible.fill(&mut rng, &mut inc);
        assert!(lz4_flex::block::compress(&inc).len() >= inc.len());
    }
}
