//! Reads in flight: one load per missing block, however many callers want it.
//!
//! The first caller to miss on a block registers a [`Pending`] in its shard
//! and runs the loader outside any lock; later callers find the `Pending` and
//! wait on it instead of issuing a second read. The outcome is handed to every
//! waiter: the value, or the loader's error (never cached), or "abandoned"
//! when the loader panicked or a speculative read failed, in which case a
//! waiter runs its own loader.

use std::any::Any;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::{Condvar, Mutex};

/// How a load ended.
pub(crate) enum Outcome<V> {
    /// Still running.
    Loading,
    /// The block, as loaded.
    Loaded(Arc<V>),
    /// The loader's error, type-erased (waiters downcast it to theirs).
    Failed(Arc<dyn Any + Send + Sync>),
    /// No result to share: the loader panicked, or a prefetch failed.
    Abandoned,
}

impl<V> Clone for Outcome<V> {
    fn clone(&self) -> Self {
        match self {
            Outcome::Loading => Outcome::Loading,
            Outcome::Loaded(v) => Outcome::Loaded(Arc::clone(v)),
            Outcome::Failed(e) => Outcome::Failed(Arc::clone(e)),
            Outcome::Abandoned => Outcome::Abandoned,
        }
    }
}

/// One load in flight.
pub(crate) struct Pending<V> {
    outcome: Mutex<Outcome<V>>,
    done: Condvar,
    /// The load was started by a prefetch.
    pub(crate) prefetch: bool,
    /// A demand reader waited on this (prefetch) load: its result enters
    /// the cache as a demand access. Written and read under the shard lock.
    demanded: AtomicBool,
    /// The block was removed or overwritten while loading: its result must
    /// not enter the cache. Written and read under the shard lock.
    superseded: AtomicBool,
}

impl<V> Pending<V> {
    /// A new load, started by a prefetch or by a demand read.
    pub(crate) fn new(prefetch: bool) -> Self {
        Pending {
            outcome: Mutex::new(Outcome::Loading),
            done: Condvar::new(),
            prefetch,
            demanded: AtomicBool::new(false),
            superseded: AtomicBool::new(false),
        }
    }

    /// Publishes the outcome and wakes every waiter.
    pub(crate) fn finish(&self, outcome: Outcome<V>) {
        *self.outcome.lock() = outcome;
        self.done.notify_all();
    }

    /// Blocks until the load has ended, and returns how.
    pub(crate) fn wait(&self) -> Outcome<V> {
        let mut guard = self.outcome.lock();
        while matches!(*guard, Outcome::Loading) {
            self.done.wait(&mut guard);
        }
        guard.clone()
    }

    // The flags below are only touched under the shard lock, which orders
    // them; they are atomics only so that `Pending` can be shared.

    /// Marks that a demand reader waits for this load.
    pub(crate) fn mark_demanded(&self) {
        self.demanded.store(true, Ordering::Relaxed);
    }

    /// Whether a demand reader waits for this load.
    pub(crate) fn is_demanded(&self) -> bool {
        self.demanded.load(Ordering::Relaxed)
    }

    /// Marks the load's result as stale.
    pub(crate) fn supersede(&self) {
        self.superseded.store(true, Ordering::Relaxed);
    }

    /// Whether the load's result is stale.
    pub(crate) fn is_superseded(&self) -> bool {
        self.superseded.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread;

    #[test]
    fn waiters_see_the_outcome() {
        let p = Arc::new(Pending::<u32>::new(false));
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let p = Arc::clone(&p);
                thread::spawn(move || match p.wait() {
                    Outcome::Loaded(v) => *v,
                    _ => 0,
                })
            })
            .collect();
        p.finish(Outcome::Loaded(Arc::new(42)));
        for w in waiters {
            assert_eq!(w.join().expect("waiter panicked"), 42);
        }
    }

    #[test]
    fn errors_are_shared_type_erased() {
        let p = Pending::<u32>::new(false);
        p.finish(Outcome::Failed(Arc::new(String::from("EIO"))));
        match p.wait() {
            Outcome::Failed(e) => {
                assert_eq!(e.downcast_ref::<String>().map(String::as_str), Some("EIO"));
                assert!(e.downcast_ref::<u32>().is_none());
            }
            _ => panic!("expected a failure"),
        }
    }
}
