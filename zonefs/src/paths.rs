//! Object numbers to paths, for `zfs diff` and `zpool status -v`: a file's
//! znode names its parent directory, whose entries give its name; the
//! walk goes up to the root. As OpenZFS does it, a file with several hard
//! links gets the name found first, and an object that is not a file of
//! the POSIX layer (or no longer exists) gets no name.

use basin_dmu::dsl::diff::{PathResolver, Side};
use basin_dmu::zap::Zap;
use basin_dmu::Objset;

use crate::fs::{DELETE_QUEUE_OBJ, MASTER_OBJ, ROOT_OBJ};
use crate::znode::{dirent_decode, Znode};

/// Deepest directory tree walked before giving up (a loop on disk).
const MAX_DEPTH: usize = 4096;
/// Directory entries read at a time while searching a name.
const BATCH: usize = 512;

/// Names the objects of POSIX filesystems by their path from the root of
/// their filesystem (`/dir/file`).
#[derive(Clone, Copy, Debug, Default)]
pub struct PosixPaths;

impl PathResolver for PosixPaths {
    fn path(&self, os: &Objset, object: u64, _side: Side) -> basin_dmu::Result<Option<String>> {
        Ok(path_of(os, object))
    }

    fn hidden(&self, os: &Objset, object: u64) -> bool {
        (object == MASTER_OBJ || object == DELETE_QUEUE_OBJ) && is_posix(os)
    }
}

/// True when `os` holds a POSIX filesystem: its root is a directory.
fn is_posix(os: &Objset) -> bool {
    os.bonus(ROOT_OBJ)
        .ok()
        .and_then(|b| Znode::decode(&b).ok())
        .is_some_and(|z| z.is_dir())
}

/// The path of `object` in `os`, or `None` when it has none.
pub fn path_of(os: &Objset, object: u64) -> Option<String> {
    if !is_posix(os) {
        return None;
    }
    let mut names: Vec<String> = Vec::new();
    let mut obj = object;
    for _ in 0..MAX_DEPTH {
        if obj == ROOT_OBJ {
            names.reverse();
            return Some(format!("/{}", names.join("/")));
        }
        let z = Znode::decode(&os.bonus(obj).ok()?).ok()?;
        names.push(name_in(os, z.parent, obj)?);
        obj = z.parent;
    }
    None
}

/// The name under which directory `dir` holds `obj`.
fn name_in(os: &Objset, dir: u64, obj: u64) -> Option<String> {
    let parent = Znode::decode(&os.bonus(dir).ok()?).ok()?;
    if !parent.is_dir() {
        return None;
    }
    let zap = Zap::new(os, dir);
    let mut cookie = 0;
    loop {
        let entries = zap.list_from(cookie, BATCH).ok()?;
        let last = entries.last()?.cookie;
        for e in &entries {
            if dirent_decode(&e.value).is_ok_and(|(o, _)| o == obj) {
                return Some(String::from_utf8_lossy(&e.name).into_owned());
            }
        }
        cookie = last.checked_add(1)?;
    }
}
