//! A cold sequential read against a simulated disk, with and without
//! read-ahead: does the prefetcher bring it to disk speed?
//!
//! The disk serves `depth` requests at once, each taking `latency`, so its
//! speed is `depth / latency` blocks per second, reached only by a reader
//! that keeps `depth` requests in flight. A plain sequential reader keeps one.

use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use basin_arc::{ArcCache, ArcConfig, ArcError, PrefetchConfig, Prefetcher, Weighted};
use serde::Serialize;

struct Block;

impl Weighted for Block {
    fn weight(&self) -> usize {
        128 * 1024
    }
}

/// A disk with a fixed latency per request and a queue depth.
struct SimDisk {
    latency: Duration,
    depth: usize,
    busy: Mutex<usize>,
    free: Condvar,
}

impl SimDisk {
    fn read(&self) -> Result<Block, String> {
        {
            let mut busy = self.busy.lock().map_err(|_| "disk lock poisoned")?;
            while *busy >= self.depth {
                busy = self.free.wait(busy).map_err(|_| "disk lock poisoned")?;
            }
            *busy += 1;
        }
        std::thread::sleep(self.latency);
        *self.busy.lock().map_err(|_| "disk lock poisoned")? -= 1;
        self.free.notify_one();
        Ok(Block)
    }
}

/// One sequential read.
#[derive(Clone, Debug, Serialize)]
pub struct SeqRead {
    /// "no read-ahead" or "read-ahead".
    pub mode: String,
    /// Blocks read.
    pub blocks: u64,
    /// Wall time, in seconds.
    pub seconds: f64,
    /// Blocks per second.
    pub blocks_per_sec: f64,
    /// Share of the disk's speed, in percent.
    pub percent_of_disk: f64,
}

/// Reads `blocks` blocks in order from a cold cache, once without and once
/// with read-ahead (issued by `depth` worker threads).
pub fn sequential(blocks: u64, latency: Duration, depth: usize) -> Result<Vec<SeqRead>, ArcError> {
    let disk_speed = depth as f64 / latency.as_secs_f64();
    let mut out = Vec::new();
    for readahead in [false, true] {
        let disk = Arc::new(SimDisk {
            latency,
            depth,
            busy: Mutex::new(0),
            free: Condvar::new(),
        });
        let cache: Arc<ArcCache<u64, Block>> =
            Arc::new(ArcCache::new(ArcConfig::new(1 << 30).shards(4))?);
        let prefetcher = Prefetcher::new(PrefetchConfig {
            max_distance: (depth as u64 * 2).max(2),
            ..PrefetchConfig::default()
        })?;
        let (tx, rx) = mpsc::channel::<u64>();
        let rx = Arc::new(Mutex::new(rx));
        let workers: Vec<_> = (0..if readahead { depth } else { 0 })
            .map(|_| {
                let (cache, disk, rx) = (Arc::clone(&cache), Arc::clone(&disk), Arc::clone(&rx));
                std::thread::spawn(move || loop {
                    let next = match rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => return,
                    };
                    let Ok(block) = next else { return };
                    // A failed read-ahead is only a lost hint.
                    let _ = cache.prefetch(block, || disk.read());
                })
            })
            .collect();
        let t0 = Instant::now();
        for b in 0..blocks {
            if readahead {
                if let Some(ahead) = prefetcher.access(1, b, 1) {
                    for a in ahead.filter(|&a| a < blocks) {
                        let _ = tx.send(a);
                    }
                }
            }
            cache
                .get_or_load(b, || disk.read())
                .map_err(|e| ArcError::InvalidConfig(format!("simulated read failed: {e}")))?;
        }
        let seconds = t0.elapsed().as_secs_f64();
        drop(tx);
        for w in workers {
            let _ = w.join();
        }
        let blocks_per_sec = blocks as f64 / seconds;
        out.push(SeqRead {
            mode: if readahead {
                "read-ahead"
            } else {
                "no read-ahead"
            }
            .into(),
            blocks,
            seconds,
            blocks_per_sec,
            percent_of_disk: 100.0 * blocks_per_sec / disk_speed,
        });
    }
    Ok(out)
}
