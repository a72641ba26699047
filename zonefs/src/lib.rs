//! Basin's POSIX layer: datasets as filesystems (files, directories,
//! links, device nodes, extended attributes, snapshots under `.zfs`), over
//! the DMU, and served to the kernel through FUSE.

pub mod error;
pub mod fs;
pub mod fuse;
pub mod mount;
pub mod paths;
pub mod zlog;
pub mod znode;

pub use error::{FsError, Result};
pub use fs::Zfs;
