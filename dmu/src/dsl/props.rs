//! Dataset properties: the native ones with their types, defaults,
//! inheritance and validation, and user properties (`module:name`).

use crate::error::{DmuError, Result};

/// How a property's value is typed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PropType {
    /// One of a list of words.
    Index(&'static [&'static str]),
    /// A size in bytes, or `none` where allowed.
    Size {
        /// `none` is accepted (and means 0).
        none: bool,
    },
    /// A power of two between the bounds.
    BlockSize(u32, u32),
    /// A number between the bounds.
    Number(u64, u64),
    /// A path, `none` or `legacy`.
    Path,
    /// Free text.
    Text,
}

/// Which datasets a property applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applies {
    /// Filesystems and volumes (and their snapshots, read-only).
    All,
    /// Filesystems only.
    Filesystem,
    /// Volumes only.
    Volume,
}

/// A native, settable property.
#[derive(Clone, Copy, Debug)]
pub struct PropDef {
    /// Name.
    pub name: &'static str,
    /// Type.
    pub ty: PropType,
    /// Default value as displayed.
    pub default: &'static str,
    /// Children inherit it.
    pub inherit: bool,
    /// Only at creation (`volblocksize`).
    pub create_only: bool,
    /// What it applies to.
    pub applies: Applies,
}

const ONOFF: &[&str] = &["on", "off"];

/// The settable native properties.
pub const SETTABLE: &[PropDef] = &[
    PropDef {
        name: "atime",
        ty: PropType::Index(ONOFF),
        default: "on",
        inherit: true,
        create_only: false,
        applies: Applies::Filesystem,
    },
    PropDef {
        name: "canmount",
        ty: PropType::Index(&["on", "off", "noauto"]),
        default: "on",
        inherit: false,
        create_only: false,
        applies: Applies::Filesystem,
    },
    PropDef {
        name: "checksum",
        ty: PropType::Index(&["on", "blake3", "crc32c"]),
        default: "on",
        inherit: true,
        create_only: false,
        applies: Applies::All,
    },
    PropDef {
        name: "compression",
        ty: PropType::Index(&["on", "off", "lz4"]),
        default: "lz4",
        inherit: true,
        create_only: false,
        applies: Applies::All,
    },
    PropDef {
        name: "copies",
        ty: PropType::Number(1, 3),
        default: "1",
        inherit: true,
        create_only: false,
        applies: Applies::All,
    },
    PropDef {
        name: "devices",
        ty: PropType::Index(ONOFF),
        default: "on",
        inherit: true,
        create_only: false,
        applies: Applies::Filesystem,
    },
    PropDef {
        name: "exec",
        ty: PropType::Index(ONOFF),
        default: "on",
        inherit: true,
        create_only: false,
        applies: Applies::Filesystem,
    },
    PropDef {
        name: "logbias",
        ty: PropType::Index(&["latency", "throughput"]),
        default: "latency",
        inherit: true,
        create_only: false,
        applies: Applies::All,
    },
    PropDef {
        name: "mountpoint",
        ty: PropType::Path,
        default: "",
        inherit: true,
        create_only: false,
        applies: Applies::Filesystem,
    },
    PropDef {
        name: "primarycache",
        ty: PropType::Index(&["all", "none", "metadata"]),
        default: "all",
        inherit: true,
        create_only: false,
        applies: Applies::All,
    },
    PropDef {
        name: "quota",
        ty: PropType::Size { none: true },
        default: "none",
        inherit: false,
        create_only: false,
        applies: Applies::Filesystem,
    },
    PropDef {
        name: "readonly",
        ty: PropType::Index(ONOFF),
        default: "off",
        inherit: true,
        create_only: false,
        applies: Applies::All,
    },
    PropDef {
        name: "recordsize",
        ty: PropType::BlockSize(512, 1 << 20),
        default: "128K",
        inherit: true,
        create_only: false,
        applies: Applies::Filesystem,
    },
    PropDef {
        name: "refquota",
        ty: PropType::Size { none: true },
        default: "none",
        inherit: false,
        create_only: false,
        applies: Applies::Filesystem,
    },
    PropDef {
        name: "refreservation",
        ty: PropType::Size { none: true },
        default: "none",
        inherit: false,
        create_only: false,
        applies: Applies::All,
    },
    PropDef {
        name: "relatime",
        ty: PropType::Index(ONOFF),
        default: "on",
        inherit: true,
        create_only: false,
        applies: Applies::Filesystem,
    },
    PropDef {
        name: "reservation",
        ty: PropType::Size { none: true },
        default: "none",
        inherit: false,
        create_only: false,
        applies: Applies::All,
    },
    PropDef {
        name: "setuid",
        ty: PropType::Index(ONOFF),
        default: "on",
        inherit: true,
        create_only: false,
        applies: Applies::Filesystem,
    },
    PropDef {
        name: "snapdir",
        ty: PropType::Index(&["hidden", "visible"]),
        default: "hidden",
        inherit: true,
        create_only: false,
        applies: Applies::Filesystem,
    },
    PropDef {
        name: "sync",
        ty: PropType::Index(&["standard", "always", "disabled"]),
        default: "standard",
        inherit: true,
        create_only: false,
        applies: Applies::All,
    },
    PropDef {
        name: "volblocksize",
        ty: PropType::BlockSize(512, 128 << 10),
        default: "16K",
        inherit: false,
        create_only: true,
        applies: Applies::Volume,
    },
    PropDef {
        name: "volsize",
        ty: PropType::Size { none: false },
        default: "-",
        inherit: false,
        create_only: false,
        applies: Applies::Volume,
    },
    PropDef {
        name: "xattr",
        ty: PropType::Index(&["on", "off", "sa", "dir"]),
        default: "sa",
        inherit: true,
        create_only: false,
        applies: Applies::Filesystem,
    },
    PropDef {
        name: "zoned",
        ty: PropType::Index(ONOFF),
        default: "off",
        inherit: true,
        create_only: false,
        applies: Applies::Filesystem,
    },
];

/// Read-only native properties, in the order `zfs get all` shows them.
pub const READONLY: &[&str] = &[
    "type",
    "creation",
    "used",
    "available",
    "referenced",
    "compressratio",
    "mounted",
    "origin",
    "createtxg",
    "guid",
    "usedbysnapshots",
    "usedbydataset",
    "usedbychildren",
    "usedbyrefreservation",
    "written",
    "logicalused",
    "logicalreferenced",
    "refcompressratio",
    "clones",
    "userrefs",
    "defer_destroy",
    "name",
    "objsetid",
];

/// The definition of a settable native property.
pub fn def(name: &str) -> Option<&'static PropDef> {
    SETTABLE.iter().find(|d| d.name == name)
}

/// True for user properties (`module:property`).
pub fn is_user_prop(name: &str) -> bool {
    name.contains(':')
}

/// True for any property `zfs get` knows by this name.
pub fn is_known(name: &str) -> bool {
    def(name).is_some() || READONLY.contains(&name) || is_user_prop(name)
}

/// Parses a size like `10G`, `1.5M`, `512`, `none` (0).
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("none") {
        return Some(0);
    }
    let upper = s.to_ascii_uppercase();
    let t = upper.trim_end_matches('B');
    let t = t.strip_suffix('I').unwrap_or(t);
    let (num, mult) = match t.chars().last()? {
        'K' => (&t[..t.len() - 1], 1u64 << 10),
        'M' => (&t[..t.len() - 1], 1 << 20),
        'G' => (&t[..t.len() - 1], 1 << 30),
        'T' => (&t[..t.len() - 1], 1 << 40),
        'P' => (&t[..t.len() - 1], 1 << 50),
        'E' => (&t[..t.len() - 1], 1 << 60),
        c if c.is_ascii_digit() => (t, 1),
        _ => return None,
    };
    if num.is_empty() {
        return None;
    }
    if let Ok(n) = num.parse::<u64>() {
        return n.checked_mul(mult);
    }
    let f: f64 = num.parse().ok()?;
    if !f.is_finite() || f < 0.0 {
        return None;
    }
    let v = f * mult as f64;
    (v < u64::MAX as f64).then_some(v as u64)
}

fn bad(prop: &str, why: impl Into<String>) -> DmuError {
    DmuError::BadPropertyValue {
        prop: prop.to_string(),
        why: why.into(),
    }
}

/// Validates `value` for property `name`; returns the value to store.
pub fn validate(name: &str, value: &str) -> Result<String> {
    if is_user_prop(name) {
        if name.len() > 256 || value.len() > 8192 {
            return Err(bad(
                name,
                "a user property name under 256 bytes and a value under 8192 bytes",
            ));
        }
        return Ok(value.to_string());
    }
    if READONLY.contains(&name) {
        return Err(DmuError::ReadOnlyProperty(name.to_string()));
    }
    let d = def(name).ok_or_else(|| DmuError::UnknownProperty(name.to_string()))?;
    match d.ty {
        PropType::Index(words) => {
            if name == "checksum" && value == "off" {
                return Err(bad(
                    name,
                    "'on', 'blake3' or 'crc32c': Basin never turns checksums off",
                ));
            }
            if words.contains(&value) {
                Ok(value.to_string())
            } else {
                Err(bad(name, format!("one of '{}'", words.join("' | '"))))
            }
        }
        PropType::Size { none } => match parse_size(value) {
            Some(0) if !none => Err(bad(name, "a size greater than zero")),
            Some(v) => Ok(v.to_string()),
            None => Err(bad(name, "a size (such as 10G, 512M or 'none')")),
        },
        PropType::BlockSize(lo, hi) => match parse_size(value) {
            Some(v) if v >= lo as u64 && v <= hi as u64 && v.is_power_of_two() => Ok(v.to_string()),
            _ => Err(bad(
                name,
                format!(
                    "a power of 2 from {} to {}",
                    basin_pool::props::nicenum(lo as u64),
                    basin_pool::props::nicenum(hi as u64)
                ),
            )),
        },
        PropType::Number(lo, hi) => match value.parse::<u64>() {
            Ok(v) if v >= lo && v <= hi => Ok(v.to_string()),
            _ => Err(bad(name, format!("a number from {lo} to {hi}"))),
        },
        PropType::Path => {
            if value == "none" || value == "legacy" {
                Ok(value.to_string())
            } else if value.starts_with('/') && !value.contains("//") && value.len() < 4096 {
                let trimmed = value.trim_end_matches('/');
                Ok(if trimmed.is_empty() {
                    "/".to_string()
                } else {
                    trimmed.to_string()
                })
            } else {
                Err(bad(name, "an absolute path, 'none' or 'legacy'"))
            }
        }
        PropType::Text => Ok(value.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("512"), Some(512));
        assert_eq!(parse_size("1K"), Some(1024));
        assert_eq!(parse_size("1.5M"), Some(3 << 19));
        assert_eq!(parse_size("10g"), Some(10 << 30));
        assert_eq!(parse_size("2GiB"), Some(2 << 30));
        assert_eq!(parse_size("none"), Some(0));
        assert_eq!(parse_size("x"), None);
        assert_eq!(parse_size("-1"), None);
        assert_eq!(parse_size("99999999999E"), None);
    }

    #[test]
    fn validation() {
        assert_eq!(validate("compression", "off").unwrap(), "off");
        assert!(validate("compression", "gzip").is_err());
        assert!(validate("checksum", "off").is_err());
        assert_eq!(validate("quota", "1G").unwrap(), (1u64 << 30).to_string());
        assert_eq!(validate("recordsize", "64K").unwrap(), "65536");
        assert!(validate("recordsize", "100K").is_err());
        assert!(validate("copies", "4").is_err());
        assert!(matches!(
            validate("used", "1"),
            Err(DmuError::ReadOnlyProperty(_))
        ));
        assert!(matches!(
            validate("bogus", "1"),
            Err(DmuError::UnknownProperty(_))
        ));
        assert_eq!(validate("com.example:tag", "x").unwrap(), "x");
        assert_eq!(validate("mountpoint", "/a/b/").unwrap(), "/a/b");
        assert_eq!(validate("mountpoint", "/").unwrap(), "/");
        assert!(validate("mountpoint", "rel").is_err());
    }
}
