//! Serving connections: one thread each, so a long request on one never
//! holds up another; requests on one connection are answered in order.

use std::io::BufReader;
use std::os::unix::net::{UnixListener, UnixStream};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::log::log;
use super::{dispatch, Daemon};
use crate::protocol::{
    self, ErrorKind, ProtocolError, ResponseBody, ResponseEnvelope, WireError, MAX_MESSAGE,
    PROTOCOL_VERSION,
};

/// Accepts connections until `stop` is set (and the listener shut down).
pub fn serve(listener: &UnixListener, daemon: &Arc<Daemon>, stop: &AtomicBool) {
    loop {
        let accepted = listener.accept();
        if stop.load(Ordering::SeqCst) {
            return;
        }
        match accepted {
            Ok((stream, _)) => {
                let d = daemon.clone();
                let spawned = std::thread::Builder::new()
                    .name("basind-conn".into())
                    .spawn(move || connection(&d, stream));
                if let Err(e) = spawned {
                    log(format!("cannot start a connection thread: {e}"));
                }
            }
            Err(e) => {
                log(format!("accept failed: {e}"));
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

fn send(w: &mut UnixStream, id: u64, body: ResponseBody) -> Result<(), ProtocolError> {
    let env = ResponseEnvelope {
        version: PROTOCOL_VERSION,
        id,
        body,
    };
    let line = match protocol::encode(&env) {
        Ok(l) => l,
        Err(e) => protocol::encode(&ResponseEnvelope {
            version: PROTOCOL_VERSION,
            id,
            body: ResponseBody::Error(WireError::new(
                ErrorKind::Internal,
                format!("cannot send the answer: {e}"),
                libc::EMSGSIZE,
            )),
        })?,
    };
    protocol::write_frame(w, &line)
}

/// Sends a result already encoded as JSON text (a large listing is
/// serialised once, straight from its type).
fn send_result(w: &mut UnixStream, id: u64, result: &str) -> Result<(), ProtocolError> {
    match protocol::encode_result(id, result) {
        Ok(line) => protocol::write_frame(w, &line),
        Err(e) => send(
            w,
            id,
            ResponseBody::Error(WireError::new(
                ErrorKind::Internal,
                format!("cannot send the answer: {e}"),
                libc::EMSGSIZE,
            )),
        ),
    }
}

/// Serves one connection until the client hangs up.
fn connection(d: &Daemon, stream: UnixStream) {
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut writer = stream;
    loop {
        let line = match protocol::read_frame(&mut reader, MAX_MESSAGE) {
            Ok(Some(l)) => l,
            Ok(None) => return,
            Err(e) => {
                // The stream cannot be resynchronised: answer and hang up.
                let err = WireError::new(ErrorKind::BadRequest, e.to_string(), libc::EMSGSIZE);
                let _ = send(&mut writer, 0, ResponseBody::Error(err));
                return;
            }
        };
        let (id, body) = match protocol::decode_request(&line) {
            Err(u) => (u.id, Err(u.error)),
            Ok(env) => {
                let id = env.id;
                let mut progress_out = writer.try_clone().ok();
                let mut progress = |v: Value| {
                    if let Some(w) = progress_out.as_mut() {
                        let _ = send(w, id, ResponseBody::Progress(v));
                    }
                };
                let outcome = catch_unwind(AssertUnwindSafe(|| {
                    dispatch::handle(d, &env.request, &mut progress)
                }));
                let body = match outcome {
                    Ok(Ok(v)) => Ok(v),
                    Ok(Err(e)) => Err(e),
                    Err(_) => Err(WireError::new(
                        ErrorKind::Internal,
                        format!(
                            "internal error in basind while handling {}; see its log",
                            env.request.op()
                        ),
                        libc::EIO,
                    )),
                };
                if dispatch::changes_state(&env.request) {
                    match &body {
                        Err(e) => log(format!("{}: failed: {}", describe(&env.request), e.message)),
                        Ok(_) => log(format!("{}: done", describe(&env.request))),
                    }
                }
                (id, body)
            }
        };
        let sent = match body {
            Ok(text) => send_result(&mut writer, id, &text),
            Err(e) => send(&mut writer, id, ResponseBody::Error(e)),
        };
        if sent.is_err() {
            return;
        }
    }
}

fn describe(req: &protocol::Request) -> String {
    use protocol::Request as R;
    match req {
        R::ZpoolCreate(r) => format!("zpool.create {}", r.name),
        R::ZpoolDestroy(r) => format!("zpool.destroy {}", r.name),
        R::ZpoolExport(r) => format!("zpool.export {}", r.name),
        R::ZpoolImport(r) => format!("zpool.import {}", r.pool),
        R::ZpoolSet(r) => format!("zpool.set {}={} {}", r.property, r.value, r.name),
        R::ZpoolSetTunable(r) => format!("zpool.set_tunable {}={}", r.property, r.value),
        R::ZfsCreate(r) => format!("zfs.create {}", r.name),
        R::ZfsDestroy(r) if r.dry_run => format!("zfs.destroy -n {}", r.name),
        R::ZfsDestroy(r) => format!("zfs.destroy {}", r.name),
        R::ZfsSet(r) => format!("zfs.set {}", r.names.join(" ")),
        R::ZfsInherit(r) => format!("zfs.inherit {} {}", r.property, r.names.join(" ")),
        R::ZfsSnapshot(r) => format!("zfs.snapshot {}", r.names.join(" ")),
        R::ZfsRollback(r) => format!("zfs.rollback {}", r.snapshot),
        R::ZfsClone(r) => format!("zfs.clone {} {}", r.snapshot, r.name),
        R::ZfsPromote(r) => format!("zfs.promote {}", r.name),
        R::ZfsRename(r) => format!("zfs.rename {} {}", r.old, r.new),
        R::ZfsHold(r) => format!("zfs.hold {} {}", r.tag, r.snapshots.join(" ")),
        R::ZfsRelease(r) => format!("zfs.release {} {}", r.tag, r.snapshots.join(" ")),
        other => other.op().to_string(),
    }
}
