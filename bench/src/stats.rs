//! Medians and the few numbers derived from them.

/// The median of `v` (the mean of the two middle values for an even
/// count); `None` for an empty slice. NaNs sort last.
pub fn median(v: &[f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let n = s.len();
    Some(if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    })
}

/// Bytes per second from a byte count and seconds.
pub fn rate(bytes: u64, secs: f64) -> f64 {
    if secs <= 0.0 {
        return 0.0;
    }
    bytes as f64 / secs
}

/// Megabytes (10^6) per second.
pub fn mb_per_s(bytes: u64, secs: f64) -> f64 {
    rate(bytes, secs) / 1e6
}

/// Formats a number with three significant digits, grouping thousands
/// (`1,234`, `56.7`, `0.123`).
pub fn sig3(v: f64) -> String {
    if !v.is_finite() {
        return "-".into();
    }
    let a = v.abs();
    if a >= 1000.0 {
        group(v.round() as i64)
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else if a == 0.0 {
        "0".into()
    } else {
        format!("{v:.3}")
    }
}

fn group(n: i64) -> String {
    let s = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0]), Some(3.0));
        assert_eq!(median(&[5.0, 1.0, 3.0]), Some(3.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
    }

    #[test]
    fn formatting() {
        assert_eq!(sig3(1234.4), "1,234");
        assert_eq!(sig3(1_234_567.0), "1,234,567");
        assert_eq!(sig3(56.78), "56.8");
        assert_eq!(sig3(0.1234), "0.123");
        assert_eq!(sig3(0.0), "0");
        assert_eq!(sig3(-2500.0), "-2,500");
    }
}
