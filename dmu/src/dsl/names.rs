//! Dataset names: `pool/fs/child`, `pool/fs@snap`, with OpenZFS's rules.

use crate::error::{DmuError, Result};

/// Longest full name, as OpenZFS.
pub const MAX_NAME_LEN: usize = 255;

/// A parsed dataset or snapshot name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DsName {
    /// Components of the filesystem or volume path, the pool first.
    pub path: Vec<String>,
    /// Snapshot name after `@`.
    pub snap: Option<String>,
}

fn bad(name: &str, why: &str) -> DmuError {
    DmuError::BadName {
        name: name.to_string(),
        why: why.to_string(),
    }
}

/// Checks one component (between slashes, or a snapshot name).
pub fn check_component(full: &str, c: &str) -> Result<()> {
    if c.is_empty() {
        return Err(bad(full, "empty component"));
    }
    if c == "." || c == ".." {
        return Err(bad(full, "'.' and '..' are not valid components"));
    }
    if let Some(ch) = c
        .chars()
        .find(|ch| !(ch.is_ascii_alphanumeric() || matches!(ch, '_' | '-' | ':' | '.' | ' ')))
    {
        return Err(bad(full, &format!("invalid character '{ch}' in name")));
    }
    Ok(())
}

impl DsName {
    /// Parses and validates a name.
    pub fn parse(name: &str) -> Result<DsName> {
        if name.len() > MAX_NAME_LEN {
            return Err(bad(name, "name is too long"));
        }
        if name.contains('#') {
            return Err(bad(name, "bookmarks are not supported"));
        }
        let (fs, snap) = match name.split_once('@') {
            Some((fs, s)) => {
                if s.contains('@') {
                    return Err(bad(name, "multiple '@' delimiters in name"));
                }
                check_component(name, s)?;
                (fs, Some(s.to_string()))
            }
            None => (name, None),
        };
        if fs.is_empty() {
            return Err(bad(name, "missing dataset name"));
        }
        if fs.starts_with('/') || fs.ends_with('/') {
            return Err(bad(name, "leading or trailing slash"));
        }
        let path: Vec<String> = fs.split('/').map(str::to_string).collect();
        for c in &path {
            check_component(name, c)?;
        }
        Ok(DsName { path, snap })
    }

    /// The pool name.
    pub fn pool(&self) -> &str {
        &self.path[0]
    }

    /// The filesystem or volume part, without the snapshot.
    pub fn fs(&self) -> String {
        self.path.join("/")
    }

    /// The parent filesystem's name (None for the pool's root).
    pub fn parent(&self) -> Option<String> {
        if self.path.len() <= 1 {
            None
        } else {
            Some(self.path[..self.path.len() - 1].join("/"))
        }
    }

    /// True for a snapshot name.
    pub fn is_snapshot(&self) -> bool {
        self.snap.is_some()
    }
}

impl std::fmt::Display for DsName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.fs())?;
        if let Some(s) = &self.snap {
            write!(f, "@{s}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_valid_names() {
        let n = DsName::parse("tank/a/b@snap-1").unwrap();
        assert_eq!(n.path, vec!["tank", "a", "b"]);
        assert_eq!(n.snap.as_deref(), Some("snap-1"));
        assert_eq!(n.parent().as_deref(), Some("tank/a"));
        assert_eq!(n.to_string(), "tank/a/b@snap-1");
        assert_eq!(DsName::parse("tank").unwrap().parent(), None);
    }

    #[test]
    fn refuses_bad_names() {
        for b in [
            "", "tank/", "/tank", "tank//a", "tank/a@", "tank@a@b", "tank/ä", "tank/a*b",
            "tank/..", "tank#b",
        ] {
            assert!(DsName::parse(b).is_err(), "{b}");
        }
        assert!(DsName::parse(&format!("tank/{}", "x".repeat(300))).is_err());
    }
}
