//! `zfs set` and `zfs inherit`: every setting is checked on every dataset
//! before the first one changes.

use super::errors::{dmu_error, invalid, no_such_dataset};
use super::mount::ChangeList;
use super::names::Want;
use super::validate::check;
use super::{check_name, pool_for, record, type_of};
use crate::daemon::{Daemon, Imported};
use crate::dsprops;
use crate::protocol::zfs::{Changed, InheritRequest, SetRequest};
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
pub fn set(d: &Daemon, req: &SetRequest) -> Result<Changed, WireError> {
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
    // The filesystems the settings move or remount, unmounted before
    // anything is set (a busy one stops the whole command).
    let mut moves = Vec::new();
    for (t, prop, value) in &plan {
        if t.bit != dsprops::FS {
            continue;
        }
        let current = |p: &str| {
            t.imp
                .dsl
                .get_prop(&t.name, p)
                .map(|v| v.exact)
                .unwrap_or_default()
        };
        let change = match prop.as_str() {
            "mountpoint" => Some((Some("mountpoint"), Move::NewMountpoint)),
            "canmount" if value == "off" && d.mounts.is_mounted(&t.name) => {
                Some((Some("mountpoint"), Move::Unmount))
            }
            "readonly" if current("readonly") != *value => Some((Some("readonly"), Move::Remount)),
            _ => None,
        };
        if let Some((follows, how)) = change {
            moves.push(Moving::gather(d, &t.imp, &t.name, follows, how));
        }
    }
    Moving::prefix_all(d, &mut moves, false)?;
    for (t, prop, value) in &plan {
        let context = format!("cannot set property for '{}'", t.name);
        if let Err(e) = t.imp.dsl.set_prop(&t.name, prop, value) {
            Moving::restore_all(d, &mut moves);
            return Err(dmu_error(&context, &e));
        }
    }
    let mut logged: Vec<&str> = Vec::new();
    for t in &targets {
        if !logged.contains(&t.imp.name()) {
            record(&t.imp, &req.command);
            logged.push(t.imp.name());
        }
    }
    Ok(Changed {
        warnings: Moving::postfix_all(d, &moves),
    })
}

/// What a property change does to the mounts it touches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Move {
    /// A new mountpoint: mount again what was mounted, and what may now
    /// mount automatically; the old directories go.
    NewMountpoint,
    /// `canmount=off`: unmounted for good (what follows its mountpoint
    /// below it comes back).
    Unmount,
    /// `readonly`: mounted again in place with the new option.
    Remount,
}

/// The mounts one property change touches.
struct Moving {
    imp: Imported,
    list: ChangeList,
    how: Move,
}

impl Moving {
    fn gather(d: &Daemon, imp: &Imported, name: &str, follows: Option<&str>, how: Move) -> Moving {
        Moving {
            imp: imp.clone(),
            list: ChangeList::gather(d, imp, name, follows),
            how,
        }
    }

    /// Unmounts every list; if one fails, mounts again what the others
    /// unmounted, and fails: nothing changed.
    fn prefix_all(d: &Daemon, moves: &mut [Moving], force: bool) -> Result<(), WireError> {
        for i in 0..moves.len() {
            let m = &mut moves[i];
            if let Err(e) = m.list.prefix(d, &m.imp, force) {
                Moving::restore_all(d, &mut moves[..i]);
                return Err(e);
            }
        }
        Ok(())
    }

    fn restore_all(d: &Daemon, moves: &mut [Moving]) {
        for m in moves.iter_mut().rev() {
            m.list.restore(d, &m.imp);
        }
    }

    fn postfix_all(d: &Daemon, moves: &[Moving]) -> Vec<String> {
        let mut warnings = Vec::new();
        for m in moves {
            if m.how != Move::Remount {
                m.list.remove_old_dirs();
            }
            warnings.extend(m.list.postfix(d, &m.imp, m.how == Move::NewMountpoint));
        }
        warnings
    }
}

/// `zfs inherit`.
pub fn inherit(d: &Daemon, req: &InheritRequest) -> Result<Changed, WireError> {
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
    let how = match prop {
        "mountpoint" => Some(Move::NewMountpoint),
        "readonly" => Some(Move::Remount),
        _ => None,
    };
    let mut moves = Vec::new();
    if let Some(how) = how {
        // With -r, every filesystem below may change, not only those that
        // inherit already.
        let follows = (!req.recursive).then_some(prop);
        for t in targets.iter().filter(|t| t.bit == dsprops::FS) {
            moves.push(Moving::gather(d, &t.imp, &t.name, follows, how));
        }
    }
    Moving::prefix_all(d, &mut moves, false)?;
    for t in &targets {
        let context = format!("cannot inherit {prop} for '{}'", t.name);
        if let Err(e) = t.imp.dsl.inherit(&t.name, prop, req.recursive) {
            Moving::restore_all(d, &mut moves);
            return Err(dmu_error(&context, &e));
        }
    }
    let mut logged: Vec<&str> = Vec::new();
    for t in &targets {
        if !logged.contains(&t.imp.name()) {
            record(&t.imp, &req.command);
            logged.push(t.imp.name());
        }
    }
    Ok(Changed {
        warnings: Moving::postfix_all(d, &moves),
    })
}
