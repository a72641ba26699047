//! `-d` and up: every object set (the MOS, datasets and snapshots) with
//! its figures; `-dd` its objects; `-ddd` each object's details and ZAP
//! entries; `-dddd` (or `-O DATASET OBJECT` for one object) the block
//! pointers of each object's tree.

use std::fmt::Write;
use std::sync::Arc;

use basin_dmu::dnode::{DnodePhys, DNODE_SIZE, PTRS_PER_INDIRECT};
use basin_dmu::objset::DNODE_BLOCK;
use basin_dmu::zap::Zap;
use basin_dmu::{DslPool, Objset};
use basin_pool::props::nicenum;
use basin_pool::{BlkPtr, Pool};

use crate::check::is_zap;
use crate::error::{FsckError, Result};
use crate::walk::{Place, Visitor, Walker};

/// What to dump.
#[derive(Clone, Debug, Default)]
pub struct DumpOptions {
    /// Number of `-d`.
    pub verbosity: u8,
    /// `-O DATASET OBJECT`: only this object, with its block pointers.
    pub object: Option<(String, u64)>,
}

/// One object set to dump.
struct Set {
    name: String,
    id: u64,
    kind: &'static str,
    cr_txg: u64,
    referenced: u64,
    os: Arc<Objset>,
}

fn sets(dsl: &DslPool) -> Result<Vec<Set>> {
    let mut out = vec![Set {
        name: "mos".into(),
        id: 0,
        kind: "META",
        cr_txg: 0,
        referenced: dsl.mos_bytes()?,
        os: dsl.mos().clone(),
    }];
    let mut names: Vec<(String, u64, u64, u64)> = dsl.with_state(|st| {
        st.datasets
            .iter()
            .map(|(id, d)| (st.ds_name(*id), *id, d.phys.creation_txg, d.phys.referenced))
            .collect()
    });
    names.sort();
    for (name, id, cr_txg, referenced) in names {
        out.push(Set {
            kind: dsl.dataset_type(&name)?,
            os: dsl.objset(&name)?,
            name,
            id,
            cr_txg,
            referenced,
        });
    }
    Ok(out)
}

/// The dnode of object `id` as it is on disk.
fn dnode(os: &Objset, id: u64) -> Result<DnodePhys> {
    let per_block = (DNODE_BLOCK as usize / DNODE_SIZE) as u64;
    let b = os.read_block(0, id / per_block)?;
    let off = (id % per_block) as usize * DNODE_SIZE;
    let chunk = b
        .get(off..off + DNODE_SIZE)
        .ok_or_else(|| FsckError::Usage(format!("object {id} is past the dnode array")))?;
    Ok(DnodePhys::decode(chunk)?)
}

/// Prints every block pointer met.
struct Printer<'a> {
    out: &'a mut String,
    blksz: u64,
}

impl Visitor for Printer<'_> {
    fn block(&mut self, bp: &BlkPtr, at: &Place<'_>, _first: bool) {
        let span = PTRS_PER_INDIRECT.saturating_pow(at.level as u32);
        let offset = at.blkid.saturating_mul(span).saturating_mul(self.blksz);
        let indent = " ".repeat(8usize.saturating_sub(at.level as usize));
        let _ = writeln!(
            self.out,
            "    {offset:>14x} {indent}L{} {}",
            at.level,
            bp.describe()
        );
    }

    fn problem(&mut self, at: &Place<'_>, what: String) {
        let _ = writeln!(self.out, "    {at}: {what}");
    }
}

fn object_line(out: &mut String, os: &Objset, id: u64, verbosity: u8) -> Result<()> {
    let info = os.info(id)?;
    let m = &info.meta;
    let _ = writeln!(
        out,
        "{id:>10} {:>4} {:>6} {:>9} {:>7} {:>6}  {}",
        info.nlevels,
        nicenum(m.blksz as u64),
        m.maxblkid,
        nicenum(info.used),
        m.bonus.len(),
        m.object_type.name()
    );
    if verbosity >= 3 {
        let _ = writeln!(
            out,
            "{:>14}generation {}, bonus type {}, {} bytes logical",
            "",
            m.generation,
            m.bonus_type,
            (m.maxblkid + 1).saturating_mul(m.blksz as u64)
        );
        if is_zap(m.object_type) {
            match Zap::new(os, id).list() {
                Ok(entries) => {
                    for e in entries {
                        let v = match e.value.len() {
                            8 => u64::from_le_bytes(e.value[..8].try_into().unwrap_or([0; 8]))
                                .to_string(),
                            _ => format!("'{}'", String::from_utf8_lossy(&e.value)),
                        };
                        let _ =
                            writeln!(out, "{:>16}{} = {v}", "", String::from_utf8_lossy(&e.name));
                    }
                }
                Err(e) => {
                    let _ = writeln!(out, "{:>16}ZAP does not decode: {e}", "");
                }
            }
        }
    }
    Ok(())
}

fn block_pointers(out: &mut String, pool: &Pool, set: &Set, id: u64) -> Result<()> {
    let dn = dnode(&set.os, id)?;
    let _ = writeln!(out, "{:>14}Indirect blocks:", "");
    let mut p = Printer {
        out,
        blksz: dn.datablksz as u64,
    };
    Walker::new(pool).object(&set.name, &set.os.root_bp(), id, &dn, &mut p);
    Ok(())
}

/// Dumps the object sets of `dsl` (opened read-only on `pool`).
pub fn dump_datasets(pool: &Pool, dsl: &DslPool, opts: &DumpOptions) -> Result<String> {
    let mut out = String::new();
    let all = sets(dsl)?;
    if let Some((name, obj)) = &opts.object {
        let set = all
            .iter()
            .find(|s| s.name == *name)
            .ok_or_else(|| FsckError::Usage(format!("no dataset named '{name}'")))?;
        let _ = writeln!(out, "Dataset {} [{}], ID {}", set.name, set.kind, set.id);
        header(&mut out);
        object_line(&mut out, &set.os, *obj, opts.verbosity.max(3))?;
        block_pointers(&mut out, pool, set, *obj)?;
        return Ok(out);
    }
    for set in &all {
        let objects = set.os.object_ids()?;
        let _ = writeln!(
            out,
            "Dataset {} [{}], ID {}, cr_txg {}, {}, {} objects, rootbp {}",
            set.name,
            set.kind,
            set.id,
            set.cr_txg,
            nicenum(set.referenced),
            objects.len(),
            set.os.root_bp().describe()
        );
        if opts.verbosity < 2 {
            continue;
        }
        out.push('\n');
        header(&mut out);
        for id in objects {
            object_line(&mut out, &set.os, id, opts.verbosity)?;
            if opts.verbosity >= 4 {
                block_pointers(&mut out, pool, set, id)?;
            }
        }
        out.push('\n');
    }
    Ok(out)
}

fn header(out: &mut String) {
    let _ = writeln!(
        out,
        "{:>10} {:>4} {:>6} {:>9} {:>7} {:>6}  type",
        "Object", "lvl", "dblk", "maxblkid", "used", "bonus"
    );
}
