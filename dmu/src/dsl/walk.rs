//! Every block reachable from the meta object set: its own tree and the
//! trees of every dataset and snapshot. The checker and the tests compare
//! this with the pool's allocator.

use basin_pool::BlkPtr;

use crate::dsl::DslPool;
use crate::error::Result;
use crate::objset::Objset;
use crate::objset_phys::ObjsetType;

/// Every block of the object set rooted at `bp`, the root included.
pub fn objset_blocks(os: &Objset) -> Result<Vec<BlkPtr>> {
    let mut out = vec![os.root_bp()];
    os.object_blocks(0, &mut out)?;
    for id in os.object_ids()? {
        os.object_blocks(id, &mut out)?;
    }
    out.retain(|b| !b.is_hole());
    Ok(out)
}

impl DslPool {
    /// Every block reachable through the dataset layer (blocks shared by
    /// snapshots appear once per dataset that references them).
    pub fn all_blocks(&self) -> Result<Vec<BlkPtr>> {
        let mut out = objset_blocks(self.mos())?;
        let bps: Vec<BlkPtr> =
            self.with_state(|st| st.datasets.values().map(|d| d.phys.bp).collect());
        for bp in bps {
            if bp.is_hole() {
                continue;
            }
            let os = Objset::open(
                self.pool().clone(),
                self.cache().clone(),
                "walk",
                bp,
                ObjsetType::Filesystem,
                true,
            )?;
            out.extend(objset_blocks(&os)?);
        }
        Ok(out)
    }

    /// Bytes allocated for the meta object set.
    pub fn mos_bytes(&self) -> Result<u64> {
        Ok(objset_blocks(self.mos())?.iter().map(|b| b.asize()).sum())
    }
}
