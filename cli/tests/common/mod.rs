//! The end-to-end harness: a `basind` of its own per test (socket, state
//! directory and lock directory in a temp dir), file vdevs, and the built
//! `zpool` run against it. The daemon is killed when its guard drops, even
//! when the test fails, and dies with the test thread if the harness itself
//! is killed.

#![allow(dead_code)]

pub mod offline;

use std::fs::{File, OpenOptions};
use std::hash::{DefaultHasher, Hasher};
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub const MIB: u64 = 1 << 20;
/// The smallest vdev a pool accepts.
pub const VDEV_SIZE: u64 = 64 * MIB;

pub const BASIND: &str = env!("CARGO_BIN_EXE_basind");
pub const ZPOOL: &str = env!("CARGO_BIN_EXE_zpool");
pub const ZFS: &str = env!("CARGO_BIN_EXE_zfs");

/// What a `zpool` run printed.
#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// Panics unless the command succeeded; returns stdout.
    #[track_caller]
    pub fn ok(&self) -> &str {
        assert_eq!(self.code, 0, "command failed: {self:?}");
        &self.stdout
    }

    /// Panics unless the command failed with `code` and said `msg` on
    /// stderr.
    #[track_caller]
    pub fn fails(&self, code: i32, msg: &str) {
        assert_eq!(self.code, code, "wrong exit code: {self:?}");
        assert!(self.stderr.contains(msg), "stderr lacks {msg:?}: {self:?}");
        assert!(
            !self.stderr.contains("panicked") && !self.stderr.contains("RUST_BACKTRACE"),
            "a Rust dump reached the user: {self:?}"
        );
    }
}

/// Runs the built `zpool` against `socket`.
pub fn zpool_at(socket: &Path, args: &[&str]) -> Out {
    run_at(ZPOOL, socket, args)
}

/// Runs the built `zfs` against `socket`.
pub fn zfs_at(socket: &Path, args: &[&str]) -> Out {
    run_at(ZFS, socket, args)
}

fn run_at(program: &str, socket: &Path, args: &[&str]) -> Out {
    let out = Command::new(program)
        .args(args)
        .env("BASIN_SOCKET", socket)
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::null())
        .output()
        .expect("run a command");
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Makes the child die with the thread that started it (the test), even if
/// the harness is killed before the guard runs.
fn die_with_parent(cmd: &mut Command) {
    // SAFETY: prctl is async-signal-safe and touches no memory of the
    // parent; this runs in the child between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
}

/// A running `basind`.
pub struct Daemon {
    child: Option<Child>,
    pub socket: PathBuf,
    pub state: PathBuf,
    pub log: PathBuf,
    pub lock_dir: PathBuf,
    /// Where it mounts filesystems (`--mount-root`): mountpoint=/tank/a
    /// is mounted at `mnt/tank/a`, never on the host's own /tank.
    pub mnt: PathBuf,
    /// Filesystems mount by themselves. Off by default: the dataset tests
    /// assert the space of filesystems never mounted (mounting writes the
    /// POSIX layer's first objects), so only the mount tests turn it on.
    automount: bool,
    extra: Vec<String>,
}

impl Daemon {
    /// Starts `basind` named `name` under `root`, with the host-wide lock
    /// directory `lock_dir`.
    pub fn start(root: &Path, name: &str, lock_dir: &Path) -> Daemon {
        Daemon::start_with(root, name, lock_dir, &[])
    }

    /// As [`Daemon::start`], with more arguments.
    pub fn start_with(root: &Path, name: &str, lock_dir: &Path, extra: &[&str]) -> Daemon {
        Daemon::start_full(root, name, lock_dir, extra, false)
    }

    /// As [`Daemon::start`], mounting filesystems as basind does by
    /// default (under its mount root).
    pub fn start_mounting(root: &Path, name: &str, lock_dir: &Path) -> Daemon {
        Daemon::start_full(root, name, lock_dir, &[], true)
    }

    fn start_full(
        root: &Path,
        name: &str,
        lock_dir: &Path,
        extra: &[&str],
        automount: bool,
    ) -> Daemon {
        let mut d = Daemon {
            child: None,
            socket: root.join(format!("{name}.sock")),
            state: root.join(format!("{name}-state")),
            log: root.join(format!("{name}.log")),
            lock_dir: lock_dir.to_path_buf(),
            mnt: root.join(format!("{name}-mnt")),
            automount,
            extra: extra.iter().map(|s| s.to_string()).collect(),
        };
        d.spawn();
        d
    }

    fn spawn(&mut self) {
        assert!(self.child.is_none(), "daemon already running");
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("open log");
        let mut cmd = Command::new(BASIND);
        cmd.arg("--foreground")
            .arg("--socket")
            .arg(&self.socket)
            .arg("--state-dir")
            .arg(&self.state)
            .arg("--mount-root")
            .arg(&self.mnt)
            .args((!self.automount).then_some("--no-automount"))
            .args(&self.extra)
            .env("BASIN_LOCK_DIR", &self.lock_dir)
            .env_remove("RUST_BACKTRACE")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        die_with_parent(&mut cmd);
        let mut child = cmd.spawn().expect("start basind");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            // The socket is bound before the pools are imported and their
            // filesystems mounted, and a connection is accepted only after:
            // an answer means the daemon is ready (a bare connect would
            // not, nor would a stale socket held open by a leftover).
            let hello = basin_cli::client::Client::connect_to(&self.socket).and_then(|mut c| {
                c.call::<serde_json::Value>(&basin_cli::protocol::Request::Hello)
            });
            if hello.is_ok() {
                break;
            }
            if let Ok(Some(st)) = child.try_wait() {
                panic!(
                    "basind exited with {st} before serving:\n{}",
                    self.log_text()
                );
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("basind did not serve within 20 s:\n{}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.child = Some(child);
    }

    /// The daemon's pid.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Runs `zpool` against this daemon.
    pub fn zpool(&self, args: &[&str]) -> Out {
        zpool_at(&self.socket, args)
    }

    /// Runs `zfs` against this daemon.
    pub fn zfs(&self, args: &[&str]) -> Out {
        zfs_at(&self.socket, args)
    }

    /// The daemon's log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL, and reap it (a zombie would still look alive).
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The path where the filesystem with mountpoint `mountpoint` is
    /// mounted by this daemon.
    pub fn at(&self, mountpoint: &str) -> PathBuf {
        self.mnt.join(mountpoint.trim_start_matches('/'))
    }

    /// The mounts of this daemon's mount root, as the kernel lists them:
    /// (source, mountpoint, fstype).
    pub fn kernel_mounts(&self) -> Vec<(String, String, String)> {
        mounts_under(&self.mnt)
    }

    /// Detaches whatever is still mounted under the mount root (a killed
    /// daemon's mounts go by themselves, a moment later).
    fn sweep_mounts(&self) {
        let mut left = mounts_under(&self.mnt);
        left.sort_by(|a, b| b.1.cmp(&a.1));
        for (_, mp, _) in left {
            let _ = nix::mount::umount2(Path::new(&mp), nix::mount::MntFlags::MNT_DETACH);
        }
    }

    /// SIGTERM and wait; returns the exit status.
    pub fn terminate(&mut self) -> ExitStatus {
        let mut c = self.child.take().expect("running");
        let pid = nix::unistd::Pid::from_raw(c.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("SIGTERM");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(st) = c.try_wait().expect("wait") {
                return st;
            }
            if Instant::now() > deadline {
                let _ = c.kill();
                let _ = c.wait();
                panic!("basind ignored SIGTERM:\n{}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts it again on the same socket and state directory.
    pub fn restart(&mut self) {
        self.spawn();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill9();
        self.sweep_mounts();
        if std::thread::panicking() {
            eprintln!(
                "--- log of {} ---\n{}",
                self.socket.display(),
                self.log_text()
            );
        }
    }
}

/// Every mount at or below `dir`: (source, mountpoint, fstype).
pub fn mounts_under(dir: &Path) -> Vec<(String, String, String)> {
    basin_zonefs::mount::mounts()
        .into_iter()
        .filter(|(_, mp, _)| Path::new(mp).starts_with(dir))
        .collect()
}

/// True when FUSE mounts can be made here (root, /dev/fuse, fusermount3);
/// otherwise prints why and returns false, or panics under CI=true.
pub fn fuse_available() -> bool {
    let why = if !nix::unistd::geteuid().is_root() {
        Some("not root")
    } else if !Path::new("/dev/fuse").exists() {
        Some("no /dev/fuse")
    } else if !Path::new("/usr/bin/fusermount3").exists() && !Path::new("/bin/fusermount3").exists()
    {
        Some("no fusermount3 (fuse3)")
    } else {
        None
    };
    match why {
        None => true,
        Some(w) => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("FUSE test cannot run under CI: {w}");
            }
            eprintln!("skipping: this test needs root, /dev/fuse and fusermount3 ({w})");
            false
        }
    }
}

/// A sparse file vdev of `size` bytes.
pub fn vdev(dir: &Path, name: &str, size: u64) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let p = dir.join(name);
    File::create(&p).unwrap().set_len(size).unwrap();
    p
}

/// A digest of a file's bytes, to show it was not written.
pub fn digest(p: &Path) -> u64 {
    let mut h = DefaultHasher::new();
    let mut f = File::open(p).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        h.write(&buf[..n]);
    }
    h.finish()
}

/// A path as a `&str`.
pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A temp dir for one test, with a `vdevs` dir and a lock dir of its own.
pub struct TestDir {
    pub tmp: tempfile::TempDir,
    pub vdevs: PathBuf,
    pub locks: PathBuf,
}

impl TestDir {
    pub fn new() -> TestDir {
        let tmp = tempfile::tempdir().unwrap();
        let vdevs = tmp.path().join("vdevs");
        let locks = tmp.path().join("locks");
        std::fs::create_dir_all(&vdevs).unwrap();
        std::fs::create_dir_all(&locks).unwrap();
        TestDir { tmp, vdevs, locks }
    }

    pub fn root(&self) -> &Path {
        self.tmp.path()
    }

    /// A vdev of the minimum size in `vdevs`.
    pub fn vdev(&self, name: &str) -> PathBuf {
        vdev(&self.vdevs, name, VDEV_SIZE)
    }

    /// A daemon with this test's lock dir.
    pub fn daemon(&self, name: &str) -> Daemon {
        Daemon::start(self.root(), name, &self.locks)
    }

    /// A daemon that mounts filesystems by itself, with this test's lock
    /// dir.
    pub fn mounting_daemon(&self, name: &str) -> Daemon {
        Daemon::start_mounting(self.root(), name, &self.locks)
    }

    /// A mounting daemon with a pool `tank` on one vdev of `size` bytes.
    pub fn mounting_daemon_with_pool(&self, name: &str, size: u64) -> Daemon {
        let v = vdev(&self.vdevs, &format!("{name}-tank"), size);
        let d = self.mounting_daemon(name);
        d.zpool(&["create", "tank", s(&v)]).ok();
        d
    }

    /// A daemon with a pool `tank` on one vdev of `size` bytes.
    pub fn daemon_with_pool(&self, name: &str, size: u64) -> Daemon {
        let v = vdev(&self.vdevs, &format!("{name}-tank"), size);
        let d = self.daemon(name);
        d.zpool(&["create", "tank", s(&v)]).ok();
        d
    }
}

/// Bytes no compressor shrinks, different for every `seed` (xorshift).
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}
