//! Mounts a dataset of a pool held in memory at the path given, until its
//! standard input closes: a scratch filesystem for conformance suites
//! (`pjdfstest`) and experiments. Not for data anyone wants to keep.

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use basin_dmu::cache::BlockCache;
use basin_dmu::DslPool;
use basin_pool::spec::{DeviceSpec, TopKind, TopSpec};
use basin_pool::vdev::mem::MemDevice;
use basin_pool::{CreateOptions, Pool, PoolTunables, VdevSpec};
use basin_zonefs::mount::{mount, MountRequest};

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: memmount MOUNTPOINT [prop=value...]");
        std::process::exit(2);
    };
    let props: Vec<(String, String)> = std::env::args()
        .skip(2)
        .filter_map(|a| {
            a.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect();
    let dev = Arc::new(MemDevice::new("mem", 8 << 30));
    let spec = VdevSpec {
        tops: vec![TopSpec {
            kind: TopKind::Single,
            devices: vec![DeviceSpec::Device(dev)],
        }],
    };
    let tunables = PoolTunables {
        sync_interval: Duration::from_secs(5),
        ..PoolTunables::for_tests()
    };
    let pool = Pool::create(
        "mem",
        &spec,
        &CreateOptions {
            tunables,
            ..Default::default()
        },
    )
    .expect("pool");
    let dsl = DslPool::init(
        pool.clone(),
        Arc::new(BlockCache::new(512 << 20).expect("arc")),
        &[],
    )
    .expect("dsl");
    dsl.create("mem/fs", None, &props, false).expect("dataset");
    let m = mount(
        dsl,
        "mem/fs",
        std::path::Path::new(&path),
        &MountRequest::default(),
    )
    .expect("mount");
    eprintln!("mounted mem/fs on {path}; close stdin to unmount");
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    m.unmount(true).expect("unmount");
}
