//! The stress run's own intent log records (the DMU leaves their payload
//! to the layer above), and their replay after a crash: every object change
//! is logged, an `fsync` commits the log, and whoever imports the pool
//! next replays what the synced txgs did not hold.

use basin_dmu::zil::LogRecord;
use basin_dmu::{DmuError, DslPool, ObjectType, Objset};

/// Largest data record: writes are logged in pieces of this size.
pub const DATA_CHUNK: usize = 64 * 1024;

const CREATE: u8 = 1;
const WRITE: u8 = 2;
const FREE_RANGE: u8 = 3;
const FREE_OBJ: u8 = 4;
const HEAD: usize = 32;

/// One logged change.
#[derive(Debug, PartialEq, Eq)]
pub enum Change<'a> {
    Create {
        obj: u64,
        blksz: u32,
        bonus: &'a [u8],
    },
    Write {
        obj: u64,
        offset: u64,
        data: &'a [u8],
    },
    FreeRange {
        obj: u64,
        offset: u64,
        len: u64,
    },
    FreeObj {
        obj: u64,
    },
}

fn head(kind: u8, obj: u64, a: u64, b: u64) -> Vec<u8> {
    let mut v = vec![0u8; HEAD];
    v[0] = kind;
    v[8..16].copy_from_slice(&obj.to_le_bytes());
    v[16..24].copy_from_slice(&a.to_le_bytes());
    v[24..32].copy_from_slice(&b.to_le_bytes());
    v
}

/// The record of a creation.
pub fn create(obj: u64, blksz: u32, bonus: &[u8]) -> Vec<u8> {
    let mut v = head(CREATE, obj, blksz as u64, 0);
    v.extend_from_slice(bonus);
    v
}

/// The prefix of a write record; the data follows (read at commit).
pub fn write_prefix(obj: u64, offset: u64) -> Vec<u8> {
    head(WRITE, obj, offset, 0)
}

/// The record of a free of `len` bytes at `offset` (`u64::MAX`: to the end).
pub fn free_range(obj: u64, offset: u64, len: u64) -> Vec<u8> {
    head(FREE_RANGE, obj, offset, len)
}

/// The record of a whole object freed.
pub fn free_obj(obj: u64) -> Vec<u8> {
    head(FREE_OBJ, obj, 0, 0)
}

fn le64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// Decodes a record.
pub fn decode(p: &[u8]) -> Result<Change<'_>, String> {
    if p.len() < HEAD {
        return Err(format!("a record of {} bytes", p.len()));
    }
    let (obj, a, b) = (le64(p, 8), le64(p, 16), le64(p, 24));
    Ok(match p[0] {
        CREATE => Change::Create {
            obj,
            blksz: a as u32,
            bonus: &p[HEAD..],
        },
        WRITE => Change::Write {
            obj,
            offset: a,
            data: &p[HEAD..],
        },
        FREE_RANGE => Change::FreeRange {
            obj,
            offset: a,
            len: b,
        },
        FREE_OBJ => Change::FreeObj { obj },
        k => return Err(format!("a record of kind {k}")),
    })
}

fn apply(os: &Objset, txg: u64, r: &LogRecord) -> basin_dmu::Result<()> {
    let c = decode(&r.payload).map_err(DmuError::Invalid)?;
    let bad = |what: String| DmuError::Invalid(format!("record {} (txg {}): {what}", r.seq, r.txg));
    match c {
        Change::Create { obj, blksz, bonus } => {
            if os.exists(obj)? {
                return Err(bad(format!("creates object {obj}, which exists")));
            }
            os.claim_object(txg, obj, ObjectType::PLAIN_FILE, blksz, 0, bonus)
        }
        Change::Write { obj, offset, data } => os.write(txg, obj, offset, data),
        Change::FreeRange { obj, offset, len } => os.free_range(txg, obj, offset, len),
        Change::FreeObj { obj } => os.free_object(txg, obj),
    }
}

/// Replays the intent logs of every filesystem (a pool just imported, its
/// chains claimed by [`DslPool::open`]); returns the records applied.
pub fn replay_all(dsl: &DslPool) -> Result<usize, String> {
    let root = dsl.pool().name().to_string();
    let mut n = 0;
    for name in dsl
        .list(None, true, None)
        .map_err(|e| format!("list: {e}"))?
    {
        if name.contains('@') || name == root {
            continue;
        }
        let os = dsl.objset(&name).map_err(|e| format!("{name}: {e}"))?;
        let h = os.zil_header();
        if h.first.is_none() {
            continue;
        }
        let ds = dsl.dataset_id(&name).map_err(|e| format!("{name}: {e}"))?;
        let pool = dsl.pool();
        let txg = pool.txg().hold_raw();
        let r = os.zil_replay(txg, &mut |rec| apply(&os, txg, rec));
        // The header changed in this txg: the dataset syncs in it.
        drop(dsl.assign_in(ds, txg));
        pool.txg().release(txg);
        n += r.map_err(|e| format!("{name}: replaying the intent log: {e}"))?;
        if h.claim_txg != 0 {
            pool.wait_synced(txg)
                .map_err(|e| format!("{name}: replay txg {txg}: {e}"))?;
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let c = create(3, 4096, b"bonus");
        assert_eq!(
            decode(&c).unwrap(),
            Change::Create {
                obj: 3,
                blksz: 4096,
                bonus: b"bonus"
            }
        );
        let mut w = write_prefix(4, 8192);
        w.extend_from_slice(&[7; 10]);
        assert_eq!(
            decode(&w).unwrap(),
            Change::Write {
                obj: 4,
                offset: 8192,
                data: &[7; 10]
            }
        );
        assert_eq!(
            decode(&free_range(5, 1, u64::MAX)).unwrap(),
            Change::FreeRange {
                obj: 5,
                offset: 1,
                len: u64::MAX
            }
        );
        assert_eq!(decode(&free_obj(6)).unwrap(), Change::FreeObj { obj: 6 });
        assert!(decode(&[9; 40]).is_err());
        assert!(decode(&[1; 3]).is_err());
    }
}
