//! The concurrent cache: independent ARC shards chosen by key hash.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hash};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use hashbrown::HashTable;
use parking_lot::{Mutex, MutexGuard};

use crate::inflight::{Outcome, Pending};
use crate::list::ListId;
use crate::state::{ArcState, InsertKind};
use crate::weight::{charge, Weighted};
use crate::{ArcError, ArcStats};

/// Most shards a cache is split into.
pub const MAX_SHARDS: usize = 256;

/// Below this many bytes per shard, the automatic shard count is halved:
/// a shard must hold enough blocks for its ARC to adapt.
pub const MIN_SHARD_BYTES: u64 = 16 << 20;

/// How a cache is built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArcConfig {
    /// arc_max: the most bytes the cache holds (the initial target).
    pub max: u64,
    /// arc_min: the fewest bytes memory pressure can shrink it to.
    pub min: u64,
    /// Number of shards (a power of two, at most [`MAX_SHARDS`]); `None`
    /// chooses eight per CPU, fewer for small caches (see
    /// [`MIN_SHARD_BYTES`]). One shard is exactly the paper's ARC.
    pub shards: Option<usize>,
}

impl ArcConfig {
    /// A cache of at most `max` bytes, with arc_min at 1/32 of it.
    pub fn new(max: u64) -> Self {
        ArcConfig {
            max,
            min: max / 32,
            shards: None,
        }
    }

    /// Sets arc_min.
    pub fn min(mut self, min: u64) -> Self {
        self.min = min;
        self
    }

    /// Sets the number of shards.
    pub fn shards(mut self, shards: usize) -> Self {
        self.shards = Some(shards);
        self
    }

    fn shard_count(&self) -> Result<usize, ArcError> {
        match self.shards {
            Some(n) if n == 0 || n > MAX_SHARDS || !n.is_power_of_two() => {
                Err(ArcError::InvalidConfig(format!(
                    "{n} shards: the shard count must be a power of two from 1 to {MAX_SHARDS}"
                )))
            }
            Some(n) => Ok(n),
            None => {
                let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
                let mut n = (cpus * 8).next_power_of_two().min(MAX_SHARDS);
                while n > 1 && self.max / (n as u64) < MIN_SHARD_BYTES {
                    n /= 2;
                }
                Ok(n)
            }
        }
    }
}

/// Counters a shard keeps besides the ARC's own.
#[derive(Default)]
struct ShardCounters {
    load_waits: u64,
    prefetch_hits: u64,
    prefetch_misses: u64,
}

struct InFlight<K, V> {
    hash: u64,
    key: K,
    pending: Arc<Pending<V>>,
}

struct Shard<K, V> {
    arc: ArcState<K, V>,
    inflight: HashTable<InFlight<K, V>>,
    counters: ShardCounters,
}

impl<K: Eq, V> Shard<K, V> {
    fn pending(&self, hash: u64, key: &K) -> Option<Arc<Pending<V>>> {
        self.inflight
            .find(hash, |f| f.hash == hash && f.key == *key)
            .map(|f| Arc::clone(&f.pending))
    }

    /// Stops tracking `pending` (if it is still the load registered).
    fn forget_load(&mut self, hash: u64, pending: &Arc<Pending<V>>) {
        if let Ok(entry) = self
            .inflight
            .find_entry(hash, |f| Arc::ptr_eq(&f.pending, pending))
        {
            entry.remove();
        }
    }

    /// A write or a free of `key` makes any load in flight stale.
    fn supersede(&mut self, hash: u64, key: &K) {
        if let Ok(entry) = self
            .inflight
            .find_entry(hash, |f| f.hash == hash && f.key == *key)
        {
            let (f, _) = entry.remove();
            f.pending.supersede();
        }
    }
}

/// Aligned to keep two shards' locks off one cache line.
#[repr(align(128))]
struct Padded<T>(T);

/// One shard behind its own lock.
type LockedShard<K, V> = Padded<Mutex<Shard<K, V>>>;

#[derive(Clone, Copy)]
struct Limits {
    min: u64,
    max: u64,
    target: u64,
}

/// A concurrent adaptive replacement cache, bounded in bytes.
///
/// See the crate documentation for the design. Values are handed out as
/// `Arc<V>`; a value whose `Arc` is still held by a caller is pinned: eviction
/// skips it until the caller drops it.
pub struct ArcCache<K, V, S = RandomState> {
    shards: Box<[LockedShard<K, V>]>,
    /// log2 of the shard count.
    shard_bits: u32,
    hasher: S,
    limits: Mutex<Limits>,
    given_back: AtomicU64,
    pressure_shrinks: AtomicU64,
}

impl<K, V> ArcCache<K, V, RandomState>
where
    K: Hash + Eq + Clone + Send + Sync,
    V: Weighted + Send + Sync,
{
    /// A cache built as `config` says, hashing keys with std's `RandomState`.
    pub fn new(config: ArcConfig) -> Result<Self, ArcError> {
        Self::with_hasher(config, RandomState::new())
    }
}

impl<K, V, S> ArcCache<K, V, S>
where
    K: Hash + Eq + Clone + Send + Sync,
    V: Weighted + Send + Sync,
    S: BuildHasher,
{
    /// A cache built as `config` says, hashing keys with `hasher`.
    pub fn with_hasher(config: ArcConfig, hasher: S) -> Result<Self, ArcError> {
        check_limits(config.min, config.max)?;
        let n = config.shard_count()?;
        let limits = Limits {
            min: config.min,
            max: config.max,
            target: config.max,
        };
        let shards = (0..n)
            .map(|i| {
                Padded(Mutex::new(Shard {
                    arc: ArcState::new(share(config.max, n, i)),
                    inflight: HashTable::new(),
                    counters: ShardCounters::default(),
                }))
            })
            .collect();
        Ok(ArcCache {
            shards,
            shard_bits: n.trailing_zeros(),
            hasher,
            limits: Mutex::new(limits),
            given_back: AtomicU64::new(0),
            pressure_shrinks: AtomicU64::new(0),
        })
    }

    fn locate(&self, key: &K) -> (u64, &Mutex<Shard<K, V>>) {
        let hash = self.hasher.hash_one(key);
        // A multiplicative mix, so that the shard index does not correlate
        // with the bits the shard's own table uses.
        let idx = match self.shard_bits {
            0 => 0,
            bits => (hash.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - bits)) as usize,
        };
        (hash, &self.shards[idx].0)
    }

    /// A demand read of `key`: the value if it is cached (the access is
    /// recorded), `None` if not. Does not wait for a load in flight.
    pub fn get(&self, key: &K) -> Option<Arc<V>> {
        let (hash, shard) = self.locate(key);
        let mut s = shard.lock();
        s.arc.lookup(hash, key, true)
    }

    /// Whether `key` is resident, without recording an access.
    pub fn contains(&self, key: &K) -> bool {
        let (hash, shard) = self.locate(key);
        let s = shard.lock();
        s.arc.residency(hash, key).is_some_and(ListId::is_resident)
    }

    /// For a prefetch about to be handed to another thread: true (and
    /// counted as a prefetch hit, as [`ArcCache::prefetch`] would) when
    /// `key` is resident or being loaded, so there is nothing to hand over.
    pub fn prefetch_needless(&self, key: &K) -> bool {
        let (hash, shard) = self.locate(key);
        let mut s = shard.lock();
        let resident = s.arc.residency(hash, key).is_some_and(ListId::is_resident);
        if resident || s.pending(hash, key).is_some() {
            s.counters.prefetch_hits += 1;
            return true;
        }
        false
    }

    /// A demand read of `key` that loads it on a miss.
    ///
    /// On a hit, returns the cached value. On a miss, runs `loader` (without
    /// holding any lock), caches its value and returns it. If another caller
    /// is already loading `key`, waits for that load instead of running
    /// `loader`, and gets its value, or its error when it failed (errors are
    /// never cached). Error types that are not `Clone` can be wrapped in an
    /// `Arc`. If the other load was a prefetch that failed, was made with a
    /// different error type, or panicked, this caller runs its own `loader`.
    pub fn get_or_load<E, F>(&self, key: K, loader: F) -> Result<Arc<V>, E>
    where
        F: FnOnce() -> Result<V, E>,
        E: Clone + Send + Sync + 'static,
    {
        let (hash, shard) = self.locate(&key);
        let mut counted = false;
        loop {
            let mut s = shard.lock();
            if let Some(v) = s.arc.lookup(hash, &key, !counted) {
                return Ok(v);
            }
            counted = true;
            let Some(pending) = s.pending(hash, &key) else {
                let pending = Arc::new(Pending::new(false));
                s.inflight.insert_unique(
                    hash,
                    InFlight {
                        hash,
                        key: key.clone(),
                        pending: Arc::clone(&pending),
                    },
                    |f| f.hash,
                );
                drop(s);
                return self.load(shard, hash, key, pending, loader, |e| {
                    Outcome::Failed(erase(e))
                });
            };
            s.counters.load_waits += 1;
            pending.mark_demanded();
            drop(s);
            match pending.wait() {
                Outcome::Loaded(v) => return Ok(v),
                Outcome::Failed(e) => {
                    if let Some(e) = e.downcast_ref::<E>() {
                        return Err(e.clone());
                    }
                }
                Outcome::Abandoned | Outcome::Loading => {}
            }
        }
    }

    /// A read-ahead hint: loads `key` with `loader` and caches it as a
    /// prefetched block, unless it is already cached or being loaded.
    /// Returns whether this call read it. Runs the loader in the calling
    /// thread: a read-ahead engine calls this from its own workers.
    ///
    /// A prefetched block enters the recency list and its first demand read
    /// does not promote it to the frequency list, so read-ahead of a long
    /// sequential read cannot push frequently used blocks out.
    pub fn prefetch<E, F>(&self, key: K, loader: F) -> Result<bool, E>
    where
        F: FnOnce() -> Result<V, E>,
    {
        let (hash, shard) = self.locate(&key);
        let mut s = shard.lock();
        let resident = s.arc.residency(hash, &key).is_some_and(ListId::is_resident);
        if resident || s.pending(hash, &key).is_some() {
            s.counters.prefetch_hits += 1;
            return Ok(false);
        }
        s.counters.prefetch_misses += 1;
        let pending = Arc::new(Pending::new(true));
        s.inflight.insert_unique(
            hash,
            InFlight {
                hash,
                key: key.clone(),
                pending: Arc::clone(&pending),
            },
            |f| f.hash,
        );
        drop(s);
        // A failed read-ahead is no answer for a demand reader: it retries.
        self.load(shard, hash, key, pending, loader, |_| Outcome::Abandoned)
            .map(|_| true)
    }

    /// Runs `loader` for the registered load `pending` and publishes the
    /// outcome to the cache and to any waiters (`on_error` says what waiters
    /// get when it fails).
    fn load<E, F, P>(
        &self,
        shard: &Mutex<Shard<K, V>>,
        hash: u64,
        key: K,
        pending: Arc<Pending<V>>,
        loader: F,
        on_error: P,
    ) -> Result<Arc<V>, E>
    where
        F: FnOnce() -> Result<V, E>,
        P: FnOnce(&E) -> Outcome<V>,
    {
        let mut guard = AbandonOnDrop {
            shard,
            hash,
            pending: &pending,
            armed: true,
        };
        let result = loader();
        let outcome = match result {
            Ok(value) => {
                let weight = charge(&value);
                let value = Arc::new(value);
                let dead = {
                    let mut s = shard.lock();
                    s.forget_load(hash, &pending);
                    if pending.prefetch && pending.is_demanded() {
                        // A demand reader waited for this read-ahead: it paid off.
                        s.arc.counters.prefetch_used += 1;
                    }
                    if !pending.is_superseded() {
                        let kind = if pending.prefetch && !pending.is_demanded() {
                            InsertKind::Prefetch
                        } else {
                            InsertKind::Demand
                        };
                        s.arc.insert(hash, key, Arc::clone(&value), weight, kind);
                    }
                    s.arc.take_graveyard()
                };
                drop(dead);
                Ok(value)
            }
            Err(e) => {
                shard.lock().forget_load(hash, &pending);
                Err(e)
            }
        };
        guard.armed = false;
        match &outcome {
            Ok(v) => pending.finish(Outcome::Loaded(Arc::clone(v))),
            Err(e) => pending.finish(on_error(e)),
        }
        outcome
    }

    /// Puts `value` in the cache under `key` (a write of the block), as an
    /// access, and returns it as a handle. Replaces a cached value; a load of
    /// `key` in flight will not overwrite it.
    pub fn insert(&self, key: K, value: V) -> Arc<V> {
        let weight = charge(&value);
        let value = Arc::new(value);
        let (hash, shard) = self.locate(&key);
        let dead = {
            let mut s = shard.lock();
            s.supersede(hash, &key);
            s.arc
                .insert(hash, key, Arc::clone(&value), weight, InsertKind::Demand);
            s.arc.take_graveyard()
        };
        drop(dead);
        value
    }

    /// Forgets `key` (for a freed block): its value if cached, its ghost if
    /// remembered, and any load in flight (which will not be cached). Readers
    /// that hold the value keep it. Returns whether a value was cached.
    pub fn remove(&self, key: &K) -> bool {
        let (hash, shard) = self.locate(key);
        let (was, dead) = {
            let mut s = shard.lock();
            s.supersede(hash, key);
            let was = s.arc.remove(hash, key);
            (was, s.arc.take_graveyard())
        };
        drop(dead);
        was
    }

    /// Sets arc_min and arc_max at run time. The target `c` goes to `max`
    /// (the pressure monitor lowers it again if memory is short), and the
    /// cache evicts down to it at once.
    pub fn set_limits(&self, min: u64, max: u64) -> Result<(), ArcError> {
        check_limits(min, max)?;
        let mut limits = self.limits.lock();
        limits.min = min;
        limits.max = max;
        limits.target = max;
        self.apply_target(max);
        Ok(())
    }

    /// arc_min, arc_max and the current target `c`, in bytes.
    pub fn limits(&self) -> (u64, u64, u64) {
        let l = self.limits.lock();
        (l.min, l.max, l.target)
    }

    /// Moves the target `c` to `target`, clamped to `[arc_min, arc_max]`,
    /// evicting down to it if it shrinks. This is what the memory pressure
    /// monitor calls: the bytes a shrink frees are counted as memory given
    /// back. Returns those bytes.
    pub fn set_target(&self, target: u64) -> u64 {
        let mut limits = self.limits.lock();
        let target = target.clamp(limits.min, limits.max);
        let shrinking = target < limits.target;
        limits.target = target;
        let freed = self.apply_target(target);
        if shrinking {
            self.pressure_shrinks.fetch_add(1, Ordering::Relaxed);
            self.given_back.fetch_add(freed, Ordering::Relaxed);
        }
        freed
    }

    /// Gives each shard its share of `target`; returns the bytes evicted.
    /// Called with the limits lock held, so targets apply in order.
    fn apply_target(&self, target: u64) -> u64 {
        let n = self.shards.len();
        let mut freed = 0;
        for (i, shard) in self.shards.iter().enumerate() {
            let dead = {
                let mut s = shard.0.lock();
                freed += s.arc.set_c(share(target, n, i));
                s.arc.take_graveyard()
            };
            drop(dead);
        }
        freed
    }

    /// A snapshot of the counters and sizes, summed over the shards.
    pub fn stats(&self) -> ArcStats {
        let limits = *self.limits.lock();
        let mut st = ArcStats {
            c_min: limits.min,
            c_max: limits.max,
            shards: self.shards.len() as u64,
            memory_given_back: self.given_back.load(Ordering::Relaxed),
            pressure_shrinks: self.pressure_shrinks.load(Ordering::Relaxed),
            ..ArcStats::default()
        };
        for shard in self.shards.iter() {
            let s = shard.0.lock();
            add_shard(&mut st, &s);
        }
        st
    }

    /// The number of shards.
    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }

    #[cfg(test)]
    pub(crate) fn shard_keys(&self, shard: usize, list: ListId) -> Vec<K> {
        self.shards[shard].0.lock().arc.keys(list)
    }
}

fn add_shard<K: Eq, V>(st: &mut ArcStats, s: &MutexGuard<'_, Shard<K, V>>) {
    let c = &s.arc.counters;
    st.hits += c.hits;
    st.misses += c.misses;
    st.mru_hits += c.mru_hits;
    st.mfu_hits += c.mfu_hits;
    st.mru_ghost_hits += c.mru_ghost_hits;
    st.mfu_ghost_hits += c.mfu_ghost_hits;
    st.evictions += c.evictions;
    st.evicted_bytes += c.evicted_bytes;
    st.evict_skipped_pinned += c.evict_skipped_pinned;
    st.prefetch_used += c.prefetch_used;
    st.prefetch_wasted += c.prefetch_wasted;
    st.load_waits += s.counters.load_waits;
    st.prefetch_hits += s.counters.prefetch_hits;
    st.prefetch_misses += s.counters.prefetch_misses;
    st.c += s.arc.c();
    st.p += s.arc.p();
    st.size += s.arc.size();
    let l = s.arc.list_sizes();
    st.mru_size += l.bytes[ListId::T1 as usize];
    st.mfu_size += l.bytes[ListId::T2 as usize];
    st.mru_ghost_size += l.bytes[ListId::B1 as usize];
    st.mfu_ghost_size += l.bytes[ListId::B2 as usize];
    st.mru_entries += l.entries[ListId::T1 as usize];
    st.mfu_entries += l.entries[ListId::T2 as usize];
    st.mru_ghost_entries += l.entries[ListId::B1 as usize];
    st.mfu_ghost_entries += l.entries[ListId::B2 as usize];
}

/// Shard `i`'s share of `total` bytes over `n` shards.
fn share(total: u64, n: usize, i: usize) -> u64 {
    let n = n as u64;
    total / n + u64::from((i as u64) < total % n)
}

fn check_limits(min: u64, max: u64) -> Result<(), ArcError> {
    if max == 0 {
        return Err(ArcError::ZeroMax);
    }
    if min > max {
        return Err(ArcError::InvalidLimits { min, max });
    }
    Ok(())
}

fn erase<E: Clone + Send + Sync + 'static>(e: &E) -> Arc<dyn std::any::Any + Send + Sync> {
    Arc::new(e.clone())
}

/// Unregisters a load and wakes its waiters if the loader panics.
struct AbandonOnDrop<'a, K: Eq, V> {
    shard: &'a Mutex<Shard<K, V>>,
    hash: u64,
    pending: &'a Arc<Pending<V>>,
    armed: bool,
}

impl<K: Eq, V> Drop for AbandonOnDrop<'_, K, V> {
    fn drop(&mut self) {
        if self.armed {
            self.shard.lock().forget_load(self.hash, self.pending);
            self.pending.finish(Outcome::Abandoned);
        }
    }
}
