//! Deadlists: the block pointers a dataset stopped referencing while a
//! snapshot still held them. An object of the meta object set holding an
//! array of block pointers, with totals in its bonus.

use basin_pool::blkptr::BLKPTR_SIZE;
use basin_pool::BlkPtr;

use crate::dsl::phys::DeadlistHeader;
use crate::error::Result;
use crate::objset::Objset;
use crate::types::ObjectType;

/// Block size of deadlist objects.
const DEADLIST_BLOCK: u32 = 128 * 1024;

/// Creates an empty deadlist in `txg`.
pub fn create(mos: &Objset, txg: u64) -> Result<u64> {
    mos.create_object(
        txg,
        ObjectType::DEADLIST,
        DEADLIST_BLOCK,
        0,
        &DeadlistHeader::default().encode(),
    )
}

/// The totals of deadlist `id`.
pub fn header(mos: &Objset, id: u64) -> Result<DeadlistHeader> {
    DeadlistHeader::decode(&mos.bonus(id)?)
}

/// Appends `bps` to deadlist `id` in `txg`.
pub fn append(mos: &Objset, txg: u64, id: u64, bps: &[BlkPtr]) -> Result<DeadlistHeader> {
    let mut h = header(mos, id)?;
    if bps.is_empty() {
        return Ok(h);
    }
    let mut bytes = vec![0u8; bps.len() * BLKPTR_SIZE];
    for (i, bp) in bps.iter().enumerate() {
        bp.encode_into(&mut bytes[i * BLKPTR_SIZE..]);
        h.used += bp.asize();
        h.compressed += bp.psize as u64;
        h.uncompressed += bp.lsize as u64;
    }
    mos.write(txg, id, h.count * BLKPTR_SIZE as u64, &bytes)?;
    h.count += bps.len() as u64;
    mos.set_bonus(txg, id, &h.encode())?;
    Ok(h)
}

/// Every block pointer in deadlist `id`.
pub fn read_all(mos: &Objset, id: u64) -> Result<Vec<BlkPtr>> {
    let h = header(mos, id)?;
    let mut out = Vec::with_capacity(h.count.min(1 << 20) as usize);
    let chunk = 4096u64;
    let mut at = 0;
    while at < h.count {
        let n = chunk.min(h.count - at);
        let mut b = vec![0u8; (n as usize) * BLKPTR_SIZE];
        mos.read(id, at * BLKPTR_SIZE as u64, &mut b)?;
        for i in 0..n as usize {
            out.push(BlkPtr::decode(&b[i * BLKPTR_SIZE..(i + 1) * BLKPTR_SIZE])?);
        }
        at += n;
    }
    Ok(out)
}

/// Replaces the contents of deadlist `id` with `bps`.
pub fn replace(mos: &Objset, txg: u64, id: u64, bps: &[BlkPtr]) -> Result<DeadlistHeader> {
    mos.free_range(txg, id, 0, u64::MAX)?;
    mos.set_bonus(txg, id, &DeadlistHeader::default().encode())?;
    append(mos, txg, id, bps)
}
