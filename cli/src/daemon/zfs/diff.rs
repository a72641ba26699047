//! `zfs diff`: what changed between a snapshot and a later snapshot or the
//! filesystem. Objects print by number until the POSIX layer gives the
//! daemon a [`basin_dmu::dsl::diff::PathResolver`] that knows their paths
//! ([`crate::daemon::Daemon::paths`]).

use basin_dmu::DmuError;

use super::errors::{dmu_error, invalid, no_such_dataset};
use super::names::{self, fs_of, Want};
use super::{pool_for, type_of, wrong_type};
use crate::daemon::Daemon;
use crate::protocol::zfs::{DiffChange, DiffRequest, DiffResult};
use crate::protocol::WireError;

/// `zfs diff`.
pub fn diff(d: &Daemon, req: &DiffRequest) -> Result<DiffResult, WireError> {
    let from = req.from.as_str();
    if let Some(p) = names::problem(from, Want::Snapshot) {
        return Err(invalid(format!("Badly formed snapshot name {from}: {p}")));
    }
    // `zfs diff tank/a@x @y` names the later snapshot by its short name.
    let to = match &req.to {
        None => fs_of(from).to_string(),
        Some(t) if t.starts_with('@') => format!("{}{t}", fs_of(from)),
        Some(t) => t.clone(),
    };
    if let Some(p) = names::problem(&to, Want::Any) {
        return Err(invalid(format!(
            "Unable to determine which snapshots to compare: {p}"
        )));
    }
    let imp = pool_for(d, &format!("cannot open '{from}'"), from)?;
    for n in [from, to.as_str()] {
        if type_of(&imp, n).is_none() {
            return Err(no_such_dataset(n));
        }
    }
    if type_of(&imp, &to) == Some("volume") {
        return Err(wrong_type(&to));
    }
    let result = imp.dsl.diff(from, &to).map_err(|e| match e {
        DmuError::Invalid(ref m) if m.contains("not an earlier snapshot") => {
            invalid("Not an earlier snapshot from the same fs")
        }
        other => dmu_error(&format!("cannot diff '{from}'"), &other),
    })?;
    let named = result
        .named(d.paths.as_ref())
        .map_err(|e| dmu_error(&format!("cannot diff '{from}'"), &e))?;
    // Paths print under the filesystem's mountpoint, as OpenZFS prints
    // them (objects without a path keep their number).
    let base = mountpoint_path(&imp.dsl, fs_of(from));
    Ok(DiffResult {
        changes: named
            .into_iter()
            .map(|(kind, path)| DiffChange {
                change: kind.mark().to_string(),
                path: match &base {
                    Some(b) if path.starts_with('/') => under(b, &path),
                    _ => path,
                },
            })
            .collect(),
    })
}

/// The mountpoint of filesystem `name` when it is a path (not `none` or
/// `legacy`).
pub fn mountpoint_path(dsl: &basin_dmu::DslPool, name: &str) -> Option<String> {
    dsl.with_state(|st| {
        let id = st.lookup(name).ok()?;
        let mp = dsl.prop_of(st, id, "mountpoint").ok()?.value;
        mp.starts_with('/').then_some(mp)
    })
}

/// `path` (from the filesystem's root) under mountpoint `base`.
pub fn under(base: &str, path: &str) -> String {
    match (base.trim_end_matches('/'), path) {
        (b, "/") => format!("{b}/"),
        (b, p) => format!("{b}{p}"),
    }
}
