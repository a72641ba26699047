//! Basin's storage pool: vdevs (files, block devices, mirrors), checksummed
//! and compressed copy-on-write blocks, transaction groups, metaslabs with
//! persistent space maps, labels and uberblocks, and the I/O scheduler.
//!
//! Everything live is reachable from the newest uberblock through block
//! pointers that carry their children's checksums: one Merkle tree. A txg
//! writes all its new blocks, flushes, then writes the uberblock into every
//! label and flushes again; blocks freed in txg N are reused only after N+2
//! has synced. See `docs/format.md` for every byte on disk.

pub mod blkptr;
pub mod checksum;
pub mod compress;
pub mod create;
pub mod error;
pub mod history;
pub mod import;
pub mod label;
pub mod labelio;
pub mod metaslab;
pub mod mmp;
pub mod pool;
pub mod poolroot;
pub mod props;
pub mod rangetree;
mod raw;
pub mod scan;
pub mod space;
pub mod spacemap;
pub mod spec;
mod sync;
pub mod txg;
pub mod uberblock;
pub mod vdev;
pub mod vdevops;
pub mod verify;
pub mod workers;
pub mod zio;

/// The on-disk format version this build writes and the newest it reads.
pub const FORMAT_VERSION: u64 = 1;

pub use blkptr::{BlkPtr, BlockType, Dva};
pub use checksum::ChecksumType;
pub use compress::Compression;
pub use create::CreateOptions;
pub use error::{PoolError, Result};
pub use import::{Candidate, ImportOptions};
pub use pool::{Pool, PoolTunables, Syncer};
pub use space::{ReserveClass, SpaceFigures};
pub use spec::{DeviceSpec, VdevSpec};
pub use vdev::{AlignedBuf, Health, IoClass};
pub use zio::WriteProps;
