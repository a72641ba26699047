//! A small pool of worker threads for checksums and compression, so that the
//! CPU work of a txg sync runs on every core and outside any pool lock.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use parking_lot::{Condvar, Mutex};

type Job = Box<dyn FnOnce() + Send>;

/// The jobs not started yet, and whether the pool is closing.
#[derive(Default)]
struct Queue {
    jobs: Mutex<(VecDeque<Job>, bool)>,
    cv: Condvar,
}

impl Queue {
    /// The next job; `None` once the pool closes and nothing is left. An
    /// idle worker sleeps at once: it never spins nor yields waiting for
    /// work (a channel's back-off would, on every batch, for nothing: the
    /// next batch comes when the caller has issued this one).
    fn next(&self) -> Option<Job> {
        let mut q = self.jobs.lock();
        loop {
            if let Some(job) = q.0.pop_front() {
                return Some(job);
            }
            if q.1 {
                return None;
            }
            self.cv.wait(&mut q);
        }
    }
}

/// Worker threads fed through one queue.
pub struct Workers {
    queue: Arc<Queue>,
    threads: Vec<JoinHandle<()>>,
}

impl Workers {
    /// Starts `n` workers (at least one).
    pub fn new(name: &str, n: usize) -> Workers {
        let queue = Arc::new(Queue::default());
        let threads = (0..n.max(1))
            .map(|i| {
                let q = queue.clone();
                std::thread::Builder::new()
                    .name(format!("{name}{i}"))
                    .spawn(move || {
                        while let Some(job) = q.next() {
                            job();
                        }
                    })
                    .expect("spawn worker")
            })
            .collect();
        Workers { queue, threads }
    }

    /// One worker per CPU.
    pub fn per_cpu(name: &str) -> Workers {
        let n = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        Workers::new(name, n)
    }

    /// Number of threads.
    pub fn len(&self) -> usize {
        self.threads.len()
    }

    /// True when there are no threads (never, in practice).
    pub fn is_empty(&self) -> bool {
        self.threads.is_empty()
    }

    /// Runs `job` on a worker.
    pub fn spawn(&self, job: impl FnOnce() + Send + 'static) {
        self.queue.jobs.lock().0.push_back(Box::new(job));
        // One job: one idle worker is enough (a busy one looks for more
        // before it sleeps). Costs nothing when none sleeps.
        self.queue.cv.notify_one();
    }

    /// Applies `f` to every item and returns the results in order. The
    /// items are shared out between the calling thread and the workers,
    /// each taking the next item not taken yet (the workers from the
    /// front, the caller from the back, where the buffers it filled last
    /// may still be in its core's cache): one hand-off per worker rather
    /// than per item, and the caller works rather than waits. The caller
    /// counts as one of the threads: with a worker per CPU, all but one
    /// of them help, so that the batch runs on as many threads as there
    /// are CPUs (one more would only be woken to wait for a CPU, and take
    /// turns with the others on it). It sleeps at the end only if a worker
    /// still has an item, and is woken once.
    pub fn map<T, R>(&self, items: Vec<T>, f: impl Fn(T) -> R + Send + Sync + 'static) -> Vec<R>
    where
        T: Send + 'static,
        R: Send + 'static,
    {
        let n = items.len();
        if n <= 1 || self.threads.is_empty() {
            return items.into_iter().map(f).collect();
        }
        assert!(n <= u32::MAX as usize, "a batch of {n} items");
        let batch = Arc::new(Batch {
            items: items.into_iter().map(|t| Mutex::new(Some(t))).collect(),
            results: (0..n).map(|_| Mutex::new(None)).collect(),
            ends: AtomicU64::new((n as u64) << 32),
            left: Mutex::new(n),
            cv: Condvar::new(),
            f,
        });
        let helpers = self.threads.len().saturating_sub(1).max(1).min(n - 1);
        for _ in 0..helpers {
            let b = batch.clone();
            self.spawn(move || b.run(false));
        }
        batch.run(true);
        let mut left = batch.left.lock();
        while *left > 0 {
            batch.cv.wait(&mut left);
        }
        drop(left);
        batch
            .results
            .iter()
            .map(|r| r.lock().take().expect("every item has its result"))
            .collect()
    }
}

/// The items of one [`Workers::map`], their results, and the count of
/// items not done.
struct Batch<T, R, F> {
    items: Vec<Mutex<Option<T>>>,
    results: Vec<Mutex<Option<R>>>,
    /// The items nobody took: from the low half (the front) up to the
    /// high half (the back), excluded.
    ends: AtomicU64,
    left: Mutex<usize>,
    cv: Condvar,
    f: F,
}

impl<T, R, F: Fn(T) -> R> Batch<T, R, F> {
    /// Takes the next item from the front (or the back) nobody took.
    fn claim(&self, back: bool) -> Option<usize> {
        let mut cur = self.ends.load(Ordering::Relaxed);
        loop {
            let (front, end) = (cur & 0xffff_ffff, cur >> 32);
            if front >= end {
                return None;
            }
            let (next, i) = if back {
                (front | ((end - 1) << 32), end - 1)
            } else {
                ((front + 1) | (end << 32), front)
            };
            match self
                .ends
                .compare_exchange_weak(cur, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return Some(i as usize),
                Err(now) => cur = now,
            }
        }
    }

    /// Takes items and runs them until none is left.
    fn run(&self, from_back: bool) {
        while let Some(i) = self.claim(from_back) {
            let Some(item) = self.items[i].lock().take() else {
                continue;
            };
            // Counts the item as done even if `f` panics (its result then
            // stays missing and the caller panics in turn).
            let done = ItemDone(&self.left, &self.cv);
            let r = (self.f)(item);
            *self.results[i].lock() = Some(r);
            drop(done);
        }
    }
}

/// Counts one item of a batch as done when dropped.
struct ItemDone<'a>(&'a Mutex<usize>, &'a Condvar);

impl Drop for ItemDone<'_> {
    fn drop(&mut self) {
        let mut left = self.0.lock();
        *left -= 1;
        if *left == 0 {
            self.1.notify_one();
        }
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        // The workers finish what is queued, then leave.
        self.queue.jobs.lock().1 = true;
        self.queue.cv.notify_all();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_keeps_order() {
        let w = Workers::new("t", 3);
        let out = w.map((0..100).collect(), |x: u64| x * x);
        assert_eq!(out, (0..100).map(|x| x * x).collect::<Vec<_>>());
    }

    #[test]
    fn map_shares_the_items_out() {
        let w = Workers::new("t", 2);
        for n in [0usize, 1, 2, 3, 64] {
            let out = w.map((0..n).map(|i| vec![i as u8; 3]).collect(), |v| {
                v.iter().map(|&x| x as u64).sum::<u64>()
            });
            assert_eq!(out, (0..n).map(|i| 3 * i as u64).collect::<Vec<_>>());
        }
    }

    #[test]
    fn spawned_jobs_run_and_dropping_waits_for_them() {
        let done = Arc::new(AtomicU64::new(0));
        let w = Workers::new("t", 3);
        for _ in 0..100 {
            let done = done.clone();
            w.spawn(move || {
                done.fetch_add(1, Ordering::SeqCst);
            });
        }
        drop(w);
        assert_eq!(done.load(Ordering::SeqCst), 100);
    }

    #[test]
    #[should_panic(expected = "every item has its result")]
    fn a_panicking_item_is_reported_not_awaited() {
        use std::sync::atomic::AtomicBool;
        static WORKER_RAN: AtomicBool = AtomicBool::new(false);
        let w = Workers::new("t", 2);
        let caller = std::thread::current().id();
        // Items panic on the workers only, and the caller waits for a worker
        // to take one: the caller must report it, not wait for it forever.
        w.map((0..64u64).collect(), move |x| {
            if std::thread::current().id() != caller {
                WORKER_RAN.store(true, Ordering::SeqCst);
                panic!("item {x}");
            }
            let t = std::time::Instant::now();
            while !WORKER_RAN.load(Ordering::SeqCst) && t.elapsed().as_secs() < 30 {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            x
        });
    }
}
