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
}
