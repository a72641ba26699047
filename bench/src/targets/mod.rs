//! The systems compared: each a [`Target`] that is set up, runs the
//! workloads and is torn down, in that order, one at a time.
//!
//! Most targets are filesystems reached through a directory: they
//! implement [`Mounted`] (how to set them up, make their caches cold, take
//! a snapshot, ...) and [`FsTarget`] runs the common workloads on them
//! (`crate::fsbench`). Basin has two rows: through FUSE as users see it
//! (`basinfuse.rs`, a [`Mounted`] like the others) and in process, with no
//! FUSE and no POSIX layer (`basin.rs`).

pub mod basin;
pub mod basinfuse;
pub mod loopfs;
pub mod memfs;
pub mod raw;
pub mod zfsfuse;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{BenchError, Result};
use crate::fio::Style;
use crate::workload::{Cell, Mode, Workload};

/// Figures of one target, by workload.
pub type Cells = BTreeMap<Workload, Cell>;

/// What every target is given.
#[derive(Clone, Debug)]
pub struct Ctx {
    /// The work directory: everything the suite makes lives under it.
    pub work: PathBuf,
    /// Sizes and repetitions.
    pub mode: Mode,
    /// This program, for the child processes (memfs, Basin's rows).
    pub exe: PathBuf,
}

impl Ctx {
    /// A folder of the work directory for `name`, created empty.
    pub fn fresh_dir(&self, name: &str) -> Result<PathBuf> {
        let d = self.work.join(name);
        if d.exists() {
            if !crate::cleanup::mounts_under(&d).is_empty() {
                return Err(BenchError::Other(format!(
                    "{} still has mounts under it; run `basin-bench cleanup --work {}`",
                    d.display(),
                    self.work.display()
                )));
            }
            std::fs::remove_dir_all(&d).map_err(|e| BenchError::Io {
                context: format!("removing {}", d.display()),
                source: e,
            })?;
        }
        std::fs::create_dir_all(&d).map_err(|e| BenchError::Io {
            context: format!("creating {}", d.display()),
            source: e,
        })?;
        Ok(d)
    }
}

/// Whether a target can run now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Availability {
    /// Set up and ready.
    Ready,
    /// The system is not built yet: every workload is reported pending
    /// with this reason.
    Pending(String),
}

/// A system in the comparison.
pub trait Target {
    /// Its short name (a column of the report).
    fn name(&self) -> &'static str;
    /// One line on how it is set up.
    fn describe(&self, mode: &Mode) -> String;
    /// True for Basin's rows (the reference of the ratios).
    fn is_basin(&self) -> bool {
        false
    }
    /// Sets it up; fails loudly when it cannot.
    fn setup(&mut self, ctx: &Ctx) -> Result<Availability>;
    /// Runs every workload.
    fn run(&mut self, ctx: &Ctx) -> Result<Cells>;
    /// Tears down what `setup` made (the sweep catches the rest).
    fn teardown(&mut self, ctx: &Ctx) -> Result<()>;
    /// Goals of other issues its run measured.
    fn goals(&self, _mode: &Mode) -> Vec<crate::basin::Goal> {
        Vec::new()
    }
}

/// Whether a mounted target has a workload.
#[derive(Clone, Debug, PartialEq)]
pub enum Support {
    /// It does.
    Yes,
    /// It does not: the cell to report instead.
    No(Cell),
}

/// A filesystem reached through a directory.
pub trait Mounted {
    /// Short name.
    fn name(&self) -> &'static str;
    /// One line on how it is set up.
    fn describe(&self, mode: &Mode) -> String;
    /// True for Basin's rows (the reference of the ratios).
    fn is_basin(&self) -> bool {
        false
    }
    /// Sets it up (mkfs, mount, start the daemon).
    fn setup(&mut self, ctx: &Ctx) -> Result<Availability>;
    /// Undoes `setup`.
    fn teardown(&mut self, ctx: &Ctx) -> Result<()>;
    /// The directory the workloads put their files in.
    fn dir(&self) -> PathBuf;
    /// How fio reaches it.
    fn style(&self) -> Style {
        Style::Buffered
    }
    /// Whether it has `w`.
    fn support(&self, w: Workload) -> Support;
    /// Makes every cache in front of its data cold.
    fn make_cold(&mut self, _ctx: &Ctx) -> Result<()> {
        crate::sysinfo::drop_caches()
    }
    /// Takes snapshot `name` of the data directory.
    fn snapshot(&mut self, name: &str) -> Result<()> {
        Err(self.unsupported("snapshot", name))
    }
    /// Rolls the data directory back to snapshot `name`.
    fn rollback(&mut self, name: &str) -> Result<()> {
        Err(self.unsupported("rollback", name))
    }
    /// Destroys snapshot `name`.
    fn destroy_snapshot(&mut self, name: &str) -> Result<()> {
        Err(self.unsupported("destroy snapshot", name))
    }
    /// Verifies every block, waiting for the end.
    fn scrub(&mut self) -> Result<()> {
        Err(self.unsupported("scrub", ""))
    }
    /// Logical over physical size of `file` (or of the data directory).
    fn compress_ratio(&mut self, file: &Path) -> Result<f64> {
        Err(self.unsupported("compression ratio", &file.to_string_lossy()))
    }
    /// Exports (or unmounts) and imports (or mounts) again; returns how
    /// long the import took.
    fn remount(&mut self, _ctx: &Ctx) -> Result<std::time::Duration> {
        Err(self.unsupported("remount", ""))
    }
    /// The PID of its daemon, if it has one.
    fn daemon_pid(&self) -> Option<u32> {
        None
    }
    /// The error of a workload the target does not have (a bug of the
    /// suite: `support` said yes).
    fn unsupported(&self, what: &str, arg: &str) -> BenchError {
        BenchError::Other(format!("{}: no {what} {arg}", self.name()))
    }
}

/// A [`Mounted`] system as a [`Target`]: the common workloads.
pub struct FsTarget<M: Mounted>(pub M);

impl<M: Mounted> Target for FsTarget<M> {
    fn name(&self) -> &'static str {
        self.0.name()
    }

    fn describe(&self, mode: &Mode) -> String {
        self.0.describe(mode)
    }

    fn is_basin(&self) -> bool {
        self.0.is_basin()
    }

    fn setup(&mut self, ctx: &Ctx) -> Result<Availability> {
        self.0.setup(ctx)
    }

    fn run(&mut self, ctx: &Ctx) -> Result<Cells> {
        crate::fsbench::run(&mut self.0, ctx)
    }

    fn teardown(&mut self, ctx: &Ctx) -> Result<()> {
        self.0.teardown(ctx)
    }
}

/// Every target, in report order: Basin first (its FUSE row, then its
/// in-process row), then the limits (disk, FUSE), then the peers.
pub fn all() -> Vec<Box<dyn Target>> {
    vec![
        Box::new(FsTarget(basinfuse::BasinFuse::default())),
        Box::new(basin::BasinDmu::default()),
        Box::new(FsTarget(raw::Raw::default())),
        Box::new(FsTarget(memfs::MemFsTarget::default())),
        Box::new(FsTarget(loopfs::LoopFs::ext4())),
        Box::new(FsTarget(loopfs::LoopFs::btrfs())),
        Box::new(FsTarget(zfsfuse::ZfsFuse::default())),
    ]
}

/// The names of every target.
pub fn names() -> Vec<&'static str> {
    all().iter().map(|t| t.name()).collect()
}
