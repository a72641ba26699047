//! Page-aligned I/O buffers, as O_DIRECT and io_uring want them.
//!
//! Large buffers (64 KiB and more) are recycled through
//! [`super::bufcache`]: dropping one keeps it for the next block rather than
//! giving it back to the system, so a steady stream of blocks neither
//! faults pages in nor unmaps them. Every byte of an allocation is
//! initialised at all times (fresh allocations are zeroed or written in
//! full; recycled ones hold an earlier block), and the bytes a buffer shows
//! are always written first: zeros, a copy, or the device's data.

use std::alloc;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

use super::bufcache;

/// Alignment of every I/O buffer.
pub const IO_ALIGN: usize = 4096;

/// What debug builds fill [`AlignedBuf::for_overwrite`] buffers with.
#[cfg(debug_assertions)]
pub const POISON: u8 = 0xa5;

/// A heap buffer aligned to [`IO_ALIGN`].
pub struct AlignedBuf {
    ptr: NonNull<u8>,
    len: usize,
    cap: usize,
}

// SAFETY: AlignedBuf owns its allocation exclusively, like a Vec<u8>; moving it
// between threads or sharing `&AlignedBuf` is as safe as for Vec<u8>.
unsafe impl Send for AlignedBuf {}
// SAFETY: see above; shared access only hands out `&[u8]`.
unsafe impl Sync for AlignedBuf {}

impl AlignedBuf {
    /// An allocation for `len` bytes whose visible bytes are still to be
    /// written: recycled (initialised, stale) when the cache has one, else
    /// fresh and written by `fresh` in full. The caller writes the first
    /// `len` bytes before showing them.
    fn alloc_with(len: usize, fresh: impl FnOnce(*mut u8, usize)) -> (Self, bool) {
        let cap = bufcache::capacity_for(len);
        if let Some(ptr) = bufcache::take(cap) {
            return (AlignedBuf { ptr, len, cap }, true);
        }
        let layout = bufcache::layout(cap);
        // SAFETY: the layout has a non-zero size (cap >= IO_ALIGN).
        let raw = unsafe { alloc::alloc(layout) };
        let ptr = NonNull::new(raw).unwrap_or_else(|| alloc::handle_alloc_error(layout));
        fresh(ptr.as_ptr(), cap);
        (AlignedBuf { ptr, len, cap }, false)
    }

    /// A zeroed buffer of `len` bytes (capacity rounded up to [`IO_ALIGN`],
    /// or to 64 KiB for large buffers).
    pub fn zeroed(len: usize) -> Self {
        let (mut b, recycled) = Self::alloc_with(len, |p, cap| {
            // SAFETY: `p` is a fresh allocation of `cap` bytes.
            unsafe { std::ptr::write_bytes(p, 0, cap) }
        });
        if recycled {
            b.fill(0);
        }
        b
    }

    /// A buffer of `len` bytes that the caller overwrites in full before it
    /// uses them (a device read, a decompression): recycled buffers are not
    /// zeroed first. Until then the bytes are zeros or an earlier block of
    /// this process, so a caller that fails to fill it must drop it.
    ///
    /// Debug builds fill it with [`POISON`] instead, so that a path that
    /// shows bytes it never wrote fails its tests (a checksum or a
    /// comparison) rather than passing on zeros.
    pub(crate) fn for_overwrite(len: usize) -> Self {
        #[allow(unused_mut)]
        let mut b = Self::alloc_with(len, |p, cap| {
            // SAFETY: `p` is a fresh allocation of `cap` bytes.
            unsafe { std::ptr::write_bytes(p, 0, cap) }
        })
        .0;
        #[cfg(debug_assertions)]
        b.fill(POISON);
        b
    }

    /// A buffer holding a copy of `data`, zero-padded to `len` (>= data.len()).
    pub fn from_slice_padded(data: &[u8], len: usize) -> Self {
        let len = len.max(data.len());
        let n = data.len();
        let (mut b, recycled) = Self::alloc_with(len, |p, cap| {
            // SAFETY: `p` is a fresh allocation of `cap >= n` bytes that
            // cannot overlap `data`; the copy and the zeros initialise all
            // of it.
            unsafe {
                std::ptr::copy_nonoverlapping(data.as_ptr(), p, n);
                std::ptr::write_bytes(p.add(n), 0, cap - n);
            }
        });
        if recycled {
            b[..n].copy_from_slice(data);
            b[n..].fill(0);
        }
        b
    }

    /// Bytes the allocation can hold.
    pub fn capacity(&self) -> usize {
        self.cap
    }

    /// Keeps the first `used` bytes, zeroes the rest up to `len` (at most
    /// the capacity) and makes `len` the visible length.
    pub fn pad_to(&mut self, used: usize, len: usize) {
        assert!(used <= self.len && len <= self.cap, "pad_to out of range");
        // SAFETY: ptr is valid for cap initialised bytes and len <= cap.
        let all = unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.cap) };
        all[used..len].fill(0);
        self.len = len;
    }

    /// Shortens the visible length (the allocation stays).
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// Raw pointer for the kernel.
    pub fn as_ptr(&self) -> *const u8 {
        self.ptr.as_ptr()
    }

    /// Raw mutable pointer for the kernel.
    pub fn as_mut_ptr(&mut self) -> *mut u8 {
        self.ptr.as_ptr()
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        // SAFETY: ptr was allocated with `bufcache::layout(cap)`, its cap
        // bytes are initialised, and this buffer was its only user.
        unsafe { bufcache::give(self.ptr, self.cap) }
    }
}

impl Deref for AlignedBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: ptr is valid for cap >= len initialised bytes.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl DerefMut for AlignedBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as above, and we hold the only reference.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl std::fmt::Debug for AlignedBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AlignedBuf({} bytes)", self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_and_zeroed() {
        for len in [0, 1, 4095, 4096, 70000] {
            let b = AlignedBuf::zeroed(len);
            assert_eq!(b.as_ptr() as usize % IO_ALIGN, 0);
            assert_eq!(b.len(), len);
            assert!(b.iter().all(|&x| x == 0));
        }
        let b = AlignedBuf::from_slice_padded(b"abc", 4096);
        assert_eq!(&b[..4], b"abc\0");
    }

    #[test]
    fn recycled_buffers_show_no_stale_bytes() {
        // A capacity no other test uses, so that the recycled buffer is the
        // one dropped here (the cache is shared by the whole process; it
        // may also be full, so reuse is likely, not certain: the contents
        // must be right either way).
        let len = 29 * bufcache::LARGE_STEP;
        let dirty = AlignedBuf::from_slice_padded(&vec![0xa5; len], len);
        let cap = dirty.capacity();
        drop(dirty);
        let b = AlignedBuf::zeroed(len - 100);
        assert_eq!(b.capacity(), cap);
        assert!(b.iter().all(|&x| x == 0));
        drop(b);
        let mut c = AlignedBuf::from_slice_padded(b"xyz", len - 4096);
        assert_eq!(&c[..4], b"xyz\0");
        assert!(c[3..].iter().all(|&x| x == 0));
        // Padding shows zeros, never what the allocation held before.
        c.truncate(3);
        c.pad_to(3, len);
        assert!(c[3..].iter().all(|&x| x == 0));
        drop(c);
        let o = AlignedBuf::for_overwrite(len);
        assert_eq!(o.len(), len);
        #[cfg(debug_assertions)]
        assert!(o.iter().all(|&x| x == POISON));
    }
}
