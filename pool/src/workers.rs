//! A small pool of worker threads for checksums and compression, so that the
//! CPU work of a txg sync runs on every core and outside any pool lock.

use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};

type Job = Box<dyn FnOnce() + Send>;

/// Worker threads fed through one channel.
pub struct Workers {
    tx: Option<Sender<Job>>,
    threads: Vec<JoinHandle<()>>,
}

impl Workers {
    /// Starts `n` workers (at least one).
    pub fn new(name: &str, n: usize) -> Workers {
        let (tx, rx): (Sender<Job>, Receiver<Job>) = crossbeam_channel::unbounded();
        let threads = (0..n.max(1))
            .map(|i| {
                let rx = rx.clone();
                std::thread::Builder::new()
                    .name(format!("{name}{i}"))
                    .spawn(move || {
                        while let Ok(job) = rx.recv() {
                            job();
                        }
                    })
                    .expect("spawn worker")
            })
            .collect();
        Workers {
            tx: Some(tx),
            threads,
        }
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
        if let Some(tx) = &self.tx {
            // Sending fails only while the pool is being dropped.
            let _ = tx.send(Box::new(job));
        }
    }

    /// Applies `f` to every item on the workers and returns the results in
    /// order.
    pub fn map<T, R>(&self, items: Vec<T>, f: impl Fn(T) -> R + Send + Sync + 'static) -> Vec<R>
    where
        T: Send + 'static,
        R: Send + 'static,
    {
        let n = items.len();
        if n <= 1 {
            return items.into_iter().map(f).collect();
        }
        let f = std::sync::Arc::new(f);
        let (tx, rx) = crossbeam_channel::bounded(n);
        for (i, item) in items.into_iter().enumerate() {
            let f = f.clone();
            let tx = tx.clone();
            self.spawn(move || {
                let _ = tx.send((i, f(item)));
            });
        }
        drop(tx);
        let mut out: Vec<Option<R>> = (0..n).map(|_| None).collect();
        for (i, r) in rx.iter() {
            out[i] = Some(r);
        }
        out.into_iter()
            .map(|r| r.expect("every job sends its result"))
            .collect()
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        self.tx.take();
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
}
