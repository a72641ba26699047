//! Dataset names checked as OpenZFS checks them, with its words ("invalid
//! character '*' in name"), before the dataset layer sees them.

/// What kind of name is expected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Want {
    /// A filesystem or volume (`pool/a/b`).
    Dataset,
    /// A snapshot (`pool/a@snap`).
    Snapshot,
    /// Either.
    Any,
}

/// The longest name, as OpenZFS (`ZFS_MAX_DATASET_NAME_LEN` less its NUL).
pub const MAX_NAME: usize = 255;

fn valid_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | ' ')
}

fn component_problem(c: &str) -> Option<String> {
    if c.is_empty() {
        return Some("empty component or misplaced '@' or '#' delimiter in name".into());
    }
    if c == "." {
        return Some("self reference, '.' is found in name".into());
    }
    if c == ".." {
        return Some("parent reference, '..' is found in name".into());
    }
    c.chars()
        .find(|ch| !valid_char(*ch))
        .map(|ch| format!("invalid character '{ch}' in name"))
}

/// Why `name` is not a valid name of kind `want`, in OpenZFS's words.
pub fn problem(name: &str, want: Want) -> Option<String> {
    let at = name.contains('@');
    if want == Want::Dataset && at {
        return Some("snapshot delimiter '@' is not expected here".into());
    }
    if want == Want::Snapshot && !at {
        return Some("missing '@' delimiter in snapshot name".into());
    }
    if name.contains('#') {
        return Some("bookmark delimiter '#' is not expected here".into());
    }
    if name.len() > MAX_NAME {
        return Some("name is too long".into());
    }
    if name.starts_with('/') {
        return Some("leading slash in name".into());
    }
    if name.matches('@').count() > 1 {
        return Some("multiple '@' and/or '#' delimiters in name".into());
    }
    let (fs, snap) = match name.split_once('@') {
        Some((f, s)) => (f, Some(s)),
        None => (name, None),
    };
    if name.ends_with('/') {
        return Some("trailing slash in name".into());
    }
    for c in fs.split('/') {
        if let Some(p) = component_problem(c) {
            return Some(p);
        }
    }
    snap.and_then(component_problem)
}

/// The pool part of a dataset name.
pub fn pool_of(name: &str) -> &str {
    let end = name.find(['/', '@']).unwrap_or(name.len());
    &name[..end]
}

/// The filesystem part of a name (before `@`).
pub fn fs_of(name: &str) -> &str {
    name.split_once('@').map(|(f, _)| f).unwrap_or(name)
}

/// The parent of a filesystem name, if it has one.
pub fn parent_of(name: &str) -> Option<&str> {
    fs_of(name).rsplit_once('/').map(|(p, _)| p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openzfs_wording() {
        assert_eq!(problem("tank/a", Want::Dataset), None);
        assert_eq!(problem("tank/a b.c:d-e_f", Want::Any), None);
        assert_eq!(problem("tank/a@s", Want::Snapshot), None);
        let p = |n: &str, w| problem(n, w).unwrap();
        assert_eq!(
            p("tank/a*b", Want::Dataset),
            "invalid character '*' in name"
        );
        assert_eq!(
            p("tank/a@s", Want::Dataset),
            "snapshot delimiter '@' is not expected here"
        );
        assert_eq!(
            p("tank/a", Want::Snapshot),
            "missing '@' delimiter in snapshot name"
        );
        assert_eq!(
            p("tank/a@s@t", Want::Snapshot),
            "multiple '@' and/or '#' delimiters in name"
        );
        assert_eq!(
            p("tank//a", Want::Any),
            "empty component or misplaced '@' or '#' delimiter in name"
        );
        assert_eq!(p("tank/a/", Want::Any), "trailing slash in name");
        assert_eq!(p("/tank", Want::Any), "leading slash in name");
        assert_eq!(
            p("tank/..", Want::Any),
            "parent reference, '..' is found in name"
        );
        assert_eq!(
            p(&format!("tank/{}", "x".repeat(251)), Want::Any),
            "name is too long"
        );
        assert_eq!(
            problem(&format!("tank/{}", "x".repeat(250)), Want::Any),
            None
        );
        assert_eq!(pool_of("tank/a@s"), "tank");
        assert_eq!(pool_of("tank@s"), "tank");
        assert_eq!(fs_of("tank/a@s"), "tank/a");
        assert_eq!(parent_of("tank/a/b"), Some("tank/a"));
        assert_eq!(parent_of("tank"), None);
    }
}
