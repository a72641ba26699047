//! Pool properties as columns: header, alignment and width, as OpenZFS's
//! property table gives them (numbers right-aligned and at least 5 wide,
//! HEALTH 8 wide, on/off properties as wide as their longest value).

use crate::format::Align;

/// How a property shows as a column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PropInfo {
    /// Property name.
    pub name: &'static str,
    /// Column header.
    pub column: &'static str,
    /// Alignment.
    pub align: Align,
    /// Narrowest width.
    pub min_width: usize,
}

const fn p(name: &'static str, column: &'static str, align: Align, min_width: usize) -> PropInfo {
    PropInfo {
        name,
        column,
        align,
        min_width,
    }
}

use Align::{Left as L, Right as R};

/// Every pool property `zpool list -o` and `zpool get` know.
pub const PROPS: &[PropInfo] = &[
    p("name", "NAME", L, 4),
    p("size", "SIZE", R, 5),
    p("allocated", "ALLOC", R, 5),
    p("free", "FREE", R, 5),
    p("checkpoint", "CKPOINT", R, 7),
    p("expandsize", "EXPANDSZ", R, 8),
    p("fragmentation", "FRAG", R, 5),
    p("capacity", "CAP", R, 5),
    p("dedupratio", "DEDUP", R, 5),
    p("health", "HEALTH", R, 8),
    p("altroot", "ALTROOT", L, 7),
    p("guid", "GUID", R, 5),
    p("load_guid", "LOAD_GUID", R, 9),
    p("version", "VERSION", R, 7),
    p("readonly", "RDONLY", L, 6),
    p("ashift", "ASHIFT", R, 6),
    p("freeing", "FREEING", R, 7),
    p("leaked", "LEAKED", R, 6),
    p("comment", "COMMENT", L, 7),
    p("autoexpand", "EXPAND", L, 6),
    p("autoreplace", "REPLACE", L, 7),
    p("autotrim", "AUTOTRIM", L, 8),
    p("failmode", "FAILMODE", L, 8),
    p("listsnapshots", "LISTSNAPS", L, 9),
    p("multihost", "MULTIHOST", L, 9),
    p("delegation", "DELEGATION", L, 10),
    p("cachefile", "CACHEFILE", L, 9),
    p("bootfs", "BOOTFS", L, 6),
];

/// The columns of `zpool list` without `-o`.
pub const LIST_DEFAULT: &[&str] = &[
    "name",
    "size",
    "allocated",
    "free",
    "checkpoint",
    "expandsize",
    "fragmentation",
    "capacity",
    "dedupratio",
    "health",
    "altroot",
];

/// A property by its name or its column header, in any case (`alloc`,
/// `cap` and `frag` work, as in OpenZFS).
pub fn lookup(s: &str) -> Option<&'static PropInfo> {
    PROPS
        .iter()
        .find(|p| p.name.eq_ignore_ascii_case(s) || p.column.eq_ignore_ascii_case(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pool_property_has_a_column() {
        for name in basin_pool::props::all_names() {
            assert!(lookup(name).is_some(), "{name}");
        }
        for name in LIST_DEFAULT {
            assert!(lookup(name).is_some(), "{name}");
        }
        assert_eq!(lookup("alloc").unwrap().name, "allocated");
        assert_eq!(lookup("CAP").unwrap().name, "capacity");
        assert!(lookup("bogus").is_none());
    }
}
