//! File and block-device leaves.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::{FileExt, FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::Path;

use super::device::BlockDevice;
use crate::error::{PoolError, Result};

/// How to open a leaf.
#[derive(Clone, Copy, Debug)]
pub struct OpenMode {
    /// Open for writing (a pool import) rather than read-only (the checker).
    pub writable: bool,
    /// Bypass the page cache (falls back silently where refused).
    pub direct: bool,
}

/// A regular file or a block device.
pub struct FileDevice {
    path: String,
    file: File,
    size: u64,
    is_block: bool,
    direct: bool,
    id: (u64, u64),
}

nix::ioctl_read!(blk_get_size64, 0x12, 114, u64);

impl FileDevice {
    /// Opens `path` and takes a lock on it: exclusive when writable, shared
    /// when read-only, so a reader cannot see a pool that is imported.
    pub fn open(path: &Path, mode: OpenMode) -> Result<FileDevice> {
        let name = path.display().to_string();
        let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => PoolError::MissingVdev(path.to_path_buf()),
            _ => PoolError::io(&name, e),
        })?;
        let is_block = meta.file_type().is_block_device();
        if !is_block && !meta.file_type().is_file() {
            return Err(PoolError::BadVdevSpec(format!(
                "{name} is neither a regular file nor a block device"
            )));
        }
        let open = |direct: bool| {
            let mut o = OpenOptions::new();
            o.read(true).write(mode.writable);
            if direct {
                o.custom_flags(libc::O_DIRECT);
            }
            o.open(path)
        };
        let (file, direct) = match mode.direct {
            true => match open(true) {
                Ok(f) if probe_direct(&f) => (f, true),
                _ => (open(false).map_err(|e| PoolError::io(&name, e))?, false),
            },
            false => (open(false).map_err(|e| PoolError::io(&name, e))?, false),
        };
        let op = if mode.writable {
            nix::fcntl::FlockArg::LockExclusiveNonblock
        } else {
            nix::fcntl::FlockArg::LockSharedNonblock
        };
        #[allow(deprecated)]
        if nix::fcntl::flock(file.as_raw_fd(), op).is_err() {
            return Err(PoolError::VdevLocked(name));
        }
        let size = if is_block {
            let mut sz: u64 = 0;
            // SAFETY: BLKGETSIZE64 writes one u64 through the pointer, which
            // points at a live local.
            unsafe { blk_get_size64(file.as_raw_fd(), &mut sz) }
                .map_err(|e| PoolError::io(&name, io::Error::from(e)))?;
            sz
        } else {
            meta.len()
        };
        Ok(FileDevice {
            path: name,
            file,
            size,
            is_block,
            direct,
            id: (meta.dev(), meta.ino()),
        })
    }

    /// True when the page cache is bypassed.
    pub fn is_direct(&self) -> bool {
        self.direct
    }

    /// True for a block device.
    pub fn is_block_device(&self) -> bool {
        self.is_block
    }

    /// (device, inode) of the underlying file, to spot the same vdev named
    /// twice under different paths.
    pub fn identity(&self) -> (u64, u64) {
        self.id
    }
}

/// True when an aligned O_DIRECT read works on `f` (tmpfs, for one, refuses).
fn probe_direct(f: &File) -> bool {
    let mut buf = super::buf::AlignedBuf::zeroed(4096);
    match f.read_at(&mut buf, 0) {
        Ok(_) => true,
        Err(e) => e.raw_os_error() != Some(libc::EINVAL),
    }
}

impl BlockDevice for FileDevice {
    fn path(&self) -> &str {
        &self.path
    }

    fn size(&self) -> u64 {
        self.size
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.file.read_exact_at(buf, offset)
    }

    fn write_at(&self, offset: u64, buf: &[u8]) -> io::Result<()> {
        self.file.write_all_at(buf, offset)
    }

    fn flush(&self) -> io::Result<()> {
        self.file.sync_data()
    }

    fn uring_fd(&self) -> Option<RawFd> {
        Some(self.file.as_raw_fd())
    }

    fn gone(&self) -> bool {
        let Ok(now) = std::fs::metadata(&self.path) else {
            return true;
        };
        use std::os::unix::fs::MetadataExt;
        if (now.dev(), now.ino()) != self.id {
            return true;
        }
        // A truncated file: the open file shrank below the pool's size.
        !self.is_block && self.file.metadata().map(|m| m.len()).unwrap_or(0) < self.size
    }
}
