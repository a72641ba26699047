//! Self-describing data: every 4 KiB unit the stress run writes names the
//! dataset lineage, object, offset and generation it was written for, and
//! ends with a hash of the rest, so that any read can be judged without a
//! model: torn, misdirected or foreign data is caught on the spot, and the
//! generation tells stale data from fresh.

/// Bytes of one unit.
pub const UNIT: usize = 4096;
const UNIT_MAGIC: &[u8; 8] = b"BZTUNIT1";
const HEADER: usize = 56;
const BODY: usize = UNIT - 32;

const BONUS_MAGIC: &[u8; 8] = b"BZTBONU1";
/// Bytes of an object's bonus.
pub const BONUS_LEN: usize = 48;

fn le64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// What a unit says it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnitHeader {
    pub lineage: u64,
    pub obj: u64,
    pub offset: u64,
    pub gen: u64,
    pub txg: u64,
}

/// Fills `out` (one unit) for `h`; `compressible` units carry a repeating
/// body that lz4 shrinks, the others a pseudo-random one.
pub fn make_unit(out: &mut [u8], h: &UnitHeader, compressible: bool) {
    assert_eq!(out.len(), UNIT);
    out[..8].copy_from_slice(UNIT_MAGIC);
    for (i, v) in [h.lineage, h.obj, h.offset, h.gen, h.txg]
        .iter()
        .enumerate()
    {
        out[8 + i * 8..16 + i * 8].copy_from_slice(&v.to_le_bytes());
    }
    out[48..HEADER].fill(0);
    out[48] = compressible as u8;
    if compressible {
        let seed = h.gen.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ h.offset;
        for (i, b) in out[HEADER..BODY].iter_mut().enumerate() {
            *b = (seed >> ((i / 512 % 8) * 8)) as u8;
        }
    } else {
        let mut x = blake3::Hasher::new();
        x.update(&out[..HEADER]);
        x.finalize_xof().fill(&mut out[HEADER..BODY]);
    }
    let sum = blake3::hash(&out[..BODY]);
    out[BODY..].copy_from_slice(sum.as_bytes());
}

/// Checks a unit read at byte `offset` of object `obj` of a dataset whose
/// data may carry any lineage in `allowed`: `Ok(None)` for a hole (all
/// zeros), `Ok(Some(header))` for a unit that is whole and where it
/// belongs, `Err` saying what is wrong otherwise.
pub fn check_unit(
    b: &[u8],
    obj: u64,
    offset: u64,
    allowed: &[u64],
) -> Result<Option<UnitHeader>, String> {
    if b.iter().all(|&x| x == 0) {
        return Ok(None);
    }
    if &b[..8] != UNIT_MAGIC {
        return Err(format!(
            "object {obj} offset {offset}: not a unit (starts {:02x?})",
            &b[..16]
        ));
    }
    if blake3::hash(&b[..BODY]).as_bytes() != &b[BODY..] {
        return Err(format!(
            "object {obj} offset {offset}: unit hash mismatch (torn or damaged; header says object {} offset {} gen {:#x})",
            le64(b, 16),
            le64(b, 24),
            le64(b, 32)
        ));
    }
    let h = UnitHeader {
        lineage: le64(b, 8),
        obj: le64(b, 16),
        offset: le64(b, 24),
        gen: le64(b, 32),
        txg: le64(b, 40),
    };
    if h.obj != obj || h.offset != offset {
        return Err(format!(
            "object {obj} offset {offset}: misdirected data, written for object {} offset {} (gen {:#x}, txg {})",
            h.obj, h.offset, h.gen, h.txg
        ));
    }
    if !allowed.contains(&h.lineage) {
        return Err(format!(
            "object {obj} offset {offset}: data of lineage {:x}, not one of {allowed:x?} (gen {:#x}, txg {})",
            h.lineage, h.gen, h.txg
        ));
    }
    Ok(Some(h))
}

/// The bonus of a test object: who created it, and when.
pub fn make_bonus(lineage: u64, obj: u64, gen: u64) -> Vec<u8> {
    let mut b = vec![0u8; BONUS_LEN];
    b[..8].copy_from_slice(BONUS_MAGIC);
    b[8..16].copy_from_slice(&lineage.to_le_bytes());
    b[16..24].copy_from_slice(&obj.to_le_bytes());
    b[24..32].copy_from_slice(&gen.to_le_bytes());
    let sum = blake3::hash(&b[..32]);
    b[32..].copy_from_slice(&sum.as_bytes()[..16]);
    b
}

/// Checks the bonus of object `obj`.
pub fn check_bonus(b: &[u8], obj: u64, allowed: &[u64]) -> Result<(), String> {
    if b.len() != BONUS_LEN || &b[..8] != BONUS_MAGIC {
        return Err(format!("object {obj}: bonus is not ours ({b:02x?})"));
    }
    if blake3::hash(&b[..32]).as_bytes()[..16] != b[32..] {
        return Err(format!("object {obj}: bonus hash mismatch"));
    }
    if le64(b, 16) != obj {
        return Err(format!(
            "object {obj}: bonus written for object {}",
            le64(b, 16)
        ));
    }
    if !allowed.contains(&le64(b, 8)) {
        return Err(format!(
            "object {obj}: bonus of lineage {:x}, not one of {allowed:x?}",
            le64(b, 8)
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_round_trip_and_catch_damage() {
        let h = UnitHeader {
            lineage: 7,
            obj: 3,
            offset: 8192,
            gen: 99,
            txg: 5,
        };
        for c in [false, true] {
            let mut b = vec![0u8; UNIT];
            make_unit(&mut b, &h, c);
            assert_eq!(check_unit(&b, 3, 8192, &[7]).unwrap(), Some(h));
            assert!(check_unit(&b, 3, 4096, &[7]).is_err());
            assert!(check_unit(&b, 4, 8192, &[7]).is_err());
            assert!(check_unit(&b, 3, 8192, &[8]).is_err());
            b[1000] ^= 1;
            assert!(check_unit(&b, 3, 8192, &[7]).is_err());
        }
        assert_eq!(check_unit(&[0u8; UNIT], 1, 0, &[]).unwrap(), None);
        let bonus = make_bonus(7, 3, 1);
        check_bonus(&bonus, 3, &[7]).unwrap();
        assert!(check_bonus(&bonus, 4, &[7]).is_err());
    }
}
