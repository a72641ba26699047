//! The FUSE ceiling: `basin-bench memfs` (crate::memfs) mounted in a child
//! process of its own, so it is measured like any FUSE daemon and stopped
//! by its PID.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::cleanup;
use crate::cmd;
use crate::error::{BenchError, IoContext, Result};
use crate::targets::{Availability, Ctx, Mounted, Support};
use crate::workload::{Cell, Mode, Workload};

/// Name of the daemon's PID file.
const PID_NAME: &str = "memfs";
/// FUSE threads of the daemon.
pub const THREADS: usize = 2;

/// The in-memory FUSE filesystem.
#[derive(Default)]
pub struct MemFsTarget {
    base: PathBuf,
    work: PathBuf,
    child: Option<Child>,
}

impl MemFsTarget {
    fn mnt(&self) -> PathBuf {
        self.base.join("mnt")
    }

    fn setup_err(&self, why: impl std::fmt::Display) -> BenchError {
        BenchError::Setup {
            target: "memfs".into(),
            why: why.to_string(),
        }
    }
}

impl Mounted for MemFsTarget {
    fn name(&self) -> &'static str {
        "memfs"
    }

    fn describe(&self, _mode: &Mode) -> String {
        format!(
            "trivial in-memory FUSE filesystem (fuser 0.18, {THREADS} threads, 1 MiB writes, kernel page cache kept): the FUSE ceiling"
        )
    }

    fn setup(&mut self, ctx: &Ctx) -> Result<Availability> {
        if !std::path::Path::new("/dev/fuse").exists() {
            return Err(self.setup_err("/dev/fuse is missing (modprobe fuse)"));
        }
        cmd::require(&["fusermount3", "fio"]).map_err(|e| self.setup_err(e))?;
        self.work = ctx.work.clone();
        self.base = ctx.fresh_dir("memfs")?;
        let mnt = self.mnt();
        std::fs::create_dir(&mnt).ctx(|| format!("creating {}", mnt.display()))?;
        let log = self.base.join("memfs.log");
        let err = std::fs::File::create(&log).ctx(|| format!("creating {}", log.display()))?;
        let child = Command::new(&ctx.exe)
            .args(["memfs", "--threads", &THREADS.to_string()])
            .arg(&mnt)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err)
            .spawn()
            .map_err(|e| self.setup_err(format!("cannot start {}: {e}", ctx.exe.display())))?;
        let pid = child.id();
        self.child = Some(child);
        cleanup::write_pid(&ctx.work, PID_NAME, pid)?;
        let t = Instant::now();
        while !cleanup::mounts_under(&mnt).contains(&mnt) {
            let exited = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if exited.is_some() || t.elapsed() > Duration::from_secs(10) {
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                return Err(self.setup_err(format!("memfs did not mount: {}", text.trim())));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        std::fs::create_dir(self.dir()).ctx(|| "creating the data folder on memfs".into())?;
        Ok(Availability::Ready)
    }

    fn teardown(&mut self, _ctx: &Ctx) -> Result<()> {
        let mnt = self.mnt();
        let mut first_err = None;
        if cleanup::mounts_under(&mnt).contains(&mnt) {
            if let Err(e) = cleanup::unmount(&mnt) {
                first_err = Some(e);
            }
        }
        if let Some(mut child) = self.child.take() {
            // Unmounting ends its session; give it a moment, then stop it.
            let t = Instant::now();
            while t.elapsed() < Duration::from_secs(5) {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            if child.try_wait().ok().flatten().is_none() {
                cleanup::stop_pid(child.id(), None, Duration::from_secs(5));
                let _ = child.wait();
            }
            cleanup::remove_pid(&self.work, PID_NAME);
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn dir(&self) -> PathBuf {
        self.mnt().join("data")
    }

    fn support(&self, w: Workload) -> Support {
        match w {
            Workload::SnapSmall
            | Workload::SnapLarge
            | Workload::RollbackSmall
            | Workload::RollbackLarge => Support::No(Cell::na("no snapshots")),
            Workload::Scrub => Support::No(Cell::na("no checksums")),
            Workload::CompressRatio => Support::No(Cell::na("no compression")),
            Workload::Import => Support::No(Cell::na("in memory: nothing to import")),
            _ => Support::Yes,
        }
    }

    fn daemon_pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }
}
