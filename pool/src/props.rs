//! Pool properties, as `zpool get` and `zpool set` show and change them.

use crate::error::{PoolError, Result};
use crate::pool::Pool;

/// Where a property's value comes from.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum PropSource {
    /// Computed or fixed (`-`).
    None,
    /// Set by the operator.
    Local,
    /// Never set.
    Default,
}

impl PropSource {
    /// As `zpool get` prints it.
    pub fn name(self) -> &'static str {
        match self {
            PropSource::None => "-",
            PropSource::Local => "local",
            PropSource::Default => "default",
        }
    }
}

/// One property value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PropValue {
    /// Property name.
    pub name: String,
    /// Value for people (sizes with units).
    pub value: String,
    /// Exact value (`-p`).
    pub exact: String,
    /// Source.
    pub source: PropSource,
}

/// Settable properties with their defaults.
const SETTABLE: &[(&str, &str)] = &[
    ("comment", "-"),
    ("autoexpand", "off"),
    ("autoreplace", "off"),
    ("autotrim", "off"),
    ("failmode", "wait"),
    ("listsnapshots", "off"),
    ("multihost", "off"),
    ("delegation", "on"),
    ("cachefile", "-"),
    ("bootfs", "-"),
];

/// Read-only properties, in `zpool get all` order.
const READONLY: &[&str] = &[
    "size",
    "capacity",
    "altroot",
    "health",
    "guid",
    "version",
    "free",
    "allocated",
    "readonly",
    "ashift",
    "fragmentation",
    "freeing",
    "leaked",
    "expandsize",
    "dedupratio",
    "load_guid",
];

/// Every property name, as `zpool get all` lists them.
pub fn all_names() -> Vec<&'static str> {
    let mut v: Vec<&str> = READONLY.to_vec();
    v.extend(SETTABLE.iter().map(|(n, _)| *n));
    v
}

/// Parses an `ashift` value.
pub fn parse_ashift(v: &str) -> Result<u8> {
    match v.parse::<u8>() {
        Ok(a) if (9..=16).contains(&a) => Ok(a),
        _ => Err(PoolError::BadPropertyValue {
            prop: "ashift".into(),
            value: v.into(),
            why: "must be an integer between 9 and 16".into(),
        }),
    }
}

/// Checks a value for a settable property; returns it normalised.
pub fn validate_settable(name: &str, value: &str) -> Result<String> {
    let bad = |why: &str| {
        Err(PoolError::BadPropertyValue {
            prop: name.into(),
            value: value.into(),
            why: why.into(),
        })
    };
    if READONLY.contains(&name) {
        return Err(PoolError::ReadOnlyProperty(name.into()));
    }
    match name {
        "autoexpand" | "autoreplace" | "autotrim" | "listsnapshots" | "multihost"
        | "delegation" => match value {
            "on" | "off" => Ok(value.into()),
            _ => bad("must be 'on' or 'off'"),
        },
        "failmode" => match value {
            "wait" | "continue" | "panic" => Ok(value.into()),
            _ => bad("must be 'wait', 'continue' or 'panic'"),
        },
        "comment" => {
            if value.len() > 32 || value.chars().any(|c| !c.is_ascii_graphic() && c != ' ') {
                bad("must be at most 32 printable ASCII characters")
            } else {
                Ok(value.into())
            }
        }
        "cachefile" | "bootfs" => Ok(value.into()),
        _ => Err(PoolError::UnknownProperty(name.into())),
    }
}

/// Human-readable size, as OpenZFS prints it (1024-based, 3 significant
/// digits: 1.50G, 960M, 12.0K).
pub fn nicenum(v: u64) -> String {
    const UNITS: [&str; 7] = ["", "K", "M", "G", "T", "P", "E"];
    if v < 1024 {
        return v.to_string();
    }
    let mut u = 0;
    let mut x = v as f64;
    while x >= 1024.0 && u < UNITS.len() - 1 {
        x /= 1024.0;
        u += 1;
    }
    let s = if x < 10.0 {
        format!("{:.2}", (x * 100.0).floor() / 100.0)
    } else if x < 100.0 {
        format!("{:.1}", (x * 10.0).floor() / 10.0)
    } else {
        format!("{:.0}", x.floor())
    };
    format!("{s}{}", UNITS[u])
}

impl Pool {
    /// The value of property `name`.
    pub fn get_property(&self, name: &str) -> Result<PropValue> {
        let f = self.space();
        let pv = |value: String, exact: String, source| {
            Ok(PropValue {
                name: name.into(),
                value,
                exact,
                source,
            })
        };
        let num = |n: u64| pv(nicenum(n), n.to_string(), PropSource::None);
        match name {
            "size" => num(f.size),
            "allocated" => num(f.allocated),
            "free" => num(f.free()),
            "freeing" => num(0),
            "leaked" => num(0),
            "expandsize" => pv("-".into(), "-".into(), PropSource::None),
            "capacity" => {
                let c = (f.allocated * 100).checked_div(f.size).unwrap_or(0);
                pv(format!("{c}%"), c.to_string(), PropSource::None)
            }
            "fragmentation" => pv(
                format!("{}%", f.fragmentation),
                f.fragmentation.to_string(),
                PropSource::None,
            ),
            "health" => {
                let h = self.health().name().to_string();
                pv(h.clone(), h, PropSource::None)
            }
            "guid" | "load_guid" => pv(
                self.guid().to_string(),
                self.guid().to_string(),
                PropSource::None,
            ),
            "version" => pv("-".into(), "-".into(), PropSource::Default),
            "readonly" => pv("off".into(), "off".into(), PropSource::None),
            "altroot" => pv("-".into(), "-".into(), PropSource::Default),
            "dedupratio" => pv("1.00x".into(), "1.00".into(), PropSource::None),
            "ashift" => {
                let a = self.vdevs().first().map(|v| v.ashift).unwrap_or(12);
                pv(a.to_string(), a.to_string(), PropSource::Local)
            }
            _ => {
                let default = SETTABLE
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, d)| *d)
                    .ok_or_else(|| PoolError::UnknownProperty(name.into()))?;
                match self.extras().props.get(name) {
                    Some(v) => pv(v.clone(), v.clone(), PropSource::Local),
                    None => pv(default.into(), default.into(), PropSource::Default),
                }
            }
        }
    }

    /// Sets a settable property; persistent from the next sync.
    pub fn set_property(&self, name: &str, value: &str) -> Result<()> {
        let v = validate_settable(name, value)?;
        if self.is_read_only() {
            return Err(PoolError::ReadOnlyPool(self.name().to_string()));
        }
        self.update_extras(|e| {
            e.props.insert(name.into(), v);
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nicenum_matches_openzfs() {
        assert_eq!(nicenum(0), "0");
        assert_eq!(nicenum(1000), "1000");
        assert_eq!(nicenum(1024), "1.00K");
        assert_eq!(nicenum(1536), "1.50K");
        assert_eq!(nicenum(960 << 20), "960M");
        assert_eq!(nicenum(99 << 30), "99.0G");
        assert_eq!(nicenum((1 << 40) + (1 << 39)), "1.50T");
    }

    #[test]
    fn settable_values_are_checked() {
        assert!(validate_settable("autoexpand", "on").is_ok());
        assert!(validate_settable("autoexpand", "yes").is_err());
        assert!(matches!(
            validate_settable("size", "1"),
            Err(PoolError::ReadOnlyProperty(_))
        ));
        assert!(matches!(
            validate_settable("bogus", "1"),
            Err(PoolError::UnknownProperty(_))
        ));
        assert!(validate_settable("comment", &"x".repeat(33)).is_err());
        assert!(
            parse_ashift("12").is_ok() && parse_ashift("8").is_err() && parse_ashift("x").is_err()
        );
    }
}
