//! Leaving nothing behind. Everything the suite makes lives under its work
//! directory: mount points, the files behind loop devices and vdevs, and a
//! PID file for every process it starts. So cleaning up is a sweep of that
//! directory: unmount what is mounted under it, stop the processes named
//! by its PID files (checking their names, so a recycled PID is never
//! killed), and detach the loop devices backed by files in it.
//!
//! The sweep runs when the suite ends (a guard), when it is interrupted
//! (SIGINT, SIGTERM, SIGHUP: a watcher thread), and from the wrapper
//! script's trap (`basin-bench cleanup --work DIR`) in case the suite
//! itself was killed.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::cmd;
use crate::error::{BenchError, IoContext, Result};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static WORK: OnceLock<PathBuf> = OnceLock::new();
/// The external command running in the foreground, stopped first when the
/// suite is interrupted.
static FOREGROUND: AtomicU32 = AtomicU32::new(0);

/// The folder of PID files inside the work directory.
pub fn pid_dir(work: &Path) -> PathBuf {
    work.join("pids")
}

extern "C" fn on_signal(_sig: libc::c_int) {
    // Only an atomic store: async-signal-safe.
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Fails with [`BenchError::Interrupted`] once a stop signal arrived.
pub fn check_interrupted() -> Result<()> {
    if INTERRUPTED.load(Ordering::SeqCst) {
        return Err(BenchError::Interrupted);
    }
    Ok(())
}

/// Records the PID of the command running in the foreground (0: none).
pub fn set_foreground(pid: u32) {
    FOREGROUND.store(pid, Ordering::SeqCst);
}

/// Sweeps `work` when dropped.
#[derive(Debug)]
pub struct Guard {
    work: PathBuf,
}

impl Drop for Guard {
    fn drop(&mut self) {
        for line in sweep(&self.work) {
            eprintln!("cleanup: {line}");
        }
    }
}

/// Installs the signal handlers and the watcher thread for `work`, and
/// returns the guard that sweeps it at the end of the run.
pub fn install(work: &Path) -> Guard {
    let _ = WORK.set(work.to_path_buf());
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: the handler only stores to an atomic, which is
        // async-signal-safe; `signal` is called with a valid signal number
        // and a function of the right ABI. Handlers revert to the default
        // in exec'd children, so fio and the peers' tools stop on Ctrl-C
        // as usual.
        unsafe {
            libc::signal(sig, on_signal as *const () as libc::sighandler_t);
        }
    }
    let spawned = std::thread::Builder::new()
        .name("bench-cleanup".into())
        .spawn(|| loop {
            std::thread::sleep(Duration::from_millis(100));
            if INTERRUPTED.load(Ordering::SeqCst) {
                eprintln!("basin-bench: interrupted; cleaning up");
                let fg = FOREGROUND.load(Ordering::SeqCst);
                if fg != 0 {
                    signal(fg, libc::SIGTERM);
                }
                if let Some(w) = WORK.get() {
                    for line in sweep(w) {
                        eprintln!("cleanup: {line}");
                    }
                }
                std::process::exit(130);
            }
        });
    if let Err(e) = spawned {
        eprintln!(
            "basin-bench: no cleanup thread ({e}); Ctrl-C leaves cleanup to the wrapper's trap"
        );
    }
    Guard {
        work: work.to_path_buf(),
    }
}

/// Writes the PID file of a process the suite started: `pid comm`.
pub fn write_pid(work: &Path, name: &str, pid: u32) -> Result<()> {
    let dir = pid_dir(work);
    fs::create_dir_all(&dir).ctx(|| format!("creating {}", dir.display()))?;
    let comm = comm_of(pid).unwrap_or_default();
    let path = dir.join(format!("{name}.pid"));
    fs::write(&path, format!("{pid} {comm}\n")).ctx(|| format!("writing {}", path.display()))
}

/// Removes a PID file (the process was stopped normally).
pub fn remove_pid(work: &Path, name: &str) {
    let _ = fs::remove_file(pid_dir(work).join(format!("{name}.pid")));
}

/// The command name of a live process.
pub fn comm_of(pid: u32) -> Option<String> {
    fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|s| s.trim().to_string())
}

fn signal(pid: u32, sig: libc::c_int) -> bool {
    if pid == 0 || pid > i32::MAX as u32 {
        return false;
    }
    // SAFETY: kill(2) with a positive PID and a valid signal number touches
    // no memory of ours.
    unsafe { libc::kill(pid as i32, sig) == 0 }
}

/// True while a process exists (and is not a zombie).
pub fn alive(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => {
            // The state follows the parenthesised command name.
            let state = s
                .rsplit(')')
                .next()
                .and_then(|r| r.split_whitespace().next());
            state != Some("Z")
        }
        Err(_) => false,
    }
}

/// The end of a FUSE peer's teardown: stops its daemon `comm` (PID file
/// `pid_name` under `work`) within 20 s, detaches what is still mounted
/// under `base` and removes its vdev file `base/vdev0`. `first_err` is an
/// error of the steps before; it wins over those of this one.
pub fn stop_daemon_and_sweep(
    work: &Path,
    pid_name: &str,
    pid: Option<u32>,
    comm: &str,
    base: &Path,
    mut first_err: Option<BenchError>,
) -> Result<()> {
    if let Some(pid) = pid {
        if stop_pid(pid, Some(comm), Duration::from_secs(20)) {
            remove_pid(work, pid_name);
        } else {
            first_err.get_or_insert(BenchError::Other(format!(
                "{comm} (pid {pid}) does not stop"
            )));
        }
    }
    for m in mounts_under(base) {
        let _ = unmount(&m);
    }
    let _ = fs::remove_file(base.join("vdev0"));
    match first_err {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Stops a process the suite started: SIGTERM, then SIGKILL after
/// `grace`; only if its command name is still `comm` (when given).
/// Returns true when it is gone.
pub fn stop_pid(pid: u32, comm: Option<&str>, grace: Duration) -> bool {
    if !alive(pid) {
        return true;
    }
    if let (Some(want), Some(have)) = (comm, comm_of(pid)) {
        if !want.is_empty() && want != have {
            // The PID was recycled: not ours.
            return true;
        }
    }
    signal(pid, libc::SIGTERM);
    let t = Instant::now();
    while t.elapsed() < grace {
        reap(pid);
        if !alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    signal(pid, libc::SIGKILL);
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(5) {
        reap(pid);
        if !alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Reaps `pid` if it is our exited child (no effect otherwise).
fn reap(pid: u32) {
    let mut status = 0;
    // SAFETY: waitpid with WNOHANG on a PID writes only to `status`.
    unsafe {
        libc::waitpid(pid as i32, &mut status, libc::WNOHANG);
    }
}

/// Mount points at or under `dir`, deepest first.
pub fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let Ok(info) = fs::read_to_string("/proc/self/mountinfo") else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = info
        .lines()
        .filter_map(|l| l.split_whitespace().nth(4))
        .map(|m| PathBuf::from(unescape_mount(m)))
        .filter(|m| m.starts_with(dir))
        .collect();
    out.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    out.dedup();
    out
}

/// Undoes mountinfo's octal escapes (`\040` for a space).
fn unescape_mount(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() {
            let oct = std::str::from_utf8(&b[i + 1..i + 4]).unwrap_or("");
            if let Ok(v) = u8::from_str_radix(oct, 8) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Loop devices whose backing file lies under `dir`: (device, file).
pub fn loops_under(dir: &Path) -> Vec<(String, PathBuf)> {
    let Ok(rd) = fs::read_dir("/sys/block") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with("loop") {
            continue;
        }
        let Ok(file) = fs::read_to_string(e.path().join("loop/backing_file")) else {
            continue;
        };
        let file = PathBuf::from(file.trim().trim_end_matches(" (deleted)"));
        if file.starts_with(dir) {
            out.push((format!("/dev/{name}"), file));
        }
    }
    out.sort();
    out
}

/// Unmounts a mount point; lazily when it is busy. Returns what happened.
pub fn unmount(path: &Path) -> Result<()> {
    let p = path.to_string_lossy().to_string();
    // A FUSE filesystem may be busy for a moment after the last close().
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(2) {
        if cmd::quiet("umount", &[&p]) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // A FUSE mount whose daemon died answers nothing: detach it.
    if cmd::quiet("umount", &["-l", &p]) {
        return Ok(());
    }
    Err(BenchError::Other(format!(
        "cannot unmount {p}; see `grep {p} /proc/mounts`"
    )))
}

/// Sweeps `work`: destroys the zfs-fuse pool while its daemon still runs,
/// unmounts everything under `work`, stops every process of its PID files
/// and detaches its loop devices. Returns a line per action taken.
pub fn sweep(work: &Path) -> Vec<String> {
    let mut log = Vec::new();
    let pids = read_pid_files(work);
    // zfs-fuse's pools go first, while the daemon can still export them.
    if pids
        .iter()
        .any(|(n, _, _)| n == crate::targets::zfsfuse::PID_NAME)
    {
        for pool in crate::targets::zfsfuse::leftover_pools() {
            if cmd::quiet("zpool", &["destroy", "-f", &pool]) {
                log.push(format!("destroyed zfs-fuse pool {pool}"));
            }
        }
    }
    for m in mounts_under(work) {
        match unmount(&m) {
            Ok(()) => log.push(format!("unmounted {}", m.display())),
            Err(e) => log.push(format!("FAILED: {e}")),
        }
    }
    for (name, pid, comm) in pids {
        if stop_pid(pid, Some(&comm), Duration::from_secs(10)) {
            log.push(format!("stopped {name} (pid {pid})"));
            remove_pid(work, &name);
        } else {
            log.push(format!("FAILED: cannot stop {name} (pid {pid})"));
        }
    }
    // FUSE mounts of a daemon that just stopped.
    for m in mounts_under(work) {
        if unmount(&m).is_ok() {
            log.push(format!("unmounted {}", m.display()));
        }
    }
    for (dev, file) in loops_under(work) {
        if cmd::quiet("losetup", &["-d", &dev]) {
            log.push(format!("detached {dev} ({})", file.display()));
        } else {
            log.push(format!("FAILED: cannot detach {dev} ({})", file.display()));
        }
    }
    log
}

/// The PID files of `work`: (name, pid, comm).
fn read_pid_files(work: &Path) -> Vec<(String, u32, String)> {
    let Ok(rd) = fs::read_dir(pid_dir(work)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in rd.flatten() {
        let path = e.path();
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".pid"))
        else {
            continue;
        };
        let Ok(text) = fs::read_to_string(&path) else {
            continue;
        };
        let mut words = text.split_whitespace();
        let Some(pid) = words.next().and_then(|w| w.parse::<u32>().ok()) else {
            continue;
        };
        let comm = words.next().unwrap_or("").to_string();
        out.push((name.to_string(), pid, comm));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_escapes() {
        assert_eq!(unescape_mount("/a\\040b"), "/a b");
        assert_eq!(unescape_mount("/plain"), "/plain");
    }

    #[test]
    fn a_recycled_pid_is_left_alone() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id();
        assert!(stop_pid(pid, Some("not-sleep"), Duration::from_millis(10)));
        assert!(alive(pid), "a process of another name was stopped");
        assert!(stop_pid(pid, Some("sleep"), Duration::from_secs(5)));
        let _ = child.wait();
    }

    #[test]
    fn pid_files_are_swept() {
        let dir = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        write_pid(dir.path(), "sleeper", child.id()).unwrap();
        let log = sweep(dir.path());
        assert!(log.iter().any(|l| l.contains("stopped sleeper")), "{log:?}");
        let _ = child.wait();
        assert!(read_pid_files(dir.path()).is_empty());
    }
}
