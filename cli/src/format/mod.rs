//! Output shared by every command: OpenZFS-aligned tables with `-H` and
//! `-p`, column lists for `-o`, OpenZFS 2.3-shaped `-j` JSON, sizes and
//! times.

pub mod bytes;
pub mod json;
pub mod table;
pub mod time;

pub use basin_pool::props::nicenum;
pub use bytes::nicebytes;
pub use table::{Align, Column, Table};

/// Splits a comma-separated list (`-o name,size`), dropping empty items.
pub fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(String::from)
        .collect()
}

/// A count as the READ/WRITE/CKSUM columns show it: exact with `-p`,
/// else short (1.00K).
pub fn count(n: u64, literal: bool) -> String {
    if literal {
        n.to_string()
    } else {
        nicenum(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_counts() {
        assert_eq!(split_list("name, size,,cap"), vec!["name", "size", "cap"]);
        assert!(split_list("").is_empty());
        assert_eq!(count(0, false), "0");
        assert_eq!(count(2048, false), "2.00K");
        assert_eq!(count(2048, true), "2048");
    }
}
