//! Step-by-step equivalence: paper vs reference vs the real cache.

use std::sync::Arc;

use proptest::prelude::*;

use super::*;
use crate::list::ListId;
use crate::state::{ArcState, InsertKind};
use crate::{ArcCache, ArcConfig, Weighted};

const LISTS: [ListId; 4] = [ListId::T1, ListId::T2, ListId::B1, ListId::B2];

#[derive(Clone, Debug)]
enum Op {
    /// Demand read, loading `weight` bytes on a miss.
    Access(u64, u64),
    /// Demand lookup that keeps the value (pins it) on a hit.
    Hold(u64),
    /// Drop the n-th held value (modulo the number held).
    Release(usize),
    Prefetch(u64, u64),
    Remove(u64),
    SetC(u64),
}

fn op(keys: u64, max_w: u64, max_c: u64) -> impl Strategy<Value = Op> {
    prop_oneof![
        12 => (0..keys, 1..=max_w).prop_map(|(k, w)| Op::Access(k, w)),
        2 => (0..keys).prop_map(Op::Hold),
        2 => any::<usize>().prop_map(Op::Release),
        2 => (0..keys, 1..=max_w).prop_map(|(k, w)| Op::Prefetch(k, w)),
        1 => (0..keys).prop_map(Op::Remove),
        1 => (1..=max_c).prop_map(Op::SetC),
    ]
}

/// Holders of a removed block keep its value, but a block loaded again
/// under the same key is a new entry that they do not pin.
fn unpin_removed<T>(model: &mut RefArc, held: &mut [(u64, Arc<T>, bool)], key: u64) {
    for h in held.iter_mut().filter(|h| h.0 == key && h.2) {
        model.unpin(key);
        h.2 = false;
    }
}

fn state_keys(s: &ArcState<u64, u64>) -> [Vec<u64>; 4] {
    LISTS.map(|l| s.keys(l))
}

/// Runs `ops` on `ArcState` and `RefArc` side by side, comparing after
/// every step. Returns a description of the first difference.
fn compare_state(c: u64, ops: &[Op]) -> Result<(), String> {
    let mut real: ArcState<u64, u64> = ArcState::new(c);
    let mut model = RefArc::new(c);
    // (key, value, still pinning the cached entry)
    let mut held: Vec<(u64, Arc<u64>, bool)> = Vec::new();
    // Once something was pinned the cache may overflow until later
    // insertions evict; before that it never exceeds c.
    let mut ever_pinned = false;
    for (step, op) in ops.iter().enumerate() {
        let (got, want) = match *op {
            Op::Access(k, w) => {
                let hit = real.lookup(k, &k, true).is_some();
                if !hit {
                    real.insert(k, k, Arc::new(k), w, InsertKind::Demand);
                }
                (hit, model.access(k, w))
            }
            Op::Hold(k) => {
                let got = real.lookup(k, &k, true);
                let want = model.lookup(k);
                if let Some(v) = &got {
                    held.push((k, Arc::clone(v), true));
                    model.pin(k);
                    ever_pinned = true;
                }
                (got.is_some(), want)
            }
            Op::Release(i) => {
                if !held.is_empty() {
                    let (k, _, attached) = held.remove(i % held.len());
                    if attached {
                        model.unpin(k);
                    }
                }
                (true, true)
            }
            Op::Prefetch(k, w) => {
                let resident = real.residency(k, &k).is_some_and(ListId::is_resident);
                if !resident {
                    real.insert(k, k, Arc::new(k), w, InsertKind::Prefetch);
                }
                (!resident, model.prefetch(k, w))
            }
            Op::Remove(k) => {
                real.remove(k, &k);
                model.remove(k);
                unpin_removed(&mut model, &mut held, k);
                (true, true)
            }
            Op::SetC(c) => {
                real.set_c(c);
                model.set_c(c);
                (true, true)
            }
        };
        real.take_graveyard();
        let ctx = || format!("step {step} ({op:?})");
        if got != want {
            return Err(format!("{}: real says {got}, reference {want}", ctx()));
        }
        if state_keys(&real) != model.keys() {
            return Err(format!(
                "{}: lists differ\n real {:?}\n ref  {:?}",
                ctx(),
                state_keys(&real),
                model.keys()
            ));
        }
        let sizes = real.list_sizes();
        for (i, l) in LISTS.iter().enumerate() {
            if sizes.bytes[*l as usize] != model.bytes(i) {
                return Err(format!("{}: bytes of {l:?} differ", ctx()));
            }
        }
        let rc = &real.counters;
        let got = (
            real.p(),
            real.c(),
            rc.hits,
            rc.misses,
            rc.mru_ghost_hits,
            rc.mfu_ghost_hits,
        );
        let want = (
            model.p,
            model.c,
            model.hits,
            model.misses,
            model.ghost_hits[0],
            model.ghost_hits[1],
        );
        if got != want {
            return Err(format!(
                "{}: (p, c, hits, misses, b1, b2) {got:?} vs {want:?}",
                ctx()
            ));
        }
        let got = (
            rc.evictions,
            rc.evicted_bytes,
            rc.prefetch_used,
            rc.prefetch_wasted,
        );
        let want = (
            model.evictions,
            model.evicted_bytes,
            model.prefetch_used,
            model.prefetch_wasted,
        );
        if got != want {
            return Err(format!("{}: eviction counters {got:?} vs {want:?}", ctx()));
        }
        if !ever_pinned && real.size() > real.c() {
            return Err(format!(
                "{}: size {} over c {} with nothing pinned",
                ctx(),
                real.size(),
                real.c()
            ));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// With one-byte blocks, the byte-weighted reference is the paper.
    #[test]
    fn unit_weights_follow_the_paper(
        c in 1usize..24,
        trace in prop::collection::vec(prop_oneof![0u64..12, 0u64..40, 100u64..400], 1..600),
    ) {
        let mut paper = PaperArc::new(c);
        let mut model = RefArc::new(c as u64);
        let mut real: ArcState<u64, u64> = ArcState::new(c as u64);
        for (step, &x) in trace.iter().enumerate() {
            let want = paper.request(x);
            prop_assert_eq!(model.access(x, 1), want, "reference, step {}", step);
            let hit = real.lookup(x, &x, true).is_some();
            if !hit {
                real.insert(x, x, Arc::new(x), 1, InsertKind::Demand);
            }
            prop_assert_eq!(hit, want, "state, step {}", step);
            let (lists, p) = paper.snapshot();
            prop_assert_eq!(&model.keys(), &lists, "reference lists, step {}", step);
            prop_assert_eq!(model.p, p);
            prop_assert_eq!(&state_keys(&real), &lists, "state lists, step {}", step);
            prop_assert_eq!(real.p(), p);
        }
    }

    /// The slab-and-hash ARC does exactly what the plain one does, with
    /// weights, pins, prefetches, removals and resizes.
    #[test]
    fn state_matches_the_reference(
        c in 1u64..48,
        ops in prop::collection::vec(op(48, 8, 64), 1..400),
    ) {
        if let Err(e) = compare_state(c, &ops) {
            return Err(TestCaseError::fail(e));
        }
    }
}

#[derive(Debug)]
struct Blob(u64);

impl Weighted for Blob {
    fn weight(&self) -> usize {
        self.0 as usize
    }
}

/// Runs `ops` through the public API of a one-shard cache and `RefArc`.
fn compare_cache(c: u64, ops: &[Op]) -> Result<(), String> {
    let cache: ArcCache<u64, Blob> =
        ArcCache::new(ArcConfig::new(c).min(0).shards(1)).map_err(|e| e.to_string())?;
    let mut model = RefArc::new(c);
    // (key, value, still pinning the cached entry)
    let mut held: Vec<(u64, Arc<Blob>, bool)> = Vec::new();
    for (step, op) in ops.iter().enumerate() {
        let (got, want) = match *op {
            Op::Access(k, w) => {
                let mut loaded = false;
                let v = cache
                    .get_or_load(k, || {
                        loaded = true;
                        Ok::<_, ()>(Blob(w))
                    })
                    .map_err(|()| format!("step {step}: load failed"))?;
                drop(v);
                (!loaded, model.access(k, w))
            }
            Op::Hold(k) => {
                let got = cache.get(&k);
                let want = model.lookup(k);
                if let Some(v) = &got {
                    held.push((k, Arc::clone(v), true));
                    model.pin(k);
                }
                (got.is_some(), want)
            }
            Op::Release(i) => {
                if !held.is_empty() {
                    let (k, _, attached) = held.remove(i % held.len());
                    if attached {
                        model.unpin(k);
                    }
                }
                (true, true)
            }
            Op::Prefetch(k, w) => {
                let got = cache
                    .prefetch(k, || Ok::<_, ()>(Blob(w)))
                    .map_err(|()| format!("step {step}: prefetch failed"))?;
                (got, model.prefetch(k, w))
            }
            Op::Remove(k) => {
                cache.remove(&k);
                model.remove(k);
                unpin_removed(&mut model, &mut held, k);
                (true, true)
            }
            Op::SetC(c) => {
                cache.set_limits(0, c).map_err(|e| e.to_string())?;
                model.set_c(c);
                (true, true)
            }
        };
        let ctx = || format!("step {step} ({op:?})");
        if got != want {
            return Err(format!("{}: cache says {got}, reference {want}", ctx()));
        }
        let keys = LISTS.map(|l| cache.shard_keys(0, l));
        if keys != model.keys() {
            return Err(format!(
                "{}: lists differ\n cache {keys:?}\n ref   {:?}",
                ctx(),
                model.keys()
            ));
        }
        let st = cache.stats();
        let got = [
            st.hits,
            st.misses,
            st.mru_ghost_hits,
            st.mfu_ghost_hits,
            st.p,
            st.c,
            st.mru_size,
            st.mfu_size,
            st.mru_ghost_size,
            st.mfu_ghost_size,
            st.mru_entries,
            st.mfu_entries,
            st.mru_ghost_entries,
            st.mfu_ghost_entries,
            st.evictions,
            st.evicted_bytes,
            st.prefetch_used,
            st.prefetch_wasted,
        ];
        let want = [
            model.hits,
            model.misses,
            model.ghost_hits[0],
            model.ghost_hits[1],
            model.p,
            model.c,
            model.bytes(T1),
            model.bytes(T2),
            model.bytes(B1),
            model.bytes(B2),
            model.count(T1),
            model.count(T2),
            model.count(B1),
            model.count(B2),
            model.evictions,
            model.evicted_bytes,
            model.prefetch_used,
            model.prefetch_wasted,
        ];
        if got != want {
            return Err(format!("{}: stats {got:?} vs {want:?}", ctx()));
        }
        if st.size != st.mru_size + st.mfu_size {
            return Err(format!("{}: size is not T1 + T2", ctx()));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// A one-shard cache, driven through its public API, is the reference.
    #[test]
    fn one_shard_cache_matches_the_reference(
        c in 1u64..48,
        ops in prop::collection::vec(op(48, 8, 64), 1..300),
    ) {
        if let Err(e) = compare_cache(c, &ops) {
            return Err(TestCaseError::fail(e));
        }
    }

    /// Many shards: bounded in bytes and consistent, whatever happens.
    #[test]
    fn sharded_cache_stays_bounded(
        ops in prop::collection::vec(op(2000, 4096, 1 << 18), 1..400),
    ) {
        let cache: ArcCache<u64, Blob> =
            ArcCache::new(ArcConfig::new(1 << 16).min(0).shards(8)).expect("cache");
        let mut held = Vec::new();
        let mut ever_pinned = false;
        for op in &ops {
            match *op {
                Op::Access(k, w) => {
                    let v = cache.get_or_load(k, || Ok::<_, ()>(Blob(w))).expect("loads");
                    prop_assert!(cache.contains(&k) || w * 8 > cache.stats().c);
                    drop(v);
                }
                Op::Hold(k) => {
                    held.extend(cache.get(&k));
                    ever_pinned |= !held.is_empty();
                }
                Op::Release(i) => {
                    if !held.is_empty() {
                        held.remove(i % held.len());
                    }
                }
                Op::Prefetch(k, w) => {
                    cache.prefetch(k, || Ok::<_, ()>(Blob(w))).expect("loads");
                }
                Op::Remove(k) => {
                    cache.remove(&k);
                    prop_assert!(!cache.contains(&k));
                }
                Op::SetC(c) => cache.set_limits(0, c).expect("valid"),
            }
            let st = cache.stats();
            prop_assert_eq!(st.size, st.mru_size + st.mfu_size);
            prop_assert!(st.p <= st.c);
            if !ever_pinned {
                prop_assert!(st.size <= st.c, "size {} > c {}", st.size, st.c);
            }
            prop_assert!(st.mru_size + st.mru_ghost_size <= st.c + 4096 * 8);
        }
    }
}

#[test]
fn paper_cases_on_a_tiny_trace() {
    // Worked by hand from the paper's cases, c = 2:
    // 1, 2 miss into T1; 1 hits (to T2); 3: case IV.B, REPLACE moves 2
    // to B1; 2: B1 hit, p = 1, REPLACE moves T2's 1 to B2 (|T1| = p);
    // 4: case IV.B, REPLACE moves 2 to B2; 1: B2 hit, p = 0, REPLACE
    // moves 3 to B1.
    let mut a = PaperArc::new(2);
    let hits: Vec<bool> = [1, 2, 1, 3, 2, 4, 1]
        .iter()
        .map(|&x| a.request(x))
        .collect();
    assert_eq!(hits, [false, false, true, false, false, false, false]);
    let (lists, p) = a.snapshot();
    assert_eq!(lists, [vec![4], vec![1], vec![3], vec![2]]);
    assert_eq!(p, 0);
}
