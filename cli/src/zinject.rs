//! `zinject`: inject faults into a pool's devices, as OpenZFS's zinject
//! does for its device faults: a fraction of a device's reads or writes
//! fail (`io`, `nxio`) or return damaged bytes (`checksum`), so that an
//! operator can rehearse what the pool does about it. Rules live in the
//! daemon until cleared or the pool is exported.
//!
//! ```text
//! zinject                                   list the rules
//! zinject -d DEVICE [-e io|checksum|nxio] [-T read|write|all] [-f PCT] POOL
//! zinject -c ID|all                         remove rules
//! ```

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser;

use crate::client::Client;
use crate::errors::{self, print_out, CliError, CliResult, EXIT_OK};
use crate::protocol::zpool::{InjectClearRequest, InjectCleared, InjectList, InjectRequest};
use crate::protocol::Request;

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "zinject",
    about = "Inject faults into the devices of Basin pools (served by basind)",
    disable_version_flag = true
)]
pub struct Cli {
    /// Remove rule ID, or `all`.
    #[arg(short = 'c', value_name = "ID|all", conflicts_with_all = ["device", "pool"])]
    pub clear: Option<String>,
    /// The device (path or guid) to fault.
    #[arg(short = 'd', value_name = "DEVICE", requires = "pool")]
    pub device: Option<String>,
    /// The fault: io (EIO), checksum (damaged reads) or nxio (device gone).
    #[arg(short = 'e', default_value = "io")]
    pub error: String,
    /// The I/O hit: read, write or all.
    #[arg(short = 'T', default_value = "all")]
    pub io_type: String,
    /// Percentage of I/Os hit (0.0001 to 100).
    #[arg(short = 'f', default_value_t = 100.0)]
    pub frequency: f64,
    /// The pool.
    pub pool: Option<String>,
}

fn table(list: &InjectList) -> String {
    if list.rules.is_empty() {
        return "No handlers registered.\n".into();
    }
    let mut out = format!(
        "{:>3}  {:<15}  {:<30}  {:<8}  {:<5}  {:>8}\n{}  {}  {}  {}  {}  {}\n",
        "ID",
        "POOL",
        "DEVICE",
        "TYPE",
        "IO",
        "FREQ",
        "-".repeat(3),
        "-".repeat(15),
        "-".repeat(30),
        "-".repeat(8),
        "-".repeat(5),
        "-".repeat(8)
    );
    for r in &list.rules {
        out.push_str(&format!(
            "{:>3}  {:<15}  {:<30}  {:<8}  {:<5}  {:>7}%\n",
            r.id, r.pool, r.device, r.kind, r.ops, r.frequency
        ));
    }
    out
}

/// Runs a parsed command line.
pub fn run(cli: &Cli) -> CliResult {
    let mut client = Client::connect().map_err(CliError::from)?;
    if let Some(c) = &cli.clear {
        let id = match c.as_str() {
            "all" => None,
            n => Some(
                n.parse::<u64>()
                    .map_err(|_| CliError::Usage(format!("invalid handle '{n}'")))?,
            ),
        };
        let r: InjectCleared = client.call(&Request::ZinjectClear(InjectClearRequest { id }))?;
        print_out(&format!(
            "removed {} handler{}\n",
            r.removed,
            if r.removed == 1 { "" } else { "s" }
        ))?;
        return Ok(EXIT_OK);
    }
    match (&cli.device, &cli.pool) {
        (Some(device), Some(pool)) => {
            let list: InjectList = client.call(&Request::ZinjectAdd(InjectRequest {
                name: pool.clone(),
                device: device.clone(),
                kind: cli.error.clone(),
                ops: cli.io_type.clone(),
                frequency: cli.frequency,
            }))?;
            if let Some(r) = list.rules.last() {
                print_out(&format!("Added handler {} with the following properties:\n  pool: {}\n  vdev: {}\n  type: {} ({} I/O, {}%)\n", r.id, r.pool, r.device, r.kind, r.ops, r.frequency))?;
            }
            Ok(EXIT_OK)
        }
        (None, None) => {
            let list: InjectList = client.call(&Request::ZinjectList)?;
            print_out(&table(&list))?;
            Ok(EXIT_OK)
        }
        _ => Err(CliError::Usage(
            "a device needs a pool: zinject -d DEVICE [-e TYPE] [-T IO] [-f PCT] POOL".into(),
        )),
    }
}

/// The `zinject` program.
pub fn main() -> ExitCode {
    errors::install_panic_hook("zinject");
    let args: Vec<OsString> = std::env::args_os().collect();
    let cli = match Cli::try_parse_from(&args) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    match run(&cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => errors::report("zinject", &e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::zpool::InjectRule;
    use clap::CommandFactory;

    #[test]
    fn command_line() {
        Cli::command().debug_assert();
        let c = Cli::try_parse_from([
            "zinject", "-d", "/v/a", "-e", "checksum", "-f", "25", "tank",
        ])
        .unwrap();
        assert_eq!(c.device.as_deref(), Some("/v/a"));
        assert_eq!(c.error, "checksum");
        assert_eq!(c.io_type, "all");
        assert_eq!(c.frequency, 25.0);
        assert!(Cli::try_parse_from(["zinject", "-c", "all", "-d", "/v/a", "tank"]).is_err());
    }

    #[test]
    fn listing() {
        assert_eq!(table(&InjectList::default()), "No handlers registered.\n");
        let t = table(&InjectList {
            rules: vec![InjectRule {
                id: 1,
                pool: "tank".into(),
                device: "/v/a".into(),
                kind: "io".into(),
                ops: "read".into(),
                frequency: 50.0,
            }],
        });
        assert!(t.lines().nth(2).unwrap().starts_with("  1  tank"), "{t}");
        assert!(t.ends_with("     50%\n"), "{t}");
    }
}
