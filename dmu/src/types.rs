//! Object types: what an object holds, recorded in its dnode and in the
//! block type of its block pointers.

use basin_pool::BlockType;

/// The type of an object.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default, PartialOrd, Ord)]
pub struct ObjectType(pub u8);

impl ObjectType {
    /// A free dnode slot.
    pub const NONE: ObjectType = ObjectType(0);
    /// The array of dnodes of an object set.
    pub const DNODE: ObjectType = ObjectType(1);
    /// An object set's root block.
    pub const OBJSET: ObjectType = ObjectType(2);
    /// The pool's object directory (a ZAP).
    pub const OBJECT_DIRECTORY: ObjectType = ObjectType(3);
    /// A dataset directory record (bonus only).
    pub const DSL_DIR: ObjectType = ObjectType(4);
    /// A dataset record (bonus only).
    pub const DSL_DATASET: ObjectType = ObjectType(5);
    /// Properties of a dataset directory (a ZAP).
    pub const DSL_PROPS: ObjectType = ObjectType(6);
    /// Children of a dataset directory (a ZAP).
    pub const DSL_CHILDREN: ObjectType = ObjectType(7);
    /// Snapshot names of a dataset (a ZAP).
    pub const DSL_SNAPNAMES: ObjectType = ObjectType(8);
    /// A deadlist: block pointers killed while a snapshot held them.
    pub const DEADLIST: ObjectType = ObjectType(9);
    /// Clones of a snapshot (a ZAP).
    pub const DSL_CLONES: ObjectType = ObjectType(10);
    /// User holds on a snapshot (a ZAP).
    pub const USER_REFS: ObjectType = ObjectType(11);
    /// Pool history of dataset changes (reserved).
    pub const HISTORY: ObjectType = ObjectType(12);
    /// A free list of blocks (asynchronous destroy).
    pub const FREE_LIST: ObjectType = ObjectType(13);
    /// A generic key-value object.
    pub const ZAP: ObjectType = ObjectType(14);
    /// File contents.
    pub const PLAIN_FILE: ObjectType = ObjectType(20);
    /// A directory (a ZAP of names to objects).
    pub const DIRECTORY: ObjectType = ObjectType(21);
    /// The POSIX layer's master node (a ZAP).
    pub const MASTER_NODE: ObjectType = ObjectType(22);
    /// The POSIX layer's delete queue (a ZAP).
    pub const DELETE_QUEUE: ObjectType = ObjectType(23);
    /// Extended attributes of a file (a ZAP).
    pub const XATTR: ObjectType = ObjectType(24);
    /// A volume's data.
    pub const ZVOL: ObjectType = ObjectType(25);
    /// A volume's properties (a ZAP).
    pub const ZVOL_PROP: ObjectType = ObjectType(26);
    /// A symbolic link whose target does not fit the bonus.
    pub const SYMLINK: ObjectType = ObjectType(27);
    /// Intent log blocks.
    pub const INTENT_LOG: ObjectType = ObjectType(28);

    /// The block type used for this object's blocks.
    pub fn block_type(self) -> BlockType {
        BlockType(BlockType::FIRST_UPPER + self.0)
    }

    /// The object type of a block type, if it is a DMU one.
    pub fn from_block_type(b: BlockType) -> Option<ObjectType> {
        b.0.checked_sub(BlockType::FIRST_UPPER).map(ObjectType)
    }

    /// True for objects whose blocks are metadata (get an extra copy).
    pub fn is_metadata(self) -> bool {
        !matches!(self, ObjectType::PLAIN_FILE | ObjectType::ZVOL)
    }

    /// A name for dumps.
    pub fn name(self) -> &'static str {
        match self.0 {
            0 => "none",
            1 => "DMU dnode",
            2 => "object set",
            3 => "object directory",
            4 => "DSL directory",
            5 => "DSL dataset",
            6 => "DSL props",
            7 => "DSL directory child map",
            8 => "DSL dataset snap map",
            9 => "deadlist",
            10 => "DSL clones",
            11 => "user refs",
            12 => "history",
            13 => "free list",
            14 => "ZAP",
            20 => "ZFS plain file",
            21 => "ZFS directory",
            22 => "ZFS master node",
            23 => "ZFS delete queue",
            24 => "ZFS xattr",
            25 => "zvol",
            26 => "zvol prop",
            27 => "ZFS symlink",
            28 => "intent log",
            _ => "unknown",
        }
    }
}
