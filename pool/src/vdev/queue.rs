//! The per-device I/O scheduler: priority classes, each with a minimum and
//! maximum number of I/Os in flight (in the manner of OpenZFS's vdev queue),
//! and within a class weighted fair queueing between tenants (datasets or
//! zones), so that a noisy tenant cannot starve a quiet one.
//!
//! Each request gets a virtual finish tag `start + cost / weight`, where
//! `start` is the later of the class's virtual clock and the tenant's last
//! finish tag; the request with the smallest tag goes first.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

/// Priority classes, highest first.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub enum IoClass {
    /// A read a caller waits for.
    SyncRead = 0,
    /// A write a caller waits for (intent log).
    SyncWrite = 1,
    /// Read-ahead.
    AsyncRead = 2,
    /// Txg sync writes.
    AsyncWrite = 3,
    /// Scrub and resilver.
    Scrub = 4,
}

/// Number of classes.
pub const CLASS_COUNT: usize = 5;

impl IoClass {
    /// True for a read nobody asked for yet (read-ahead): it may carry a
    /// block pointer read before the block was freed, so it never repairs,
    /// fills in or counts errors (OpenZFS's speculative reads neither).
    pub fn is_speculative(self) -> bool {
        self == IoClass::AsyncRead
    }

    /// All classes, highest priority first.
    pub const ALL: [IoClass; CLASS_COUNT] = [
        IoClass::SyncRead,
        IoClass::SyncWrite,
        IoClass::AsyncRead,
        IoClass::AsyncWrite,
        IoClass::Scrub,
    ];

    /// (min active, max active) for the class.
    fn limits(self) -> (usize, usize) {
        match self {
            IoClass::SyncRead => (10, 10),
            IoClass::SyncWrite => (10, 10),
            IoClass::AsyncRead => (1, 3),
            IoClass::AsyncWrite => (2, 10),
            IoClass::Scrub => (1, 2),
        }
    }
}

/// Tenant id used when none is given.
pub const DEFAULT_TENANT: u64 = 0;
/// Weight of a tenant nobody configured.
pub const DEFAULT_WEIGHT: u32 = 100;

struct Tagged<T> {
    tag: u128,
    seq: u64,
    item: T,
}

impl<T> PartialEq for Tagged<T> {
    fn eq(&self, o: &Self) -> bool {
        (self.tag, self.seq) == (o.tag, o.seq)
    }
}
impl<T> Eq for Tagged<T> {}
impl<T> PartialOrd for Tagged<T> {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl<T> Ord for Tagged<T> {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.tag, self.seq).cmp(&(o.tag, o.seq))
    }
}

#[derive(Default)]
struct ClassQueue<T> {
    heap: BinaryHeap<Reverse<Tagged<T>>>,
    vclock: u128,
    last_finish: HashMap<u64, u128>,
    active: usize,
}

/// The scheduler of one device.
pub struct IoScheduler<T> {
    classes: Vec<ClassQueue<T>>,
    max_active: usize,
    seq: u64,
}

/// Fixed-point scale for virtual time.
const SCALE: u128 = 1 << 20;

impl<T> IoScheduler<T> {
    /// A scheduler allowing `max_active` I/Os in flight on the device.
    pub fn new(max_active: usize) -> Self {
        IoScheduler {
            classes: (0..CLASS_COUNT)
                .map(|_| ClassQueue {
                    heap: BinaryHeap::new(),
                    vclock: 0,
                    last_finish: HashMap::new(),
                    active: 0,
                })
                .collect(),
            max_active: max_active.max(1),
            seq: 0,
        }
    }

    /// Queues `item` of `cost` bytes for `tenant` of `weight`.
    pub fn push(&mut self, class: IoClass, tenant: u64, weight: u32, cost: u64, item: T) {
        let q = &mut self.classes[class as usize];
        let last = q.last_finish.get(&tenant).copied().unwrap_or(0);
        let start = last.max(q.vclock);
        let tag = start + (cost.max(512) as u128 * SCALE) / weight.max(1) as u128;
        q.last_finish.insert(tenant, tag);
        if q.last_finish.len() > 4096 {
            // Forget tenants whose tags are in the past; they restart at the clock.
            let clock = q.vclock;
            q.last_finish.retain(|_, t| *t > clock);
        }
        self.seq += 1;
        q.heap.push(Reverse(Tagged {
            tag,
            seq: self.seq,
            item,
        }));
    }

    /// Total I/Os in flight.
    pub fn active(&self) -> usize {
        self.classes.iter().map(|c| c.active).sum()
    }

    /// Number of queued (not yet dispatched) I/Os.
    pub fn queued(&self) -> usize {
        self.classes.iter().map(|c| c.heap.len()).sum()
    }

    /// Picks the next I/O to dispatch, if the limits allow one.
    pub fn pop(&mut self) -> Option<(IoClass, T)> {
        if self.active() >= self.max_active {
            return None;
        }
        let pick = IoClass::ALL
            .iter()
            .find(|c| {
                let q = &self.classes[**c as usize];
                !q.heap.is_empty() && q.active < c.limits().0
            })
            .or_else(|| {
                IoClass::ALL.iter().find(|c| {
                    let q = &self.classes[**c as usize];
                    !q.heap.is_empty() && q.active < c.limits().1
                })
            })
            .copied()?;
        let q = &mut self.classes[pick as usize];
        let Reverse(t) = q.heap.pop()?;
        q.vclock = q.vclock.max(t.tag);
        q.active += 1;
        Some((pick, t.item))
    }

    /// Records the completion of an I/O of `class`.
    pub fn complete(&mut self, class: IoClass) {
        let q = &mut self.classes[class as usize];
        q.active = q.active.saturating_sub(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn higher_classes_go_first_within_limits() {
        let mut s = IoScheduler::new(100);
        for i in 0..20 {
            s.push(IoClass::AsyncWrite, 0, 100, 4096, ("w", i));
        }
        for i in 0..3 {
            s.push(IoClass::SyncRead, 0, 100, 4096, ("r", i));
        }
        let order: Vec<_> = std::iter::from_fn(|| s.pop()).collect();
        // Reads first, then async writes up to their max of 10.
        assert_eq!(order.len(), 13);
        assert!(order[..3].iter().all(|(c, _)| *c == IoClass::SyncRead));
        assert!(order[3..].iter().all(|(c, _)| *c == IoClass::AsyncWrite));
    }

    #[test]
    fn scrub_keeps_its_minimum_under_load() {
        let mut s = IoScheduler::new(11);
        for i in 0..50 {
            s.push(IoClass::SyncRead, 0, 100, 4096, i);
            s.push(IoClass::Scrub, 0, 100, 4096, 1000 + i);
        }
        let got: Vec<_> = std::iter::from_fn(|| s.pop()).collect();
        assert_eq!(got.iter().filter(|(c, _)| *c == IoClass::Scrub).count(), 1);
        assert_eq!(
            got.iter().filter(|(c, _)| *c == IoClass::SyncRead).count(),
            10
        );
    }

    #[test]
    fn weighted_fair_queueing_between_tenants() {
        let mut s = IoScheduler::new(1);
        // Tenant 1 floods first; tenant 2 arrives later with a small queue.
        for i in 0..100 {
            s.push(IoClass::SyncRead, 1, 100, 4096, (1, i));
        }
        for i in 0..10 {
            s.push(IoClass::SyncRead, 2, 100, 4096, (2, i));
        }
        let mut first20 = Vec::new();
        for _ in 0..20 {
            let (c, item) = s.pop().unwrap();
            s.complete(c);
            first20.push(item.0);
        }
        // Equal weights: the quiet tenant gets about half of the service.
        let quiet = first20.iter().filter(|t| **t == 2).count();
        assert!((8..=12).contains(&quiet), "quiet tenant got {quiet} of 20");
    }

    #[test]
    fn weights_split_service_proportionally() {
        let mut s = IoScheduler::new(1);
        for i in 0..400 {
            s.push(IoClass::AsyncWrite, 1, 100, 8192, (1, i));
            s.push(IoClass::AsyncWrite, 2, 300, 8192, (2, i));
        }
        let mut heavy = 0;
        for _ in 0..200 {
            let (c, item) = s.pop().unwrap();
            s.complete(c);
            if item.0 == 2 {
                heavy += 1;
            }
        }
        assert!((140..=160).contains(&heavy), "weight 3:1 gave {heavy}/200");
    }
}
