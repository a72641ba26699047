//! The commands that change pools: `create`, `destroy`, `export`, `set`.
//! Each sends its command line along, for the pool history.

use super::{Connect, CreateArgs, DestroyArgs, ExportArgs, SetArgs};
use crate::errors::{print_err, CliError, CliResult, EXIT_ERROR, EXIT_OK};
use crate::protocol::arc::{SetTunableRequest, TUNABLES};
use crate::protocol::zpool::{
    CreateRequest, DestroyRequest, Done, ExportRequest, PoolRef, PropSetting, SetRequest,
};
use crate::protocol::Request;

/// Splits `property=value`.
pub fn assignment(s: &str) -> Result<PropSetting, CliError> {
    match s.split_once('=') {
        Some((p, v)) if !p.is_empty() => Ok(PropSetting {
            property: p.to_string(),
            value: v.to_string(),
        }),
        _ => Err(CliError::Usage(format!(
            "missing '=' for property=value argument '{s}'"
        ))),
    }
}

/// `zpool create`.
pub fn create(connect: Connect, a: &CreateArgs, line: &str) -> CliResult {
    let props = a
        .props
        .iter()
        .map(|p| assignment(p))
        .collect::<Result<Vec<_>, _>>()?;
    let fs_props = a
        .fs_props
        .iter()
        .map(|p| assignment(p))
        .collect::<Result<Vec<_>, _>>()?;
    let _: PoolRef = connect()?.call(&Request::ZpoolCreate(CreateRequest {
        name: a.pool.clone(),
        vdevs: a.vdevs.clone(),
        force: a.force,
        props,
        fs_props,
        command: line.to_string(),
    }))?;
    Ok(EXIT_OK)
}

/// `zpool destroy`.
pub fn destroy(connect: Connect, a: &DestroyArgs, line: &str) -> CliResult {
    let _: Done = connect()?.call(&Request::ZpoolDestroy(DestroyRequest {
        name: a.pool.clone(),
        force: a.force,
        command: line.to_string(),
    }))?;
    Ok(EXIT_OK)
}

/// `zpool export`: every pool named, reporting each failure.
pub fn export(connect: Connect, a: &ExportArgs, line: &str) -> CliResult {
    let mut client = connect()?;
    let mut code = EXIT_OK;
    for name in &a.pools {
        let r: Result<Done, _> = client.call(&Request::ZpoolExport(ExportRequest {
            name: name.clone(),
            force: a.force,
            command: line.to_string(),
        }));
        if let Err(e) = r {
            print_err(&format!("{e}\n"));
            code = EXIT_ERROR;
        }
    }
    Ok(code)
}

/// `zpool set`: a pool property, or (without a pool) arc_max or arc_min.
pub fn set(connect: Connect, a: &SetArgs, line: &str) -> CliResult {
    let p = assignment(&a.assignment)?;
    let Some(pool) = &a.pool else {
        if !TUNABLES.contains(&p.property.as_str()) {
            return Err(CliError::Usage("missing pool name".into()));
        }
        let _: Done = connect()?.call(&Request::ZpoolSetTunable(SetTunableRequest {
            property: p.property,
            value: p.value,
        }))?;
        return Ok(EXIT_OK);
    };
    let _: Done = connect()?.call(&Request::ZpoolSet(SetRequest {
        name: pool.clone(),
        property: p.property,
        value: p.value,
        command: line.to_string(),
    }))?;
    Ok(EXIT_OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignments() {
        let p = assignment("comment=a=b").unwrap();
        assert_eq!((p.property.as_str(), p.value.as_str()), ("comment", "a=b"));
        assert_eq!(assignment("comment=").unwrap().value, "");
        assert!(matches!(assignment("comment"), Err(CliError::Usage(_))));
        assert!(matches!(assignment("=x"), Err(CliError::Usage(_))));
    }
}
