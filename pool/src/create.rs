//! `zpool create`: checks every device and option before anything is
//! written, then labels the devices and commits the first txg.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::blkptr::BlkPtr;
use crate::error::{PoolError, Result};
use crate::label::{PoolState, VdevConfig, VdevKind, MIN_VDEV_SIZE};
use crate::labelio;
use crate::metaslab::MetaslabGroup;
use crate::mmp::{self, GuidLock};
use crate::pool::{
    build_vdevs, new_guid, now_secs, open_path, top_geometry, Pool, PoolTunables, RootState,
};
use crate::poolroot::{PoolRoot, RootExtras};
use crate::props;
use crate::space::SpaceManager;
use crate::spacemap::SmIndex;
use crate::spec::{validate_pool_name, DeviceSpec, TopKind, VdevSpec};
use crate::vdev::BlockDevice;

/// Options of `zpool create`.
#[derive(Clone, Debug)]
pub struct CreateOptions {
    /// Use devices that hold another pool's labels, and mixed redundancy.
    pub force: bool,
    /// log2 of the sector size (9 to 16).
    pub ashift: u8,
    /// Pool properties (`-o prop=val`).
    pub props: Vec<(String, String)>,
    /// Tunables of the open pool.
    pub tunables: PoolTunables,
    /// The command line, for the history.
    pub command: Option<String>,
    /// Smallest device accepted (64 MiB, as OpenZFS; tests may lower it).
    pub min_vdev_size: u64,
}

impl Default for CreateOptions {
    fn default() -> Self {
        CreateOptions {
            force: false,
            ashift: 12,
            props: Vec::new(),
            tunables: PoolTunables::default(),
            command: None,
            min_vdev_size: MIN_VDEV_SIZE,
        }
    }
}

struct Opened {
    dev: Arc<dyn BlockDevice>,
    kind: VdevKind,
}

fn open_all(spec: &VdevSpec, opts: &CreateOptions, ashift: u8) -> Result<Vec<Vec<Opened>>> {
    let mut seen_names = HashSet::new();
    let mut seen_ids = HashSet::new();
    let mut out = Vec::new();
    for top in &spec.tops {
        let mut group = Vec::new();
        for d in &top.devices {
            let name = d.name();
            if !seen_names.insert(name.clone()) {
                return Err(PoolError::DuplicateVdev(name));
            }
            let opened = match d {
                DeviceSpec::Path(p) => {
                    let f = open_path(p, &opts.tunables, ashift)?;
                    if !seen_ids.insert(f.identity()) {
                        return Err(PoolError::DuplicateVdev(name));
                    }
                    let kind = if f.is_block_device() {
                        VdevKind::Disk
                    } else {
                        VdevKind::File
                    };
                    Opened {
                        dev: Arc::new(f),
                        kind,
                    }
                }
                DeviceSpec::Device(dev) => Opened {
                    dev: dev.clone(),
                    kind: VdevKind::File,
                },
            };
            let size = opened.dev.size();
            if size < opts.min_vdev_size {
                return Err(PoolError::VdevTooSmall {
                    path: name,
                    size,
                    min: opts.min_vdev_size,
                });
            }
            if let Some(cfg) = labelio::best_config(opened.dev.as_ref()) {
                if cfg.state != PoolState::Destroyed && !opts.force {
                    return Err(PoolError::VdevInUse {
                        path: name,
                        pool: cfg.name,
                        guid: cfg.pool_guid,
                        state: cfg.state.name().to_string(),
                    });
                }
            }
            group.push(opened);
        }
        out.push(group);
    }
    Ok(out)
}

impl Pool {
    /// Creates a pool named `name` on the devices of `spec`.
    ///
    /// Every check (name, redundancy, properties, devices: existence, size,
    /// duplicates, other pools' labels, locks) happens before the first
    /// byte is written.
    pub fn create(name: &str, spec: &VdevSpec, opts: &CreateOptions) -> Result<Pool> {
        validate_pool_name(name)?;
        spec.check_replication(opts.force)?;
        let mut ashift = opts.ashift;
        let mut extras = RootExtras {
            created: now_secs(),
            ..Default::default()
        };
        for (k, v) in &opts.props {
            if k == "ashift" {
                ashift = props::parse_ashift(v)?;
                continue;
            }
            let v = props::validate_settable(k, v)?;
            extras.props.insert(k.clone(), v);
        }
        if !(9..=16).contains(&ashift) {
            return Err(PoolError::BadPropertyValue {
                prop: "ashift".into(),
                value: ashift.to_string(),
                why: "must be between 9 and 16".into(),
            });
        }
        let groups = open_all(spec, opts, ashift)?;

        let guid = new_guid();
        let guid_lock = if opts.tunables.guid_lock {
            Some(GuidLock::acquire(&mmp::lock_dir(), guid, name)?)
        } else {
            None
        };
        let mut tops = Vec::new();
        let mut devices: HashMap<u64, Arc<dyn BlockDevice>> = HashMap::new();
        for (i, (top, group)) in spec.tops.iter().zip(&groups).enumerate() {
            let sizes: Vec<u64> = group.iter().map(|o| o.dev.size()).collect();
            let width = match top.kind {
                TopKind::Raidz(_) => sizes.len(),
                _ => 1,
            };
            let (asize, ms_shift) = top_geometry(&sizes, width, ashift);
            let mut leaf = |o: &Opened, id: u32| {
                let g = new_guid();
                devices.insert(g, o.dev.clone());
                VdevConfig {
                    kind: o.kind,
                    guid: g,
                    id,
                    path: Some(o.dev.path().to_string()),
                    nparity: 0,
                    ashift: 0,
                    asize: 0,
                    ms_shift: 0,
                    offline: false,
                    dtl_txg: 0,
                    dtl_start: 0,
                    children: vec![],
                }
            };
            let cfg = match top.kind {
                TopKind::Single => VdevConfig {
                    id: i as u32,
                    ashift,
                    asize,
                    ms_shift,
                    ..leaf(&group[0], i as u32)
                },
                TopKind::Raidz(nparity) => {
                    let children: Vec<VdevConfig> = group
                        .iter()
                        .enumerate()
                        .map(|(j, o)| leaf(o, j as u32))
                        .collect();
                    VdevConfig {
                        kind: VdevKind::Raidz,
                        guid: new_guid(),
                        id: i as u32,
                        path: None,
                        nparity,
                        ashift,
                        asize,
                        ms_shift,
                        offline: false,
                        dtl_txg: 0,
                        dtl_start: 0,
                        children,
                    }
                }
                TopKind::Mirror => {
                    let children: Vec<VdevConfig> = group
                        .iter()
                        .enumerate()
                        .map(|(j, o)| leaf(o, j as u32))
                        .collect();
                    VdevConfig {
                        kind: VdevKind::Mirror,
                        guid: new_guid(),
                        id: i as u32,
                        path: None,
                        nparity: 0,
                        ashift,
                        asize,
                        ms_shift,
                        offline: false,
                        dtl_txg: 0,
                        dtl_start: 0,
                        children,
                    }
                }
            };
            tops.push(cfg);
        }
        let tree = VdevConfig {
            kind: VdevKind::Root,
            guid,
            id: 0,
            path: None,
            nparity: 0,
            ashift: 0,
            asize: 0,
            ms_shift: 0,
            offline: false,
            dtl_txg: 0,
            dtl_start: 0,
            children: tops,
        };

        // Wipe what an earlier pool left in the rings, then label.
        for dev in devices.values() {
            labelio::clear_rings(dev.as_ref())?;
        }
        let vdevs = build_vdevs(&tree, &devices, &opts.tunables)?;
        let groups: Vec<MetaslabGroup> = tree
            .children
            .iter()
            .enumerate()
            .map(|(i, t)| MetaslabGroup::new(i as u32, t.asize, t.ms_shift, t.ashift))
            .collect();
        let root = RootState {
            root: PoolRoot {
                extras,
                ..Default::default()
            },
            root_bp: BlkPtr::default(),
            index: SmIndex::default(),
            index_bp: BlkPtr::default(),
            history_pending: Vec::new(),
            history_blocks: 0,
            user_root: BlkPtr::default(),
            extras_dirty: true,
        };
        let pool = Pool::assemble(
            name.to_string(),
            guid,
            tree,
            vdevs,
            0,
            root,
            SpaceManager::new(name, groups),
            opts.tunables.clone(),
        )?;
        *pool.0._guid_lock.lock() = guid_lock;
        pool.write_labels(PoolState::Active)?;
        pool.start_threads();
        if let Some(cmd) = &opts.command {
            pool.log_history(cmd, false);
        }
        pool.sync()?;
        Ok(pool)
    }
}
