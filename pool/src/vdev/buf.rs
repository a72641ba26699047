//! Page-aligned I/O buffers, as O_DIRECT and io_uring want them.

use std::alloc::{self, Layout};
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

/// Alignment of every I/O buffer.
pub const IO_ALIGN: usize = 4096;

/// A zero-initialised heap buffer aligned to [`IO_ALIGN`].
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
    /// A zeroed buffer of `len` bytes (capacity rounded up to [`IO_ALIGN`]).
    pub fn zeroed(len: usize) -> Self {
        let cap = len.div_ceil(IO_ALIGN).max(1) * IO_ALIGN;
        let layout = Layout::from_size_align(cap, IO_ALIGN).expect("valid layout");
        // SAFETY: the layout has a non-zero size.
        let raw = unsafe { alloc::alloc_zeroed(layout) };
        let ptr = NonNull::new(raw).unwrap_or_else(|| alloc::handle_alloc_error(layout));
        AlignedBuf { ptr, len, cap }
    }

    /// A buffer holding a copy of `data`, zero-padded to `len` (>= data.len()).
    pub fn from_slice_padded(data: &[u8], len: usize) -> Self {
        let mut b = AlignedBuf::zeroed(len.max(data.len()));
        b[..data.len()].copy_from_slice(data);
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
        // SAFETY: ptr is valid for cap bytes and len <= cap.
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
        let layout = Layout::from_size_align(self.cap, IO_ALIGN).expect("valid layout");
        // SAFETY: ptr was allocated in `zeroed` with exactly this layout.
        unsafe { alloc::dealloc(self.ptr.as_ptr(), layout) }
    }
}

impl Deref for AlignedBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: ptr is valid for cap >= len initialised (zeroed) bytes.
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
}
