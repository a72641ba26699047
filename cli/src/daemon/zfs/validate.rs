//! Property settings checked before anything changes, with OpenZFS's words
//! ("'compression' must be one of 'on | off | lz4'"), for `zfs create -o`,
//! `zfs set`, `zfs clone -o` and `zpool create -O`.

use basin_dmu::dsl::props::{self as dprops, PropType};
use basin_pool::props::nicenum;

use crate::dsprops::{self, SNAP, VOL};
use crate::protocol::zpool::PropSetting;

/// Longest user property name, as OpenZFS (`ZAP_MAXNAMELEN` less the NUL).
const MAX_USER_NAME: usize = 255;
/// Longest property value.
const MAX_VALUE: usize = 8191;

fn size_name(n: u64) -> String {
    if n < 1024 {
        format!("{n}B")
    } else {
        nicenum(n).replace(".00", "")
    }
}

fn user_problem(name: &str, value: &str) -> Option<String> {
    let valid = name.chars().all(|c| {
        c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.' | ':')
    });
    if !valid || name.starts_with(':') {
        return Some(format!("invalid property '{name}'"));
    }
    if name.len() > MAX_USER_NAME {
        return Some(format!("property name '{name}' is too long"));
    }
    if value.len() > MAX_VALUE {
        return Some(format!("property value for '{name}' is too long"));
    }
    None
}

/// Checks `name=value` for a dataset of type `ty` ([`dsprops::FS`],
/// [`VOL`], [`SNAP`]); `creating` allows the properties settable only at
/// creation. Returns the value to store, or why not (without context).
pub fn check(name: &str, value: &str, ty: u8, creating: bool) -> Result<String, String> {
    if dsprops::is_user(name) {
        if let Some(p) = user_problem(name, value) {
            return Err(p);
        }
        return Ok(value.to_string());
    }
    let Some(def) = dprops::def(name) else {
        return Err(if dsprops::lookup(name).is_some() {
            format!("'{name}' is readonly")
        } else {
            format!("invalid property '{name}'")
        });
    };
    let applies = dsprops::lookup(name).is_some_and(|p| p.applies_to(ty));
    if !applies || ty == SNAP {
        return Err(format!("'{name}' does not apply to datasets of this type"));
    }
    if def.create_only && !creating {
        return Err(format!("'{name}' is readonly"));
    }
    let ok = dprops::validate(name, value);
    match def.ty {
        PropType::Index(words) => {
            let words: Vec<&str> = words.to_vec();
            if ok.is_err() {
                return Err(format!("'{name}' must be one of '{}'", words.join(" | ")));
            }
        }
        PropType::Number(lo, hi) => {
            if ok.is_err() {
                let all: Vec<String> = (lo..=hi).map(|n| n.to_string()).collect();
                return Err(format!("'{name}' must be one of '{}'", all.join(" | ")));
            }
        }
        PropType::Size { none } => match dprops::parse_size(value) {
            None => return Err(format!("bad numeric value '{value}'")),
            Some(0) if none && !value.eq_ignore_ascii_case("none") => {
                if matches!(name, "quota" | "refquota") {
                    return Err("use 'none' to disable quota/refquota".into());
                }
            }
            Some(0) if !none => return Err(format!("'{name}' must be greater than zero")),
            Some(_) => {}
        },
        PropType::BlockSize(lo, hi) => {
            if ok.is_err() {
                return Err(format!(
                    "'{name}' must be power of 2 from {} to {}",
                    size_name(lo as u64),
                    size_name(hi as u64)
                ));
            }
        }
        PropType::Path => {
            if ok.is_err() {
                return Err(format!(
                    "'{name}' must be an absolute path, 'none', or 'legacy'"
                ));
            }
        }
        PropType::Text => {}
    }
    ok.map_err(|e| e.to_string())
}

/// Checks a list of settings for a dataset of type `ty`: each once, each
/// valid. Returns them ready for the dataset layer, or why not.
pub fn check_all(
    settings: &[PropSetting],
    ty: u8,
    creating: bool,
) -> Result<Vec<(String, String)>, String> {
    let mut out: Vec<(String, String)> = Vec::new();
    for s in settings {
        if out.iter().any(|(k, _)| *k == s.property) {
            return Err(format!(
                "property '{}' specified multiple times",
                s.property
            ));
        }
        let v = check(&s.property, &s.value, ty, creating)?;
        out.push((s.property.clone(), v));
    }
    Ok(out)
}

/// The type bit of a new dataset: a volume when it has a size.
pub fn new_type(volume: bool) -> u8 {
    if volume {
        VOL
    } else {
        dsprops::FS
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsprops::FS;

    #[test]
    fn openzfs_wording() {
        assert_eq!(check("compression", "off", FS, false).unwrap(), "off");
        assert_eq!(
            check("compression", "gzip", FS, false).unwrap_err(),
            "'compression' must be one of 'on | off | lz4'"
        );
        assert_eq!(
            check("foo", "1", FS, false).unwrap_err(),
            "invalid property 'foo'"
        );
        assert_eq!(
            check("used", "1", FS, false).unwrap_err(),
            "'used' is readonly"
        );
        assert_eq!(
            check("volsize", "1G", FS, false).unwrap_err(),
            "'volsize' does not apply to datasets of this type"
        );
        assert_eq!(
            check("volblocksize", "8K", VOL, false).unwrap_err(),
            "'volblocksize' is readonly"
        );
        assert_eq!(check("volblocksize", "8K", VOL, true).unwrap(), "8192");
        assert_eq!(
            check("recordsize", "100K", FS, false).unwrap_err(),
            "'recordsize' must be power of 2 from 512B to 1M"
        );
        assert_eq!(
            check("copies", "4", FS, false).unwrap_err(),
            "'copies' must be one of '1 | 2 | 3'"
        );
        assert_eq!(
            check("quota", "x", FS, false).unwrap_err(),
            "bad numeric value 'x'"
        );
        assert_eq!(
            check("quota", "0", FS, false).unwrap_err(),
            "use 'none' to disable quota/refquota"
        );
        assert_eq!(check("quota", "none", FS, false).unwrap(), "0");
        assert_eq!(
            check("mountpoint", "rel", FS, false).unwrap_err(),
            "'mountpoint' must be an absolute path, 'none', or 'legacy'"
        );
        assert_eq!(check("com.example:x", "v", SNAP, false).unwrap(), "v");
        assert_eq!(
            check("Bad:Name", "v", FS, false).unwrap_err(),
            "invalid property 'Bad:Name'"
        );
        let dup = vec![
            PropSetting {
                property: "atime".into(),
                value: "on".into(),
            };
            2
        ];
        assert_eq!(
            check_all(&dup, FS, true).unwrap_err(),
            "property 'atime' specified multiple times"
        );
    }
}
