//! Sequential read-ahead detection.
//!
//! A [`Prefetcher`] watches the block reads of objects (files, volumes) and
//! recognises ascending streams: a read that starts where an earlier read of
//! the same object ended continues that stream. Once a stream has been
//! continued `trigger` times, every further read returns the blocks to read
//! ahead; the distance starts at `initial_distance` blocks and doubles with
//! each read up to `max_distance`, so a cold sequential read soon keeps
//! enough reads in flight to run at disk speed while random reads cause no
//! read-ahead at all. Several streams (in one object or many) are tracked at
//! once, the least recently used one giving way to a new one.
//!
//! The prefetcher only decides; the caller issues the reads (typically with
//! [`crate::ArcCache::prefetch`] on its I/O workers) and clips the returned
//! range to the object's length.

use std::ops::Range;

use parking_lot::Mutex;

use crate::ArcError;

/// How aggressive read-ahead is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrefetchConfig {
    /// Streams tracked at once.
    pub max_streams: usize,
    /// Reads in a row a stream needs before read-ahead starts (at least 2:
    /// one read alone is no stream).
    pub trigger: u32,
    /// Read-ahead distance, in blocks, when a stream is first confirmed.
    pub initial_distance: u64,
    /// The most blocks a stream reads ahead of its reader.
    pub max_distance: u64,
}

impl Default for PrefetchConfig {
    fn default() -> Self {
        PrefetchConfig {
            max_streams: 16,
            trigger: 2,
            initial_distance: 2,
            max_distance: 64,
        }
    }
}

#[derive(Clone, Debug)]
struct Stream {
    object: u64,
    /// The block the next read of the stream starts at.
    next: u64,
    /// Reads in a row.
    run: u32,
    /// Current read-ahead distance in blocks (0: not yet confirmed).
    distance: u64,
    /// Read-ahead has been issued up to here (exclusive).
    issued_end: u64,
    last_used: u64,
}

struct Streams {
    streams: Vec<Stream>,
    clock: u64,
}

/// A detector of sequential reads. Cheap to share: one lock, a few streams.
pub struct Prefetcher {
    config: PrefetchConfig,
    state: Mutex<Streams>,
}

impl Prefetcher {
    /// A prefetcher with `config`.
    pub fn new(config: PrefetchConfig) -> Result<Self, ArcError> {
        if config.max_streams == 0 {
            return Err(ArcError::InvalidConfig(
                "the prefetcher needs at least one stream".into(),
            ));
        }
        if config.trigger < 2 {
            return Err(ArcError::InvalidConfig(
                "the prefetch trigger must be at least 2 reads in a row".into(),
            ));
        }
        if config.initial_distance == 0 || config.max_distance < config.initial_distance {
            return Err(ArcError::InvalidConfig(format!(
                "prefetch distances must satisfy 0 < initial ({}) <= max ({})",
                config.initial_distance, config.max_distance
            )));
        }
        Ok(Prefetcher {
            state: Mutex::new(Streams {
                streams: Vec::with_capacity(config.max_streams),
                clock: 0,
            }),
            config,
        })
    }

    /// Records a read of `count` blocks of `object` from block `first`, and
    /// returns the blocks to read ahead now, if any (never blocks already
    /// returned for this stream).
    pub fn access(&self, object: u64, first: u64, count: u64) -> Option<Range<u64>> {
        let end = first.saturating_add(count.max(1));
        let mut st = self.state.lock();
        st.clock += 1;
        let now = st.clock;
        let found = st
            .streams
            .iter_mut()
            .find(|s| s.object == object && first <= s.next && s.next <= end);
        let Some(s) = found else {
            let fresh = Stream {
                object,
                next: end,
                run: 1,
                distance: 0,
                issued_end: end,
                last_used: now,
            };
            if st.streams.len() < self.config.max_streams {
                st.streams.push(fresh);
            } else if let Some(oldest) = st.streams.iter_mut().min_by_key(|s| s.last_used) {
                *oldest = fresh;
            }
            return None;
        };
        s.last_used = now;
        if end == s.next {
            // A re-read of the stream's last blocks: no progress.
            return None;
        }
        s.next = end;
        s.run = s.run.saturating_add(1);
        if s.run < self.config.trigger {
            return None;
        }
        s.distance = match s.distance {
            0 => self.config.initial_distance,
            d => d.saturating_mul(2).min(self.config.max_distance),
        };
        let window_end = end.saturating_add(s.distance);
        let start = s.issued_end.max(end);
        if window_end <= start {
            return None;
        }
        s.issued_end = window_end;
        Some(start..window_end)
    }

    /// Forgets the streams of `object` (closed, truncated or freed).
    pub fn forget(&self, object: u64) {
        self.state.lock().streams.retain(|s| s.object != object);
    }

    /// Number of streams tracked.
    pub fn streams(&self) -> usize {
        self.state.lock().streams.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pf(max_streams: usize) -> Prefetcher {
        Prefetcher::new(PrefetchConfig {
            max_streams,
            trigger: 2,
            initial_distance: 2,
            max_distance: 16,
        })
        .expect("valid config")
    }

    #[test]
    fn sequential_reads_ramp_up_to_the_cap() {
        let p = pf(4);
        let got: Vec<_> = (0..8).map(|b| p.access(1, b, 1)).collect();
        assert_eq!(
            got,
            vec![
                None,
                Some(2..4),   // confirmed: distance 2
                Some(4..7),   // distance 4 from block 3
                Some(7..12),  // distance 8 from block 4
                Some(12..21), // distance 16 (the cap) from block 5
                Some(21..22), // stays 16 ahead
                Some(22..23),
                Some(23..24),
            ]
        );
    }

    #[test]
    fn every_block_ahead_is_issued_once() {
        let p = pf(4);
        let mut issued = Vec::new();
        for b in 0..200 {
            if let Some(r) = p.access(9, b, 1) {
                issued.extend(r);
            }
        }
        let expected: Vec<u64> = (2..200 + 16).collect();
        assert_eq!(issued, expected);
    }

    #[test]
    fn random_and_backward_reads_trigger_nothing() {
        let p = pf(4);
        for b in [50u64, 7, 300, 12, 90, 1000, 3] {
            assert_eq!(p.access(1, b, 1), None);
        }
        for b in (0..20u64).rev() {
            assert_eq!(p.access(2, b, 1), None);
        }
    }

    #[test]
    fn interleaved_streams_are_told_apart() {
        let p = pf(4);
        let mut a = Vec::new();
        let mut b = Vec::new();
        for i in 0..4 {
            a.push(p.access(1, i, 1));
            b.push(p.access(1, 1000 + i, 1));
        }
        assert_eq!(a[1], Some(2..4));
        assert_eq!(b[1], Some(1002..1004));
        assert!(a[3].is_some() && b[3].is_some());
    }

    #[test]
    fn multi_block_reads_continue_a_stream() {
        let p = pf(4);
        assert_eq!(p.access(5, 0, 8), None);
        assert_eq!(p.access(5, 8, 8), Some(16..18));
        // Overlapping the end of the previous read still continues it; the
        // read itself covers 18..23, so read-ahead resumes after it.
        assert_eq!(p.access(5, 15, 8), Some(23..27));
    }

    #[test]
    fn re_reading_the_last_block_is_not_progress() {
        let p = pf(4);
        p.access(5, 0, 1);
        assert_eq!(p.access(5, 0, 1), None);
        assert_eq!(p.access(5, 1, 1), Some(2..4));
    }

    #[test]
    fn the_least_recently_used_stream_gives_way() {
        let p = pf(2);
        p.access(1, 0, 1);
        p.access(2, 0, 1);
        p.access(1, 1, 1); // stream 1 used again: stream 2 is now the oldest
        p.access(3, 0, 1); // replaces stream 2
        assert_eq!(p.streams(), 2);
        assert!(p.access(1, 2, 1).is_some(), "stream 1 survived");
        assert_eq!(p.access(2, 1, 1), None, "stream 2 was forgotten");
    }

    #[test]
    fn forget_drops_an_objects_streams() {
        let p = pf(4);
        p.access(1, 0, 1);
        p.access(2, 0, 1);
        p.forget(1);
        assert_eq!(p.streams(), 1);
        assert_eq!(p.access(1, 1, 1), None);
    }

    #[test]
    fn bad_configs_are_refused() {
        let base = PrefetchConfig::default();
        for bad in [
            PrefetchConfig {
                max_streams: 0,
                ..base.clone()
            },
            PrefetchConfig {
                trigger: 1,
                ..base.clone()
            },
            PrefetchConfig {
                initial_distance: 0,
                ..base.clone()
            },
            PrefetchConfig {
                max_distance: 1,
                ..base.clone()
            },
        ] {
            assert!(Prefetcher::new(bad).is_err());
        }
    }
}
