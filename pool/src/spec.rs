//! What `zpool create` is asked for: the pool name rules and the vdev
//! specification (`[mirror] DEV...` groups).

use std::path::PathBuf;
use std::sync::Arc;

use crate::error::{PoolError, Result};
use crate::vdev::BlockDevice;

/// A device named on a command line, or handed over in process (tests).
#[derive(Clone)]
pub enum DeviceSpec {
    /// A file or block device path.
    Path(PathBuf),
    /// An open device.
    Device(Arc<dyn BlockDevice>),
}

impl DeviceSpec {
    /// Display name.
    pub fn name(&self) -> String {
        match self {
            DeviceSpec::Path(p) => p.display().to_string(),
            DeviceSpec::Device(d) => d.path().to_string(),
        }
    }
}

impl std::fmt::Debug for DeviceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.name())
    }
}

/// Redundancy of a top-level vdev.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum TopKind {
    /// A single device.
    Single,
    /// An N-way mirror.
    Mirror,
    /// RAID-Z with single or double parity.
    Raidz(u8),
}

/// One top-level vdev to create.
#[derive(Clone, Debug)]
pub struct TopSpec {
    /// Its redundancy.
    pub kind: TopKind,
    /// Its devices.
    pub devices: Vec<DeviceSpec>,
}

/// The vdevs of a pool to create.
#[derive(Clone, Debug, Default)]
pub struct VdevSpec {
    /// Top-level vdevs in order.
    pub tops: Vec<TopSpec>,
}

impl VdevSpec {
    /// Parses `zpool create` words: `DEV...`, `mirror DEV DEV...`, mixed.
    pub fn parse(words: &[String]) -> Result<VdevSpec> {
        let mut tops = Vec::new();
        let mut i = 0;
        while i < words.len() {
            match words[i].as_str() {
                "mirror" => {
                    let mut devs = Vec::new();
                    i += 1;
                    while i < words.len() && !is_keyword(&words[i]) {
                        devs.push(DeviceSpec::Path(PathBuf::from(&words[i])));
                        i += 1;
                    }
                    if devs.len() < 2 {
                        return Err(PoolError::BadVdevSpec(
                            "mirror requires at least 2 devices".into(),
                        ));
                    }
                    tops.push(TopSpec {
                        kind: TopKind::Mirror,
                        devices: devs,
                    });
                }
                w @ ("raidz" | "raidz1" | "raidz2") => {
                    let nparity = if w == "raidz2" { 2 } else { 1 };
                    let mut devs = Vec::new();
                    i += 1;
                    while i < words.len() && !is_keyword(&words[i]) {
                        devs.push(DeviceSpec::Path(PathBuf::from(&words[i])));
                        i += 1;
                    }
                    if devs.len() < nparity as usize + 1 {
                        return Err(PoolError::BadVdevSpec(format!(
                            "{w} requires at least {} devices",
                            nparity as usize + 1
                        )));
                    }
                    if devs.len() > 255 {
                        return Err(PoolError::BadVdevSpec(format!(
                            "{w} of more than 255 devices"
                        )));
                    }
                    tops.push(TopSpec {
                        kind: TopKind::Raidz(nparity),
                        devices: devs,
                    });
                }
                w @ ("raidz3" | "draid" | "spare" | "log" | "cache" | "special" | "dedup") => {
                    return Err(PoolError::BadVdevSpec(format!(
                        "vdev type '{w}' is not supported yet"
                    )));
                }
                w => {
                    if w.is_empty() {
                        return Err(PoolError::BadVdevSpec("empty device name".into()));
                    }
                    tops.push(TopSpec {
                        kind: TopKind::Single,
                        devices: vec![DeviceSpec::Path(PathBuf::from(w))],
                    });
                    i += 1;
                }
            }
        }
        if tops.is_empty() {
            return Err(PoolError::BadVdevSpec("missing vdev specification".into()));
        }
        Ok(VdevSpec { tops })
    }

    /// Refuses mixed redundancy (a single disk beside a mirror) unless
    /// forced, as OpenZFS does.
    pub fn check_replication(&self, force: bool) -> Result<()> {
        let kinds: Vec<(TopKind, usize)> = self
            .tops
            .iter()
            .map(|t| (t.kind, t.devices.len()))
            .collect();
        if !force && kinds.windows(2).any(|w| w[0] != w[1]) {
            return Err(PoolError::BadVdevSpec(
                "mismatched replication level: the top-level vdevs differ in redundancy; use -f to override"
                    .into(),
            ));
        }
        Ok(())
    }
}

fn is_keyword(w: &str) -> bool {
    matches!(
        w,
        "mirror"
            | "raidz"
            | "raidz1"
            | "raidz2"
            | "raidz3"
            | "draid"
            | "spare"
            | "log"
            | "cache"
            | "special"
            | "dedup"
    )
}

/// Checks a pool name against OpenZFS's rules.
pub fn validate_pool_name(name: &str) -> Result<()> {
    let bad = |why| {
        Err(PoolError::BadPoolName {
            name: name.to_string(),
            why,
        })
    };
    if name.is_empty() {
        return bad("name is empty");
    }
    if name.len() > 240 {
        return bad("name is too long (240 characters at most)");
    }
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return bad("name must begin with a letter");
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | ':' | '.' | ' '))
    {
        return bad("name may contain only letters, digits, '_', '-', ':', '.' and ' '");
    }
    let lower = name.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "mirror" | "raidz" | "draid" | "spare" | "log" | "cache" | "special" | "dedup"
    ) || lower.starts_with("raidz")
        || lower.starts_with("draid")
    {
        return bad("name is reserved");
    }
    if name.len() >= 2 && name.starts_with('c') && name.as_bytes()[1].is_ascii_digit() {
        return bad("names beginning with 'c[0-9]' are reserved");
    }
    if name.contains('%') || name.contains('/') || name.contains('@') {
        return bad("name may not contain '/', '@' or '%'");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn parses_groups() {
        let s = VdevSpec::parse(&w("mirror a b mirror c d")).unwrap();
        assert_eq!(s.tops.len(), 2);
        assert!(s
            .tops
            .iter()
            .all(|t| t.kind == TopKind::Mirror && t.devices.len() == 2));
        let s = VdevSpec::parse(&w("a b")).unwrap();
        assert_eq!(s.tops.len(), 2);
        assert!(VdevSpec::parse(&w("mirror a")).is_err());
        assert!(VdevSpec::parse(&[]).is_err());
        assert!(VdevSpec::parse(&w("a mirror b c"))
            .unwrap()
            .check_replication(false)
            .is_err());
        assert!(VdevSpec::parse(&w("a mirror b c"))
            .unwrap()
            .check_replication(true)
            .is_ok());
    }

    #[test]
    fn pool_names() {
        for ok in ["tank", "t1", "data_pool-2.x:y"] {
            assert!(validate_pool_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "1tank", "mirror", "raidz2", "c0d0", "a/b", "a@b", "tänk",
        ] {
            assert!(validate_pool_name(bad).is_err(), "{bad}");
        }
    }
}
