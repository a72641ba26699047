//! Pool property values for `zpool get` and `zpool list`: the pool layer's
//! properties plus the ones only the commands show (`name`, `checkpoint`).

use basin_pool::props::{all_names, PropSource};
use basin_pool::{Pool, PoolError};

use crate::protocol::zpool::{GetRequest, PoolProps, PropEntry};

/// Properties the pool layer does not know but `zpool list` shows.
const EXTRA: &[&str] = &["name", "checkpoint"];

/// True when `name` is a pool property that can be read.
pub fn is_known(name: &str) -> bool {
    EXTRA.contains(&name) || all_names().contains(&name)
}

/// The property names a request asks for (`all` expanded).
pub fn requested(req: &GetRequest) -> Vec<String> {
    let mut out = Vec::new();
    for p in &req.props {
        if p == "all" {
            out.extend(all_names().iter().map(|s| s.to_string()));
        } else {
            out.push(p.clone());
        }
    }
    out
}

fn entry(property: &str, value: String, exact: String, source: PropSource) -> PropEntry {
    PropEntry {
        property: property.to_string(),
        value,
        exact,
        source: source.name().to_string(),
    }
}

/// The value of `property` of `pool`.
pub fn value(pool: &Pool, property: &str) -> Result<PropEntry, PoolError> {
    match property {
        "name" => {
            let n = pool.name().to_string();
            Ok(entry(property, n.clone(), n, PropSource::None))
        }
        "checkpoint" => Ok(entry(property, "-".into(), "-".into(), PropSource::None)),
        _ => {
            let v = pool.get_property(property)?;
            Ok(entry(property, v.value, v.exact, v.source))
        }
    }
}

/// The requested properties of `pool`.
pub fn pool_props(pool: &Pool, names: &[String]) -> Result<PoolProps, PoolError> {
    let properties = names
        .iter()
        .map(|n| value(pool, n))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(PoolProps {
        name: pool.name().to_string(),
        guid: pool.guid(),
        state: pool.health().name().to_string(),
        txg: pool.last_synced_txg(),
        properties,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_names() {
        for p in [
            "name",
            "size",
            "allocated",
            "free",
            "capacity",
            "health",
            "guid",
            "ashift",
        ] {
            assert!(is_known(p), "{p}");
        }
        assert!(!is_known("bogus"));
        let req = GetRequest {
            names: vec![],
            props: vec!["all".into()],
        };
        assert_eq!(requested(&req).len(), all_names().len());
    }
}
