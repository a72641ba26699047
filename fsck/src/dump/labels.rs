//! `-l` and `-u`: the four labels of every leaf (which are valid, what they
//! hold) and the uberblock rings (newest first, and which one an import
//! chooses).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};

use basin_pool::label::{
    label_offsets, LabelConfig, VdevConfig, CONFIG_OFFSET, CONFIG_SIZE, LABEL_SIZE, RING_OFFSET,
    RING_SIZE,
};
use basin_pool::labelio;
use basin_pool::uberblock::{Uberblock, UBERBLOCK_SIZE};
use basin_pool::vdev::file::{FileDevice, OpenMode};
use basin_pool::vdev::BlockDevice;
use basin_pool::PoolError;

use crate::error::{FsckError, Result};

fn open(path: &Path) -> Result<FileDevice> {
    FileDevice::open(
        path,
        OpenMode {
            writable: false,
            direct: false,
        },
    )
    .map_err(|e| match e {
        PoolError::VdevLocked(_) => FsckError::Imported {
            pool: "?".into(),
            path: path.to_path_buf(),
        },
        e => FsckError::BadPath {
            path: path.to_path_buf(),
            why: e.to_string(),
        },
    })
}

fn read(dev: &dyn BlockDevice, off: u64, len: usize) -> std::result::Result<Vec<u8>, String> {
    let mut b = vec![0u8; len];
    dev.read_at(off, &mut b).map_err(|e| e.to_string())?;
    Ok(b)
}

/// The configuration in label `i` of `dev`, or why it is not valid.
fn label(dev: &dyn BlockDevice, lo: u64) -> std::result::Result<LabelConfig, String> {
    let area = read(dev, lo + CONFIG_OFFSET, CONFIG_SIZE as usize)?;
    if area.iter().all(|&b| b == 0) {
        return Err("empty".into());
    }
    LabelConfig::decode(&area, lo).map_err(|e| e.to_string())
}

fn tree(out: &mut String, v: &VdevConfig, depth: usize) {
    let pad = "    ".repeat(depth + 2);
    let kind = format!("{:?}", v.kind).to_lowercase();
    let _ = write!(out, "{pad}type: '{kind}' id: {} guid: {}", v.id, v.guid);
    if let Some(p) = &v.path {
        let _ = write!(out, " path: '{p}'");
    }
    if v.ashift > 0 {
        let _ = write!(
            out,
            " ashift: {} asize: {} metaslab_shift: {}",
            v.ashift, v.asize, v.ms_shift
        );
    }
    if v.offline {
        out.push_str(" offline");
    }
    if v.dtl_txg > 0 {
        let _ = write!(out, " dtl_txg: {}", v.dtl_txg);
    }
    out.push('\n');
    for c in &v.children {
        tree(out, c, depth + 1);
    }
}

fn config(out: &mut String, c: &LabelConfig) {
    let _ = writeln!(out, "    version: {}", c.version);
    let _ = writeln!(out, "    name: '{}'", c.name);
    let _ = writeln!(out, "    state: {}", c.state.name());
    let _ = writeln!(out, "    txg: {}", c.txg);
    let _ = writeln!(out, "    pool_guid: {}", c.pool_guid);
    let _ = writeln!(out, "    hostid: {:#x}", c.hostid);
    let _ = writeln!(out, "    hostname: '{}'", c.hostname);
    let _ = writeln!(out, "    top_guid: {}", c.top_guid);
    let _ = writeln!(out, "    guid: {}", c.guid);
    let _ = writeln!(out, "    vdev_tree:");
    tree(out, &c.vdev_tree, 0);
}

/// Dumps the labels of each of `paths`; the flag is false when any label
/// is not valid.
pub fn dump_labels(paths: &[PathBuf]) -> Result<(String, bool)> {
    let mut out = String::new();
    let mut all_valid = true;
    for path in paths {
        let dev = open(path)?;
        let _ = writeln!(out, "------------------------------------");
        let _ = writeln!(out, "{}: {} bytes", path.display(), dev.size());
        let _ = writeln!(out, "------------------------------------");
        if dev.size() < 4 * LABEL_SIZE {
            let _ = writeln!(out, "too small to hold labels");
            all_valid = false;
            continue;
        }
        // Identical configurations are printed once, with their labels.
        let mut groups: Vec<(LabelConfig, Vec<usize>)> = Vec::new();
        let mut bad = Vec::new();
        for (i, lo) in label_offsets(dev.size()).iter().enumerate() {
            match label(&dev, *lo) {
                Ok(c) => match groups.iter_mut().find(|(g, _)| *g == c) {
                    Some((_, ls)) => ls.push(i),
                    None => groups.push((c, vec![i])),
                },
                Err(e) => bad.push((i, *lo, e)),
            }
        }
        for (c, ls) in &groups {
            let names: Vec<String> = ls.iter().map(|l| l.to_string()).collect();
            let _ = writeln!(out, "LABEL {}: valid", names.join(" "));
            config(&mut out, c);
        }
        if groups.len() > 1 {
            let _ = writeln!(
                out,
                "note: the valid labels disagree (an interrupted label update); import uses the newest txg"
            );
        }
        for (i, lo, e) in &bad {
            all_valid = false;
            let _ = writeln!(out, "LABEL {i} (offset {lo:#x}): not valid: {e}");
        }
        match labelio::read_heartbeat(&dev) {
            Some(h) => {
                let _ = writeln!(
                    out,
                    "heartbeat: hostid {:#x} pid {} seq {} at {} (pool guid {})",
                    h.hostid,
                    h.pid,
                    h.seq,
                    crate::dump::utc(h.time_ms / 1000),
                    h.pool_guid
                );
            }
            None => {
                let _ = writeln!(out, "heartbeat: none");
            }
        }
    }
    Ok((out, all_valid))
}

/// The ashift of the top-level vdev that `cfg`'s leaf belongs to.
fn ashift_of(cfg: &LabelConfig) -> u8 {
    cfg.vdev_tree
        .children
        .iter()
        .find(|t| t.find(cfg.guid).is_some())
        .map(|t| t.ashift)
        .unwrap_or(12)
}

/// Dumps the uberblock ring of each of `paths`, newest first, marking the
/// one at `chosen` (the txg an import would open).
pub fn dump_uberblocks(paths: &[PathBuf], chosen: Option<u64>) -> Result<String> {
    let mut out = String::new();
    for path in paths {
        let dev = open(path)?;
        let _ = writeln!(out, "Uberblocks of {} (newest first):", path.display());
        let Some(cfg) = labelio::best_config(&dev) else {
            let _ = writeln!(out, "    no valid label: the ring's slot size is unknown");
            continue;
        };
        let slot = Uberblock::slot_size(ashift_of(&cfg));
        // (txg, root) -> (uberblock, labels holding it)
        let mut found: BTreeMap<(u64, [u8; 128]), (Uberblock, Vec<usize>)> = BTreeMap::new();
        let mut damaged = 0;
        for (li, lo) in label_offsets(dev.size()).iter().enumerate() {
            let Ok(ring) = read(&dev, lo + RING_OFFSET, RING_SIZE as usize) else {
                continue;
            };
            for (i, s) in ring.chunks(slot).enumerate() {
                let off = lo + RING_OFFSET + (i * slot) as u64;
                let s = &s[..UBERBLOCK_SIZE.min(s.len())];
                match Uberblock::decode(s, off) {
                    Ok(ub) if ub.pool_guid == cfg.pool_guid => {
                        let e = found
                            .entry((ub.txg, ub.root.encode()))
                            .or_insert((ub, Vec::new()));
                        if !e.1.contains(&li) {
                            e.1.push(li);
                        }
                    }
                    Ok(_) => {}
                    Err(_) if s.iter().any(|&b| b != 0) => damaged += 1,
                    Err(_) => {}
                }
            }
        }
        let _ = writeln!(
            out,
            "  {:>10}  {:<19}  {:<9}  root",
            "txg", "timestamp (UTC)", "labels"
        );
        for ((txg, _), (ub, labels)) in found.iter().rev() {
            let mark = if Some(*txg) == chosen { "*" } else { " " };
            let ls: Vec<String> = labels.iter().map(|l| l.to_string()).collect();
            let _ = writeln!(
                out,
                "{mark} {txg:>10}  {:<19}  {:<9}  {}",
                crate::dump::utc(ub.timestamp),
                ls.join(" "),
                ub.root.describe()
            );
        }
        if damaged > 0 {
            let _ = writeln!(out, "  {damaged} slots hold damaged uberblocks");
        }
        match chosen {
            Some(t) => {
                let _ = writeln!(
                    out,
                    "  * import chooses txg {t}: the newest whose tree reads back and verifies"
                );
            }
            None => {
                let _ = writeln!(
                    out,
                    "  no uberblock's tree verifies: the pool cannot be opened"
                );
            }
        }
    }
    Ok(out)
}
