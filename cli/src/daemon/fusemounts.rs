//! [`Mounter`] on zonefs: every mounted filesystem is a FUSE session served
//! by threads of `basind`.
//!
//! The kernel unmounts a mount by itself when the daemon dies (zonefs
//! mounts with `auto_unmount`, through `fusermount3`); what a killed daemon
//! still leaves behind is swept when the next one starts ([`FuseMounts::start`]).
//! Mounting and unmounting are serialised; the table of mounts is never
//! locked across a mount or an unmount, so `zfs list` is never held up by
//! a busy filesystem.

use std::path::{Path, PathBuf};

use basin_zonefs::fuse::MountOptions;
use basin_zonefs::mount::{self as zmount, Mount, MountRequest};
use parking_lot::Mutex;

use super::log::log;
use super::mounts::{MountError, Mounted, Mounter};
use super::Imported;

/// One mounted filesystem.
struct Entry {
    dataset: String,
    path: PathBuf,
    mount: Mount,
    /// Its mountpoint is not set locally: its directory is removed when
    /// the pool goes (OpenZFS leaves a directory the operator named).
    tidy: bool,
}

/// Mounts through FUSE.
pub struct FuseMounts {
    /// Where mountpoints are put (`--mount-root`); none: at their paths.
    root: Option<PathBuf>,
    /// Why nothing can be mounted here, if so.
    unavailable: Option<String>,
    /// Filesystems mount by themselves (`--no-automount` turns it off).
    automount: bool,
    /// Held for every mount and unmount.
    ops: Mutex<()>,
    /// The mounts, in the order they were made.
    table: Mutex<Vec<Entry>>,
}

/// Why FUSE mounts cannot be made by this process, if so.
fn fuse_unavailable() -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("mounting needs root (basind does not run as root)".into());
    }
    if !Path::new("/dev/fuse").exists() {
        return Some("/dev/fuse is missing (modprobe fuse)".into());
    }
    let in_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join("fusermount3").exists()))
        .unwrap_or(false);
    if !in_path && !Path::new("/usr/bin/fusermount3").exists() {
        return Some("fusermount3 is missing (install fuse3)".into());
    }
    None
}

/// The words OpenZFS uses for a failed mount, from its errno.
fn mount_failure(e: &basin_zonefs::FsError) -> String {
    match e {
        basin_zonefs::FsError::Errno { errno, msg } => match *errno {
            libc::EBUSY => "mountpoint or dataset is busy".into(),
            libc::EPERM | libc::EACCES => "Insufficient privileges".into(),
            _ => msg.clone(),
        },
        other => other.to_string(),
    }
}

/// Detaches a dead FUSE mount left at `path` by a daemon that died (its
/// stat fails with ENOTCONN), so that a new mount can go there.
fn clear_dead(path: &Path) {
    if zmount::is_mounted(path) && zmount::is_dead(path) {
        let _ = nix::mount::umount2(path, nix::mount::MntFlags::MNT_DETACH);
        log(format!("swept a dead mount at {}", path.display()));
    }
}

/// True when another mount lies strictly below `path` (a child's): the
/// kernel would refuse to unmount `path`, or a lazy unmount would take the
/// child away with it.
fn has_mounts_below(path: &Path) -> bool {
    zmount::mounts()
        .iter()
        .any(|(_, mp, _)| Path::new(mp) != path && Path::new(mp).starts_with(path))
}

/// Reaps the `fusermount3` helpers of mounts that are gone. zonefs mounts
/// with `auto_unmount`: a helper per mount waits for the daemon's end, and
/// exits when its mount is unmounted; nobody else waits for it. Called
/// with `ops` held, so no mount is starting a helper meanwhile.
fn reap_helpers() {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return;
    };
    for t in tasks.flatten() {
        let Ok(children) = std::fs::read_to_string(t.path().join("children")) else {
            continue;
        };
        for pid in children
            .split_whitespace()
            .filter_map(|p| p.parse::<i32>().ok())
        {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            // "pid (comm) S ...": the name is between the parentheses.
            let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
                continue;
            };
            let comm = &stat[open + 1..close];
            let state = stat[close + 1..].trim_start().chars().next();
            if comm.starts_with("fusermount") && state == Some('Z') {
                let _ = nix::sys::wait::waitpid(
                    nix::unistd::Pid::from_raw(pid),
                    Some(nix::sys::wait::WaitPidFlag::WNOHANG),
                );
            }
        }
    }
}

impl FuseMounts {
    /// Sets up mounting for a starting daemon: says whether FUSE is there,
    /// and sweeps the dead mounts a killed daemon left behind.
    pub fn start(root: Option<PathBuf>, automount: bool) -> FuseMounts {
        let unavailable = fuse_unavailable();
        match &unavailable {
            Some(why) => log(format!("warning: filesystems will not be mounted: {why}")),
            None => {
                for mp in zmount::sweep_stale(&[]) {
                    log(format!(
                        "swept the dead mount at {mp} left by a daemon that died"
                    ));
                }
            }
        }
        if let Some(r) = &root {
            log(format!("mounting filesystems under {}", r.display()));
        }
        if !automount {
            log("filesystems mount only with zfs mount (--no-automount)");
        }
        FuseMounts {
            root,
            unavailable,
            automount,
            ops: Mutex::new(()),
            table: Mutex::new(Vec::new()),
        }
    }

    /// Drops the entries of mounts the kernel no longer serves (unmounted
    /// by hand, connection aborted).
    fn forget_dead(&self) {
        let dead: Vec<Entry> = {
            let mut t = self.table.lock();
            let (alive, dead) = std::mem::take(&mut *t)
                .into_iter()
                .partition(|e| e.mount.is_alive());
            *t = alive;
            dead
        };
        for e in dead {
            log(format!(
                "'{}' was unmounted from {} outside basind",
                e.dataset,
                e.path.display()
            ));
        }
    }

    fn take(&self, dataset: &str) -> Option<(usize, Entry)> {
        let mut t = self.table.lock();
        let i = t.iter().position(|e| e.dataset == dataset)?;
        Some((i, t.remove(i)))
    }

    fn request(imp: &Imported, dataset: &str) -> MountRequest {
        let prop = |p: &str| {
            imp.dsl
                .get_prop(dataset, p)
                .map(|v| v.exact)
                .unwrap_or_default()
        };
        MountRequest {
            fs: MountOptions {
                atime: prop("atime") != "off",
                relatime: prop("relatime") != "off",
                snapdir_visible: prop("snapdir") == "visible",
                read_only: prop("readonly") == "on",
                ..MountOptions::default()
            },
            noexec: prop("exec") == "off",
            nosuid: prop("setuid") == "off",
            nodev: prop("devices") == "off",
            threads: 0,
        }
    }
}

impl Mounter for FuseMounts {
    fn unavailable(&self) -> Option<String> {
        self.unavailable.clone()
    }

    fn automount(&self) -> bool {
        self.automount
    }

    fn is_mounted(&self, dataset: &str) -> bool {
        self.table
            .lock()
            .iter()
            .any(|e| e.dataset == dataset && e.mount.is_alive())
    }

    fn list(&self) -> Vec<Mounted> {
        self.table
            .lock()
            .iter()
            .filter(|e| e.mount.is_alive())
            .map(|e| Mounted {
                dataset: e.dataset.clone(),
                path: e.path.clone(),
            })
            .collect()
    }

    fn resolve(&self, mountpoint: &str) -> PathBuf {
        match &self.root {
            Some(r) => r.join(mountpoint.trim_start_matches('/')),
            None => PathBuf::from(mountpoint),
        }
    }

    fn mount(&self, imp: &Imported, dataset: &str) -> Result<(), MountError> {
        let _ops = self.ops.lock();
        if let Some(why) = &self.unavailable {
            return Err(MountError::Other(format!(
                "cannot mount '{dataset}': {why}"
            )));
        }
        self.forget_dead();
        reap_helpers();
        if self.is_mounted(dataset) {
            return Err(MountError::Other(format!(
                "cannot mount '{dataset}': filesystem already mounted"
            )));
        }
        let (mountpoint, local) = imp
            .dsl
            .get_prop(dataset, "mountpoint")
            .map(|v| (v.value, v.source == basin_dmu::dsl::info::PropSource::Local))
            .map_err(|e| MountError::Other(format!("cannot mount '{dataset}': {e}")))?;
        if !mountpoint.starts_with('/') {
            return Err(MountError::Other(format!(
                "cannot mount '{dataset}': no mountpoint set"
            )));
        }
        let path = self.resolve(&mountpoint);
        clear_dead(&path);
        std::fs::create_dir_all(&path).map_err(|e| {
            MountError::Other(format!(
                "cannot mount '{}': failed to create mountpoint: {e}",
                path.display()
            ))
        })?;
        // As the kernel shows it in /proc/self/mounts.
        let path = std::fs::canonicalize(&path).unwrap_or(path);
        let req = FuseMounts::request(imp, dataset);
        let m = zmount::mount(imp.dsl.clone(), dataset, &path, &req).map_err(|e| {
            MountError::Other(format!(
                "cannot mount '{}': {}",
                path.display(),
                mount_failure(&e)
            ))
        })?;
        self.table.lock().push(Entry {
            dataset: dataset.to_string(),
            path,
            mount: m,
            tidy: !local,
        });
        Ok(())
    }

    fn unmount(&self, dataset: &str, force: bool) -> Result<Option<PathBuf>, MountError> {
        let _ops = self.ops.lock();
        let Some((at, mut e)) = self.take(dataset) else {
            return Ok(None);
        };
        if e.mount.is_alive() && has_mounts_below(&e.path) {
            let busy = MountError::Busy(e.path.display().to_string());
            self.table.lock().insert(at, e);
            return Err(busy);
        }
        match e.mount.try_unmount(force) {
            Ok(()) => {
                let path = e.path.clone();
                drop(e);
                reap_helpers();
                Ok(Some(path))
            }
            Err(err) => {
                let failure = if err.code() == libc::EBUSY {
                    MountError::Busy(e.path.display().to_string())
                } else {
                    MountError::Other(format!(
                        "cannot unmount '{}': {}",
                        e.path.display(),
                        mount_failure(&err)
                    ))
                };
                self.table.lock().insert(at, e);
                Err(failure)
            }
        }
    }

    fn release_snapshots(&self, dataset: &str) {
        if let Some(e) = self.table.lock().iter().find(|e| e.dataset == dataset) {
            e.mount.release_snapshots();
        }
    }

    fn unmount_pool(&self, pool: &str) {
        let in_pool = |d: &str| d == pool || d.starts_with(&format!("{pool}/"));
        // Deepest mountpoints first: children before their parents.
        let mut mine: Vec<(PathBuf, String, bool)> = self
            .table
            .lock()
            .iter()
            .filter(|e| in_pool(&e.dataset))
            .map(|e| (e.path.clone(), e.dataset.clone(), e.tidy))
            .collect();
        mine.sort_by(|a, b| b.0.cmp(&a.0));
        for (path, ds, tidy) in mine {
            match self.unmount(&ds, true) {
                Ok(_) if tidy => {
                    let _ = std::fs::remove_dir(&path);
                }
                Ok(_) => {}
                Err(e) => log(format!("{e}; unmounting '{ds}' by force failed")),
            }
        }
    }
}
