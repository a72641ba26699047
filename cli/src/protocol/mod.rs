//! The protocol between `basind` and its clients: newline-delimited JSON
//! messages over a Unix socket.
//!
//! A client sends one request per line and reads lines back until the final
//! answer to that request:
//!
//! ```text
//! -> {"version":1,"id":7,"request":{"op":"zpool.status","names":["tank"]}}
//! <- {"version":1,"id":7,"progress":{...}}        (zero or more, long work)
//! <- {"version":1,"id":7,"result":{...}}          (or)
//! <- {"version":1,"id":7,"error":{"kind":"no_such_pool","message":"...","errno":2}}
//! ```
//!
//! `version` is the protocol's major version: peers that differ refuse each
//! other with a clear message. Compatible additions (new ops, new optional
//! fields) keep the version; unknown fields are ignored by both sides.
//! Requests are a serde enum tagged by `op`, one namespace per command
//! family (`zpool.*`, `zfs.*`, later `vmadm.*`, `imgadm.*`).
//!
//! Decoding never panics on any input, and no message may exceed
//! [`MAX_MESSAGE`] bytes.

pub mod arc;
pub mod frame;
pub mod zfs;
pub mod zpool;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use frame::{read_frame, write_frame};

/// The protocol's major version.
pub const PROTOCOL_VERSION: u32 = 1;

/// The largest message either side sends or accepts, in bytes.
pub const MAX_MESSAGE: usize = 16 << 20;

/// Where `basind` listens unless told otherwise.
pub const DEFAULT_SOCKET: &str = "/run/basin/basind.sock";

/// The environment variable that names the socket for clients.
pub const SOCKET_ENV: &str = "BASIN_SOCKET";

/// Everything that can go wrong reading or decoding a message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The socket failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A message longer than the limit.
    #[error("message larger than {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// The peer closed the connection in the middle of a message.
    #[error("connection closed in the middle of a message")]
    Truncated,
    /// Bytes that are not a message of this protocol.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// The peer speaks another major version.
    #[error("peer speaks protocol version {peer}, this side speaks version {ours}")]
    Version {
        /// The peer's version.
        peer: u64,
        /// Ours.
        ours: u32,
    },
}

/// One request, tagged by `op`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op")]
#[non_exhaustive]
pub enum Request {
    /// Who is there: answers with [`Hello`].
    #[serde(rename = "hello")]
    Hello,
    /// `zpool create`.
    #[serde(rename = "zpool.create")]
    ZpoolCreate(zpool::CreateRequest),
    /// `zpool destroy`.
    #[serde(rename = "zpool.destroy")]
    ZpoolDestroy(zpool::DestroyRequest),
    /// `zpool export`.
    #[serde(rename = "zpool.export")]
    ZpoolExport(zpool::ExportRequest),
    /// `zpool import` without a pool: what could be imported.
    #[serde(rename = "zpool.import_scan")]
    ZpoolImportScan(zpool::ImportScanRequest),
    /// `zpool import POOL`.
    #[serde(rename = "zpool.import")]
    ZpoolImport(zpool::ImportRequest),
    /// Properties of pools (`zpool get`, `zpool list`).
    #[serde(rename = "zpool.get")]
    ZpoolGet(zpool::GetRequest),
    /// `zpool set`.
    #[serde(rename = "zpool.set")]
    ZpoolSet(zpool::SetRequest),
    /// `zpool status`.
    #[serde(rename = "zpool.status")]
    ZpoolStatus(zpool::StatusRequest),
    /// `zpool history`.
    #[serde(rename = "zpool.history")]
    ZpoolHistory(zpool::HistoryRequest),
    /// `zpool arcstat`: the ARC's counters.
    #[serde(rename = "zpool.arcstat")]
    ZpoolArcstat,
    /// `zpool get arc_max,arc_min` (no pool).
    #[serde(rename = "zpool.get_tunables")]
    ZpoolGetTunables(arc::TunablesRequest),
    /// `zpool set arc_max=SIZE` (no pool).
    #[serde(rename = "zpool.set_tunable")]
    ZpoolSetTunable(arc::SetTunableRequest),
    /// `zpool scrub`.
    #[serde(rename = "zpool.scrub")]
    ZpoolScrub(zpool::ScrubRequest),
    /// `zpool offline|online|clear|attach|detach|replace`.
    #[serde(rename = "zpool.vdev")]
    ZpoolVdev(zpool::VdevRequest),
    /// `zinject ... pool`: add a fault injection rule.
    #[serde(rename = "zinject.add")]
    ZinjectAdd(zpool::InjectRequest),
    /// `zinject`: the rules in force.
    #[serde(rename = "zinject.list")]
    ZinjectList,
    /// `zinject -c`.
    #[serde(rename = "zinject.clear")]
    ZinjectClear(zpool::InjectClearRequest),
    /// `zfs create`.
    #[serde(rename = "zfs.create")]
    ZfsCreate(zfs::CreateRequest),
    /// `zfs destroy`.
    #[serde(rename = "zfs.destroy")]
    ZfsDestroy(zfs::DestroyRequest),
    /// Datasets and their properties (`zfs list`, `zfs get`).
    #[serde(rename = "zfs.query")]
    ZfsQuery(zfs::QueryRequest),
    /// `zfs set`.
    #[serde(rename = "zfs.set")]
    ZfsSet(zfs::SetRequest),
    /// `zfs inherit`.
    #[serde(rename = "zfs.inherit")]
    ZfsInherit(zfs::InheritRequest),
    /// `zfs snapshot`.
    #[serde(rename = "zfs.snapshot")]
    ZfsSnapshot(zfs::SnapshotRequest),
    /// `zfs rollback`.
    #[serde(rename = "zfs.rollback")]
    ZfsRollback(zfs::RollbackRequest),
    /// `zfs clone`.
    #[serde(rename = "zfs.clone")]
    ZfsClone(zfs::CloneRequest),
    /// `zfs promote`.
    #[serde(rename = "zfs.promote")]
    ZfsPromote(zfs::PromoteRequest),
    /// `zfs rename`.
    #[serde(rename = "zfs.rename")]
    ZfsRename(zfs::RenameRequest),
    /// `zfs hold`.
    #[serde(rename = "zfs.hold")]
    ZfsHold(zfs::HoldRequest),
    /// `zfs release`.
    #[serde(rename = "zfs.release")]
    ZfsRelease(zfs::HoldRequest),
    /// `zfs holds`.
    #[serde(rename = "zfs.holds")]
    ZfsHolds(zfs::HoldsRequest),
    /// `zfs diff`.
    #[serde(rename = "zfs.diff")]
    ZfsDiff(zfs::DiffRequest),
    /// `zfs mount`.
    #[serde(rename = "zfs.mount")]
    ZfsMount(zfs::MountRequest),
    /// `zfs unmount`.
    #[serde(rename = "zfs.unmount")]
    ZfsUnmount(zfs::UnmountRequest),
}

impl Request {
    /// The `op` tag, for logs.
    pub fn op(&self) -> &'static str {
        match self {
            Request::Hello => "hello",
            Request::ZpoolCreate(_) => "zpool.create",
            Request::ZpoolDestroy(_) => "zpool.destroy",
            Request::ZpoolExport(_) => "zpool.export",
            Request::ZpoolImportScan(_) => "zpool.import_scan",
            Request::ZpoolImport(_) => "zpool.import",
            Request::ZpoolGet(_) => "zpool.get",
            Request::ZpoolSet(_) => "zpool.set",
            Request::ZpoolStatus(_) => "zpool.status",
            Request::ZpoolHistory(_) => "zpool.history",
            Request::ZpoolArcstat => "zpool.arcstat",
            Request::ZpoolGetTunables(_) => "zpool.get_tunables",
            Request::ZpoolSetTunable(_) => "zpool.set_tunable",
            Request::ZpoolScrub(_) => "zpool.scrub",
            Request::ZpoolVdev(_) => "zpool.vdev",
            Request::ZinjectAdd(_) => "zinject.add",
            Request::ZinjectList => "zinject.list",
            Request::ZinjectClear(_) => "zinject.clear",
            Request::ZfsCreate(_) => "zfs.create",
            Request::ZfsDestroy(_) => "zfs.destroy",
            Request::ZfsQuery(_) => "zfs.query",
            Request::ZfsSet(_) => "zfs.set",
            Request::ZfsInherit(_) => "zfs.inherit",
            Request::ZfsSnapshot(_) => "zfs.snapshot",
            Request::ZfsRollback(_) => "zfs.rollback",
            Request::ZfsClone(_) => "zfs.clone",
            Request::ZfsPromote(_) => "zfs.promote",
            Request::ZfsRename(_) => "zfs.rename",
            Request::ZfsHold(_) => "zfs.hold",
            Request::ZfsRelease(_) => "zfs.release",
            Request::ZfsHolds(_) => "zfs.holds",
            Request::ZfsDiff(_) => "zfs.diff",
            Request::ZfsMount(_) => "zfs.mount",
            Request::ZfsUnmount(_) => "zfs.unmount",
        }
    }
}

/// The answer to [`Request::Hello`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// "basind".
    pub daemon: String,
    /// The daemon's release.
    pub release: String,
    /// Its protocol version.
    pub protocol: u32,
    /// Its process id.
    pub pid: u32,
}

/// A request with its envelope, as a client sends it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RequestEnvelope {
    /// Protocol version.
    pub version: u32,
    /// Chosen by the client; echoed in every answer.
    pub id: u64,
    /// The request.
    pub request: Request,
}

/// What kind of failure an error reports; clients choose exit codes and
/// wording by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// The named pool is not imported.
    NoSuchPool,
    /// Something by that name already exists.
    Exists,
    /// A bad name, property, value or vdev specification.
    InvalidArgument,
    /// A file or device that does not exist.
    NotFound,
    /// A device or pool that another pool, process or host uses.
    InUse,
    /// The pool is in the middle of another operation.
    Busy,
    /// An I/O error.
    Io,
    /// Something this build does not do.
    Unsupported,
    /// The peer speaks another protocol version.
    VersionMismatch,
    /// A request the daemon could not decode.
    BadRequest,
    /// The daemon is stopping.
    ShuttingDown,
    /// A bug.
    Internal,
    /// The pool or a quota has no room for the change.
    NoSpace,
    /// A kind this build does not know (sent by a newer peer).
    #[serde(other)]
    Other,
}

/// An error as it travels on the wire.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct WireError {
    /// What kind of failure.
    pub kind: ErrorKind,
    /// A complete message for the operator ("cannot open 'nope': no such
    /// pool").
    pub message: String,
    /// The closest errno, or 0.
    #[serde(default)]
    pub errno: i32,
}

impl WireError {
    /// An error of `kind` with `message` and `errno`.
    pub fn new(kind: ErrorKind, message: impl Into<String>, errno: i32) -> WireError {
        WireError {
            kind,
            message: message.into(),
            errno,
        }
    }
}

/// The body of an answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ResponseBody {
    /// The final result.
    #[serde(rename = "result")]
    Result(Value),
    /// The final error.
    #[serde(rename = "error")]
    Error(WireError),
    /// Progress of long work; more messages follow.
    #[serde(rename = "progress")]
    Progress(Value),
}

/// An answer with its envelope.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResponseEnvelope {
    /// Protocol version.
    pub version: u32,
    /// The id of the request answered (0 when the request was unreadable).
    pub id: u64,
    /// Result, error or progress.
    #[serde(flatten)]
    pub body: ResponseBody,
}

/// The parts of a request that can be read before its op is understood, so
/// that a daemon can answer a request it cannot decode.
#[derive(Debug, Deserialize)]
struct RawRequest {
    version: u64,
    #[serde(default)]
    id: u64,
    request: Value,
}

/// A request that could not be decoded: the id to answer (when it was
/// readable) and the error to send back.
#[derive(Debug)]
pub struct Undecodable {
    /// The id to echo.
    pub id: u64,
    /// The error to send.
    pub error: WireError,
}

/// Decodes a request line. Never panics, whatever the bytes.
pub fn decode_request(line: &[u8]) -> Result<RequestEnvelope, Undecodable> {
    let raw: RawRequest = serde_json::from_slice(line).map_err(|e| Undecodable {
        id: 0,
        error: WireError::new(
            ErrorKind::BadRequest,
            format!("malformed request: {e}"),
            libc::EINVAL,
        ),
    })?;
    if raw.version != u64::from(PROTOCOL_VERSION) {
        return Err(Undecodable {
            id: raw.id,
            error: WireError::new(
                ErrorKind::VersionMismatch,
                format!(
                    "basind speaks protocol version {PROTOCOL_VERSION}, the client sent version {}",
                    raw.version
                ),
                libc::EPROTO,
            ),
        });
    }
    let request: Request = serde_json::from_value(raw.request).map_err(|e| Undecodable {
        id: raw.id,
        error: WireError::new(
            ErrorKind::BadRequest,
            format!("cannot decode request: {e}"),
            libc::EINVAL,
        ),
    })?;
    Ok(RequestEnvelope {
        version: PROTOCOL_VERSION,
        id: raw.id,
        request,
    })
}

/// Decodes an answer line, refusing another major version. Never panics.
///
/// The line is read straight into its parts (no buffering of the whole
/// message first, as a flattened enum would need): a listing of 10,000
/// datasets is one large answer.
pub fn decode_response(line: &[u8]) -> Result<ResponseEnvelope, ProtocolError> {
    #[derive(Deserialize)]
    struct VersionOnly {
        version: u64,
    }
    /// A field that is there, even as `null`, is `Some`.
    fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
        Value::deserialize(d).map(Some)
    }
    #[derive(Deserialize)]
    struct Raw {
        #[serde(default)]
        id: u64,
        #[serde(default, deserialize_with = "present")]
        result: Option<Value>,
        #[serde(default)]
        error: Option<WireError>,
        #[serde(default, deserialize_with = "present")]
        progress: Option<Value>,
    }
    let malformed = |e: serde_json::Error| ProtocolError::Malformed(e.to_string());
    let v: VersionOnly = serde_json::from_slice(line).map_err(malformed)?;
    if v.version != u64::from(PROTOCOL_VERSION) {
        return Err(ProtocolError::Version {
            peer: v.version,
            ours: PROTOCOL_VERSION,
        });
    }
    let raw: Raw = serde_json::from_slice(line).map_err(malformed)?;
    let body = match (raw.result, raw.error, raw.progress) {
        (Some(r), None, None) => ResponseBody::Result(r),
        (None, Some(e), None) => ResponseBody::Error(e),
        (None, None, Some(p)) => ResponseBody::Progress(p),
        _ => {
            return Err(ProtocolError::Malformed(
                "an answer needs exactly one of result, error and progress".into(),
            ))
        }
    };
    Ok(ResponseEnvelope {
        version: PROTOCOL_VERSION,
        id: raw.id,
        body,
    })
}

/// An answer whose result is decoded straight into the type the caller
/// expects (no intermediate tree: a listing of 10,000 datasets is one
/// large answer).
#[derive(Debug)]
pub enum Answer<T> {
    /// The final result.
    Result(T),
    /// The final error.
    Error(WireError),
    /// Progress of long work; more messages follow.
    Progress(Value),
}

/// Decodes an answer line as [`decode_response`] does, with the result
/// as a `T`. Returns the id and the answer. Never panics.
pub fn decode_answer<T: serde::de::DeserializeOwned>(
    line: &[u8],
) -> Result<(u64, Answer<T>), ProtocolError> {
    #[derive(Deserialize)]
    struct VersionOnly {
        version: u64,
    }
    fn present<'de, D: serde::Deserializer<'de>, X: Deserialize<'de>>(
        d: D,
    ) -> Result<Option<X>, D::Error> {
        X::deserialize(d).map(Some)
    }
    #[derive(Deserialize)]
    #[serde(bound = "T: serde::de::DeserializeOwned")]
    struct Raw<T> {
        #[serde(default)]
        id: u64,
        #[serde(default = "Option::default", deserialize_with = "present")]
        result: Option<T>,
        #[serde(default)]
        error: Option<WireError>,
        #[serde(default, deserialize_with = "present")]
        progress: Option<Value>,
    }
    let malformed = |e: serde_json::Error| ProtocolError::Malformed(e.to_string());
    let v: VersionOnly = serde_json::from_slice(line).map_err(malformed)?;
    if v.version != u64::from(PROTOCOL_VERSION) {
        return Err(ProtocolError::Version {
            peer: v.version,
            ours: PROTOCOL_VERSION,
        });
    }
    let raw: Raw<T> = serde_json::from_slice(line).map_err(malformed)?;
    let answer = match (raw.result, raw.error, raw.progress) {
        (Some(r), None, None) => Answer::Result(r),
        (None, Some(e), None) => Answer::Error(e),
        (None, None, Some(p)) => Answer::Progress(p),
        _ => {
            return Err(ProtocolError::Malformed(
                "an answer needs exactly one of result, error and progress".into(),
            ))
        }
    };
    Ok((raw.id, answer))
}

/// Encodes a result answer around `result`, the JSON text of the result
/// (serialised once, straight from its type), refusing one over
/// [`MAX_MESSAGE`]. The same bytes as [`encode`] of a
/// [`ResponseEnvelope`] holding that result.
pub fn encode_result(id: u64, result: &str) -> Result<Vec<u8>, ProtocolError> {
    let head = format!("{{\"version\":{PROTOCOL_VERSION},\"id\":{id},\"result\":");
    let len = head.len() + result.len() + 1;
    if len > MAX_MESSAGE {
        return Err(ProtocolError::TooLarge { limit: MAX_MESSAGE });
    }
    let mut v = Vec::with_capacity(len);
    v.extend_from_slice(head.as_bytes());
    v.extend_from_slice(result.as_bytes());
    v.push(b'}');
    Ok(v)
}

/// Encodes a message as one line (without the newline), refusing one over
/// [`MAX_MESSAGE`].
pub fn encode<T: Serialize>(msg: &T) -> Result<Vec<u8>, ProtocolError> {
    let v = serde_json::to_vec(msg).map_err(|e| ProtocolError::Malformed(e.to_string()))?;
    if v.len() > MAX_MESSAGE {
        return Err(ProtocolError::TooLarge { limit: MAX_MESSAGE });
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip_with_op_tags() {
        let req = RequestEnvelope {
            version: 1,
            id: 9,
            request: Request::ZpoolExport(zpool::ExportRequest {
                name: "tank".into(),
                force: false,
                command: "zpool export tank".into(),
            }),
        };
        let line = encode(&req).unwrap();
        let text = String::from_utf8(line.clone()).unwrap();
        assert!(text.contains(r#""op":"zpool.export""#), "{text}");
        assert!(
            text.starts_with(r#"{"version":1,"id":9,"request":"#),
            "{text}"
        );
        assert_eq!(decode_request(&line).unwrap(), req);
        let hello = encode(&RequestEnvelope {
            version: 1,
            id: 1,
            request: Request::Hello,
        })
        .unwrap();
        assert_eq!(
            String::from_utf8(hello).unwrap(),
            r#"{"version":1,"id":1,"request":{"op":"hello"}}"#
        );
    }

    #[test]
    fn responses_have_result_or_error() {
        let ok = ResponseEnvelope {
            version: 1,
            id: 3,
            body: ResponseBody::Result(serde_json::json!({"a": 1})),
        };
        let line = encode(&ok).unwrap();
        assert_eq!(
            String::from_utf8(line.clone()).unwrap(),
            r#"{"version":1,"id":3,"result":{"a":1}}"#
        );
        assert_eq!(decode_response(&line).unwrap(), ok);
        let err = ResponseEnvelope {
            version: 1,
            id: 4,
            body: ResponseBody::Error(WireError::new(ErrorKind::NoSuchPool, "no", 2)),
        };
        let line = encode(&err).unwrap();
        assert_eq!(
            String::from_utf8(line.clone()).unwrap(),
            r#"{"version":1,"id":4,"error":{"kind":"no_such_pool","message":"no","errno":2}}"#
        );
        assert_eq!(decode_response(&line).unwrap(), err);
        // A null result is a result, not a missing one.
        let null = decode_response(br#"{"version":1,"id":5,"result":null}"#).unwrap();
        assert_eq!(null.body, ResponseBody::Result(Value::Null));
        // An error kind from a newer daemon still decodes.
        let newer = decode_response(
            br#"{"version":1,"id":6,"error":{"kind":"quota_exceeded","message":"m"}}"#,
        )
        .unwrap();
        assert!(matches!(
            newer.body,
            ResponseBody::Error(WireError {
                kind: ErrorKind::Other,
                ..
            })
        ));
    }

    #[test]
    fn answers_decode_straight_into_their_types() {
        let line = encode_result(3, r#"{"a":1}"#).unwrap();
        assert_eq!(
            String::from_utf8(line.clone()).unwrap(),
            r#"{"version":1,"id":3,"result":{"a":1}}"#
        );
        #[derive(Deserialize, Debug, PartialEq)]
        struct A {
            a: u64,
        }
        let (id, a) = decode_answer::<A>(&line).unwrap();
        assert_eq!(id, 3);
        assert!(matches!(a, Answer::Result(A { a: 1 })));
        let (_, null) = decode_answer::<Value>(br#"{"version":1,"id":5,"result":null}"#).unwrap();
        assert!(matches!(null, Answer::Result(Value::Null)));
        let (_, e) =
            decode_answer::<A>(br#"{"version":1,"id":4,"error":{"kind":"io","message":"m"}}"#)
                .unwrap();
        assert!(matches!(
            e,
            Answer::Error(WireError {
                kind: ErrorKind::Io,
                ..
            })
        ));
        let (_, p) = decode_answer::<A>(br#"{"version":1,"id":4,"progress":{"done":1}}"#).unwrap();
        assert!(matches!(p, Answer::Progress(_)));
        assert!(decode_answer::<A>(br#"{"version":1,"id":4,"result":{"b":1}}"#).is_err());
        assert!(decode_answer::<A>(br#"{"version":1,"id":4}"#).is_err());
        assert!(matches!(
            decode_answer::<A>(br#"{"version":2,"id":4,"result":{"a":1}}"#),
            Err(ProtocolError::Version { peer: 2, .. })
        ));
    }

    #[test]
    fn other_versions_are_refused() {
        let e = decode_response(br#"{"version":2,"id":1,"result":{}}"#).unwrap_err();
        assert!(
            matches!(e, ProtocolError::Version { peer: 2, ours: 1 }),
            "{e}"
        );
        let e = decode_request(br#"{"version":2,"id":8,"request":{"op":"hello"}}"#).unwrap_err();
        assert_eq!((e.id, e.error.kind), (8, ErrorKind::VersionMismatch));
        let e =
            decode_request(br#"{"version":1,"id":8,"request":{"op":"zpool.frob"}}"#).unwrap_err();
        assert_eq!((e.id, e.error.kind), (8, ErrorKind::BadRequest));
    }

    #[test]
    fn decoding_garbage_never_panics() {
        // A small deterministic generator: no dependency, reproducible.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let seeds: [&[u8]; 6] = [
            br#"{"version":1,"id":1,"request":{"op":"zpool.get","names":[],"props":["all"]}}"#,
            br#"{"version":1,"id":1,"result":{"pools":[]}}"#,
            br#"{"version":1,"id":1,"error":{"kind":"io","message":"x","errno":5}}"#,
            b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
            b"",
            b"\xff\xfe\x00",
        ];
        for round in 0..20_000 {
            let seed = seeds[round % seeds.len()];
            let mut b = seed.to_vec();
            for _ in 0..(next() % 4) {
                if b.is_empty() {
                    b.push(next() as u8);
                    continue;
                }
                let i = (next() as usize) % b.len();
                match next() % 3 {
                    0 => b[i] = next() as u8,
                    1 => {
                        b.remove(i);
                    }
                    _ => b.insert(i, next() as u8),
                }
            }
            let _ = decode_request(&b);
            let _ = decode_response(&b);
            let _ = decode_answer::<Value>(&b);
        }
        // Deep nesting is refused, not a stack overflow.
        let deep = format!(
            r#"{{"version":1,"id":1,"request":{}}}"#,
            "[".repeat(100_000)
        );
        assert!(decode_request(deep.as_bytes()).is_err());
        assert!(decode_response(deep.as_bytes()).is_err());
    }
}
