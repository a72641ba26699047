//! The physical limit: fio with O_DIRECT and io_uring (16 in flight) on a
//! plain file in the work directory, on the same disk as every other
//! target's files. No cache, no compression, no snapshots.

use std::path::PathBuf;

use crate::cmd;
use crate::error::Result;
use crate::fio::Style;
use crate::targets::{Availability, Ctx, Mounted, Support};
use crate::workload::{Cell, Mode, Workload};

/// fio on the bare disk.
#[derive(Default)]
pub struct Raw {
    dir: PathBuf,
}

impl Mounted for Raw {
    fn name(&self) -> &'static str {
        "raw-disk"
    }

    fn describe(&self, _mode: &Mode) -> String {
        "fio O_DIRECT, io_uring, 16 in flight, on a file of the work directory's disk: the physical limit".into()
    }

    fn setup(&mut self, ctx: &Ctx) -> Result<Availability> {
        cmd::require(&["fio"])?;
        self.dir = ctx.fresh_dir("raw")?;
        Ok(Availability::Ready)
    }

    fn teardown(&mut self, _ctx: &Ctx) -> Result<()> {
        let _ = std::fs::remove_dir_all(&self.dir);
        Ok(())
    }

    fn dir(&self) -> PathBuf {
        self.dir.clone()
    }

    fn style(&self) -> Style {
        Style::Direct
    }

    fn make_cold(&mut self, _ctx: &Ctx) -> Result<()> {
        // O_DIRECT: nothing is cached.
        Ok(())
    }

    fn support(&self, w: Workload) -> Support {
        match w {
            Workload::SeqWrite
            | Workload::SeqWriteHalf
            | Workload::SeqReadCold
            | Workload::RandRead
            | Workload::RandWrite
            | Workload::RandWriteFsync
            | Workload::RandWriteFsync32 => Support::Yes,
            Workload::SeqReadWarm => Support::No(Cell::na("O_DIRECT: no cache")),
            Workload::Memory => Support::No(Cell::na("no daemon")),
            Workload::CompressRatio => Support::No(Cell::na("no compression")),
            _ => Support::No(Cell::na("not a filesystem")),
        }
    }
}
