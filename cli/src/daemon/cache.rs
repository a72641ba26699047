//! The cache file: the pools this daemon has imported, so that it imports
//! them again when it starts, after a clean stop or a crash alike.
//!
//! `STATE_DIR/zpool.cache`, JSON: `{"version":1,"pools":[{"name":"tank",
//! "guid":123,"vdevs":["/dev/sdb","/var/tmp/a"]}]}`. It is rewritten whole
//! (temporary file, fsync, rename, fsync of the directory) at every change,
//! so a crash leaves the old or the new file, never a mix.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use basin_pool::Pool;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

/// Version of the cache file layout.
pub const CACHE_VERSION: u32 = 1;
/// Name of the cache file in the state directory.
pub const CACHE_FILE: &str = "zpool.cache";
/// A cache file larger than this is not read.
const MAX_CACHE_FILE: u64 = 16 << 20;

/// One pool in the cache.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedPool {
    /// Its name in this daemon.
    pub name: String,
    /// Its guid.
    pub guid: u64,
    /// Where its leaves were.
    pub vdevs: Vec<PathBuf>,
}

impl CachedPool {
    /// The entry for an open pool.
    pub fn of(pool: &Pool) -> CachedPool {
        let tree = pool.config_tree();
        let vdevs = tree
            .leaves()
            .into_iter()
            .filter_map(|l| l.path.as_ref().map(PathBuf::from))
            .collect();
        CachedPool {
            name: pool.name().to_string(),
            guid: pool.guid(),
            vdevs,
        }
    }
}

#[derive(Serialize, Deserialize)]
struct CacheFile {
    version: u32,
    pools: Vec<CachedPool>,
}

/// Why the cache file could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError {
    /// Reading or writing failed.
    #[error("cache file {}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// The file does not decode.
    #[error("cache file {} is damaged: {why}", .path.display())]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
}

/// The cache, in memory and on disk.
pub struct Cache {
    path: PathBuf,
    pools: Mutex<BTreeMap<String, CachedPool>>,
}

impl Cache {
    /// Loads the cache of `state_dir`. A damaged file is moved aside (to
    /// `zpool.cache.damaged`) and reported; the cache then starts empty.
    pub fn load(state_dir: &Path) -> (Cache, Option<CacheError>) {
        let path = state_dir.join(CACHE_FILE);
        let (pools, err) = match read(&path) {
            Ok(p) => (p, None),
            Err(e @ CacheError::Damaged { .. }) => {
                let _ = fs::rename(&path, path.with_extension("cache.damaged"));
                (BTreeMap::new(), Some(e))
            }
            Err(e) => (BTreeMap::new(), Some(e)),
        };
        (
            Cache {
                path,
                pools: Mutex::new(pools),
            },
            err,
        )
    }

    /// Every pool in the cache, by name.
    pub fn entries(&self) -> Vec<CachedPool> {
        self.pools.lock().values().cloned().collect()
    }

    /// Adds or replaces the entry of a pool.
    pub fn add(&self, entry: CachedPool) -> Result<(), CacheError> {
        let mut pools = self.pools.lock();
        pools.insert(entry.name.clone(), entry);
        self.persist(&pools)
    }

    /// Removes the entry called `name`.
    pub fn remove(&self, name: &str) -> Result<(), CacheError> {
        let mut pools = self.pools.lock();
        if pools.remove(name).is_none() {
            return Ok(());
        }
        self.persist(&pools)
    }

    fn persist(&self, pools: &BTreeMap<String, CachedPool>) -> Result<(), CacheError> {
        let io_err = |source| CacheError::Io {
            path: self.path.clone(),
            source,
        };
        let file = CacheFile {
            version: CACHE_VERSION,
            pools: pools.values().cloned().collect(),
        };
        let mut bytes = serde_json::to_vec_pretty(&file)
            .map_err(|e| io_err(io::Error::other(e.to_string())))?;
        bytes.push(b'\n');
        let tmp = self.path.with_extension("cache.tmp");
        {
            let mut f = OpenOptions::new()
                .create(true)
                .write(true)
                .truncate(true)
                .open(&tmp)
                .map_err(io_err)?;
            f.write_all(&bytes).map_err(io_err)?;
            f.sync_all().map_err(io_err)?;
        }
        fs::rename(&tmp, &self.path).map_err(io_err)?;
        if let Some(dir) = self.path.parent() {
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }
}

fn read(path: &Path) -> Result<BTreeMap<String, CachedPool>, CacheError> {
    let io_err = |source| CacheError::Io {
        path: path.to_path_buf(),
        source,
    };
    let damaged = |why: String| CacheError::Damaged {
        path: path.to_path_buf(),
        why,
    };
    let f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(io_err(e)),
    };
    let mut bytes = Vec::new();
    f.take(MAX_CACHE_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(io_err)?;
    if bytes.len() as u64 > MAX_CACHE_FILE {
        return Err(damaged(format!("larger than {MAX_CACHE_FILE} bytes")));
    }
    let file: CacheFile = serde_json::from_slice(&bytes).map_err(|e| damaged(e.to_string()))?;
    if file.version != CACHE_VERSION {
        return Err(damaged(format!(
            "version {} (this basind reads version {CACHE_VERSION})",
            file.version
        )));
    }
    Ok(file
        .pools
        .into_iter()
        .map(|p| (p.name.clone(), p))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, guid: u64) -> CachedPool {
        CachedPool {
            name: name.into(),
            guid,
            vdevs: vec![PathBuf::from(format!("/v/{name}0"))],
        }
    }

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let (c, err) = Cache::load(dir.path());
        assert!(err.is_none());
        assert!(c.entries().is_empty());
        c.add(entry("tank", 1)).unwrap();
        c.add(entry("data", 2)).unwrap();
        c.remove("tank").unwrap();
        c.remove("never").unwrap();
        let (c2, err) = Cache::load(dir.path());
        assert!(err.is_none());
        assert_eq!(c2.entries(), vec![entry("data", 2)]);
        let text = fs::read_to_string(dir.path().join(CACHE_FILE)).unwrap();
        assert!(text.contains("\"version\": 1"), "{text}");
    }

    #[test]
    fn a_damaged_file_is_moved_aside() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(CACHE_FILE), b"{\"version\":1,\"pools\":[{").unwrap();
        let (c, err) = Cache::load(dir.path());
        assert!(matches!(err, Some(CacheError::Damaged { .. })));
        assert!(c.entries().is_empty());
        assert!(dir.path().join("zpool.cache.damaged").exists());
        fs::write(dir.path().join(CACHE_FILE), b"{\"version\":9,\"pools\":[]}").unwrap();
        let (_, err) = Cache::load(dir.path());
        assert!(err.unwrap().to_string().contains("version 9"));
    }
}
