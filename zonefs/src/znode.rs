//! Znodes: the POSIX attributes of a file, kept in its dnode's bonus.
//!
//! Layout (little-endian): version `u8` (1), zero (3), mode `u32` (type and
//! permission bits), uid `u32`, gid `u32`, size `u64`, links `u64`, parent
//! directory `u64`, atime, mtime, ctime, crtime (each seconds `i64` and
//! nanoseconds `u32` and zero `u32`), generation `u64`, rdev `u64`, xattr
//! directory object `u64`, flags `u64`, inline symlink length `u16`, zero
//! (6), then the inline symlink target (up to [`INLINE_MAX`] bytes).

use basin_dmu::dnode::BONUS_SIZE;

use crate::error::{FsError, Result};

/// Bonus type of znodes.
pub const BONUS_ZNODE: u8 = 1;
const VERSION: u8 = 1;
const FIXED: usize = 144;
/// Longest symlink target kept in the bonus.
pub const INLINE_MAX: usize = BONUS_SIZE - FIXED;

/// A point in time: seconds and nanoseconds since the epoch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timespec {
    /// Seconds.
    pub sec: i64,
    /// Nanoseconds.
    pub nsec: u32,
}

impl Timespec {
    /// Now.
    pub fn now() -> Timespec {
        match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => Timespec {
                sec: d.as_secs() as i64,
                nsec: d.subsec_nanos(),
            },
            Err(_) => Timespec::default(),
        }
    }

    /// As a `SystemTime`.
    pub fn to_system(self) -> std::time::SystemTime {
        if self.sec >= 0 {
            std::time::UNIX_EPOCH + std::time::Duration::new(self.sec as u64, self.nsec)
        } else {
            std::time::UNIX_EPOCH - std::time::Duration::from_secs(self.sec.unsigned_abs())
                + std::time::Duration::from_nanos(self.nsec as u64)
        }
    }

    /// From a `SystemTime`.
    pub fn from_system(t: std::time::SystemTime) -> Timespec {
        match t.duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => Timespec {
                sec: d.as_secs() as i64,
                nsec: d.subsec_nanos(),
            },
            Err(e) => {
                let d = e.duration();
                let mut sec = -(d.as_secs() as i64);
                let mut nsec = d.subsec_nanos();
                if nsec > 0 {
                    sec -= 1;
                    nsec = 1_000_000_000 - nsec;
                }
                Timespec { sec, nsec }
            }
        }
    }
}

/// POSIX attributes of one file.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Znode {
    /// Type and permission bits (`st_mode`).
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Size in bytes (entries for a directory).
    pub size: u64,
    /// Hard links.
    pub links: u64,
    /// Parent directory object (of the first link).
    pub parent: u64,
    /// Last access.
    pub atime: Timespec,
    /// Last modification.
    pub mtime: Timespec,
    /// Last change.
    pub ctime: Timespec,
    /// Creation.
    pub crtime: Timespec,
    /// Txg of creation (the NFS-style generation).
    pub gen: u64,
    /// Device number of a device node.
    pub rdev: u64,
    /// Object holding extended attributes (0: none).
    pub xattr: u64,
    /// Flags (reserved).
    pub flags: u64,
    /// Symlink target kept inline.
    pub inline: Vec<u8>,
}

fn put_time(b: &mut [u8], o: usize, t: Timespec) {
    b[o..o + 8].copy_from_slice(&t.sec.to_le_bytes());
    b[o + 8..o + 12].copy_from_slice(&t.nsec.to_le_bytes());
}

fn get_time(b: &[u8], o: usize) -> Timespec {
    Timespec {
        sec: i64::from_le_bytes(b[o..o + 8].try_into().expect("8")),
        nsec: u32::from_le_bytes(b[o + 8..o + 12].try_into().expect("4")),
    }
}

impl Znode {
    /// The file type bits.
    pub fn kind(&self) -> u32 {
        self.mode & libc::S_IFMT
    }

    /// True for a directory.
    pub fn is_dir(&self) -> bool {
        self.kind() == libc::S_IFDIR
    }

    /// Encodes into a bonus.
    pub fn encode(&self) -> Vec<u8> {
        let inline = &self.inline[..self.inline.len().min(INLINE_MAX)];
        let mut b = vec![0u8; FIXED + inline.len()];
        b[0] = VERSION;
        b[4..8].copy_from_slice(&self.mode.to_le_bytes());
        b[8..12].copy_from_slice(&self.uid.to_le_bytes());
        b[12..16].copy_from_slice(&self.gid.to_le_bytes());
        b[16..24].copy_from_slice(&self.size.to_le_bytes());
        b[24..32].copy_from_slice(&self.links.to_le_bytes());
        b[32..40].copy_from_slice(&self.parent.to_le_bytes());
        put_time(&mut b, 40, self.atime);
        put_time(&mut b, 56, self.mtime);
        put_time(&mut b, 72, self.ctime);
        put_time(&mut b, 88, self.crtime);
        b[104..112].copy_from_slice(&self.gen.to_le_bytes());
        b[112..120].copy_from_slice(&self.rdev.to_le_bytes());
        b[120..128].copy_from_slice(&self.xattr.to_le_bytes());
        b[128..136].copy_from_slice(&self.flags.to_le_bytes());
        b[136..138].copy_from_slice(&(inline.len() as u16).to_le_bytes());
        b[FIXED..].copy_from_slice(inline);
        b
    }

    /// Decodes a bonus.
    pub fn decode(b: &[u8]) -> Result<Znode> {
        if b.len() < FIXED || b[0] != VERSION {
            return Err(FsError::Corrupt(format!(
                "znode of {} bytes, version {}",
                b.len(),
                b.first().copied().unwrap_or(0)
            )));
        }
        let le64 = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().expect("8"));
        let le32 = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().expect("4"));
        let ilen = u16::from_le_bytes([b[136], b[137]]) as usize;
        if ilen > INLINE_MAX || FIXED + ilen > b.len() {
            return Err(FsError::Corrupt(format!("inline length {ilen}")));
        }
        Ok(Znode {
            mode: le32(4),
            uid: le32(8),
            gid: le32(12),
            size: le64(16),
            links: le64(24),
            parent: le64(32),
            atime: get_time(b, 40),
            mtime: get_time(b, 56),
            ctime: get_time(b, 72),
            crtime: get_time(b, 88),
            gen: le64(104),
            rdev: le64(112),
            xattr: le64(120),
            flags: le64(128),
            inline: b[FIXED..FIXED + ilen].to_vec(),
        })
    }
}

/// A directory entry's value: the object id with the file type in the top
/// four bits (as OpenZFS).
pub fn dirent_encode(obj: u64, mode: u32) -> [u8; 8] {
    let t = ((mode & libc::S_IFMT) >> 12) as u64;
    ((t << 60) | (obj & ((1 << 48) - 1))).to_le_bytes()
}

/// Decodes a directory entry's value into (object, type bits).
pub fn dirent_decode(v: &[u8]) -> Result<(u64, u32)> {
    let b: [u8; 8] = v
        .get(..8)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| FsError::Corrupt("short directory entry".into()))?;
    let x = u64::from_le_bytes(b);
    Ok((x & ((1 << 48) - 1), ((x >> 60) as u32) << 12))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let z = Znode {
            mode: libc::S_IFLNK | 0o777,
            uid: 1,
            gid: 2,
            size: 5,
            links: 1,
            parent: 2,
            atime: Timespec { sec: -5, nsec: 3 },
            mtime: Timespec {
                sec: 10,
                nsec: 999_999_999,
            },
            ctime: Timespec::now(),
            crtime: Timespec::default(),
            gen: 7,
            rdev: 0,
            xattr: 0,
            flags: 0,
            inline: b"target".to_vec(),
        };
        assert_eq!(Znode::decode(&z.encode()).unwrap(), z);
        assert!(Znode::decode(&[0u8; 10]).is_err());
        let (o, t) = dirent_decode(&dirent_encode(12345, libc::S_IFDIR | 0o755)).unwrap();
        assert_eq!((o, t), (12345, libc::S_IFDIR));
    }

    #[test]
    fn times_before_the_epoch() {
        let t =
            Timespec::from_system(std::time::UNIX_EPOCH - std::time::Duration::from_millis(1500));
        assert_eq!(
            t,
            Timespec {
                sec: -2,
                nsec: 500_000_000
            }
        );
        assert_eq!(Timespec::from_system(t.to_system()), t);
    }
}
