//! `zfs list` and `zfs get`: every dataset asked for with the properties
//! asked for, in one request, computed under one lock of each pool's
//! dataset tree (10,000 snapshots cost one walk, not 10,000 requests).
//!
//! Which datasets: the names given (all pools when none), with `-r` their
//! descendants and with `-d N` at most N levels below, filtered by type,
//! as OpenZFS's `zfs_for_each` walks them. Rows come back unsorted; the
//! client sorts.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use basin_dmu::dsl::info::{type_name, PropSource};
use basin_dmu::dsl::DslState;
use basin_dmu::{DmuError, DslPool};

use super::errors::{dmu_error, invalid, no_such_dataset};
use super::names::{self, pool_of, Want};
use crate::daemon::{Daemon, Imported, Mounter};
use crate::dsprops::{self, ALL, FS, SNAP, VOL};
use crate::format::{nicebytes, time};
use crate::protocol::zfs::{DatasetRow, PropValue, QueryRequest, QueryResult};
use crate::protocol::{ErrorKind, WireError};

/// Which properties each row carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Wanted {
    /// Every property that applies (`zfs get all`), then user properties.
    All,
    /// These, in this order (native names, `name`, user properties).
    Props(Vec<String>),
}

/// Which datasets a walk takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scope {
    /// Types shown ([`FS`], [`VOL`], [`SNAP`]).
    pub types: u8,
    /// Snapshots met while recursing are shown (the pool's
    /// `listsnapshots` when no `-t` was given, else whether `-t` has
    /// snapshots).
    pub include_snaps: bool,
    /// `-r` or `-d`.
    pub recursive: bool,
    /// `-d`.
    pub limit: Option<u64>,
}

/// The type bit of dataset `id`.
fn type_bit(st: &DslState, id: u64) -> u8 {
    dsprops::type_bit(type_name(st, id))
}

fn source(src: PropSource, snapshot_of: Option<&str>) -> (String, Option<String>) {
    match src {
        PropSource::Local => match snapshot_of {
            Some(fs) => ("inherited".into(), Some(fs.to_string())),
            None => ("local".into(), None),
        },
        PropSource::Default => ("default".into(), None),
        PropSource::Inherited(from) => ("inherited".into(), Some(from)),
        PropSource::None => ("none".into(), None),
    }
}

fn none_value(property: &str) -> PropValue {
    PropValue {
        property: property.to_string(),
        value: "-".into(),
        exact: None,
        source: "none".into(),
        inherited_from: None,
    }
}

/// Builds rows for one pool, with its tree locked.
struct Walk<'a> {
    dsl: &'a DslPool,
    st: &'a DslState,
    scope: Scope,
    wanted: &'a Wanted,
    mounts: &'a dyn Mounter,
    seen: HashSet<u64>,
    rows: Vec<DatasetRow>,
}

impl Walk<'_> {
    /// One property of dataset `id` (of type bit `bit`) as `zfs` shows it.
    fn value(&self, id: u64, name: &str, ds_name: &str, bit: u8) -> Result<PropValue, DmuError> {
        if name == "name" {
            return Ok(PropValue {
                property: name.into(),
                value: ds_name.to_string(),
                exact: None,
                source: "none".into(),
                inherited_from: None,
            });
        }
        let snapshot_of = (bit == SNAP).then(|| names::fs_of(ds_name));
        if dsprops::is_user(name) {
            let pv = self.dsl.prop_of(self.st, id, name)?;
            let (src, from) = source(pv.source, snapshot_of);
            return Ok(PropValue {
                property: name.into(),
                value: pv.value,
                exact: None,
                source: src,
                inherited_from: from,
            });
        }
        let Some(def) = dsprops::lookup(name) else {
            return Ok(none_value(name));
        };
        if !self.applies(def, id, bit) {
            return Ok(none_value(def.name));
        }
        if def.name == "mounted" {
            let v = if self.mounts.is_mounted(ds_name) {
                "yes"
            } else {
                "no"
            };
            return Ok(PropValue {
                value: v.into(),
                ..none_value(def.name)
            });
        }
        let pv = self.dsl.prop_of(self.st, id, def.name)?;
        let exact = pv.exact;
        let mut value = pv.value;
        if dsprops::SIZES.contains(&def.name) && value != "none" && value != "-" {
            if let Ok(n) = exact.parse::<u64>() {
                value = nicebytes(n);
            }
        }
        if def.name == "creation" {
            if let Ok(secs) = exact.parse::<u64>() {
                value = time::local(secs).zfs_date();
            }
        }
        // The dataset layer already says where a snapshot's inherited
        // native values come from.
        let (src, from) = source(pv.source, None);
        Ok(PropValue {
            property: def.name.to_string(),
            exact: (exact != value).then_some(exact),
            value,
            source: src,
            inherited_from: from,
        })
    }

    /// True when `def` is a property of dataset `id`: as OpenZFS's table
    /// says, with `volsize` only on snapshots of volumes.
    fn applies(&self, def: &dsprops::DsProp, id: u64, bit: u8) -> bool {
        if def.name == "volsize" && bit == SNAP {
            return self
                .st
                .ds(id)
                .ok()
                .and_then(|d| self.st.dirs.get(&d.phys.dir))
                .is_some_and(|d| d.phys.kind == basin_dmu::dsl::phys::DirKind::Volume);
        }
        def.applies_to(bit)
    }

    /// User properties set on dataset `id`'s filesystem or above.
    fn user_props(&self, id: u64) -> Result<BTreeSet<String>, DmuError> {
        let mut out = BTreeSet::new();
        let mut cur = self.st.ds(id)?.phys.dir;
        while let Some(d) = self.st.dirs.get(&cur) {
            out.extend(d.props.keys().filter(|k| dsprops::is_user(k)).cloned());
            if d.phys.parent == 0 {
                break;
            }
            cur = d.phys.parent;
        }
        Ok(out)
    }

    fn row(&self, id: u64) -> Result<DatasetRow, DmuError> {
        let ds = self.st.ds(id)?;
        let name = self.st.ds_name(id);
        let ty = type_name(self.st, id);
        let bit = dsprops::type_bit(ty);
        let mut properties = Vec::new();
        match self.wanted {
            Wanted::All => {
                for def in dsprops::PROPS.iter().filter(|p| p.name != "name") {
                    if self.applies(def, id, bit) {
                        properties.push(self.value(id, def.name, &name, bit)?);
                    }
                }
                for u in self.user_props(id)? {
                    properties.push(self.value(id, &u, &name, bit)?);
                }
            }
            Wanted::Props(list) => {
                for p in list {
                    properties.push(self.value(id, p, &name, bit)?);
                }
            }
        }
        Ok(DatasetRow {
            pool: pool_of(&name).to_string(),
            name,
            dataset_type: ty.to_string(),
            createtxg: ds.phys.creation_txg,
            properties,
        })
    }

    fn add(&mut self, id: u64, bit: u8) -> Result<(), DmuError> {
        let wanted = self.scope.types & bit != 0 || (bit == SNAP && self.scope.include_snaps);
        if wanted && self.seen.insert(id) {
            let r = self.row(id)?;
            self.rows.push(r);
        }
        Ok(())
    }

    /// A filesystem or volume and, within the scope, what is below it.
    fn visit(&mut self, dir: u64, depth: u64) -> Result<(), DmuError> {
        let head = self.st.dir(dir)?.phys.head;
        let bit = type_bit(self.st, head);
        self.add(head, bit)?;
        let below = |d: u64| self.scope.limit.is_none_or(|l| d < l);
        if !self.scope.recursive || !below(depth) {
            return Ok(());
        }
        let next = depth + 1;
        if bit == FS && (below(next) || self.scope.types & (FS | VOL) != 0) {
            let children: Vec<u64> = self.st.dir(dir)?.children.values().copied().collect();
            for c in children {
                self.visit(c, next)?;
            }
        }
        if self.scope.include_snaps {
            for s in self.st.snapshots_of(head) {
                self.add(s, SNAP)?;
            }
        }
        Ok(())
    }
}

/// Parses the `-t` words of a request into a scope (without the pool's
/// `listsnapshots`, which the caller fills in).
fn types_of(req: &QueryRequest) -> Result<(u8, bool), WireError> {
    if req.types.is_empty() {
        return Ok((ALL, true));
    }
    let mut bits = 0;
    for t in &req.types {
        bits |= match t.as_str() {
            "all" => ALL,
            other => match dsprops::type_bit(other) {
                0 => return Err(invalid(format!("invalid type '{other}'"))),
                b => b,
            },
        };
    }
    Ok((bits, false))
}

/// The properties of a request, checked.
fn wanted_of(req: &QueryRequest) -> Result<Wanted, WireError> {
    if req.props.iter().any(|p| p == "all") {
        return Ok(Wanted::All);
    }
    let mut out = Vec::new();
    for p in &req.props {
        if dsprops::is_user(p) {
            out.push(p.clone());
            continue;
        }
        match dsprops::lookup(p) {
            Some(d) => out.push(d.name.to_string()),
            None => {
                return Err(invalid(format!(
                    "bad property list: invalid property '{p}'"
                )))
            }
        }
    }
    Ok(Wanted::Props(out))
}

fn listsnapshots(imp: &Imported) -> bool {
    imp.pool
        .get_property("listsnapshots")
        .map(|v| v.exact == "on")
        .unwrap_or(false)
}

/// Walks one pool: the `names` in it, or (when `names` is empty) all of it.
fn walk_pool(
    d: &Daemon,
    imp: &Imported,
    names: &[&str],
    scope: Scope,
    wanted: &Wanted,
    out: &mut QueryResult,
) {
    let dsl = &imp.dsl;
    let r = dsl.with_state(|st| -> Result<(), DmuError> {
        let mut w = Walk {
            dsl,
            st,
            scope,
            wanted,
            mounts: d.mounts.as_ref(),
            seen: HashSet::new(),
            rows: Vec::new(),
        };
        if names.is_empty() {
            w.scope.recursive = true;
            w.visit(st.root_dir, 0)?;
        }
        let argtypes = scope.types
            | if scope.recursive {
                FS | if scope.types & SNAP != 0 { VOL } else { 0 }
            } else {
                0
            };
        for name in names {
            let Ok(id) = st.lookup(name) else {
                out.errors.push(no_such_dataset(name));
                continue;
            };
            let bit = type_bit(st, id);
            if bit & argtypes == 0 {
                out.errors.push(WireError::new(
                    ErrorKind::InvalidArgument,
                    format!(
                        "cannot open '{name}': operation not applicable to datasets of this type"
                    ),
                    libc::EINVAL,
                ));
                continue;
            }
            if bit == SNAP {
                if w.seen.insert(id) {
                    let r = w.row(id)?;
                    w.rows.push(r);
                }
            } else {
                w.visit(st.ds(id)?.phys.dir, 0)?;
            }
        }
        out.datasets.append(&mut w.rows);
        Ok(())
    });
    if let Err(e) = r {
        out.errors.push(dmu_error(
            &format!("cannot get properties of pool '{}'", imp.name()),
            &e,
        ));
    }
}

/// `zfs list` and `zfs get`.
pub fn query(d: &Daemon, req: &QueryRequest) -> Result<QueryResult, WireError> {
    let (types, by_pool_prop) = types_of(req)?;
    let wanted = wanted_of(req)?;
    let mut out = QueryResult::default();
    let base = Scope {
        types,
        include_snaps: types & SNAP != 0,
        recursive: req.recursive || req.depth.is_some(),
        limit: req.depth,
    };
    let scope_for = |imp: &Imported| Scope {
        include_snaps: if by_pool_prop {
            listsnapshots(imp)
        } else {
            base.include_snaps
        },
        ..base
    };
    if req.names.is_empty() {
        for imp in d.registry.all() {
            walk_pool(d, &imp, &[], scope_for(&imp), &wanted, &mut out);
        }
        return Ok(out);
    }
    // Names grouped by pool, each pool walked once under its lock.
    let mut by_pool: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for n in &req.names {
        if let Some(p) = names::problem(n, Want::Any) {
            out.errors.push(invalid(format!("cannot open '{n}': {p}")));
            continue;
        }
        by_pool.entry(pool_of(n)).or_default().push(n);
    }
    for (pool, names) in by_pool {
        match d.registry.imported(pool) {
            Ok(imp) => walk_pool(d, &imp, &names, scope_for(&imp), &wanted, &mut out),
            Err(_) => out.errors.extend(names.iter().map(|n| no_such_dataset(n))),
        }
    }
    Ok(out)
}
