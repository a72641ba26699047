//! Raw blocks for the intent log: space allocated outside a txg's tree,
//! written and read directly, verified by the caller (a log block carries
//! its own checksum because its address is chosen before its contents).

use std::sync::Arc;

use crate::blkptr::Dva;
use crate::error::{PoolError, Result};
use crate::pool::Pool;
use crate::spacemap::{EntryKind, SmEntry};
use crate::vdev::{AlignedBuf, IoClass, ReadFailure};

impl Pool {
    /// Allocates `len` bytes (one copy) in `txg` for a raw block.
    pub fn alloc_raw(&self, txg: u64, len: usize) -> Result<Dva> {
        let d = self.inner().alloc_for(txg, len, 1)?;
        d.into_iter()
            .next()
            .ok_or_else(|| PoolError::Unsupported("allocation returned no address".into()))
    }

    /// Frees a raw block in `txg`.
    pub fn free_dva(&self, txg: u64, dva: &Dva) {
        self.inner().space.free(txg, dva);
    }

    /// Marks a raw block found at import allocated (logged in `txg`, so the
    /// space maps learn it); false when it already was.
    pub fn claim_dva(&self, txg: u64, dva: &Dva) -> Result<bool> {
        let inner = self.inner();
        let v = dva.vdev as usize;
        if v >= inner.space.vdev_count() {
            return Err(PoolError::corrupt(
                "log block",
                format!("address on missing vdev {v}"),
            ));
        }
        let len = dva.asize as u64;
        let state = inner.space.with_group(v, |g| {
            let Some(m) = g.metaslab_index(dva.offset) else {
                return Err(PoolError::corrupt(
                    "log block",
                    format!("address {dva} beyond the vdev"),
                ));
            };
            let free = &g.slabs[m].free;
            if free.contains(dva.offset, len) {
                Ok(Some(()))
            } else if free.intersects(dva.offset, len) {
                Err(PoolError::corrupt(
                    "log block",
                    format!("{dva} partly allocated"),
                ))
            } else {
                Ok(None)
            }
        })?;
        if state.is_none() {
            return Ok(false);
        }
        inner.space.claim(v, dva.offset, len)?;
        inner.space.log_entry(
            txg,
            SmEntry {
                kind: EntryKind::Alloc,
                vdev: dva.vdev,
                offset: dva.offset,
                len,
                txg,
            },
        );
        Ok(true)
    }

    /// Writes `data` at `dva` and waits. `psize` is the block's stored size
    /// for the vdev's layout (RAID-Z lays a block out by it; reads must give
    /// the same); `data` may be shorter, the rest reads as zeros.
    pub fn write_raw(&self, dva: &Dva, data: &[u8], psize: usize) -> Result<()> {
        let inner = self.inner();
        let top = inner
            .vdevs
            .read()
            .get(dva.vdev as usize)
            .cloned()
            .ok_or_else(|| PoolError::Unsupported(format!("no vdev {}", dva.vdev)))?;
        if data.len() > psize || psize > dva.asize as usize {
            return Err(PoolError::Unsupported(format!(
                "{} bytes do not fit {dva}",
                data.len()
            )));
        }
        // Mirrors and single disks need only the bytes given.
        let len = match top.layout {
            crate::vdev::Layout::Raidz { .. } => dva.asize as usize,
            _ => data.len().div_ceil(1 << top.ashift) << top.ashift,
        };
        let buf = Arc::new(AlignedBuf::from_slice_padded(data, len.max(data.len())));
        let (tx, rx) = crossbeam_channel::bounded(1);
        top.write(
            dva.offset,
            buf,
            psize,
            IoClass::SyncWrite,
            0,
            crate::vdev::queue::DEFAULT_WEIGHT,
            Box::new(move |r| {
                let _ = tx.send(r);
            }),
        );
        rx.recv()
            .unwrap_or_else(|_| Err(std::io::Error::other("I/O engine stopped")))
            .map_err(|e| PoolError::io(format!("vdev {}", dva.vdev), e))
    }

    /// Reads the raw block of `psize` stored bytes at `dva`, returning the
    /// first copy (mirror side, or rebuilt columns) that `verify` accepts.
    pub fn read_raw(
        &self,
        dva: &Dva,
        psize: usize,
        verify: &dyn Fn(&[u8]) -> bool,
    ) -> Result<AlignedBuf> {
        let inner = self.inner();
        let top = inner
            .vdevs
            .read()
            .get(dva.vdev as usize)
            .cloned()
            .ok_or_else(|| PoolError::corrupt("log block", format!("no vdev {}", dva.vdev)))?;
        if dva.offset.saturating_add(dva.asize as u64) > top.asize {
            return Err(PoolError::corrupt(
                "log block",
                format!("{dva} beyond the vdev"),
            ));
        }
        // Log blocks are written in open context: read every leaf that
        // may hold them (birth 0 is never in a log of missed txgs).
        let at = crate::vdev::BlockAt {
            offset: dva.offset,
            asize: dva.asize as usize,
            psize,
            birth: 0,
        };
        match top.read_verified(at, IoClass::SyncRead, verify) {
            Ok(v) => Ok(v.data),
            Err(ReadFailure::Checksum) => Err(PoolError::Checksum(dva.to_string())),
            Err(ReadFailure::Io(e)) => Err(PoolError::io(format!("vdev {}", dva.vdev), e)),
        }
    }

    /// Makes every completed write durable on every vdev.
    pub fn flush_devices(&self) -> Result<()> {
        crate::sync::flush_all(self)
    }
}
