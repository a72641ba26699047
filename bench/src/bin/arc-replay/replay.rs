//! Replaying a trace through ARC and through LRU.

use std::collections::hash_map::DefaultHasher;
use std::convert::Infallible;
use std::hash::BuildHasherDefault;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use basin_arc::{ArcCache, ArcConfig, ArcError, ArcStats, Weighted};
use serde::Serialize;

use crate::lru::Lru;
use crate::trace::Trace;

/// The weight of every page of a replay, in bytes. The cache counts bytes
/// and adapts `p` by `weight * |B2| / |B1|` bytes, so with pages of many
/// bytes the adaptation step keeps the fraction that the paper's real-valued
/// `p` keeps (with one-byte pages it would be rounded down to whole pages).
pub const PAGE_BYTES: u64 = 4096;

/// A page of the replay: every page weighs the same.
pub struct Page;

impl Weighted for Page {
    fn weight(&self) -> usize {
        PAGE_BYTES as usize
    }
}

/// Which cache a run uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Policy {
    /// Plain LRU.
    Lru,
    /// Basin's ARC with this many shards (1 = the paper's ARC exactly).
    Arc(usize),
}

/// The outcome of one run.
#[derive(Clone, Debug, Serialize)]
pub struct Run {
    /// Trace name.
    pub trace: String,
    /// Cache size in pages.
    pub size: u64,
    /// The policy.
    pub policy: Policy,
    /// Hits over page accesses, in percent.
    pub hit_percent: f64,
    /// ARC's final counters (ARC runs only; sizes in bytes, `PAGE_BYTES`
    /// a page).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats: Option<ArcStats>,
}

/// Replays `trace` through a cache of `size` pages under `policy`.
pub fn run(trace: &Trace, size: u64, policy: Policy) -> Result<Run, ArcError> {
    let (hits, accesses, stats) = match policy {
        Policy::Lru => {
            let mut lru = Lru::new(size as usize);
            let mut hits = 0u64;
            let mut n = 0u64;
            for p in trace.pages() {
                hits += u64::from(lru.access(p));
                n += 1;
            }
            (hits, n, None)
        }
        Policy::Arc(shards) => {
            // A fixed hasher, so that the split into shards (and so the
            // sharded hit ratio) is the same on every run.
            let cache: ArcCache<u64, Page, BuildHasherDefault<DefaultHasher>> =
                ArcCache::with_hasher(
                    ArcConfig::new(size * PAGE_BYTES).min(0).shards(shards),
                    BuildHasherDefault::default(),
                )?;
            for p in trace.pages() {
                // A miss "reads" the page: the loader cannot fail.
                let _ = cache.get_or_load(p, || Ok::<_, Infallible>(Page));
            }
            let st = cache.stats();
            (st.hits, st.reads(), Some(st))
        }
    };
    Ok(Run {
        trace: trace.name.clone(),
        size,
        policy,
        hit_percent: if accesses == 0 {
            0.0
        } else {
            100.0 * hits as f64 / accesses as f64
        },
        stats,
    })
}

/// Runs every `(trace, size, policy)` job on `workers` threads; results
/// come back in job order.
pub fn run_all(
    traces: &[&Trace],
    jobs: &[(usize, u64, Policy)],
    workers: usize,
) -> Result<Vec<Run>, ArcError> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<Run, ArcError>>>> =
        Mutex::new((0..jobs.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..workers.max(1) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&(t, size, policy)) = jobs.get(i) else {
                    return;
                };
                let r = run(traces[t], size, policy);
                if let Ok(mut all) = results.lock() {
                    all[i] = Some(r);
                }
            });
        }
    });
    let all = results.into_inner().unwrap_or_else(|e| e.into_inner());
    all.into_iter()
        .map(|r| {
            r.unwrap_or_else(|| Err(ArcError::InvalidConfig("a replay job did not run".into())))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth;

    fn ratio(t: &Trace, size: u64, p: Policy) -> f64 {
        run(t, size, p).expect("runs").hit_percent
    }

    #[test]
    fn arc_keeps_the_hot_set_through_scans_and_lru_does_not() {
        let t = synth::hot_and_scans(500, 2000, 1000, 10);
        let (lru, arc) = (ratio(&t, 600, Policy::Lru), ratio(&t, 600, Policy::Arc(1)));
        assert!(arc > lru + 10.0, "ARC {arc:.1}% vs LRU {lru:.1}%");
    }

    #[test]
    fn both_policies_hit_everything_once_it_fits() {
        let t = synth::looping(100, 10);
        assert!((ratio(&t, 100, Policy::Lru) - 90.0).abs() < 1e-9);
        assert!((ratio(&t, 100, Policy::Arc(1)) - 90.0).abs() < 1e-9);
    }

    #[test]
    fn jobs_come_back_in_order() {
        let (a, b) = (synth::looping(10, 2), synth::looping(20, 2));
        let jobs = vec![
            (1, 30, Policy::Lru),
            (0, 5, Policy::Arc(1)),
            (0, 30, Policy::Arc(2)),
        ];
        let runs = run_all(&[&a, &b], &jobs, 2).expect("runs");
        assert_eq!(runs.len(), 3);
        assert_eq!((runs[0].trace.as_str(), runs[0].size), ("loop 20", 30));
        assert_eq!(runs[1].policy, Policy::Arc(1));
        assert!(runs[2].stats.is_some() && runs[0].stats.is_none());
    }
}
