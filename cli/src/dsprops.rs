//! Dataset properties as `zfs` shows them: column headers, alignment and
//! widths, the dataset types each applies to, and the order of `zfs get
//! all`, all as OpenZFS 2.3's property table gives them. Shared by the
//! `zfs` client (columns, sorting) and the daemon (which properties a
//! dataset has).

use crate::format::Align;

/// A filesystem.
pub const FS: u8 = 1;
/// A volume.
pub const VOL: u8 = 2;
/// A snapshot.
pub const SNAP: u8 = 4;
/// Every dataset type.
pub const ALL: u8 = FS | VOL | SNAP;

/// How a property's values look.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A number of fixed width (sizes, counts, ratios): right-aligned.
    Number,
    /// A number whose column grows with its values (`guid`, `createtxg`).
    FlexNumber,
    /// A time, shown as a date, sorted as a number.
    Date,
    /// One of a list of words.
    Index,
    /// Free text (names, paths).
    Text,
}

/// One native property.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DsProp {
    /// Property name.
    pub name: &'static str,
    /// Column header in `zfs list`.
    pub column: &'static str,
    /// How values look.
    pub kind: Kind,
    /// The dataset types it applies to ([`FS`], [`VOL`], [`SNAP`]).
    pub types: u8,
    /// Narrowest column: the header, five for numbers, the longest word of
    /// an index property in OpenZFS's table.
    pub min_width: usize,
}

const fn p(name: &'static str, column: &'static str, kind: Kind, types: u8, w: usize) -> DsProp {
    DsProp {
        name,
        column,
        kind,
        types,
        min_width: w,
    }
}

use Kind::{Date, FlexNumber, Index, Number, Text};

/// Every native property Basin knows, in the order of OpenZFS's property
/// table (the order of `zfs get all`), then `name`.
pub const PROPS: &[DsProp] = &[
    p("type", "TYPE", Text, ALL, 4),
    p("creation", "CREATION", Date, ALL, 8),
    p("used", "USED", Number, ALL, 5),
    p("available", "AVAIL", Number, FS | VOL, 5),
    p("referenced", "REFER", Number, ALL, 5),
    p("compressratio", "RATIO", Number, ALL, 5),
    p("mounted", "MOUNTED", Index, FS, 7),
    p("origin", "ORIGIN", Text, FS | VOL, 6),
    p("quota", "QUOTA", Number, FS, 5),
    p("reservation", "RESERV", Number, FS | VOL, 6),
    p("volsize", "VOLSIZE", Number, VOL | SNAP, 7),
    p("volblocksize", "VOLBLOCK", Number, VOL, 8),
    p("recordsize", "RECSIZE", Number, FS, 7),
    p("mountpoint", "MOUNTPOINT", Text, FS, 10),
    p("checksum", "CHECKSUM", Index, FS | VOL, 9),
    p("compression", "COMPRESS", Index, FS | VOL, 14),
    p("atime", "ATIME", Index, FS, 5),
    p("devices", "DEVICES", Index, FS | SNAP, 7),
    p("exec", "EXEC", Index, FS | SNAP, 4),
    p("setuid", "SETUID", Index, FS | SNAP, 6),
    p("readonly", "RDONLY", Index, FS | VOL, 6),
    p("zoned", "ZONED", Index, FS, 5),
    p("snapdir", "SNAPDIR", Index, FS, 8),
    p("createtxg", "CREATETXG", FlexNumber, ALL, 9),
    p("canmount", "CANMOUNT", Index, FS, 8),
    p("xattr", "XATTR", Index, FS | SNAP, 5),
    p("copies", "COPIES", Index, FS | VOL, 6),
    p("refquota", "REFQUOTA", Number, FS, 8),
    p("refreservation", "REFRESERV", Number, FS | VOL, 9),
    p("guid", "GUID", FlexNumber, ALL, 5),
    p("primarycache", "PRIMARYCACHE", Index, ALL, 12),
    p("usedbysnapshots", "USEDSNAP", Number, FS | VOL, 8),
    p("usedbydataset", "USEDDS", Number, FS | VOL, 6),
    p("usedbychildren", "USEDCHILD", Number, FS | VOL, 9),
    p(
        "usedbyrefreservation",
        "USEDREFRESERV",
        Number,
        FS | VOL,
        13,
    ),
    p("defer_destroy", "DEFER_DESTROY", Index, SNAP, 13),
    p("userrefs", "USERREFS", Number, SNAP, 8),
    p("logbias", "LOGBIAS", Index, FS | VOL, 10),
    p("objsetid", "OBJSETID", FlexNumber, ALL, 8),
    p("sync", "SYNC", Index, FS | VOL, 8),
    p("refcompressratio", "REFRATIO", Number, ALL, 8),
    p("written", "WRITTEN", Number, ALL, 7),
    p("clones", "CLONES", Text, SNAP, 6),
    p("logicalused", "LUSED", Number, FS | VOL, 5),
    p("logicalreferenced", "LREFER", Number, ALL, 6),
    p("relatime", "RELATIME", Index, FS, 8),
    p("name", "NAME", Text, ALL, 4),
];

/// Properties whose values are byte counts (shown as `1.50M`).
pub const SIZES: &[&str] = &[
    "used",
    "available",
    "referenced",
    "quota",
    "reservation",
    "volsize",
    "volblocksize",
    "recordsize",
    "refquota",
    "refreservation",
    "usedbysnapshots",
    "usedbydataset",
    "usedbychildren",
    "usedbyrefreservation",
    "written",
    "logicalused",
    "logicalreferenced",
];

/// The columns of `zfs list` without `-o`.
pub const LIST_DEFAULT: &[&str] = &["name", "used", "available", "referenced", "mountpoint"];

/// What `-o space` stands for.
pub const SPACE: &[&str] = &[
    "name",
    "available",
    "used",
    "usedbysnapshots",
    "usedbydataset",
    "usedbyrefreservation",
    "usedbychildren",
];

/// The type bit of a type word (`filesystem`, `volume`, `snapshot`).
pub fn type_bit(ty: &str) -> u8 {
    match ty {
        "filesystem" => FS,
        "volume" => VOL,
        "snapshot" => SNAP,
        _ => 0,
    }
}

/// A native property by name or by its column header in lower case
/// (`avail`, `refer`, `usedsnap`), as OpenZFS accepts both.
pub fn lookup(s: &str) -> Option<&'static DsProp> {
    PROPS
        .iter()
        .find(|p| p.name == s)
        .or_else(|| PROPS.iter().find(|p| p.column.to_ascii_lowercase() == s))
}

/// True for a user property (`module:name`).
pub fn is_user(name: &str) -> bool {
    name.contains(':')
}

impl DsProp {
    /// How the column aligns.
    pub fn align(&self) -> Align {
        match self.kind {
            Kind::Number | Kind::FlexNumber => Align::Right,
            _ => Align::Left,
        }
    }

    /// True when it applies to datasets of type bit `ty`.
    pub fn applies_to(&self, ty: u8) -> bool {
        self.types & ty != 0
    }

    /// True when its values sort as numbers.
    pub fn numeric(&self) -> bool {
        matches!(self.kind, Kind::Number | Kind::FlexNumber | Kind::Date)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_dmu_property_has_a_column() {
        for d in basin_dmu::dsl::props::SETTABLE {
            assert!(lookup(d.name).is_some(), "{}", d.name);
        }
        for n in basin_dmu::dsl::props::READONLY {
            assert!(lookup(n).is_some(), "{n}");
        }
        for n in LIST_DEFAULT.iter().chain(SPACE).chain(SIZES) {
            assert!(lookup(n).is_some(), "{n}");
        }
        assert_eq!(lookup("avail").unwrap().name, "available");
        assert_eq!(lookup("usedsnap").unwrap().name, "usedbysnapshots");
        assert_eq!(lookup("refer").unwrap().name, "referenced");
        assert!(lookup("AVAIL").is_none());
        assert!(lookup("bogus").is_none());
        for p in PROPS {
            assert!(p.min_width >= p.column.len(), "{}", p.name);
        }
    }
}
