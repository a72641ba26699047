//! The POSIX layer over one dataset: files, directories, symlinks, hard
//! links, device nodes, FIFOs and sockets, with owners, modes and times,
//! sparse files, rename with its flags, extended attributes and statfs.
//!
//! Object 1 is the master node (a ZAP naming the root directory and the
//! delete queue), object 2 the root directory, object 3 the delete queue.
//! Directories are ZAPs from names to objects; every object's attributes are
//! a [`Znode`] in its bonus.
//!
//! Locking: changes to the namespace (create, remove, rename, link) are
//! serialised by one lock per filesystem; every read-modify-write of an
//! object's znode holds that object's lock, so a write extending a file
//! and a link to it cannot lose each other's update.

use std::collections::HashMap;
use std::sync::Arc;

use basin_dmu::zap::Zap;
use basin_dmu::{DslPool, ObjectType, Objset};
use parking_lot::Mutex;

use crate::error::{err, FsError, Result};
use crate::zlog::{write_prefix, Record};
use crate::znode::{dirent_decode, dirent_encode, Timespec, Znode, BONUS_ZNODE, INLINE_MAX};

/// The master node.
pub const MASTER_OBJ: u64 = 1;
/// The root directory.
pub const ROOT_OBJ: u64 = 2;
/// The delete queue: objects unlinked while still in use.
pub const DELETE_QUEUE_OBJ: u64 = 3;
/// Longest name.
pub const NAME_MAX: usize = 255;
/// Longest symlink target.
pub const PATH_MAX: usize = 4096;
/// Largest extended attribute value.
pub const XATTR_MAX: usize = basin_dmu::zap::MAX_VALUE;

/// A file's attributes as `stat` shows them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attr {
    /// Object id.
    pub obj: u64,
    /// Its znode.
    pub z: Znode,
    /// Bytes allocated on disk.
    pub allocated: u64,
    /// Preferred I/O size.
    pub blksize: u32,
}

/// A directory entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    /// Name.
    pub name: Vec<u8>,
    /// Object.
    pub obj: u64,
    /// File type bits.
    pub kind: u32,
    /// Cookie of the entry after this one.
    pub next: u64,
}

/// Changes asked of `setattr`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SetAttr {
    /// New permission bits (the type bits are kept).
    pub mode: Option<u32>,
    /// New owner.
    pub uid: Option<u32>,
    /// New group.
    pub gid: Option<u32>,
    /// New size.
    pub size: Option<u64>,
    /// New access time.
    pub atime: Option<Timespec>,
    /// New modification time.
    pub mtime: Option<Timespec>,
    /// New change time (otherwise now, when anything changed).
    pub ctime: Option<Timespec>,
}

/// `statfs` figures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatFs {
    /// Fragment size.
    pub bsize: u32,
    /// Total blocks.
    pub blocks: u64,
    /// Free blocks.
    pub bfree: u64,
    /// Blocks available to users.
    pub bavail: u64,
    /// Total inodes.
    pub files: u64,
    /// Free inodes.
    pub ffree: u64,
}

/// Flags of `rename`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RenameFlags {
    /// Fail if the target exists.
    pub noreplace: bool,
    /// Swap source and target.
    pub exchange: bool,
}

/// The `sync` property.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncMode {
    /// `fsync` and O_SYNC commit the intent log.
    Standard,
    /// Every change commits the intent log.
    Always,
    /// Nothing waits for the disk (`fsync` returns at once).
    Disabled,
}

/// Above this many bytes waiting in the log, a commit syncs the txg.
const BULK_COMMIT: usize = 8 << 20;

/// Largest piece of data one write record carries.
const LOG_WRITE_CHUNK: usize = 64 * 1024;

/// The POSIX layer over one dataset (a head, or a snapshot read-only).
pub struct Zfs {
    dsl: Arc<DslPool>,
    name: String,
    ds: u64,
    os: Arc<Objset>,
    read_only: bool,
    ns: Mutex<()>,
    holds: Mutex<HashMap<u64, u64>>,
    replay_txg: Mutex<Option<u64>>,
    sync: SyncMode,
    overflow: Mutex<bool>,
}

fn name_ok(name: &[u8]) -> Result<()> {
    if name.is_empty() || name == b"." || name == b".." {
        return err(libc::EINVAL, "invalid name");
    }
    if name.len() > NAME_MAX {
        return err(libc::ENAMETOOLONG, "name too long");
    }
    if name.contains(&b'/') || name.contains(&0) {
        return err(libc::EINVAL, "name contains '/' or NUL");
    }
    Ok(())
}

impl Zfs {
    /// Opens dataset `name` (creating the root directory of a new
    /// filesystem, replaying the intent log after a crash). Snapshots open
    /// read-only.
    pub fn open(dsl: Arc<DslPool>, name: &str) -> Result<Arc<Zfs>> {
        let os = dsl.objset(name)?;
        let ds = dsl.dataset_id(name)?;
        let prop = |p: &str| dsl.get_prop(name, p).map(|v| v.value).unwrap_or_default();
        let read_only = os.is_read_only() || prop("readonly") == "on";
        let sync = match prop("sync").as_str() {
            "always" => SyncMode::Always,
            "disabled" => SyncMode::Disabled,
            _ => SyncMode::Standard,
        };
        let fs = Arc::new(Zfs {
            dsl,
            name: name.to_string(),
            ds,
            os,
            read_only,
            ns: Mutex::new(()),
            holds: Mutex::new(HashMap::new()),
            replay_txg: Mutex::new(None),
            sync,
            overflow: Mutex::new(false),
        });
        if !fs.os.exists(MASTER_OBJ)? {
            if fs.os.is_read_only() {
                // A snapshot of a filesystem never mounted: empty.
                return Ok(fs);
            }
            fs.init_layout()?;
        } else if !fs.read_only {
            fs.replay_log()?;
            fs.drain_delete_queue()?;
        }
        Ok(fs)
    }

    /// Replays the intent log left by a crash, all in one txg so that a
    /// crash during replay leaves the log to replay again.
    fn replay_log(&self) -> Result<()> {
        let h = self.os.zil_header();
        if h.first.is_none() {
            return Ok(());
        }
        let txg = self.dsl.pool().txg().hold_raw();
        *self.replay_txg.lock() = Some(txg);
        let mut apply = |r: &basin_dmu::zil::LogRecord| -> basin_dmu::Result<()> {
            self.replay_one(&r.payload)
                .map_err(|e| basin_dmu::DmuError::Invalid(format!("intent log replay: {e}")))
        };
        let r = self.os.zil_replay(txg, &mut apply);
        *self.replay_txg.lock() = None;
        // The header changed in this txg: the dataset must sync in it.
        let _ = self.dsl.assign_in(self.ds, txg);
        self.dsl.pool().txg().release(txg);
        r?;
        if h.claim_txg != 0 {
            self.dsl.pool().wait_synced(txg)?;
        }
        Ok(())
    }

    fn replay_one(&self, payload: &[u8]) -> Result<()> {
        match Record::decode(payload)? {
            Record::Create {
                dir,
                obj,
                name,
                z,
                target,
            } => {
                let target = if target.is_empty() {
                    None
                } else {
                    Some(target)
                };
                self.create_node(dir, &name, Some(obj), z, target.as_deref())
                    .map(|_| ())
            }
            Record::Remove {
                dir,
                name,
                want_dir,
            } => self.remove(dir, &name, want_dir),
            Record::Link { obj, dir, name } => self.link(obj, dir, &name).map(|_| ()),
            Record::Rename {
                dir,
                name,
                newdir,
                newname,
                flags,
            } => self.rename(dir, &name, newdir, &newname, flags),
            Record::Write { obj, offset, data } => {
                self.write(obj, offset, &data, false, false).map(|_| ())
            }
            Record::SetAttr { obj, s } => self.setattr(obj, &s).map(|_| ()),
            Record::Fallocate {
                obj,
                offset,
                len,
                mode,
            } => self.fallocate(obj, offset, len, mode),
            Record::SetXattr { obj, name, value } => {
                self.setxattr(obj, &name, &value, false, false)
            }
            Record::RemoveXattr { obj, name } => self.removexattr(obj, &name),
        }
    }

    /// Logs a change made in `txg`.
    fn log(&self, txg: u64, r: &Record) {
        if self.read_only {
            return;
        }
        // Records are bounded (names, xattr values); a refused one only
        // means the next commit falls back to a txg sync.
        if self.os.zil().log(txg, r.encode()).is_err() {
            *self.overflow.lock() = true;
        }
    }

    /// Logs a write of `len` bytes at `offset`, read at commit time.
    fn log_write(&self, txg: u64, obj: u64, offset: u64, len: usize) {
        if self.read_only {
            return;
        }
        let mut done = 0;
        while done < len {
            let n = (len - done).min(LOG_WRITE_CHUNK);
            let off = offset + done as u64;
            if self
                .os
                .zil()
                .log_data(txg, write_prefix(obj, off), obj, off, n)
                .is_err()
            {
                *self.overflow.lock() = true;
            }
            done += n;
        }
    }

    /// After a change: commits at once with `sync=always`.
    fn changed(&self) -> Result<()> {
        if self.sync == SyncMode::Always && self.replay_txg.lock().is_none() {
            self.commit()?;
        }
        Ok(())
    }

    /// Commits the intent log (or, if a record could not be logged, syncs
    /// the txg).
    fn commit(&self) -> Result<()> {
        // Much data waiting is better written once, by a txg sync, than
        // twice (log, then tree); so is a change that could not be logged.
        let bulk = self.os.zil().pending_bytes() > BULK_COMMIT;
        if std::mem::take(&mut *self.overflow.lock()) || bulk {
            self.dsl.pool().sync()?;
            return Ok(());
        }
        self.os.zil_commit()?;
        Ok(())
    }

    /// The dataset's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The object set.
    pub fn objset(&self) -> &Arc<Objset> {
        &self.os
    }

    /// The dataset layer.
    pub fn dsl(&self) -> &Arc<DslPool> {
        &self.dsl
    }

    /// True when changes are refused.
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    fn init_layout(&self) -> Result<()> {
        let tx = self.dsl.assign(self.ds, 64 * 1024, false)?;
        let txg = tx.txg();
        let now = Timespec::now();
        self.os.claim_object(
            txg,
            MASTER_OBJ,
            ObjectType::MASTER_NODE,
            basin_dmu::zap::ZAP_BLOCK as u32,
            0,
            &[],
        )?;
        let root = Znode {
            mode: libc::S_IFDIR | 0o755,
            links: 2,
            parent: ROOT_OBJ,
            atime: now,
            mtime: now,
            ctime: now,
            crtime: now,
            gen: txg,
            ..Default::default()
        };
        self.os.claim_object(
            txg,
            ROOT_OBJ,
            ObjectType::DIRECTORY,
            basin_dmu::zap::ZAP_BLOCK as u32,
            BONUS_ZNODE,
            &root.encode(),
        )?;
        self.os.claim_object(
            txg,
            DELETE_QUEUE_OBJ,
            ObjectType::DELETE_QUEUE,
            basin_dmu::zap::ZAP_BLOCK as u32,
            0,
            &[],
        )?;
        let m = Zap::new(&self.os, MASTER_OBJ);
        m.update_u64(txg, "VERSION", 1)?;
        m.update_u64(txg, "ROOT", ROOT_OBJ)?;
        m.update_u64(txg, "DELETE_QUEUE", DELETE_QUEUE_OBJ)?;
        Ok(())
    }

    /// Frees what the delete queue holds (files unlinked while open when
    /// the filesystem went away).
    fn drain_delete_queue(&self) -> Result<()> {
        let entries = Zap::new(&self.os, DELETE_QUEUE_OBJ).list()?;
        if entries.is_empty() {
            return Ok(());
        }
        let tx = self.dsl.assign(self.ds, 0, true)?;
        for e in entries {
            let obj = u64::from_le_bytes(
                e.value
                    .get(..8)
                    .and_then(|b| b.try_into().ok())
                    .unwrap_or([0; 8]),
            );
            if obj > DELETE_QUEUE_OBJ && self.os.exists(obj)? {
                self.free_object(tx.txg(), obj)?;
            }
            Zap::new(&self.os, DELETE_QUEUE_OBJ).remove(tx.txg(), &e.name)?;
        }
        Ok(())
    }

    fn check_rw(&self) -> Result<()> {
        if self.read_only {
            return err(libc::EROFS, "read-only filesystem");
        }
        Ok(())
    }

    fn tx(&self, bytes: u64, netfree: bool) -> Result<basin_dmu::dsl::Tx<'_>> {
        self.check_rw()?;
        if let Some(txg) = *self.replay_txg.lock() {
            return Ok(self.dsl.assign_in(self.ds, txg)?);
        }
        Ok(self.dsl.assign(self.ds, bytes, netfree)?)
    }

    /// The znode of `obj`.
    pub fn znode(&self, obj: u64) -> Result<Znode> {
        let b = self.os.bonus(obj).map_err(|e| match e {
            basin_dmu::DmuError::NotFound(_) => {
                FsError::errno(libc::ENOENT, format!("object {obj}"))
            }
            other => other.into(),
        })?;
        Znode::decode(&b)
    }

    fn put_znode(&self, txg: u64, obj: u64, z: &Znode) -> Result<()> {
        Ok(self.os.set_bonus(txg, obj, &z.encode())?)
    }

    /// Read-modify-write of a znode under the object's lock.
    fn update(
        &self,
        txg: u64,
        obj: u64,
        f: impl FnOnce(&mut Znode) -> Result<()>,
    ) -> Result<Znode> {
        self.os.with_lock(obj, true, || {
            let mut z = self.znode(obj)?;
            f(&mut z)?;
            self.put_znode(txg, obj, &z)?;
            Ok(z)
        })?
    }

    /// The attributes of `obj`.
    pub fn getattr(&self, obj: u64) -> Result<Attr> {
        let z = self.znode(obj)?;
        let info = self.os.info(obj)?;
        Ok(Attr {
            obj,
            allocated: info.used,
            blksize: info.meta.blksz.max(4096),
            z,
        })
    }

    /// Looks `name` up in directory `dir`.
    pub fn lookup(&self, dir: u64, name: &[u8]) -> Result<Attr> {
        let dz = self.znode(dir)?;
        if !dz.is_dir() {
            return err(libc::ENOTDIR, "not a directory");
        }
        if name == b"." {
            return self.getattr(dir);
        }
        if name == b".." {
            return self.getattr(dz.parent);
        }
        if name.len() > NAME_MAX {
            return err(libc::ENAMETOOLONG, "name too long");
        }
        match Zap::new(&self.os, dir).lookup(name)? {
            Some(v) => self.getattr(dirent_decode(&v)?.0),
            None => err(libc::ENOENT, "no such file or directory"),
        }
    }

    fn entry_of(&self, dir: u64, name: &[u8]) -> Result<Option<(u64, u32)>> {
        match Zap::new(&self.os, dir).lookup(name)? {
            Some(v) => Ok(Some(dirent_decode(&v)?)),
            None => Ok(None),
        }
    }

    /// Creates a node of `mode` (regular file, device, FIFO, socket,
    /// symlink or directory) named `name` in `dir`.
    #[allow(clippy::too_many_arguments)]
    pub fn create(
        &self,
        dir: u64,
        name: &[u8],
        mode: u32,
        uid: u32,
        gid: u32,
        rdev: u64,
        target: Option<&[u8]>,
    ) -> Result<Attr> {
        let now = Timespec::now();
        let z = Znode {
            mode,
            uid,
            gid,
            rdev,
            atime: now,
            mtime: now,
            ctime: now,
            crtime: now,
            ..Default::default()
        };
        self.create_node(dir, name, None, z, target)
    }

    /// Creates a node with the attributes of `z` (its size, links, parent
    /// and generation are set here), as object `obj` when given (replay).
    fn create_node(
        &self,
        dir: u64,
        name: &[u8],
        obj: Option<u64>,
        mut z: Znode,
        target: Option<&[u8]>,
    ) -> Result<Attr> {
        name_ok(name)?;
        let kind = z.mode & libc::S_IFMT;
        if let Some(t) = target {
            if t.is_empty() || t.len() > PATH_MAX {
                let e = if t.is_empty() {
                    libc::ENOENT
                } else {
                    libc::ENAMETOOLONG
                };
                return err(e, "bad symlink target");
            }
        }
        let tx = self.tx(
            16 * 1024 + target.map(|t| t.len() as u64).unwrap_or(0),
            false,
        )?;
        let txg = tx.txg();
        let ns = self.ns.lock();
        let dz = self.znode(dir)?;
        if !dz.is_dir() {
            return err(libc::ENOTDIR, "not a directory");
        }
        if dz.links == 0 {
            return err(libc::ENOENT, "directory was removed");
        }
        if self.entry_of(dir, name)?.is_some() {
            return err(libc::EEXIST, "file exists");
        }
        // A directory with the setgid bit passes its group on.
        if obj.is_none() && dz.mode & libc::S_ISGID != 0 {
            z.gid = dz.gid;
            if kind == libc::S_IFDIR {
                z.mode |= libc::S_ISGID;
            }
        }
        z.size = 0;
        z.links = if kind == libc::S_IFDIR { 2 } else { 1 };
        z.parent = dir;
        if obj.is_none() {
            z.gen = txg;
        }
        let ty = match kind {
            libc::S_IFDIR => ObjectType::DIRECTORY,
            libc::S_IFLNK => ObjectType::SYMLINK,
            _ => ObjectType::PLAIN_FILE,
        };
        let blksz = if kind == libc::S_IFDIR {
            basin_dmu::zap::ZAP_BLOCK as u32
        } else {
            512
        };
        let mut long_target = Vec::new();
        if let Some(t) = target {
            z.size = t.len() as u64;
            if t.len() <= INLINE_MAX {
                z.inline = t.to_vec();
            } else {
                long_target = t.to_vec();
            }
        }
        let obj = match obj {
            Some(o) => {
                self.os
                    .claim_object(txg, o, ty, blksz, BONUS_ZNODE, &z.encode())?;
                o
            }
            None => self
                .os
                .create_object(txg, ty, blksz, BONUS_ZNODE, &z.encode())?,
        };
        if !long_target.is_empty() {
            self.os.write(txg, obj, 0, &long_target)?;
        }
        Zap::new(&self.os, dir).insert(txg, name, &dirent_encode(obj, z.mode))?;
        let now = z.ctime;
        self.update(txg, dir, |d| {
            d.size += 1;
            if kind == libc::S_IFDIR {
                d.links += 1;
            }
            d.mtime = now;
            d.ctime = now;
            Ok(())
        })?;
        self.log(
            txg,
            &Record::Create {
                dir,
                obj,
                name: name.to_vec(),
                z,
                target: long_target,
            },
        );
        drop(ns);
        drop(tx);
        self.changed()?;
        self.getattr(obj)
    }

    /// Adds a hard link `newname` in `newdir` to `obj`.
    pub fn link(&self, obj: u64, newdir: u64, newname: &[u8]) -> Result<Attr> {
        name_ok(newname)?;
        let tx = self.tx(4096, false)?;
        let txg = tx.txg();
        let _ns = self.ns.lock();
        let z = self.znode(obj)?;
        if z.is_dir() {
            return err(libc::EPERM, "hard links to directories are not allowed");
        }
        if z.links == 0 {
            return err(libc::ENOENT, "file was removed");
        }
        if z.links >= u32::MAX as u64 {
            return err(libc::EMLINK, "too many links");
        }
        let dz = self.znode(newdir)?;
        if !dz.is_dir() {
            return err(libc::ENOTDIR, "not a directory");
        }
        if dz.links == 0 {
            return err(libc::ENOENT, "directory was removed");
        }
        if self.entry_of(newdir, newname)?.is_some() {
            return err(libc::EEXIST, "file exists");
        }
        let now = Timespec::now();
        Zap::new(&self.os, newdir).insert(txg, newname, &dirent_encode(obj, z.mode))?;
        let z = self.update(txg, obj, |z| {
            z.links += 1;
            z.ctime = now;
            Ok(())
        })?;
        self.update(txg, newdir, |d| {
            d.size += 1;
            d.mtime = now;
            d.ctime = now;
            Ok(())
        })?;
        self.remove_from_queue(txg, obj)?;
        self.log(
            txg,
            &Record::Link {
                obj,
                dir: newdir,
                name: newname.to_vec(),
            },
        );
        let mut a = self.getattr(obj)?;
        a.z = z;
        drop(_ns);
        drop(tx);
        self.changed()?;
        Ok(a)
    }

    /// Removes `name` from `dir`; `want_dir` selects rmdir semantics.
    pub fn remove(&self, dir: u64, name: &[u8], want_dir: bool) -> Result<()> {
        if name == b"." {
            return err(libc::EINVAL, "cannot remove '.'");
        }
        if name == b".." {
            return err(libc::ENOTEMPTY, "cannot remove '..'");
        }
        if name.len() > NAME_MAX {
            return err(libc::ENAMETOOLONG, "name too long");
        }
        let tx = self.tx(0, true)?;
        let txg = tx.txg();
        let _ns = self.ns.lock();
        let Some((obj, _)) = self.entry_of(dir, name)? else {
            return err(libc::ENOENT, "no such file or directory");
        };
        let z = self.znode(obj)?;
        if want_dir && !z.is_dir() {
            return err(libc::ENOTDIR, "not a directory");
        }
        if !want_dir && z.is_dir() {
            return err(libc::EISDIR, "is a directory");
        }
        if z.is_dir() && z.size > 0 {
            return err(libc::ENOTEMPTY, "directory not empty");
        }
        let now = Timespec::now();
        Zap::new(&self.os, dir).remove(txg, name)?;
        self.update(txg, dir, |d| {
            d.size = d.size.saturating_sub(1);
            if z.is_dir() {
                d.links = d.links.saturating_sub(1);
            }
            d.mtime = now;
            d.ctime = now;
            Ok(())
        })?;
        self.drop_link(txg, obj, now)?;
        self.log(
            txg,
            &Record::Remove {
                dir,
                name: name.to_vec(),
                want_dir,
            },
        );
        drop(_ns);
        drop(tx);
        self.changed()
    }

    /// One link of `obj` is gone: free it when it was the last and nobody
    /// holds the file; otherwise queue it for freeing.
    fn drop_link(&self, txg: u64, obj: u64, now: Timespec) -> Result<()> {
        let z = self.update(txg, obj, |z| {
            z.links = if z.is_dir() {
                0
            } else {
                z.links.saturating_sub(1)
            };
            z.ctime = now;
            Ok(())
        })?;
        if z.links > 0 {
            return Ok(());
        }
        if self.holds.lock().get(&obj).copied().unwrap_or(0) > 0 {
            Zap::new(&self.os, DELETE_QUEUE_OBJ).update(
                txg,
                obj.to_string().as_bytes(),
                &obj.to_le_bytes(),
            )?;
            Ok(())
        } else {
            self.free_object(txg, obj)
        }
    }

    fn remove_from_queue(&self, txg: u64, obj: u64) -> Result<()> {
        Zap::new(&self.os, DELETE_QUEUE_OBJ).remove(txg, obj.to_string().as_bytes())?;
        Ok(())
    }

    fn free_object(&self, txg: u64, obj: u64) -> Result<()> {
        let z = self.znode(obj)?;
        if z.xattr != 0 && self.os.exists(z.xattr)? {
            self.os.free_object(txg, z.xattr)?;
        }
        self.os.free_object(txg, obj)?;
        Ok(())
    }

    /// The kernel (or another user) holds `obj`.
    pub fn hold(&self, obj: u64) {
        *self.holds.lock().entry(obj).or_default() += 1;
    }

    /// Releases `n` holds on `obj`; an unlinked file goes with the last.
    pub fn rele(&self, obj: u64, n: u64) -> Result<()> {
        let last = {
            let mut h = self.holds.lock();
            let e = h.entry(obj).or_default();
            *e = e.saturating_sub(n);
            if *e == 0 {
                h.remove(&obj);
                true
            } else {
                false
            }
        };
        if !last || self.read_only || !self.os.exists(obj)? {
            return Ok(());
        }
        if self.znode(obj)?.links == 0 {
            let tx = self.tx(0, true)?;
            let _ns = self.ns.lock();
            if self.os.exists(obj)? && self.znode(obj)?.links == 0 {
                self.free_object(tx.txg(), obj)?;
                self.remove_from_queue(tx.txg(), obj)?;
            }
        }
        Ok(())
    }

    /// True when `anc` is `dir` or one of its ancestors.
    fn is_ancestor(&self, anc: u64, mut dir: u64) -> Result<bool> {
        for _ in 0..4096 {
            if dir == anc {
                return Ok(true);
            }
            if dir == ROOT_OBJ {
                return Ok(false);
            }
            dir = self.znode(dir)?.parent;
        }
        err(libc::ELOOP, "directory tree too deep")
    }

    /// Renames `dir/name` to `newdir/newname`.
    pub fn rename(
        &self,
        dir: u64,
        name: &[u8],
        newdir: u64,
        newname: &[u8],
        flags: RenameFlags,
    ) -> Result<()> {
        name_ok(name)?;
        name_ok(newname)?;
        if flags.noreplace && flags.exchange {
            return err(
                libc::EINVAL,
                "RENAME_NOREPLACE and RENAME_EXCHANGE together",
            );
        }
        let tx = self.tx(8192, true)?;
        let txg = tx.txg();
        let ns = self.ns.lock();
        self.rename_locked(txg, dir, name, newdir, newname, flags)?;
        self.log(
            txg,
            &Record::Rename {
                dir,
                name: name.to_vec(),
                newdir,
                newname: newname.to_vec(),
                flags,
            },
        );
        drop(ns);
        drop(tx);
        self.changed()
    }

    #[allow(clippy::too_many_arguments)]
    fn rename_locked(
        &self,
        txg: u64,
        dir: u64,
        name: &[u8],
        newdir: u64,
        newname: &[u8],
        flags: RenameFlags,
    ) -> Result<()> {
        let Some((src, _)) = self.entry_of(dir, name)? else {
            return err(libc::ENOENT, "no such file or directory");
        };
        for d in [dir, newdir] {
            if !self.znode(d)?.is_dir() {
                return err(libc::ENOTDIR, "not a directory");
            }
        }
        let sz = self.znode(src)?;
        let target = self.entry_of(newdir, newname)?;
        if flags.noreplace && target.is_some() {
            return err(libc::EEXIST, "target exists");
        }
        if flags.exchange && target.is_none() {
            return err(libc::ENOENT, "target does not exist");
        }
        if target.map(|t| t.0) == Some(src) {
            // Two links to one file: nothing to do.
            return Ok(());
        }
        // A directory cannot move below itself.
        if sz.is_dir() && dir != newdir && self.is_ancestor(src, newdir)? {
            return err(libc::EINVAL, "cannot move a directory into itself");
        }
        let now = Timespec::now();
        let dirs = |this: &Self, a: u64, b: u64, da: i64, db: i64| -> Result<()> {
            for (d, delta) in [(a, da), (b, db)] {
                this.update(txg, d, |z| {
                    z.links = (z.links as i64 + delta).max(2) as u64;
                    z.mtime = now;
                    z.ctime = now;
                    Ok(())
                })?;
                if a == b {
                    break;
                }
            }
            Ok(())
        };
        if flags.exchange {
            let (dst, _) = target.expect("checked above");
            let dz = self.znode(dst)?;
            if dz.is_dir() && dir != newdir && self.is_ancestor(dst, dir)? {
                return err(libc::EINVAL, "cannot move a directory into itself");
            }
            Zap::new(&self.os, dir).update(txg, name, &dirent_encode(dst, dz.mode))?;
            Zap::new(&self.os, newdir).update(txg, newname, &dirent_encode(src, sz.mode))?;
            for (o, p) in [(src, newdir), (dst, dir)] {
                self.update(txg, o, |z| {
                    z.parent = p;
                    z.ctime = now;
                    Ok(())
                })?;
            }
            let d_src = sz.is_dir() as i64;
            let d_dst = dz.is_dir() as i64;
            return dirs(self, dir, newdir, d_dst - d_src, d_src - d_dst);
        }
        // Replace the target, if any.
        let mut newdir_size_delta = 1i64;
        if let Some((dst, _)) = target {
            let tz = self.znode(dst)?;
            if sz.is_dir() && !tz.is_dir() {
                return err(libc::ENOTDIR, "target is not a directory");
            }
            if !sz.is_dir() && tz.is_dir() {
                return err(libc::EISDIR, "target is a directory");
            }
            if tz.is_dir() && tz.size > 0 {
                return err(libc::ENOTEMPTY, "target directory not empty");
            }
            Zap::new(&self.os, newdir).remove(txg, newname)?;
            newdir_size_delta = 0;
            if tz.is_dir() {
                self.update(txg, newdir, |z| {
                    z.links = z.links.saturating_sub(1).max(2);
                    Ok(())
                })?;
            }
            self.drop_link(txg, dst, now)?;
        }
        Zap::new(&self.os, dir).remove(txg, name)?;
        Zap::new(&self.os, newdir).insert(txg, newname, &dirent_encode(src, sz.mode))?;
        self.update(txg, src, |z| {
            z.parent = newdir;
            z.ctime = now;
            Ok(())
        })?;
        let sd = sz.is_dir() as i64;
        if dir == newdir {
            self.update(txg, dir, |z| {
                z.size = (z.size as i64 + newdir_size_delta - 1).max(0) as u64;
                z.mtime = now;
                z.ctime = now;
                Ok(())
            })?;
        } else {
            self.update(txg, dir, |z| {
                z.size = z.size.saturating_sub(1);
                z.links = (z.links as i64 - sd).max(2) as u64;
                z.mtime = now;
                z.ctime = now;
                Ok(())
            })?;
            self.update(txg, newdir, |z| {
                z.size = (z.size as i64 + newdir_size_delta) as u64;
                z.links += sd as u64;
                z.mtime = now;
                z.ctime = now;
                Ok(())
            })?;
        }
        Ok(())
    }

    /// The target of a symlink.
    pub fn readlink(&self, obj: u64) -> Result<Vec<u8>> {
        let z = self.znode(obj)?;
        if z.kind() != libc::S_IFLNK {
            return err(libc::EINVAL, "not a symlink");
        }
        if !z.inline.is_empty() || z.size == 0 {
            return Ok(z.inline);
        }
        let mut b = vec![0u8; z.size.min(PATH_MAX as u64) as usize];
        self.os.read(obj, 0, &mut b)?;
        Ok(b)
    }

    /// Reads up to `size` bytes at `offset`.
    pub fn read(&self, obj: u64, offset: u64, size: u32) -> Result<Vec<u8>> {
        let mut b = Vec::new();
        let n = self.read_into(obj, offset, size, &mut b)?;
        b.truncate(n);
        Ok(b)
    }

    /// Reads up to `size` bytes at `offset` into the front of `buf`, which
    /// grows as needed and is never shrunk (a caller that reuses it saves
    /// zeroing a new buffer for every read); returns the bytes read. Every
    /// byte returned is written by the read, holes included.
    pub fn read_into(&self, obj: u64, offset: u64, size: u32, buf: &mut Vec<u8>) -> Result<usize> {
        let z = self.znode(obj)?;
        if z.is_dir() {
            return err(libc::EISDIR, "is a directory");
        }
        if offset >= z.size {
            return Ok(0);
        }
        let n = (z.size - offset).min(size as u64) as usize;
        if buf.len() < n {
            buf.resize(n, 0);
        }
        self.os.read(obj, offset, &mut buf[..n])?;
        Ok(n)
    }

    /// Writes `data` at `offset` (at the end when `append`); returns the
    /// bytes written. Clears set-user-id and set-group-id bits when
    /// `kill_suid`.
    pub fn write(
        &self,
        obj: u64,
        offset: u64,
        data: &[u8],
        append: bool,
        kill_suid: bool,
    ) -> Result<u32> {
        if data.is_empty() {
            return Ok(0);
        }
        let tx = self.tx(data.len() as u64, false)?;
        let txg = tx.txg();
        let now = Timespec::now();
        let n = self.os.with_lock(obj, true, || -> Result<u32> {
            let mut z = self.znode(obj)?;
            if z.is_dir() {
                return err(libc::EISDIR, "is a directory");
            }
            let off = if append { z.size } else { offset };
            let end = off
                .checked_add(data.len() as u64)
                .filter(|e| *e <= i64::MAX as u64)
                .ok_or_else(|| FsError::errno(libc::EFBIG, "file too large"))?;
            self.os.write(txg, obj, off, data)?;
            z.size = z.size.max(end);
            z.mtime = now;
            z.ctime = now;
            if kill_suid {
                z.mode &= !(libc::S_ISUID | libc::S_ISGID);
            }
            self.put_znode(txg, obj, &z)?;
            self.log_write(txg, obj, off, data.len());
            Ok(data.len() as u32)
        })??;
        drop(tx);
        self.changed()?;
        Ok(n)
    }

    /// Changes attributes.
    pub fn setattr(&self, obj: u64, s: &SetAttr) -> Result<Attr> {
        let tx = self.tx(if s.size.is_some() { 8192 } else { 0 }, s.size.is_some())?;
        let txg = tx.txg();
        let now = Timespec::now();
        self.os.with_lock(obj, true, || -> Result<()> {
            let mut z = self.znode(obj)?;
            if let Some(size) = s.size {
                if z.is_dir() {
                    return err(libc::EISDIR, "is a directory");
                }
                if size > i64::MAX as u64 {
                    return err(libc::EFBIG, "file too large");
                }
                if size < z.size {
                    self.os.free_range(txg, obj, size, u64::MAX)?;
                }
                z.size = size;
                z.mtime = s.mtime.unwrap_or(now);
            }
            if let Some(m) = s.mode {
                z.mode = (z.mode & libc::S_IFMT) | (m & 0o7777);
            }
            if let Some(u) = s.uid {
                z.uid = u;
            }
            if let Some(g) = s.gid {
                z.gid = g;
            }
            if let Some(a) = s.atime {
                z.atime = a;
            }
            if let Some(m) = s.mtime {
                z.mtime = m;
            }
            z.ctime = s.ctime.unwrap_or(now);
            self.put_znode(txg, obj, &z)?;
            // Replay sets the same times, not the time of replay.
            let mut logged = s.clone();
            logged.ctime = Some(z.ctime);
            if logged.size.is_some() {
                logged.mtime = Some(z.mtime);
            }
            self.log(txg, &Record::SetAttr { obj, s: logged });
            Ok(())
        })??;
        drop(tx);
        self.changed()?;
        self.getattr(obj)
    }

    /// Entries of `dir` from `cookie` (0: the start), up to `max`.
    pub fn readdir(&self, dir: u64, cookie: u64, max: usize) -> Result<Vec<DirEntry>> {
        let z = self.znode(dir)?;
        if !z.is_dir() {
            return err(libc::ENOTDIR, "not a directory");
        }
        let entries = Zap::new(&self.os, dir).list_from(cookie, max)?;
        entries
            .into_iter()
            .map(|e| {
                let (obj, kind) = dirent_decode(&e.value)?;
                Ok(DirEntry {
                    name: e.name,
                    obj,
                    kind,
                    next: e.cookie + 1,
                })
            })
            .collect()
    }

    /// Marks an access (atime), as the `atime` and `relatime` properties say.
    pub fn touch_atime(&self, obj: u64, atime_on: bool, relatime: bool) -> Result<()> {
        if !atime_on || self.read_only {
            return Ok(());
        }
        let z = self.znode(obj)?;
        let now = Timespec::now();
        if relatime && z.atime > z.mtime && z.atime > z.ctime && now.sec - z.atime.sec < 86400 {
            return Ok(());
        }
        let tx = self.tx(0, true)?;
        self.update(tx.txg(), obj, |z| {
            z.atime = now;
            Ok(())
        })?;
        Ok(())
    }

    /// Filesystem figures: the dataset's space, quota aware.
    pub fn statfs(&self) -> Result<StatFs> {
        let num = |p: &str| -> u64 {
            self.dsl
                .get_prop(&self.name, p)
                .ok()
                .and_then(|v| v.exact.parse().ok())
                .unwrap_or(0)
        };
        let avail = num("available");
        let used = num("referenced");
        let bsize = 4096u64;
        let blocks = (used + avail) / bsize;
        let objects = self.os.max_object();
        Ok(StatFs {
            bsize: bsize as u32,
            blocks,
            bfree: avail / bsize,
            bavail: avail / bsize,
            files: objects + avail / 512,
            ffree: avail / 512,
        })
    }

    /// Makes the file's changes durable.
    pub fn fsync(&self, _obj: u64) -> Result<()> {
        if self.read_only || self.sync == SyncMode::Disabled {
            return Ok(());
        }
        self.commit()
    }

    /// Preallocates (extends the size) or punches a hole.
    pub fn fallocate(&self, obj: u64, offset: u64, len: u64, mode: i32) -> Result<()> {
        let punch = mode & libc::FALLOC_FL_PUNCH_HOLE != 0;
        let keep = mode & libc::FALLOC_FL_KEEP_SIZE != 0;
        if mode & !(libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE) != 0 || (punch && !keep)
        {
            return err(libc::EOPNOTSUPP, "unsupported fallocate mode");
        }
        let end = offset
            .checked_add(len)
            .filter(|e| *e <= i64::MAX as u64)
            .ok_or_else(|| FsError::errno(libc::EFBIG, "file too large"))?;
        let tx = self.tx(if punch { 0 } else { len }, punch)?;
        let txg = tx.txg();
        let now = Timespec::now();
        self.os.with_lock(obj, true, || -> Result<()> {
            let mut z = self.znode(obj)?;
            if z.is_dir() {
                return err(libc::EISDIR, "is a directory");
            }
            if punch {
                let stop = end.min(z.size);
                if stop > offset {
                    self.os.free_range(txg, obj, offset, stop - offset)?;
                }
            } else if !keep && end > z.size {
                z.size = end;
            }
            z.mtime = now;
            z.ctime = now;
            self.put_znode(txg, obj, &z)?;
            self.log(
                txg,
                &Record::Fallocate {
                    obj,
                    offset,
                    len,
                    mode,
                },
            );
            Ok(())
        })??;
        drop(tx);
        self.changed()
    }

    /// `lseek` with SEEK_DATA or SEEK_HOLE.
    pub fn seek(&self, obj: u64, offset: u64, data: bool) -> Result<u64> {
        let z = self.znode(obj)?;
        if offset >= z.size {
            return err(libc::ENXIO, "offset beyond the end");
        }
        let info = self.os.info(obj)?;
        let blksz = info.meta.blksz as u64;
        let mut blk = offset / blksz;
        let last = (z.size - 1) / blksz;
        while blk <= last {
            let has = self.os.block_has_data(obj, blk)?;
            if has == data {
                return Ok((blk * blksz).max(offset));
            }
            blk += 1;
        }
        if data {
            err(libc::ENXIO, "no data after the offset")
        } else {
            Ok(z.size)
        }
    }

    fn xattr_dir(&self, obj: u64, create: Option<u64>) -> Result<u64> {
        let z = self.znode(obj)?;
        if z.xattr != 0 || create.is_none() {
            return Ok(z.xattr);
        }
        let txg = create.unwrap_or(0);
        let id = Zap::create(&self.os, txg, ObjectType::XATTR)?;
        self.update(txg, obj, |z| {
            z.xattr = id;
            Ok(())
        })?;
        Ok(id)
    }

    /// Sets an extended attribute (`create`: XATTR_CREATE, `replace`:
    /// XATTR_REPLACE).
    pub fn setxattr(
        &self,
        obj: u64,
        name: &[u8],
        value: &[u8],
        create: bool,
        replace: bool,
    ) -> Result<()> {
        if name.is_empty() || name.len() > NAME_MAX {
            return err(libc::ERANGE, "bad attribute name");
        }
        if value.len() > XATTR_MAX {
            return err(libc::E2BIG, "attribute value too large");
        }
        let tx = self.tx(value.len() as u64 + 4096, false)?;
        let txg = tx.txg();
        let _ns = self.ns.lock();
        let xd = self.xattr_dir(obj, Some(txg))?;
        let z = Zap::new(&self.os, xd);
        let exists = z.lookup(name)?.is_some();
        if create && exists {
            return err(libc::EEXIST, "attribute exists");
        }
        if replace && !exists {
            return err(libc::ENODATA, "no such attribute");
        }
        z.update(txg, name, value)?;
        self.update(txg, obj, |z| {
            z.ctime = Timespec::now();
            Ok(())
        })?;
        self.log(
            txg,
            &Record::SetXattr {
                obj,
                name: name.to_vec(),
                value: value.to_vec(),
            },
        );
        drop(_ns);
        drop(tx);
        self.changed()
    }

    /// An extended attribute's value.
    pub fn getxattr(&self, obj: u64, name: &[u8]) -> Result<Vec<u8>> {
        let xd = self.xattr_dir(obj, None)?;
        if xd == 0 {
            return err(libc::ENODATA, "no such attribute");
        }
        Zap::new(&self.os, xd)
            .lookup(name)?
            .ok_or_else(|| FsError::errno(libc::ENODATA, "no such attribute"))
    }

    /// Names of the extended attributes.
    pub fn listxattr(&self, obj: u64) -> Result<Vec<Vec<u8>>> {
        let xd = self.xattr_dir(obj, None)?;
        if xd == 0 {
            return Ok(Vec::new());
        }
        Ok(Zap::new(&self.os, xd)
            .list()?
            .into_iter()
            .map(|e| e.name)
            .collect())
    }

    /// Removes an extended attribute.
    pub fn removexattr(&self, obj: u64, name: &[u8]) -> Result<()> {
        let tx = self.tx(0, true)?;
        let txg = tx.txg();
        let _ns = self.ns.lock();
        let xd = self.xattr_dir(obj, None)?;
        if xd == 0 || !Zap::new(&self.os, xd).remove(txg, name)? {
            return err(libc::ENODATA, "no such attribute");
        }
        self.update(txg, obj, |z| {
            z.ctime = Timespec::now();
            Ok(())
        })?;
        self.log(
            txg,
            &Record::RemoveXattr {
                obj,
                name: name.to_vec(),
            },
        );
        drop(_ns);
        drop(tx);
        self.changed()
    }
}
