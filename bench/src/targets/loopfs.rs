//! ext4 and btrfs on a loop device backed by a sparse file in the work
//! directory (so on the same disk as every other target), with direct I/O
//! on the loop device so the backing file adds no second page cache.
//! btrfs is mounted with `compress=lzo` and works in a subvolume, so it has
//! snapshots, rollback (delete the subvolume, snapshot the snapshot back),
//! scrub and a compression ratio (`compsize`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::cleanup;
use crate::cmd;
use crate::error::{BenchError, IoContext, Result};
use crate::targets::{Availability, Ctx, Mounted, Support};
use crate::workload::{size, Cell, Mode, Workload};

/// Which filesystem.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// ext4, default options.
    Ext4,
    /// btrfs, `compress=lzo`, data in a subvolume.
    Btrfs,
}

/// A kernel filesystem on a loop device.
pub struct LoopFs {
    kind: Kind,
    base: PathBuf,
    dev: Option<String>,
}

impl LoopFs {
    /// ext4.
    pub fn ext4() -> LoopFs {
        LoopFs {
            kind: Kind::Ext4,
            base: PathBuf::new(),
            dev: None,
        }
    }

    /// btrfs.
    pub fn btrfs() -> LoopFs {
        LoopFs {
            kind: Kind::Btrfs,
            base: PathBuf::new(),
            dev: None,
        }
    }

    fn img(&self) -> PathBuf {
        self.base.join("disk.img")
    }

    fn mnt(&self) -> PathBuf {
        self.base.join("mnt")
    }

    fn snaps(&self) -> PathBuf {
        self.mnt().join("snaps")
    }

    fn mount_args(&self) -> Vec<String> {
        let mut a = Vec::new();
        if self.kind == Kind::Btrfs {
            a.push("-o".to_string());
            a.push("compress=lzo".to_string());
        }
        a.push(self.dev.clone().unwrap_or_default());
        a.push(s(&self.mnt()));
        a
    }

    fn setup_err(&self, why: impl std::fmt::Display) -> BenchError {
        BenchError::Setup {
            target: self.name().into(),
            why: why.to_string(),
        }
    }
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

impl Mounted for LoopFs {
    fn name(&self) -> &'static str {
        match self.kind {
            Kind::Ext4 => "ext4",
            Kind::Btrfs => "btrfs",
        }
    }

    fn describe(&self, mode: &Mode) -> String {
        let dev = size(mode.device_bytes());
        match self.kind {
            Kind::Ext4 => format!("ext4 (mkfs defaults) on a loop device (direct I/O) over a sparse {dev} file"),
            Kind::Btrfs => format!(
                "btrfs (compress=lzo, data in a subvolume) on a loop device (direct I/O) over a sparse {dev} file"
            ),
        }
    }

    fn setup(&mut self, ctx: &Ctx) -> Result<Availability> {
        let tools: &[&str] = match self.kind {
            Kind::Ext4 => &["losetup", "mkfs.ext4", "mount", "umount", "fio"],
            Kind::Btrfs => &[
                "losetup",
                "mkfs.btrfs",
                "btrfs",
                "compsize",
                "mount",
                "umount",
                "fio",
            ],
        };
        cmd::require(tools).map_err(|e| self.setup_err(e))?;
        self.base = ctx.fresh_dir(self.name())?;
        let img = self.img();
        let f = std::fs::File::create(&img).ctx(|| format!("creating {}", img.display()))?;
        f.set_len(ctx.mode.device_bytes())
            .ctx(|| format!("sizing {}", img.display()))?;
        drop(f);
        let dev = cmd::run("losetup", &["--find", "--show", "--direct-io=on", &s(&img)])
            .map_err(|e| self.setup_err(e))?
            .trim()
            .to_string();
        if !dev.starts_with("/dev/loop") {
            return Err(self.setup_err(format!("losetup printed {dev:?}")));
        }
        self.dev = Some(dev.clone());
        match self.kind {
            Kind::Ext4 => cmd::run(
                "mkfs.ext4",
                &[
                    "-q",
                    "-F",
                    "-E",
                    "lazy_itable_init=0,lazy_journal_init=0",
                    &dev,
                ],
            ),
            Kind::Btrfs => cmd::run("mkfs.btrfs", &["-q", "-f", &dev]),
        }
        .map_err(|e| self.setup_err(e))?;
        std::fs::create_dir_all(self.mnt()).ctx(|| "creating the mount point".into())?;
        cmd::run("mount", &self.mount_args()).map_err(|e| self.setup_err(e))?;
        match self.kind {
            Kind::Ext4 => {
                std::fs::create_dir(self.dir()).ctx(|| "creating the data folder".into())?;
            }
            Kind::Btrfs => {
                cmd::run("btrfs", &["subvolume", "create", &s(&self.dir())])
                    .map_err(|e| self.setup_err(e))?;
                std::fs::create_dir(self.snaps()).ctx(|| "creating the snapshot folder".into())?;
            }
        }
        Ok(Availability::Ready)
    }

    fn teardown(&mut self, _ctx: &Ctx) -> Result<()> {
        let mut first_err = None;
        if cleanup::mounts_under(&self.mnt()).contains(&self.mnt()) {
            if let Err(e) = cleanup::unmount(&self.mnt()) {
                first_err = Some(e);
            }
        }
        if let Some(dev) = self.dev.take() {
            if let Err(e) = cmd::run("losetup", &["-d", &dev]) {
                first_err.get_or_insert(e);
            }
        }
        let _ = std::fs::remove_file(self.img());
        match first_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn dir(&self) -> PathBuf {
        self.mnt().join("data")
    }

    fn support(&self, w: Workload) -> Support {
        let btrfs = self.kind == Kind::Btrfs;
        match w {
            Workload::SnapSmall
            | Workload::SnapLarge
            | Workload::RollbackSmall
            | Workload::RollbackLarge
                if !btrfs =>
            {
                Support::No(Cell::na("no snapshots"))
            }
            Workload::Scrub if !btrfs => Support::No(Cell::na("no data checksums to scrub")),
            Workload::CompressRatio if !btrfs => Support::No(Cell::na("no compression")),
            Workload::Memory => Support::No(Cell::na("in the kernel")),
            _ => Support::Yes,
        }
    }

    fn snapshot(&mut self, name: &str) -> Result<()> {
        let to = self.snaps().join(name);
        cmd::run(
            "btrfs",
            &["subvolume", "snapshot", "-r", &s(&self.dir()), &s(&to)],
        )?;
        Ok(())
    }

    fn rollback(&mut self, name: &str) -> Result<()> {
        // btrfs has no rollback: the usual way is to replace the subvolume
        // by a writable snapshot of the snapshot.
        let from = self.snaps().join(name);
        cmd::run("btrfs", &["subvolume", "delete", &s(&self.dir())])?;
        cmd::run(
            "btrfs",
            &["subvolume", "snapshot", &s(&from), &s(&self.dir())],
        )?;
        Ok(())
    }

    fn destroy_snapshot(&mut self, name: &str) -> Result<()> {
        cmd::run(
            "btrfs",
            &["subvolume", "delete", &s(&self.snaps().join(name))],
        )?;
        Ok(())
    }

    fn scrub(&mut self) -> Result<()> {
        cmd::run("btrfs", &["scrub", "start", "-B", &s(&self.mnt())])?;
        Ok(())
    }

    fn compress_ratio(&mut self, file: &Path) -> Result<f64> {
        let out = cmd::run("compsize", &["-b", &s(file)])?;
        parse_compsize(&out)
    }

    fn remount(&mut self, _ctx: &Ctx) -> Result<Duration> {
        cleanup::unmount(&self.mnt())?;
        let t = Instant::now();
        cmd::run("mount", &self.mount_args())?;
        Ok(t.elapsed())
    }
}

/// Uncompressed over disk bytes from `compsize -b`'s TOTAL line.
pub fn parse_compsize(out: &str) -> Result<f64> {
    let line = out
        .lines()
        .find(|l| l.starts_with("TOTAL"))
        .ok_or_else(|| BenchError::Other(format!("no TOTAL line in compsize's output: {out}")))?;
    let nums: Vec<f64> = line
        .split_whitespace()
        .skip(2)
        .filter_map(|w| w.parse().ok())
        .collect();
    match nums.as_slice() {
        [disk, uncompressed, ..] if *disk > 0.0 => Ok(uncompressed / disk),
        _ => Err(BenchError::Other(format!(
            "cannot read compsize's TOTAL line: {line}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compsize_totals() {
        let out = "Processed 1 file, 8 regular extents (8 refs), 0 inline.\n\
                   Type       Perc     Disk Usage   Uncompressed Referenced  \n\
                   TOTAL       50%      67108864     134217728    134217728   \n\
                   lzo         50%      67108864     134217728    134217728   \n";
        assert!((parse_compsize(out).unwrap() - 2.0).abs() < 1e-9);
        assert!(parse_compsize("nothing").is_err());
    }
}
