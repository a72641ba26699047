//! What is measured: the workloads, their units, the two modes (quick for
//! CI, full for the report) and the cell a system gets for a workload.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::stats::median;

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

/// One row of the comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Workload {
    /// Sequential write, 1 MiB blocks, incompressible data, fsync at the end.
    SeqWrite,
    /// The same with half-compressible data.
    SeqWriteHalf,
    /// Sequential read, 1 MiB blocks, caches dropped first.
    SeqReadCold,
    /// Sequential read of the same file again.
    SeqReadWarm,
    /// 4 KiB random reads, caches dropped first.
    RandRead,
    /// 4 KiB random writes, one fsync at the end.
    RandWrite,
    /// 4 KiB random writes, each followed by fsync.
    RandWriteFsync,
    /// 4 KiB random writes, with an fsync after every 32 of them.
    RandWriteFsync32,
    /// Small files: create (4 KiB each), then sync.
    FileCreate,
    /// Small files: stat, caches dropped first.
    FileStat,
    /// Small files: delete, then sync.
    FileDelete,
    /// Snapshot creation with the small data set.
    SnapSmall,
    /// Snapshot creation with the large data set.
    SnapLarge,
    /// Rollback after changing a fixed amount, small data set.
    RollbackSmall,
    /// Rollback after changing the same amount, large data set.
    RollbackLarge,
    /// Scrub of the small data set.
    Scrub,
    /// Compression ratio of half-compressible data.
    CompressRatio,
    /// Import (or mount) with the large data set.
    Import,
    /// Peak resident memory of the daemon.
    Memory,
}

/// How a workload's figure is expressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Unit {
    /// Megabytes (10^6) per second.
    MBps,
    /// I/O operations per second.
    Iops,
    /// Files per second.
    FilesPerSec,
    /// Milliseconds.
    Millis,
    /// A ratio (logical over physical).
    Ratio,
    /// Mebibytes.
    MiB,
}

impl Unit {
    /// The unit as printed.
    pub fn label(self) -> &'static str {
        match self {
            Unit::MBps => "MB/s",
            Unit::Iops => "IOPS",
            Unit::FilesPerSec => "files/s",
            Unit::Millis => "ms",
            Unit::Ratio => "x",
            Unit::MiB => "MiB",
        }
    }
}

impl Workload {
    /// Every workload, in report order.
    pub const ALL: [Workload; 19] = [
        Workload::SeqWrite,
        Workload::SeqWriteHalf,
        Workload::SeqReadCold,
        Workload::SeqReadWarm,
        Workload::RandRead,
        Workload::RandWrite,
        Workload::RandWriteFsync,
        Workload::RandWriteFsync32,
        Workload::FileCreate,
        Workload::FileStat,
        Workload::FileDelete,
        Workload::SnapSmall,
        Workload::SnapLarge,
        Workload::RollbackSmall,
        Workload::RollbackLarge,
        Workload::Scrub,
        Workload::CompressRatio,
        Workload::Import,
        Workload::Memory,
    ];

    /// Short id (file names, JSON).
    pub fn id(self) -> &'static str {
        match self {
            Workload::SeqWrite => "seq-write",
            Workload::SeqWriteHalf => "seq-write-half",
            Workload::SeqReadCold => "seq-read-cold",
            Workload::SeqReadWarm => "seq-read-warm",
            Workload::RandRead => "rand-read-4k",
            Workload::RandWrite => "rand-write-4k",
            Workload::RandWriteFsync => "rand-write-4k-fsync",
            Workload::RandWriteFsync32 => "rand-write-4k-fsync32",
            Workload::FileCreate => "file-create",
            Workload::FileStat => "file-stat",
            Workload::FileDelete => "file-delete",
            Workload::SnapSmall => "snapshot-small",
            Workload::SnapLarge => "snapshot-large",
            Workload::RollbackSmall => "rollback-small",
            Workload::RollbackLarge => "rollback-large",
            Workload::Scrub => "scrub",
            Workload::CompressRatio => "compress-ratio",
            Workload::Import => "import",
            Workload::Memory => "memory",
        }
    }

    /// What the row measures, with the sizes of `mode`.
    pub fn title(self, mode: &Mode) -> String {
        let seq = size(mode.seq_size);
        match self {
            Workload::SeqWrite => format!("seq write 1 MiB, incompressible, {seq}"),
            Workload::SeqWriteHalf => format!("seq write 1 MiB, half-compressible, {seq}"),
            Workload::SeqReadCold => format!("seq read 1 MiB, cold cache, {seq}"),
            Workload::SeqReadWarm => format!("seq read 1 MiB, warm cache, {seq}"),
            Workload::RandRead => format!(
                "random read 4 KiB, cold start, {} s",
                mode.rand_runtime.as_secs()
            ),
            Workload::RandWrite => format!(
                "random write 4 KiB, {} then fsync",
                size(mode.rand_write_bytes)
            ),
            Workload::RandWriteFsync => format!(
                "random write 4 KiB + fsync each, {} s",
                mode.fsync_runtime.as_secs()
            ),
            Workload::RandWriteFsync32 => format!(
                "random write 4 KiB + fsync every 32, {} s",
                mode.fsync_runtime.as_secs()
            ),
            Workload::FileCreate => format!("create {} files of 4 KiB", mode.small_files),
            Workload::FileStat => format!("stat {} files, cold cache", mode.small_files),
            Workload::FileDelete => format!("delete {} files", mode.small_files),
            Workload::SnapSmall => format!("snapshot create, {} of data", size(mode.snap_small)),
            Workload::SnapLarge => format!("snapshot create, {} of data", size(mode.snap_large)),
            Workload::RollbackSmall => format!(
                "rollback of {} changed, {} of data",
                size(mode.rollback_change),
                size(mode.snap_small)
            ),
            Workload::RollbackLarge => format!(
                "rollback of {} changed, {} of data",
                size(mode.rollback_change),
                size(mode.snap_large)
            ),
            Workload::Scrub => format!("scrub of {}", size(mode.snap_small)),
            Workload::CompressRatio => format!("compression ratio, half-compressible {seq}"),
            Workload::Import => format!("import / mount, {} of data", size(mode.snap_large)),
            Workload::Memory => "daemon peak resident memory".into(),
        }
    }

    /// Its unit.
    pub fn unit(self) -> Unit {
        match self {
            Workload::SeqWrite
            | Workload::SeqWriteHalf
            | Workload::SeqReadCold
            | Workload::SeqReadWarm
            | Workload::Scrub => Unit::MBps,
            Workload::RandRead
            | Workload::RandWrite
            | Workload::RandWriteFsync
            | Workload::RandWriteFsync32 => Unit::Iops,
            Workload::FileCreate | Workload::FileStat | Workload::FileDelete => Unit::FilesPerSec,
            Workload::SnapSmall
            | Workload::SnapLarge
            | Workload::RollbackSmall
            | Workload::RollbackLarge
            | Workload::Import => Unit::Millis,
            Workload::CompressRatio => Unit::Ratio,
            Workload::Memory => Unit::MiB,
        }
    }

    /// True when a larger figure is better.
    pub fn higher_is_better(self) -> bool {
        !matches!(self.unit(), Unit::Millis | Unit::MiB)
    }

    /// Parses an id.
    pub fn parse(s: &str) -> Option<Workload> {
        Workload::ALL.iter().copied().find(|w| w.id() == s)
    }
}

/// Human size: `512 MiB`, `16 GiB`.
pub fn size(bytes: u64) -> String {
    if bytes >= GIB && bytes.is_multiple_of(GIB) {
        format!("{} GiB", bytes / GIB)
    } else if bytes >= MIB {
        format!("{} MiB", bytes / MIB)
    } else {
        format!("{} KiB", bytes / 1024)
    }
}

/// The sizes and repetitions of a run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Mode {
    /// "quick" or "full".
    pub name: String,
    /// Repetitions of each measurement (the median is reported).
    pub runs: usize,
    /// File size of the sequential and random workloads.
    pub seq_size: u64,
    /// Duration of the random read workload.
    pub rand_runtime: Duration,
    /// Bytes written by the random write workload.
    pub rand_write_bytes: u64,
    /// Upper bound on the random write workload's duration.
    pub rand_write_max: Duration,
    /// Duration of the random write + fsync workloads (fsync after each
    /// write, and after every 32).
    pub fsync_runtime: Duration,
    /// Files of the small-file workload.
    pub small_files: usize,
    /// The small data set of the snapshot, rollback and scrub workloads.
    pub snap_small: u64,
    /// The large data set of the snapshot, rollback and import workloads.
    pub snap_large: u64,
    /// What changes between a snapshot and its rollback.
    pub rollback_change: u64,
    /// Cache (ARC) size of Basin and of zfs-fuse, bytes.
    pub cache_bytes: u64,
    /// Data written by the pool-write figure (issue 2).
    pub pool_write_bytes: u64,
    /// Data pushed through the CPU pipeline figure (issue 2).
    pub pipeline_bytes: u64,
    /// Data in the pool of the import figure (issue 2).
    pub import_bytes: u64,
    /// Filesystems and snapshots of each of the list figure (issue 3).
    pub list_fs: usize,
    /// Snapshots of each filesystem of the list figure.
    pub list_snaps: usize,
}

impl Mode {
    /// The CI mode: every target and workload once, small sizes; it checks
    /// that the suite works, its figures are not the report's.
    pub fn quick() -> Mode {
        Mode {
            name: "quick".into(),
            runs: 1,
            seq_size: 128 * MIB,
            rand_runtime: Duration::from_secs(2),
            rand_write_bytes: 16 * MIB,
            rand_write_max: Duration::from_secs(5),
            fsync_runtime: Duration::from_secs(2),
            small_files: 1000,
            snap_small: 32 * MIB,
            snap_large: 128 * MIB,
            rollback_change: 8 * MIB,
            cache_bytes: 512 * MIB,
            pool_write_bytes: 256 * MIB,
            pipeline_bytes: 64 * MIB,
            import_bytes: 256 * MIB,
            list_fs: 10,
            list_snaps: 20,
        }
    }

    /// The report's mode: the sizes the issues name, three runs each.
    pub fn full() -> Mode {
        Mode {
            name: "full".into(),
            runs: 3,
            seq_size: GIB,
            rand_runtime: Duration::from_secs(10),
            rand_write_bytes: 128 * MIB,
            rand_write_max: Duration::from_secs(30),
            fsync_runtime: Duration::from_secs(5),
            small_files: 10_000,
            snap_small: GIB,
            snap_large: 16 * GIB,
            rollback_change: 64 * MIB,
            cache_bytes: 2 * GIB,
            pool_write_bytes: 4 * GIB,
            pipeline_bytes: 512 * MIB,
            import_bytes: 10 * GIB,
            list_fs: 100,
            list_snaps: 100,
        }
    }

    /// True for the report's mode.
    pub fn is_full(&self) -> bool {
        self.name == "full"
    }

    /// Size of each loop device or vdev file (sparse): the large data set
    /// and the sequential files with room to spare.
    pub fn device_bytes(&self) -> u64 {
        let need = self.snap_large + 3 * self.seq_size + 2 * self.rollback_change;
        (need + need / 2).max(GIB).next_multiple_of(GIB)
    }

    /// Free space the run needs in its work directory.
    pub fn space_needed(&self) -> u64 {
        // One target holds its data at a time; the pool figures need their
        // own file and fio's beside it.
        let target = self.snap_large + 3 * self.seq_size;
        let figures = self.import_bytes.max(2 * self.pool_write_bytes) + GIB;
        target.max(figures) + GIB
    }
}

/// What one system got for one workload.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum Cell {
    /// Measured: every run and their median.
    Measured {
        /// Each run's figure.
        runs: Vec<f64>,
        /// Their median.
        median: f64,
        /// Anything the reader must know (how it was measured).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// The system has no such thing (ext4 snapshots).
    NotApplicable {
        /// Why.
        why: String,
    },
    /// The system will have it, but not yet (Basin's FUSE layer).
    Pending {
        /// What it waits for.
        why: String,
    },
    /// Left out on purpose by the operator (`--skip`).
    Skipped {
        /// Why.
        why: String,
    },
    /// The measurement failed: the run exits non-zero.
    Failed {
        /// The error.
        why: String,
    },
}

impl Cell {
    /// A measured cell from its runs (`None` when there are none).
    pub fn measured(runs: Vec<f64>, note: Option<String>) -> Cell {
        match median(&runs) {
            Some(m) => Cell::Measured {
                runs,
                median: m,
                note,
            },
            None => Cell::Failed {
                why: "no run completed".into(),
            },
        }
    }

    /// The median, when measured.
    pub fn value(&self) -> Option<f64> {
        match self {
            Cell::Measured { median, .. } => Some(*median),
            _ => None,
        }
    }

    /// Not applicable, with a reason.
    pub fn na(why: impl Into<String>) -> Cell {
        Cell::NotApplicable { why: why.into() }
    }

    /// Pending, with what it waits for.
    pub fn pending(why: impl Into<String>) -> Cell {
        Cell::Pending { why: why.into() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for w in Workload::ALL {
            assert_eq!(Workload::parse(w.id()), Some(w));
            assert!(seen.insert(w.id()));
        }
    }

    #[test]
    fn sizes_print_as_people_write_them() {
        assert_eq!(size(16 * GIB), "16 GiB");
        assert_eq!(size(512 * MIB), "512 MiB");
        assert_eq!(size(4096), "4 KiB");
    }

    #[test]
    fn the_quick_mode_is_small() {
        let q = Mode::quick();
        assert!(q.space_needed() < 4 * GIB);
        assert!(Mode::full().device_bytes() >= 16 * GIB + 3 * GIB);
    }

    #[test]
    fn cells_serialize_with_their_status() {
        let c = Cell::measured(vec![3.0, 1.0, 2.0], None);
        assert_eq!(c.value(), Some(2.0));
        let j = serde_json::to_string(&c).unwrap();
        assert!(j.contains("\"status\":\"measured\""), "{j}");
        let back: Cell = serde_json::from_str(&j).unwrap();
        assert_eq!(back, c);
    }
}
