//! Running in the background: the process forks, the parent waits until
//! the child serves its socket (or fails) and exits with the matching
//! status, so `basind && zpool list` works. `--foreground` skips this.

use std::fs::File;
use std::io::{Read, Write};

use nix::unistd::{fork, setsid, ForkResult};

use super::DaemonError;

/// Held by the detached child; tells the waiting parent that the daemon is
/// ready.
pub struct Ready {
    pipe: File,
}

impl Ready {
    /// Tells the parent that the socket serves requests.
    pub fn notify(mut self) {
        let _ = self.pipe.write_all(b"1");
    }
}

/// Forks into the background and returns in the child. The parent never
/// returns: it exits 0 once the child is ready, 1 if the child died first.
///
/// Must be called before the process starts any thread.
pub fn detach() -> Result<Ready, DaemonError> {
    let sys = |what| move |source| DaemonError::Sys { what, source };
    let (r, w) = nix::unistd::pipe().map_err(sys("create a pipe"))?;
    // SAFETY: called before any thread exists (the daemon's main calls it
    // first thing), so the child is a complete copy of a single-threaded
    // process and may do anything afterwards.
    match unsafe { fork() }.map_err(sys("fork"))? {
        ForkResult::Parent { .. } => {
            drop(w);
            let mut byte = [0u8; 1];
            let ok = matches!(File::from(r).read(&mut byte), Ok(1) if byte[0] == b'1');
            std::process::exit(if ok { 0 } else { 1 });
        }
        ForkResult::Child => {
            drop(r);
            setsid().map_err(sys("start a new session"))?;
            std::env::set_current_dir("/").map_err(|source| DaemonError::Io {
                what: "change directory to",
                path: "/".into(),
                source,
            })?;
            // Standard input is /dev/null; stdout and stderr stay (the log
            // goes to stderr).
            if let Ok(null) = File::open("/dev/null") {
                let _ = nix::unistd::dup2_stdin(&null);
            }
            Ok(Ready {
                pipe: File::from(w),
            })
        }
    }
}
