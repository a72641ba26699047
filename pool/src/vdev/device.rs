//! Leaf devices: the things that store bytes (files, block devices, memory).

use std::io;
use std::os::fd::RawFd;

/// A leaf device: positioned reads and writes, and a flush that makes every
/// completed write durable.
pub trait BlockDevice: Send + Sync {
    /// The path (or test name) of the device, for messages.
    fn path(&self) -> &str;
    /// Size in bytes.
    fn size(&self) -> u64;
    /// Reads exactly `buf.len()` bytes at `offset`.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()>;
    /// Writes all of `buf` at `offset`.
    fn write_at(&self, offset: u64, buf: &[u8]) -> io::Result<()>;
    /// Makes every completed write durable.
    fn flush(&self) -> io::Result<()>;
    /// A file descriptor that io_uring may use instead of the methods above.
    fn uring_fd(&self) -> Option<RawFd> {
        None
    }
    /// True when the device went away under the pool: its path now names
    /// nothing or something else, or it shrank (a pulled disk, a deleted
    /// or truncated file).
    fn gone(&self) -> bool {
        false
    }
}

/// A device seen through a read-only window: reads pass through, writes and
/// flushes fail with `EROFS` (a pool opened by the checker).
pub struct ReadOnlyDevice(pub std::sync::Arc<dyn BlockDevice>);

impl BlockDevice for ReadOnlyDevice {
    fn path(&self) -> &str {
        self.0.path()
    }

    fn size(&self) -> u64 {
        self.0.size()
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.0.read_at(offset, buf)
    }

    fn write_at(&self, _offset: u64, _buf: &[u8]) -> io::Result<()> {
        Err(io::Error::from_raw_os_error(libc::EROFS))
    }

    fn flush(&self) -> io::Result<()> {
        Err(io::Error::from_raw_os_error(libc::EROFS))
    }

    fn gone(&self) -> bool {
        self.0.gone()
    }

    // No io_uring descriptor: every I/O goes through the methods above, so
    // no write can reach the device whichever fd it was opened with.
}
