//! Fault injection, in the manner of OpenZFS's `zinject`: rules attached to
//! a leaf's I/O engine make a fraction of its reads or writes fail with an
//! error, or hand back reads whose bytes were damaged on the way (the disk
//! itself is untouched, so the damage is found by checksums and repaired
//! from redundancy like real rot would be).

use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

/// What an injected fault does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FaultKind {
    /// The I/O fails with `EIO` (a write does not reach the device).
    Io,
    /// The read succeeds but its bytes are damaged.
    Checksum,
    /// The I/O fails with `ENXIO`, as if the device had been pulled.
    Nxio,
}

impl FaultKind {
    /// Name as `zinject -e` takes it.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Io => "io",
            FaultKind::Checksum => "checksum",
            FaultKind::Nxio => "nxio",
        }
    }

    /// Parses a `zinject -e` word.
    pub fn parse(s: &str) -> Option<FaultKind> {
        match s {
            "io" => Some(FaultKind::Io),
            "checksum" | "corrupt" => Some(FaultKind::Checksum),
            "nxio" => Some(FaultKind::Nxio),
            _ => None,
        }
    }
}

/// Which I/O a rule applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FaultOps {
    /// Reads only.
    Read,
    /// Writes only.
    Write,
    /// Reads and writes.
    All,
}

impl FaultOps {
    /// Name as `zinject -T` takes it.
    pub fn name(self) -> &'static str {
        match self {
            FaultOps::Read => "read",
            FaultOps::Write => "write",
            FaultOps::All => "all",
        }
    }

    /// Parses a `zinject -T` word.
    pub fn parse(s: &str) -> Option<FaultOps> {
        match s {
            "read" => Some(FaultOps::Read),
            "write" => Some(FaultOps::Write),
            "all" => Some(FaultOps::All),
            _ => None,
        }
    }
}

/// One injection rule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaultRule {
    /// What it does.
    pub kind: FaultKind,
    /// Which I/O it hits.
    pub ops: FaultOps,
    /// Percentage of matching I/Os hit, 0 to 100.
    pub frequency: f64,
}

/// What the injector decided for one I/O.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Let it through.
    Pass,
    /// Fail it with this errno.
    Fail(i32),
    /// Damage the bytes read.
    Corrupt,
}

/// The rules of one leaf, and how often they fired.
#[derive(Default)]
pub struct FaultInjector {
    rules: Mutex<Vec<FaultRule>>,
    rng: AtomicU64,
    /// I/Os a rule has hit.
    pub injected: AtomicU64,
}

impl FaultInjector {
    /// Adds a rule.
    pub fn add(&self, rule: FaultRule) {
        self.rules.lock().push(rule);
    }

    /// Removes every rule; returns how many there were.
    pub fn clear(&self) -> usize {
        std::mem::take(&mut *self.rules.lock()).len()
    }

    /// Removes rule `index` (in the order of [`Self::rules`]).
    pub fn remove(&self, index: usize) -> bool {
        let mut r = self.rules.lock();
        if index < r.len() {
            r.remove(index);
            true
        } else {
            false
        }
    }

    /// The rules in force.
    pub fn rules(&self) -> Vec<FaultRule> {
        self.rules.lock().clone()
    }

    /// A uniform draw in [0, 100) (xorshift: fast, and good enough to pick
    /// a fraction of I/Os).
    fn draw(&self) -> f64 {
        let mut x = self.rng.load(Ordering::Relaxed);
        if x == 0 {
            x = 0x9e37_79b9_7f4a_7c15;
        }
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng.store(x, Ordering::Relaxed);
        (x >> 11) as f64 / (1u64 << 53) as f64 * 100.0
    }

    /// Decides the fate of a read (`write == false`) or a write.
    pub fn decide(&self, write: bool) -> Decision {
        let rules = self.rules.lock();
        if rules.is_empty() {
            return Decision::Pass;
        }
        for r in rules.iter() {
            let applies = match r.ops {
                FaultOps::All => true,
                FaultOps::Read => !write,
                FaultOps::Write => write,
            };
            if !applies || self.draw() >= r.frequency {
                continue;
            }
            let d = match r.kind {
                FaultKind::Io => Decision::Fail(libc::EIO),
                FaultKind::Nxio => Decision::Fail(libc::ENXIO),
                // Damage on the way back: a write is not affected.
                FaultKind::Checksum if write => continue,
                FaultKind::Checksum => Decision::Corrupt,
            };
            self.injected.fetch_add(1, Ordering::Relaxed);
            return d;
        }
        Decision::Pass
    }

    /// Damages `buf` in a way that no checksum accepts.
    pub fn corrupt(&self, buf: &mut [u8]) {
        if buf.is_empty() {
            return;
        }
        let n = buf.len();
        let at = (self.draw() / 100.0 * n as f64) as usize % n;
        for b in buf[at..].iter_mut().take(64) {
            *b ^= 0x5a;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frequency_picks_about_that_fraction() {
        let f = FaultInjector::default();
        f.add(FaultRule {
            kind: FaultKind::Io,
            ops: FaultOps::Read,
            frequency: 25.0,
        });
        let hits = (0..10_000)
            .filter(|_| f.decide(false) != Decision::Pass)
            .count();
        assert!((2000..3000).contains(&hits), "{hits}");
        // Writes are not matched by a read rule.
        assert!((0..1000).all(|_| f.decide(true) == Decision::Pass));
        assert_eq!(f.clear(), 1);
        assert_eq!(f.decide(false), Decision::Pass);
    }

    #[test]
    fn checksum_rules_damage_reads_only() {
        let f = FaultInjector::default();
        f.add(FaultRule {
            kind: FaultKind::Checksum,
            ops: FaultOps::All,
            frequency: 100.0,
        });
        assert_eq!(f.decide(false), Decision::Corrupt);
        assert_eq!(f.decide(true), Decision::Pass);
        let mut b = vec![7u8; 4096];
        f.corrupt(&mut b);
        assert!(b.iter().any(|&x| x != 7));
    }
}
