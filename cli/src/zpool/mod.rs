//! `zpool`: configure storage pools. A thin client: every command becomes
//! one request to `basind`, and this side only checks the command line and
//! formats the answer.

pub mod arcstat;
pub mod change;
pub mod columns;
pub mod get;
pub mod history;
pub mod import;
pub mod list;
pub mod scan;
pub mod status;
pub mod vdevs;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::client::Client;
use crate::errors::{self, CliError, CliResult, EXIT_OK};
use crate::format::json::JsonOpts;

/// Configure Basin storage pools.
#[derive(Debug, Parser)]
#[command(
    name = "zpool",
    about = "Configure Basin storage pools (served by basind; set BASIN_SOCKET to choose the daemon)",
    after_help = "Daemon-wide properties (no pool name): the ARC's limits, arc_max and arc_min.\n  zpool get arc_max,arc_min        show them\n  zpool set arc_max=2G             resize the ARC at run time (it evicts at once)\n  zpool arcstat [-o fields] [interval [count]]   watch the ARC",
    arg_required_else_help = true,
    disable_version_flag = true
)]
pub struct Cli {
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a pool on the given vdevs.
    Create(CreateArgs),
    /// Destroy a pool, freeing its devices.
    Destroy(DestroyArgs),
    /// List pools with their health and space.
    List(ListArgs),
    /// Show the health and vdevs of pools.
    Status(StatusArgs),
    /// List pools that can be imported, or import one.
    Import(ImportArgs),
    /// Export pools so that they can be moved or imported elsewhere.
    Export(ExportArgs),
    /// Show pool properties (or, without a pool, arc_max and arc_min).
    Get(GetArgs),
    /// Set a pool property (or, without a pool, arc_max or arc_min).
    Set(SetArgs),
    /// Show the commands that changed pools.
    History(HistoryArgs),
    /// Show the ARC's counters, like arcstat.
    Arcstat(ArcstatArgs),
    /// Start, pause (-p) or stop (-s) the scrub of pools.
    Scrub(ScrubArgs),
    /// Wait until scrubs, resilvers or replacements of a pool end.
    Wait(WaitArgs),
    /// Take devices offline.
    Offline(OfflineArgs),
    /// Bring devices back online (they are resilvered).
    Online(OnlineArgs),
    /// Reset device error counters and retry faulted devices.
    Clear(ClearArgs),
    /// Attach a device as a mirror of another.
    Attach(AttachArgs),
    /// Detach a device from a mirror or a replacement.
    Detach(DetachArgs),
    /// Replace a device with another (or a new one at the same path).
    Replace(ReplaceArgs),
}

/// `zpool scrub [-s | -p] [-w] pool...`.
#[derive(Debug, Args)]
pub struct ScrubArgs {
    /// Stop (cancel) the scrub.
    #[arg(short = 's')]
    pub stop: bool,
    /// Pause the scrub (a later `zpool scrub` resumes it).
    #[arg(short = 'p')]
    pub pause: bool,
    /// Wait until the scrub ends (a progress bar on a terminal).
    #[arg(short = 'w')]
    pub wait: bool,
    /// The pools.
    #[arg(required = true)]
    pub pools: Vec<String>,
}

/// `zpool wait [-t activity[,activity]...] pool`.
#[derive(Debug, Args)]
pub struct WaitArgs {
    /// Activities to wait for: scrub, resilver, replace (all when none).
    #[arg(short = 't', value_name = "ACTIVITY[,ACTIVITY]...")]
    pub activities: Option<String>,
    /// The pool.
    pub pool: String,
}

/// `zpool offline [-t] pool device...`.
#[derive(Debug, Args)]
pub struct OfflineArgs {
    /// Temporary: the device comes back at the next import.
    #[arg(short = 't')]
    pub temporary: bool,
    /// The pool.
    pub pool: String,
    /// The devices.
    #[arg(required = true)]
    pub devices: Vec<String>,
}

/// `zpool online pool device...`.
#[derive(Debug, Args)]
pub struct OnlineArgs {
    /// The pool.
    pub pool: String,
    /// The devices.
    #[arg(required = true)]
    pub devices: Vec<String>,
}

/// `zpool clear pool [device]`.
#[derive(Debug, Args)]
pub struct ClearArgs {
    /// The pool.
    pub pool: String,
    /// One device (all when none).
    pub device: Option<String>,
}

/// `zpool attach [-f] [-w] pool device new_device`.
#[derive(Debug, Args)]
pub struct AttachArgs {
    /// Use a device that holds another pool's label.
    #[arg(short = 'f')]
    pub force: bool,
    /// Wait until the new device is resilvered.
    #[arg(short = 'w')]
    pub wait: bool,
    /// The pool.
    pub pool: String,
    /// A device of the mirror (or the single device) to attach to.
    pub device: String,
    /// The new device.
    pub new_device: String,
}

/// `zpool detach pool device`.
#[derive(Debug, Args)]
pub struct DetachArgs {
    /// The pool.
    pub pool: String,
    /// The device.
    pub device: String,
}

/// `zpool replace [-f] [-w] pool device [new_device]`.
#[derive(Debug, Args)]
pub struct ReplaceArgs {
    /// Use a device that holds another pool's label.
    #[arg(short = 'f')]
    pub force: bool,
    /// Wait until the replacement is resilvered.
    #[arg(short = 'w')]
    pub wait: bool,
    /// The pool.
    pub pool: String,
    /// The device to replace.
    pub device: String,
    /// The new device (none: a new device at the same path).
    pub new_device: Option<String>,
}

/// `zpool create [-f] [-o property=value]... pool [mirror] vdev...`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Use vdevs that belong to another (exported or destroyed) pool, and
    /// mix redundancy levels.
    #[arg(short = 'f')]
    pub force: bool,
    /// Set a pool property (ashift, comment, autoexpand...).
    #[arg(short = 'o', value_name = "PROPERTY=VALUE")]
    pub props: Vec<String>,
    /// Set a property of the pool's root filesystem (compression...).
    #[arg(short = 'O', value_name = "PROPERTY=VALUE")]
    pub fs_props: Vec<String>,
    /// The new pool's name.
    pub pool: String,
    /// Vdevs: absolute paths of files or devices, or device names under
    /// /dev; `mirror` groups the ones that follow.
    #[arg(required = true, value_name = "VDEV")]
    pub vdevs: Vec<String>,
}

/// `zpool destroy [-f] pool`.
#[derive(Debug, Args)]
pub struct DestroyArgs {
    /// Force (accepted for compatibility; there is nothing to unmount yet).
    #[arg(short = 'f')]
    pub force: bool,
    /// The pool.
    pub pool: String,
}

/// `zpool export [-f] pool...`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Force (accepted for compatibility; there is nothing to unmount yet).
    #[arg(short = 'f')]
    pub force: bool,
    /// The pools.
    #[arg(required = true)]
    pub pools: Vec<String>,
}

/// `-j` and its companions.
#[derive(Debug, Args, Clone, Copy)]
pub struct JsonArgs {
    /// Print JSON.
    #[arg(short = 'j', long = "json")]
    pub json: bool,
    /// With -j: numbers as integers, not strings.
    #[arg(long = "json-int", requires = "json")]
    pub json_int: bool,
    /// With -j: key pools by guid instead of name.
    #[arg(long = "json-pool-key-guid", requires = "json")]
    pub json_pool_key_guid: bool,
}

impl JsonArgs {
    /// The options for the JSON writers.
    pub fn opts(&self) -> JsonOpts {
        JsonOpts {
            as_int: self.json_int,
            key_by_guid: self.json_pool_key_guid,
        }
    }
}

/// `zpool list [-Hp] [-j] [-o property[,property]...] [pool]...`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Scripted mode: no header, fields separated by a tab.
    #[arg(short = 'H')]
    pub scripted: bool,
    /// Exact numbers.
    #[arg(short = 'p')]
    pub literal: bool,
    /// Columns to show (comma-separated properties).
    #[arg(short = 'o', value_name = "PROPERTY[,PROPERTY]...")]
    pub columns: Option<String>,
    /// JSON output.
    #[command(flatten)]
    pub json: JsonArgs,
    /// Pools (all when none).
    pub pools: Vec<String>,
}

/// `zpool status [-vxp] [-j] [pool]...`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Verbose: list the files with permanent errors.
    #[arg(short = 'v')]
    pub verbose: bool,
    /// Only pools that have problems.
    #[arg(short = 'x')]
    pub explain: bool,
    /// Exact numbers.
    #[arg(short = 'p')]
    pub literal: bool,
    /// JSON output.
    #[command(flatten)]
    pub json: JsonArgs,
    /// Pools (all when none).
    pub pools: Vec<String>,
}

/// `zpool import [-d dir]... [-D] [-f] [pool|id [newpool]]`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Search this directory for devices and files (default: /dev).
    #[arg(short = 'd', value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// Destroyed pools only.
    #[arg(short = 'D')]
    pub destroyed: bool,
    /// Import even when the pool seems in use elsewhere.
    #[arg(short = 'f')]
    pub force: bool,
    /// The pool, by name or numeric id.
    pub pool: Option<String>,
    /// A new name for it.
    pub new_name: Option<String>,
}

/// `zpool get [-Hp] [-j] [-o field[,field]...] all|property[,property]...
/// [pool]...`.
#[derive(Debug, Args)]
pub struct GetArgs {
    /// Scripted mode: no header, fields separated by a tab.
    #[arg(short = 'H')]
    pub scripted: bool,
    /// Exact numbers.
    #[arg(short = 'p')]
    pub literal: bool,
    /// Fields: name, property, value, source.
    #[arg(short = 'o', value_name = "FIELD[,FIELD]...")]
    pub fields: Option<String>,
    /// JSON output.
    #[command(flatten)]
    pub json: JsonArgs,
    /// `all` or comma-separated properties.
    pub props: String,
    /// Pools (all when none).
    pub pools: Vec<String>,
}

/// `zpool set property=value pool`, or `zpool set arc_max=SIZE`.
#[derive(Debug, Args)]
pub struct SetArgs {
    /// `property=value`.
    pub assignment: String,
    /// The pool (none for arc_max and arc_min).
    pub pool: Option<String>,
}

/// `zpool arcstat [-jpH] [-o field[,field]...] [interval [count]]`.
#[derive(Debug, Args)]
pub struct ArcstatArgs {
    /// Print each sample as a JSON object of every counter.
    #[arg(short = 'j', long = "json")]
    pub json: bool,
    /// Exact numbers.
    #[arg(short = 'p')]
    pub literal: bool,
    /// Scripted mode: no header, fields separated by a tab.
    #[arg(short = 'H')]
    pub scripted: bool,
    /// Fields (time, read, hits, miss, hit%, miss%, arcsz, c, cmax...).
    #[arg(short = 'o', value_name = "FIELD[,FIELD]...")]
    pub fields: Option<String>,
    /// Seconds between samples (one sample when none).
    pub interval: Option<u64>,
    /// Number of samples (without it: until interrupted).
    pub count: Option<u64>,
}

/// `zpool history [-il] [pool]...`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Internal events too.
    #[arg(short = 'i')]
    pub internal: bool,
    /// Long format: host of each record.
    #[arg(short = 'l')]
    pub long: bool,
    /// Pools (all when none).
    pub pools: Vec<String>,
}

/// The command line as the pool history records it: `zpool` and the
/// arguments, separated by spaces.
pub fn history_line(args: &[OsString]) -> String {
    let mut words = vec!["zpool".to_string()];
    words.extend(
        args.iter()
            .skip(1)
            .map(|a| a.to_string_lossy().into_owned()),
    );
    words.join(" ")
}

/// Runs one parsed command.
pub fn run(cli: &Cli, line: &str) -> CliResult {
    let connect: Connect = || Client::connect().map_err(CliError::from);
    match &cli.command {
        Command::Create(a) => change::create(connect, a, line),
        Command::Destroy(a) => change::destroy(connect, a, line),
        Command::Export(a) => change::export(connect, a, line),
        Command::Set(a) => change::set(connect, a, line),
        Command::List(a) => list::run(connect, a),
        Command::Get(a) => get::run(connect, a),
        Command::Status(a) => status::run(connect, a),
        Command::Import(a) => import::run(connect, a, line),
        Command::History(a) => history::run(connect, a),
        Command::Arcstat(a) => arcstat::run(connect, a),
        Command::Scrub(a) => scan::scrub(connect, a, line),
        Command::Wait(a) => scan::wait(connect, a),
        Command::Offline(a) => vdevs::offline(connect, a, line),
        Command::Online(a) => vdevs::online(connect, a, line),
        Command::Clear(a) => vdevs::clear(connect, a, line),
        Command::Attach(a) => then_wait(vdevs::attach(connect, a, line), a.wait, connect, &a.pool),
        Command::Detach(a) => vdevs::detach(connect, a, line),
        Command::Replace(a) => {
            then_wait(vdevs::replace(connect, a, line), a.wait, connect, &a.pool)
        }
    }
}

/// After a change that starts a resilver, `-w` waits for it.
fn then_wait(r: CliResult, wait: bool, connect: Connect, pool: &str) -> CliResult {
    match r {
        Ok(EXIT_OK) if wait => scan::wait(
            connect,
            &WaitArgs {
                activities: Some("resilver".into()),
                pool: pool.to_string(),
            },
        ),
        other => other,
    }
}

/// Opens the connection to the daemon, once the command line is checked.
pub type Connect = fn() -> Result<Client, CliError>;

/// The `zpool` program.
pub fn main() -> ExitCode {
    errors::install_panic_hook("zpool");
    let args: Vec<OsString> = std::env::args_os().collect();
    let cli = match Cli::try_parse_from(&args) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    match run(&cli, &history_line(&args)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => errors::report("zpool", &e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn parses_like_zpool() {
        let c = Cli::try_parse_from([
            "zpool",
            "create",
            "-f",
            "-o",
            "ashift=12",
            "tank",
            "mirror",
            "/a",
            "/b",
        ])
        .unwrap();
        match c.command {
            Command::Create(a) => {
                assert!(a.force);
                assert_eq!(a.props, vec!["ashift=12"]);
                assert_eq!(a.pool, "tank");
                assert_eq!(a.vdevs, vec!["mirror", "/a", "/b"]);
            }
            other => panic!("{other:?}"),
        }
        let c = Cli::try_parse_from(["zpool", "list", "-Hp", "-o", "name,size", "tank"]).unwrap();
        assert!(matches!(
            c.command,
            Command::List(ListArgs {
                scripted: true,
                literal: true,
                ..
            })
        ));
        assert!(Cli::try_parse_from(["zpool", "create", "tank"]).is_err());
        assert!(Cli::try_parse_from(["zpool", "frobnicate"]).is_err());
        assert!(Cli::try_parse_from(["zpool", "list", "--json-int"]).is_err());
        assert_eq!(
            history_line(&["zpool".into(), "create".into(), "tank".into(), "/a".into()]),
            "zpool create tank /a"
        );
    }
}
