//! RAID-Z: a block spread over the children of a top-level vdev in columns,
//! with one (P) or two (P and Q) parity columns, so that one or two missing
//! or damaged columns can be rebuilt. As in OpenZFS, the stripe width varies
//! with the block: a block of `D` data sectors on `n` children with `p`
//! parity columns takes `ceil(D / (n - p))` rows, and its allocation is
//! rounded up to a multiple of `p + 1` sectors so that no free gap is too
//! small to be used.
//!
//! Layout of a block at virtual offset `o` (in sectors `b = o >> ashift`):
//! its first column is child `b mod n`, at child sector `b / n`; column `c`
//! is child `(b + c) mod n`, one sector further down when it wraps. The
//! first `p` columns hold parity, the rest the data, column after column.
//!
//! Q is the Reed-Solomon syndrome over GF(2^8) with generator 2 and the
//! polynomial x^8 + x^4 + x^3 + x^2 + 1 (0x11d).

/// GF(2^8) tables.
struct Gf {
    exp: [u8; 512],
    log: [u8; 256],
}

const fn gf_tables() -> Gf {
    let mut exp = [0u8; 512];
    let mut log = [0u8; 256];
    let mut x: u16 = 1;
    let mut i = 0;
    while i < 255 {
        exp[i] = x as u8;
        log[x as usize] = i as u8;
        x <<= 1;
        if x & 0x100 != 0 {
            x ^= 0x11d;
        }
        i += 1;
    }
    let mut j = 255;
    while j < 512 {
        exp[j] = exp[j - 255];
        j += 1;
    }
    Gf { exp, log }
}

static GF: Gf = gf_tables();

fn gf_mul(a: u8, b: u8) -> u8 {
    if a == 0 || b == 0 {
        0
    } else {
        GF.exp[GF.log[a as usize] as usize + GF.log[b as usize] as usize]
    }
}

fn gf_div(a: u8, b: u8) -> u8 {
    debug_assert!(b != 0);
    if a == 0 {
        0
    } else {
        GF.exp[(GF.log[a as usize] as usize + 255 - GF.log[b as usize] as usize) % 255]
    }
}

/// 2^i in GF(2^8).
fn gf_pow2(i: usize) -> u8 {
    GF.exp[i % 255]
}

/// One column of a block: where it lives and how long it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Column {
    /// Child index.
    pub child: usize,
    /// Byte offset on the child (in its allocatable space).
    pub offset: u64,
    /// Bytes.
    pub len: usize,
}

/// How one block is laid out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Map {
    /// Parity columns first, then data columns.
    pub cols: Vec<Column>,
    /// Parity count.
    pub nparity: usize,
    /// Bytes of data (stored size rounded up to whole sectors).
    pub data_len: usize,
}

/// Sectors allocated for `psize` stored bytes on `n` children with
/// `nparity` parity columns.
pub fn alloc_sectors(psize: u64, ashift: u8, n: usize, nparity: usize) -> u64 {
    let sector = 1u64 << ashift;
    let d = psize.div_ceil(sector).max(1);
    let rows = d.div_ceil((n - nparity) as u64);
    let total = d + nparity as u64 * rows;
    total.div_ceil(nparity as u64 + 1) * (nparity as u64 + 1)
}

/// The layout of a block of `psize` bytes at virtual byte `offset`.
pub fn map(offset: u64, psize: u64, ashift: u8, n: usize, nparity: usize) -> Map {
    let sector = 1u64 << ashift;
    let b = offset >> ashift;
    let d = psize.div_ceil(sector).max(1);
    let dcols = (n - nparity) as u64;
    let rows = d.div_ceil(dcols);
    // Data columns: the first `d mod dcols` (when not zero) get a full
    // `rows` sectors, the others one fewer.
    let full = if d.is_multiple_of(dcols) {
        dcols
    } else {
        d % dcols
    };
    let first = b % n as u64;
    let base = b / n as u64;
    let ncols = if d < dcols {
        nparity as u64 + d
    } else {
        n as u64
    };
    let mut cols = Vec::with_capacity(ncols as usize);
    for c in 0..ncols {
        let mut child = first + c;
        let mut off = base;
        if child >= n as u64 {
            child -= n as u64;
            off += 1;
        }
        let sectors = if c < nparity as u64 || c - (nparity as u64) < full {
            rows
        } else {
            rows - 1
        };
        cols.push(Column {
            child: child as usize,
            offset: off * sector,
            len: (sectors * sector) as usize,
        });
    }
    Map {
        cols,
        nparity,
        data_len: (d * sector) as usize,
    }
}

/// Splits `data` (padded with zeros to the map's data length) into columns
/// and computes the parity: returns every column's bytes.
pub fn encode(m: &Map, data: &[u8]) -> Vec<Vec<u8>> {
    let mut cols: Vec<Vec<u8>> = m.cols.iter().map(|c| vec![0u8; c.len]).collect();
    let mut at = 0;
    for c in &mut cols[m.nparity..] {
        let n = c.len().min(data.len().saturating_sub(at));
        c[..n].copy_from_slice(&data[at..at + n]);
        at += c.len();
    }
    compute_parity(m, &mut cols);
    cols
}

/// Recomputes the parity columns from the data columns.
fn compute_parity(m: &Map, cols: &mut [Vec<u8>]) {
    let plen = cols[0].len();
    let mut p = vec![0u8; plen];
    let mut q = vec![0u8; if m.nparity > 1 { plen } else { 0 }];
    for (i, c) in cols[m.nparity..].iter().enumerate() {
        for (x, b) in p.iter_mut().zip(c.iter()) {
            *x ^= b;
        }
        if m.nparity > 1 {
            let g = gf_pow2(i);
            for (x, b) in q.iter_mut().zip(c.iter()) {
                *x ^= gf_mul(g, *b);
            }
        }
    }
    cols[0] = p;
    if m.nparity > 1 {
        cols[1] = q;
    }
}

/// The data of a block from its columns.
pub fn gather(m: &Map, cols: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(m.data_len);
    for c in &cols[m.nparity..] {
        out.extend_from_slice(c);
    }
    out.truncate(m.data_len);
    out
}

/// Rebuilds the columns listed in `bad` (at most `nparity` of them) from
/// the others; false when that many cannot be rebuilt.
pub fn reconstruct(m: &Map, cols: &mut [Vec<u8>], bad: &[usize]) -> bool {
    let p = m.nparity;
    let data_bad: Vec<usize> = bad.iter().copied().filter(|&c| c >= p).collect();
    let parity_bad: Vec<usize> = bad.iter().copied().filter(|&c| c < p).collect();
    if bad.len() > p {
        return false;
    }
    let plen = cols[0].len();
    let byte = |cols: &[Vec<u8>], c: usize, r: usize| cols[c].get(r).copied().unwrap_or(0);
    match data_bad.len() {
        0 => {}
        1 => {
            let x = data_bad[0];
            // With P when it is good, else with Q.
            if !parity_bad.contains(&0) {
                for r in 0..cols[x].len() {
                    let mut v = byte(cols, 0, r);
                    for c in p..cols.len() {
                        if c != x {
                            v ^= byte(cols, c, r);
                        }
                    }
                    cols[x][r] = v;
                }
            } else if p > 1 && !parity_bad.contains(&1) {
                let gx = gf_pow2(x - p);
                for r in 0..cols[x].len() {
                    let mut v = byte(cols, 1, r);
                    for c in p..cols.len() {
                        if c != x {
                            v ^= gf_mul(gf_pow2(c - p), byte(cols, c, r));
                        }
                    }
                    cols[x][r] = gf_div(v, gx);
                }
            } else {
                return false;
            }
        }
        2 => {
            if p < 2 || !parity_bad.is_empty() {
                return false;
            }
            let (x, y) = (data_bad[0].min(data_bad[1]), data_bad[0].max(data_bad[1]));
            let (ix, iy) = (x - p, y - p);
            // D_x = A·Pxy + B·Qxy, D_y = Pxy + D_x, with
            // A = g^(y-x) / (g^(y-x) + 1), B = g^(-x) / (g^(y-x) + 1).
            let gyx = gf_pow2(iy - ix);
            let denom = gyx ^ 1;
            let a = gf_div(gyx, denom);
            let b = gf_div(gf_div(1, gf_pow2(ix)), denom);
            for r in 0..plen {
                let mut pxy = byte(cols, 0, r);
                let mut qxy = byte(cols, 1, r);
                for c in p..cols.len() {
                    if c != x && c != y {
                        let v = byte(cols, c, r);
                        pxy ^= v;
                        qxy ^= gf_mul(gf_pow2(c - p), v);
                    }
                }
                let dx = gf_mul(a, pxy) ^ gf_mul(b, qxy);
                let dy = pxy ^ dx;
                if r < cols[x].len() {
                    cols[x][r] = dx;
                }
                if r < cols[y].len() {
                    cols[y][r] = dy;
                }
            }
        }
        _ => return false,
    }
    if !parity_bad.is_empty() {
        compute_parity(m, cols);
    }
    true
}

/// Every way to choose up to `k` columns of `n` (smallest sets first), for
/// trying which columns are damaged when the checksum fails.
pub fn combinations(n: usize, k: usize) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    for i in 0..n {
        out.push(vec![i]);
    }
    if k >= 2 {
        for i in 0..n {
            for j in i + 1..n {
                out.push(vec![i, j]);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, RngCore, SeedableRng};

    #[test]
    fn gf_arithmetic() {
        for a in 1..=255u8 {
            assert_eq!(gf_div(gf_mul(a, 7), 7), a);
            assert_eq!(gf_mul(a, 1), a);
        }
        assert_eq!(gf_mul(2, 128), 0x1d);
    }

    #[test]
    fn layout_covers_every_sector_once() {
        for &(n, p) in &[(3usize, 1usize), (5, 1), (4, 2), (6, 2)] {
            for size in [512u64, 4096, 5000, 65536, 131072, 1 << 20] {
                let off = 7 * 4096;
                let m = map(off, size, 12, n, p);
                let total: usize = m.cols.iter().map(|c| c.len).sum();
                let alloc = alloc_sectors(size, 12, n, p) * 4096;
                assert!(total as u64 <= alloc, "n={n} p={p} size={size}");
                // Columns of one block never share a sector of a child.
                let mut used = std::collections::HashSet::new();
                for c in &m.cols {
                    for s in 0..c.len / 4096 {
                        assert!(used.insert((c.child, c.offset / 4096 + s as u64)));
                    }
                }
                assert_eq!(m.data_len as u64, size.div_ceil(4096) * 4096);
            }
        }
    }

    #[test]
    fn any_one_or_two_columns_rebuild() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        for &(n, p) in &[(3usize, 1usize), (5, 1), (4, 2), (7, 2)] {
            for size in [512u64, 4096, 12288, 100_000, 262_144] {
                let m = map(4096 * rng.gen_range(0..100), size, 12, n, p);
                let mut data = vec![0u8; size as usize];
                rng.fill_bytes(&mut data);
                let good = encode(&m, &data);
                assert_eq!(&gather(&m, &good)[..size as usize], &data[..]);
                for bad in combinations(m.cols.len(), p) {
                    let mut cols = good.clone();
                    for &c in &bad {
                        cols[c].iter_mut().for_each(|b| *b = rng.gen());
                    }
                    assert!(
                        reconstruct(&m, &mut cols, &bad),
                        "n={n} p={p} size={size} bad={bad:?}"
                    );
                    assert_eq!(cols, good, "n={n} p={p} size={size} bad={bad:?}");
                }
            }
        }
    }

    #[test]
    fn too_many_bad_columns_is_refused() {
        let m = map(0, 65536, 12, 4, 1);
        let mut cols = encode(&m, &[1u8; 65536]);
        assert!(!reconstruct(&m, &mut cols, &[1, 2]));
    }
}
