//! `zfs diff`: one line per changed object, `M\t<object 5>` until paths
//! are known.

use super::{Connect, DiffArgs};
use crate::errors::{print_out, CliResult, EXIT_OK};
use crate::protocol::zfs::{DiffChange, DiffRequest, DiffResult};
use crate::protocol::Request;

/// The text `zfs diff` prints.
pub fn render(changes: &[DiffChange]) -> String {
    changes
        .iter()
        .map(|c| format!("{}\t{}\n", c.change, c.path))
        .collect()
}

/// Runs `zfs diff`.
pub fn run(connect: Connect, a: &DiffArgs) -> CliResult {
    let r: DiffResult = connect()?.call(&Request::ZfsDiff(DiffRequest {
        from: a.from.clone(),
        to: a.to.clone(),
    }))?;
    print_out(&render(&r.changes))?;
    Ok(EXIT_OK)
}
