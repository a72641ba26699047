//! `zpool list`.

use serde_json::{json, Map, Value};

use super::columns::{lookup, PropInfo, LIST_DEFAULT};
use super::{Connect, ListArgs};
use crate::errors::{print_err, print_out, CliError, CliResult, EXIT_ERROR, EXIT_OK};
use crate::format::json::{self as js, JsonOpts};
use crate::format::{split_list, Column, Table};
use crate::protocol::zpool::{GetRequest, GetResult, PoolProps};
use crate::protocol::Request;

/// The columns asked for with `-o`, or the default ones.
pub fn columns(spec: Option<&str>) -> Result<Vec<&'static PropInfo>, CliError> {
    let names: Vec<String> = match spec {
        Some(s) => split_list(s),
        None => LIST_DEFAULT.iter().map(|s| s.to_string()).collect(),
    };
    if names.is_empty() {
        return Err(CliError::Usage("empty property list for -o".into()));
    }
    names
        .iter()
        .map(|n| lookup(n).ok_or_else(|| CliError::Usage(format!("invalid property '{n}'"))))
        .collect()
}

fn cell(pool: &PoolProps, prop: &str, literal: bool) -> String {
    pool.properties
        .iter()
        .find(|e| e.property == prop)
        .map(|e| {
            if literal {
                e.exact.clone()
            } else {
                e.value.clone()
            }
        })
        .unwrap_or_else(|| "-".into())
}

/// The table `zpool list` prints.
pub fn table(result: &GetResult, cols: &[&PropInfo], literal: bool) -> Table {
    let mut t = Table::new(
        cols.iter()
            .map(|c| Column::new(c.column, c.align, c.min_width))
            .collect(),
    );
    for pool in &result.pools {
        t.push(cols.iter().map(|c| cell(pool, c.name, literal)).collect());
    }
    t
}

/// The common part of a pool object in `-j` output.
pub fn pool_object(pool: &PoolProps, opts: JsonOpts) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("name".into(), json!(pool.name));
    m.insert("type".into(), json!("POOL"));
    m.insert("state".into(), json!(pool.state));
    m.insert("guid".into(), js::number(pool.guid, opts));
    m.insert("txg".into(), js::number(pool.txg, opts));
    m.insert(
        "spa_version".into(),
        js::number(basin_pool::FORMAT_VERSION, opts),
    );
    m
}

/// The key of a pool in `-j` output.
pub fn pool_key(pool: &PoolProps, opts: JsonOpts) -> String {
    if opts.key_by_guid {
        pool.guid.to_string()
    } else {
        pool.name.clone()
    }
}

/// The `-j` document of `zpool list`.
pub fn json(result: &GetResult, cols: &[&PropInfo], literal: bool, opts: JsonOpts) -> Value {
    let mut pools = Map::new();
    for pool in &result.pools {
        let mut obj = pool_object(pool, opts);
        let mut props = Map::new();
        for c in cols.iter().filter(|c| c.name != "name") {
            let (value, source) = pool
                .properties
                .iter()
                .find(|e| e.property == c.name)
                .map(|e| {
                    let v = if literal || opts.as_int {
                        &e.exact
                    } else {
                        &e.value
                    };
                    (v.clone(), e.source.clone())
                })
                .unwrap_or_else(|| ("-".into(), "-".into()));
            props.insert(c.name.into(), js::property(&value, &source, opts));
        }
        obj.insert("properties".into(), Value::Object(props));
        pools.insert(pool_key(pool, opts), Value::Object(obj));
    }
    js::document("zpool list", "pools", pools)
}

/// Runs `zpool list`.
pub fn run(connect: Connect, a: &ListArgs) -> CliResult {
    let cols = columns(a.columns.as_deref())?;
    let result: GetResult = connect()?.call(&Request::ZpoolGet(GetRequest {
        names: a.pools.clone(),
        props: cols.iter().map(|c| c.name.to_string()).collect(),
    }))?;
    for e in &result.errors {
        print_err(&format!("{}\n", e.message));
    }
    if a.json.json {
        print_out(&js::render(&json(&result, &cols, a.literal, a.json.opts())))?;
    } else if result.pools.is_empty() && a.pools.is_empty() && !a.scripted {
        print_out("no pools available\n")?;
    } else if !result.pools.is_empty() {
        print_out(&table(&result, &cols, a.literal).render(a.scripted))?;
    }
    Ok(if result.errors.is_empty() {
        EXIT_OK
    } else {
        EXIT_ERROR
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::zpool::PropEntry;

    fn e(p: &str, v: &str, x: &str, s: &str) -> PropEntry {
        PropEntry {
            property: p.into(),
            value: v.into(),
            exact: x.into(),
            source: s.into(),
        }
    }

    fn sample() -> GetResult {
        GetResult {
            pools: vec![PoolProps {
                name: "tank".into(),
                guid: 42,
                state: "ONLINE".into(),
                txg: 9,
                properties: vec![
                    e("name", "tank", "tank", "-"),
                    e("size", "80.0M", "83886080", "-"),
                    e("allocated", "123K", "125952", "-"),
                    e("free", "79.9M", "83760128", "-"),
                    e("checkpoint", "-", "-", "-"),
                    e("expandsize", "-", "-", "-"),
                    e("fragmentation", "0%", "0", "-"),
                    e("capacity", "0%", "0", "-"),
                    e("dedupratio", "1.00x", "1.00", "-"),
                    e("health", "ONLINE", "ONLINE", "-"),
                    e("altroot", "-", "-", "default"),
                ],
            }],
            errors: vec![],
        }
    }

    #[test]
    fn default_columns_like_openzfs() {
        let cols = columns(None).unwrap();
        assert_eq!(
            table(&sample(), &cols, false).render(false),
            "NAME   SIZE  ALLOC   FREE  CKPOINT  EXPANDSZ   FRAG    CAP  DEDUP    HEALTH  ALTROOT\n\
             tank  80.0M   123K  79.9M        -         -     0%     0%  1.00x    ONLINE  -\n"
        );
        assert_eq!(
            table(&sample(), &cols, true).render(true),
            "tank\t83886080\t125952\t83760128\t-\t-\t0\t0\t1.00\tONLINE\t-\n"
        );
    }

    #[test]
    fn chosen_columns_and_json() {
        let cols = columns(Some("name,alloc,health")).unwrap();
        assert_eq!(
            table(&sample(), &cols, false).render(false),
            "NAME  ALLOC    HEALTH\ntank   123K    ONLINE\n"
        );
        assert!(matches!(
            columns(Some("name,bogus")),
            Err(CliError::Usage(_))
        ));
        let doc = json(&sample(), &cols, false, JsonOpts::default());
        let t = &doc["pools"]["tank"];
        assert_eq!(t["name"], "tank");
        assert_eq!(t["type"], "POOL");
        assert_eq!(t["guid"], "42");
        assert_eq!(t["properties"]["allocated"]["value"], "123K");
        assert_eq!(t["properties"]["health"]["source"]["type"], "NONE");
        assert!(t["properties"].get("name").is_none());
        let ints = JsonOpts {
            as_int: true,
            key_by_guid: true,
        };
        let doc = json(&sample(), &cols, false, ints);
        assert_eq!(
            doc["pools"]["42"]["properties"]["allocated"]["value"],
            125952
        );
        assert_eq!(doc["pools"]["42"]["guid"], 42);
    }
}
