//! The cache through its public API: loads in flight, pins, prefetch,
//! limits, and many threads at once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use basin_arc::{ArcCache, ArcConfig, ArcError, PrefetchConfig, Prefetcher};

type Cache = ArcCache<u64, Vec<u8>>;

fn cache(max: u64, shards: usize) -> Arc<Cache> {
    Arc::new(ArcCache::new(ArcConfig::new(max).min(0).shards(shards)).expect("valid config"))
}

fn block(key: u64, len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len.max(8)];
    v[..8].copy_from_slice(&key.to_le_bytes());
    v
}

fn key_of(v: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&v[..8]);
    u64::from_le_bytes(b)
}

/// Blocks until `cond` holds (the other threads got where the test needs
/// them), failing after a generous deadline instead of hanging.
fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn concurrent_misses_share_one_load() {
    let c = cache(1 << 20, 4);
    let loads = Arc::new(AtomicUsize::new(0));
    let start = Arc::new(Barrier::new(8));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (c, loads, start) = (Arc::clone(&c), Arc::clone(&loads), Arc::clone(&start));
            thread::spawn(move || {
                start.wait();
                let c2 = Arc::clone(&c);
                c.get_or_load(42, move || {
                    loads.fetch_add(1, Ordering::SeqCst);
                    // Hold the read until every other caller is waiting on it.
                    wait_until("7 waiters", || c2.stats().load_waits == 7);
                    Ok::<_, String>(block(42, 4096))
                })
                .expect("loads")
            })
        })
        .collect();
    let got: Vec<Arc<Vec<u8>>> = threads
        .into_iter()
        .map(|t| t.join().expect("no panic"))
        .collect();
    assert_eq!(loads.load(Ordering::SeqCst), 1, "one read for eight misses");
    assert!(got.iter().all(|v| Arc::ptr_eq(v, &got[0])));
    let st = c.stats();
    assert_eq!((st.misses, st.load_waits, st.hits), (8, 7, 0));
    assert!(c.contains(&42));
}

#[test]
fn a_failed_load_is_shared_and_not_cached() {
    let c = cache(1 << 20, 1);
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let c = Arc::clone(&c);
            thread::spawn(move || {
                let c2 = Arc::clone(&c);
                c.get_or_load(7, move || {
                    wait_until("3 waiters", || c2.stats().load_waits == 3);
                    Err::<Vec<u8>, _>(String::from("EIO on vdev 0"))
                })
            })
        })
        .collect();
    for t in threads {
        assert_eq!(
            t.join().expect("no panic").expect_err("fails"),
            "EIO on vdev 0"
        );
    }
    assert!(!c.contains(&7));
    let v = c
        .get_or_load(7, || Ok::<_, String>(block(7, 16)))
        .expect("loads now");
    assert_eq!(key_of(&v), 7);
}

#[test]
fn a_panicking_loader_hands_the_read_to_a_waiter() {
    let c = cache(1 << 20, 1);
    let leader = {
        let c = Arc::clone(&c);
        thread::spawn(move || {
            let c2 = Arc::clone(&c);
            c.get_or_load(9, move || -> Result<Vec<u8>, String> {
                wait_until("a waiter", || c2.stats().load_waits == 1);
                panic!("loader bug");
            })
        })
    };
    // Make sure this thread becomes the waiter, not the leader.
    wait_until("the leader's load", || c.stats().misses == 1);
    let mine = AtomicUsize::new(0);
    let v = c
        .get_or_load(9, || {
            mine.fetch_add(1, Ordering::SeqCst);
            Ok::<_, String>(block(9, 16))
        })
        .expect("loads itself");
    assert!(leader.join().is_err(), "the leader panicked");
    assert_eq!(mine.load(Ordering::SeqCst), 1);
    assert_eq!(key_of(&v), 9);
    assert!(c.contains(&9));
}

#[test]
fn a_waiter_with_another_error_type_loads_itself() {
    let c = cache(1 << 20, 1);
    let leader = {
        let c = Arc::clone(&c);
        thread::spawn(move || {
            let c2 = Arc::clone(&c);
            c.get_or_load(5, move || {
                wait_until("a waiter", || c2.stats().load_waits == 1);
                Err::<Vec<u8>, _>(String::from("bad"))
            })
        })
    };
    wait_until("the leader's load", || c.stats().misses == 1);
    let v = c
        .get_or_load(5, || Ok::<_, u32>(block(5, 16)))
        .expect("own load");
    assert_eq!(key_of(&v), 5);
    assert!(leader.join().expect("no panic").is_err());
}

#[test]
fn a_block_freed_during_its_load_is_not_cached() {
    let c = cache(1 << 20, 1);
    let v = c
        .get_or_load(3, || {
            c.remove(&3);
            Ok::<_, ()>(block(3, 64))
        })
        .expect("loads");
    assert_eq!(key_of(&v), 3);
    assert!(!c.contains(&3));
}

#[test]
fn a_write_during_a_load_wins() {
    let c = cache(1 << 20, 1);
    let old = c
        .get_or_load(3, || {
            c.insert(3, block(333, 64));
            Ok::<_, ()>(block(3, 64))
        })
        .expect("loads");
    assert_eq!(key_of(&old), 3);
    assert_eq!(c.get(&3).map(|v| key_of(&v)), Some(333));
}

#[test]
fn a_demand_read_waits_for_a_prefetch_in_flight() {
    let c = cache(1 << 20, 1);
    let pf = {
        let c = Arc::clone(&c);
        thread::spawn(move || {
            let c2 = Arc::clone(&c);
            c.prefetch(11, move || {
                wait_until("a demand reader", || c2.stats().load_waits == 1);
                Ok::<_, ()>(block(11, 512))
            })
        })
    };
    wait_until("the prefetch", || c.stats().prefetch_misses == 1);
    let v = c
        .get_or_load(11, || -> Result<Vec<u8>, ()> {
            panic!("must not read twice")
        })
        .expect("prefetched");
    assert_eq!(key_of(&v), 11);
    assert_eq!(pf.join().expect("no panic"), Ok(true));
    let st = c.stats();
    assert_eq!(
        (st.prefetch_used, st.mru_entries, st.mfu_entries),
        (1, 1, 0)
    );
    // The block was read once on demand: the next read promotes it.
    assert!(c.get(&11).is_some());
    assert_eq!(c.stats().mfu_entries, 1);
    // A prefetch of a cached block is a prefetch hit and reads nothing.
    assert_eq!(
        c.prefetch(11, || -> Result<Vec<u8>, ()> { panic!("cached") }),
        Ok(false)
    );
    assert_eq!(c.stats().prefetch_hits, 1);
}

#[test]
fn a_failed_prefetch_lets_the_demand_reader_read() {
    let c = cache(1 << 20, 1);
    let pf = {
        let c = Arc::clone(&c);
        thread::spawn(move || {
            let c2 = Arc::clone(&c);
            c.prefetch(12, move || {
                wait_until("a demand reader", || c2.stats().load_waits == 1);
                Err::<Vec<u8>, _>("cancelled")
            })
        })
    };
    wait_until("the prefetch", || c.stats().prefetch_misses == 1);
    let v = c
        .get_or_load(12, || Ok::<_, &str>(block(12, 64)))
        .expect("own read");
    assert_eq!(key_of(&v), 12);
    assert_eq!(pf.join().expect("no panic"), Err("cancelled"));
    assert_eq!(
        c.stats().prefetch_used,
        0,
        "a failed read-ahead served nobody"
    );
}

#[test]
fn held_values_are_not_evicted() {
    let c = cache(4 * 1024, 1);
    let held = c.insert(1, block(1, 1024));
    for k in 2..100 {
        c.insert(k, block(k, 1024));
    }
    assert!(c.contains(&1));
    assert!(c.stats().evict_skipped_pinned > 0);
    assert!(c.stats().size <= 4 * 1024);
    drop(held);
    for k in 100..110 {
        c.insert(k, block(k, 1024));
    }
    assert!(!c.contains(&1));
}

#[test]
fn limits_change_at_run_time() {
    let c = cache(64 * 1024, 4);
    for k in 0..64 {
        c.insert(k, block(k, 1024));
    }
    assert!(matches!(
        c.set_limits(10, 5),
        Err(ArcError::InvalidLimits { min: 10, max: 5 })
    ));
    assert!(matches!(c.set_limits(0, 0), Err(ArcError::ZeroMax)));
    c.set_limits(4096, 16 * 1024).expect("valid");
    let st = c.stats();
    assert_eq!((st.c_min, st.c_max, st.c), (4096, 16 * 1024, 16 * 1024));
    assert!(st.size <= 16 * 1024);
    // Shrinking by set_limits is the operator's doing, not memory pressure.
    assert_eq!(st.memory_given_back, 0);
    // set_target stays within the limits.
    c.set_target(1);
    assert_eq!(c.stats().c, 4096);
    c.set_target(u64::MAX);
    assert_eq!(c.stats().c, 16 * 1024);
    assert_eq!(c.limits(), (4096, 16 * 1024, 16 * 1024));
}

#[test]
fn bad_shard_counts_are_refused() {
    for n in [0usize, 3, 512] {
        assert!(
            Cache::new(ArcConfig::new(1 << 20).shards(n)).is_err(),
            "{n} shards"
        );
    }
    let auto = Cache::new(ArcConfig::new(1 << 20)).expect("valid");
    assert_eq!(auto.shard_count(), 1, "a small cache gets one shard");
}

/// A hot set survives a sequential read of four times the cache, done the
/// way the DMU will do it: demand reads plus read-ahead.
#[test]
fn a_long_sequential_read_does_not_flush_the_hot_set() {
    const BLOCK: usize = 4096;
    let c = cache(1000 * BLOCK as u64, 1);
    for _ in 0..3 {
        for k in 0..500u64 {
            c.get_or_load(k, || Ok::<_, ()>(block(k, BLOCK)))
                .expect("loads");
        }
    }
    let pf = Prefetcher::new(PrefetchConfig::default()).expect("valid");
    let file = 1_000_000u64;
    for b in 0..4000u64 {
        if let Some(ahead) = pf.access(1, b, 1) {
            for a in ahead.filter(|&a| a < 4000) {
                c.prefetch(file + a, || Ok::<_, ()>(block(file + a, BLOCK)))
                    .expect("reads");
            }
        }
        c.get_or_load(file + b, || Ok::<_, ()>(block(file + b, BLOCK)))
            .expect("reads");
    }
    let st = c.stats();
    assert!(
        st.prefetch_used > 3900,
        "read-ahead served the scan: {st:?}"
    );
    let kept = (0..500u64).filter(|k| c.contains(k)).count();
    assert_eq!(kept, 500, "hot blocks lost to the scan");
}

#[test]
fn many_threads_see_consistent_values_and_counters() {
    let c = cache(256 * 1024, 8);
    let threads = 4;
    let ops = 20_000u64;
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let c = Arc::clone(&c);
            thread::spawn(move || {
                let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ t;
                let mut reads = 0u64;
                for _ in 0..ops {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let key = x % 600;
                    let len = 512 + (key as usize % 4) * 512;
                    match x % 10 {
                        0 => {
                            c.remove(&key);
                        }
                        1 => {
                            c.prefetch(key, || Ok::<_, ()>(block(key, len)))
                                .expect("reads");
                        }
                        _ => {
                            let v = c
                                .get_or_load(key, || Ok::<_, ()>(block(key, len)))
                                .expect("reads");
                            assert_eq!(key_of(&v), key, "a reader got another block");
                            reads += 1;
                        }
                    }
                }
                reads
            })
        })
        .collect();
    let reads: u64 = handles
        .into_iter()
        .map(|h| h.join().expect("no panic"))
        .sum();
    let st = c.stats();
    assert_eq!(st.hits + st.misses, reads);
    assert!(st.size <= st.c, "{} > {}", st.size, st.c);
    assert_eq!(st.size, st.mru_size + st.mfu_size);
    assert!(st.hits > 0 && st.evictions > 0);
}

#[test]
fn a_needless_prefetch_is_seen_without_loading_and_counted_as_a_hit() {
    let c = cache(1 << 20, 1);
    assert!(!c.prefetch_needless(&21), "nothing cached yet");
    assert_eq!(c.stats().prefetch_hits, 0);
    c.insert(21, block(21, 512));
    assert!(c.prefetch_needless(&21));
    assert_eq!(c.stats().prefetch_hits, 1);
    // A block being loaded needs no second prefetch either.
    let loading = {
        let c = Arc::clone(&c);
        thread::spawn(move || {
            let c2 = Arc::clone(&c);
            c.get_or_load(22, move || {
                wait_until("the needless check", || c2.stats().prefetch_hits == 2);
                Ok::<_, ()>(block(22, 512))
            })
        })
    };
    wait_until("the load", || {
        !c.prefetch_needless(&23) && c.prefetch_needless(&22)
    });
    assert!(loading.join().expect("no panic").is_ok());
}
