//! `zinject`: fault injection rules on the leaves of pools, for tests and
//! for operators rehearsing failures.

use basin_pool::vdev::inject::{FaultKind, FaultOps, FaultRule};

use super::errors::{invalid, pool_error, registry_error};
use crate::daemon::Daemon;
use crate::protocol::zpool::{
    InjectClearRequest, InjectCleared, InjectList, InjectRequest, InjectRule,
};
use crate::protocol::WireError;

/// Adds a rule.
pub fn add(d: &Daemon, req: &InjectRequest) -> Result<InjectList, WireError> {
    let context = format!("cannot inject into {}", req.device);
    let kind = FaultKind::parse(&req.kind).ok_or_else(|| {
        invalid(format!(
            "invalid error type '{}': must be 'io', 'checksum' or 'nxio'",
            req.kind
        ))
    })?;
    let ops = FaultOps::parse(&req.ops).ok_or_else(|| {
        invalid(format!(
            "invalid I/O type '{}': must be 'read', 'write' or 'all'",
            req.ops
        ))
    })?;
    if !(req.frequency > 0.0 && req.frequency <= 100.0) {
        return Err(invalid(format!(
            "invalid frequency '{}': must be in the range (0, 100]",
            req.frequency
        )));
    }
    let pool = d
        .registry
        .get(&req.name)
        .map_err(|e| registry_error(&context, &req.name, &e))?;
    pool.inject_fault(
        &req.device,
        FaultRule {
            kind,
            ops,
            frequency: req.frequency,
        },
    )
    .map_err(|e| pool_error(&context, &e))?;
    Ok(list(d))
}

/// Every rule of every pool, numbered from 1 in a stable order.
pub fn list(d: &Daemon) -> InjectList {
    let mut pools = d.registry.pools();
    pools.sort_by(|a, b| a.name().cmp(b.name()));
    let mut rules = Vec::new();
    for p in pools {
        for (device, r) in p.fault_rules() {
            rules.push(InjectRule {
                id: rules.len() as u64 + 1,
                pool: p.name().to_string(),
                device,
                kind: r.kind.name().into(),
                ops: r.ops.name().into(),
                frequency: r.frequency,
            });
        }
    }
    InjectList { rules }
}

/// Removes one rule, or all.
pub fn clear(d: &Daemon, req: &InjectClearRequest) -> Result<InjectCleared, WireError> {
    let Some(id) = req.id else {
        let mut removed = 0;
        for p in d.registry.pools() {
            removed += p.clear_faults(None).unwrap_or(0) as u64;
        }
        return Ok(InjectCleared { removed });
    };
    let all = list(d);
    let rule = all
        .rules
        .iter()
        .find(|r| r.id == id)
        .ok_or_else(|| invalid(format!("no such handler {id}")))?;
    // Its index among the rules of its device.
    let index = all
        .rules
        .iter()
        .filter(|r| r.pool == rule.pool && r.device == rule.device && r.id < id)
        .count();
    let pool = d
        .registry
        .get(&rule.pool)
        .map_err(|e| registry_error("cannot clear handler", &rule.pool, &e))?;
    let removed = pool
        .remove_fault(&rule.device, index)
        .map_err(|e| pool_error("cannot clear handler", &e))?;
    Ok(InjectCleared {
        removed: removed as u64,
    })
}
