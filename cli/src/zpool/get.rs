//! `zpool get`.

use serde_json::{Map, Value};

use super::columns::lookup;
use super::list::{pool_key, pool_object};
use super::{Connect, GetArgs};
use crate::errors::{print_err, print_out, CliError, CliResult, EXIT_ERROR, EXIT_OK};
use crate::format::json::{self as js, JsonOpts};
use crate::format::{split_list, Align, Column, Table};
use crate::protocol::zpool::{GetRequest, GetResult};
use crate::protocol::Request;

/// The fields `-o` can choose.
const FIELDS: &[&str] = &["name", "property", "value", "source"];

/// The fields asked for with `-o`, or all four.
pub fn fields(spec: Option<&str>) -> Result<Vec<&'static str>, CliError> {
    let Some(s) = spec else {
        return Ok(FIELDS.to_vec());
    };
    let mut out = Vec::new();
    for f in split_list(s) {
        if f == "all" {
            out.extend_from_slice(FIELDS);
            continue;
        }
        match FIELDS.iter().find(|x| **x == f) {
            Some(x) => out.push(*x),
            None => return Err(CliError::Usage(format!("invalid column name '{f}'"))),
        }
    }
    if out.is_empty() {
        return Err(CliError::Usage("empty field list for -o".into()));
    }
    Ok(out)
}

/// The property names asked for (`all` kept as is, column names such as
/// `alloc` turned into property names).
pub fn properties(spec: &str) -> Result<Vec<String>, CliError> {
    let mut out = Vec::new();
    for p in split_list(spec) {
        if p == "all" {
            out.push(p);
            continue;
        }
        match lookup(&p) {
            Some(info) => out.push(info.name.to_string()),
            None => {
                return Err(CliError::Usage(format!(
                    "bad property list: invalid property '{p}'"
                )))
            }
        }
    }
    if out.is_empty() {
        return Err(CliError::Usage("missing property list".into()));
    }
    Ok(out)
}

/// The table `zpool get` prints.
pub fn table(result: &GetResult, fields: &[&str], literal: bool) -> Table {
    // As in OpenZFS, the VALUE column is at least as wide as the widest
    // column any of the properties would have in `zpool list`.
    let value_width = result
        .pools
        .iter()
        .flat_map(|p| &p.properties)
        .filter_map(|e| lookup(&e.property))
        .filter(|info| info.name != "name")
        .map(|info| info.min_width)
        .max()
        .unwrap_or(0);
    let mut t = Table::new(
        fields
            .iter()
            .map(|f| {
                let min = if *f == "value" { value_width } else { 0 };
                Column::new(f.to_ascii_uppercase(), Align::Left, min)
            })
            .collect(),
    );
    for pool in &result.pools {
        for e in &pool.properties {
            let row = fields
                .iter()
                .map(|f| match *f {
                    "name" => pool.name.clone(),
                    "property" => e.property.clone(),
                    "value" if literal => e.exact.clone(),
                    "value" => e.value.clone(),
                    _ => e.source.clone(),
                })
                .collect();
            t.push(row);
        }
    }
    t
}

/// The `-j` document of `zpool get`.
pub fn json(result: &GetResult, literal: bool, opts: JsonOpts) -> Value {
    let mut pools = Map::new();
    for pool in &result.pools {
        let mut obj = pool_object(pool, opts);
        let mut props = Map::new();
        for e in &pool.properties {
            let v = if literal || opts.as_int {
                &e.exact
            } else {
                &e.value
            };
            props.insert(e.property.clone(), js::property(v, &e.source, opts));
        }
        obj.insert("properties".into(), Value::Object(props));
        pools.insert(pool_key(pool, opts), Value::Object(obj));
    }
    js::document("zpool get", "pools", pools)
}

/// Runs `zpool get`.
pub fn run(connect: Connect, a: &GetArgs) -> CliResult {
    let fields = fields(a.fields.as_deref())?;
    let props = properties(&a.props)?;
    let result: GetResult = connect()?.call(&Request::ZpoolGet(GetRequest {
        names: a.pools.clone(),
        props,
    }))?;
    for e in &result.errors {
        print_err(&format!("{}\n", e.message));
    }
    if a.json.json {
        print_out(&js::render(&json(&result, a.literal, a.json.opts())))?;
    } else if !result.pools.is_empty() {
        print_out(&table(&result, &fields, a.literal).render(a.scripted))?;
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
    use crate::protocol::zpool::{PoolProps, PropEntry};

    fn sample() -> GetResult {
        let e = |p: &str, v: &str, x: &str, s: &str| PropEntry {
            property: p.into(),
            value: v.into(),
            exact: x.into(),
            source: s.into(),
        };
        GetResult {
            pools: vec![PoolProps {
                name: "tank".into(),
                guid: 7,
                state: "ONLINE".into(),
                txg: 3,
                properties: vec![
                    e("size", "80.0M", "83886080", "-"),
                    e("autoexpand", "off", "off", "default"),
                    e("comment", "hello", "hello", "local"),
                ],
            }],
            errors: vec![],
        }
    }

    #[test]
    fn table_like_openzfs() {
        assert_eq!(
            table(&sample(), &fields(None).unwrap(), false).render(false),
            "NAME  PROPERTY    VALUE    SOURCE\n\
             tank  size        80.0M    -\n\
             tank  autoexpand  off      default\n\
             tank  comment     hello    local\n"
        );
        assert_eq!(
            table(&sample(), &fields(Some("value")).unwrap(), true).render(true),
            "83886080\noff\nhello\n"
        );
        assert!(matches!(
            fields(Some("name,bogus")),
            Err(CliError::Usage(_))
        ));
        assert!(matches!(properties("size,bogus"), Err(CliError::Usage(_))));
        assert_eq!(
            properties("alloc,cap").unwrap(),
            vec!["allocated", "capacity"]
        );
    }

    #[test]
    fn json_like_openzfs() {
        let doc = json(&sample(), false, JsonOpts::default());
        assert_eq!(doc["output_version"]["command"], "zpool get");
        let p = &doc["pools"]["tank"]["properties"];
        assert_eq!(p["size"]["value"], "80.0M");
        assert_eq!(p["comment"]["source"]["type"], "LOCAL");
        assert_eq!(p["autoexpand"]["source"]["type"], "DEFAULT");
    }
}
