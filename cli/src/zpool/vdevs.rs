//! `zpool offline|online|clear|attach|detach|replace`.

use super::{AttachArgs, ClearArgs, Connect, DetachArgs, OfflineArgs, OnlineArgs, ReplaceArgs};
use crate::errors::{print_err, CliResult, EXIT_ERROR, EXIT_OK};
use crate::protocol::zpool::{Done, VdevOp, VdevRequest};
use crate::protocol::Request;

fn request(pool: &str, op: VdevOp, device: Option<&str>, line: &str) -> VdevRequest {
    VdevRequest {
        name: pool.to_string(),
        change: op,
        device: device.map(str::to_string),
        new_device: None,
        force: false,
        temporary: false,
        command: line.to_string(),
    }
}

/// Sends one request per device; reports each failure.
fn each(connect: Connect, reqs: Vec<VdevRequest>) -> CliResult {
    let mut client = connect()?;
    let mut failed = false;
    for r in reqs {
        if let Err(e) = client.call::<Done>(&Request::ZpoolVdev(r)) {
            print_err(&format!("{e}\n"));
            failed = true;
        }
    }
    Ok(if failed { EXIT_ERROR } else { EXIT_OK })
}

/// `zpool offline [-t] pool device...`.
pub fn offline(connect: Connect, a: &OfflineArgs, line: &str) -> CliResult {
    let reqs = a
        .devices
        .iter()
        .map(|d| VdevRequest {
            temporary: a.temporary,
            ..request(&a.pool, VdevOp::Offline, Some(d), line)
        })
        .collect();
    each(connect, reqs)
}

/// `zpool online pool device...`.
pub fn online(connect: Connect, a: &OnlineArgs, line: &str) -> CliResult {
    let reqs = a
        .devices
        .iter()
        .map(|d| request(&a.pool, VdevOp::Online, Some(d), line))
        .collect();
    each(connect, reqs)
}

/// `zpool clear pool [device]`.
pub fn clear(connect: Connect, a: &ClearArgs, line: &str) -> CliResult {
    each(
        connect,
        vec![request(&a.pool, VdevOp::Clear, a.device.as_deref(), line)],
    )
}

/// `zpool attach [-f] pool device new_device`.
pub fn attach(connect: Connect, a: &AttachArgs, line: &str) -> CliResult {
    each(
        connect,
        vec![VdevRequest {
            new_device: Some(a.new_device.clone()),
            force: a.force,
            ..request(&a.pool, VdevOp::Attach, Some(&a.device), line)
        }],
    )
}

/// `zpool detach pool device`.
pub fn detach(connect: Connect, a: &DetachArgs, line: &str) -> CliResult {
    each(
        connect,
        vec![request(&a.pool, VdevOp::Detach, Some(&a.device), line)],
    )
}

/// `zpool replace [-f] pool device [new_device]`.
pub fn replace(connect: Connect, a: &ReplaceArgs, line: &str) -> CliResult {
    each(
        connect,
        vec![VdevRequest {
            new_device: a.new_device.clone(),
            force: a.force,
            ..request(&a.pool, VdevOp::Replace, Some(&a.device), line)
        }],
    )
}
