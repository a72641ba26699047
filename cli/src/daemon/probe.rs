//! Looking at vdevs without taking them: the labels of devices that another
//! process holds locked, and whether the heartbeat in a pool's labels says
//! somebody is using it now. Only for telling the operator what stands in
//! the way; the pool layer makes the real decision at import.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use basin_pool::import::{scan_devices, Candidate};
use basin_pool::labelio;
use basin_pool::mmp::{self, Heartbeat};
use basin_pool::vdev::BlockDevice;
use nix::fcntl::{Flock, FlockArg};

/// A read-only view of a file that takes no lock, so its labels can be
/// read while another process holds it.
pub struct PeekDevice {
    path: String,
    file: File,
    size: u64,
}

impl PeekDevice {
    /// Opens `path` for reading.
    pub fn open(path: &Path) -> io::Result<PeekDevice> {
        let file = File::open(path)?;
        let size = device_size(&file)?;
        Ok(PeekDevice {
            path: path.display().to_string(),
            file,
            size,
        })
    }
}

fn device_size(file: &File) -> io::Result<u64> {
    use std::io::{Seek, SeekFrom};
    // Works for regular files and block devices alike.
    let mut f = file;
    let size = f.seek(SeekFrom::End(0))?;
    f.seek(SeekFrom::Start(0))?;
    Ok(size)
}

impl BlockDevice for PeekDevice {
    fn path(&self) -> &str {
        &self.path
    }

    fn size(&self) -> u64 {
        self.size
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.file.read_exact_at(buf, offset)
    }

    fn write_at(&self, _offset: u64, _buf: &[u8]) -> io::Result<()> {
        Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "a peeked device is read-only",
        ))
    }

    fn flush(&self) -> io::Result<()> {
        Ok(())
    }
}

/// True when another open file holds an exclusive lock on `path` (a pool
/// imported by some process).
pub fn is_locked(path: &Path) -> bool {
    let Ok(file) = File::open(path) else {
        return false;
    };
    match Flock::lock(file, FlockArg::LockSharedNonblock) {
        Ok(_lock) => false,
        Err((_, errno)) => errno == nix::errno::Errno::EWOULDBLOCK,
    }
}

/// The regular files and block devices directly inside `dirs`.
pub fn device_files(dirs: &[PathBuf]) -> Vec<PathBuf> {
    use std::os::unix::fs::FileTypeExt;
    let mut out = Vec::new();
    for d in dirs {
        let Ok(rd) = std::fs::read_dir(d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if let Ok(m) = std::fs::metadata(&p) {
                if m.is_file() || m.file_type().is_block_device() {
                    out.push(p);
                }
            }
        }
    }
    out.sort();
    out
}

/// Pools whose devices in `dirs` are locked by another process, read
/// through their labels.
pub fn locked_pools(dirs: &[PathBuf]) -> Vec<Candidate> {
    let devs: Vec<Arc<dyn BlockDevice>> = device_files(dirs)
        .into_iter()
        .filter(|p| is_locked(p))
        .filter_map(|p| PeekDevice::open(&p).ok())
        .map(|d| Arc::new(d) as Arc<dyn BlockDevice>)
        .collect();
    scan_devices(&devs)
}

/// The newest heartbeat of the pool `guid` on any of `paths`.
pub fn heartbeat(paths: &[PathBuf], guid: u64) -> Option<Heartbeat> {
    paths
        .iter()
        .filter_map(|p| PeekDevice::open(p).ok())
        .filter_map(|d| labelio::read_heartbeat(&d))
        .filter(|h| h.pool_guid == guid)
        .max_by_key(|h| h.time_ms)
}

/// True when `hb` says a live process uses the pool now: fresh, and
/// written by another host or by a live process of this one other than us.
pub fn heartbeat_is_live(hb: &Heartbeat) -> bool {
    let age = mmp::now_ms().saturating_sub(hb.time_ms);
    if age >= mmp::HEARTBEAT_FRESH_MS {
        return false;
    }
    if hb.hostid != mmp::hostid() {
        return true;
    }
    hb.pid != 0 && hb.pid != std::process::id() && pid_alive(hb.pid)
}

/// True when process `pid` exists and is not a zombie.
pub fn pid_alive(pid: u32) -> bool {
    let Ok(raw) = i32::try_from(pid) else {
        return false;
    };
    if nix::sys::signal::kill(nix::unistd::Pid::from_raw(raw), None).is_err() {
        return false;
    }
    // A zombie still answers kill(0) but holds nothing.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => s
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .map(|state| state != "Z" && state != "X")
            .unwrap_or(true),
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_are_seen() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"x").unwrap();
        assert!(!is_locked(&p));
        let f = File::open(&p).unwrap();
        let held = Flock::lock(f, FlockArg::LockExclusiveNonblock).unwrap();
        assert!(is_locked(&p));
        drop(held);
        assert!(!is_locked(&p));
        assert!(!is_locked(&dir.path().join("missing")));
    }

    #[test]
    fn peeking_reads_and_never_writes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"hello").unwrap();
        let d = PeekDevice::open(&p).unwrap();
        assert_eq!(d.size(), 5);
        let mut b = [0u8; 4];
        d.read_at(1, &mut b).unwrap();
        assert_eq!(&b, b"ello");
        assert!(d.write_at(0, b"x").is_err());
        assert!(locked_pools(&[dir.path().to_path_buf()]).is_empty());
    }

    #[test]
    fn liveness() {
        assert!(pid_alive(std::process::id()));
        assert!(!pid_alive(0x7fff_fff0));
        let mine = Heartbeat {
            hostid: mmp::hostid(),
            pid: std::process::id(),
            seq: 1,
            time_ms: mmp::now_ms(),
            pool_guid: 1,
        };
        // Our own heartbeat does not make a pool busy for us.
        assert!(!heartbeat_is_live(&mine));
        let stale = Heartbeat {
            time_ms: 0,
            hostid: mine.hostid.wrapping_add(1),
            ..mine
        };
        assert!(!heartbeat_is_live(&stale));
        let other_host = Heartbeat {
            hostid: mine.hostid.wrapping_add(1),
            ..mine
        };
        assert!(heartbeat_is_live(&other_host));
    }
}
