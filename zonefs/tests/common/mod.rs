//! Pools and mounts for zonefs tests.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use basin_dmu::cache::BlockCache;
use basin_dmu::DslPool;
use basin_pool::spec::{DeviceSpec, TopKind, TopSpec};
use basin_pool::vdev::mem::MemDevice;
use basin_pool::vdev::BlockDevice;
use basin_pool::{CreateOptions, Pool, PoolTunables, VdevSpec};
use basin_zonefs::mount::{mount, Mount, MountRequest};

/// True when FUSE mounts can be made here (root and /dev/fuse); otherwise
/// prints why and returns false, or panics under CI=true.
pub fn fuse_available() -> bool {
    let why = if !nix::unistd::geteuid().is_root() {
        Some("not root")
    } else if !Path::new("/dev/fuse").exists() {
        Some("no /dev/fuse")
    } else {
        None
    };
    match why {
        None => true,
        Some(w) => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("FUSE test cannot run under CI: {w}");
            }
            eprintln!("skipping: FUSE tests need root and /dev/fuse ({w})");
            false
        }
    }
}

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub pool: Pool,
    pub dsl: Arc<DslPool>,
    pub mount: Option<Mount>,
}

impl Fixture {
    pub fn new(props: &[(&str, &str)]) -> Fixture {
        let devs: Vec<Arc<dyn BlockDevice>> = vec![Arc::new(MemDevice::new("m0", 2 << 30))];
        let spec = VdevSpec {
            tops: vec![TopSpec {
                kind: TopKind::Single,
                devices: vec![DeviceSpec::Device(devs[0].clone())],
            }],
        };
        let tunables = PoolTunables {
            sync_interval: Duration::from_secs(5),
            ..PoolTunables::for_tests()
        };
        let pool = Pool::create(
            "tp",
            &spec,
            &CreateOptions {
                tunables,
                ..Default::default()
            },
        )
        .unwrap();
        let dsl = DslPool::init(
            pool.clone(),
            Arc::new(BlockCache::new(256 << 20).unwrap()),
            &[],
        )
        .unwrap();
        let props: Vec<(String, String)> = props
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        dsl.create("tp/fs", None, &props, false).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let m = mount(dsl.clone(), "tp/fs", dir.path(), &MountRequest::default()).unwrap();
        Fixture {
            dir,
            pool,
            dsl,
            mount: Some(m),
        }
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    pub fn p(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Some(m) = self.mount.take() {
            let _ = m.unmount(true);
        }
        self.pool.set_syncer(None);
        self.pool.crash();
    }
}
