//! Issue 2's import figure: a pool holding `import_bytes` of data (10 GiB
//! in the full mode) on a file vdev is exported, then scanned for and
//! imported, timed. The goal is under a second.

use std::path::Path;
use std::time::Duration;

use crate::basin::poolwrite::{round, templates, write_through};
use crate::basin::{create_pool, reimport, Goal, MIB};
use crate::cleanup::check_interrupted;
use crate::error::{BenchError, Result};
use crate::stats::median;
use crate::workload::{size, Mode};

/// The goal, seconds.
pub const GOAL: Duration = Duration::from_secs(1);

/// Runs the figure in `dir`.
pub fn run(dir: &Path, mode: &Mode) -> Result<Vec<Goal>> {
    std::fs::create_dir_all(dir).map_err(|e| BenchError::Io {
        context: format!("creating {}", dir.display()),
        source: e,
    })?;
    let bytes = mode.import_bytes;
    let vdev = dir.join("vdev0");
    eprintln!("  import / writing {}", size(bytes));
    let mut pool = create_pool("benchimport", &vdev, bytes + bytes / 4 + 512 * MIB)?;
    write_through(&pool, bytes, &templates(77))?;
    let allocated = pool.space().allocated;
    let mut times = Vec::new();
    for _ in 0..mode.runs {
        check_interrupted()?;
        let (p, d) = reimport(pool, std::slice::from_ref(&vdev))?;
        pool = p;
        times.push(d.as_secs_f64() * 1e3);
    }
    pool.destroy()?;
    let _ = std::fs::remove_file(&vdev);
    let m = median(&times).unwrap_or(f64::NAN);
    Ok(vec![Goal {
        issue: 2,
        what: format!("import of a pool with {} of data", size(bytes)),
        value: format!("{m:.1} ms"),
        goal: format!("< {} ms", GOAL.as_millis()),
        met: mode.is_full().then_some(m < GOAL.as_secs_f64() * 1e3),
        detail: format!(
            "scan of the vdev + Pool::import after an export, {} allocated; runs {:?} ms",
            size(allocated / MIB * MIB),
            round(&times)
        ),
    }])
}
