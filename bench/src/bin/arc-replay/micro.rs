//! The cost of a hit: `get` on a warm cache, on one thread and on several.

use std::convert::Infallible;
use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use basin_arc::{ArcCache, ArcConfig, ArcError, Weighted};
use serde::Serialize;

/// A cached block of 4 KiB (only its weight matters here).
struct Block;

impl Weighted for Block {
    fn weight(&self) -> usize {
        4096
    }
}

/// One measurement.
#[derive(Clone, Debug, Serialize)]
pub struct HitCost {
    /// Threads reading at once.
    pub threads: usize,
    /// Shards of the cache.
    pub shards: usize,
    /// Blocks in the warm cache.
    pub blocks: u64,
    /// Mean time of one `get` on one thread, in nanoseconds (the fastest
    /// repetition: on a shared machine, slower ones measure other tenants).
    pub ns_per_get: f64,
    /// Gets per second over all threads, in millions.
    pub mgets_per_sec: f64,
}

/// Measures `gets` hits per thread on `threads` threads, on a warm cache of
/// `blocks` blocks split into `shards`; the fastest of `reps` repetitions.
pub fn hit_cost(
    threads: usize,
    shards: usize,
    blocks: u64,
    gets: usize,
    reps: usize,
) -> Result<HitCost, ArcError> {
    let cache: Arc<ArcCache<u64, Block>> = Arc::new(ArcCache::new(
        ArcConfig::new(blocks * 4096 * 2).shards(shards),
    )?);
    for _ in 0..2 {
        for k in 0..blocks {
            let _ = cache.get_or_load(k, || Ok::<_, Infallible>(Block));
        }
    }
    // Each thread reads its own pseudo-random sequence of resident keys.
    let keys: Vec<Arc<Vec<u64>>> = (0..threads)
        .map(|t| {
            let mut x = 0x2545_F491_4F6C_DD1Du64 ^ (t as u64 + 1);
            Arc::new(
                (0..gets)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        x % blocks
                    })
                    .collect(),
            )
        })
        .collect();
    let mut samples = Vec::with_capacity(reps);
    for _ in 0..reps.max(1) {
        let start = Arc::new(Barrier::new(threads));
        let handles: Vec<_> = keys
            .iter()
            .map(|ks| {
                let (cache, ks, start) = (Arc::clone(&cache), Arc::clone(ks), Arc::clone(&start));
                std::thread::spawn(move || {
                    start.wait();
                    let t0 = Instant::now();
                    let mut found = 0usize;
                    for k in ks.iter() {
                        found += usize::from(black_box(cache.get(k)).is_some());
                    }
                    (t0.elapsed(), found)
                })
            })
            .collect();
        let mut longest = Duration::ZERO;
        let mut total = Duration::ZERO;
        for h in handles {
            let (d, found) = h
                .join()
                .map_err(|_| ArcError::InvalidConfig("a benchmark thread panicked".into()))?;
            if found != gets {
                return Err(ArcError::InvalidConfig(format!(
                    "warm cache missed {} of {gets} gets",
                    gets - found
                )));
            }
            longest = longest.max(d);
            total += d;
        }
        let ns = total.as_nanos() as f64 / (threads * gets) as f64;
        let mgets = (threads * gets) as f64 / longest.as_secs_f64() / 1e6;
        samples.push((ns, mgets));
    }
    samples.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (ns_per_get, mgets_per_sec) = samples[0];
    Ok(HitCost {
        threads,
        shards,
        blocks,
        ns_per_get,
        mgets_per_sec,
    })
}
