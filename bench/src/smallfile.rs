//! The small-file workload: create files of 4 KiB in folders of a thousand,
//! sync; stat them all with cold caches; delete them all, sync. Each phase
//! is reported in files per second.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use rand::RngCore;

use crate::error::{BenchError, IoContext, Result};
use crate::sysinfo::syncfs;

/// Bytes of each file.
pub const FILE_SIZE: usize = 4096;
/// Files per folder.
pub const PER_DIR: usize = 1000;

/// Files per second of each phase.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Phases {
    /// Create, write 4 KiB, close; then syncfs.
    pub create: f64,
    /// stat after the caches were made cold.
    pub stat: f64,
    /// unlink, rmdir the folders; then syncfs.
    pub delete: f64,
}

fn paths(root: &Path, n: usize) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let dirs: Vec<PathBuf> = (0..n.div_ceil(PER_DIR))
        .map(|d| root.join(format!("d{d:04}")))
        .collect();
    let files = (0..n)
        .map(|i| dirs[i / PER_DIR].join(format!("f{i:06}")))
        .collect();
    (dirs, files)
}

/// Runs the three phases on `n` files under `root` (created, and removed
/// at the end); `cold` makes the caches cold before the stat phase.
pub fn run(root: &Path, n: usize, mut cold: impl FnMut() -> Result<()>) -> Result<Phases> {
    if n == 0 {
        return Err(BenchError::Other(
            "the small-file workload needs files".into(),
        ));
    }
    let (dirs, files) = paths(root, n);
    let mut data = vec![0u8; FILE_SIZE];
    rand::thread_rng().fill_bytes(&mut data);

    let t = Instant::now();
    for d in &dirs {
        fs::create_dir(d).ctx(|| format!("mkdir {}", d.display()))?;
    }
    for f in &files {
        let mut h = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(f)
            .ctx(|| format!("create {}", f.display()))?;
        h.write_all(&data)
            .ctx(|| format!("write {}", f.display()))?;
    }
    syncfs(root)?;
    let create = n as f64 / t.elapsed().as_secs_f64();

    crate::cleanup::check_interrupted()?;
    cold()?;
    let t = Instant::now();
    for f in &files {
        let m = fs::metadata(f).ctx(|| format!("stat {}", f.display()))?;
        if m.len() != FILE_SIZE as u64 {
            return Err(BenchError::Other(format!(
                "{} has {} bytes, {FILE_SIZE} were written",
                f.display(),
                m.len()
            )));
        }
    }
    let stat = n as f64 / t.elapsed().as_secs_f64();

    crate::cleanup::check_interrupted()?;
    let t = Instant::now();
    for f in &files {
        fs::remove_file(f).ctx(|| format!("unlink {}", f.display()))?;
    }
    for d in &dirs {
        fs::remove_dir(d).ctx(|| format!("rmdir {}", d.display()))?;
    }
    syncfs(root)?;
    let delete = n as f64 / t.elapsed().as_secs_f64();
    Ok(Phases {
        create,
        stat,
        delete,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_run_and_leave_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut colds = 0;
        let p = run(dir.path(), 1500, || {
            colds += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(colds, 1);
        assert!(p.create > 0.0 && p.stat > 0.0 && p.delete > 0.0);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
