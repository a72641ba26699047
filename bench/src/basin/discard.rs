//! A device that forgets large writes: labels, uberblocks, space maps and
//! the pool's other small metadata are kept (in 4 KiB pages) so the pool
//! runs normally, while data blocks (writes of 512 KiB or more away from
//! the labels) cost nothing. With it, pushing blocks through the pool
//! measures the CPU of the write pipeline alone. A read of a forgotten
//! block returns zeros, which fails its checksum: loudly, never silently.

use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};

use basin_pool::label::{BACK_RESERVE, FRONT_RESERVE};
use basin_pool::vdev::BlockDevice;
use parking_lot::RwLock;

const PAGE: u64 = 4096;
/// Writes at least this long (outside the label areas) are forgotten.
pub const DISCARD_FROM: usize = 512 * 1024;

/// The device.
pub struct DiscardDevice {
    name: String,
    size: u64,
    pages: RwLock<HashMap<u64, Box<[u8]>>>,
    discarded: AtomicU64,
}

impl DiscardDevice {
    /// A device of `size` bytes.
    pub fn new(name: &str, size: u64) -> DiscardDevice {
        DiscardDevice {
            name: name.to_string(),
            size,
            pages: RwLock::new(HashMap::new()),
            discarded: AtomicU64::new(0),
        }
    }

    /// Bytes forgotten so far.
    pub fn discarded(&self) -> u64 {
        self.discarded.load(Ordering::Relaxed)
    }

    fn check(&self, offset: u64, len: usize) -> io::Result<()> {
        match offset.checked_add(len as u64) {
            Some(end) if end <= self.size => Ok(()),
            _ => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "I/O at {offset}+{len} beyond the device's {} bytes",
                    self.size
                ),
            )),
        }
    }
}

impl BlockDevice for DiscardDevice {
    fn path(&self) -> &str {
        &self.name
    }

    fn size(&self) -> u64 {
        self.size
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.check(offset, buf.len())?;
        let pages = self.pages.read();
        let mut done = 0usize;
        while done < buf.len() {
            let pos = offset + done as u64;
            let page = pos / PAGE;
            let in_p = (pos % PAGE) as usize;
            let n = (PAGE as usize - in_p).min(buf.len() - done);
            match pages.get(&page) {
                Some(p) => buf[done..done + n].copy_from_slice(&p[in_p..in_p + n]),
                None => buf[done..done + n].fill(0),
            }
            done += n;
        }
        Ok(())
    }

    fn write_at(&self, offset: u64, buf: &[u8]) -> io::Result<()> {
        self.check(offset, buf.len())?;
        let in_labels =
            offset < FRONT_RESERVE || offset + buf.len() as u64 > self.size - BACK_RESERVE;
        if buf.len() >= DISCARD_FROM && !in_labels {
            self.discarded
                .fetch_add(buf.len() as u64, Ordering::Relaxed);
            return Ok(());
        }
        let mut pages = self.pages.write();
        let mut done = 0usize;
        while done < buf.len() {
            let pos = offset + done as u64;
            let page = pos / PAGE;
            let in_p = (pos % PAGE) as usize;
            let n = (PAGE as usize - in_p).min(buf.len() - done);
            let p = pages
                .entry(page)
                .or_insert_with(|| vec![0u8; PAGE as usize].into_boxed_slice());
            p[in_p..in_p + n].copy_from_slice(&buf[done..done + n]);
            done += n;
        }
        Ok(())
    }

    fn flush(&self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_writes_stay_large_ones_go() {
        let d = DiscardDevice::new("d", 64 << 20);
        d.write_at(8 << 20, b"metadata").unwrap();
        let mut b = [0u8; 8];
        d.read_at(8 << 20, &mut b).unwrap();
        assert_eq!(&b, b"metadata");
        let big = vec![7u8; DISCARD_FROM];
        d.write_at(16 << 20, &big).unwrap();
        assert_eq!(d.discarded(), DISCARD_FROM as u64);
        let mut r = vec![1u8; 16];
        d.read_at(16 << 20, &mut r).unwrap();
        assert_eq!(r, vec![0u8; 16]);
        // Large writes into the label areas are kept.
        d.write_at(0, &big).unwrap();
        let mut r = [0u8; 4];
        d.read_at(100, &mut r).unwrap();
        assert_eq!(r, [7u8; 4]);
        assert!(d.write_at(64 << 20, b"x").is_err());
    }
}
