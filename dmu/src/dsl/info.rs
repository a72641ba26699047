//! Property values of datasets as `zfs get` and `zfs list` show them, with
//! inheritance and sources, and listing of the dataset tree.

use basin_pool::props::nicenum;
use basin_pool::{ChecksumType, Compression};

use crate::dsl::names::DsName;
use crate::dsl::phys::{DirKind, DS_FLAG_DEFER_DESTROY};
use crate::dsl::{deadlist, props, space, DslPool, DslState};
use crate::error::{DmuError, Result};
use crate::objset::WritePolicy;

/// Where a property value comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PropSource {
    /// Set on this dataset.
    Local,
    /// Never set.
    Default,
    /// Set on an ancestor.
    Inherited(String),
    /// Computed or fixed.
    None,
}

impl PropSource {
    /// As `zfs get` prints it.
    pub fn display(&self) -> String {
        match self {
            PropSource::Local => "local".into(),
            PropSource::Default => "default".into(),
            PropSource::Inherited(from) => format!("inherited from {from}"),
            PropSource::None => "-".into(),
        }
    }
}

/// One property of one dataset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PropValue {
    /// Property name.
    pub name: String,
    /// Value for people.
    pub value: String,
    /// Exact value (`-p`).
    pub exact: String,
    /// Source.
    pub source: PropSource,
}

fn pv(name: &str, value: String, exact: String, source: PropSource) -> PropValue {
    PropValue {
        name: name.to_string(),
        value,
        exact,
        source,
    }
}

fn size_pv(name: &str, v: u64) -> PropValue {
    pv(name, nicenum(v), v.to_string(), PropSource::None)
}

fn ratio(uncomp: u64, comp: u64) -> (String, String) {
    let r = if comp == 0 {
        1.0
    } else {
        uncomp as f64 / comp as f64
    };
    let r = (r * 100.0).floor() / 100.0;
    (format!("{r:.2}x"), format!("{r:.2}"))
}

/// The raw value of settable property `name` for directory `dir`, with its
/// source.
pub fn lookup_raw(st: &DslState, dir: u64, name: &str) -> (Option<String>, PropSource) {
    let inherit = props::def(name).map(|d| d.inherit).unwrap_or(true);
    let mut cur = dir;
    let mut first = true;
    while let Some(d) = st.dirs.get(&cur) {
        if let Some(v) = d.props.get(name) {
            let src = if first {
                PropSource::Local
            } else {
                PropSource::Inherited(st.dir_name(cur))
            };
            return (Some(v.clone()), src);
        }
        if !inherit || d.phys.parent == 0 {
            break;
        }
        first = false;
        cur = d.phys.parent;
    }
    (None, PropSource::Default)
}

/// The effective value of settable property `name` (default applied).
pub fn effective(st: &DslState, dir: u64, name: &str) -> String {
    match lookup_raw(st, dir, name).0 {
        Some(v) => v,
        None => props::def(name)
            .map(|d| d.default.to_string())
            .unwrap_or_default(),
    }
}

/// How the blocks of dataset `ds` in directory `dir` are written.
pub fn write_policy(st: &DslState, dir: u64, ds: u64) -> WritePolicy {
    let checksum = match effective(st, dir, "checksum").as_str() {
        "crc32c" => ChecksumType::Crc32c,
        _ => ChecksumType::Blake3,
    };
    let compression = match effective(st, dir, "compression").as_str() {
        "off" => Compression::Off,
        _ => Compression::Lz4,
    };
    let copies = effective(st, dir, "copies").parse().unwrap_or(1);
    WritePolicy {
        checksum,
        compression,
        copies,
        tenant: ds,
    }
}

/// The record size of filesystems in `dir` (the volume block size for a
/// volume).
pub fn recordsize(st: &DslState, dir: u64) -> u32 {
    let kind = st.dirs.get(&dir).map(|d| d.phys.kind);
    let v = if kind == Some(DirKind::Volume) {
        effective(st, dir, "volblocksize")
    } else {
        effective(st, dir, "recordsize")
    };
    props::parse_size(&v).unwrap_or(131072).clamp(512, 1 << 20) as u32
}

/// The mountpoint of a filesystem directory, with its source.
pub fn mountpoint(st: &DslState, dir: u64) -> (String, PropSource) {
    let mut cur = dir;
    let mut rel: Vec<String> = Vec::new();
    while let Some(d) = st.dirs.get(&cur) {
        if let Some(v) = d.props.get("mountpoint") {
            let src = if cur == dir {
                PropSource::Local
            } else {
                PropSource::Inherited(st.dir_name(cur))
            };
            if v == "none" || v == "legacy" {
                return (v.clone(), src);
            }
            rel.reverse();
            let mut p = v.clone();
            for r in rel {
                if !p.ends_with('/') {
                    p.push('/');
                }
                p.push_str(&r);
            }
            return (p, src);
        }
        if d.phys.parent == 0 {
            break;
        }
        rel.push(d.name.clone());
        cur = d.phys.parent;
    }
    (format!("/{}", st.dir_name(dir)), PropSource::Default)
}

/// `zfs get`'s type word of dataset `ds`.
pub fn type_name(st: &DslState, ds: u64) -> &'static str {
    match st.datasets.get(&ds) {
        Some(d) if d.snap_name.is_some() => "snapshot",
        Some(d) => match st.dirs.get(&d.phys.dir).map(|x| x.phys.kind) {
            Some(DirKind::Volume) => "volume",
            _ => "filesystem",
        },
        None => "-",
    }
}

fn creation_string(secs: u64) -> String {
    // "Sun Nov 22 10:05 2026", in UTC.
    let days = secs / 86400;
    let rem = secs % 86400;
    let (h, m) = (rem / 3600, rem % 3600 / 60);
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][(days % 7) as usize];
    // Civil date from days since 1970-01-01.
    let z = days as i64 + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if mo <= 2 { y + 1 } else { y };
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][(mo - 1) as usize];
    format!("{weekday} {month} {d:>2} {h:02}:{m:02} {y}")
}

impl DslPool {
    /// The value of property `name` of dataset `ds_name`.
    pub fn get_prop(&self, ds_name: &str, name: &str) -> Result<PropValue> {
        let st = self.st.lock();
        let id = st.lookup(ds_name)?;
        self.prop_of(&st, id, name)
    }

    /// Every property of dataset `ds_name` (native in `zfs get all` order,
    /// then user properties).
    pub fn get_all(&self, ds_name: &str) -> Result<Vec<PropValue>> {
        let st = self.st.lock();
        let id = st.lookup(ds_name)?;
        self.all_props(&st, id)
    }

    pub(crate) fn all_props(&self, st: &DslState, id: u64) -> Result<Vec<PropValue>> {
        let mut out = Vec::new();
        let ty = type_name(st, id);
        for name in props::READONLY
            .iter()
            .copied()
            .chain(props::SETTABLE.iter().map(|d| d.name))
        {
            if let Some(d) = props::def(name) {
                let applies = match d.applies {
                    props::Applies::All => true,
                    props::Applies::Filesystem => ty != "volume",
                    props::Applies::Volume => {
                        ty == "volume" || (ty == "snapshot" && self.snap_is_volume(st, id))
                    }
                };
                if !applies {
                    continue;
                }
            }
            out.push(self.prop_of(st, id, name)?);
        }
        // User properties set here or above.
        let dir = st.ds(id)?.phys.dir;
        let mut users = std::collections::BTreeSet::new();
        let mut cur = dir;
        while let Some(d) = st.dirs.get(&cur) {
            users.extend(d.props.keys().filter(|k| props::is_user_prop(k)).cloned());
            if d.phys.parent == 0 {
                break;
            }
            cur = d.phys.parent;
        }
        for u in users {
            out.push(self.prop_of(st, id, &u)?);
        }
        Ok(out)
    }

    fn snap_is_volume(&self, st: &DslState, id: u64) -> bool {
        st.ds(id)
            .ok()
            .and_then(|d| st.dirs.get(&d.phys.dir))
            .is_some_and(|d| d.phys.kind == DirKind::Volume)
    }

    /// The value of property `name` of dataset `id`, with the tree already
    /// locked (see [`DslPool::with_state`]): many values under one lock.
    pub fn prop_of(&self, st: &DslState, id: u64, name: &str) -> Result<PropValue> {
        let ds = st.ds(id)?;
        let dir = ds.phys.dir;
        let d = st.dir(dir)?;
        let is_snap = ds.snap_name.is_some();
        let none = |n: &str| pv(n, "-".into(), "-".into(), PropSource::None);
        Ok(match name {
            "name" => {
                let n = st.ds_name(id);
                pv(name, n.clone(), n, PropSource::None)
            }
            "type" => {
                let t = type_name(st, id).to_string();
                pv(name, t.clone(), t, PropSource::None)
            }
            "creation" => pv(
                name,
                creation_string(ds.phys.creation_time),
                ds.phys.creation_time.to_string(),
                PropSource::None,
            ),
            "createtxg" => pv(
                name,
                ds.phys.creation_txg.to_string(),
                ds.phys.creation_txg.to_string(),
                PropSource::None,
            ),
            "guid" => pv(
                name,
                ds.phys.guid.to_string(),
                ds.phys.guid.to_string(),
                PropSource::None,
            ),
            "objsetid" => pv(name, id.to_string(), id.to_string(), PropSource::None),
            "used" => size_pv(
                name,
                if is_snap {
                    ds.phys.unique
                } else {
                    d.phys.used.total()
                },
            ),
            "available" if is_snap => none(name),
            "available" => size_pv(name, space::available(self, st, dir)),
            "referenced" => size_pv(name, ds.phys.referenced),
            "logicalreferenced" => size_pv(name, ds.phys.uncompressed),
            "logicalused" if is_snap => size_pv(name, ds.phys.uncompressed),
            "logicalused" => size_pv(name, d.phys.uncompressed),
            "compressratio" if is_snap => {
                let (v, e) = ratio(ds.phys.uncompressed, ds.phys.compressed);
                pv(name, v, e, PropSource::None)
            }
            "compressratio" => {
                let (v, e) = ratio(d.phys.uncompressed, d.phys.compressed);
                pv(name, v, e, PropSource::None)
            }
            "refcompressratio" => {
                let (v, e) = ratio(ds.phys.uncompressed, ds.phys.compressed);
                pv(name, v, e, PropSource::None)
            }
            "usedbysnapshots" | "usedbydataset" | "usedbychildren" | "usedbyrefreservation"
                if is_snap =>
            {
                none(name)
            }
            "usedbysnapshots" => size_pv(name, d.phys.used.snap),
            "usedbydataset" => size_pv(name, d.phys.used.head),
            "usedbychildren" => size_pv(name, d.phys.used.child),
            "usedbyrefreservation" => size_pv(name, d.phys.used.refrsrv),
            "written" => {
                let prev_ref = match ds.phys.prev_snap {
                    0 => 0,
                    p => st.ds(p)?.phys.referenced,
                };
                let dead = deadlist::header(self.mos(), ds.phys.deadlist)?.used;
                size_pv(name, (ds.phys.referenced + dead).saturating_sub(prev_ref))
            }
            "origin" => match d.phys.origin {
                0 => none(name),
                o if !is_snap => {
                    let n = st.ds_name(o);
                    pv(name, n.clone(), n, PropSource::None)
                }
                _ => none(name),
            },
            "clones" if is_snap => {
                let mut names: Vec<String> = ds.clones.iter().map(|c| st.ds_name(*c)).collect();
                names.sort();
                let v = names.join(",");
                pv(name, v.clone(), v, PropSource::None)
            }
            "clones" => none(name),
            "userrefs" if is_snap => pv(
                name,
                ds.holds.len().to_string(),
                ds.holds.len().to_string(),
                PropSource::None,
            ),
            "userrefs" => none(name),
            "defer_destroy" if is_snap => {
                let v = if ds.phys.flags & DS_FLAG_DEFER_DESTROY != 0 {
                    "on"
                } else {
                    "off"
                };
                pv(name, v.into(), v.into(), PropSource::None)
            }
            "defer_destroy" => none(name),
            "mounted" => none(name),
            "mountpoint" if is_snap => none(name),
            "mountpoint" => {
                let (v, src) = mountpoint(st, dir);
                pv(name, v.clone(), v, src)
            }
            "volsize" => {
                let v = space::prop_u64(d, "volsize");
                let src = if is_snap {
                    PropSource::None
                } else {
                    PropSource::Local
                };
                pv(name, nicenum(v), v.to_string(), src)
            }
            "volblocksize" => {
                let v = space::prop_u64(d, "volblocksize");
                pv(name, nicenum(v), v.to_string(), PropSource::Default)
            }
            n if props::is_user_prop(n) => {
                let (v, src) = lookup_raw(st, dir, n);
                match v {
                    Some(v) => pv(n, v.clone(), v, src),
                    None => none(n),
                }
            }
            n => {
                let def = props::def(n).ok_or_else(|| DmuError::UnknownProperty(n.to_string()))?;
                let (raw, src) = lookup_raw(st, dir, n);
                let src = if is_snap && def.inherit {
                    match src {
                        PropSource::Local => PropSource::Inherited(st.dir_name(dir)),
                        s => s,
                    }
                } else {
                    src
                };
                let exact = raw.unwrap_or_else(|| def.default.to_string());
                let value = match def.ty {
                    props::PropType::Size { .. } | props::PropType::BlockSize(..) => {
                        match exact.parse::<u64>() {
                            Ok(0) if matches!(def.ty, props::PropType::Size { none: true }) => {
                                "none".to_string()
                            }
                            Ok(v) => nicenum(v),
                            Err(_) => exact.clone(),
                        }
                    }
                    _ => exact.clone(),
                };
                let exact = match def.ty {
                    props::PropType::Size { .. } | props::PropType::BlockSize(..) => {
                        props::parse_size(&exact)
                            .map(|v| v.to_string())
                            .unwrap_or(exact)
                    }
                    _ => exact,
                };
                pv(n, value, exact, src)
            }
        })
    }

    /// Datasets under `root` (or the whole pool) in `zfs list` order: each
    /// filesystem, then its snapshots oldest first, then its children by
    /// name. `depth` limits the levels below `root` (None: all, with
    /// `recursive`; without it only `root`).
    pub fn list(
        &self,
        root: Option<&str>,
        recursive: bool,
        depth: Option<usize>,
    ) -> Result<Vec<String>> {
        let st = self.st.lock();
        let (start, snap_only) = match root {
            Some(r) => {
                let n = DsName::parse(r)?;
                if n.is_snapshot() {
                    st.lookup(r)?;
                    return Ok(vec![r.to_string()]);
                }
                (st.lookup_dir(&n)?, false)
            }
            None => (st.root_dir, false),
        };
        let _ = snap_only;
        let max_depth = match (recursive || root.is_none(), depth) {
            (_, Some(d)) => d,
            (true, None) => usize::MAX,
            (false, None) => 0,
        };
        let mut out = Vec::new();
        self.list_dir(&st, start, 0, max_depth, &mut out)?;
        Ok(out)
    }

    fn list_dir(
        &self,
        st: &DslState,
        dir: u64,
        level: usize,
        max: usize,
        out: &mut Vec<String>,
    ) -> Result<()> {
        let d = st.dir(dir)?;
        out.push(st.dir_name(dir));
        if level < max {
            for s in st.snapshots_of(d.phys.head) {
                out.push(st.ds_name(s));
            }
            for c in d.children.values() {
                self.list_dir(st, *c, level + 1, max, out)?;
            }
        }
        Ok(())
    }

    /// The type of a dataset by name.
    pub fn dataset_type(&self, name: &str) -> Result<&'static str> {
        let st = self.st.lock();
        let id = st.lookup(name)?;
        Ok(type_name(&st, id))
    }

    /// Compares every kept space figure with one computed from the
    /// deadlists; returns the differences (for tests and the checker).
    pub fn verify_accounting(&self) -> Result<Vec<String>> {
        let st = self.st.lock();
        crate::dsl::space_recompute::verify(self, &st)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creation_dates() {
        assert_eq!(creation_string(0), "Thu Jan  1 00:00 1970");
        assert_eq!(creation_string(1_795_305_600), "Sun Nov 22 00:00 2026");
    }

    #[test]
    fn ratios() {
        assert_eq!(ratio(300, 100).0, "3.00x");
        assert_eq!(ratio(0, 0).0, "1.00x");
        assert_eq!(ratio(1999, 1000).0, "1.99x");
    }
}
