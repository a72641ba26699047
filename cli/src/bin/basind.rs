//! `basind`: the Basin daemon, the only process that opens pools.

use std::path::PathBuf;
use std::process::ExitCode;

use basin_cli::daemon::{self, detach, Config, DEFAULT_STATE_DIR};
use basin_cli::errors;
use basin_cli::protocol::DEFAULT_SOCKET;
use clap::Parser;

/// The daemon allocates and frees many mid-sized buffers (blocks, ZAP
/// leaves, FUSE replies) from several threads at once; mimalloc serves that
/// pattern without glibc malloc's consolidation stalls (small-file
/// create, stat and delete through FUSE ran 1.3x, 2x and 2.5x faster).
/// See [`no_transparent_huge_pages`] for the one setting it needs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The Basin daemon: owns the pools and their datasets and serves zpool and
/// zfs (and later vmadm, imgadm) over a Unix socket.
#[derive(Debug, Parser)]
#[command(name = "basind", version)]
struct Args {
    /// The socket to listen on.
    #[arg(long, value_name = "PATH", default_value = DEFAULT_SOCKET)]
    socket: PathBuf,
    /// Where the cache of imported pools, the lock and the pid file live.
    #[arg(long = "state-dir", value_name = "DIR", default_value = DEFAULT_STATE_DIR)]
    state_dir: PathBuf,
    /// Let this group use the socket (mode 0660); else only the owner (0600).
    #[arg(long, value_name = "NAME")]
    group: Option<String>,
    /// Stay in the foreground instead of detaching once ready.
    #[arg(long)]
    foreground: bool,
    /// The most memory the ARC (the block cache of every pool) may use, such
    /// as 512M or 2G (default: an eighth of the memory, at most 4G).
    #[arg(long = "arc-max", value_name = "SIZE", value_parser = size)]
    arc_max: Option<u64>,
    /// The least memory pressure may shrink the ARC to (default: a 32nd of
    /// arc_max).
    #[arg(long = "arc-min", value_name = "SIZE", value_parser = size)]
    arc_min: Option<u64>,
    /// Mount filesystems under this directory instead of at their
    /// mountpoints: mountpoint=/tank/a mounts at DIR/tank/a (tests,
    /// chroots). The mountpoint properties are shown as set.
    #[arg(long = "mount-root", value_name = "DIR")]
    mount_root: Option<PathBuf>,
    /// Mount filesystems only with `zfs mount`: not at pool create or
    /// import, start, `zfs create` or a new mountpoint (as if every import
    /// were `zpool import -N` and every create `zfs create -u`).
    #[arg(long = "no-automount")]
    no_automount: bool,
}

fn size(s: &str) -> Result<u64, String> {
    basin_dmu::dsl::props::parse_size(s)
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("'{s}' is not a size (such as 512M or 2G)"))
}

fn absolute(p: PathBuf) -> PathBuf {
    std::path::absolute(&p).unwrap_or(p)
}

/// Turns transparent huge pages off for the daemon. Block buffers come and
/// go at the rate data is written; when the allocator hands memory back
/// and takes it again, each fault on a huge page zeroes 2 MiB for a
/// 128 KiB block: sequential writes through FUSE spent 80% of their time
/// there (133 MB/s; 313 MB/s without).
fn no_transparent_huge_pages() {
    // SAFETY: PR_SET_THP_DISABLE only sets a flag of this process's memory
    // map; the arguments are plain integers and no memory is passed.
    let r = unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
    if r != 0 {
        eprintln!(
            "basind: cannot turn transparent huge pages off: {}",
            std::io::Error::last_os_error()
        );
    }
}

fn main() -> ExitCode {
    no_transparent_huge_pages();
    errors::install_panic_hook("basind");
    let args = Args::parse();
    let config = Config {
        socket: absolute(args.socket),
        state_dir: absolute(args.state_dir),
        group: args.group,
        arc_max: args.arc_max,
        arc_min: args.arc_min,
        mount_root: args.mount_root.map(absolute),
        no_automount: args.no_automount,
    };
    let ready = if args.foreground {
        None
    } else {
        match detach::detach() {
            Ok(r) => Some(r),
            Err(e) => {
                eprintln!("basind: {e}");
                return ExitCode::from(errors::EXIT_ERROR);
            }
        }
    };
    match daemon::run(config, ready) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("basind: {e}");
            ExitCode::from(errors::EXIT_ERROR)
        }
    }
}
