//! A cache of large I/O buffers for reuse.
//!
//! A block written at txg sync lives in a buffer of up to 1 MiB that is
//! filled by the layer above, handed to the pool and dropped once the
//! device write completes; reads and decompression fill buffers of the same
//! sizes. Giving such a buffer back to the system and getting a new one
//! costs more than checksumming it: the allocator unmaps or trims the
//! pages, and the next buffer faults them in again, zeroed by the kernel.
//! So dropped buffers of at least [`LARGE`] bytes are kept here, by exact
//! capacity, and handed out again before anything is allocated.
//!
//! The cache is bounded in bytes (1/64 of memory, from 32 to 256 MiB), and
//! what it holds decays: once a second at most, each capacity gives back
//! to the system as many buffers as it never needed during the interval
//! (its low-water mark), so memory that is not reused does not stay
//! resident. [`release_all`] empties it at once.
//!
//! The cached bytes are initialised (they held a previous block) but
//! stale: [`super::AlignedBuf`] never shows them without writing them
//! first.

use std::alloc::{self, Layout};
use std::collections::HashMap;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::buf::IO_ALIGN;

/// Buffers with at least this capacity are cached.
pub const LARGE: usize = 64 * 1024;
/// Capacities of cached buffers are multiples of this, so that blocks of
/// nearby sizes share their buffers.
pub const LARGE_STEP: usize = 64 * 1024;
/// How often the idle part of the cache is given back.
const DECAY: Duration = Duration::from_secs(1);

/// The capacity to allocate for `len` bytes.
pub fn capacity_for(len: usize) -> usize {
    if len >= LARGE {
        len.div_ceil(LARGE_STEP) * LARGE_STEP
    } else {
        len.div_ceil(IO_ALIGN).max(1) * IO_ALIGN
    }
}

/// The layout of an allocation of `cap` bytes.
pub fn layout(cap: usize) -> Layout {
    Layout::from_size_align(cap, IO_ALIGN).expect("valid layout")
}

/// A cached allocation: owned, initialised, `cap` bytes.
struct Block(NonNull<u8>);

// SAFETY: a cached block is owned by the cache alone (no other pointer to it
// exists until `take` hands it out), like the allocation inside a Vec<u8>.
unsafe impl Send for Block {}

#[derive(Default)]
struct Class {
    free: Vec<Block>,
    /// The fewest buffers held since the last decay.
    low: usize,
}

struct Cache {
    classes: HashMap<usize, Class>,
    bytes: usize,
    next_decay: Instant,
}

static CACHE: OnceLock<Mutex<Cache>> = OnceLock::new();
static HITS: AtomicU64 = AtomicU64::new(0);
static MISSES: AtomicU64 = AtomicU64::new(0);

fn cache() -> &'static Mutex<Cache> {
    CACHE.get_or_init(|| {
        Mutex::new(Cache {
            classes: HashMap::new(),
            bytes: 0,
            next_decay: Instant::now() + DECAY,
        })
    })
}

/// Bytes the cache may hold.
fn limit() -> usize {
    static LIMIT: OnceLock<usize> = OnceLock::new();
    *LIMIT.get_or_init(|| {
        let mem = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("MemTotal:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|v| v.parse::<u64>().ok())
            })
            .map(|kb| kb * 1024)
            .unwrap_or(4 << 30);
        (mem / 64).clamp(32 << 20, 256 << 20) as usize
    })
}

impl Cache {
    /// Takes out what sat idle since the last decay, when it is time.
    fn decay(&mut self, now: Instant, out: &mut Vec<(Block, usize)>) {
        if now < self.next_decay {
            return;
        }
        self.next_decay = now + DECAY;
        for (&cap, class) in self.classes.iter_mut() {
            let idle = class.low.min(class.free.len());
            for b in class.free.drain(..idle) {
                self.bytes -= cap;
                out.push((b, cap));
            }
            class.low = class.free.len();
        }
        self.classes.retain(|_, c| !c.free.is_empty());
    }
}

/// Gives blocks back to the system.
fn dealloc_all(blocks: Vec<(Block, usize)>) {
    for (b, cap) in blocks {
        // SAFETY: every cached block was allocated with `layout(cap)` by
        // `super::buf` and is owned by the cache alone.
        unsafe { alloc::dealloc(b.0.as_ptr(), layout(cap)) };
    }
}

/// A cached allocation of exactly `cap` bytes (initialised, stale), if
/// the cache has one.
pub fn take(cap: usize) -> Option<NonNull<u8>> {
    if cap < LARGE {
        return None;
    }
    let mut idle = Vec::new();
    let got = {
        let mut c = cache().lock();
        c.decay(Instant::now(), &mut idle);
        let got = c.classes.get_mut(&cap).and_then(|class| {
            let b = class.free.pop()?;
            class.low = class.low.min(class.free.len());
            Some(b)
        });
        if got.is_some() {
            c.bytes -= cap;
        }
        got
    };
    dealloc_all(idle);
    match got {
        Some(b) => {
            HITS.fetch_add(1, Ordering::Relaxed);
            Some(b.0)
        }
        None => {
            MISSES.fetch_add(1, Ordering::Relaxed);
            None
        }
    }
}

/// Keeps an allocation of `cap` bytes for reuse, or frees it when the
/// cache is full or the buffer is small.
///
/// # Safety
/// `ptr` was allocated with `layout(cap)`, all its `cap` bytes are
/// initialised, and nothing uses it any more.
pub unsafe fn give(ptr: NonNull<u8>, cap: usize) {
    let mut idle = Vec::new();
    let kept = cap >= LARGE && {
        let mut c = cache().lock();
        c.decay(Instant::now(), &mut idle);
        if c.bytes + cap <= limit() {
            c.bytes += cap;
            c.classes.entry(cap).or_default().free.push(Block(ptr));
            true
        } else {
            false
        }
    };
    dealloc_all(idle);
    if !kept {
        // SAFETY: forwarded from the caller.
        unsafe { alloc::dealloc(ptr.as_ptr(), layout(cap)) };
    }
}

/// Gives every cached buffer back to the system (memory pressure).
pub fn release_all() {
    let blocks: Vec<(Block, usize)> = {
        let mut c = cache().lock();
        c.bytes = 0;
        c.classes
            .drain()
            .flat_map(|(cap, class)| class.free.into_iter().map(move |b| (b, cap)))
            .collect()
    };
    dealloc_all(blocks);
}

/// What the cache holds and how it served.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Bytes held.
    pub bytes: usize,
    /// Large buffers handed out from the cache.
    pub hits: u64,
    /// Large buffers that had to be allocated.
    pub misses: u64,
}

/// The cache's figures.
pub fn stats() -> CacheStats {
    CacheStats {
        bytes: cache().lock().bytes,
        hits: HITS.load(Ordering::Relaxed),
        misses: MISSES.load(Ordering::Relaxed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacities_round_to_their_class() {
        assert_eq!(capacity_for(0), IO_ALIGN);
        assert_eq!(capacity_for(4097), 2 * IO_ALIGN);
        assert_eq!(capacity_for(LARGE), LARGE);
        assert_eq!(capacity_for(LARGE + 1), LARGE + LARGE_STEP);
        assert_eq!(capacity_for(1 << 20), 1 << 20);
    }

    #[test]
    fn idle_buffers_decay() {
        // A capacity no other test uses, so that the shared cache is ours.
        let cap = 37 * LARGE_STEP;
        let mut c = Cache {
            classes: HashMap::new(),
            bytes: 0,
            next_decay: Instant::now(),
        };
        for _ in 0..3 {
            // SAFETY: a fresh allocation of the layout the cache frees with.
            let p = unsafe { alloc::alloc_zeroed(layout(cap)) };
            c.classes
                .entry(cap)
                .or_default()
                .free
                .push(Block(NonNull::new(p).expect("allocation")));
            c.bytes += cap;
        }
        let mut out = Vec::new();
        let now = Instant::now();
        // The first decay only notes the low-water mark (0: never idle yet).
        c.decay(now, &mut out);
        assert!(out.is_empty());
        // One was used in the next interval; the two others were idle.
        c.classes.get_mut(&cap).unwrap().low = 1;
        c.decay(now + DECAY, &mut out);
        assert_eq!(out.len(), 1);
        c.decay(now + DECAY * 2, &mut out);
        assert_eq!(out.len(), 3);
        assert_eq!(c.bytes, 0);
        assert!(c.classes.is_empty());
        dealloc_all(out);
    }
}
