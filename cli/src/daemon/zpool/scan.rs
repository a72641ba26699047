//! `zpool scrub [-s | -p]`: start, pause or cancel the scrub of pools.

use basin_pool::PoolError;

use super::command;
use super::errors::{pool_error, registry_error};
use crate::daemon::Daemon;
use crate::protocol::zpool::{ScrubAction, ScrubRequest, ScrubResult};
use crate::protocol::{ErrorKind, WireError};

/// `zpool scrub`: one refusal per pool that would not, the others done.
pub fn scrub(d: &Daemon, req: &ScrubRequest) -> Result<ScrubResult, WireError> {
    let mut errors = Vec::new();
    for name in &req.names {
        let context = match req.action {
            ScrubAction::Start => format!("cannot scrub {name}"),
            ScrubAction::Pause => format!("cannot pause scrubbing {name}"),
            ScrubAction::Stop => format!("cannot cancel scrubbing {name}"),
        };
        let pool = match d.registry.get(name) {
            Ok(p) => p,
            Err(e) => {
                errors.push(registry_error(&context, name, &e));
                continue;
            }
        };
        let r = match req.action {
            ScrubAction::Start => pool.scrub(),
            ScrubAction::Pause => pool.scrub_pause(),
            ScrubAction::Stop => pool.scrub_cancel(),
        };
        match r {
            Ok(()) => {
                if let Some(c) = command(&req.command) {
                    pool.log_history(&c, false);
                }
            }
            Err(e @ PoolError::ScanBusy(_)) => errors.push(WireError::new(
                ErrorKind::Busy,
                format!("{context}: {e}"),
                libc::EBUSY,
            )),
            Err(e) => errors.push(pool_error(&context, &e)),
        }
    }
    Ok(ScrubResult { errors })
}
