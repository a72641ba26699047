//! `zpool get`.

use serde_json::{Map, Value};

use super::columns::lookup;
use super::list::{pool_key, pool_object};
use super::{Connect, GetArgs};
use crate::errors::{print_err, print_out, CliError, CliResult, EXIT_ERROR, EXIT_OK};
use crate::format::json::{self as js, JsonOpts};
use crate::format::{split_list, Align, Column, Table};
use crate::protocol::arc::{TunablesRequest, TunablesResult, TUNABLES};
use crate::protocol::zpool::{GetRequest, GetResult, PoolProps, PropEntry};
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

/// The daemon-wide properties asked for, when the request is only about
/// them (`zpool get arc_max,arc_min` without a pool).
pub fn tunables_asked(a: &GetArgs) -> Option<Vec<String>> {
    let words = split_list(&a.props);
    (a.pools.is_empty()
        && !words.is_empty()
        && words.iter().all(|w| TUNABLES.contains(&w.as_str())))
    .then_some(words)
}

/// The result of a tunables request as a get result, the daemon standing
/// in for a pool named `-`.
pub fn tunables_as_pool(t: &TunablesResult) -> GetResult {
    GetResult {
        pools: vec![PoolProps {
            name: "-".into(),
            guid: 0,
            state: String::new(),
            txg: 0,
            properties: t
                .tunables
                .iter()
                .map(|x| PropEntry {
                    property: x.property.clone(),
                    value: x.value.clone(),
                    exact: x.exact.clone(),
                    source: x.source.clone(),
                })
                .collect(),
        }],
        errors: Vec::new(),
    }
}

/// The `-j` document of `zpool get arc_max,arc_min`.
pub fn tunables_json(t: &TunablesResult, literal: bool, opts: JsonOpts) -> Value {
    let mut props = Map::new();
    for x in &t.tunables {
        let v = if literal || opts.as_int {
            &x.exact
        } else {
            &x.value
        };
        props.insert(x.property.clone(), js::property(v, &x.source, opts));
    }
    js::document("zpool get", "tunables", props)
}

fn run_tunables(connect: Connect, a: &GetArgs, props: Vec<String>) -> CliResult {
    let fields = fields(a.fields.as_deref())?;
    let t: TunablesResult =
        connect()?.call(&Request::ZpoolGetTunables(TunablesRequest { props }))?;
    if a.json.json {
        print_out(&js::render(&tunables_json(&t, a.literal, a.json.opts())))?;
    } else {
        print_out(&table(&tunables_as_pool(&t), &fields, a.literal).render(a.scripted))?;
    }
    Ok(EXIT_OK)
}

/// Runs `zpool get`.
pub fn run(connect: Connect, a: &GetArgs) -> CliResult {
    if let Some(props) = tunables_asked(a) {
        return run_tunables(connect, a, props);
    }
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

    #[test]
    fn daemon_wide_properties() {
        let t = TunablesResult {
            tunables: vec![crate::protocol::arc::Tunable {
                property: "arc_max".into(),
                value: "2.00G".into(),
                exact: "2147483648".into(),
                source: "local".into(),
            }],
        };
        assert_eq!(
            table(&tunables_as_pool(&t), &fields(None).unwrap(), false).render(false),
            "NAME  PROPERTY  VALUE  SOURCE\n-     arc_max   2.00G  local\n"
        );
        let ints = JsonOpts {
            as_int: true,
            ..Default::default()
        };
        let doc = tunables_json(&t, false, ints);
        assert_eq!(doc["tunables"]["arc_max"]["value"], 2147483648u64);
        assert_eq!(doc["tunables"]["arc_max"]["source"]["type"], "LOCAL");
        let args = |props: &str, pools: Vec<String>| GetArgs {
            scripted: false,
            literal: false,
            fields: None,
            json: crate::zpool::JsonArgs {
                json: false,
                json_int: false,
                json_pool_key_guid: false,
            },
            props: props.into(),
            pools,
        };
        assert!(tunables_asked(&args("arc_max,arc_min", vec![])).is_some());
        assert!(tunables_asked(&args("arc_max,size", vec![])).is_none());
        assert!(tunables_asked(&args("arc_max", vec!["tank".into()])).is_none());
    }
}
