//! Issue 2's CPU figure: checksum and compression throughput per core, raw
//! (blake3, crc32c, lz4_flex called directly on one thread) against the
//! same work through the pool's write pipeline (compress, checksum,
//! allocate, queue) on a device that forgets data blocks, so only CPU is
//! measured. Per core means bytes over CPU seconds (user + system, every
//! thread of the process), so the figure holds on a busy machine. The goal
//! is a pipeline overhead under 10%.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use basin_pool::spec::{DeviceSpec, TopKind, TopSpec};
use basin_pool::vdev::BlockDevice;
use basin_pool::{
    AlignedBuf, BlockType, ChecksumType, Compression, CreateOptions, Pool, VdevSpec, WriteProps,
};

use crate::basin::discard::DiscardDevice;
use crate::basin::{tunables, Fill, Goal, XorShift, MIB};
use crate::cleanup::check_interrupted;
use crate::error::{BenchError, Result};
use crate::stats::{median, sig3};
use crate::workload::{size, Mode};

/// The goal: overhead of the pipeline over the raw functions.
pub const GOAL: f64 = 0.10;
const BATCH: usize = 32;

/// CPU time of this process (every thread), user + system.
pub fn process_cpu() -> Duration {
    // SAFETY: getrusage fills the zeroed struct we own.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// One configuration of the pipeline.
#[derive(Clone, Copy, Debug)]
struct Config {
    name: &'static str,
    checksum: ChecksumType,
    compression: Compression,
    data: Fill,
}

const CONFIGS: [Config; 4] = [
    Config {
        name: "blake3, no compression, incompressible",
        checksum: ChecksumType::Blake3,
        compression: Compression::Off,
        data: Fill::Incompressible,
    },
    Config {
        name: "crc32c, no compression, incompressible",
        checksum: ChecksumType::Crc32c,
        compression: Compression::Off,
        data: Fill::Incompressible,
    },
    Config {
        name: "blake3 + lz4, half-compressible",
        checksum: ChecksumType::Blake3,
        compression: Compression::Lz4,
        data: Fill::Half,
    },
    Config {
        name: "blake3 + lz4 attempted, incompressible",
        checksum: ChecksumType::Blake3,
        compression: Compression::Lz4,
        data: Fill::Incompressible,
    },
];

/// The raw work of `c` on every buffer, on this thread; bytes per CPU
/// second.
fn raw(c: &Config, bufs: &[Vec<u8>]) -> f64 {
    let bytes: u64 = bufs.iter().map(|b| b.len() as u64).sum();
    let mut out = vec![0u8; lz4_flex::block::get_maximum_output_size(MIB as usize)];
    let mut sink = 0u8;
    let t = process_cpu();
    for b in bufs {
        let data: &[u8] = match c.compression {
            Compression::Lz4 => {
                let n = lz4_flex::block::compress_into(b, &mut out).unwrap_or(0);
                if n > 0 && n < b.len() - b.len() / 8 {
                    &out[..n]
                } else {
                    b
                }
            }
            _ => b,
        };
        sink ^= match c.checksum {
            ChecksumType::Blake3 => blake3::hash(data).as_bytes()[0],
            _ => crc32c::crc32c(data) as u8,
        };
    }
    let secs = (process_cpu() - t).as_secs_f64();
    std::hint::black_box(sink);
    bytes as f64 / secs
}

/// CPU seconds to free buffers like the ones handed to the pool (the
/// pipeline frees them once written; the raw loop frees nothing).
fn free_cost(bufs: &[Vec<u8>]) -> f64 {
    let spare: Vec<AlignedBuf> = bufs
        .iter()
        .map(|b| AlignedBuf::from_slice_padded(b, b.len()))
        .collect();
    let t = process_cpu();
    drop(spare);
    (process_cpu() - t).as_secs_f64()
}

/// The same through a pool on a [`DiscardDevice`]; bytes per CPU second,
/// and the CPU seconds it took.
fn through_pool(c: &Config, bufs: &[Vec<u8>]) -> Result<(f64, f64)> {
    let bytes: u64 = bufs.iter().map(|b| b.len() as u64).sum();
    let dev = Arc::new(DiscardDevice::new("discard0", bytes * 2 + (1 << 30)));
    let spec = VdevSpec {
        tops: vec![TopSpec {
            kind: TopKind::Single,
            devices: vec![DeviceSpec::Device(dev.clone() as Arc<dyn BlockDevice>)],
        }],
    };
    let pool = Pool::create(
        "benchcpu",
        &spec,
        &CreateOptions {
            tunables: basin_pool::PoolTunables {
                heartbeat: false,
                guid_lock: false,
                ..tunables()
            },
            ..Default::default()
        },
    )?;
    let props = WriteProps {
        checksum: c.checksum,
        compression: c.compression,
        ..WriteProps::new(BlockType::TEST_DATA)
    };
    // The buffers handed over are built before the clock starts.
    let mut batches: Vec<Vec<(AlignedBuf, WriteProps)>> = bufs
        .chunks(BATCH)
        .map(|ch| {
            ch.iter()
                .map(|b| (AlignedBuf::from_slice_padded(b, b.len()), props))
                .collect()
        })
        .collect();
    let t = process_cpu();
    for batch in batches.drain(..) {
        check_interrupted()?;
        let hold = pool.txg().hold();
        for r in pool.write_blocks(hold.txg(), batch) {
            r?;
        }
        drop(hold);
    }
    pool.sync()?;
    let secs = (process_cpu() - t).as_secs_f64();
    pool.destroy()?;
    if dev.discarded() == 0 {
        return Err(BenchError::Other(
            "the pipeline figure wrote no data block: the discard device kept everything".into(),
        ));
    }
    Ok((bytes as f64 / secs, secs))
}

/// Runs the figure.
pub fn run(_dir: &Path, mode: &Mode) -> Result<Vec<Goal>> {
    let n = (mode.pipeline_bytes / MIB).max(8) as usize;
    let mut goals = Vec::new();
    let mut rng = XorShift::new(9);
    for c in CONFIGS {
        eprintln!("  pipeline / {}", c.name);
        let bufs: Vec<Vec<u8>> = (0..n)
            .map(|_| {
                let mut b = vec![0u8; MIB as usize];
                c.data.fill(&mut rng, &mut b);
                b
            })
            .collect();
        let mut raws = Vec::new();
        let mut pipes = Vec::new();
        let mut frees = Vec::new();
        for _ in 0..mode.runs {
            raws.push(raw(&c, &bufs) / 1e6);
            let (rate, secs) = through_pool(&c, &bufs)?;
            pipes.push(rate / 1e6);
            frees.push(free_cost(&bufs) / secs);
        }
        let r = median(&raws).unwrap_or(f64::NAN);
        let p = median(&pipes).unwrap_or(0.0);
        let overhead = 1.0 - p / r;
        let free_share = median(&frees).unwrap_or(0.0);
        let without_frees = 1.0 - p / (1.0 - free_share) / r;
        goals.push(Goal {
            issue: 2,
            what: format!("write pipeline CPU per core: {}", c.name),
            value: format!(
                "{:.1}% overhead ({} vs raw {} MB/s per core)",
                overhead * 100.0,
                sig3(p),
                sig3(r)
            ),
            goal: format!("< {:.0}%", GOAL * 100.0),
            met: mode.is_full().then_some(overhead < GOAL),
            detail: format!(
                "{} of 1 MiB blocks; MB per CPU second, raw runs {:?}, pipeline runs {:?}; the pipeline runs on the pool's worker threads into a device that drops data blocks, and frees the buffers handed to it: {:.0}% of its CPU (overhead without it: {:.1}%)",
                size(n as u64 * MIB),
                super::poolwrite::round(&raws),
                super::poolwrite::round(&pipes),
                free_share * 100.0,
                without_frees * 100.0
            ),
        });
    }
    Ok(goals)
}
