//! Basin's in-process row, `basin-dmu`: the suite's workloads through the
//! DMU and the dataset layer (`crate::basin::dmu_row`), in a child process
//! of its own (stopped by its PID, measured for memory). It has no FUSE and
//! no POSIX layer in the way, so it bounds what `basin-fuse` (Basin
//! through FUSE, `basinfuse.rs`) can reach; `basin-fuse` is the reference
//! of the ratios, and `basin-dmu` when `basin-fuse` has no figure.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::basin::dmu_row::RowReport;
use crate::basin::{arcread, dsl, Goal};
use crate::cleanup;
use crate::error::{BenchError, Result};
use crate::targets::{Availability, Cells, Ctx, Target};
use crate::workload::{size, Mode};

/// Basin in process, in a child process.
#[derive(Default)]
pub struct BasinDmu {
    report: Option<RowReport>,
}

/// Name of the child's PID file.
const PID_NAME: &str = "basin-dmu";

impl Target for BasinDmu {
    fn name(&self) -> &'static str {
        "basin-dmu"
    }

    fn describe(&self, mode: &Mode) -> String {
        format!(
            "Basin in process: DMU + dataset layer on a pool on one sparse {} file vdev (O_DIRECT, io_uring), ARC {}, lz4 + blake3; no FUSE, no POSIX layer; fsync is a txg sync (no intent log)",
            size(mode.device_bytes()),
            size(mode.cache_bytes)
        )
    }

    fn is_basin(&self) -> bool {
        true
    }

    fn setup(&mut self, ctx: &Ctx) -> Result<Availability> {
        ctx.fresh_dir("basin-dmu")?;
        Ok(Availability::Ready)
    }

    fn run(&mut self, ctx: &Ctx) -> Result<Cells> {
        let report = run_child(ctx, "basin-dmu", PID_NAME)?;
        let r: RowReport = serde_json::from_str(&report)?;
        let cells = r.cells.clone();
        self.report = Some(r);
        Ok(cells)
    }

    fn teardown(&mut self, ctx: &Ctx) -> Result<()> {
        let _ = std::fs::remove_dir_all(ctx.work.join("basin-dmu"));
        Ok(())
    }

    fn goals(&self, mode: &Mode) -> Vec<Goal> {
        let Some(r) = &self.report else {
            return Vec::new();
        };
        let mut g = dsl::goals_from_row(r, mode);
        g.extend(arcread::goal_from_row(r, mode));
        g
    }
}

/// Runs `basin-bench <sub> --work W --mode-json M --out F` as a child with
/// a PID file, and returns what it wrote to F. Its stderr (progress) goes
/// to ours; a failure is an error with its exit status.
pub fn run_child(ctx: &Ctx, sub: &str, pid_name: &str) -> Result<String> {
    let out = ctx.work.join(format!("{sub}.json"));
    let _ = std::fs::remove_file(&out);
    let mode = serde_json::to_string(&ctx.mode)?;
    let mut child = Command::new(&ctx.exe)
        .arg(sub)
        .arg("--work")
        .arg(&ctx.work)
        .arg("--mode-json")
        .arg(&mode)
        .arg("--out")
        .arg(&out)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| BenchError::Other(format!("cannot start {}: {e}", ctx.exe.display())))?;
    let pid = child.id();
    cleanup::write_pid(&ctx.work, pid_name, pid)?;
    cleanup::set_foreground(pid);
    let status = loop {
        if let Some(st) = child.try_wait().map_err(|e| BenchError::Io {
            context: format!("waiting for {sub}"),
            source: e,
        })? {
            break st;
        }
        if cleanup::check_interrupted().is_err() {
            cleanup::stop_pid(pid, None, Duration::from_secs(10));
            let _ = child.wait();
            cleanup::set_foreground(0);
            return Err(BenchError::Interrupted);
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    cleanup::set_foreground(0);
    cleanup::remove_pid(&ctx.work, pid_name);
    if !status.success() {
        return Err(BenchError::Other(format!(
            "`basin-bench {sub}` failed ({status}); its messages are above"
        )));
    }
    let text = std::fs::read_to_string(&out).map_err(|e| BenchError::Io {
        context: format!("reading {}", out.display()),
        source: e,
    })?;
    let _ = std::fs::remove_file(&out);
    Ok(text)
}
