//! The state directory: created private, locked so that two daemons never
//! share one cache file, and holding the pid file.

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

use super::DaemonError;

/// The lock file's name.
pub const LOCK_FILE: &str = "basind.lock";
/// The pid file's name.
pub const PID_FILE: &str = "basind.pid";

/// A locked state directory.
pub struct StateDir {
    path: PathBuf,
    _lock: Flock<File>,
}

impl StateDir {
    /// Creates `path` (mode 0700) if needed and locks it.
    pub fn open(path: &Path) -> Result<StateDir, DaemonError> {
        let io = |what, p: &Path| {
            let p = p.to_path_buf();
            move |source| DaemonError::Io {
                what,
                path: p,
                source,
            }
        };
        if !path.is_dir() {
            fs::create_dir_all(path).map_err(io("create the state directory", path))?;
            fs::set_permissions(path, fs::Permissions::from_mode(0o700))
                .map_err(io("set the mode of", path))?;
        }
        let lock_path = path.join(LOCK_FILE);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io("open", &lock_path))?;
        let lock = Flock::lock(file, FlockArg::LockExclusiveNonblock)
            .map_err(|_| DaemonError::StateDirBusy(path.to_path_buf()))?;
        Ok(StateDir {
            path: path.to_path_buf(),
            _lock: lock,
        })
    }

    /// Writes our pid into the pid file.
    pub fn write_pid(&self) -> Result<(), DaemonError> {
        let p = self.path.join(PID_FILE);
        fs::write(&p, format!("{}\n", std::process::id())).map_err(|source| DaemonError::Io {
            what: "write the pid file",
            path: p,
            source,
        })
    }

    /// Removes the pid file.
    pub fn remove_pid(&self) {
        let _ = fs::remove_file(self.path.join(PID_FILE));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_daemon_per_state_dir() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("state");
        let a = StateDir::open(&p).unwrap();
        let mode = fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        assert!(matches!(
            StateDir::open(&p),
            Err(DaemonError::StateDirBusy(_))
        ));
        a.write_pid().unwrap();
        assert!(p.join(PID_FILE).exists());
        a.remove_pid();
        drop(a);
        assert!(StateDir::open(&p).is_ok());
    }
}
