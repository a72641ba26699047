//! The suite's errors: every one says which system or step failed and what
//! to do about it, because a benchmark that quietly drops a row is worse
//! than one that stops.

use std::path::PathBuf;

/// Errors of the benchmark suite.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BenchError {
    /// A peer (or Basin) could not be set up: the run stops rather than
    /// leave its row out.
    #[error("cannot set up {target}: {why}")]
    Setup {
        /// The target's name.
        target: String,
        /// What went wrong, with the failing command's output.
        why: String,
    },
    /// An external command failed.
    #[error("`{command}` failed ({status}): {stderr}")]
    Command {
        /// The command line.
        command: String,
        /// Its exit status.
        status: String,
        /// The tail of what it printed on stderr.
        stderr: String,
    },
    /// A program the suite needs is not installed.
    #[error("`{0}` is not installed; run scripts/bench.sh (it installs the peers) or BASIN_SETUP_PEERS=1 scripts/setup.sh")]
    Missing(String),
    /// The suite needs root (loop devices, mounts, drop_caches).
    #[error("the suite needs root (loop devices, mounts, dropping caches); run it as root")]
    NotRoot,
    /// Not enough free space for the chosen mode.
    #[error("{dir} has {free_gib:.1} GiB free; this mode needs {need_gib:.1} GiB (use --quick or --work on a bigger disk)")]
    NoSpace {
        /// The work directory.
        dir: PathBuf,
        /// Free space, GiB.
        free_gib: f64,
        /// Space needed, GiB.
        need_gib: f64,
    },
    /// fio printed something that is not its JSON report.
    #[error("cannot read fio's report for job {job}: {why}")]
    Fio {
        /// The job's name.
        job: String,
        /// What is wrong with the output.
        why: String,
    },
    /// A measurement failed.
    #[error("{target}/{workload}: {why}")]
    Workload {
        /// The target's name.
        target: String,
        /// The workload's id.
        workload: String,
        /// What went wrong.
        why: String,
    },
    /// The run was interrupted (Ctrl-C or SIGTERM).
    #[error("interrupted")]
    Interrupted,
    /// An error of Basin's pool.
    #[error("pool: {0}")]
    Pool(#[from] basin_pool::PoolError),
    /// An error of Basin's DMU.
    #[error("dmu: {0}")]
    Dmu(#[from] basin_dmu::DmuError),
    /// An I/O error, with the path or step it came from.
    #[error("{context}: {source}")]
    Io {
        /// What the suite was doing.
        context: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A JSON error (results, fio reports, child reports).
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    /// Anything else, with a message an operator can act on.
    #[error("{0}")]
    Other(String),
}

/// Results of the suite.
pub type Result<T> = std::result::Result<T, BenchError>;

/// Adds context to I/O errors.
pub trait IoContext<T> {
    /// Wraps the error with what was being done.
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| BenchError::Io {
            context: context(),
            source,
        })
    }
}
