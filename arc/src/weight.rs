//! What the cache needs to know about a value: its size in bytes.

use std::sync::Arc;

/// A cached value that reports how many bytes it occupies.
///
/// The cache is bounded by the sum of the weights of its resident values, so
/// the weight should be the memory the value keeps alive (for a data buffer,
/// its length). A weight of zero is counted as one byte, so that every entry
/// costs something and the cache stays bounded in entries too.
pub trait Weighted {
    /// The size of this value, in bytes.
    fn weight(&self) -> usize;
}

impl Weighted for Vec<u8> {
    fn weight(&self) -> usize {
        self.len()
    }
}

impl Weighted for Box<[u8]> {
    fn weight(&self) -> usize {
        self.len()
    }
}

impl Weighted for Arc<[u8]> {
    fn weight(&self) -> usize {
        self.len()
    }
}

/// The weight the cache charges for `value`: its reported weight, at least 1.
pub(crate) fn charge<V: Weighted + ?Sized>(value: &V) -> u64 {
    (value.weight() as u64).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_weigh_their_length() {
        assert_eq!(vec![0u8; 4096].weight(), 4096);
        assert_eq!(vec![0u8; 7].into_boxed_slice().weight(), 7);
        let shared: Arc<[u8]> = Arc::from(vec![1u8; 300]);
        assert_eq!(shared.weight(), 300);
    }

    #[test]
    fn empty_values_are_charged_one_byte() {
        assert_eq!(charge(&Vec::<u8>::new()), 1);
        assert_eq!(charge(&vec![0u8; 10]), 10);
    }
}
