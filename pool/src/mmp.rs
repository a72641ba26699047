//! Multi-modifier protection: the host id of this machine, the heartbeat an
//! importing daemon writes into its labels, and the host-wide lock on a pool
//! guid, which together refuse a second import of a pool that is in use.
//!
//! Heartbeat record (little-endian, at the start of the label's heartbeat
//! area): magic `BASINHB1` (8), host id `u32`, pid `u32`, sequence `u64`,
//! time in milliseconds since the epoch `u64`, pool guid `u64`, then 32
//! bytes of blake3 over the area's device offset and the first 40 bytes.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::checksum::self_checksum;
use crate::error::{PoolError, Result};

const MAGIC: u64 = u64::from_le_bytes(*b"BASINHB1");
/// Encoded size of a heartbeat.
pub const HEARTBEAT_LEN: usize = 72;
/// How often a daemon writes its heartbeat.
pub const HEARTBEAT_INTERVAL_MS: u64 = 1000;
/// A heartbeat younger than this means the pool is in use.
pub const HEARTBEAT_FRESH_MS: u64 = 5 * HEARTBEAT_INTERVAL_MS;

/// The host id: `BASIN_HOSTID` (hex) if set, else /etc/hostid, else derived
/// from /etc/machine-id.
pub fn hostid() -> u32 {
    if let Ok(s) = std::env::var("BASIN_HOSTID") {
        if let Ok(v) = u32::from_str_radix(s.trim_start_matches("0x"), 16) {
            return v;
        }
    }
    if let Ok(b) = std::fs::read("/etc/hostid") {
        if b.len() >= 4 {
            return u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        }
    }
    if let Ok(s) = std::fs::read_to_string("/etc/machine-id") {
        if let Ok(v) = u32::from_str_radix(s.trim().get(..8).unwrap_or("0"), 16) {
            return v;
        }
    }
    0
}

/// This machine's host name.
pub fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".into())
}

/// Milliseconds since the epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A decoded heartbeat.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Heartbeat {
    /// Host id of the writer.
    pub hostid: u32,
    /// Process id of the writer.
    pub pid: u32,
    /// Increases with every write.
    pub seq: u64,
    /// When it was written.
    pub time_ms: u64,
    /// The pool it is for.
    pub pool_guid: u64,
}

impl Heartbeat {
    /// Encodes for the heartbeat area at device offset `offset`.
    pub fn encode(&self, offset: u64) -> [u8; HEARTBEAT_LEN] {
        let mut b = [0u8; HEARTBEAT_LEN];
        b[0..8].copy_from_slice(&MAGIC.to_le_bytes());
        b[8..12].copy_from_slice(&self.hostid.to_le_bytes());
        b[12..16].copy_from_slice(&self.pid.to_le_bytes());
        b[16..24].copy_from_slice(&self.seq.to_le_bytes());
        b[24..32].copy_from_slice(&self.time_ms.to_le_bytes());
        b[32..40].copy_from_slice(&self.pool_guid.to_le_bytes());
        let sum = self_checksum(offset, &b[..40]);
        b[40..72].copy_from_slice(&sum.0);
        b
    }

    /// Decodes; an empty or damaged area is `None`.
    pub fn decode(b: &[u8], offset: u64) -> Option<Heartbeat> {
        if b.len() < HEARTBEAT_LEN || b[0..8] != MAGIC.to_le_bytes() {
            return None;
        }
        if self_checksum(offset, &b[..40]).0 != b[40..72] {
            return None;
        }
        let le64 = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().expect("8"));
        Some(Heartbeat {
            hostid: u32::from_le_bytes(b[8..12].try_into().expect("4")),
            pid: u32::from_le_bytes(b[12..16].try_into().expect("4")),
            seq: le64(16),
            time_ms: le64(24),
            pool_guid: le64(32),
        })
    }
}

/// Directory of the host-wide pool locks: `BASIN_LOCK_DIR`, else
/// /run/basin/locks.
pub fn lock_dir() -> PathBuf {
    std::env::var_os("BASIN_LOCK_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/run/basin/locks"))
}

/// A host-wide exclusive lock on a pool guid, held while the pool is
/// imported, so that a copy of the pool's vdevs cannot be imported beside it.
pub struct GuidLock {
    _file: File,
    path: PathBuf,
}

impl GuidLock {
    /// Takes the lock for `guid` of pool `name` in `dir`.
    pub fn acquire(dir: &Path, guid: u64, name: &str) -> Result<GuidLock> {
        std::fs::create_dir_all(dir).map_err(|e| PoolError::io(dir.display().to_string(), e))?;
        let path = dir.join(format!("{guid:016x}.lock"));
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| PoolError::io(path.display().to_string(), e))?;
        // SAFETY: flock on a descriptor we own; no memory is involved.
        let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if r != 0 {
            let holder = std::fs::read_to_string(&path).unwrap_or_default();
            return Err(PoolError::PoolActive {
                pool: name.to_string(),
                host: format!("this host ({})", holder.trim()),
                hostid: hostid(),
                age_secs: 0,
            });
        }
        let _ = file.set_len(0);
        let _ = std::fs::write(&path, format!("pid {}\n", std::process::id()));
        Ok(GuidLock { _file: file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heartbeat_round_trip() {
        let h = Heartbeat {
            hostid: 0xabcd,
            pid: 42,
            seq: 7,
            time_ms: 1_700_000_000_000,
            pool_guid: 99,
        };
        let b = h.encode(8192);
        assert_eq!(Heartbeat::decode(&b, 8192), Some(h));
        assert_eq!(Heartbeat::decode(&b, 0), None);
        assert_eq!(Heartbeat::decode(&[0u8; 72], 8192), None);
    }

    #[test]
    fn guid_lock_is_exclusive() {
        let dir = tempfile::tempdir().unwrap();
        let a = GuidLock::acquire(dir.path(), 5, "tank").unwrap();
        let b = GuidLock::acquire(dir.path(), 5, "tank");
        assert!(matches!(b, Err(PoolError::PoolActive { .. })));
        assert!(GuidLock::acquire(dir.path(), 6, "other").is_ok());
        drop(a);
        assert!(GuidLock::acquire(dir.path(), 5, "tank").is_ok());
    }
}
