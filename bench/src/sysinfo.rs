//! Facts about the machine and the run: what the report's header says
//! (date, commit, CPU, memory, kernel, disk, tool versions), the memory of
//! a process, free space, and dropping the kernel's caches.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::cmd;
use crate::error::{BenchError, IoContext, Result};

/// The header of a report.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Machine {
    /// UTC date and time of the run.
    pub date: String,
    /// The commit measured (with `-dirty` when the tree had changes).
    pub commit: String,
    /// CPU model and count.
    pub cpu: String,
    /// Memory.
    pub memory: String,
    /// Kernel release.
    pub kernel: String,
    /// The disk under the work directory.
    pub disk: String,
    /// Versions of the peers' tools.
    pub tools: Vec<String>,
}

impl Machine {
    /// Reads the machine's facts; `repo` is the checkout, `work` the
    /// directory the data goes to.
    pub fn read(repo: &Path, work: &Path) -> Machine {
        let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let model = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split(':').nth(1))
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|| "unknown CPU".into());
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        let mem_kib = meminfo("MemTotal:").unwrap_or(0);
        let kernel = fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        let disk = cmd::run(
            "df",
            &["-h", "--output=source,fstype,size,avail", &path_str(work)],
        )
        .ok()
        .and_then(|s| {
            s.lines()
                .nth(1)
                .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        })
        .map(|l| format!("{l} (source, type, size, free) under {}", work.display()))
        .unwrap_or_default();
        let mut tools = Vec::new();
        for (name, args) in [
            ("fio", vec!["--version"]),
            ("mkfs.btrfs", vec!["--version"]),
            ("mke2fs", vec!["-V"]),
        ] {
            if let Ok(o) = cmd::output(name, &args) {
                let text = format!(
                    "{}{}",
                    String::from_utf8_lossy(&o.stdout),
                    String::from_utf8_lossy(&o.stderr)
                );
                if let Some(l) = text.lines().find(|l| !l.trim().is_empty()) {
                    tools.push(l.trim().to_string());
                }
            }
        }
        if let Ok(v) = cmd::run("dpkg-query", &["-W", "-f=${Version}", "zfs-fuse"]) {
            tools.push(format!("zfs-fuse {v}"));
        }
        tools.push("fuser 0.18 (memfs)".into());
        Machine {
            date: utc_now(),
            commit: commit(repo),
            cpu: format!("{cores} x {model}"),
            memory: format!("{:.1} GiB", mem_kib as f64 / (1 << 20) as f64),
            kernel,
            disk,
            tools,
        }
    }
}

fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// A field of /proc/meminfo, in KiB.
pub fn meminfo(field: &str) -> Option<u64> {
    fs::read_to_string("/proc/meminfo")
        .ok()?
        .lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// The short commit of `repo`, with `-dirty` when its tree has changes.
pub fn commit(repo: &Path) -> String {
    let r = path_str(repo);
    let head = cmd::run("git", &["-C", &r, "rev-parse", "--short=12", "HEAD"])
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into());
    let dirty = cmd::run(
        "git",
        &["-C", &r, "status", "--porcelain", "--untracked-files=no"],
    )
    .map(|s| !s.trim().is_empty())
    .unwrap_or(false);
    if dirty {
        format!("{head}-dirty")
    } else {
        head
    }
}

/// Now, as `YYYY-MM-DD HH:MM UTC`.
pub fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (y, m, d) = civil_from_days((secs / 86400) as i64);
    let rem = secs % 86400;
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

/// Today, as `YYYY-MM-DD` (UTC).
pub fn utc_date() -> String {
    utc_now()[..10].to_string()
}

/// Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Peak and current resident memory of a process, KiB (`VmHWM`, `VmRSS`).
pub fn memory_kib(pid: u32) -> Result<(u64, u64)> {
    let s = fs::read_to_string(format!("/proc/{pid}/status"))
        .ctx(|| format!("reading the memory of pid {pid}"))?;
    let field = |name: &str| {
        s.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
    };
    match (field("VmHWM:"), field("VmRSS:")) {
        (Some(h), Some(r)) => Ok((h, r)),
        _ => Err(BenchError::Other(format!(
            "no VmHWM/VmRSS in /proc/{pid}/status"
        ))),
    }
}

/// Our own peak resident memory, KiB.
pub fn own_peak_kib() -> u64 {
    memory_kib(std::process::id()).map(|m| m.0).unwrap_or(0)
}

/// Free bytes of the filesystem holding `dir`.
pub fn free_bytes(dir: &Path) -> Result<u64> {
    let c = std::ffi::CString::new(path_str(dir))
        .map_err(|_| BenchError::Other(format!("bad path {}", dir.display())))?;
    // SAFETY: statvfs reads a NUL-terminated path and fills the zeroed
    // struct we own; nothing else is touched.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::statvfs(c.as_ptr(), &mut st) };
    if r != 0 {
        return Err(BenchError::Io {
            context: format!("statvfs {}", dir.display()),
            source: std::io::Error::last_os_error(),
        });
    }
    Ok(st.f_bavail as u64 * st.f_frsize as u64)
}

/// True when `a` and `b` are on the same filesystem.
pub fn same_filesystem(a: &Path, b: &Path) -> Result<bool> {
    let da = fs::metadata(a)
        .ctx(|| format!("stat {}", a.display()))?
        .dev();
    let db = fs::metadata(b)
        .ctx(|| format!("stat {}", b.display()))?
        .dev();
    Ok(da == db)
}

/// Writes dirty data back and drops the page, dentry and inode caches.
pub fn drop_caches() -> Result<()> {
    // SAFETY: sync(2) takes no arguments and cannot fail.
    unsafe { libc::sync() };
    fs::write("/proc/sys/vm/drop_caches", "3\n").ctx(|| "dropping the caches (needs root)".into())
}

/// Syncs the filesystem holding `dir` (syncfs(2)).
pub fn syncfs(dir: &Path) -> Result<()> {
    let f = fs::File::open(dir).ctx(|| format!("opening {}", dir.display()))?;
    use std::os::fd::AsRawFd;
    // SAFETY: syncfs on a descriptor we own for the duration of the call.
    let r = unsafe { libc::syncfs(f.as_raw_fd()) };
    if r != 0 {
        return Err(BenchError::Io {
            context: format!("syncfs {}", dir.display()),
            source: std::io::Error::last_os_error(),
        });
    }
    Ok(())
}

/// True when running as root.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no arguments and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(20_513), (2026, 3, 1));
    }

    #[test]
    fn our_memory_is_readable() {
        let (hwm, rss) = memory_kib(std::process::id()).unwrap();
        assert!(hwm >= rss && rss > 0);
    }
}
