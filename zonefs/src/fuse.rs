//! The FUSE front end: the kernel's requests for one mounted dataset,
//! answered by the POSIX layer of the dataset and, under `.zfs/snapshot/`,
//! of its snapshots (read-only).
//!
//! Inode numbers: object `o` of the dataset is inode `o - 1` (so the root
//! directory, object 2, is inode 1); object `o` of the snapshot mounted in
//! slot `s` is `(s << 48) | (o - 1)`; `.zfs` and `.zfs/snapshot` are the
//! two inodes of slot 0xffff.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use fuser::{
    AccessFlags, Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation,
    INodeNo, InitFlags, KernelConfig, LockOwner, OpenFlags, RenameFlags as FuseRenameFlags,
    ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory, ReplyDirectoryPlus, ReplyEmpty, ReplyEntry,
    ReplyLseek, ReplyOpen, ReplyStatfs, ReplyWrite, ReplyXattr, Request, TimeOrNow, WriteFlags,
};
use parking_lot::RwLock;

use crate::error::FsError;
use crate::fs::{Attr, RenameFlags, SetAttr, Zfs, ROOT_OBJ};
use crate::znode::Timespec;

const SLOT_SHIFT: u64 = 48;
const OBJ_MASK: u64 = (1 << SLOT_SHIFT) - 1;
const CTL_SLOT: u64 = 0xffff;
const CTL_ROOT: u64 = (CTL_SLOT << SLOT_SHIFT) | 1;
const CTL_SNAPDIR: u64 = (CTL_SLOT << SLOT_SHIFT) | 2;

/// How a mount behaves.
#[derive(Clone, Debug)]
pub struct MountOptions {
    /// Update access times.
    pub atime: bool,
    /// Only when older than the modification or a day (`relatime`).
    pub relatime: bool,
    /// Show `.zfs` in the root directory's listing.
    pub snapdir_visible: bool,
    /// How long the kernel may cache names and attributes.
    pub ttl: Duration,
    /// Refuse every change.
    pub read_only: bool,
}

impl Default for MountOptions {
    fn default() -> Self {
        MountOptions {
            atime: true,
            relatime: true,
            snapdir_visible: false,
            ttl: Duration::from_secs(1),
            read_only: false,
        }
    }
}

enum Target {
    Obj(Arc<Zfs>, u64),
    CtlRoot,
    CtlSnapdir,
}

/// A mounted dataset.
pub struct FuseFs {
    live: Arc<Zfs>,
    snaps: Arc<RwLock<Snaps>>,
    opts: MountOptions,
}

/// The snapshots a mounted dataset has opened under `.zfs/snapshot`, as
/// the mount's owner sees them: [`SnapshotCache::release`] lets them go
/// (before a snapshot is destroyed or renamed).
#[derive(Clone)]
pub struct SnapshotCache(Arc<RwLock<Snaps>>);

impl SnapshotCache {
    /// Closes every snapshot opened so far; the next lookup opens it
    /// again. What the kernel still holds of the old ones answers ESTALE.
    pub fn release(&self) {
        let mut s = self.0.write();
        s.by_slot.clear();
        s.by_name.clear();
    }
}

#[derive(Default)]
struct Snaps {
    by_slot: HashMap<u64, (String, Arc<Zfs>)>,
    by_name: HashMap<String, u64>,
    next: u64,
}

fn errno(e: &FsError) -> Errno {
    Errno::from_i32(e.code())
}

fn kind_of(mode: u32) -> FileType {
    match mode & libc::S_IFMT {
        libc::S_IFDIR => FileType::Directory,
        libc::S_IFLNK => FileType::Symlink,
        libc::S_IFCHR => FileType::CharDevice,
        libc::S_IFBLK => FileType::BlockDevice,
        libc::S_IFIFO => FileType::NamedPipe,
        libc::S_IFSOCK => FileType::Socket,
        _ => FileType::RegularFile,
    }
}

fn ctl_attr(ino: u64) -> FileAttr {
    let t = SystemTime::now();
    FileAttr {
        ino: INodeNo(ino),
        size: 0,
        blocks: 0,
        atime: t,
        mtime: t,
        ctime: t,
        crtime: t,
        kind: FileType::Directory,
        perm: 0o555,
        nlink: 2,
        uid: 0,
        gid: 0,
        rdev: 0,
        blksize: 4096,
        flags: 0,
    }
}

fn to_time(t: TimeOrNow) -> Timespec {
    match t {
        TimeOrNow::Now => Timespec::now(),
        TimeOrNow::SpecificTime(s) => Timespec::from_system(s),
    }
}

impl FuseFs {
    /// Serves `live` (and its snapshots) with `opts`.
    pub fn new(live: Arc<Zfs>, opts: MountOptions) -> FuseFs {
        FuseFs {
            live,
            snaps: Arc::new(RwLock::new(Snaps {
                next: 1,
                ..Default::default()
            })),
            opts,
        }
    }

    /// The snapshots it opens, for the mount's owner.
    pub fn snapshot_cache(&self) -> SnapshotCache {
        SnapshotCache(self.snaps.clone())
    }

    fn ino_of(&self, slot: u64, obj: u64) -> u64 {
        (slot << SLOT_SHIFT) | (obj - 1)
    }

    fn target(&self, ino: INodeNo) -> Result<Target, Errno> {
        let ino = ino.0;
        match ino {
            CTL_ROOT => return Ok(Target::CtlRoot),
            CTL_SNAPDIR => return Ok(Target::CtlSnapdir),
            _ => {}
        }
        let slot = ino >> SLOT_SHIFT;
        let obj = (ino & OBJ_MASK) + 1;
        if slot == 0 {
            return Ok(Target::Obj(self.live.clone(), obj));
        }
        match self.snaps.read().by_slot.get(&slot) {
            Some((_, fs)) => Ok(Target::Obj(fs.clone(), obj)),
            None => Err(Errno::ESTALE),
        }
    }

    fn slot_of(&self, fs: &Arc<Zfs>) -> u64 {
        if Arc::ptr_eq(fs, &self.live) {
            return 0;
        }
        self.snaps
            .read()
            .by_slot
            .iter()
            .find(|(_, (_, f))| Arc::ptr_eq(f, fs))
            .map(|(s, _)| *s)
            .unwrap_or(0)
    }

    fn file_attr(&self, slot: u64, a: &Attr) -> FileAttr {
        let z = &a.z;
        FileAttr {
            ino: INodeNo(self.ino_of(slot, a.obj)),
            size: z.size,
            blocks: a.allocated.div_ceil(512),
            atime: z.atime.to_system(),
            mtime: z.mtime.to_system(),
            ctime: z.ctime.to_system(),
            crtime: z.crtime.to_system(),
            kind: kind_of(z.mode),
            perm: (z.mode & 0o7777) as u16,
            nlink: z.links.min(u32::MAX as u64) as u32,
            uid: z.uid,
            gid: z.gid,
            rdev: z.rdev as u32,
            blksize: a.blksize,
            flags: 0,
        }
    }

    fn ttl(&self, slot: u64) -> Duration {
        if slot == 0 {
            self.opts.ttl
        } else {
            Duration::from_secs(60)
        }
    }

    fn reply_entry(&self, fs: &Arc<Zfs>, a: &Attr, reply: ReplyEntry) {
        let slot = self.slot_of(fs);
        fs.hold(a.obj);
        reply.entry(
            &self.ttl(slot),
            &self.file_attr(slot, a),
            Generation(a.z.gen),
        );
    }

    /// The snapshot `name` of the live dataset, mounted in a slot.
    fn snapshot(&self, name: &[u8]) -> Result<(u64, Arc<Zfs>), Errno> {
        let name = std::str::from_utf8(name).map_err(|_| Errno::ENOENT)?;
        if let Some(&slot) = self.snaps.read().by_name.get(name) {
            let fs = self.snaps.read().by_slot[&slot].1.clone();
            return Ok((slot, fs));
        }
        let full = format!("{}@{name}", self.live.name());
        let fs = Zfs::open(self.live.dsl().clone(), &full).map_err(|_| Errno::ENOENT)?;
        let mut s = self.snaps.write();
        if let Some(&slot) = s.by_name.get(name) {
            return Ok((slot, s.by_slot[&slot].1.clone()));
        }
        let slot = s.next;
        if slot >= CTL_SLOT {
            return Err(Errno::ENFILE);
        }
        s.next += 1;
        s.by_slot.insert(slot, (name.to_string(), fs.clone()));
        s.by_name.insert(name.to_string(), slot);
        Ok((slot, fs))
    }

    fn snapshot_names(&self) -> Vec<String> {
        let prefix = format!("{}@", self.live.name());
        self.live
            .dsl()
            .list(Some(self.live.name()), false, Some(1))
            .unwrap_or_default()
            .into_iter()
            .filter_map(|n| n.strip_prefix(&prefix).map(str::to_string))
            .collect()
    }

    fn writable(&self, fs: &Arc<Zfs>) -> Result<(), Errno> {
        if self.opts.read_only || !Arc::ptr_eq(fs, &self.live) || fs.is_read_only() {
            return Err(Errno::EROFS);
        }
        Ok(())
    }

    fn obj(&self, ino: INodeNo) -> Result<(Arc<Zfs>, u64), Errno> {
        match self.target(ino)? {
            Target::Obj(fs, o) => Ok((fs, o)),
            _ => Err(Errno::EISDIR),
        }
    }
}

impl Filesystem for FuseFs {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        let want = InitFlags::FUSE_DO_READDIRPLUS
            | InitFlags::FUSE_READDIRPLUS_AUTO
            | InitFlags::FUSE_PARALLEL_DIROPS;
        let _ = config.add_capabilities(want & config.capabilities());
        let _ = config.set_max_write(1 << 20);
        let _ = config.set_max_readahead(1 << 20);
        let _ = config.set_max_background(64);
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let name = name.as_bytes();
        match self.target(parent) {
            Err(e) => reply.error(e),
            Ok(Target::CtlRoot) => match name {
                b"snapshot" => reply.entry(&self.opts.ttl, &ctl_attr(CTL_SNAPDIR), Generation(0)),
                b"." => reply.entry(&self.opts.ttl, &ctl_attr(CTL_ROOT), Generation(0)),
                _ => reply.error(Errno::ENOENT),
            },
            Ok(Target::CtlSnapdir) => match self.snapshot(name) {
                Ok((slot, fs)) => match fs.getattr(ROOT_OBJ) {
                    Ok(a) => {
                        fs.hold(ROOT_OBJ);
                        reply.entry(
                            &self.ttl(slot),
                            &self.file_attr(slot, &a),
                            Generation(a.z.gen),
                        )
                    }
                    Err(_) => {
                        // A snapshot of a filesystem never mounted: empty.
                        let mut at = ctl_attr(self.ino_of(slot, ROOT_OBJ));
                        at.perm = 0o755;
                        reply.entry(&self.ttl(slot), &at, Generation(0))
                    }
                },
                Err(e) => reply.error(e),
            },
            Ok(Target::Obj(fs, dir)) => {
                if dir == ROOT_OBJ && name == b".zfs" && Arc::ptr_eq(&fs, &self.live) {
                    return reply.entry(&self.opts.ttl, &ctl_attr(CTL_ROOT), Generation(0));
                }
                match fs.lookup(dir, name) {
                    Ok(a) => self.reply_entry(&fs, &a, reply),
                    Err(e) => reply.error(errno(&e)),
                }
            }
        }
    }

    fn forget(&self, _req: &Request, ino: INodeNo, nlookup: u64) {
        if let Ok(Target::Obj(fs, o)) = self.target(ino) {
            let _ = fs.rele(o, nlookup);
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        match self.target(ino) {
            Err(e) => reply.error(e),
            Ok(Target::CtlRoot) => reply.attr(&self.opts.ttl, &ctl_attr(CTL_ROOT)),
            Ok(Target::CtlSnapdir) => reply.attr(&self.opts.ttl, &ctl_attr(CTL_SNAPDIR)),
            Ok(Target::Obj(fs, o)) => match fs.getattr(o) {
                Ok(a) => {
                    let slot = self.slot_of(&fs);
                    reply.attr(&self.ttl(slot), &self.file_attr(slot, &a))
                }
                Err(e) => reply.error(errno(&e)),
            },
        }
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        ctime: Option<SystemTime>,
        _fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let (fs, o) = match self.obj(ino) {
            Ok(x) => x,
            Err(e) => return reply.error(e),
        };
        if let Err(e) = self.writable(&fs) {
            return reply.error(e);
        }
        let s = SetAttr {
            mode,
            uid,
            gid,
            size,
            atime: atime.map(to_time),
            mtime: mtime.map(to_time),
            ctime: ctime.map(Timespec::from_system),
        };
        match fs.setattr(o, &s) {
            Ok(a) => reply.attr(&self.opts.ttl, &self.file_attr(0, &a)),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        match self
            .obj(ino)
            .and_then(|(fs, o)| fs.readlink(o).map_err(|e| errno(&e)))
        {
            Ok(t) => reply.data(&t),
            Err(e) => reply.error(e),
        }
    }

    fn mknod(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        rdev: u32,
        reply: ReplyEntry,
    ) {
        self.make(req, parent, name, mode & !umask, rdev as u64, None, reply)
    }

    fn mkdir(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        reply: ReplyEntry,
    ) {
        self.make(
            req,
            parent,
            name,
            libc::S_IFDIR | (mode & !umask & 0o7777),
            0,
            None,
            reply,
        )
    }

    fn symlink(
        &self,
        req: &Request,
        parent: INodeNo,
        link_name: &OsStr,
        target: &std::path::Path,
        reply: ReplyEntry,
    ) {
        self.make(
            req,
            parent,
            link_name,
            libc::S_IFLNK | 0o777,
            0,
            Some(target.as_os_str().as_bytes()),
            reply,
        )
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        self.remove(parent, name, false, reply)
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        self.remove(parent, name, true, reply)
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: FuseRenameFlags,
        reply: ReplyEmpty,
    ) {
        let r = (|| -> Result<(), Errno> {
            let (fs, d) = self.obj(parent)?;
            let (fs2, nd) = self.obj(newparent)?;
            if !Arc::ptr_eq(&fs, &fs2) {
                return Err(Errno::EXDEV);
            }
            self.writable(&fs)?;
            let bits = flags.bits();
            let f = RenameFlags {
                noreplace: bits & libc::RENAME_NOREPLACE != 0,
                exchange: bits & libc::RENAME_EXCHANGE != 0,
            };
            if bits & !(libc::RENAME_NOREPLACE | libc::RENAME_EXCHANGE) != 0 {
                return Err(Errno::EINVAL);
            }
            fs.rename(d, name.as_bytes(), nd, newname.as_bytes(), f)
                .map_err(|e| errno(&e))
        })();
        match r {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn link(
        &self,
        _req: &Request,
        ino: INodeNo,
        newparent: INodeNo,
        newname: &OsStr,
        reply: ReplyEntry,
    ) {
        let r = (|| -> Result<(Arc<Zfs>, Attr), Errno> {
            let (fs, o) = self.obj(ino)?;
            let (fs2, nd) = self.obj(newparent)?;
            if !Arc::ptr_eq(&fs, &fs2) {
                return Err(Errno::EXDEV);
            }
            self.writable(&fs)?;
            let a = fs.link(o, nd, newname.as_bytes()).map_err(|e| errno(&e))?;
            Ok((fs, a))
        })();
        match r {
            Ok((fs, a)) => self.reply_entry(&fs, &a, reply),
            Err(e) => reply.error(e),
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        match self.target(ino) {
            Ok(Target::Obj(fs, _)) => {
                let acc = flags.0 & libc::O_ACCMODE;
                if acc != libc::O_RDONLY && self.writable(&fs).is_err() {
                    return reply.error(Errno::EROFS);
                }
                // O_DIRECT bypasses the kernel's page cache.
                let f = if flags.0 & libc::O_DIRECT != 0 {
                    FopenFlags::FOPEN_DIRECT_IO
                } else {
                    FopenFlags::empty()
                };
                reply.opened(FileHandle(0), f)
            }
            Ok(_) => reply.error(Errno::EISDIR),
            Err(e) => reply.error(e),
        }
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let (fs, o) = match self.obj(ino) {
            Ok(x) => x,
            Err(e) => return reply.error(e),
        };
        // One buffer per FUSE thread, reused: zeroing a new 1 MiB buffer
        // for every read cost 7% of a warm sequential read.
        thread_local! {
            static READ_BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        READ_BUF.with_borrow_mut(|buf| match fs.read_into(o, offset, size, buf) {
            Ok(n) => {
                if Arc::ptr_eq(&fs, &self.live) && !self.opts.read_only {
                    let _ = fs.touch_atime(o, self.opts.atime, self.opts.relatime);
                }
                reply.data(&buf[..n])
            }
            Err(e) => reply.error(errno(&e)),
        })
    }

    fn write(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        data: &[u8],
        write_flags: WriteFlags,
        flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        let (fs, o) = match self.obj(ino) {
            Ok(x) => x,
            Err(e) => return reply.error(e),
        };
        if let Err(e) = self.writable(&fs) {
            return reply.error(e);
        }
        let append = flags.0 & libc::O_APPEND != 0;
        let kill = write_flags.bits() & fuser::WriteFlags::FUSE_WRITE_KILL_SUIDGID.bits() != 0;
        match fs.write(o, offset, data, append, kill) {
            Ok(n) => {
                if flags.0 & (libc::O_SYNC | libc::O_DSYNC) != 0 {
                    if let Err(e) = fs.fsync(o) {
                        return reply.error(errno(&e));
                    }
                }
                reply.written(n)
            }
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        // Nothing to do at close: writes are in the DMU as they arrive and
        // locks are the kernel's. ENOSYS tells the kernel so, once: it
        // stops sending FLUSH, a round trip saved on every close.
        reply.error(Errno::ENOSYS)
    }

    fn fsync(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        match self
            .obj(ino)
            .and_then(|(fs, o)| fs.fsync(o).map_err(|e| errno(&e)))
        {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        match self.target(ino) {
            Ok(_) => reply.opened(FileHandle(0), FopenFlags::empty()),
            Err(e) => reply.error(e),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let r = self.list(ino, offset, &mut |e| {
            reply.add(e.ino, e.next, e.kind, e.name)
        });
        match r {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn readdirplus(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectoryPlus,
    ) {
        let r = self.list(ino, offset, &mut |e| {
            let full = reply.add(e.ino, e.next, e.name, &e.ttl, &e.attr, e.gen);
            // The kernel counts a lookup for every entry but "." and "..".
            if !full {
                if let Some((fs, obj)) = &e.held {
                    fs.hold(*obj);
                }
            }
            full
        });
        match r {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        datasync: bool,
        reply: ReplyEmpty,
    ) {
        self.fsync(_req, ino, fh, datasync, reply)
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        match self.live.statfs() {
            Ok(s) => reply.statfs(
                s.blocks,
                s.bfree,
                s.bavail,
                s.files,
                s.ffree,
                s.bsize,
                crate::fs::NAME_MAX as u32,
                s.bsize,
            ),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn setxattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        name: &OsStr,
        value: &[u8],
        flags: i32,
        _position: u32,
        reply: ReplyEmpty,
    ) {
        let r = (|| -> Result<(), Errno> {
            let (fs, o) = self.obj(ino)?;
            self.writable(&fs)?;
            fs.setxattr(
                o,
                name.as_bytes(),
                value,
                flags & libc::XATTR_CREATE != 0,
                flags & libc::XATTR_REPLACE != 0,
            )
            .map_err(|e| errno(&e))
        })();
        match r {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn getxattr(&self, _req: &Request, ino: INodeNo, name: &OsStr, size: u32, reply: ReplyXattr) {
        match self
            .obj(ino)
            .and_then(|(fs, o)| fs.getxattr(o, name.as_bytes()).map_err(|e| errno(&e)))
        {
            Ok(v) => {
                if size == 0 {
                    reply.size(v.len() as u32)
                } else if (v.len() as u32) > size {
                    reply.error(Errno::ERANGE)
                } else {
                    reply.data(&v)
                }
            }
            Err(e) => reply.error(e),
        }
    }

    fn listxattr(&self, _req: &Request, ino: INodeNo, size: u32, reply: ReplyXattr) {
        match self
            .obj(ino)
            .and_then(|(fs, o)| fs.listxattr(o).map_err(|e| errno(&e)))
        {
            Ok(names) => {
                let mut buf = Vec::new();
                for n in names {
                    buf.extend_from_slice(&n);
                    buf.push(0);
                }
                if size == 0 {
                    reply.size(buf.len() as u32)
                } else if (buf.len() as u32) > size {
                    reply.error(Errno::ERANGE)
                } else {
                    reply.data(&buf)
                }
            }
            Err(e) => reply.error(e),
        }
    }

    fn removexattr(&self, _req: &Request, ino: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let r = (|| -> Result<(), Errno> {
            let (fs, o) = self.obj(ino)?;
            self.writable(&fs)?;
            fs.removexattr(o, name.as_bytes()).map_err(|e| errno(&e))
        })();
        match r {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn access(&self, _req: &Request, _ino: INodeNo, _mask: AccessFlags, reply: ReplyEmpty) {
        // The kernel checks permissions (default_permissions).
        reply.ok()
    }

    fn create(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        let r = (|| -> Result<(Arc<Zfs>, Attr), Errno> {
            let (fs, d) = self.obj(parent)?;
            self.writable(&fs)?;
            let mode = libc::S_IFREG | (mode & !umask & 0o7777);
            let a = fs
                .create(d, name.as_bytes(), mode, req.uid(), req.gid(), 0, None)
                .map_err(|e| errno(&e))?;
            Ok((fs, a))
        })();
        match r {
            Ok((fs, a)) => {
                fs.hold(a.obj);
                let f = if flags & libc::O_DIRECT != 0 {
                    FopenFlags::FOPEN_DIRECT_IO
                } else {
                    FopenFlags::empty()
                };
                reply.created(
                    &self.opts.ttl,
                    &self.file_attr(0, &a),
                    Generation(a.z.gen),
                    FileHandle(0),
                    f,
                )
            }
            Err(e) => reply.error(e),
        }
    }

    fn fallocate(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        length: u64,
        mode: i32,
        reply: ReplyEmpty,
    ) {
        let r = (|| -> Result<(), Errno> {
            let (fs, o) = self.obj(ino)?;
            self.writable(&fs)?;
            fs.fallocate(o, offset, length, mode).map_err(|e| errno(&e))
        })();
        match r {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn lseek(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: i64,
        whence: i32,
        reply: ReplyLseek,
    ) {
        let r = (|| -> Result<i64, Errno> {
            let (fs, o) = self.obj(ino)?;
            match whence {
                libc::SEEK_DATA | libc::SEEK_HOLE => {
                    if offset < 0 {
                        return Err(Errno::ENXIO);
                    }
                    fs.seek(o, offset as u64, whence == libc::SEEK_DATA)
                        .map(|x| x as i64)
                        .map_err(|e| errno(&e))
                }
                _ => Err(Errno::EINVAL),
            }
        })();
        match r {
            Ok(x) => reply.offset(x),
            Err(e) => reply.error(e),
        }
    }
}

/// One directory entry as a listing gives it.
struct Listed<'a> {
    ino: INodeNo,
    next: u64,
    kind: FileType,
    name: &'a OsStr,
    attr: FileAttr,
    ttl: Duration,
    gen: Generation,
    /// The object a readdirplus reply makes the kernel hold.
    held: Option<(Arc<Zfs>, u64)>,
}

impl FuseFs {
    /// Lists the directory `ino` from `offset`, calling `add` per entry
    /// until it says the reply is full. Offsets: 1 after ".", 2 after "..",
    /// 3 after ".zfs", then a ZAP cookie + 3.
    fn list(
        &self,
        ino: INodeNo,
        offset: u64,
        add: &mut dyn FnMut(Listed) -> bool,
    ) -> Result<(), Errno> {
        let target = self.target(ino)?;
        let dir_attr = |i: u64| ctl_attr(i);
        let mut off = offset;
        let self_attr = match &target {
            Target::Obj(fs, o) => fs
                .getattr(*o)
                .map(|a| self.file_attr(self.slot_of(fs), &a))
                .map_err(|e| errno(&e))?,
            Target::CtlRoot => dir_attr(CTL_ROOT),
            Target::CtlSnapdir => dir_attr(CTL_SNAPDIR),
        };
        let dot = |name: &'static str, attr: FileAttr, next: u64| Listed {
            ino: attr.ino,
            next,
            kind: FileType::Directory,
            name: OsStr::new(name),
            attr,
            ttl: self.opts.ttl,
            gen: Generation(0),
            held: None,
        };
        if off == 0 {
            if add(dot(".", self_attr, 1)) {
                return Ok(());
            }
            off = 1;
        }
        if off == 1 {
            let parent = match &target {
                Target::CtlSnapdir => dir_attr(CTL_ROOT),
                _ => FileAttr {
                    ino: INodeNo(1),
                    ..self_attr
                },
            };
            if add(dot("..", parent, 2)) {
                return Ok(());
            }
            off = 2;
        }
        match target {
            Target::CtlRoot => {
                if off == 2 {
                    let _ = add(dot("snapshot", dir_attr(CTL_SNAPDIR), 3));
                }
                Ok(())
            }
            Target::CtlSnapdir => {
                for (i, n) in self
                    .snapshot_names()
                    .iter()
                    .enumerate()
                    .skip((off - 2) as usize)
                {
                    let (slot, fs) = self.snapshot(n.as_bytes())?;
                    let attr = match fs.getattr(ROOT_OBJ) {
                        Ok(a) => self.file_attr(slot, &a),
                        Err(_) => {
                            let mut a = ctl_attr(self.ino_of(slot, ROOT_OBJ));
                            a.perm = 0o755;
                            a
                        }
                    };
                    let held = fs.getattr(ROOT_OBJ).ok().map(|_| (fs.clone(), ROOT_OBJ));
                    let e = Listed {
                        ino: attr.ino,
                        next: 3 + i as u64,
                        kind: FileType::Directory,
                        name: OsStr::new(n.as_str()),
                        attr,
                        ttl: self.ttl(slot),
                        gen: Generation(0),
                        held,
                    };
                    if add(e) {
                        break;
                    }
                }
                Ok(())
            }
            Target::Obj(fs, dir) => {
                let slot = self.slot_of(&fs);
                if off == 2 {
                    if dir == ROOT_OBJ
                        && slot == 0
                        && self.opts.snapdir_visible
                        && add(dot(".zfs", dir_attr(CTL_ROOT), 3))
                    {
                        return Ok(());
                    }
                    off = 3;
                }
                let mut cookie = off - 3;
                'pages: loop {
                    let page = fs.readdir(dir, cookie, 128).map_err(|e| errno(&e))?;
                    if page.is_empty() {
                        break;
                    }
                    for e in &page {
                        let attr = match fs.getattr(e.obj) {
                            Ok(a) => (self.file_attr(slot, &a), Generation(a.z.gen)),
                            // Removed since the page was read: skip it.
                            Err(_) => {
                                cookie = e.next;
                                continue;
                            }
                        };
                        let l = Listed {
                            ino: INodeNo(self.ino_of(slot, e.obj)),
                            next: e.next + 3,
                            kind: kind_of(e.kind),
                            name: OsStr::from_bytes(&e.name),
                            attr: attr.0,
                            ttl: self.ttl(slot),
                            gen: attr.1,
                            held: Some((fs.clone(), e.obj)),
                        };
                        if add(l) {
                            break 'pages;
                        }
                        cookie = e.next;
                    }
                }
                if slot == 0 && !self.opts.read_only {
                    let _ = fs.touch_atime(dir, self.opts.atime, self.opts.relatime);
                }
                Ok(())
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn make(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        rdev: u64,
        target: Option<&[u8]>,
        reply: ReplyEntry,
    ) {
        let r = (|| -> Result<(Arc<Zfs>, Attr), Errno> {
            let (fs, d) = self.obj(parent)?;
            self.writable(&fs)?;
            let a = fs
                .create(d, name.as_bytes(), mode, req.uid(), req.gid(), rdev, target)
                .map_err(|e| errno(&e))?;
            Ok((fs, a))
        })();
        match r {
            Ok((fs, a)) => self.reply_entry(&fs, &a, reply),
            Err(e) => reply.error(e),
        }
    }

    fn remove(&self, parent: INodeNo, name: &OsStr, dir: bool, reply: ReplyEmpty) {
        let r = (|| -> Result<(), Errno> {
            let (fs, d) = self.obj(parent)?;
            self.writable(&fs)?;
            fs.remove(d, name.as_bytes(), dir).map_err(|e| errno(&e))
        })();
        match r {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }
}
