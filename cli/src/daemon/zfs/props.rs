//! `zfs set` and `zfs inherit`: every setting is checked on every dataset
//! before the first one changes.

use super::errors::{dmu_error, invalid, no_such_dataset};
use super::names::Want;
use super::validate::check;
use super::{check_name, pool_for, record, type_of};
use crate::daemon::{Daemon, Imported};
use crate::dsprops;
use crate::protocol::zfs::{InheritRequest, SetRequest};
use crate::protocol::zpool::Done;
use crate::protocol::WireError;

/// A dataset to change, with its pool and type bit.
struct Target {
    name: String,
    imp: Imported,
    bit: u8,
}

fn targets(d: &Daemon, names: &[String]) -> Result<Vec<Target>, WireError> {
    let mut out = Vec::new();
    for n in names {
        let open = format!("cannot open '{n}'");
        check_name(&open, n, Want::Any)?;
        let imp = pool_for(d, &open, n)?;
        let ty = type_of(&imp, n).ok_or_else(|| no_such_dataset(n))?;
        out.push(Target {
            name: n.clone(),
            imp,
            bit: dsprops::type_bit(ty),
        });
    }
    Ok(out)
}

/// The space settings that cannot go below what is used, checked before
/// anything changes.
fn check_space(t: &Target, prop: &str, value: &str) -> Result<(), WireError> {
    if !matches!(prop, "quota" | "refquota") {
        return Ok(());
    }
    let n: u64 = value.parse().unwrap_or(0);
    let used_prop = if prop == "quota" {
        "used"
    } else {
        "referenced"
    };
    let used: u64 = t
        .imp
        .dsl
        .get_prop(&t.name, used_prop)
        .ok()
        .and_then(|v| v.exact.parse().ok())
        .unwrap_or(0);
    if n > 0 && n < used {
        return Err(invalid(format!(
            "cannot set property for '{}': size is less than current used or reserved space",
            t.name
        )));
    }
    Ok(())
}

/// `zfs set`.
pub fn set(d: &Daemon, req: &SetRequest) -> Result<Done, WireError> {
    let targets = targets(d, &req.names)?;
    let mut plan = Vec::new();
    for t in &targets {
        let context = format!("cannot set property for '{}'", t.name);
        if t.bit == dsprops::SNAP && req.props.iter().any(|p| dsprops::is_user(&p.property)) {
            return Err(invalid(format!(
                "{context}: user properties on snapshots are not supported yet"
            )));
        }
        let mut seen = Vec::new();
        for p in &req.props {
            if seen.contains(&&p.property) {
                return Err(invalid(format!(
                    "{context}: property '{}' specified multiple times",
                    p.property
                )));
            }
            seen.push(&p.property);
            let v = check(&p.property, &p.value, t.bit, false)
                .map_err(|why| invalid(format!("{context}: {why}")))?;
            check_space(t, &p.property, &v)?;
            plan.push((t, p.property.clone(), p.value.clone()));
        }
    }
    for (t, prop, value) in &plan {
        let context = format!("cannot set property for '{}'", t.name);
        t.imp
            .dsl
            .set_prop(&t.name, prop, value)
            .map_err(|e| dmu_error(&context, &e))?;
    }
    let mut logged: Vec<&str> = Vec::new();
    for t in &targets {
        if !logged.contains(&t.imp.name()) {
            record(&t.imp, &req.command);
            logged.push(t.imp.name());
        }
    }
    Ok(Done {})
}

/// `zfs inherit`.
pub fn inherit(d: &Daemon, req: &InheritRequest) -> Result<Done, WireError> {
    let prop = req.property.as_str();
    if !dsprops::is_user(prop) && dsprops::lookup(prop).is_none() {
        return Err(invalid(format!("invalid property '{prop}'")));
    }
    let targets = targets(d, &req.names)?;
    for t in &targets {
        if t.bit == dsprops::SNAP {
            return Err(invalid(format!(
                "cannot inherit {prop} for '{}': operation not applicable to datasets of this type",
                t.name
            )));
        }
    }
    for t in &targets {
        let context = format!("cannot inherit {prop} for '{}'", t.name);
        t.imp
            .dsl
            .inherit(&t.name, prop, req.recursive)
            .map_err(|e| dmu_error(&context, &e))?;
    }
    let mut logged: Vec<&str> = Vec::new();
    for t in &targets {
        if !logged.contains(&t.imp.name()) {
            record(&t.imp, &req.command);
            logged.push(t.imp.name());
        }
    }
    Ok(Done {})
}
