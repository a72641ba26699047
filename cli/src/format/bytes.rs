//! Byte counts as `zfs` prints them (OpenZFS's `zfs_nicebytes`): `0B`,
//! `512B`, `128K` for exact multiples, else the most precise of `1.50K`,
//! `15.0K`, `150K` that fits in five characters.

const UNITS: [&str; 7] = ["B", "K", "M", "G", "T", "P", "E"];

/// `n` bytes for people.
pub fn nicebytes(n: u64) -> String {
    let mut index = 0;
    let mut v = n;
    while v >= 1024 && index < UNITS.len() - 1 {
        v /= 1024;
        index += 1;
    }
    let unit = UNITS[index];
    let base = 1u64 << (10 * index);
    if index == 0 || n.is_multiple_of(base) {
        return format!("{v}{unit}");
    }
    let val = n as f64 / base as f64;
    let mut out = String::new();
    for precision in (0..=2).rev() {
        out = format!("{val:.precision$}{unit}");
        if out.len() <= 5 {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_openzfs() {
        assert_eq!(nicebytes(0), "0B");
        assert_eq!(nicebytes(512), "512B");
        assert_eq!(nicebytes(1023), "1023B");
        assert_eq!(nicebytes(1024), "1K");
        assert_eq!(nicebytes(131_072), "128K");
        assert_eq!(nicebytes(1536), "1.50K");
        assert_eq!(nicebytes(10_239), "10.0K");
        assert_eq!(nicebytes(24 * 1024 + 512), "24.5K");
        assert_eq!(nicebytes(1_048_575), "1024K");
        assert_eq!(nicebytes(30_500_000_000), "28.4G");
        assert_eq!(nicebytes(u64::MAX), "16.0E");
    }
}
