//! Finding a pool's vdevs (named one by one, or searched for in folders)
//! and opening the pool read-only. A vdev that a live process holds
//! locked belongs to an imported pool: the checker refuses it, naming the
//! pool, rather than read a tree that is changing under it.

use std::fs::File;
use std::io;
use std::os::unix::fs::{FileExt, FileTypeExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use basin_dmu::cache::BlockCache;
use basin_dmu::DslPool;
use basin_pool::import::{scan_paths, Candidate};
use basin_pool::labelio;
use basin_pool::spec::DeviceSpec;
use basin_pool::vdev::file::{FileDevice, OpenMode};
use basin_pool::vdev::BlockDevice;
use basin_pool::{ImportOptions, Pool, PoolError, PoolTunables};

use crate::error::{FsckError, Result};

/// What to examine, as the command line names it.
#[derive(Clone, Debug, Default)]
pub struct Source {
    /// Vdevs named directly.
    pub paths: Vec<PathBuf>,
    /// Folders to search for vdevs (`-p`).
    pub dirs: Vec<PathBuf>,
    /// The pool's name or guid, when given.
    pub name: Option<String>,
}

/// The pool found.
pub struct Found {
    /// The pool as its labels describe it.
    pub candidate: Candidate,
    /// Its vdevs found, in the order of the vdev tree.
    pub paths: Vec<PathBuf>,
}

/// A leaf read without taking any lock, only to name the pool of a locked
/// vdev in a message.
struct Peek {
    file: File,
    size: u64,
    path: String,
}

impl BlockDevice for Peek {
    fn path(&self) -> &str {
        &self.path
    }
    fn size(&self) -> u64 {
        self.size
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.file.read_exact_at(buf, offset)
    }
    fn write_at(&self, _: u64, _: &[u8]) -> io::Result<()> {
        Err(io::Error::other("the checker never writes"))
    }
    fn flush(&self) -> io::Result<()> {
        Ok(())
    }
}

/// The (name, guid) of the pool in the labels of `path`, read without a lock.
fn peek_pool(path: &Path) -> Option<(String, u64)> {
    let file = File::open(path).ok()?;
    let size = file.metadata().ok()?.len();
    let dev = Peek {
        file,
        size,
        path: path.display().to_string(),
    };
    labelio::best_config(&dev).map(|c| (c.name, c.pool_guid))
}

/// Files and block devices directly inside `dir`.
fn entries(dir: &Path) -> Result<Vec<PathBuf>> {
    let rd = std::fs::read_dir(dir).map_err(|e| FsckError::BadPath {
        path: dir.to_path_buf(),
        why: e.to_string(),
    })?;
    let mut out = Vec::new();
    for e in rd.flatten() {
        let p = e.path();
        if let Ok(m) = std::fs::metadata(&p) {
            if m.is_file() || m.file_type().is_block_device() {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn matches(c: &Candidate, name: &str) -> bool {
    c.name == name
        || name.parse::<u64>().ok() == Some(c.guid)
        || u64::from_str_radix(name.trim_start_matches("0x"), 16).ok() == Some(c.guid)
}

/// Finds the pool to examine.
pub fn find(src: &Source) -> Result<Found> {
    if src.paths.is_empty() && src.dirs.is_empty() {
        return Err(FsckError::NothingNamed);
    }
    let mut all: Vec<(PathBuf, bool)> = src.paths.iter().map(|p| (p.clone(), true)).collect();
    for d in &src.dirs {
        all.extend(entries(d)?.into_iter().map(|p| (p, false)));
    }
    let ro = OpenMode {
        writable: false,
        direct: false,
    };
    let mut usable = Vec::new();
    let mut locked = Vec::new();
    for (p, named) in all {
        match FileDevice::open(&p, ro) {
            Ok(_) => usable.push(p),
            Err(PoolError::VdevLocked(_)) => locked.push(p),
            Err(e) if named => {
                return Err(FsckError::BadPath {
                    path: p,
                    why: e.to_string(),
                })
            }
            Err(_) => {}
        }
    }
    let searched = src
        .paths
        .iter()
        .chain(&src.dirs)
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let mut cands = scan_paths(usable);
    if let Some(n) = &src.name {
        cands.retain(|c| matches(c, n));
    }
    // A locked vdev of the pool asked for (or of the only pool there is)
    // means a live process imported it.
    for p in &locked {
        if let Some((pool, guid)) = peek_pool(p) {
            let wanted = match (&src.name, cands.first()) {
                (Some(n), _) => pool == *n || n.parse::<u64>().ok() == Some(guid),
                (None, Some(c)) => c.guid == guid,
                (None, None) => true,
            };
            if wanted {
                return Err(FsckError::Imported {
                    pool,
                    path: p.clone(),
                });
            }
        }
    }
    let c = match cands.len() {
        0 => {
            return Err(FsckError::NoPool {
                what: src
                    .name
                    .as_ref()
                    .map(|n| format!("named '{n}'"))
                    .unwrap_or_default(),
                searched,
            })
        }
        1 => cands.remove(0),
        _ => {
            let names: Vec<String> = cands
                .iter()
                .map(|c| format!("'{}' (guid {})", c.name, c.guid))
                .collect();
            return Err(FsckError::Ambiguous(names.join(", ")));
        }
    };
    let paths = c
        .tree
        .leaves()
        .iter()
        .filter_map(|l| match c.devices.get(&l.guid) {
            Some(DeviceSpec::Path(p)) => Some(p.clone()),
            _ => None,
        })
        .collect();
    Ok(Found {
        candidate: c,
        paths,
    })
}

/// Tunables of a pool opened by the checker: no thread writes anything,
/// and nothing ever syncs.
pub fn tunables() -> PoolTunables {
    PoolTunables {
        direct_io: false,
        heartbeat: false,
        guid_lock: false,
        sync_interval: Duration::from_secs(24 * 3600),
        ..PoolTunables::default()
    }
}

/// Opens the pool found, read-only.
pub fn open(found: &Found) -> Result<Pool> {
    let opts = ImportOptions {
        tunables: tunables(),
        ..Default::default()
    };
    Pool::open_read_only(&found.candidate, &opts).map_err(|e| match e {
        PoolError::VdevLocked(p) => FsckError::Imported {
            pool: found.candidate.name.clone(),
            path: PathBuf::from(p),
        },
        e => FsckError::Pool(e),
    })
}

/// Opens the dataset layer of a pool opened read-only.
pub fn open_dsl(pool: &Pool, cache_bytes: u64) -> Result<Arc<DslPool>> {
    let cache = Arc::new(BlockCache::new(cache_bytes)?);
    Ok(DslPool::open(pool.clone(), cache)?)
}
