//! `zfs`: configure datasets. A thin client like `zpool`: every command is
//! one request to `basind`; this side checks the command line and lays
//! out the answer as OpenZFS 2.3 does.

pub mod change;
pub mod columns;
pub mod diff;
pub mod get;
pub mod holds;
pub mod list;
pub mod mount;
pub mod sort;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::client::Client;
use crate::errors::{self, CliError, CliResult};
use crate::format::json::JsonOpts;

/// Configure Basin datasets.
#[derive(Debug, Parser)]
#[command(
    name = "zfs",
    about = "Configure Basin datasets: filesystems, volumes, snapshots and clones (served by basind; set BASIN_SOCKET to choose the daemon)",
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
    /// Create a filesystem, or a volume with -V.
    Create(CreateArgs),
    /// Destroy a dataset or snapshots.
    Destroy(DestroyArgs),
    /// List datasets with their space and mountpoint.
    List(ListArgs),
    /// Show dataset properties.
    Get(GetArgs),
    /// Set dataset properties.
    Set(SetArgs),
    /// Clear a property so that it is inherited.
    Inherit(InheritArgs),
    /// Take snapshots.
    #[command(alias = "snap")]
    Snapshot(SnapshotArgs),
    /// Roll a filesystem back to a snapshot.
    Rollback(RollbackArgs),
    /// Make a writable dataset from a snapshot.
    Clone(CloneArgs),
    /// Make a clone independent of its origin.
    Promote(PromoteArgs),
    /// Rename a dataset or snapshot.
    Rename(RenameArgs),
    /// Place a user hold on snapshots.
    Hold(HoldArgs),
    /// Remove a user hold from snapshots.
    Release(HoldArgs),
    /// List the user holds on snapshots.
    Holds(HoldsArgs),
    /// Show the objects changed since a snapshot.
    Diff(DiffArgs),
    /// Mount filesystems, or list the mounted ones.
    Mount(mount::MountArgs),
    /// Unmount filesystems.
    #[command(alias = "umount")]
    Unmount(mount::UnmountArgs),
}

/// `zfs create [-p] [-o property=value]... [-V size [-b blocksize] [-s]]
/// name`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Create missing parent datasets.
    #[arg(short = 'p')]
    pub parents: bool,
    /// Set a property of the new dataset.
    #[arg(short = 'o', value_name = "PROPERTY=VALUE")]
    pub props: Vec<String>,
    /// Do not mount the new filesystem.
    #[arg(short = 'u')]
    pub no_mount: bool,
    /// Create a volume of this size.
    #[arg(short = 'V', value_name = "SIZE")]
    pub volsize: Option<String>,
    /// The volume's block size (volblocksize).
    #[arg(short = 'b', value_name = "BLOCKSIZE", requires = "volsize")]
    pub blocksize: Option<String>,
    /// A sparse volume: no reservation.
    #[arg(short = 's', requires = "volsize")]
    pub sparse: bool,
    /// The new dataset.
    pub name: String,
}

/// `zfs destroy [-fnpRrv] [-d] name`.
#[derive(Debug, Args)]
pub struct DestroyArgs {
    /// Destroy children (and, for fs@snap, that snapshot of every child).
    #[arg(short = 'r')]
    pub recursive: bool,
    /// Destroy dependents too, clones included.
    #[arg(short = 'R')]
    pub dependents: bool,
    /// Defer the destroy of held snapshots until their last hold goes.
    #[arg(short = 'd')]
    pub defer: bool,
    /// Unmount by force.
    #[arg(short = 'f')]
    pub force: bool,
    /// Dry run: only say what would be destroyed.
    #[arg(short = 'n')]
    pub dry_run: bool,
    /// Print what is destroyed.
    #[arg(short = 'v')]
    pub verbose: bool,
    /// Print in a parsable form (implies -v).
    #[arg(short = 'p')]
    pub parsable: bool,
    /// A filesystem, volume or fs@snap.
    pub name: String,
}

/// `-j` and `--json-int`.
#[derive(Debug, Args, Clone, Copy)]
pub struct JsonArgs {
    /// Print JSON.
    #[arg(short = 'j', long = "json")]
    pub json: bool,
    /// With -j: numbers as integers, not strings.
    #[arg(long = "json-int", requires = "json")]
    pub json_int: bool,
}

impl JsonArgs {
    /// The options for the JSON writers.
    pub fn opts(&self) -> JsonOpts {
        JsonOpts {
            as_int: self.json_int,
            key_by_guid: false,
        }
    }
}

/// One sort key of `zfs list`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SortKey {
    /// The property.
    pub property: String,
    /// `-S`: descending.
    pub descending: bool,
}

/// `zfs list [-r|-d depth] [-Hp] [-j] [-o property[,property]...] [-s
/// property]... [-S property]... [-t type[,type]...] [name]...`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Recurse into children.
    #[arg(short = 'r')]
    pub recursive: bool,
    /// Recurse at most this many levels.
    #[arg(short = 'd', value_name = "DEPTH")]
    pub depth: Option<String>,
    /// Scripted mode: no header, fields separated by a tab.
    #[arg(short = 'H')]
    pub scripted: bool,
    /// Exact numbers.
    #[arg(short = 'p')]
    pub literal: bool,
    /// Columns (properties, `name`, or `space`).
    #[arg(short = 'o', value_name = "PROPERTY[,PROPERTY]...")]
    pub columns: Option<String>,
    /// Sort by a property, ascending.
    #[arg(short = 's', value_name = "PROPERTY")]
    pub sort_asc: Vec<String>,
    /// Sort by a property, descending.
    #[arg(short = 'S', value_name = "PROPERTY")]
    pub sort_desc: Vec<String>,
    /// Types: filesystem, volume, snapshot, all.
    #[arg(short = 't', value_name = "TYPE[,TYPE]...")]
    pub types: Option<String>,
    /// JSON output.
    #[command(flatten)]
    pub json: JsonArgs,
    /// Datasets (all when none).
    pub names: Vec<String>,
    /// -s and -S in command-line order.
    #[arg(skip)]
    pub sort: Vec<SortKey>,
}

/// `zfs get [-rHp] [-j] [-d depth] [-o field[,field]...] [-s
/// source[,source]...] [-t type[,type]...] all|property[,property]...
/// [name]...`.
#[derive(Debug, Args)]
pub struct GetArgs {
    /// Recurse into children.
    #[arg(short = 'r')]
    pub recursive: bool,
    /// Recurse at most this many levels.
    #[arg(short = 'd', value_name = "DEPTH")]
    pub depth: Option<String>,
    /// Scripted mode: no header, fields separated by a tab.
    #[arg(short = 'H')]
    pub scripted: bool,
    /// Exact numbers.
    #[arg(short = 'p')]
    pub literal: bool,
    /// Fields: name, property, value, received, source (or all).
    #[arg(short = 'o', value_name = "FIELD[,FIELD]...")]
    pub fields: Option<String>,
    /// Sources: local, default, inherited, temporary, received, none.
    #[arg(short = 's', value_name = "SOURCE[,SOURCE]...")]
    pub sources: Option<String>,
    /// Types: filesystem, volume, snapshot, all.
    #[arg(short = 't', value_name = "TYPE[,TYPE]...")]
    pub types: Option<String>,
    /// JSON output.
    #[command(flatten)]
    pub json: JsonArgs,
    /// `all` or comma-separated properties.
    pub props: String,
    /// Datasets (all when none).
    pub names: Vec<String>,
}

/// `zfs set property=value... name...`.
#[derive(Debug, Args)]
pub struct SetArgs {
    /// `property=value` settings, then datasets.
    #[arg(required = true, num_args = 2.., value_name = "PROPERTY=VALUE... NAME")]
    pub args: Vec<String>,
}

/// `zfs inherit [-r] property name...`.
#[derive(Debug, Args)]
pub struct InheritArgs {
    /// Descendants too.
    #[arg(short = 'r')]
    pub recursive: bool,
    /// The property.
    pub property: String,
    /// Datasets.
    #[arg(required = true)]
    pub names: Vec<String>,
}

/// `zfs snapshot [-r] [-o property=value]... name@snap...`.
#[derive(Debug, Args)]
pub struct SnapshotArgs {
    /// Every descendant too.
    #[arg(short = 'r')]
    pub recursive: bool,
    /// Set a property of the snapshots.
    #[arg(short = 'o', value_name = "PROPERTY=VALUE")]
    pub props: Vec<String>,
    /// Snapshot names.
    #[arg(required = true)]
    pub names: Vec<String>,
}

/// `zfs rollback [-rRf] snapshot`.
#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// Destroy later snapshots.
    #[arg(short = 'r')]
    pub recursive: bool,
    /// Destroy later snapshots and their clones.
    #[arg(short = 'R')]
    pub dependents: bool,
    /// Unmount by force.
    #[arg(short = 'f')]
    pub force: bool,
    /// The snapshot.
    pub snapshot: String,
}

/// `zfs clone [-p] [-o property=value]... snapshot name`.
#[derive(Debug, Args)]
pub struct CloneArgs {
    /// Create missing parent datasets.
    #[arg(short = 'p')]
    pub parents: bool,
    /// Set a property of the clone.
    #[arg(short = 'o', value_name = "PROPERTY=VALUE")]
    pub props: Vec<String>,
    /// The origin snapshot.
    pub snapshot: String,
    /// The new dataset.
    pub name: String,
}

/// `zfs promote clone`.
#[derive(Debug, Args)]
pub struct PromoteArgs {
    /// The clone.
    pub name: String,
}

/// `zfs rename [-p] [-r] [-f] old new`.
#[derive(Debug, Args)]
pub struct RenameArgs {
    /// Create missing parents of the new name.
    #[arg(short = 'p')]
    pub parents: bool,
    /// Rename the snapshot of every descendant too.
    #[arg(short = 'r')]
    pub recursive: bool,
    /// Unmount what must be unmounted even when it is busy.
    #[arg(short = 'f')]
    pub force: bool,
    /// The current name.
    pub old: String,
    /// The new name.
    pub new: String,
}

/// `zfs hold|release [-r] tag snapshot...`.
#[derive(Debug, Args)]
pub struct HoldArgs {
    /// The same snapshot of every descendant too.
    #[arg(short = 'r')]
    pub recursive: bool,
    /// The tag.
    pub tag: String,
    /// Snapshots.
    #[arg(required = true)]
    pub snapshots: Vec<String>,
}

/// `zfs holds [-rHp] snapshot...`.
#[derive(Debug, Args)]
pub struct HoldsArgs {
    /// The same snapshot of every descendant too.
    #[arg(short = 'r')]
    pub recursive: bool,
    /// Scripted mode: no header, fields separated by a tab.
    #[arg(short = 'H')]
    pub scripted: bool,
    /// Times as seconds since the epoch.
    #[arg(short = 'p')]
    pub literal: bool,
    /// Snapshots.
    #[arg(required = true)]
    pub snapshots: Vec<String>,
}

/// `zfs diff snapshot [snapshot|filesystem]`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The earlier snapshot.
    pub from: String,
    /// A later snapshot, or the filesystem (default).
    pub to: Option<String>,
}

/// Opens the connection to the daemon, once the command line is checked.
pub type Connect = fn() -> Result<Client, CliError>;

/// The command line as the pool history records it.
pub fn history_line(args: &[OsString]) -> String {
    let mut words = vec!["zfs".to_string()];
    words.extend(
        args.iter()
            .skip(1)
            .map(|a| a.to_string_lossy().into_owned()),
    );
    words.join(" ")
}

/// The -s and -S keys of `zfs list` in the order they were given.
fn sort_keys(m: &ArgMatches) -> Vec<SortKey> {
    let mut keys: Vec<(usize, SortKey)> = Vec::new();
    for (id, descending) in [("sort_asc", false), ("sort_desc", true)] {
        if let (Some(idx), Some(vals)) = (m.indices_of(id), m.get_many::<String>(id)) {
            for (i, v) in idx.zip(vals) {
                keys.push((
                    i,
                    SortKey {
                        property: v.clone(),
                        descending,
                    },
                ));
            }
        }
    }
    keys.sort_by_key(|(i, _)| *i);
    keys.into_iter().map(|(_, k)| k).collect()
}

/// Parses a command line, keeping the order of `zfs list`'s sort keys.
pub fn parse(args: &[OsString]) -> Result<Cli, clap::Error> {
    let m = Cli::command().try_get_matches_from(args)?;
    let mut cli = Cli::from_arg_matches(&m)?;
    if let (Command::List(a), Some(("list", sub))) = (&mut cli.command, m.subcommand()) {
        a.sort = sort_keys(sub);
    }
    Ok(cli)
}

/// Runs one parsed command.
pub fn run(cli: &Cli, line: &str) -> CliResult {
    let connect: Connect = || Client::connect().map_err(CliError::from);
    match &cli.command {
        Command::Create(a) => change::create(connect, a, line),
        Command::Destroy(a) => change::destroy(connect, a, line),
        Command::List(a) => list::run(connect, a),
        Command::Get(a) => get::run(connect, a),
        Command::Set(a) => change::set(connect, a, line),
        Command::Inherit(a) => change::inherit(connect, a, line),
        Command::Snapshot(a) => change::snapshot(connect, a, line),
        Command::Rollback(a) => change::rollback(connect, a, line),
        Command::Clone(a) => change::clone(connect, a, line),
        Command::Promote(a) => change::promote(connect, a, line),
        Command::Rename(a) => change::rename(connect, a, line),
        Command::Hold(a) => change::hold(connect, a, line, true),
        Command::Release(a) => change::hold(connect, a, line, false),
        Command::Holds(a) => holds::run(connect, a),
        Command::Diff(a) => diff::run(connect, a),
        Command::Mount(a) => mount::mount(connect, a),
        Command::Unmount(a) => mount::unmount(connect, a),
    }
}

/// The `zfs` program.
pub fn main() -> ExitCode {
    errors::install_panic_hook("zfs");
    let args: Vec<OsString> = std::env::args_os().collect();
    let cli = match parse(&args) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    match run(&cli, &history_line(&args)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => errors::report("zfs", &e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn parses_like_zfs() {
        let c = parse(&args(&[
            "zfs", "list", "-s", "used", "-S", "name", "-s", "refer", "-Hp", "-o", "name", "tank",
        ]))
        .unwrap();
        match c.command {
            Command::List(a) => {
                let keys: Vec<(&str, bool)> = a
                    .sort
                    .iter()
                    .map(|k| (k.property.as_str(), k.descending))
                    .collect();
                assert_eq!(
                    keys,
                    vec![("used", false), ("name", true), ("refer", false)]
                );
                assert!(a.scripted && a.literal);
                assert_eq!(a.names, vec!["tank"]);
            }
            other => panic!("{other:?}"),
        }
        let c = parse(&args(&[
            "zfs", "create", "-V", "10M", "-b", "8K", "-s", "tank/v",
        ]))
        .unwrap();
        assert!(matches!(
            c.command,
            Command::Create(CreateArgs { sparse: true, .. })
        ));
        assert!(parse(&args(&["zfs", "create", "-b", "8K", "tank/v"])).is_err());
        assert!(parse(&args(&["zfs", "set", "atime=off"])).is_err());
        assert!(parse(&args(&["zfs", "list", "--json-int"])).is_err());
        assert!(parse(&args(&["zfs", "frob"])).is_err());
        assert!(matches!(
            parse(&args(&["zfs", "snap", "tank@a"])).unwrap().command,
            Command::Snapshot(_)
        ));
        assert_eq!(
            history_line(&args(&["zfs", "create", "tank/a"])),
            "zfs create tank/a"
        );
    }
}
