//! The pool root block: what an uberblock points at.
//!
//! Layout (little-endian): magic `BASINPRT` (8), version `u32`, length of the
//! JSON area `u32`, txg `u64`, zero `u64`, then four block pointers (space
//! map index, user root, history, error log), then the JSON area holding the
//! pool's persistent properties and scan state. The whole block is covered by
//! the checksum in the uberblock's pointer.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::blkptr::{BlkPtr, BLKPTR_SIZE};
use crate::error::{PoolError, Result};
use crate::scan::BlockOwner;

const MAGIC: u64 = u64::from_le_bytes(*b"BASINPRT");
const VERSION: u32 = 1;
const HEADER: usize = 32;
/// Largest JSON area accepted.
pub const MAX_JSON: usize = 64 * 1024;

/// Persistent state of a scrub or resilver.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanState {
    /// "scrub" or "resilver".
    pub func: String,
    /// "scanning", "finished", "canceled".
    pub state: String,
    /// Seconds since the epoch when it started.
    pub start_time: u64,
    /// Seconds since the epoch when it ended (0 while running).
    pub end_time: u64,
    /// Bytes to examine.
    pub to_examine: u64,
    /// Bytes examined so far.
    pub examined: u64,
    /// Bytes repaired.
    pub repaired: u64,
    /// Errors that could not be repaired.
    pub errors: u64,
    /// Txg at which the scan started (blocks born later need no scan).
    pub max_txg: u64,
    /// Oldest birth txg scanned (a resilver needs only what a leaf missed).
    #[serde(default)]
    pub min_txg: u64,
    /// Bytes listed for the scan so far.
    #[serde(default)]
    pub scanned: u64,
    /// Seconds since the epoch when this pass (start or resume) began.
    #[serde(default)]
    pub pass_start: u64,
    /// Bytes examined when this pass began.
    #[serde(default)]
    pub pass_examined: u64,
    /// Seconds since the epoch when it was paused (0 when not paused).
    #[serde(default)]
    pub pause_time: u64,
    /// Where to resume, opaque to the pool (a bookmark of the traversal).
    #[serde(default)]
    pub bookmark: Vec<u64>,
}

/// The extensible part of the root: properties, scan, error counts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootExtras {
    /// Settable pool properties that were set (name -> value).
    #[serde(default)]
    pub props: BTreeMap<String, String>,
    /// The last or current scan.
    #[serde(default)]
    pub scan: Option<ScanState>,
    /// Seconds since the epoch of pool creation.
    #[serde(default)]
    pub created: u64,
    /// Blocks with permanent errors (found by the last scan or by reads
    /// since), at most [`MAX_ERRLOG`] of them.
    #[serde(default)]
    pub errlog: Vec<BlockOwner>,
    /// Errors past [`MAX_ERRLOG`], counted only.
    #[serde(default)]
    pub errlog_more: u64,
}

/// Entries kept in the error log of the root's JSON area.
pub const MAX_ERRLOG: usize = 256;

/// The decoded pool root.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PoolRoot {
    /// Txg that wrote it.
    pub txg: u64,
    /// Space map index.
    pub spacemap: BlkPtr,
    /// Root of the layer above (the DMU's meta object set).
    pub user_root: BlkPtr,
    /// Newest history block.
    pub history: BlkPtr,
    /// Persistent error log.
    pub errlog: BlkPtr,
    /// Properties and scan state.
    pub extras: RootExtras,
}

impl PoolRoot {
    /// Encodes the block.
    pub fn encode(&self) -> Result<Vec<u8>> {
        let json = serde_json::to_vec(&self.extras)
            .map_err(|e| PoolError::Unsupported(format!("cannot encode pool root: {e}")))?;
        if json.len() > MAX_JSON {
            return Err(PoolError::Unsupported("pool properties too large".into()));
        }
        let mut b = vec![0u8; HEADER + 4 * BLKPTR_SIZE + json.len()];
        b[0..8].copy_from_slice(&MAGIC.to_le_bytes());
        b[8..12].copy_from_slice(&VERSION.to_le_bytes());
        b[12..16].copy_from_slice(&(json.len() as u32).to_le_bytes());
        b[16..24].copy_from_slice(&self.txg.to_le_bytes());
        for (i, bp) in [&self.spacemap, &self.user_root, &self.history, &self.errlog]
            .iter()
            .enumerate()
        {
            let o = HEADER + i * BLKPTR_SIZE;
            bp.encode_into(&mut b[o..o + BLKPTR_SIZE]);
        }
        b[HEADER + 4 * BLKPTR_SIZE..].copy_from_slice(&json);
        Ok(b)
    }

    /// Decodes the block.
    pub fn decode(b: &[u8]) -> Result<PoolRoot> {
        const WHAT: &str = "pool root";
        if b.len() < HEADER + 4 * BLKPTR_SIZE {
            return Err(PoolError::corrupt(WHAT, "too short"));
        }
        if u64::from_le_bytes(b[0..8].try_into().expect("8")) != MAGIC {
            return Err(PoolError::corrupt(WHAT, "bad magic"));
        }
        let v = u32::from_le_bytes(b[8..12].try_into().expect("4"));
        if v != VERSION {
            return Err(PoolError::corrupt(WHAT, format!("unsupported version {v}")));
        }
        let jlen = u32::from_le_bytes(b[12..16].try_into().expect("4")) as usize;
        let jstart = HEADER + 4 * BLKPTR_SIZE;
        if jlen > MAX_JSON || jlen > b.len() - jstart {
            return Err(PoolError::corrupt(WHAT, "JSON area out of bounds"));
        }
        let bp = |i: usize| BlkPtr::decode(&b[HEADER + i * BLKPTR_SIZE..]);
        let extras = serde_json::from_slice(&b[jstart..jstart + jlen])
            .map_err(|e| PoolError::corrupt(WHAT, format!("bad properties: {e}")))?;
        Ok(PoolRoot {
            txg: u64::from_le_bytes(b[16..24].try_into().expect("8")),
            spacemap: bp(0)?,
            user_root: bp(1)?,
            history: bp(2)?,
            errlog: bp(3)?,
            extras,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut r = PoolRoot {
            txg: 8,
            spacemap: BlkPtr::hole(512, 2),
            ..Default::default()
        };
        r.extras.props.insert("comment".into(), "hello".into());
        r.extras.scan = Some(ScanState {
            func: "scrub".into(),
            ..Default::default()
        });
        assert_eq!(PoolRoot::decode(&r.encode().unwrap()).unwrap(), r);
    }

    proptest::proptest! {
        #[test]
        fn decode_is_total(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..700)) {
            let _ = PoolRoot::decode(&bytes);
            let mut b = bytes.clone();
            if b.len() >= 16 {
                b[0..8].copy_from_slice(&MAGIC.to_le_bytes());
                b[8..12].copy_from_slice(&VERSION.to_le_bytes());
                let _ = PoolRoot::decode(&b);
            }
        }
    }
}
