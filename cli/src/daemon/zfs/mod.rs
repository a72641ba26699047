//! The `zfs.*` ops, carried out in the daemon on each pool's dataset layer.
//!
//! Every handler checks its arguments first, with OpenZFS's words and
//! without changing anything (names, existence, properties), then calls
//! the dataset layer, and records the command line in the pool history
//! once the change is done. Mounting goes through [`Daemon::mounts`], the
//! POSIX layer's hook.

pub mod datasets;
pub mod diff;
pub mod errors;
pub mod mount;
pub mod names;
pub mod props;
pub mod query;
pub mod snapshots;
pub mod validate;

use basin_dmu::dsl::info::type_name;

use self::errors::{invalid, pool_refused};
use self::names::{pool_of, Want};
use crate::daemon::{Daemon, Imported};
use crate::protocol::WireError;

/// The imported pool that holds dataset `name`; a missing pool is a
/// missing dataset ("cannot open 'x': dataset does not exist").
pub fn pool_for(d: &Daemon, context: &str, name: &str) -> Result<Imported, WireError> {
    let pool = pool_of(name);
    d.registry
        .imported(pool)
        .map_err(|e| pool_refused(context, name, pool, &e))
}

/// Refuses a malformed name: "{context}: invalid character '*' in name".
pub fn check_name(context: &str, name: &str, want: Want) -> Result<(), WireError> {
    match names::problem(name, want) {
        Some(p) => Err(invalid(format!("{context}: {p}"))),
        None => Ok(()),
    }
}

/// The type of dataset `name` (`filesystem`, `volume`, `snapshot`), if it
/// exists.
pub fn type_of(imp: &Imported, name: &str) -> Option<&'static str> {
    imp.dsl
        .with_state(|st| st.lookup(name).ok().map(|id| type_name(st, id)))
}

/// Records a command line in the pool history.
pub fn record(imp: &Imported, command: &str) {
    if !command.is_empty() {
        imp.pool.log_history(command, false);
    }
}

/// "cannot open 'NAME': operation not applicable to datasets of this type".
pub fn wrong_type(name: &str) -> WireError {
    invalid(format!(
        "cannot open '{name}': operation not applicable to datasets of this type"
    ))
}
