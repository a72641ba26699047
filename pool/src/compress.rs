//! Block compression: lz4 (through `lz4_flex`) or none.
//!
//! A compressed block is kept only when it saves at least one eighth of the
//! logical size; otherwise the block is stored as it is. The stored form of an
//! lz4 block is a 4-byte little-endian length of the lz4 payload followed by
//! the payload, so padding to a sector never confuses the decoder.
//!
//! Large blocks are first sampled: if a few spread windows do not compress at
//! all, the whole block is taken as incompressible and stored without paying
//! for a full compression attempt (random or already-compressed data).

use serde::{Deserialize, Serialize};

use crate::error::{PoolError, Result};
use crate::vdev::AlignedBuf;

/// Length of the header in front of an lz4 payload.
pub const LZ4_HEADER: usize = 4;
/// Blocks at least this large are sampled before a full compression attempt.
const SAMPLE_FROM: usize = 64 * 1024;
/// Size of each sampled window.
const SAMPLE_WINDOW: usize = 4096;
/// Number of sampled windows.
const SAMPLE_COUNT: usize = 4;

/// The compression algorithm of a block.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// Stored as it is.
    #[default]
    Off,
    /// lz4 block format.
    Lz4,
}

impl Compression {
    /// The on-disk code.
    pub fn code(self) -> u8 {
        match self {
            Compression::Off => 0,
            Compression::Lz4 => 1,
        }
    }

    /// Decodes an on-disk code.
    pub fn from_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(Compression::Off),
            1 => Some(Compression::Lz4),
            _ => None,
        }
    }

    /// The property name.
    pub fn name(self) -> &'static str {
        match self {
            Compression::Off => "off",
            Compression::Lz4 => "lz4",
        }
    }

    /// Parses a property value.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "off" => Some(Compression::Off),
            "lz4" | "on" => Some(Compression::Lz4),
            _ => None,
        }
    }
}

/// Compresses `data` with `algo`. Returns `None` when the block should be
/// stored uncompressed (compression off, or it would save less than 1/8).
pub fn compress(algo: Compression, data: &[u8]) -> Option<Vec<u8>> {
    compress_block(algo, data).map(|(b, n)| b[..n].to_vec())
}

/// As [`compress`], into an I/O buffer ready for the device: the stored
/// form (header and payload) is its first bytes, and their count comes
/// with it. The buffer is the size of the worst case, so that every block
/// of a given size reuses the same recycled buffers.
pub fn compress_block(algo: Compression, data: &[u8]) -> Option<(AlignedBuf, usize)> {
    match algo {
        Compression::Off => None,
        Compression::Lz4 => {
            if data.len() < 512 || (data.len() >= SAMPLE_FROM && !samples_compress(data)) {
                return None;
            }
            let limit = data.len() - data.len() / 8;
            let bound = lz4_flex::block::get_maximum_output_size(data.len());
            // Every byte shown is written below: the payload, then its header.
            let mut out = AlignedBuf::for_overwrite(LZ4_HEADER + bound);
            let n = lz4_flex::block::compress_into(data, &mut out[LZ4_HEADER..]).ok()?;
            if LZ4_HEADER + n > limit {
                return None;
            }
            out[..LZ4_HEADER].copy_from_slice(&(n as u32).to_le_bytes());
            out.truncate(LZ4_HEADER + n);
            Some((out, LZ4_HEADER + n))
        }
    }
}

/// True when at least one sampled window of `data` shrinks by 1/32 or more.
fn samples_compress(data: &[u8]) -> bool {
    let stride = data.len() / SAMPLE_COUNT;
    let mut scratch = [0u8; lz4_flex::block::get_maximum_output_size(SAMPLE_WINDOW)];
    (0..SAMPLE_COUNT).any(|i| {
        let start = i * stride;
        let window = &data[start..(start + SAMPLE_WINDOW).min(data.len())];
        match lz4_flex::block::compress_into(window, &mut scratch) {
            Ok(n) => n < window.len() - window.len() / 32,
            Err(_) => false,
        }
    })
}

/// Decompresses a stored block of `algo` into exactly `lsize` bytes.
pub fn decompress(algo: Compression, stored: &[u8], lsize: usize) -> Result<Vec<u8>> {
    match algo {
        Compression::Off => {
            if stored.len() < lsize {
                return Err(PoolError::corrupt(
                    "block",
                    format!("stored size {} below logical {lsize}", stored.len()),
                ));
            }
            Ok(stored[..lsize].to_vec())
        }
        Compression::Lz4 => {
            let mut out = vec![0u8; lsize];
            decompress_into(stored, &mut out)?;
            Ok(out)
        }
    }
}

/// Decompresses an lz4 stored block into `out`, which must be filled exactly.
pub fn decompress_into(stored: &[u8], out: &mut [u8]) -> Result<()> {
    if stored.len() < LZ4_HEADER {
        return Err(PoolError::corrupt("lz4 block", "shorter than its header"));
    }
    let n = u32::from_le_bytes([stored[0], stored[1], stored[2], stored[3]]) as usize;
    if n > stored.len() - LZ4_HEADER {
        return Err(PoolError::corrupt(
            "lz4 block",
            format!("payload length {n} beyond the stored {}", stored.len()),
        ));
    }
    let got = lz4_flex::block::decompress_into(&stored[LZ4_HEADER..LZ4_HEADER + n], out)
        .map_err(|e| PoolError::corrupt("lz4 block", e.to_string()))?;
    if got != out.len() {
        return Err(PoolError::corrupt(
            "lz4 block",
            format!("decompressed to {got} bytes, expected {}", out.len()),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngCore, SeedableRng};

    fn random(n: usize, seed: u64) -> Vec<u8> {
        let mut v = vec![0u8; n];
        rand::rngs::StdRng::seed_from_u64(seed).fill_bytes(&mut v);
        v
    }

    #[test]
    fn compressible_data_round_trips_and_shrinks() {
        let data: Vec<u8> = (0..128 * 1024).map(|i| (i / 100) as u8).collect();
        let c = compress(Compression::Lz4, &data).expect("compressible");
        assert!(c.len() < data.len() / 4);
        assert_eq!(decompress(Compression::Lz4, &c, data.len()).unwrap(), data);
    }

    #[test]
    fn random_data_is_stored_as_it_is() {
        assert!(compress(Compression::Lz4, &random(1 << 20, 1)).is_none());
        assert!(compress(Compression::Lz4, &random(8192, 2)).is_none());
    }

    #[test]
    fn a_block_saving_less_than_an_eighth_is_not_compressed() {
        // 90% random, 10% zeros: saves about a tenth, under the 1/8 rule.
        let mut data = random(64 * 1024 - 1, 3);
        for b in data.iter_mut().take(6500) {
            *b = 0;
        }
        assert!(compress(Compression::Lz4, &data).is_none());
    }

    #[test]
    fn padding_after_the_payload_is_ignored() {
        let data = vec![5u8; 10_000];
        let mut c = compress(Compression::Lz4, &data).unwrap();
        c.resize(4096, 0);
        assert_eq!(decompress(Compression::Lz4, &c, data.len()).unwrap(), data);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for seed in 0..200 {
            let junk = random((seed as usize * 37) % 3000, seed);
            let _ = decompress(Compression::Lz4, &junk, 4096);
        }
        let mut lie = vec![0xffu8; 16];
        lie[..4].copy_from_slice(&1000u32.to_le_bytes());
        assert!(decompress(Compression::Lz4, &lie, 4096).is_err());
    }

    proptest::proptest! {
        #[test]
        fn decompress_is_total(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..2048), lsize in 0usize..8192) {
            let _ = decompress(Compression::Lz4, &bytes, lsize);
        }
    }
}
