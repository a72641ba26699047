//! The listening socket: created with mode 0600 (or 0660 and the group of
//! `--group`), replacing a stale socket left by a killed daemon but never a
//! live one or a file that is not a socket.

use std::fs;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use nix::unistd::{chown, Group};

use super::DaemonError;

/// Binds the socket at `path`.
pub fn bind(path: &Path, group: Option<&str>) -> Result<UnixListener, DaemonError> {
    let io = |what, source| DaemonError::Io {
        what,
        path: path.to_path_buf(),
        source,
    };
    let gid = match group {
        Some(name) => Some(
            Group::from_name(name)
                .ok()
                .flatten()
                .ok_or_else(|| DaemonError::NoSuchGroup(name.to_string()))?
                .gid,
        ),
        None => None,
    };
    if let Some(dir) = path.parent() {
        if !dir.as_os_str().is_empty() && !dir.is_dir() {
            fs::create_dir_all(dir).map_err(|e| io("create the directory of", e))?;
        }
    }
    if let Ok(meta) = fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err(DaemonError::NotASocket(path.to_path_buf()));
        }
        if UnixStream::connect(path).is_ok() {
            return Err(DaemonError::AlreadyRunning(path.to_path_buf()));
        }
        fs::remove_file(path).map_err(|e| io("remove the stale socket", e))?;
    }
    // Bind inside a private directory, set the mode, then move the socket
    // into place: nobody can connect before the mode is right, and no
    // process-wide umask is touched.
    let parent = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let private = parent.join(format!(
        ".basind-{}-{}.tmp",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = fs::remove_dir_all(&private);
    fs::DirBuilder::new()
        .mode(0o700)
        .create(&private)
        .map_err(|e| io("create a private directory beside", e))?;
    let staged = private.join("s");
    let result = (|| {
        let listener = UnixListener::bind(&staged).map_err(|e| io("listen on", e))?;
        let mode = match gid {
            Some(gid) => {
                chown(&staged, None, Some(gid)).map_err(|e| io("set the group of", e.into()))?;
                0o660
            }
            None => 0o600,
        };
        fs::set_permissions(&staged, fs::Permissions::from_mode(mode))
            .map_err(|e| io("set the mode of", e))?;
        fs::rename(&staged, path).map_err(|e| io("move the socket to", e))?;
        Ok(listener)
    })();
    let _ = fs::remove_dir_all(&private);
    result
}

/// Removes the socket at shutdown.
pub fn remove(path: &Path) {
    let _ = fs::remove_file(path);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_and_stale_sockets() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.sock");
        let l = bind(&p, None).unwrap();
        let mode = fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(matches!(
            bind(&p, None),
            Err(DaemonError::AlreadyRunning(_))
        ));
        drop(l);
        // Stale now: replaced.
        let _l = bind(&p, None).unwrap();
        let f = dir.path().join("file");
        fs::write(&f, b"x").unwrap();
        assert!(matches!(bind(&f, None), Err(DaemonError::NotASocket(_))));
        assert!(matches!(
            bind(&dir.path().join("g.sock"), Some("no-such-group-basin")),
            Err(DaemonError::NoSuchGroup(_))
        ));
    }
}
