//! Synthetic traces with known shapes.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::trace::Trace;

/// The seed of every synthetic trace, so that runs are reproducible.
pub const SEED: u64 = 0x0A5C_2003;

/// A loop over `len` pages, `passes` times: the classic LRU worst case when
/// `len` is a little larger than the cache.
pub fn looping(len: u64, passes: u32) -> Trace {
    let pages = (0..passes).flat_map(|_| 0..len).collect();
    Trace::from_pages(&format!("loop {len}"), pages)
}

/// A loop over `len` pages, `passes` times, each loop read followed by a
/// read of one of `hot` other pages at random: a loop sharing the cache
/// with a working set.
pub fn looping_with_hot_set(len: u64, hot: u64, passes: u32) -> Trace {
    let mut rng = StdRng::seed_from_u64(SEED);
    let mut pages = Vec::with_capacity(2 * len as usize * passes as usize);
    for _ in 0..passes {
        for p in 0..len {
            pages.push(1 << 40 | p);
            pages.push(rng.gen_range(0..hot));
        }
    }
    Trace::from_pages(&format!("loop {len} + hot {hot}"), pages)
}

/// A hot set of `hot` pages read at random, `hot_reads` reads at a time,
/// between sequential scans of `scan` never-seen-again pages; `rounds` times.
pub fn hot_and_scans(hot: u64, hot_reads: u64, scan: u64, rounds: u32) -> Trace {
    let mut rng = StdRng::seed_from_u64(SEED);
    let mut pages = Vec::new();
    let mut next_scan = 1 << 40;
    for _ in 0..rounds {
        pages.extend((0..hot_reads).map(|_| rng.gen_range(0..hot)));
        pages.extend(next_scan..next_scan + scan);
        next_scan += scan;
    }
    Trace::from_pages(&format!("hot {hot} + scans {scan}"), pages)
}

/// `reads` reads of `universe` pages with Zipf-like popularity: page `i` is
/// read with probability proportional to `1 / (i + 1)^alpha`. Page numbers
/// are scattered so that popularity does not follow the numbering.
pub fn zipf(universe: u64, alpha: f64, reads: u64) -> Trace {
    let mut rng = StdRng::seed_from_u64(SEED);
    let mut cdf = Vec::with_capacity(universe as usize);
    let mut sum = 0.0;
    for i in 0..universe {
        sum += 1.0 / ((i + 1) as f64).powf(alpha);
        cdf.push(sum);
    }
    let pages = (0..reads)
        .map(|_| {
            let u = rng.gen::<f64>() * sum;
            let rank = cdf.partition_point(|&c| c < u) as u64;
            rank.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 20
        })
        .collect();
    Trace::from_pages(&format!("zipf {alpha} over {universe}"), pages)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let l = looping(5, 3);
        assert_eq!(l.accesses(), 15);
        assert_eq!(l.unique_pages(), 5);

        let lh = looping_with_hot_set(20, 5, 3);
        assert_eq!(lh.accesses(), 120);
        assert_eq!(lh.unique_pages(), 25);

        let s = hot_and_scans(10, 100, 50, 4);
        assert_eq!(s.accesses(), 4 * 150);
        assert_eq!(s.unique_pages(), 10 + 4 * 50);

        let z = zipf(1000, 1.0, 20_000);
        let top = z.pages().next();
        assert!(top.is_some());
        let hottest = 0u64.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 20;
        let share = z.pages().filter(|&p| p == hottest).count() as f64 / 20_000.0;
        // H(1000) is about 7.49, so rank 0 gets about 13%.
        assert!((0.11..0.16).contains(&share), "{share}");
    }

    #[test]
    fn reproducible() {
        let a: Vec<u64> = zipf(100, 0.9, 1000).pages().collect();
        let b: Vec<u64> = zipf(100, 0.9, 1000).pages().collect();
        assert_eq!(a, b);
    }
}
