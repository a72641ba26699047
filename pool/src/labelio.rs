//! Reading and writing the labels of a leaf: configurations, uberblock
//! rings and heartbeats.

use std::sync::Arc;

use crate::error::{PoolError, Result};
use crate::label::{
    label_offsets, LabelConfig, CONFIG_OFFSET, CONFIG_SIZE, HEARTBEAT_OFFSET, HEARTBEAT_SIZE,
    LABEL_COUNT, RING_OFFSET, RING_SIZE,
};
use crate::mmp::Heartbeat;
use crate::uberblock::{Uberblock, UBERBLOCK_SIZE};
use crate::vdev::{AlignedBuf, BlockDevice};

fn read(dev: &dyn BlockDevice, off: u64, len: usize) -> Result<AlignedBuf> {
    let mut b = AlignedBuf::zeroed(len);
    dev.read_at(off, &mut b)
        .map_err(|e| PoolError::io(dev.path(), e))?;
    Ok(b)
}

fn write(dev: &dyn BlockDevice, off: u64, data: &[u8]) -> Result<()> {
    let b = AlignedBuf::from_slice_padded(data, data.len().div_ceil(4096) * 4096);
    dev.write_at(off, &b)
        .map_err(|e| PoolError::io(dev.path(), e))
}

/// The configuration in each of the four labels (`None` where unreadable).
pub fn read_configs(dev: &dyn BlockDevice) -> Vec<Option<LabelConfig>> {
    if dev.size() < 4 * crate::label::LABEL_SIZE {
        return vec![None; LABEL_COUNT];
    }
    label_offsets(dev.size())
        .iter()
        .map(|&lo| {
            read(dev, lo + CONFIG_OFFSET, CONFIG_SIZE as usize)
                .ok()
                .and_then(|b| LabelConfig::decode(&b, lo).ok())
        })
        .collect()
}

/// The newest valid configuration among the labels of `dev`.
pub fn best_config(dev: &dyn BlockDevice) -> Option<LabelConfig> {
    read_configs(dev)
        .into_iter()
        .flatten()
        .max_by_key(|c| c.txg)
}

/// Writes `cfg` into the labels of every device: first the even labels of
/// all devices and a flush, then the odd ones and a flush, so a crash leaves
/// one good copy of either the old or the new configuration. A device that
/// fails is left out (its labels stay older, and lose at the next import);
/// the write fails only when no device took it.
pub fn write_configs(devs: &[(Arc<dyn BlockDevice>, LabelConfig)]) -> Result<()> {
    let mut ok = vec![true; devs.len()];
    let mut last_err = None;
    for half in [[0usize, 2], [1, 3]] {
        for (k, (dev, cfg)) in devs.iter().enumerate() {
            if !ok[k] {
                continue;
            }
            let offs = label_offsets(dev.size());
            for i in half {
                if let Err(e) = write(dev.as_ref(), offs[i] + CONFIG_OFFSET, &cfg.encode(offs[i])?)
                {
                    ok[k] = false;
                    last_err = Some(e);
                    break;
                }
            }
        }
        for (k, (dev, _)) in devs.iter().enumerate() {
            if ok[k] {
                if let Err(e) = dev.flush() {
                    ok[k] = false;
                    last_err = Some(PoolError::io(dev.path(), e));
                }
            }
        }
    }
    match (ok.iter().any(|x| *x), last_err) {
        (false, Some(e)) => Err(e),
        _ => Ok(()),
    }
}

/// Zeroes the configuration areas of every label of a device that left
/// its pool, so that it no longer imports as part of it.
pub fn wipe_configs(dev: &dyn BlockDevice) -> Result<()> {
    let zero = vec![0u8; CONFIG_SIZE as usize];
    for lo in label_offsets(dev.size()) {
        write(dev, lo + CONFIG_OFFSET, &zero)?;
    }
    dev.flush().map_err(|e| PoolError::io(dev.path(), e))
}

/// Zeroes the heartbeat areas and uberblock rings of a new vdev.
pub fn clear_rings(dev: &dyn BlockDevice) -> Result<()> {
    let zero = vec![0u8; (RING_SIZE) as usize];
    for lo in label_offsets(dev.size()) {
        write(dev, lo + RING_OFFSET, &zero)?;
        write(dev, lo + HEARTBEAT_OFFSET, &zero[..HEARTBEAT_SIZE as usize])?;
    }
    Ok(())
}

/// Device offset of the ring slot of `txg` in the label at `label_offset`.
pub fn uberblock_offset(label_offset: u64, ashift: u8, txg: u64) -> u64 {
    let slot = Uberblock::slot_size(ashift) as u64;
    let slots = RING_SIZE / slot;
    label_offset + RING_OFFSET + (txg % slots) * slot
}

/// Every valid uberblock in every label of `dev`.
pub fn read_uberblocks(dev: &dyn BlockDevice, ashift: u8) -> Vec<Uberblock> {
    let slot = Uberblock::slot_size(ashift);
    let mut out = Vec::new();
    if dev.size() < 4 * crate::label::LABEL_SIZE {
        return out;
    }
    for lo in label_offsets(dev.size()) {
        let Ok(ring) = read(dev, lo + RING_OFFSET, RING_SIZE as usize) else {
            continue;
        };
        for (i, s) in ring.chunks(slot).enumerate() {
            let off = lo + RING_OFFSET + (i * slot) as u64;
            if let Ok(ub) = Uberblock::decode(&s[..UBERBLOCK_SIZE], off) {
                out.push(ub);
            }
        }
    }
    out
}

/// Device offsets of the heartbeat areas written (labels 0 and 2).
pub fn heartbeat_offsets(size: u64) -> [u64; 2] {
    let o = label_offsets(size);
    [o[0] + HEARTBEAT_OFFSET, o[2] + HEARTBEAT_OFFSET]
}

/// The newest heartbeat on `dev`.
pub fn read_heartbeat(dev: &dyn BlockDevice) -> Option<Heartbeat> {
    if dev.size() < 4 * crate::label::LABEL_SIZE {
        return None;
    }
    heartbeat_offsets(dev.size())
        .iter()
        .filter_map(|&off| {
            read(dev, off, 4096)
                .ok()
                .and_then(|b| Heartbeat::decode(&b, off))
        })
        .max_by_key(|h| h.seq)
}
