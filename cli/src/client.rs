//! The client side of the protocol: finds `basind`'s socket, sends a
//! request and waits for its answer.

use std::io::{self, BufReader};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::protocol::{
    self, Answer, ProtocolError, Request, RequestEnvelope, WireError, DEFAULT_SOCKET, MAX_MESSAGE,
    PROTOCOL_VERSION, SOCKET_ENV,
};

/// What can go wrong talking to the daemon.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// Nobody listens on the socket.
    #[error("cannot connect to basind at {}: is the daemon running?", .path.display())]
    NotRunning {
        /// The socket.
        path: PathBuf,
        /// Why the connection failed.
        #[source]
        source: io::Error,
    },
    /// The socket exists but may not be used.
    #[error("cannot connect to basind at {}: permission denied (basind's socket is mode 0600, or 0660 for the group given with --group)", .path.display())]
    PermissionDenied {
        /// The socket.
        path: PathBuf,
    },
    /// Another connection failure.
    #[error("cannot connect to basind at {}: {source}", .path.display())]
    Connect {
        /// The socket.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The daemon speaks another protocol version.
    #[error("basind at {} speaks protocol version {daemon}, this command speaks version {client}; use commands from the same Basin release as the daemon", .path.display())]
    Version {
        /// The socket.
        path: PathBuf,
        /// The daemon's version.
        daemon: u64,
        /// Ours.
        client: u32,
    },
    /// The conversation broke down.
    #[error("lost the conversation with basind at {}: {source}", .path.display())]
    Protocol {
        /// The socket.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: ProtocolError,
    },
    /// The daemon answered with an error.
    #[error("{0}")]
    Daemon(WireError),
}

/// The socket named by `$BASIN_SOCKET`, else the default.
pub fn socket_path() -> PathBuf {
    match std::env::var_os(SOCKET_ENV) {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(DEFAULT_SOCKET),
    }
}

/// A connection to `basind`.
pub struct Client {
    path: PathBuf,
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    next_id: u64,
}

impl Client {
    /// Connects to the socket of [`socket_path`].
    pub fn connect() -> Result<Client, ClientError> {
        Client::connect_to(&socket_path())
    }

    /// Connects to the socket at `path`.
    pub fn connect_to(path: &Path) -> Result<Client, ClientError> {
        let stream = UnixStream::connect(path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused => ClientError::NotRunning {
                path: path.to_path_buf(),
                source: e,
            },
            io::ErrorKind::PermissionDenied => ClientError::PermissionDenied {
                path: path.to_path_buf(),
            },
            _ => ClientError::Connect {
                path: path.to_path_buf(),
                source: e,
            },
        })?;
        let writer = stream.try_clone().map_err(|e| ClientError::Connect {
            path: path.to_path_buf(),
            source: e,
        })?;
        Ok(Client {
            path: path.to_path_buf(),
            reader: BufReader::new(stream),
            writer,
            next_id: 1,
        })
    }

    /// The socket this client talks to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Sends `request` and decodes its result as `T`.
    pub fn call<T: DeserializeOwned>(&mut self, request: &Request) -> Result<T, ClientError> {
        self.call_with_progress(request, &mut |_| {})
    }

    /// Sends `request`, hands every progress message to `on_progress`, and
    /// decodes the final result as `T`.
    pub fn call_with_progress<T: DeserializeOwned>(
        &mut self,
        request: &Request,
        on_progress: &mut dyn FnMut(&Value),
    ) -> Result<T, ClientError> {
        let id = self.next_id;
        self.next_id += 1;
        let env = RequestEnvelope {
            version: PROTOCOL_VERSION,
            id,
            request: request.clone(),
        };
        let line = protocol::encode(&env).map_err(|e| self.protocol(e))?;
        protocol::write_frame(&mut self.writer, &line).map_err(|e| self.protocol(e))?;
        loop {
            let line = match protocol::read_frame(&mut self.reader, MAX_MESSAGE) {
                Ok(Some(l)) => l,
                Ok(None) => {
                    return Err(self.protocol(ProtocolError::Io(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "basind closed the connection before answering",
                    ))))
                }
                Err(e) => return Err(self.protocol(e)),
            };
            let (resp_id, answer) = match protocol::decode_answer::<T>(&line) {
                Ok(r) => r,
                Err(ProtocolError::Version { peer, .. }) => {
                    return Err(ClientError::Version {
                        path: self.path.clone(),
                        daemon: peer,
                        client: PROTOCOL_VERSION,
                    })
                }
                Err(ProtocolError::Malformed(e)) => {
                    return Err(self.protocol(ProtocolError::Malformed(format!(
                        "unexpected answer to {}: {e}",
                        request.op()
                    ))))
                }
                Err(e) => return Err(self.protocol(e)),
            };
            if resp_id != id && resp_id != 0 {
                return Err(self.protocol(ProtocolError::Malformed(format!(
                    "answer to request {resp_id} while waiting for {id}"
                ))));
            }
            match answer {
                Answer::Progress(p) => on_progress(&p),
                Answer::Result(v) => return Ok(v),
                // A version refusal from the daemon says in its own words
                // which version it speaks.
                Answer::Error(e) => return Err(ClientError::Daemon(e)),
            }
        }
    }

    fn protocol(&self, source: ProtocolError) -> ClientError {
        ClientError::Protocol {
            path: self.path.clone(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, Write};
    use std::os::unix::net::UnixListener;

    /// A one-shot fake daemon that answers every request with `reply`.
    fn fake_daemon(dir: &Path, reply: &'static str) -> PathBuf {
        let path = dir.join("fake.sock");
        let listener = UnixListener::bind(&path).unwrap();
        std::thread::spawn(move || {
            if let Ok((s, _)) = listener.accept() {
                let mut r = BufReader::new(s.try_clone().unwrap());
                let mut w = s;
                let mut line = String::new();
                while r.read_line(&mut line).unwrap_or(0) > 0 {
                    let _ = w.write_all(reply.as_bytes());
                    line.clear();
                }
            }
        });
        path
    }

    #[test]
    fn a_missing_daemon_is_reported_clearly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("none.sock");
        let e = Client::connect_to(&path).err().unwrap();
        assert_eq!(
            e.to_string(),
            format!(
                "cannot connect to basind at {}: is the daemon running?",
                path.display()
            )
        );
    }

    #[test]
    fn a_daemon_of_another_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = fake_daemon(dir.path(), "{\"version\":2,\"id\":1,\"result\":{}}\n");
        let mut c = Client::connect_to(&path).unwrap();
        let e = c.call::<Value>(&Request::Hello).unwrap_err();
        assert!(
            matches!(
                e,
                ClientError::Version {
                    daemon: 2,
                    client: 1,
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("speaks protocol version 2"), "{e}");
    }

    #[test]
    fn progress_then_result() {
        let dir = tempfile::tempdir().unwrap();
        let path = fake_daemon(
            dir.path(),
            "{\"version\":1,\"id\":1,\"progress\":{\"done\":1}}\n{\"version\":1,\"id\":1,\"result\":{\"x\":5}}\n",
        );
        let mut c = Client::connect_to(&path).unwrap();
        let mut seen = Vec::new();
        let v: Value = c
            .call_with_progress(&Request::Hello, &mut |p| seen.push(p.clone()))
            .unwrap();
        assert_eq!(v, serde_json::json!({"x": 5}));
        assert_eq!(seen, vec![serde_json::json!({"done": 1})]);
    }

    #[test]
    fn garbage_from_the_daemon_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let path = fake_daemon(dir.path(), "\u{1}\u{2}not json\n");
        let mut c = Client::connect_to(&path).unwrap();
        let e = c.call::<Value>(&Request::Hello).unwrap_err();
        assert!(matches!(e, ClientError::Protocol { .. }), "{e}");
    }
}
