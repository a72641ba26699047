//! Basin's benchmark suite: Basin side by side with its peers, on the same
//! machine, in the same run, reported as medians and ratios to Basin.
//!
//! - `targets`: the systems (Basin's rows, the raw disk, the FUSE ceiling
//!   `memfs`, ext4 and btrfs on loop devices, zfs-fuse), each set up, run
//!   and torn down in turn.
//! - `fsbench`, `smallfile`, `fio`: the workloads of the filesystems.
//! - `basin`: Basin measured in process, and the figures the other issues
//!   set goals for.
//! - `report`, `svg`: the Markdown report and its charts.
//! - `cleanup`: nothing is left behind (mounts, loop devices, daemons).

pub mod basin;
pub mod cleanup;
pub mod cmd;
pub mod error;
pub mod fio;
pub mod fsbench;
pub mod memfs;
pub mod report;
pub mod smallfile;
pub mod stats;
pub mod suite;
pub mod svg;
pub mod sysinfo;
pub mod targets;
pub mod workload;

pub use error::{BenchError, Result};
