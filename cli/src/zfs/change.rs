//! The commands that change datasets. Each sends its command line along
//! for the pool history; `destroy -v` and `-n` print what goes as OpenZFS
//! does.

use super::{
    CloneArgs, Connect, CreateArgs, DestroyArgs, HoldArgs, InheritArgs, PromoteArgs, RenameArgs,
    RollbackArgs, SetArgs, SnapshotArgs,
};
use crate::dsprops;
use crate::errors::{print_err, print_out, CliError, CliResult, EXIT_OK};
use crate::format::nicebytes;
use crate::protocol::zfs::{
    Changed, CloneRequest, CreateRequest, DestroyRequest, DestroyResult, HoldRequest,
    InheritRequest, PromoteRequest, RenameRequest, RollbackRequest, SetRequest, SnapshotRequest,
};
use crate::protocol::zpool::{Done, PropSetting};
use crate::protocol::Request;

/// Splits `property=value` (OpenZFS's words when it is not).
pub fn assignment(s: &str) -> Result<PropSetting, CliError> {
    match s.split_once('=') {
        Some(("", _)) => Err(CliError::Usage(
            "missing property in property=value argument".into(),
        )),
        Some((p, v)) => Ok(PropSetting {
            property: p.to_string(),
            value: v.to_string(),
        }),
        None => Err(CliError::Usage(format!(
            "missing '=' for property=value argument '{s}'"
        ))),
    }
}

/// `-o property=value` settings, each property once.
pub fn settings(list: &[String]) -> Result<Vec<PropSetting>, CliError> {
    let mut out: Vec<PropSetting> = Vec::new();
    for s in list {
        let p = assignment(s)?;
        if out.iter().any(|x| x.property == p.property) {
            return Err(CliError::Usage(format!(
                "property '{}' specified multiple times",
                p.property
            )));
        }
        out.push(p);
    }
    Ok(out)
}

/// Prints what went wrong mounting after a change that was made (OpenZFS
/// carries on: the command still succeeds).
fn warn(c: &Changed) -> CliResult {
    for w in &c.warnings {
        print_err(&format!("{w}\n"));
    }
    Ok(EXIT_OK)
}

/// `zfs create`.
pub fn create(connect: Connect, a: &CreateArgs, line: &str) -> CliResult {
    let props = settings(&a.props)?;
    if let Some(v) = &a.volsize {
        if basin_dmu::dsl::props::parse_size(v).is_none_or(|n| n == 0) {
            return Err(CliError::Usage(format!("bad volume size '{v}'")));
        }
    }
    let r: Changed = connect()?.call(&Request::ZfsCreate(CreateRequest {
        name: a.name.clone(),
        volsize: a.volsize.clone(),
        volblocksize: a.blocksize.clone(),
        sparse: a.sparse,
        parents: a.parents,
        props,
        no_mount: a.no_mount,
        command: line.to_string(),
    }))?;
    warn(&r)
}

/// What `zfs destroy -v`, `-n` and `-p` print.
pub fn destroy_report(r: &DestroyResult, dry_run: bool, parsable: bool) -> String {
    let mut out = String::new();
    for n in &r.destroyed {
        out.push_str(&match (parsable, dry_run) {
            (true, _) => format!("destroy\t{n}\n"),
            (false, true) => format!("would destroy {n}\n"),
            (false, false) => format!("will destroy {n}\n"),
        });
    }
    if let Some(bytes) = r.reclaim {
        out.push_str(&match (parsable, dry_run) {
            (true, _) => format!("reclaim\t{bytes}\n"),
            (false, true) => format!("would reclaim {}\n", nicebytes(bytes)),
            (false, false) => format!("will reclaim {}\n", nicebytes(bytes)),
        });
    }
    out
}

/// `zfs destroy`.
pub fn destroy(connect: Connect, a: &DestroyArgs, line: &str) -> CliResult {
    let r: DestroyResult = connect()?.call(&Request::ZfsDestroy(DestroyRequest {
        name: a.name.clone(),
        recursive: a.recursive || a.dependents,
        dependents: a.dependents,
        defer: a.defer,
        force: a.force,
        dry_run: a.dry_run,
        command: line.to_string(),
    }))?;
    if a.verbose || a.parsable {
        print_out(&destroy_report(&r, a.dry_run, a.parsable))?;
    }
    Ok(EXIT_OK)
}

/// `zfs set`: the settings come first, then the datasets.
pub fn set(connect: Connect, a: &SetArgs, line: &str) -> CliResult {
    let split = a
        .args
        .iter()
        .position(|s| !s.contains('='))
        .unwrap_or(a.args.len());
    if split == 0 {
        return Err(CliError::Usage("missing property=value argument(s)".into()));
    }
    if split == a.args.len() {
        return Err(CliError::Usage("missing dataset name(s)".into()));
    }
    let props = settings(&a.args[..split])?;
    let r: Changed = connect()?.call(&Request::ZfsSet(SetRequest {
        names: a.args[split..].to_vec(),
        props,
        command: line.to_string(),
    }))?;
    warn(&r)
}

/// `zfs inherit`: read-only and non-inheritable properties are refused
/// here, as OpenZFS does.
pub fn inherit(connect: Connect, a: &InheritArgs, line: &str) -> CliResult {
    let p = a.property.as_str();
    if !dsprops::is_user(p) {
        let Some(native) = dsprops::lookup(p) else {
            return Err(CliError::Usage(format!("invalid property '{p}'")));
        };
        match basin_dmu::dsl::props::def(native.name) {
            None => return Err(CliError::Failed(format!("{p} property is read-only"))),
            Some(d) if !d.inherit => {
                let mut msg = format!("'{p}' property cannot be inherited");
                if matches!(
                    native.name,
                    "quota" | "reservation" | "refquota" | "refreservation"
                ) {
                    msg.push_str(&format!(
                        "\nuse 'zfs set {p}=none' to clear\nuse 'zfs inherit -S {p}' to revert to received value"
                    ));
                }
                return Err(CliError::Failed(msg));
            }
            Some(_) => {}
        }
    }
    let property = dsprops::lookup(p)
        .map(|d| d.name.to_string())
        .unwrap_or_else(|| p.to_string());
    let r: Changed = connect()?.call(&Request::ZfsInherit(InheritRequest {
        names: a.names.clone(),
        property,
        recursive: a.recursive,
        command: line.to_string(),
    }))?;
    warn(&r)
}

/// `zfs snapshot`.
pub fn snapshot(connect: Connect, a: &SnapshotArgs, line: &str) -> CliResult {
    let props = settings(&a.props)?;
    let _: Done = connect()?.call(&Request::ZfsSnapshot(SnapshotRequest {
        names: a.names.clone(),
        recursive: a.recursive,
        props,
        command: line.to_string(),
    }))?;
    Ok(EXIT_OK)
}

/// `zfs rollback`.
pub fn rollback(connect: Connect, a: &RollbackArgs, line: &str) -> CliResult {
    let r: Changed = connect()?.call(&Request::ZfsRollback(RollbackRequest {
        snapshot: a.snapshot.clone(),
        recursive: a.recursive || a.dependents,
        dependents: a.dependents,
        force: a.force,
        command: line.to_string(),
    }))?;
    warn(&r)
}

/// `zfs clone`.
pub fn clone(connect: Connect, a: &CloneArgs, line: &str) -> CliResult {
    let props = settings(&a.props)?;
    let r: Changed = connect()?.call(&Request::ZfsClone(CloneRequest {
        snapshot: a.snapshot.clone(),
        name: a.name.clone(),
        parents: a.parents,
        props,
        command: line.to_string(),
    }))?;
    warn(&r)
}

/// `zfs promote`.
pub fn promote(connect: Connect, a: &PromoteArgs, line: &str) -> CliResult {
    let _: Done = connect()?.call(&Request::ZfsPromote(PromoteRequest {
        name: a.name.clone(),
        command: line.to_string(),
    }))?;
    Ok(EXIT_OK)
}

/// `zfs rename`.
pub fn rename(connect: Connect, a: &RenameArgs, line: &str) -> CliResult {
    if a.parents && a.recursive {
        return Err(CliError::Usage(
            "-p and -r options are mutually exclusive".into(),
        ));
    }
    if a.recursive && !a.old.contains('@') {
        return Err(CliError::Usage(
            "source dataset for recursive rename must be a snapshot".into(),
        ));
    }
    let r: Changed = connect()?.call(&Request::ZfsRename(RenameRequest {
        old: a.old.clone(),
        new: a.new.clone(),
        parents: a.parents,
        recursive: a.recursive,
        force: a.force,
        command: line.to_string(),
    }))?;
    warn(&r)
}

/// `zfs hold` (`hold` true) and `zfs release`.
pub fn hold(connect: Connect, a: &HoldArgs, line: &str, hold: bool) -> CliResult {
    let req = HoldRequest {
        tag: a.tag.clone(),
        snapshots: a.snapshots.clone(),
        recursive: a.recursive,
        command: line.to_string(),
    };
    let req = if hold {
        Request::ZfsHold(req)
    } else {
        Request::ZfsRelease(req)
    };
    let _: Done = connect()?.call(&req)?;
    Ok(EXIT_OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destroy_reports_like_openzfs() {
        let r = DestroyResult {
            destroyed: vec!["tank/a@s1".into(), "tank/a@s2".into()],
            reclaim: Some(1536),
        };
        assert_eq!(
            destroy_report(&r, true, false),
            "would destroy tank/a@s1\nwould destroy tank/a@s2\nwould reclaim 1.50K\n"
        );
        assert_eq!(
            destroy_report(&r, false, true),
            "destroy\ttank/a@s1\ndestroy\ttank/a@s2\nreclaim\t1536\n"
        );
        let fs = DestroyResult {
            destroyed: vec!["tank/a/b".into(), "tank/a".into()],
            reclaim: None,
        };
        assert_eq!(
            destroy_report(&fs, false, false),
            "will destroy tank/a/b\nwill destroy tank/a\n"
        );
    }

    #[test]
    fn settings_are_checked() {
        assert!(matches!(assignment("=x"), Err(CliError::Usage(_))));
        assert!(matches!(assignment("atime"), Err(CliError::Usage(_))));
        assert_eq!(assignment("com.x:y=a=b").unwrap().value, "a=b");
        let dup = vec!["atime=on".to_string(), "atime=off".to_string()];
        assert!(
            matches!(settings(&dup), Err(CliError::Usage(m)) if m == "property 'atime' specified multiple times")
        );
    }
}
