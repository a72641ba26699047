//! zfs-fuse, Debian's package (ZFS pool version 23 in user space): the
//! daemon started by hand with its own PID file, its block cache off (its
//! vdev I/O is direct, as Basin's), its ARC the size of Basin's, a pool on
//! one file vdev in the work directory and the data in a filesystem with
//! `compression=on` (lzjb, the best it has: no lz4 in version 23).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::cleanup;
use crate::cmd;
use crate::error::{BenchError, IoContext, Result};
use crate::targets::{Availability, Ctx, Mounted, Support};
use crate::workload::{size, Mode, Workload};

/// Name of the daemon's PID file in the work directory.
pub const PID_NAME: &str = "zfs-fuse";
/// The pool the suite creates.
pub const POOL: &str = "basinbench";
/// The filesystem the workloads use.
const DATA: &str = "basinbench/data";
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// The suite's pool, when the running zfs-fuse daemon has it.
pub fn leftover_pools() -> Vec<String> {
    cmd::run("zpool", &["list", "-H", "-o", "name"])
        .map(|out| {
            out.lines()
                .map(str::trim)
                .filter(|l| *l == POOL)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

/// PIDs of every process named zfs-fuse.
fn running_daemons() -> Vec<u32> {
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
        .filter(|pid| cleanup::comm_of(*pid).as_deref() == Some("zfs-fuse"))
        .filter(|pid| cleanup::alive(*pid))
        .collect()
}

/// zfs-fuse with a pool on a file vdev.
#[derive(Default)]
pub struct ZfsFuse {
    base: PathBuf,
    work: PathBuf,
    pid: Option<u32>,
}

impl ZfsFuse {
    fn setup_err(&self, why: impl std::fmt::Display) -> BenchError {
        BenchError::Setup {
            target: "zfs-fuse".into(),
            why: why.to_string(),
        }
    }

    fn import(&self) -> Result<()> {
        cmd::run("zpool", &["import", "-d", &s(&self.base), POOL])?;
        Ok(())
    }

    fn start_daemon(&mut self, ctx: &Ctx) -> Result<u32> {
        let own_pidfile = self.base.join("daemon.pid");
        let arc_mb = (ctx.mode.cache_bytes >> 20).clamp(16, 16384).to_string();
        cmd::run(
            "zfs-fuse",
            &[
                "--pidfile",
                &s(&own_pidfile),
                "--no-kstat-mount",
                "--disable-block-cache",
                "--max-arc-size",
                &arc_mb,
            ],
        )
        .map_err(|e| self.setup_err(e))?;
        let t = Instant::now();
        let pid = loop {
            let pid = std::fs::read_to_string(&own_pidfile)
                .ok()
                .and_then(|s| s.trim().parse::<u32>().ok());
            if let Some(pid) = pid.filter(|p| cleanup::alive(*p)) {
                break pid;
            }
            if t.elapsed() > START_TIMEOUT {
                return Err(self.setup_err("the daemon wrote no PID file within 15 s"));
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        // Our own PID file (with the command name) for the sweep.
        cleanup::write_pid(&ctx.work, PID_NAME, pid)?;
        self.pid = Some(pid);
        // The daemon answers once its socket is up.
        let t = Instant::now();
        while !cmd::quiet("zpool", &["list"]) {
            if t.elapsed() > START_TIMEOUT || !cleanup::alive(pid) {
                return Err(self.setup_err("the daemon does not answer `zpool list`"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(pid)
    }
}

/// Runs `zpool` again while it finds the pool busy, for up to 5 s: FUSE
/// releases files asynchronously after close(), so the pool may be busy
/// for a moment after a workload.
fn zpool_patient(args: &[&str]) -> Result<String> {
    let t = Instant::now();
    loop {
        match cmd::run("zpool", args) {
            Err(BenchError::Command { stderr, .. })
                if stderr.contains("busy") && t.elapsed() < Duration::from_secs(5) =>
            {
                std::thread::sleep(Duration::from_millis(100));
            }
            r => return r,
        }
    }
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

impl Mounted for ZfsFuse {
    fn name(&self) -> &'static str {
        "zfs-fuse"
    }

    fn describe(&self, mode: &Mode) -> String {
        format!(
            "zfs-fuse (Debian), daemon started by hand, --disable-block-cache, ARC {}, pool on one sparse {} file vdev, compression=on (lzjb)",
            size(mode.cache_bytes),
            size(mode.device_bytes())
        )
    }

    fn setup(&mut self, ctx: &Ctx) -> Result<Availability> {
        cmd::require(&["zfs-fuse", "zpool", "zfs", "fio"]).map_err(|e| self.setup_err(e))?;
        let others = running_daemons();
        if !others.is_empty() {
            return Err(self.setup_err(format!(
                "another zfs-fuse daemon runs (pid {others:?}); only one can run at a time: stop it, or pass --skip zfs-fuse"
            )));
        }
        self.work = ctx.work.clone();
        self.base = ctx.fresh_dir("zfs-fuse")?;
        let vdev = self.base.join("vdev0");
        let f = std::fs::File::create(&vdev).ctx(|| format!("creating {}", vdev.display()))?;
        f.set_len(ctx.mode.device_bytes())
            .ctx(|| format!("sizing {}", vdev.display()))?;
        drop(f);
        self.start_daemon(ctx)?;
        // A pool of an interrupted run comes back from zfs-fuse's cache
        // file; its vdev is gone with the old work folder.
        if !leftover_pools().is_empty() && zpool_patient(&["destroy", "-f", POOL]).is_err() {
            zpool_patient(&["export", "-f", POOL]).map_err(|e| self.setup_err(e))?;
        }
        cmd::run("zpool", &["create", "-f", "-m", "none", POOL, &s(&vdev)])
            .map_err(|e| self.setup_err(e))?;
        let mnt = self.dir();
        std::fs::create_dir_all(&mnt).ctx(|| format!("creating {}", mnt.display()))?;
        cmd::run(
            "zfs",
            &[
                "create",
                "-o",
                "compression=on",
                "-o",
                &format!("mountpoint={}", s(&mnt)),
                DATA,
            ],
        )
        .map_err(|e| self.setup_err(e))?;
        if !cleanup::mounts_under(&mnt).contains(&mnt) {
            return Err(self.setup_err(format!("{DATA} is not mounted on {}", mnt.display())));
        }
        Ok(Availability::Ready)
    }

    fn teardown(&mut self, _ctx: &Ctx) -> Result<()> {
        let mut first_err = None;
        if !leftover_pools().is_empty() {
            if let Err(e) = zpool_patient(&["destroy", "-f", POOL]) {
                first_err = Some(e);
            }
        }
        let pid = self.pid.take();
        cleanup::stop_daemon_and_sweep(&self.work, PID_NAME, pid, "zfs-fuse", &self.base, first_err)
    }

    fn dir(&self) -> PathBuf {
        self.base.join("mnt").join("data")
    }

    fn support(&self, _w: Workload) -> Support {
        Support::Yes
    }

    fn make_cold(&mut self, _ctx: &Ctx) -> Result<()> {
        // Its ARC goes with an export; the kernel's page cache of the FUSE
        // files with drop_caches.
        zpool_patient(&["export", POOL])?;
        self.import()?;
        crate::sysinfo::drop_caches()
    }

    fn snapshot(&mut self, name: &str) -> Result<()> {
        cmd::run("zfs", &["snapshot", &format!("{DATA}@{name}")])?;
        Ok(())
    }

    fn rollback(&mut self, name: &str) -> Result<()> {
        cmd::run("zfs", &["rollback", &format!("{DATA}@{name}")])?;
        Ok(())
    }

    fn destroy_snapshot(&mut self, name: &str) -> Result<()> {
        cmd::run("zfs", &["destroy", &format!("{DATA}@{name}")])?;
        Ok(())
    }

    fn scrub(&mut self) -> Result<()> {
        cmd::run("zpool", &["scrub", POOL])?;
        let t = Instant::now();
        loop {
            let st = cmd::run("zpool", &["status", POOL])?;
            if st.contains("scrub completed") || st.contains("scrub repaired") {
                return Ok(());
            }
            if !st.contains("in progress") && t.elapsed() > Duration::from_secs(5) {
                return Err(BenchError::Other(format!(
                    "scrub neither runs nor completed: {st}"
                )));
            }
            if t.elapsed() > Duration::from_secs(3600) {
                return Err(BenchError::Other(
                    "scrub still running after an hour".into(),
                ));
            }
            crate::cleanup::check_interrupted()?;
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn compress_ratio(&mut self, _file: &Path) -> Result<f64> {
        let out = cmd::run("zfs", &["get", "-H", "-o", "value", "compressratio", DATA])?;
        out.trim()
            .trim_end_matches('x')
            .parse()
            .map_err(|_| BenchError::Other(format!("compressratio is {out:?}")))
    }

    fn remount(&mut self, _ctx: &Ctx) -> Result<Duration> {
        zpool_patient(&["export", POOL])?;
        let t = Instant::now();
        self.import()?;
        Ok(t.elapsed())
    }

    fn daemon_pid(&self) -> Option<u32> {
        self.pid
    }
}
