//! Reading a whole pool back, every unit of every object of every dataset
//! and snapshot checked on the way, and judging what was read against the
//! child's durability log.

use std::collections::{BTreeMap, BTreeSet};

use basin_dmu::{DslPool, ObjectType};

use crate::log::{Content, Entry, Units};
use crate::unit::{check_bonus, check_unit, UNIT};

/// The user property that lists the lineages a filesystem's data may carry
/// (its own id and those of the datasets it was cloned from), in hex.
pub const LINEAGE: &str = "ztest:lineage";

/// A filesystem as found on disk.
#[derive(Clone, Debug, Default)]
pub struct FsFound {
    /// Lineages its data may carry; the last one is its own.
    pub lineage: Vec<u64>,
    /// Its origin snapshot, for a clone.
    pub origin: Option<String>,
    /// Its snapshots, oldest first.
    pub snaps: Vec<String>,
    /// Its contents.
    pub content: Content,
}

/// Everything found on disk.
#[derive(Clone, Debug, Default)]
pub struct Found {
    pub fss: BTreeMap<String, FsFound>,
    pub snaps: BTreeMap<String, Content>,
    /// Units read that held data.
    pub units: u64,
}

pub fn parse_lineage(v: &str) -> Result<Vec<u64>, String> {
    v.split(',')
        .map(|x| u64::from_str_radix(x, 16).map_err(|e| format!("lineage '{v}': {e}")))
        .collect()
}

pub fn format_lineage(l: &[u64]) -> String {
    l.iter()
        .map(|x| format!("{x:x}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Reads and checks every object of dataset `name` (head or snapshot)
/// whose data may carry the lineages `allowed`; returns its contents and
/// how many units held data.
pub fn read_dataset(dsl: &DslPool, name: &str, allowed: &[u64]) -> Result<(Content, u64), String> {
    let os = dsl.objset(name).map_err(|e| format!("{name}: open: {e}"))?;
    let ids = os
        .object_ids()
        .map_err(|e| format!("{name}: list objects: {e}"))?;
    let mut content = Content::new();
    let mut count = 0;
    let mut buf = vec![0u8; 1 << 20];
    for id in ids {
        let info = os
            .info(id)
            .map_err(|e| format!("{name}: object {id}: {e}"))?;
        if info.meta.object_type != ObjectType::PLAIN_FILE {
            return Err(format!(
                "{name}: object {id} has type {}",
                info.meta.object_type.name()
            ));
        }
        check_bonus(&info.meta.bonus, id, allowed).map_err(|e| format!("{name}: {e}"))?;
        let blksz = info.meta.blksz as u64;
        let extent = ((info.meta.maxblkid + 1) * blksz).div_ceil(UNIT as u64) * UNIT as u64;
        let mut units = Units::new();
        let mut off = 0u64;
        while off < extent {
            let n = (extent - off).min(buf.len() as u64) as usize;
            os.read(id, off, &mut buf[..n])
                .map_err(|e| format!("{name}: object {id}: read {n} bytes at {off}: {e}"))?;
            for (i, u) in buf[..n].chunks(UNIT).enumerate() {
                let at = off + (i * UNIT) as u64;
                if let Some(h) =
                    check_unit(u, id, at, allowed).map_err(|e| format!("{name}: {e}"))?
                {
                    units.insert(at / UNIT as u64, h.gen);
                    count += 1;
                }
            }
            off += n as u64;
        }
        content.insert(id, units);
    }
    Ok((content, count))
}

/// Reads the whole pool: every filesystem and snapshot but the pool's root
/// filesystem (which must stay empty).
pub fn read_pool(dsl: &DslPool) -> Result<Found, String> {
    let root = dsl.pool().name().to_string();
    let names = dsl
        .list(None, true, None)
        .map_err(|e| format!("list: {e}"))?;
    let mut found = Found::default();
    for name in names {
        let (fs, snap) = match name.split_once('@') {
            Some((f, _)) => (f.to_string(), true),
            None => (name.clone(), false),
        };
        if fs == root {
            let os = dsl.objset(&name).map_err(|e| format!("{name}: {e}"))?;
            let ids = os.object_ids().map_err(|e| format!("{name}: {e}"))?;
            if !ids.is_empty() {
                return Err(format!("{name}: the pool's root holds objects {ids:?}"));
            }
            continue;
        }
        let prop = dsl
            .get_prop(&fs, LINEAGE)
            .map_err(|e| format!("{fs}: {LINEAGE}: {e}"))?;
        let lineage = parse_lineage(&prop.value)?;
        let (content, n) = read_dataset(dsl, &name, &lineage)?;
        found.units += n;
        if snap {
            found
                .fss
                .get_mut(&fs)
                .ok_or_else(|| format!("{name} listed before its filesystem"))?
                .snaps
                .push(name.clone());
            found.snaps.insert(name, content);
        } else {
            let origin = dsl
                .get_prop(&name, "origin")
                .map_err(|e| format!("{name}: origin: {e}"))?
                .value;
            found.fss.insert(
                name,
                FsFound {
                    lineage,
                    origin: (origin != "-" && !origin.is_empty()).then_some(origin),
                    snaps: Vec::new(),
                    content,
                },
            );
        }
    }
    Ok(found)
}

/// What the log check covered.
#[derive(Debug, Default)]
pub struct LogCheck {
    /// The txg the last `Sync` line promised.
    pub txg: u64,
    pub fss: usize,
    pub objects: usize,
    pub units: usize,
    pub snaps: usize,
    /// Filesystems checked against their last `Fsync` line.
    pub fsyncs: usize,
    /// Intents logged after the last `Sync` line.
    pub intents: usize,
}

/// What intents logged after some line may have taken away.
#[derive(Default)]
struct Intents<'a> {
    count: usize,
    destroyed: Vec<&'a str>,
    rolled: BTreeSet<&'a str>,
    promoted: BTreeSet<&'a str>,
    snaps_gone: BTreeSet<&'a str>,
    objs_gone: BTreeSet<(&'a str, u64)>,
    ranges: BTreeMap<(&'a str, u64), Vec<(u64, u64)>>,
}

impl<'a> Intents<'a> {
    fn after(entries: &'a [Entry]) -> Intents<'a> {
        let mut i = Intents::default();
        for e in entries {
            i.count += 1;
            match e {
                Entry::DestroyFs { fs } => i.destroyed.push(fs),
                Entry::DestroySnap { snap } => {
                    i.snaps_gone.insert(snap);
                }
                Entry::Rollback { fs } => {
                    i.rolled.insert(fs);
                }
                Entry::Promote { fss } => i.promoted.extend(fss.iter().map(|s| s.as_str())),
                Entry::FreeObj { fs, obj } => {
                    i.objs_gone.insert((fs, *obj));
                }
                Entry::FreeRange { fs, obj, lo, hi } => {
                    i.ranges.entry((fs, *obj)).or_default().push((*lo, *hi));
                }
                _ => i.count -= 1,
            }
        }
        i
    }

    /// Filesystem `fs` (or an ancestor) may be destroyed.
    fn gone(&self, fs: &str) -> bool {
        self.destroyed
            .iter()
            .any(|d| fs == *d || fs.strip_prefix(d).is_some_and(|r| r.starts_with('/')))
    }
}

/// Checks one filesystem's promised objects (`what` says which line made
/// the promise) against what was found.
fn check_fs(
    what: &str,
    fs: &str,
    objs: &BTreeMap<u64, Vec<(u64, i64)>>,
    i: &Intents,
    found: &Found,
    out: &mut LogCheck,
) -> Result<(), String> {
    if i.gone(fs) {
        return Ok(());
    }
    let Some(f) = found.fss.get(fs) else {
        return Err(format!("{fs}: durable ({what}), missing after import"));
    };
    out.fss += 1;
    if i.rolled.contains(fs) {
        return Ok(());
    }
    for (obj, units) in objs {
        if i.objs_gone.contains(&(fs, *obj)) {
            continue;
        }
        let Some(have) = f.content.get(obj) else {
            return Err(format!(
                "{fs}: object {obj}: durable ({what}), missing after import"
            ));
        };
        out.objects += 1;
        let freed = i.ranges.get(&(fs, *obj));
        for &(u, v) in units {
            if freed.is_some_and(|rs| rs.iter().any(|&(lo, hi)| u >= lo && u < hi)) {
                continue;
            }
            out.units += 1;
            let got = have.get(&u).copied();
            if v > 0 {
                match got {
                    Some(g) if g >= v as u64 => {}
                    Some(g) => {
                        return Err(format!(
                            "{fs}: object {obj} unit {u}: generation {g:#x} is older than {v:#x}, durable ({what}): stale data"
                        ))
                    }
                    None => {
                        return Err(format!(
                            "{fs}: object {obj} unit {u}: a hole, but generation {v:#x} was durable ({what}): lost write"
                        ))
                    }
                }
            } else if let Some(g) = got.filter(|&g| g <= v.unsigned_abs()) {
                return Err(format!(
                    "{fs}: object {obj} unit {u}: generation {g:#x}, freed at {:#x} durably ({what}): freed data came back",
                    v.unsigned_abs()
                ));
            }
        }
    }
    Ok(())
}

/// Judges the pool found on disk, imported at txg `imported` (and its
/// intent logs replayed), against the log: everything the last `Sync` line
/// promised is there, and so is everything the last `Fsync` line of each
/// filesystem promised, unless an intent logged after the promise may have
/// taken it away.
pub fn check_log(entries: &[Entry], found: &Found, imported: u64) -> Result<LogCheck, String> {
    let mut out = LogCheck::default();
    // An import that went back past a promised txg explains everything
    // else that is missing: say so first.
    if let Some(Entry::Sync { txg, .. }) = entries
        .iter()
        .rev()
        .find(|e| matches!(e, Entry::Sync { .. }))
    {
        if imported < *txg {
            return Err(format!(
                "the pool imported at txg {imported}, but txg {txg} was logged as durable"
            ));
        }
    }
    let mut last_fsync: BTreeMap<&str, usize> = BTreeMap::new();
    for (k, e) in entries.iter().enumerate() {
        if let Entry::Fsync { fs, .. } = e {
            last_fsync.insert(fs, k);
        }
    }
    for (fs, &k) in &last_fsync {
        let Entry::Fsync { objs, .. } = &entries[k] else {
            unreachable!()
        };
        let i = Intents::after(&entries[k + 1..]);
        let mut c = LogCheck::default();
        check_fs(
            &format!("fsync, line {}", k + 1),
            fs,
            objs,
            &i,
            found,
            &mut c,
        )?;
        out.fsyncs += c.fss;
    }
    let Some(r) = entries
        .iter()
        .rposition(|e| matches!(e, Entry::Sync { .. }))
    else {
        return Ok(out);
    };
    let Entry::Sync { txg, fss, snaps } = &entries[r] else {
        unreachable!()
    };
    out.txg = *txg;
    let mut snap_content: BTreeMap<&str, &Content> = BTreeMap::new();
    for e in entries {
        if let Entry::Snap { name, content } = e {
            snap_content.insert(name, content);
        }
    }
    let i = Intents::after(&entries[r + 1..]);
    out.intents = i.count;
    let what = format!("txg {txg}");
    for (fs, objs) in fss {
        check_fs(&what, fs, objs, &i, found, &mut out)?;
    }
    for s in snaps {
        let (fs, _) = s
            .split_once('@')
            .ok_or_else(|| format!("bad snapshot name {s}"))?;
        if i.gone(fs) || i.snaps_gone.contains(s.as_str()) || i.promoted.contains(fs) {
            continue;
        }
        let want = snap_content
            .get(s.as_str())
            .ok_or_else(|| format!("{s}: listed durable, but no Snap line gave its contents"))?;
        let Some(have) = found.snaps.get(s) else {
            return Err(format!("{s}: durable at txg {txg}, missing after import"));
        };
        out.snaps += 1;
        if have != *want {
            return Err(format!(
                "{s}: contents differ from when it was taken: {}",
                content_diff(want, have)
            ));
        }
    }
    Ok(out)
}

/// The first few differences between two contents, for messages.
pub fn content_diff(want: &Content, have: &Content) -> String {
    let mut out = Vec::new();
    let objs: BTreeSet<u64> = want.keys().chain(have.keys()).copied().collect();
    for o in objs {
        match (want.get(&o), have.get(&o)) {
            (Some(_), None) => out.push(format!("object {o} missing")),
            (None, Some(_)) => out.push(format!("object {o} unexpected")),
            (Some(w), Some(h)) => {
                let units: BTreeSet<u64> = w.keys().chain(h.keys()).copied().collect();
                for u in units {
                    let (a, b) = (w.get(&u), h.get(&u));
                    if a != b {
                        out.push(format!("object {o} unit {u}: want {a:x?}, have {b:x?}"));
                    }
                }
            }
            (None, None) => {}
        }
        if out.len() >= 8 {
            out.push("...".into());
            break;
        }
    }
    out.join("; ")
}
