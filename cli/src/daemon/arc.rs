//! The daemon's one ARC: every pool reads through it. Sized by
//! `--arc-max`/`--arc-min` (default: an eighth of the memory, at most
//! 4 GiB), shrunk under memory pressure by basin-arc's monitor, and
//! resized at run time by `zpool set arc_max=SIZE` (no pool).

use std::sync::Arc;

use basin_arc::{ArcStats, PressureMonitor, PressurePolicy};
use basin_dmu::cache::BlockCache;
use basin_dmu::dsl::props::parse_size;
use parking_lot::Mutex;

use super::log::log;
use super::DaemonError;
use crate::format::nicenum;
use crate::protocol::arc::{SetTunableRequest, Tunable, TunablesRequest, TunablesResult, TUNABLES};
use crate::protocol::{ErrorKind, WireError};

/// The smallest arc_max the daemon accepts.
pub const MIN_ARC_MAX: u64 = 1 << 20;

/// Which limits were chosen rather than defaulted.
#[derive(Clone, Copy, Debug, Default)]
struct Chosen {
    max: bool,
    min: bool,
}

/// The ARC, its pressure monitor, and where its limits came from.
pub struct ArcSettings {
    cache: Arc<BlockCache>,
    _monitor: Option<PressureMonitor>,
    chosen: Mutex<Chosen>,
}

impl ArcSettings {
    /// Builds the cache and starts the pressure monitor (a monitor that
    /// cannot start is logged, not fatal: the cache still works, bounded).
    pub fn start(max: Option<u64>, min: Option<u64>) -> Result<ArcSettings, DaemonError> {
        let arc_err = |e: basin_dmu::DmuError| DaemonError::Arc(e.to_string());
        let cache = match max {
            Some(m) => BlockCache::new(m.max(MIN_ARC_MAX)).map_err(arc_err)?,
            None => BlockCache::for_machine().map_err(arc_err)?,
        };
        if let Some(min) = min {
            let (_, cur_max, _) = cache.arc().limits();
            cache.set_limits(min, cur_max).map_err(arc_err)?;
        }
        let monitor = match cache.start_pressure_monitor(PressurePolicy::default()) {
            Ok(m) => Some(m),
            Err(e) => {
                log(format!(
                    "warning: {e}; the ARC will not shrink under memory pressure"
                ));
                None
            }
        };
        Ok(ArcSettings {
            cache: Arc::new(cache),
            _monitor: monitor,
            chosen: Mutex::new(Chosen {
                max: max.is_some(),
                min: min.is_some(),
            }),
        })
    }

    /// The cache.
    pub fn cache(&self) -> &Arc<BlockCache> {
        &self.cache
    }

    /// The ARC's counters.
    pub fn stats(&self) -> ArcStats {
        self.cache.stats()
    }

    /// `zpool get arc_max,arc_min` (no pool).
    pub fn get(&self, req: &TunablesRequest) -> Result<TunablesResult, WireError> {
        let mut names = Vec::new();
        for p in &req.props {
            if p == "all" {
                names.extend(TUNABLES.iter().map(|s| s.to_string()));
            } else if TUNABLES.contains(&p.as_str()) {
                names.push(p.clone());
            } else {
                return Err(invalid(format!(
                    "bad property list: invalid property '{p}'"
                )));
            }
        }
        let (min, max, _) = self.cache.arc().limits();
        let chosen = *self.chosen.lock();
        let tunables = names
            .into_iter()
            .map(|n| {
                let (v, local) = if n == "arc_max" {
                    (max, chosen.max)
                } else {
                    (min, chosen.min)
                };
                Tunable {
                    property: n,
                    value: nicenum(v),
                    exact: v.to_string(),
                    source: if local { "local" } else { "default" }.into(),
                }
            })
            .collect();
        Ok(TunablesResult { tunables })
    }

    /// `zpool set arc_max=SIZE` or `arc_min=SIZE` (no pool): applied at
    /// once (the cache evicts down to a lower arc_max right away).
    pub fn set(&self, req: &SetTunableRequest) -> Result<(), WireError> {
        let context = format!("cannot set property '{}'", req.property);
        if !TUNABLES.contains(&req.property.as_str()) {
            return Err(invalid(format!(
                "{context}: invalid property '{}'",
                req.property
            )));
        }
        let v = parse_size(&req.value).filter(|v| *v > 0).ok_or_else(|| {
            invalid(format!(
                "{context}: '{}' must be a size (such as 512M or 2G)",
                req.property
            ))
        })?;
        let mut chosen = self.chosen.lock();
        let (min, max, _) = self.cache.arc().limits();
        let (new_min, new_max) = if req.property == "arc_max" {
            if v < MIN_ARC_MAX {
                return Err(invalid(format!(
                    "{context}: 'arc_max' must be at least {}",
                    nicenum(MIN_ARC_MAX)
                )));
            }
            (min, v)
        } else {
            (v, max)
        };
        self.cache
            .set_limits(new_min, new_max)
            .map_err(|e| invalid(format!("{context}: {e}")))?;
        if req.property == "arc_max" {
            chosen.max = true;
        } else {
            chosen.min = true;
        }
        log(format!(
            "ARC limits now arc_min {new_min} bytes, arc_max {new_max} bytes"
        ));
        Ok(())
    }
}

fn invalid(message: String) -> WireError {
    WireError::new(ErrorKind::InvalidArgument, message, libc::EINVAL)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_at_start_and_at_run_time() {
        let a = ArcSettings::start(Some(64 << 20), Some(8 << 20)).unwrap();
        let r = a
            .get(&TunablesRequest {
                props: vec!["all".into()],
            })
            .unwrap();
        assert_eq!(r.tunables[0].property, "arc_max");
        assert_eq!(r.tunables[0].exact, (64u64 << 20).to_string());
        assert_eq!(r.tunables[0].source, "local");
        assert_eq!(r.tunables[1].exact, (8u64 << 20).to_string());
        let set = |p: &str, v: &str| {
            a.set(&SetTunableRequest {
                property: p.into(),
                value: v.into(),
            })
        };
        set("arc_max", "32M").unwrap();
        assert_eq!(a.stats().c_max, 32 << 20);
        let e = set("arc_min", "1G").unwrap_err();
        assert!(e.message.contains("is above arc_max"), "{}", e.message);
        assert!(set("arc_max", "1K").is_err());
        assert!(set("arc_max", "lots").is_err());
        assert!(set("arc_size", "1G").is_err());
        assert_eq!(a.stats().c_min, 8 << 20);
        assert!(a
            .get(&TunablesRequest {
                props: vec!["size".into()]
            })
            .is_err());
    }
}
