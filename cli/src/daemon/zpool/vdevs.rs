//! `zpool offline|online|clear|attach|detach|replace`: changes of a pool's
//! vdevs, each checked by the pool layer before anything changes.

use basin_pool::spec::DeviceSpec;
use basin_pool::PoolError;

use super::errors::{invalid, pool_error, registry_error};
use super::{command, owner_of, resolve_device};
use crate::daemon::Daemon;
use crate::protocol::zpool::{Done, VdevOp, VdevRequest};
use crate::protocol::{ErrorKind, WireError};

/// Carries out one vdev change.
pub fn change(d: &Daemon, req: &VdevRequest) -> Result<Done, WireError> {
    let op = req.change.name();
    let dev = req.device.clone();
    let context = match &dev {
        Some(v) => format!("cannot {op} {v}"),
        None => format!("cannot {op} {}", req.name),
    };
    let pool = d
        .registry
        .get(&req.name)
        .map_err(|e| registry_error(&context, &req.name, &e))?;
    let needs_device = req.change != VdevOp::Clear;
    let Some(device) = dev.clone().or((!needs_device).then(String::new)) else {
        return Err(invalid(format!("missing device name for '{op}'")));
    };
    // A new device: a full path, not a leaf of another pool of ours.
    let new_spec = match &req.new_device {
        Some(w) => {
            let path = resolve_device(w)?;
            if let Some(other) = owner_of(d, std::path::Path::new(&path)) {
                if other != req.name || req.change == VdevOp::Attach {
                    return Err(WireError::new(
                        ErrorKind::InUse,
                        format!("{context}: {path} is part of active pool '{other}'"),
                        libc::EBUSY,
                    ));
                }
            }
            Some(DeviceSpec::Path(path.into()))
        }
        None => None,
    };
    let r = match req.change {
        VdevOp::Offline => pool.offline(&device, req.temporary),
        VdevOp::Online => pool.online(&device),
        VdevOp::Clear => pool.clear(dev.as_deref()),
        VdevOp::Detach => pool.detach(&device),
        VdevOp::Attach => match &new_spec {
            Some(s) => pool.attach(&device, s, req.force),
            None => return Err(invalid("missing <new_device> specification")),
        },
        VdevOp::Replace => pool.replace(&device, new_spec.as_ref(), req.force),
    };
    r.map_err(|e| match e {
        PoolError::VdevOp { .. } => {
            WireError::new(ErrorKind::InvalidArgument, e.to_string(), e.errno())
        }
        PoolError::NoSuchVdev { .. } => WireError::new(
            ErrorKind::NotFound,
            format!("{context}: no such device in pool"),
            libc::ENODEV,
        ),
        PoolError::ScanBusy(_) => {
            WireError::new(ErrorKind::Busy, format!("{context}: {e}"), libc::EBUSY)
        }
        other => pool_error(&context, &other),
    })?;
    if let Some(c) = command(&req.command) {
        pool.log_history(&c, false);
    }
    Ok(Done {})
}
