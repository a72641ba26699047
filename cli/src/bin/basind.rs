//! `basind`: the Basin daemon, the only process that opens pools.

use std::path::PathBuf;
use std::process::ExitCode;

use basin_cli::daemon::{self, detach, Config, DEFAULT_STATE_DIR};
use basin_cli::errors;
use basin_cli::protocol::DEFAULT_SOCKET;
use clap::Parser;

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

fn main() -> ExitCode {
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
