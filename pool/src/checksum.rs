//! Block checksums: blake3 (the default) and crc32c.
//!
//! A checksum is always stored in a 32-byte field. blake3 fills it; crc32c
//! uses the first four bytes (little-endian) and leaves the rest zero.

use serde::{Deserialize, Serialize};

/// Size of the checksum field in block pointers and headers.
pub const CHECKSUM_LEN: usize = 32;

/// A checksum value as stored on disk.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Checksum(pub [u8; CHECKSUM_LEN]);

impl std::fmt::Debug for Checksum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.to_hex())
    }
}

impl Checksum {
    /// Lower-case hex of the whole field.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// The checksum algorithm of a block.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChecksumType {
    /// 256-bit blake3 (cryptographic strength, fast with SIMD).
    #[default]
    Blake3,
    /// 32-bit CRC-32C (Castagnoli), hardware accelerated.
    Crc32c,
}

impl ChecksumType {
    /// The on-disk code.
    pub fn code(self) -> u8 {
        match self {
            ChecksumType::Blake3 => 1,
            ChecksumType::Crc32c => 2,
        }
    }

    /// Decodes an on-disk code.
    pub fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(ChecksumType::Blake3),
            2 => Some(ChecksumType::Crc32c),
            _ => None,
        }
    }

    /// The name used by properties and output.
    pub fn name(self) -> &'static str {
        match self {
            ChecksumType::Blake3 => "blake3",
            ChecksumType::Crc32c => "crc32c",
        }
    }

    /// Parses a property value.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "blake3" | "on" => Some(ChecksumType::Blake3),
            "crc32c" => Some(ChecksumType::Crc32c),
            _ => None,
        }
    }

    /// Checksums `data`.
    pub fn compute(self, data: &[u8]) -> Checksum {
        let mut out = [0u8; CHECKSUM_LEN];
        match self {
            ChecksumType::Blake3 => out.copy_from_slice(blake3::hash(data).as_bytes()),
            ChecksumType::Crc32c => out[..4].copy_from_slice(&crc32c::crc32c(data).to_le_bytes()),
        }
        Checksum(out)
    }

    /// True when `data` has checksum `expected`.
    pub fn verify(self, data: &[u8], expected: &Checksum) -> bool {
        self.compute(data) == *expected
    }
}

/// A self-checksum for structures that carry their own (labels, uberblocks,
/// headers): blake3 over the structure's byte offset on the device followed by
/// its bytes, so a copy written to the wrong place does not verify.
pub fn self_checksum(offset: u64, bytes: &[u8]) -> Checksum {
    let mut h = blake3::Hasher::new();
    h.update(&offset.to_le_bytes());
    h.update(bytes);
    Checksum(*h.finalize().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blake3_and_crc32c_detect_a_flipped_bit() {
        let mut data = vec![7u8; 4096];
        for ty in [ChecksumType::Blake3, ChecksumType::Crc32c] {
            let sum = ty.compute(&data);
            assert!(ty.verify(&data, &sum));
            data[100] ^= 1;
            assert!(!ty.verify(&data, &sum));
            data[100] ^= 1;
        }
    }

    #[test]
    fn crc32c_matches_the_known_vector() {
        // RFC 3720 B.4: 32 bytes of zeros.
        let sum = ChecksumType::Crc32c.compute(&[0u8; 32]);
        assert_eq!(
            u32::from_le_bytes(sum.0[..4].try_into().unwrap()),
            0x8a91_36aa
        );
        assert!(sum.0[4..].iter().all(|&b| b == 0));
    }

    #[test]
    fn self_checksum_depends_on_the_offset() {
        assert_ne!(self_checksum(0, b"abc"), self_checksum(4096, b"abc"));
    }

    #[test]
    fn codes_round_trip() {
        for ty in [ChecksumType::Blake3, ChecksumType::Crc32c] {
            assert_eq!(ChecksumType::from_code(ty.code()), Some(ty));
            assert_eq!(ChecksumType::parse(ty.name()), Some(ty));
        }
        assert_eq!(ChecksumType::from_code(0), None);
        assert_eq!(ChecksumType::from_code(9), None);
    }
}
