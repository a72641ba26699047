//! Mounting datasets through FUSE and unmounting them: a busy unmount fails
//! unless forced; the kernel unmounts by itself if the daemon dies
//! (`auto_unmount`), and leftovers are swept at the next start.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use basin_dmu::DslPool;
use fuser::{BackgroundSession, Config, MountOption, SessionACL};

use crate::error::{err, FsError, Result};
use crate::fs::Zfs;
use crate::fuse::{FuseFs, MountOptions, SnapshotCache};

/// The filesystem type Basin's mounts show in /proc/mounts.
pub const FSTYPE: &str = "fuse.basin";

/// A mounted dataset.
pub struct Mount {
    dataset: String,
    path: PathBuf,
    fs: Arc<Zfs>,
    snapshots: SnapshotCache,
    session: Option<BackgroundSession>,
}

/// Options of one mount, from the dataset's properties.
#[derive(Clone, Debug, Default)]
pub struct MountRequest {
    /// Behaviour of the filesystem.
    pub fs: MountOptions,
    /// `exec=off`.
    pub noexec: bool,
    /// `setuid=off`.
    pub nosuid: bool,
    /// `devices=off`.
    pub nodev: bool,
    /// FUSE worker threads.
    pub threads: usize,
}

fn threads(req: &MountRequest) -> usize {
    if req.threads > 0 {
        req.threads
    } else {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            .clamp(2, 8)
    }
}

/// Mounts `dataset` at `path` (created if missing).
pub fn mount(dsl: Arc<DslPool>, dataset: &str, path: &Path, req: &MountRequest) -> Result<Mount> {
    if !path.is_absolute() {
        return err(
            libc::EINVAL,
            format!("mountpoint '{}' is not absolute", path.display()),
        );
    }
    std::fs::create_dir_all(path).map_err(|e| {
        FsError::errno(
            e.raw_os_error().unwrap_or(libc::EIO),
            format!("cannot create '{}': {e}", path.display()),
        )
    })?;
    if is_mounted(path) {
        return err(
            libc::EBUSY,
            format!("'{}' is already a mountpoint", path.display()),
        );
    }
    let fs = Zfs::open(dsl, dataset)?;
    let mut opts = req.fs.clone();
    opts.read_only |= fs.is_read_only();
    let mut mount_options = vec![
        MountOption::FSName(dataset.to_string()),
        MountOption::Subtype("basin".into()),
        MountOption::DefaultPermissions,
        MountOption::AutoUnmount,
        if opts.read_only {
            MountOption::RO
        } else {
            MountOption::RW
        },
        if opts.atime {
            MountOption::Atime
        } else {
            MountOption::NoAtime
        },
    ];
    if req.noexec {
        mount_options.push(MountOption::NoExec);
    }
    if req.nosuid {
        mount_options.push(MountOption::NoSuid);
    } else {
        mount_options.push(MountOption::Suid);
    }
    if req.nodev {
        mount_options.push(MountOption::NoDev);
    } else {
        mount_options.push(MountOption::Dev);
    }
    let mut config = Config::default();
    config.mount_options = mount_options;
    config.acl = SessionACL::All;
    config.n_threads = Some(threads(req));
    config.clone_fd = true;
    let ffs = FuseFs::new(fs.clone(), opts);
    let snapshots = ffs.snapshot_cache();
    let session = fuser::spawn_mount(ffs, path, &config).map_err(|e| {
        FsError::errno(
            e.raw_os_error().unwrap_or(libc::EIO),
            format!("cannot mount '{dataset}' on '{}': {e}", path.display()),
        )
    })?;
    Ok(Mount {
        dataset: dataset.to_string(),
        path: path.to_path_buf(),
        fs,
        snapshots,
        session: Some(session),
    })
}

impl Mount {
    /// The dataset.
    pub fn dataset(&self) -> &str {
        &self.dataset
    }

    /// Where it is mounted.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Its POSIX layer.
    pub fn fs(&self) -> &Arc<Zfs> {
        &self.fs
    }

    /// Closes the snapshots opened under `.zfs/snapshot` (so that they
    /// can be destroyed or renamed); they open again when looked up.
    pub fn release_snapshots(&self) {
        self.snapshots.release();
    }

    /// True while the kernel's connection is served: false once the
    /// filesystem was unmounted behind the mount's back (`umount` run by
    /// hand) or the connection was aborted.
    pub fn is_alive(&self) -> bool {
        self.session
            .as_ref()
            .is_some_and(|s| !s.guard.is_finished())
    }

    /// Unmounts: fails with EBUSY when files are in use, unless `force`
    /// (then the mount is detached and goes when the last user leaves).
    /// On failure the mount is dropped, which detaches it: use
    /// [`Mount::try_unmount`] to keep a busy mount as it is.
    pub fn unmount(mut self, force: bool) -> Result<()> {
        self.try_unmount(force)
    }

    /// Unmounts, leaving the mount untouched (mounted and served) when it
    /// fails: EBUSY when files are in use and not `force`. Once it
    /// succeeds, dropping the mount does nothing more.
    pub fn try_unmount(&mut self, force: bool) -> Result<()> {
        if self.session.is_none() {
            return Ok(());
        }
        // The kernel releases closed files asynchronously: a mount that was
        // busy a moment ago may be idle now, so try for a little while.
        let mut r = nix::mount::umount2(&self.path, nix::mount::MntFlags::empty());
        for _ in 0..20 {
            if r != Err(nix::errno::Errno::EBUSY) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
            r = nix::mount::umount2(&self.path, nix::mount::MntFlags::empty());
        }
        match r {
            Ok(()) => {}
            Err(nix::errno::Errno::EBUSY) if !force => {
                return err(
                    libc::EBUSY,
                    format!("cannot unmount '{}': target is busy", self.path.display()),
                );
            }
            Err(nix::errno::Errno::EBUSY) => force_detach(&self.path)?,
            Err(nix::errno::Errno::EINVAL) => {} // Not mounted any more.
            Err(e) => {
                return err(
                    e as i32,
                    format!("cannot unmount '{}': {e}", self.path.display()),
                )
            }
        }
        if let Some(s) = self.session.take() {
            let _ = s.join();
        }
        // As OpenZFS's teardown: what the filesystem dirtied is written
        // out before it is let go, so that a rollback, destroy or rename
        // that follows finds it on disk rather than in an open txg. The
        // unmount is done either way: a pool that cannot sync says so on
        // its next command.
        if !self.fs.is_read_only() {
            let _ = self.fs.dsl().pool().sync();
        }
        Ok(())
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        if let Some(s) = self.session.take() {
            let _ = force_detach(&self.path);
            let _ = s.join();
        }
    }
}

/// A forced unmount of a busy mount: MNT_FORCE makes FUSE abort the
/// connection (every request in flight and to come fails with ENOTCONN,
/// and the session's threads end, so joining them cannot hang on a user
/// that keeps a file open), then MNT_DETACH takes the mount out of the
/// namespace; the kernel frees it when its last user leaves.
fn force_detach(path: &Path) -> Result<()> {
    use nix::mount::{umount2, MntFlags};
    match umount2(path, MntFlags::MNT_FORCE) {
        Ok(()) | Err(nix::errno::Errno::EINVAL) => return Ok(()),
        Err(_) => {}
    }
    umount2(path, MntFlags::MNT_DETACH).map_err(|e| {
        FsError::errno(
            e as i32,
            format!("cannot unmount '{}': {e}", path.display()),
        )
    })
}

/// True when `path` is a mountpoint.
pub fn is_mounted(path: &Path) -> bool {
    mounts().iter().any(|(_, p, _)| Path::new(p) == path)
}

/// (source, mountpoint, fstype) of every mount of this system.
pub fn mounts() -> Vec<(String, String, String)> {
    let text = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let mut f = l.split(' ');
            let src = f.next()?;
            let mp = f.next()?;
            let ty = f.next()?;
            Some((unescape(src), unescape(mp), ty.to_string()))
        })
        .collect()
}

fn unescape(s: &str) -> String {
    // /proc/mounts escapes space, tab, newline and backslash as \ooo.
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// True when the FUSE mount at `path` has lost its server (a daemon that
/// died): opening its root fails with ENOTCONN, as `fusermount3` tests it.
/// `stat` is no test, as the kernel may answer it from its cache.
pub fn is_dead(path: &Path) -> bool {
    match std::fs::File::open(path) {
        Ok(_) => false,
        Err(e) => matches!(
            e.raw_os_error(),
            Some(libc::ENOTCONN) | Some(libc::ECONNABORTED)
        ),
    }
}

/// Detaches Basin mounts of `pools` (all of them when empty) left behind
/// by a daemon that died; returns the mountpoints swept. Parents go
/// first: a child is reached through its parent, so a dead parent makes
/// its children look dead too, and detaching it takes them along.
pub fn sweep_stale(pools: &[String]) -> Vec<String> {
    let mut swept: Vec<String> = Vec::new();
    'scan: loop {
        let mut ours: Vec<(String, String)> = mounts()
            .into_iter()
            .filter(|(src, mp, ty)| {
                let pool = src.split(['/', '@']).next().unwrap_or("");
                ty == FSTYPE
                    && !swept.contains(mp)
                    && (pools.is_empty() || pools.iter().any(|p| p == pool))
            })
            .map(|(src, mp, _)| (src, mp))
            .collect();
        ours.sort_by_key(|(_, mp)| Path::new(mp).components().count());
        for (_, mp) in ours {
            if is_dead(Path::new(&mp)) {
                let _ = nix::mount::umount2(Path::new(&mp), nix::mount::MntFlags::MNT_DETACH);
                swept.push(mp);
                // What was below it went with it: read the table again.
                continue 'scan;
            }
        }
        return swept;
    }
}
