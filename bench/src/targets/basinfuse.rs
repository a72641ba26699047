//! basin-fuse: Basin as users see it, a dataset mounted through FUSE by
//! `basind`. The daemon is started by the suite on a socket of its own in
//! the work directory (its PID file written for the sweep, stopped by PID
//! with SIGTERM, which unmounts and closes the pool), with an ARC of the
//! suite's cache size and a pool on one sparse file vdev; the workloads
//! run in `basinfuse/data`, mounted on the work directory. `make_cold`,
//! `snapshot`, `rollback`, `scrub`, `compress_ratio` and `remount` call
//! Basin's own `zfs` and `zpool`. `basind`, `zpool` and `zfs` are the ones
//! built beside `basin-bench` (`cargo build --release -p basin-cli`).

use std::ffi::OsStr;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::cleanup;
use crate::cmd;
use crate::error::{BenchError, IoContext, Result};
use crate::targets::{Availability, Ctx, Mounted, Support};
use crate::workload::{size, Mode, Workload};

/// Name of basind's PID file in the work directory.
pub const PID_NAME: &str = "basind";
/// The pool the target creates.
const POOL: &str = "basinfuse";
/// The filesystem the workloads use.
const DATA: &str = "basinfuse/data";
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// basind with a pool on a file vdev and one mounted filesystem.
#[derive(Default)]
pub struct BasinFuse {
    /// The target's folder of the work directory.
    base: PathBuf,
    work: PathBuf,
    /// Where basind, zpool and zfs are.
    bin: PathBuf,
    pid: Option<u32>,
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

impl BasinFuse {
    fn setup_err(&self, why: impl std::fmt::Display) -> BenchError {
        BenchError::Setup {
            target: "basin-fuse".into(),
            why: why.to_string(),
        }
    }

    fn socket(&self) -> PathBuf {
        self.base.join("basind.sock")
    }

    /// Runs Basin's `zpool` or `zfs` against this target's daemon.
    fn run<S: AsRef<OsStr>>(&self, program: &str, args: &[S]) -> Result<String> {
        cleanup::check_interrupted()?;
        let exe = self.bin.join(program);
        let out = Command::new(&exe)
            .args(args)
            .env("BASIN_SOCKET", self.socket())
            .stdin(Stdio::null())
            .output()
            .map_err(|e| BenchError::Command {
                command: cmd::display(&s(&exe), args),
                status: "not started".into(),
                stderr: e.to_string(),
            })?;
        if !out.status.success() {
            return Err(BenchError::Command {
                command: cmd::display(program, args),
                status: out.status.to_string(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// As [`BasinFuse::run`], again while the pool or dataset is busy, for
    /// up to 5 s: FUSE releases files asynchronously after close().
    fn patient(&self, program: &str, args: &[&str]) -> Result<String> {
        let t = Instant::now();
        loop {
            match self.run(program, args) {
                Err(BenchError::Command { stderr, .. })
                    if stderr.contains("busy") && t.elapsed() < Duration::from_secs(5) =>
                {
                    std::thread::sleep(Duration::from_millis(100));
                }
                r => return r,
            }
        }
    }

    fn import(&self) -> Result<()> {
        self.run("zpool", &["import", "-d", &s(&self.base), POOL])?;
        Ok(())
    }

    fn start_daemon(&mut self, ctx: &Ctx) -> Result<u32> {
        let log = self.base.join("basind.log");
        let log = File::create(&log).ctx(|| format!("creating {}", log.display()))?;
        let err = log.try_clone().ctx(|| "duplicating the log".to_string())?;
        let child = Command::new(self.bin.join("basind"))
            .arg("--foreground")
            .arg("--socket")
            .arg(self.socket())
            .arg("--state-dir")
            .arg(self.base.join("state"))
            .arg("--arc-max")
            .arg(ctx.mode.cache_bytes.max(64 << 20).to_string())
            .env("BASIN_LOCK_DIR", self.base.join("locks"))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .map_err(|e| self.setup_err(format!("cannot start basind: {e}")))?;
        let pid = child.id();
        // Stopped (and reaped) by PID: the teardown, or the sweep.
        drop(child);
        cleanup::write_pid(&ctx.work, PID_NAME, pid)?;
        self.pid = Some(pid);
        let t = Instant::now();
        while self.run("zpool", &["list", "-H"]).is_err() {
            if t.elapsed() > START_TIMEOUT || !cleanup::alive(pid) {
                let log = std::fs::read_to_string(self.base.join("basind.log")).unwrap_or_default();
                return Err(self.setup_err(format!(
                    "basind does not answer `zpool list`; its log:\n{log}"
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(pid)
    }

    /// Why FUSE mounts cannot be made here, if so.
    fn fuse_missing() -> Option<&'static str> {
        if !Path::new("/dev/fuse").exists() {
            return Some("/dev/fuse is missing (modprobe fuse)");
        }
        if cmd::which("fusermount3").is_none() {
            return Some("fusermount3 is missing (install fuse3)");
        }
        None
    }
}

impl Mounted for BasinFuse {
    fn name(&self) -> &'static str {
        "basin-fuse"
    }

    fn describe(&self, mode: &Mode) -> String {
        format!(
            "Basin through FUSE: basind started by hand, ARC {}, pool on one sparse {} file vdev (O_DIRECT, io_uring), lz4 + blake3, intent log for fsync",
            size(mode.cache_bytes.max(64 << 20)),
            size(mode.device_bytes())
        )
    }

    fn is_basin(&self) -> bool {
        true
    }

    fn setup(&mut self, ctx: &Ctx) -> Result<Availability> {
        cmd::require(&["fio"]).map_err(|e| self.setup_err(e))?;
        if let Some(why) = BasinFuse::fuse_missing() {
            return Err(self.setup_err(why));
        }
        let dir = ctx.exe.parent().map(Path::to_path_buf).unwrap_or_default();
        for p in ["basind", "zpool", "zfs"] {
            if !dir.join(p).exists() {
                return Err(self.setup_err(format!(
                    "{p} is not built beside {} (cargo build --release -p basin-cli)",
                    ctx.exe.display()
                )));
            }
        }
        self.bin = dir;
        self.work = ctx.work.clone();
        self.base = ctx.fresh_dir("basin-fuse")?;
        let vdev = self.base.join("vdev0");
        let f = File::create(&vdev).ctx(|| format!("creating {}", vdev.display()))?;
        f.set_len(ctx.mode.device_bytes())
            .ctx(|| format!("sizing {}", vdev.display()))?;
        drop(f);
        self.start_daemon(ctx)?;
        self.run(
            "zpool",
            &["create", "-O", "mountpoint=none", POOL, &s(&vdev)],
        )
        .map_err(|e| self.setup_err(e))?;
        let mnt = self.dir();
        self.run(
            "zfs",
            &["create", "-o", &format!("mountpoint={}", s(&mnt)), DATA],
        )
        .map_err(|e| self.setup_err(e))?;
        if !cleanup::mounts_under(&mnt).contains(&mnt) {
            return Err(self.setup_err(format!("{DATA} is not mounted on {}", mnt.display())));
        }
        Ok(Availability::Ready)
    }

    fn teardown(&mut self, _ctx: &Ctx) -> Result<()> {
        let mut first_err = None;
        let pid = self.pid.take();
        if pid.is_some_and(cleanup::alive) {
            if let Err(e) = self.patient("zpool", &["destroy", "-f", POOL]) {
                first_err = Some(e);
            }
        }
        // SIGTERM: basind unmounts what is left and closes its pools.
        cleanup::stop_daemon_and_sweep(&self.work, PID_NAME, pid, "basind", &self.base, first_err)
    }

    fn dir(&self) -> PathBuf {
        self.base.join("mnt").join("data")
    }

    fn support(&self, _w: Workload) -> Support {
        Support::Yes
    }

    fn make_cold(&mut self, _ctx: &Ctx) -> Result<()> {
        // The ARC goes with an export; the kernel's page cache of the FUSE
        // files with drop_caches.
        self.patient("zpool", &["export", POOL])?;
        self.import()?;
        crate::sysinfo::drop_caches()
    }

    fn snapshot(&mut self, name: &str) -> Result<()> {
        self.run("zfs", &["snapshot", &format!("{DATA}@{name}")])?;
        Ok(())
    }

    fn rollback(&mut self, name: &str) -> Result<()> {
        self.patient("zfs", &["rollback", &format!("{DATA}@{name}")])?;
        Ok(())
    }

    fn destroy_snapshot(&mut self, name: &str) -> Result<()> {
        self.run("zfs", &["destroy", &format!("{DATA}@{name}")])?;
        Ok(())
    }

    fn scrub(&mut self) -> Result<()> {
        self.run("zpool", &["scrub", "-w", POOL])?;
        Ok(())
    }

    fn compress_ratio(&mut self, _file: &Path) -> Result<f64> {
        let out = self.run("zfs", &["get", "-H", "-o", "value", "compressratio", DATA])?;
        out.trim()
            .trim_end_matches('x')
            .parse()
            .map_err(|_| BenchError::Other(format!("compressratio is {out:?}")))
    }

    fn remount(&mut self, _ctx: &Ctx) -> Result<Duration> {
        self.patient("zpool", &["export", POOL])?;
        let t = Instant::now();
        self.import()?;
        Ok(t.elapsed())
    }

    fn daemon_pid(&self) -> Option<u32> {
        self.pid
    }
}
