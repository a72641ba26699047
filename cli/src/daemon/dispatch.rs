//! From a decoded request to its handler. Each command family (`zpool.*`,
//! `zfs.*`, later `vmadm.*`, `imgadm.*`) has its arms here and its module
//! beside [`super::zpool`].

use serde::Serialize;
use serde_json::Value;

use super::{zfs, zpool, Daemon};
use crate::protocol::{ErrorKind, Hello, Request, WireError, PROTOCOL_VERSION};

/// Sends a progress message to the client; long work calls it now and then.
pub type Progress<'a> = &'a mut dyn FnMut(Value);

/// A result as the JSON text that goes on the wire, serialised once.
fn value<T: Serialize>(t: T) -> Result<String, WireError> {
    serde_json::to_string(&t).map_err(|e| {
        WireError::new(
            ErrorKind::Internal,
            format!("cannot encode the result: {e}"),
            libc::EIO,
        )
    })
}

/// Carries out `req`; returns the result as JSON text.
pub fn handle(d: &Daemon, req: &Request, _progress: Progress<'_>) -> Result<String, WireError> {
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
        Request::ZpoolArcstat => value(d.arc.stats()),
        Request::ZpoolGetTunables(r) => value(d.arc.get(r)?),
        Request::ZpoolSetTunable(r) => value(zpool::set_tunable(d, r)?),
        Request::ZpoolScrub(r) => value(zpool::scan::scrub(d, r)?),
        Request::ZpoolVdev(r) => value(zpool::vdevs::change(d, r)?),
        Request::ZinjectAdd(r) => value(zpool::inject::add(d, r)?),
        Request::ZinjectList => value(zpool::inject::list(d)),
        Request::ZinjectClear(r) => value(zpool::inject::clear(d, r)?),
        Request::ZfsCreate(r) => value(zfs::datasets::create(d, r)?),
        Request::ZfsDestroy(r) => value(zfs::datasets::destroy(d, r)?),
        Request::ZfsQuery(r) => value(zfs::query::query(d, r)?),
        Request::ZfsSet(r) => value(zfs::props::set(d, r)?),
        Request::ZfsInherit(r) => value(zfs::props::inherit(d, r)?),
        Request::ZfsSnapshot(r) => value(zfs::snapshots::snapshot(d, r)?),
        Request::ZfsRollback(r) => value(zfs::snapshots::rollback(d, r)?),
        Request::ZfsClone(r) => value(zfs::datasets::clone(d, r)?),
        Request::ZfsPromote(r) => value(zfs::datasets::promote(d, r)?),
        Request::ZfsRename(r) => value(zfs::datasets::rename(d, r)?),
        Request::ZfsHold(r) => value(zfs::snapshots::hold(d, r)?),
        Request::ZfsRelease(r) => value(zfs::snapshots::release(d, r)?),
        Request::ZfsHolds(r) => value(zfs::snapshots::holds(d, r)?),
        Request::ZfsDiff(r) => value(zfs::diff::diff(d, r)?),
        Request::ZfsMount(r) => value(zfs::mount::mount(d, r)?),
        Request::ZfsUnmount(r) => value(zfs::mount::unmount(d, r)?),
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
            | Request::ZpoolSetTunable(_)
            | Request::ZpoolScrub(_)
            | Request::ZpoolVdev(_)
            | Request::ZinjectAdd(_)
            | Request::ZinjectClear(_)
            | Request::ZfsCreate(_)
            | Request::ZfsDestroy(_)
            | Request::ZfsSet(_)
            | Request::ZfsInherit(_)
            | Request::ZfsSnapshot(_)
            | Request::ZfsRollback(_)
            | Request::ZfsClone(_)
            | Request::ZfsPromote(_)
            | Request::ZfsRename(_)
            | Request::ZfsHold(_)
            | Request::ZfsRelease(_)
            | Request::ZfsMount(_)
            | Request::ZfsUnmount(_)
    )
}
