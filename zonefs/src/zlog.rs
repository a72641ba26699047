//! Intent log records of the POSIX layer: every change logs one, so that
//! `fsync` (an intent log commit) makes a prefix of all changes durable, and
//! a mount after a crash replays them in order.
//!
//! Encoding (little-endian): a type byte, then the fields of the type; names
//! and values are a `u16` length and the bytes.
//! - 1 create: directory, object, name, znode (u16 length + bytes), symlink
//!   target (u32 length + bytes, for targets too long for the znode)
//! - 2 remove: directory, name, want-directory flag
//! - 3 link: object, directory, name
//! - 4 rename: directory, name, new directory, new name, flags
//! - 5 write: object, offset, data (the rest)
//! - 6 setattr: object, a mask byte, then the fields present
//! - 7 fallocate: object, offset, length, mode (`i32`)
//! - 8 setxattr: object, name, value, flags; 9 removexattr: object, name

use crate::error::{FsError, Result};
use crate::fs::{RenameFlags, SetAttr};
use crate::znode::{Timespec, Znode};

/// A logged change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    /// A node was created.
    Create {
        /// Directory.
        dir: u64,
        /// New object.
        obj: u64,
        /// Name.
        name: Vec<u8>,
        /// Its attributes.
        z: Znode,
        /// Symlink target not kept in the znode.
        target: Vec<u8>,
    },
    /// A name was removed.
    Remove {
        /// Directory.
        dir: u64,
        /// Name.
        name: Vec<u8>,
        /// rmdir rather than unlink.
        want_dir: bool,
    },
    /// A hard link was added.
    Link {
        /// Object.
        obj: u64,
        /// Directory.
        dir: u64,
        /// Name.
        name: Vec<u8>,
    },
    /// A rename.
    Rename {
        /// Source directory.
        dir: u64,
        /// Source name.
        name: Vec<u8>,
        /// Target directory.
        newdir: u64,
        /// Target name.
        newname: Vec<u8>,
        /// Flags.
        flags: RenameFlags,
    },
    /// Data written (the data follows in the payload).
    Write {
        /// Object.
        obj: u64,
        /// Offset.
        offset: u64,
        /// Bytes.
        data: Vec<u8>,
    },
    /// Attributes changed.
    SetAttr {
        /// Object.
        obj: u64,
        /// The change.
        s: SetAttr,
    },
    /// Space preallocated or a hole punched.
    Fallocate {
        /// Object.
        obj: u64,
        /// Offset.
        offset: u64,
        /// Length.
        len: u64,
        /// fallocate mode.
        mode: i32,
    },
    /// An extended attribute set.
    SetXattr {
        /// Object.
        obj: u64,
        /// Name.
        name: Vec<u8>,
        /// Value.
        value: Vec<u8>,
    },
    /// An extended attribute removed.
    RemoveXattr {
        /// Object.
        obj: u64,
        /// Name.
        name: Vec<u8>,
    },
}

struct W(Vec<u8>);

impl W {
    fn u8(&mut self, v: u8) -> &mut Self {
        self.0.push(v);
        self
    }
    fn u64(&mut self, v: u64) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn i64(&mut self, v: i64) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn bytes16(&mut self, b: &[u8]) -> &mut Self {
        self.0.extend_from_slice(&(b.len() as u16).to_le_bytes());
        self.0.extend_from_slice(b);
        self
    }
    fn time(&mut self, t: Timespec) -> &mut Self {
        self.i64(t.sec).u32(t.nsec)
    }
}

struct R<'a>(&'a [u8]);

impl R<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8]> {
        if self.0.len() < n {
            return Err(FsError::Corrupt("short intent log record".into()));
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4")))
    }
    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("8")))
    }
    fn i64(&mut self) -> Result<i64> {
        Ok(i64::from_le_bytes(self.take(8)?.try_into().expect("8")))
    }
    fn bytes16(&mut self) -> Result<Vec<u8>> {
        let n = u16::from_le_bytes(self.take(2)?.try_into().expect("2")) as usize;
        Ok(self.take(n)?.to_vec())
    }
    fn time(&mut self) -> Result<Timespec> {
        Ok(Timespec {
            sec: self.i64()?,
            nsec: self.u32()?,
        })
    }
}

/// The prefix of a write record, whose data the log reads at commit.
pub fn write_prefix(obj: u64, offset: u64) -> Vec<u8> {
    let mut w = W(Vec::with_capacity(17));
    w.u8(5).u64(obj).u64(offset);
    w.0
}

impl Record {
    /// Encodes the record.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = W(Vec::new());
        match self {
            Record::Create {
                dir,
                obj,
                name,
                z,
                target,
            } => {
                w.u8(1)
                    .u64(*dir)
                    .u64(*obj)
                    .bytes16(name)
                    .bytes16(&z.encode())
                    .u32(target.len() as u32);
                w.0.extend_from_slice(target);
            }
            Record::Remove {
                dir,
                name,
                want_dir,
            } => {
                w.u8(2).u64(*dir).bytes16(name).u8(*want_dir as u8);
            }
            Record::Link { obj, dir, name } => {
                w.u8(3).u64(*obj).u64(*dir).bytes16(name);
            }
            Record::Rename {
                dir,
                name,
                newdir,
                newname,
                flags,
            } => {
                w.u8(4)
                    .u64(*dir)
                    .bytes16(name)
                    .u64(*newdir)
                    .bytes16(newname)
                    .u8(flags.noreplace as u8 | ((flags.exchange as u8) << 1));
            }
            Record::Write { obj, offset, data } => {
                w.0 = write_prefix(*obj, *offset);
                w.0.extend_from_slice(data);
            }
            Record::SetAttr { obj, s } => {
                let mask = s.mode.is_some() as u8
                    | (s.uid.is_some() as u8) << 1
                    | (s.gid.is_some() as u8) << 2
                    | (s.size.is_some() as u8) << 3
                    | (s.atime.is_some() as u8) << 4
                    | (s.mtime.is_some() as u8) << 5
                    | (s.ctime.is_some() as u8) << 6;
                w.u8(6).u64(*obj).u8(mask);
                if let Some(v) = s.mode {
                    w.u32(v);
                }
                if let Some(v) = s.uid {
                    w.u32(v);
                }
                if let Some(v) = s.gid {
                    w.u32(v);
                }
                if let Some(v) = s.size {
                    w.u64(v);
                }
                for t in [s.atime, s.mtime, s.ctime].into_iter().flatten() {
                    w.time(t);
                }
            }
            Record::Fallocate {
                obj,
                offset,
                len,
                mode,
            } => {
                w.u8(7).u64(*obj).u64(*offset).u64(*len).u32(*mode as u32);
            }
            Record::SetXattr { obj, name, value } => {
                w.u8(8).u64(*obj).bytes16(name).bytes16(value);
            }
            Record::RemoveXattr { obj, name } => {
                w.u8(9).u64(*obj).bytes16(name);
            }
        }
        w.0
    }

    /// Decodes a record.
    pub fn decode(b: &[u8]) -> Result<Record> {
        let mut r = R(b);
        Ok(match r.u8()? {
            1 => {
                let dir = r.u64()?;
                let obj = r.u64()?;
                let name = r.bytes16()?;
                let z = Znode::decode(&r.bytes16()?)?;
                let n = r.u32()? as usize;
                let target = r.take(n)?.to_vec();
                Record::Create {
                    dir,
                    obj,
                    name,
                    z,
                    target,
                }
            }
            2 => Record::Remove {
                dir: r.u64()?,
                name: r.bytes16()?,
                want_dir: r.u8()? != 0,
            },
            3 => Record::Link {
                obj: r.u64()?,
                dir: r.u64()?,
                name: r.bytes16()?,
            },
            4 => {
                let dir = r.u64()?;
                let name = r.bytes16()?;
                let newdir = r.u64()?;
                let newname = r.bytes16()?;
                let f = r.u8()?;
                Record::Rename {
                    dir,
                    name,
                    newdir,
                    newname,
                    flags: RenameFlags {
                        noreplace: f & 1 != 0,
                        exchange: f & 2 != 0,
                    },
                }
            }
            5 => Record::Write {
                obj: r.u64()?,
                offset: r.u64()?,
                data: r.0.to_vec(),
            },
            6 => {
                let obj = r.u64()?;
                let m = r.u8()?;
                let mut s = SetAttr::default();
                if m & 1 != 0 {
                    s.mode = Some(r.u32()?);
                }
                if m & 2 != 0 {
                    s.uid = Some(r.u32()?);
                }
                if m & 4 != 0 {
                    s.gid = Some(r.u32()?);
                }
                if m & 8 != 0 {
                    s.size = Some(r.u64()?);
                }
                if m & 16 != 0 {
                    s.atime = Some(r.time()?);
                }
                if m & 32 != 0 {
                    s.mtime = Some(r.time()?);
                }
                if m & 64 != 0 {
                    s.ctime = Some(r.time()?);
                }
                Record::SetAttr { obj, s }
            }
            7 => Record::Fallocate {
                obj: r.u64()?,
                offset: r.u64()?,
                len: r.u64()?,
                mode: r.u32()? as i32,
            },
            8 => Record::SetXattr {
                obj: r.u64()?,
                name: r.bytes16()?,
                value: r.bytes16()?,
            },
            9 => Record::RemoveXattr {
                obj: r.u64()?,
                name: r.bytes16()?,
            },
            t => return Err(FsError::Corrupt(format!("intent log record type {t}"))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let recs = vec![
            Record::Create {
                dir: 2,
                obj: 9,
                name: b"f".to_vec(),
                z: Znode {
                    mode: libc::S_IFREG | 0o644,
                    links: 1,
                    ..Default::default()
                },
                target: vec![],
            },
            Record::Remove {
                dir: 2,
                name: b"f".to_vec(),
                want_dir: false,
            },
            Record::Link {
                obj: 9,
                dir: 2,
                name: b"g".to_vec(),
            },
            Record::Rename {
                dir: 2,
                name: b"a".to_vec(),
                newdir: 4,
                newname: b"b".to_vec(),
                flags: RenameFlags {
                    noreplace: false,
                    exchange: true,
                },
            },
            Record::Write {
                obj: 9,
                offset: 4096,
                data: vec![1, 2, 3],
            },
            Record::SetAttr {
                obj: 9,
                s: SetAttr {
                    mode: Some(0o600),
                    size: Some(5),
                    mtime: Some(Timespec { sec: 1, nsec: 2 }),
                    ..Default::default()
                },
            },
            Record::Fallocate {
                obj: 9,
                offset: 0,
                len: 100,
                mode: 3,
            },
            Record::SetXattr {
                obj: 9,
                name: b"user.a".to_vec(),
                value: b"v".to_vec(),
            },
            Record::RemoveXattr {
                obj: 9,
                name: b"user.a".to_vec(),
            },
        ];
        for r in recs {
            assert_eq!(Record::decode(&r.encode()).unwrap(), r);
        }
        assert!(Record::decode(&[1, 2]).is_err());
        assert!(Record::decode(&[99]).is_err());
    }
}
