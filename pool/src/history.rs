//! Pool history: the commands that changed the pool, as `zpool history`
//! prints them. Stored as a chain of blocks, newest first, each pointing at
//! the one before; the chain is compacted when it grows long.
//!
//! Block layout (little-endian): magic `BASINHIS` (8), version `u32`, JSON
//! length `u32`, block pointer of the previous block (128), then a JSON array
//! of records.

use serde::{Deserialize, Serialize};

use crate::blkptr::{BlkPtr, BLKPTR_SIZE};
use crate::error::{PoolError, Result};

const MAGIC: u64 = u64::from_le_bytes(*b"BASINHIS");
const VERSION: u32 = 1;
const HEADER: usize = 16 + BLKPTR_SIZE;
/// Largest history block.
pub const MAX_HISTORY_BLOCK: usize = 1 << 20;
/// Records kept when the chain is compacted.
pub const KEEP_RECORDS: usize = 5000;

/// One history record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryRecord {
    /// Seconds since the epoch.
    pub time: u64,
    /// The command line, or a description of an internal event.
    pub command: String,
    /// True for internal events (`zpool history -i`).
    #[serde(default)]
    pub internal: bool,
    /// Txg in which it was recorded.
    #[serde(default)]
    pub txg: u64,
    /// Host that ran it.
    #[serde(default)]
    pub host: String,
}

/// Encodes a history block.
pub fn encode(prev: &BlkPtr, records: &[HistoryRecord]) -> Result<Vec<u8>> {
    let json = serde_json::to_vec(records)
        .map_err(|e| PoolError::Unsupported(format!("cannot encode history: {e}")))?;
    let mut b = vec![0u8; HEADER + json.len()];
    b[0..8].copy_from_slice(&MAGIC.to_le_bytes());
    b[8..12].copy_from_slice(&VERSION.to_le_bytes());
    b[12..16].copy_from_slice(&(json.len() as u32).to_le_bytes());
    prev.encode_into(&mut b[16..16 + BLKPTR_SIZE]);
    b[HEADER..].copy_from_slice(&json);
    Ok(b)
}

/// Decodes a history block into (previous block, records).
pub fn decode(b: &[u8]) -> Result<(BlkPtr, Vec<HistoryRecord>)> {
    const WHAT: &str = "history block";
    if b.len() < HEADER || u64::from_le_bytes(b[0..8].try_into().expect("8")) != MAGIC {
        return Err(PoolError::corrupt(WHAT, "bad magic"));
    }
    if u32::from_le_bytes(b[8..12].try_into().expect("4")) != VERSION {
        return Err(PoolError::corrupt(WHAT, "unsupported version"));
    }
    let n = u32::from_le_bytes(b[12..16].try_into().expect("4")) as usize;
    if n > b.len() - HEADER {
        return Err(PoolError::corrupt(WHAT, "length out of bounds"));
    }
    let prev = BlkPtr::decode(&b[16..16 + BLKPTR_SIZE])?;
    let recs = serde_json::from_slice(&b[HEADER..HEADER + n])
        .map_err(|e| PoolError::corrupt(WHAT, e.to_string()))?;
    Ok((prev, recs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let r = vec![HistoryRecord {
            time: 1,
            command: "zpool create tank /a".into(),
            internal: false,
            txg: 4,
            host: "h".into(),
        }];
        let b = encode(&BlkPtr::hole(0, 0), &r).unwrap();
        assert_eq!(decode(&b).unwrap(), (BlkPtr::hole(0, 0), r));
        assert!(decode(&b[..20]).is_err());
    }
}
