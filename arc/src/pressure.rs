//! Giving memory back when the machine runs short.
//!
//! A [`PressureMonitor`] thread polls a [`MemorySource`] (by default
//! `/proc/meminfo` and `/proc/pressure/memory`) and lets a [`PressurePolicy`]
//! decide whether the cache's target `c` should shrink, grow back, or hold.
//! The policy is a pure function of one reading, so it is tested with
//! injected readings, never with the real machine's memory.
//!
//! The policy keeps a reserve of available memory: `max(total /
//! reserve_divisor, min_reserve)`. Below the reserve the target shrinks by
//! the shortfall, and at least by `c / shrink_divisor` per poll; below half of
//! it, straight to arc_min. Memory stalls reported by PSI count as pressure
//! too when available memory is under twice the reserve (stalls with plenty
//! of memory free come from some cgroup's own limit, which shrinking the
//! cache would not relieve). When available memory is above twice the
//! reserve, the target grows back by `c_max / grow_divisor` per poll, never
//! into that band.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use crate::{ArcCache, ArcError, Weighted};

/// One look at the machine's memory.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MemReading {
    /// Total memory, in bytes.
    pub total: u64,
    /// Memory available to new allocations without swapping, in bytes
    /// (`MemAvailable`).
    pub available: u64,
    /// PSI: share of the last 10 s in which some task stalled on memory, in
    /// percent (`None` where the kernel has no PSI).
    pub psi_some_avg10: Option<f64>,
    /// PSI: share of the last 10 s in which all tasks stalled on memory.
    pub psi_full_avg10: Option<f64>,
}

/// Where readings come from (the real `/proc`, or a test's script).
pub trait MemorySource: Send {
    /// Takes one reading.
    fn read(&mut self) -> Result<MemReading, ArcError>;
}

/// Reads `/proc/meminfo` and, if present, `/proc/pressure/memory`.
#[derive(Clone, Debug)]
pub struct ProcMemorySource {
    meminfo: PathBuf,
    psi: PathBuf,
}

impl Default for ProcMemorySource {
    fn default() -> Self {
        ProcMemorySource::with_paths("/proc/meminfo", "/proc/pressure/memory")
    }
}

impl ProcMemorySource {
    /// A source reading the given files (for tests and unusual mounts).
    pub fn with_paths(meminfo: impl Into<PathBuf>, psi: impl Into<PathBuf>) -> Self {
        ProcMemorySource {
            meminfo: meminfo.into(),
            psi: psi.into(),
        }
    }
}

fn read_text(path: &Path) -> Result<String, ArcError> {
    std::fs::read_to_string(path).map_err(|source| ArcError::ReadStats {
        path: path.to_owned(),
        source,
    })
}

impl MemorySource for ProcMemorySource {
    fn read(&mut self) -> Result<MemReading, ArcError> {
        let (total, available) = parse_meminfo(&read_text(&self.meminfo)?)?;
        // PSI is optional: kernels without it (or with it disabled) have no
        // file, and the policy then goes by available memory alone.
        let (some, full) = match read_text(&self.psi) {
            Ok(text) => {
                let (some, full) = parse_psi(&text)?;
                (Some(some), full)
            }
            Err(_) => (None, None),
        };
        Ok(MemReading {
            total,
            available,
            psi_some_avg10: some,
            psi_full_avg10: full,
        })
    }
}

fn parse_err(what: &str, detail: impl Into<String>) -> ArcError {
    ArcError::ParseStats {
        what: what.into(),
        detail: detail.into(),
    }
}

/// Parses `/proc/meminfo` into `(MemTotal, MemAvailable)` in bytes. Kernels
/// older than 3.14 have no MemAvailable; MemFree + Buffers + Cached stands in.
pub fn parse_meminfo(text: &str) -> Result<(u64, u64), ArcError> {
    let mut total = None;
    let mut available = None;
    let mut fallback = 0u64;
    for line in text.lines() {
        let Some((name, rest)) = line.split_once(':') else {
            continue;
        };
        let mut words = rest.split_whitespace();
        let Some(value) = words.next() else {
            continue;
        };
        let value: u64 = value
            .parse()
            .map_err(|_| parse_err("/proc/meminfo", format!("bad number in line {line:?}")))?;
        let bytes = match words.next() {
            Some("kB") => value.saturating_mul(1024),
            None => value,
            Some(unit) => {
                return Err(parse_err(
                    "/proc/meminfo",
                    format!("unknown unit {unit:?} in line {line:?}"),
                ))
            }
        };
        match name.trim() {
            "MemTotal" => total = Some(bytes),
            "MemAvailable" => available = Some(bytes),
            "MemFree" | "Buffers" | "Cached" => fallback = fallback.saturating_add(bytes),
            _ => {}
        }
    }
    let total = total.ok_or_else(|| parse_err("/proc/meminfo", "no MemTotal line"))?;
    Ok((total, available.unwrap_or(fallback)))
}

/// Parses `/proc/pressure/memory` into `(some avg10, full avg10)`, in
/// percent. The `full` line is absent on some kernels.
pub fn parse_psi(text: &str) -> Result<(f64, Option<f64>), ArcError> {
    let mut some = None;
    let mut full = None;
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let kind = fields.next();
        let avg10 = fields
            .find_map(|f| f.strip_prefix("avg10="))
            .map(|v| {
                v.parse::<f64>().map_err(|_| {
                    parse_err("/proc/pressure/memory", format!("bad avg10 in {line:?}"))
                })
            })
            .transpose()?;
        match kind {
            Some("some") => some = avg10,
            Some("full") => full = avg10,
            _ => {}
        }
    }
    let some =
        some.ok_or_else(|| parse_err("/proc/pressure/memory", "no 'some' line with avg10"))?;
    Ok((some, full))
}

/// When and how far the cache gives memory back.
#[derive(Clone, Debug, PartialEq)]
pub struct PressurePolicy {
    /// Keep at least `total / reserve_divisor` bytes available.
    pub reserve_divisor: u64,
    /// And at least this many bytes.
    pub min_reserve: u64,
    /// PSI `some` avg10 (percent) at or above which memory counts as short
    /// (when available memory is under twice the reserve).
    pub psi_some_high: f64,
    /// PSI `full` avg10 (percent) at or above which memory counts as short
    /// (same condition).
    pub psi_full_high: f64,
    /// Under pressure, shrink by at least `c / shrink_divisor` per poll.
    pub shrink_divisor: u64,
    /// Without pressure, grow by `c_max / grow_divisor` per poll.
    pub grow_divisor: u64,
    /// Time between polls.
    pub interval: Duration,
}

impl Default for PressurePolicy {
    fn default() -> Self {
        PressurePolicy {
            reserve_divisor: 32,
            min_reserve: 64 << 20,
            psi_some_high: 10.0,
            psi_full_high: 2.0,
            shrink_divisor: 8,
            grow_divisor: 32,
            interval: Duration::from_millis(250),
        }
    }
}

/// What the policy wants done with the target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PressureDecision {
    /// Lower the target to this many bytes.
    Shrink(u64),
    /// Raise the target to this many bytes.
    Grow(u64),
    /// Leave it.
    Hold,
}

impl PressurePolicy {
    /// The available memory to keep, for a machine of `total` bytes.
    pub fn reserve(&self, total: u64) -> u64 {
        (total / self.reserve_divisor.max(1)).max(self.min_reserve)
    }

    /// Decides, from one reading, where the target (now `target`, bounded by
    /// `min` and `max`) should go.
    pub fn decide(&self, r: &MemReading, target: u64, min: u64, max: u64) -> PressureDecision {
        let reserve = self.reserve(r.total);
        let tight = r.available < reserve.saturating_mul(2);
        let stalled = r.psi_some_avg10.is_some_and(|s| s >= self.psi_some_high)
            || r.psi_full_avg10.is_some_and(|f| f >= self.psi_full_high);
        if r.available < reserve || (tight && stalled) {
            let to = if r.available < reserve / 2 {
                min
            } else {
                let deficit = reserve.saturating_sub(r.available);
                let step = deficit.max(target / self.shrink_divisor.max(1));
                target.saturating_sub(step).max(min)
            };
            return if to < target {
                PressureDecision::Shrink(to)
            } else {
                PressureDecision::Hold
            };
        }
        if tight || target >= max {
            return PressureDecision::Hold;
        }
        let room = r.available - reserve.saturating_mul(2);
        let step = (max / self.grow_divisor.max(1)).max(1).min(room);
        match step {
            0 => PressureDecision::Hold,
            s => PressureDecision::Grow(target.saturating_add(s).min(max)),
        }
    }

    /// One poll: decides from `reading` and applies the decision to `cache`.
    pub fn step<K, V, S>(&self, cache: &ArcCache<K, V, S>, reading: &MemReading) -> PressureDecision
    where
        K: std::hash::Hash + Eq + Clone + Send + Sync,
        V: Weighted + Send + Sync,
        S: std::hash::BuildHasher,
    {
        let (min, max, target) = cache.limits();
        let decision = self.decide(reading, target, min, max);
        match decision {
            PressureDecision::Shrink(to) | PressureDecision::Grow(to) => {
                cache.set_target(to);
            }
            PressureDecision::Hold => {}
        }
        decision
    }
}

struct Stop {
    stopped: Mutex<bool>,
    wake: Condvar,
}

/// A background thread that applies a [`PressurePolicy`] to one cache. It
/// holds the cache weakly, and stops when dropped or when the cache is gone.
pub struct PressureMonitor {
    stop: Arc<Stop>,
    errors: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl PressureMonitor {
    /// Starts polling `source` every `policy.interval` on behalf of `cache`.
    pub fn start<K, V, S>(
        cache: &Arc<ArcCache<K, V, S>>,
        mut source: Box<dyn MemorySource>,
        policy: PressurePolicy,
    ) -> Result<Self, ArcError>
    where
        K: std::hash::Hash + Eq + Clone + Send + Sync + 'static,
        V: Weighted + Send + Sync + 'static,
        S: std::hash::BuildHasher + Send + Sync + 'static,
    {
        let stop = Arc::new(Stop {
            stopped: Mutex::new(false),
            wake: Condvar::new(),
        });
        let errors = Arc::new(AtomicU64::new(0));
        let weak: Weak<ArcCache<K, V, S>> = Arc::downgrade(cache);
        let (stop2, errors2) = (Arc::clone(&stop), Arc::clone(&errors));
        let thread = std::thread::Builder::new()
            .name("arc-pressure".into())
            .spawn(move || loop {
                {
                    let mut stopped = stop2.stopped.lock();
                    if !*stopped {
                        stop2.wake.wait_for(&mut stopped, policy.interval);
                    }
                    if *stopped {
                        return;
                    }
                }
                let Some(cache) = weak.upgrade() else {
                    return;
                };
                match source.read() {
                    Ok(reading) => {
                        policy.step(&cache, &reading);
                    }
                    Err(_) => {
                        errors2.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
            .map_err(ArcError::SpawnMonitor)?;
        Ok(PressureMonitor {
            stop,
            errors,
            thread: Some(thread),
        })
    }

    /// Polls that failed to read memory statistics so far.
    pub fn read_errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    /// Stops the thread and waits for it.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        *self.stop.stopped.lock() = true;
        self.stop.wake.notify_all();
        if let Some(t) = self.thread.take() {
            // A panic in the monitor thread has nothing left to clean up.
            let _ = t.join();
        }
    }
}

impl Drop for PressureMonitor {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ArcConfig;

    const MIB: u64 = 1 << 20;
    const GIB: u64 = 1 << 30;

    fn reading(total: u64, available: u64) -> MemReading {
        MemReading {
            total,
            available,
            psi_some_avg10: Some(0.0),
            psi_full_avg10: Some(0.0),
        }
    }

    #[test]
    fn parses_meminfo() {
        let text = "MemTotal:       24684000 kB\nMemFree:        23449000 kB\n\
                    MemAvailable:   23764000 kB\nBuffers:           12 kB\nHugePages_Total:       0\n";
        assert_eq!(
            parse_meminfo(text).expect("parses"),
            (24684000 * 1024, 23764000 * 1024)
        );
        let old = "MemTotal: 100 kB\nMemFree: 10 kB\nBuffers: 5 kB\nCached: 20 kB\n";
        assert_eq!(parse_meminfo(old).expect("parses"), (102400, 35 * 1024));
        assert!(parse_meminfo("MemFree: 10 kB\n").is_err());
        assert!(parse_meminfo("MemTotal: lots kB\n").is_err());
        assert!(parse_meminfo("MemTotal: 1 GB\n").is_err());
    }

    #[test]
    fn parses_psi() {
        let text = "some avg10=12.50 avg60=3.00 avg300=0.00 total=123\n\
                    full avg10=1.25 avg60=0.00 avg300=0.00 total=45\n";
        assert_eq!(parse_psi(text).expect("parses"), (12.5, Some(1.25)));
        assert_eq!(
            parse_psi("some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n").expect("parses"),
            (0.0, None)
        );
        assert!(parse_psi("").is_err());
        assert!(parse_psi("some avg10=x\n").is_err());
    }

    #[test]
    fn proc_source_reads_files_and_tolerates_missing_psi() {
        let dir = tempfile::tempdir().expect("tempdir");
        let meminfo = dir.path().join("meminfo");
        std::fs::write(&meminfo, "MemTotal: 1024 kB\nMemAvailable: 512 kB\n").expect("write");
        let mut src = ProcMemorySource::with_paths(&meminfo, dir.path().join("no-psi"));
        let r = src.read().expect("reads");
        assert_eq!(
            (r.total, r.available, r.psi_some_avg10),
            (1 << 20, 1 << 19, None)
        );
        let psi = dir.path().join("psi");
        std::fs::write(&psi, "some avg10=5.00 avg60=0 avg300=0 total=1\n").expect("write");
        let r = ProcMemorySource::with_paths(&meminfo, &psi)
            .read()
            .expect("reads");
        assert_eq!(r.psi_some_avg10, Some(5.0));
        let mut missing = ProcMemorySource::with_paths(dir.path().join("none"), &psi);
        assert!(matches!(missing.read(), Err(ArcError::ReadStats { .. })));
    }

    #[test]
    fn plenty_of_memory_holds_or_grows() {
        let p = PressurePolicy::default();
        assert_eq!(
            p.decide(&reading(16 * GIB, 12 * GIB), GIB, MIB, GIB),
            PressureDecision::Hold
        );
        assert_eq!(
            p.decide(&reading(16 * GIB, 12 * GIB), GIB / 2, MIB, GIB),
            PressureDecision::Grow(GIB / 2 + GIB / 32)
        );
    }

    #[test]
    fn short_memory_shrinks_by_the_deficit_or_an_eighth() {
        let p = PressurePolicy::default();
        // 16 GiB machine: reserve 512 MiB. 400 MiB available: 112 MiB short,
        // less than an eighth of a 4 GiB target.
        assert_eq!(
            p.decide(&reading(16 * GIB, 400 * MIB), 4 * GIB, 64 * MIB, 8 * GIB),
            PressureDecision::Shrink(4 * GIB - 512 * MIB)
        );
        // A small target shrinks by the whole deficit.
        assert_eq!(
            p.decide(&reading(16 * GIB, 400 * MIB), 800 * MIB, 64 * MIB, 8 * GIB),
            PressureDecision::Shrink(800 * MIB - 112 * MIB)
        );
        // Never below arc_min; holding at arc_min.
        assert_eq!(
            p.decide(&reading(16 * GIB, 400 * MIB), 100 * MIB, 64 * MIB, 8 * GIB),
            PressureDecision::Shrink(64 * MIB)
        );
        assert_eq!(
            p.decide(&reading(16 * GIB, 400 * MIB), 64 * MIB, 64 * MIB, 8 * GIB),
            PressureDecision::Hold
        );
    }

    #[test]
    fn critical_shortage_drops_to_arc_min() {
        let p = PressurePolicy::default();
        assert_eq!(
            p.decide(&reading(16 * GIB, 100 * MIB), 4 * GIB, 64 * MIB, 8 * GIB),
            PressureDecision::Shrink(64 * MIB)
        );
    }

    #[test]
    fn stalls_count_only_when_memory_is_tight() {
        let p = PressurePolicy::default();
        let mut r = reading(16 * GIB, 800 * MIB); // reserve 512, tight below 1024
        r.psi_some_avg10 = Some(25.0);
        assert!(matches!(
            p.decide(&r, 4 * GIB, MIB, 8 * GIB),
            PressureDecision::Shrink(_)
        ));
        r.available = 8 * GIB;
        assert_eq!(
            p.decide(&r, 4 * GIB, MIB, 8 * GIB),
            PressureDecision::Grow(4 * GIB + 256 * MIB)
        );
        r.available = 800 * MIB;
        r.psi_some_avg10 = Some(1.0);
        r.psi_full_avg10 = Some(3.0);
        assert!(matches!(
            p.decide(&r, 4 * GIB, MIB, 8 * GIB),
            PressureDecision::Shrink(_)
        ));
        // Tight but not stalled: hold (neither shrink nor grow into the band).
        r.psi_full_avg10 = Some(0.0);
        assert_eq!(p.decide(&r, 4 * GIB, MIB, 8 * GIB), PressureDecision::Hold);
    }

    #[test]
    fn growth_never_eats_into_the_reserve_band() {
        let p = PressurePolicy::default();
        // reserve 512 MiB; 1030 MiB available leaves 6 MiB of room.
        assert_eq!(
            p.decide(&reading(16 * GIB, 1030 * MIB), GIB, MIB, 8 * GIB),
            PressureDecision::Grow(GIB + 6 * MIB)
        );
    }

    fn filled_cache() -> ArcCache<u64, Vec<u8>> {
        let cache =
            ArcCache::new(ArcConfig::new(64 * 1024).min(8 * 1024).shards(4)).expect("cache");
        for k in 0..64u64 {
            cache.insert(k, vec![0; 1024]);
        }
        cache
    }

    #[test]
    fn step_shrinks_the_cache_and_counts_memory_given_back() {
        let cache = filled_cache();
        let p = PressurePolicy {
            min_reserve: 0,
            ..PressurePolicy::default()
        };
        let before = cache.stats().size;
        assert!(before > 32 * 1024);
        // total 32 KiB -> reserve 1 KiB; 100 bytes available is critical.
        let d = p.step(&cache, &reading(32 * 1024, 100));
        assert_eq!(d, PressureDecision::Shrink(8 * 1024));
        let st = cache.stats();
        assert!(st.size <= 8 * 1024, "size {}", st.size);
        assert_eq!(st.c, 8 * 1024);
        assert_eq!(st.pressure_shrinks, 1);
        assert_eq!(st.memory_given_back, before - st.size);
        // Pressure gone: the target climbs back, one step per poll.
        let d = p.step(&cache, &reading(GIB, GIB));
        assert_eq!(d, PressureDecision::Grow(8 * 1024 + 2 * 1024));
        for _ in 0..40 {
            p.step(&cache, &reading(GIB, GIB));
        }
        assert_eq!(cache.stats().c, 64 * 1024);
        assert_eq!(cache.stats().pressure_shrinks, 1);
    }

    struct Scripted(Arc<Mutex<MemReading>>);

    impl MemorySource for Scripted {
        fn read(&mut self) -> Result<MemReading, ArcError> {
            Ok(self.0.lock().clone())
        }
    }

    #[test]
    fn monitor_thread_reacts_to_injected_pressure_and_stops() {
        let cache = Arc::new(filled_cache());
        let script = Arc::new(Mutex::new(reading(GIB, GIB)));
        let policy = PressurePolicy {
            min_reserve: 0,
            interval: Duration::from_millis(5),
            ..PressurePolicy::default()
        };
        let monitor =
            PressureMonitor::start(&cache, Box::new(Scripted(Arc::clone(&script))), policy)
                .expect("starts");
        *script.lock() = reading(32 * 1024, 10);
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while cache.stats().c > 8 * 1024 {
            assert!(
                std::time::Instant::now() < deadline,
                "monitor never shrank the cache"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(monitor.read_errors(), 0);
        monitor.stop();
        assert!(cache.stats().memory_given_back > 0);
    }
}
