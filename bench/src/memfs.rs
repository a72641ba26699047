//! memfs: a trivial in-memory FUSE filesystem, the FUSE ceiling. Whatever
//! a FUSE filesystem does, it cannot beat the kernel's FUSE round trip
//! with nothing behind it; memfs measures that round trip with fio and the
//! small-file workload, so Basin's FUSE layer (zonefs) can be judged
//! against it rather than against ext4.
//!
//! It keeps file data in 1 MiB chunks (holes read as zeros), one lock per
//! inode, serves FUSE on several threads with 1 MiB writes and keeps the
//! kernel's page cache across opens (it is the only writer). It supports
//! what fio and the small-file workload need: lookup, getattr, setattr
//! (mode, owner, size, times), create, mknod, mkdir, open, read, write,
//! flush, fsync, release, unlink, rmdir, rename, readdir and statfs.

use std::collections::{BTreeMap, HashMap};
use std::ffi::{OsStr, OsString};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use fuser::{
    Config, Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo,
    KernelConfig, LockOwner, MountOption, OpenFlags, RenameFlags, ReplyAttr, ReplyCreate,
    ReplyData, ReplyDirectory, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs, ReplyWrite, Request,
    SessionACL, TimeOrNow, WriteFlags,
};
use parking_lot::RwLock;

/// Bytes of one data chunk.
pub const CHUNK: usize = 1 << 20;
/// The largest write the kernel may send.
pub const MAX_WRITE: u32 = 1 << 20;
/// How long the kernel may cache attributes and names (memfs is the only
/// writer, so they never go stale).
const TTL: Duration = Duration::from_secs(60);
/// The size memfs reports (statfs), 64 GiB.
const REPORTED_BYTES: u64 = 64 << 30;
const BLOCK: u32 = 4096;
const ROOT: u64 = 1;

/// A file's bytes: chunks of up to [`CHUNK`] bytes, each only as long as
/// its last written byte (a 4 KiB file holds 4 KiB); what lies past a
/// chunk's end, or in a missing chunk, reads as zeros.
#[derive(Default)]
struct Data {
    size: u64,
    chunks: Vec<Option<Vec<u8>>>,
}

impl Data {
    fn read_into(&self, offset: u64, out: &mut [u8]) {
        let mut done = 0;
        while done < out.len() {
            let pos = offset + done as u64;
            let c = (pos / CHUNK as u64) as usize;
            let in_c = (pos % CHUNK as u64) as usize;
            let n = (CHUNK - in_c).min(out.len() - done);
            let have = match self.chunks.get(c).and_then(|x| x.as_ref()) {
                Some(chunk) if chunk.len() > in_c => {
                    let k = (chunk.len() - in_c).min(n);
                    out[done..done + k].copy_from_slice(&chunk[in_c..in_c + k]);
                    k
                }
                _ => 0,
            };
            out[done + have..done + n].fill(0);
            done += n;
        }
    }

    fn write(&mut self, offset: u64, data: &[u8]) {
        let mut done = 0;
        while done < data.len() {
            let pos = offset + done as u64;
            let c = (pos / CHUNK as u64) as usize;
            let in_c = (pos % CHUNK as u64) as usize;
            let n = (CHUNK - in_c).min(data.len() - done);
            if self.chunks.len() <= c {
                self.chunks.resize_with(c + 1, || None);
            }
            let chunk = self.chunks[c].get_or_insert_with(Vec::new);
            let end = in_c + n;
            if chunk.len() < end {
                if chunk.capacity() < end {
                    // Grow by doubling, never past a chunk.
                    let want = end.next_power_of_two().clamp(4096, CHUNK);
                    chunk.reserve_exact(want - chunk.len());
                }
                chunk.resize(end, 0);
            }
            chunk[in_c..end].copy_from_slice(&data[done..done + n]);
            done += n;
        }
        self.size = self.size.max(offset + data.len() as u64);
    }

    fn truncate(&mut self, size: u64) {
        let keep = size.div_ceil(CHUNK as u64) as usize;
        self.chunks.truncate(keep);
        // Cut the last chunk so that growing again reads zeros.
        let in_c = (size % CHUNK as u64) as usize;
        if in_c != 0 {
            if let Some(Some(last)) = self.chunks.last_mut() {
                last.truncate(in_c);
            }
        }
        self.size = size;
    }

    fn allocated(&self) -> u64 {
        self.chunks.iter().flatten().map(|c| c.len() as u64).sum()
    }
}

enum Body {
    File(Data),
    Dir(BTreeMap<OsString, u64>),
}

struct Inode {
    attr: FileAttr,
    body: Body,
}

impl Inode {
    fn refresh_size(&mut self) {
        if let Body::File(d) = &self.body {
            self.attr.size = d.size;
            self.attr.blocks = d.allocated() / 512;
        }
    }
}

type Node = Arc<RwLock<Inode>>;

/// The filesystem: a table of inodes, each behind its own lock.
pub struct MemFs {
    nodes: RwLock<HashMap<u64, Node>>,
    next: AtomicU64,
}

impl Default for MemFs {
    fn default() -> Self {
        MemFs::new()
    }
}

fn attr(ino: u64, kind: FileType, perm: u16, uid: u32, gid: u32) -> FileAttr {
    let now = SystemTime::now();
    FileAttr {
        ino: INodeNo(ino),
        size: 0,
        blocks: 0,
        atime: now,
        mtime: now,
        ctime: now,
        crtime: now,
        kind,
        perm,
        nlink: if kind == FileType::Directory { 2 } else { 1 },
        uid,
        gid,
        rdev: 0,
        blksize: BLOCK,
        flags: 0,
    }
}

impl MemFs {
    /// An empty filesystem: a root directory owned by root, mode 0777 so
    /// that any user of the benchmark may write.
    pub fn new() -> MemFs {
        let root = Inode {
            attr: attr(ROOT, FileType::Directory, 0o777, 0, 0),
            body: Body::Dir(BTreeMap::new()),
        };
        let mut nodes = HashMap::new();
        nodes.insert(ROOT, Arc::new(RwLock::new(root)));
        MemFs {
            nodes: RwLock::new(nodes),
            next: AtomicU64::new(ROOT + 1),
        }
    }

    fn node(&self, ino: u64) -> Result<Node, Errno> {
        self.nodes.read().get(&ino).cloned().ok_or(Errno::ENOENT)
    }

    /// Looks `name` up in directory `parent`.
    pub fn lookup(&self, parent: u64, name: &OsStr) -> Result<FileAttr, Errno> {
        let dir = self.node(parent)?;
        let ino = match &dir.read().body {
            Body::Dir(entries) => *entries.get(name).ok_or(Errno::ENOENT)?,
            Body::File(_) => return Err(Errno::ENOTDIR),
        };
        self.getattr(ino)
    }

    /// The attributes of `ino`.
    pub fn getattr(&self, ino: u64) -> Result<FileAttr, Errno> {
        Ok(self.node(ino)?.read().attr)
    }

    /// Changes attributes; a size truncates or extends a file.
    #[allow(clippy::too_many_arguments)]
    pub fn setattr(
        &self,
        ino: u64,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<SystemTime>,
        mtime: Option<SystemTime>,
    ) -> Result<FileAttr, Errno> {
        let node = self.node(ino)?;
        let mut n = node.write();
        if let Some(size) = size {
            match &mut n.body {
                Body::File(d) => d.truncate(size),
                Body::Dir(_) => return Err(Errno::EISDIR),
            }
            n.refresh_size();
            n.attr.mtime = SystemTime::now();
        }
        if let Some(m) = mode {
            n.attr.perm = (m & 0o7777) as u16;
        }
        if let Some(u) = uid {
            n.attr.uid = u;
        }
        if let Some(g) = gid {
            n.attr.gid = g;
        }
        if let Some(t) = atime {
            n.attr.atime = t;
        }
        if let Some(t) = mtime {
            n.attr.mtime = t;
        }
        n.attr.ctime = SystemTime::now();
        Ok(n.attr)
    }

    /// Creates a file or directory `name` in `parent`.
    pub fn make(
        &self,
        parent: u64,
        name: &OsStr,
        kind: FileType,
        mode: u32,
        uid: u32,
        gid: u32,
    ) -> Result<FileAttr, Errno> {
        if name.len() > 255 {
            return Err(Errno::ENAMETOOLONG);
        }
        let dir = self.node(parent)?;
        let mut d = dir.write();
        let Body::Dir(entries) = &mut d.body else {
            return Err(Errno::ENOTDIR);
        };
        if entries.contains_key(name) {
            return Err(Errno::EEXIST);
        }
        let ino = self.next.fetch_add(1, Ordering::Relaxed);
        let a = attr(ino, kind, (mode & 0o7777) as u16, uid, gid);
        let body = if kind == FileType::Directory {
            Body::Dir(BTreeMap::new())
        } else {
            Body::File(Data::default())
        };
        self.nodes
            .write()
            .insert(ino, Arc::new(RwLock::new(Inode { attr: a, body })));
        entries.insert(name.to_os_string(), ino);
        if kind == FileType::Directory {
            d.attr.nlink += 1;
        }
        d.attr.mtime = SystemTime::now();
        d.attr.ctime = d.attr.mtime;
        Ok(a)
    }

    /// Removes `name` from `parent`; `dir` says whether it must be an
    /// (empty) directory or must not be one.
    pub fn remove(&self, parent: u64, name: &OsStr, dir: bool) -> Result<(), Errno> {
        let pnode = self.node(parent)?;
        let mut p = pnode.write();
        let Body::Dir(entries) = &mut p.body else {
            return Err(Errno::ENOTDIR);
        };
        let ino = *entries.get(name).ok_or(Errno::ENOENT)?;
        let child = self.node(ino)?;
        {
            let c = child.read();
            match (&c.body, dir) {
                (Body::Dir(e), true) if !e.is_empty() => return Err(Errno::ENOTEMPTY),
                (Body::Dir(_), false) => return Err(Errno::EISDIR),
                (Body::File(_), true) => return Err(Errno::ENOTDIR),
                _ => {}
            }
        }
        entries.remove(name);
        if dir {
            p.attr.nlink = p.attr.nlink.saturating_sub(1);
        }
        p.attr.mtime = SystemTime::now();
        p.attr.ctime = p.attr.mtime;
        self.nodes.write().remove(&ino);
        Ok(())
    }

    /// Renames `name` in `parent` to `newname` in `newparent`, replacing a
    /// file (or an empty directory) of that name.
    pub fn rename(
        &self,
        parent: u64,
        name: &OsStr,
        newparent: u64,
        newname: &OsStr,
    ) -> Result<(), Errno> {
        let ino = match &self.node(parent)?.read().body {
            Body::Dir(e) => *e.get(name).ok_or(Errno::ENOENT)?,
            Body::File(_) => return Err(Errno::ENOTDIR),
        };
        let is_dir = matches!(self.node(ino)?.read().body, Body::Dir(_));
        // Replace whatever is at the destination (POSIX rename semantics).
        let existing = match &self.node(newparent)?.read().body {
            Body::Dir(e) => e.get(newname).copied(),
            Body::File(_) => return Err(Errno::ENOTDIR),
        };
        if existing == Some(ino) {
            return Ok(());
        }
        if existing.is_some() {
            self.remove(newparent, newname, is_dir)?;
        }
        {
            let p = self.node(parent)?;
            let mut p = p.write();
            if let Body::Dir(e) = &mut p.body {
                e.remove(name);
            }
            if is_dir {
                p.attr.nlink = p.attr.nlink.saturating_sub(1);
            }
        }
        let np = self.node(newparent)?;
        let mut np = np.write();
        if let Body::Dir(e) = &mut np.body {
            e.insert(newname.to_os_string(), ino);
        }
        if is_dir {
            np.attr.nlink += 1;
        }
        Ok(())
    }

    /// Reads up to `size` bytes at `offset` (short at the end of the file)
    /// and hands them to `f`.
    pub fn read<R>(
        &self,
        ino: u64,
        offset: u64,
        size: u32,
        f: impl FnOnce(&[u8]) -> R,
    ) -> Result<R, Errno> {
        let node = self.node(ino)?;
        let n = node.read();
        let Body::File(d) = &n.body else {
            return Err(Errno::EISDIR);
        };
        if offset >= d.size {
            return Ok(f(&[]));
        }
        let len = (size as u64).min(d.size - offset) as usize;
        let c = (offset / CHUNK as u64) as usize;
        let in_c = (offset % CHUNK as u64) as usize;
        // Within what one chunk holds: straight from it, no copy.
        if let Some(Some(chunk)) = d.chunks.get(c) {
            if in_c + len <= chunk.len() {
                return Ok(f(&chunk[in_c..in_c + len]));
            }
        }
        let mut buf = vec![0u8; len];
        d.read_into(offset, &mut buf);
        Ok(f(&buf))
    }

    /// Writes `data` at `offset`.
    pub fn write(&self, ino: u64, offset: u64, data: &[u8]) -> Result<u32, Errno> {
        if offset.checked_add(data.len() as u64).is_none() {
            return Err(Errno::EFBIG);
        }
        let node = self.node(ino)?;
        let mut n = node.write();
        let Body::File(d) = &mut n.body else {
            return Err(Errno::EISDIR);
        };
        d.write(offset, data);
        n.refresh_size();
        n.attr.mtime = SystemTime::now();
        Ok(data.len() as u32)
    }

    /// Entries of directory `ino` from position `offset` on: (position of
    /// the next entry, inode, kind, name), `.` and `..` first.
    pub fn readdir(
        &self,
        ino: u64,
        offset: u64,
    ) -> Result<Vec<(u64, u64, FileType, OsString)>, Errno> {
        let node = self.node(ino)?;
        let n = node.read();
        let Body::Dir(entries) = &n.body else {
            return Err(Errno::ENOTDIR);
        };
        let mut all = vec![
            (ino, FileType::Directory, OsString::from(".")),
            (ino, FileType::Directory, OsString::from("..")),
        ];
        let nodes = self.nodes.read();
        for (name, child) in entries {
            let kind = nodes
                .get(child)
                .map(|c| c.read().attr.kind)
                .unwrap_or(FileType::RegularFile);
            all.push((*child, kind, name.clone()));
        }
        Ok(all
            .into_iter()
            .enumerate()
            .skip(offset as usize)
            .map(|(i, (ino, kind, name))| (i as u64 + 1, ino, kind, name))
            .collect())
    }

    /// (blocks, free blocks, files, free files) for statfs.
    pub fn statfs(&self) -> (u64, u64, u64, u64) {
        let nodes = self.nodes.read();
        let used: u64 = nodes
            .values()
            .map(|n| match &n.read().body {
                Body::File(d) => d.allocated(),
                Body::Dir(_) => 0,
            })
            .sum();
        let blocks = REPORTED_BYTES / BLOCK as u64;
        let free = blocks.saturating_sub(used / BLOCK as u64);
        let files = 1 << 24;
        (blocks, free, files, files - nodes.len() as u64)
    }
}

fn time_of(t: Option<TimeOrNow>) -> Option<SystemTime> {
    t.map(|t| match t {
        TimeOrNow::SpecificTime(s) => s,
        TimeOrNow::Now => SystemTime::now(),
    })
}

fn kind_of(mode: u32) -> FileType {
    match mode & libc::S_IFMT {
        libc::S_IFDIR => FileType::Directory,
        _ => FileType::RegularFile,
    }
}

/// The FUSE front of a [`MemFs`].
pub struct MemFsFuse(pub Arc<MemFs>);

impl Filesystem for MemFsFuse {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        // Best effort: an older kernel keeps its own limits.
        let _ = config.set_max_write(MAX_WRITE);
        let _ = config.set_max_readahead(MAX_WRITE);
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        match self.0.lookup(parent.0, name) {
            Ok(a) => reply.entry(&TTL, &a, Generation(0)),
            Err(e) => reply.error(e),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        match self.0.getattr(ino.0) {
            Ok(a) => reply.attr(&TTL, &a),
            Err(e) => reply.error(e),
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
        _ctime: Option<SystemTime>,
        _fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        match self
            .0
            .setattr(ino.0, mode, uid, gid, size, time_of(atime), time_of(mtime))
        {
            Ok(a) => reply.attr(&TTL, &a),
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
        _rdev: u32,
        reply: ReplyEntry,
    ) {
        if mode & libc::S_IFMT != libc::S_IFREG && mode & libc::S_IFMT != 0 {
            reply.error(Errno::ENOSYS);
            return;
        }
        let m = mode & !umask;
        match self.0.make(
            parent.0,
            name,
            FileType::RegularFile,
            m,
            req.uid(),
            req.gid(),
        ) {
            Ok(a) => reply.entry(&TTL, &a, Generation(0)),
            Err(e) => reply.error(e),
        }
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
        let m = mode & !umask;
        match self
            .0
            .make(parent.0, name, FileType::Directory, m, req.uid(), req.gid())
        {
            Ok(a) => reply.entry(&TTL, &a, Generation(0)),
            Err(e) => reply.error(e),
        }
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        match self.0.remove(parent.0, name, false) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        match self.0.remove(parent.0, name, true) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        _flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        match self.0.rename(parent.0, name, newparent.0, newname) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        if let Err(e) = self.0.getattr(ino.0) {
            reply.error(e);
            return;
        }
        if flags.0 & libc::O_TRUNC != 0 {
            if let Err(e) = self.0.setattr(ino.0, None, None, None, Some(0), None, None) {
                reply.error(e);
                return;
            }
        }
        reply.opened(FileHandle(0), FopenFlags::FOPEN_KEEP_CACHE);
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
        let mut reply = Some(reply);
        let r = self.0.read(ino.0, offset, size, |b| {
            if let Some(r) = reply.take() {
                r.data(b);
            }
        });
        if let (Err(e), Some(r)) = (r, reply.take()) {
            r.error(e);
        }
    }

    fn write(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        match self.0.write(ino.0, offset, data) {
            Ok(n) => reply.written(n),
            Err(e) => reply.error(e),
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
        reply.ok();
    }

    fn fsync(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        // Memory is as durable as memfs gets.
        reply.ok();
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        reply.ok();
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        match self.0.readdir(ino.0, offset) {
            Ok(entries) => {
                for (next, child, kind, name) in entries {
                    if reply.add(INodeNo(child), next, kind, &name) {
                        break;
                    }
                }
                reply.ok();
            }
            Err(e) => reply.error(e),
        }
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        let (blocks, bfree, files, ffree) = self.0.statfs();
        reply.statfs(blocks, bfree, bfree, files, ffree, BLOCK, 255, BLOCK);
    }

    fn access(&self, _req: &Request, ino: INodeNo, _mask: fuser::AccessFlags, reply: ReplyEmpty) {
        match self.0.getattr(ino.0) {
            Ok(_) => reply.ok(),
            Err(e) => reply.error(e),
        }
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
        let kind = kind_of(mode);
        let r = match self
            .0
            .make(parent.0, name, kind, mode & !umask, req.uid(), req.gid())
        {
            Err(e) if e == Errno::EEXIST && flags & libc::O_EXCL == 0 => {
                // Open the existing file (O_CREAT without O_EXCL).
                self.0.lookup(parent.0, name).and_then(|a| {
                    if flags & libc::O_TRUNC != 0 {
                        self.0
                            .setattr(a.ino.0, None, None, None, Some(0), None, None)
                    } else {
                        Ok(a)
                    }
                })
            }
            r => r,
        };
        match r {
            Ok(a) => reply.created(
                &TTL,
                &a,
                Generation(0),
                FileHandle(0),
                FopenFlags::FOPEN_KEEP_CACHE,
            ),
            Err(e) => reply.error(e),
        }
    }
}

/// Mounts a fresh memfs on `mountpoint` and serves it on `threads`
/// threads until it is unmounted.
pub fn serve(mountpoint: &Path, threads: usize) -> std::io::Result<()> {
    let mut config = Config::default();
    config.mount_options = vec![
        MountOption::FSName("memfs".into()),
        MountOption::Subtype("memfs".into()),
        MountOption::AutoUnmount,
        MountOption::NoAtime,
    ];
    config.acl = SessionACL::All;
    config.n_threads = Some(threads.max(1));
    config.clone_fd = threads > 1;
    fuser::mount(MemFsFuse(Arc::new(MemFs::new())), mountpoint, &config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> &OsStr {
        OsStr::new(s)
    }

    fn read_all(fs: &MemFs, ino: u64, off: u64, n: u32) -> Vec<u8> {
        fs.read(ino, off, n, |b| b.to_vec()).unwrap()
    }

    #[test]
    fn files_behave_like_a_vec() {
        let fs = MemFs::new();
        let a = fs
            .make(ROOT, name("f"), FileType::RegularFile, 0o644, 0, 0)
            .unwrap();
        let ino = a.ino.0;
        let mut model: Vec<u8> = Vec::new();
        let mut x = 7u64;
        for step in 0..300 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let off = (x >> 33) % (3 * CHUNK as u64);
            let len = ((x >> 13) % 70_000) as usize + 1;
            if step % 17 == 0 {
                let size = off / 2;
                fs.setattr(ino, None, None, None, Some(size), None, None)
                    .unwrap();
                model.resize(size as usize, 0);
                continue;
            }
            let data: Vec<u8> = (0..len).map(|i| (i as u64 ^ x) as u8).collect();
            assert_eq!(fs.write(ino, off, &data).unwrap(), len as u32);
            let end = off as usize + len;
            if model.len() < end {
                model.resize(end, 0);
            }
            model[off as usize..end].copy_from_slice(&data);
            assert_eq!(fs.getattr(ino).unwrap().size, model.len() as u64);
            let r = read_all(&fs, ino, off.saturating_sub(100), 200_000);
            let s = off.saturating_sub(100) as usize;
            let e = (s + 200_000).min(model.len());
            assert_eq!(r, model[s..e], "step {step}");
        }
    }

    #[test]
    fn directories_and_names() {
        let fs = MemFs::new();
        let d = fs
            .make(ROOT, name("d"), FileType::Directory, 0o755, 0, 0)
            .unwrap();
        let dir = d.ino.0;
        assert_eq!(fs.getattr(ROOT).unwrap().nlink, 3);
        for i in 0..5 {
            fs.make(
                dir,
                name(&format!("f{i}")),
                FileType::RegularFile,
                0o644,
                0,
                0,
            )
            .unwrap();
        }
        assert_eq!(
            fs.make(dir, name("f0"), FileType::RegularFile, 0o644, 0, 0),
            Err(Errno::EEXIST)
        );
        let all = fs.readdir(dir, 0).unwrap();
        assert_eq!(all.len(), 7);
        let rest = fs.readdir(dir, all[3].0).unwrap();
        assert_eq!(rest.len(), 3);
        assert_eq!(fs.remove(ROOT, name("d"), true), Err(Errno::ENOTEMPTY));
        assert_eq!(fs.remove(dir, name("f0"), true), Err(Errno::ENOTDIR));
        fs.rename(dir, name("f1"), ROOT, name("moved")).unwrap();
        assert!(fs.lookup(ROOT, name("moved")).is_ok());
        assert_eq!(fs.lookup(dir, name("f1")), Err(Errno::ENOENT));
        // Renaming over an existing file replaces it.
        fs.rename(dir, name("f2"), ROOT, name("moved")).unwrap();
        assert_eq!(fs.readdir(dir, 0).unwrap().len(), 5);
        for i in [0, 3, 4] {
            fs.remove(dir, name(&format!("f{i}")), false).unwrap();
        }
        fs.remove(ROOT, name("d"), true).unwrap();
        assert_eq!(fs.getattr(ROOT).unwrap().nlink, 2);
        let (blocks, free, files, ffree) = fs.statfs();
        assert!(free <= blocks && ffree < files);
    }

    #[test]
    fn holes_read_as_zeros() {
        let fs = MemFs::new();
        let ino = fs
            .make(ROOT, name("h"), FileType::RegularFile, 0o644, 0, 0)
            .unwrap()
            .ino
            .0;
        fs.write(ino, 5 * CHUNK as u64, b"x").unwrap();
        assert_eq!(read_all(&fs, ino, CHUNK as u64, 10), vec![0u8; 10]);
        // Only what was written is held.
        assert_eq!(fs.getattr(ino).unwrap().blocks, 0);
        fs.write(ino, 0, &[1u8; 4096]).unwrap();
        assert_eq!(fs.getattr(ino).unwrap().blocks, 8);
        // Reads stop at the end of the file.
        assert_eq!(read_all(&fs, ino, 5 * CHUNK as u64, 100), b"x".to_vec());
        assert!(read_all(&fs, ino, 6 * CHUNK as u64, 100).is_empty());
    }
}
