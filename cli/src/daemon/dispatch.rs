//! From a decoded request to its handler. New command families (`zfs.*`,
//! `vmadm.*`, `imgadm.*`) add their arm here and their module beside
//! [`super::zpool`].

use serde::Serialize;
use serde_json::Value;

use super::{zpool, Daemon};
use crate::protocol::{ErrorKind, Hello, Request, WireError, PROTOCOL_VERSION};

/// Sends a progress message to the client; long work calls it now and then.
pub type Progress<'a> = &'a mut dyn FnMut(Value);

fn value<T: Serialize>(t: T) -> Result<Value, WireError> {
    serde_json::to_value(t).map_err(|e| {
        WireError::new(
            ErrorKind::Internal,
            format!("cannot encode the result: {e}"),
            libc::EIO,
        )
    })
}

/// Carries out `req`.
pub fn handle(d: &Daemon, req: &Request, _progress: Progress<'_>) -> Result<Value, WireError> {
    match req {
        Request::Hello => value(Hello {
            daemon: "basind".into(),
            release: env!("CARGO_PKG_VERSION").into(),
            protocol: PROTOCOL_VERSION,
            pid: std::process::id(),
        }),
        Request::ZpoolCreate(r) => value(zpool::create(d, r)?),
        Request::ZpoolDestroy(r) => value(zpool::destroy(d, r)?),
        Request::ZpoolExport(r) => value(zpool::export(d, r)?),
        Request::ZpoolImportScan(r) => value(zpool::import::scan(d, r)?),
        Request::ZpoolImport(r) => value(zpool::import::import(d, r)?),
        Request::ZpoolGet(r) => value(zpool::get(d, r)?),
        Request::ZpoolSet(r) => value(zpool::set(d, r)?),
        Request::ZpoolStatus(r) => value(zpool::status(d, r)?),
        Request::ZpoolHistory(r) => value(zpool::history(d, r)?),
    }
}

/// True for requests that change something (they are logged).
pub fn changes_state(req: &Request) -> bool {
    matches!(
        req,
        Request::ZpoolCreate(_)
            | Request::ZpoolDestroy(_)
            | Request::ZpoolExport(_)
            | Request::ZpoolImport(_)
            | Request::ZpoolSet(_)
    )
}
