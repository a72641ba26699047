//! `basind`: the Basin daemon, the only process that opens pools.

use std::path::PathBuf;
use std::process::ExitCode;

use basin_cli::daemon::{self, detach, Config, DEFAULT_STATE_DIR};
use basin_cli::errors;
use basin_cli::protocol::DEFAULT_SOCKET;
use clap::Parser;

/// The Basin daemon: owns the pools and serves zpool (and later zfs, vmadm,
/// imgadm) over a Unix socket.
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
