//! `zfs list`: one request for every row and column (sort keys included),
//! sorted and laid out here.

use serde_json::{json, Map, Value};

use super::columns::{list_columns, property, ListColumn};
use super::sort::{self, Key};
use super::{Connect, ListArgs};
use crate::errors::{print_err, print_out, CliError, CliResult, EXIT_ERROR, EXIT_OK};
use crate::format::json::{self as js, JsonOpts};
use crate::format::{Column, Table};
use crate::protocol::zfs::{DatasetRow, PropValue, QueryRequest, QueryResult};
use crate::protocol::Request;

/// The `-t` words as the daemon takes them (`fs` is `filesystem`...).
pub fn types(spec: Option<&str>) -> Result<Vec<String>, CliError> {
    let Some(spec) = spec else {
        return Ok(Vec::new());
    };
    let mut out: Vec<String> = Vec::new();
    for t in spec.split(',') {
        let words: &[&str] = match t {
            "filesystem" | "fs" => &["filesystem"],
            "volume" | "vol" => &["volume"],
            "snapshot" | "snap" => &["snapshot"],
            "bookmark" => &[],
            "all" => &["filesystem", "volume", "snapshot"],
            other => return Err(CliError::Usage(format!("invalid type '{other}'"))),
        };
        for w in words {
            if !out.iter().any(|x| x == w) {
                out.push(w.to_string());
            }
        }
    }
    if out.is_empty() {
        // Bookmarks only: Basin has none, so nothing matches.
        out.push("bookmark".into());
    }
    Ok(out)
}

/// `-d DEPTH`.
pub fn depth(spec: Option<&str>) -> Result<Option<u64>, CliError> {
    spec.map(|d| {
        d.parse::<u64>()
            .map_err(|_| CliError::Usage(format!("invalid depth '{d}'")))
    })
    .transpose()
}

/// The request for a listing: which datasets, and the properties (the
/// columns and the sort keys).
pub fn request(
    a: &ListArgs,
    cols: &[ListColumn],
    space_only: bool,
    keys: &[Key],
) -> Result<QueryRequest, CliError> {
    let mut t = types(a.types.as_deref())?;
    if space_only && t.is_empty() {
        t = vec!["filesystem".into(), "volume".into()];
    }
    let mut depth = depth(a.depth.as_deref())?;
    let mut recursive = a.recursive;
    if t == ["snapshot"] && !a.names.is_empty() && !recursive && depth.is_none() {
        recursive = true;
        depth = Some(1);
    }
    // Every row carries its name anyway.
    let mut props: Vec<String> = cols
        .iter()
        .map(|c| c.property.clone())
        .filter(|p| p != "name")
        .collect();
    for k in keys {
        if k.property != "name" && !props.contains(&k.property) {
            props.push(k.property.clone());
        }
    }
    Ok(QueryRequest {
        names: a.names.clone(),
        recursive,
        depth,
        types: t,
        props,
    })
}

fn find<'a>(row: &'a DatasetRow, prop: &str) -> Option<&'a PropValue> {
    row.properties.iter().find(|p| p.property == prop)
}

/// The cell of `row` under `col`.
pub fn cell(row: &DatasetRow, col: &ListColumn, literal: bool) -> String {
    if col.property == "name" {
        return row.name.clone();
    }
    find(row, &col.property)
        .map(|p| p.shown(literal).to_string())
        .unwrap_or_else(|| "-".into())
}

/// The table `zfs list` prints.
pub fn table(rows: &[DatasetRow], cols: &[ListColumn], literal: bool) -> Table {
    let mut t = Table::new(
        cols.iter()
            .map(|c| Column::new(c.header.clone(), c.align, c.min_width))
            .collect(),
    );
    for r in rows {
        t.push(cols.iter().map(|c| cell(r, c, literal)).collect());
    }
    t
}

/// A property in `-j` output.
pub fn json_property(p: &PropValue, literal: bool, opts: JsonOpts) -> Value {
    let v = p.shown(literal || opts.as_int);
    let data = p.inherited_from.as_deref().unwrap_or("-");
    json!({
        "value": js::value(v, opts),
        "source": {"type": js::source_type(&p.source), "data": data},
    })
}

/// The common part of a dataset in `-j` output: name, type, pool,
/// createtxg, and for snapshots their dataset and snapshot name.
pub fn json_dataset(row: &DatasetRow, opts: JsonOpts) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("name".into(), json!(row.name));
    m.insert("type".into(), json!(row.dataset_type.to_ascii_uppercase()));
    m.insert("pool".into(), json!(row.pool));
    m.insert("createtxg".into(), js::number(row.createtxg, opts));
    if let Some((ds, snap)) = row.name.split_once('@') {
        m.insert("dataset".into(), json!(ds));
        m.insert("snapshot_name".into(), json!(snap));
    }
    m
}

/// The `-j` document of `zfs list`.
pub fn json(rows: &[DatasetRow], cols: &[ListColumn], literal: bool, opts: JsonOpts) -> Value {
    let mut datasets = Map::new();
    for r in rows {
        let mut obj = json_dataset(r, opts);
        let mut props = Map::new();
        for c in cols.iter().filter(|c| c.property != "name") {
            let p = find(r, &c.property).cloned().unwrap_or(PropValue {
                property: c.property.clone(),
                value: "-".into(),
                exact: None,
                source: "none".into(),
                inherited_from: None,
            });
            props.insert(c.property.clone(), json_property(&p, literal, opts));
        }
        obj.insert("properties".into(), Value::Object(props));
        datasets.insert(r.name.clone(), Value::Object(obj));
    }
    js::document("zfs list", "datasets", datasets)
}

/// The sort keys, checked.
pub fn keys(a: &ListArgs) -> Result<Vec<Key>, CliError> {
    a.sort
        .iter()
        .map(|k| {
            property(&k.property)
                .map(|p| Key {
                    property: p,
                    descending: k.descending,
                })
                .map_err(|_| CliError::Usage(format!("invalid property '{}'", k.property)))
        })
        .collect()
}

/// Runs `zfs list`.
pub fn run(connect: Connect, a: &ListArgs) -> CliResult {
    let (cols, space_only) = list_columns(a.columns.as_deref())?;
    let keys = keys(a)?;
    let req = request(a, &cols, space_only, &keys)?;
    let mut result: QueryResult = connect()?.call(&Request::ZfsQuery(req))?;
    for e in &result.errors {
        print_err(&format!("{}\n", e.message));
    }
    sort::sort(&mut result.datasets, &keys);
    let rows = &result.datasets;
    if a.json.json {
        print_out(&js::render(&json(rows, &cols, a.literal, a.json.opts())))?;
    } else if !rows.is_empty() {
        print_out(&table(rows, &cols, a.literal).render(a.scripted))?;
    }
    if rows.is_empty() && result.errors.is_empty() && !a.scripted {
        print_err("no datasets available\n");
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

    fn pv(p: &str, v: &str, x: Option<&str>, s: &str) -> PropValue {
        PropValue {
            property: p.into(),
            value: v.into(),
            exact: x.map(String::from),
            source: s.into(),
            inherited_from: None,
        }
    }

    fn rows() -> Vec<DatasetRow> {
        let fs = |name: &str, used: &str, mp: &str| DatasetRow {
            name: name.into(),
            dataset_type: "filesystem".into(),
            pool: "pool".into(),
            createtxg: 1,
            properties: vec![
                pv("used", used, Some("1"), "none"),
                pv("available", "457G", Some("2"), "none"),
                pv("referenced", "18K", Some("3"), "none"),
                pv("mountpoint", mp, None, "default"),
            ],
        };
        vec![
            fs("pool", "450K", "/pool"),
            fs("pool/home", "315K", "/export/home"),
            fs("pool/home/anne", "18K", "/export/home/anne"),
            fs("pool/home/bob", "276K", "/export/home/bob"),
        ]
    }

    #[test]
    fn default_layout_like_the_man_page() {
        let (cols, _) = list_columns(None).unwrap();
        assert_eq!(
            table(&rows(), &cols, false).render(false),
            "NAME             USED  AVAIL  REFER  MOUNTPOINT\n\
             pool             450K   457G    18K  /pool\n\
             pool/home        315K   457G    18K  /export/home\n\
             pool/home/anne    18K   457G    18K  /export/home/anne\n\
             pool/home/bob    276K   457G    18K  /export/home/bob\n"
        );
        assert_eq!(
            table(&rows()[..1], &cols, true).render(true),
            "pool\t1\t2\t3\t/pool\n"
        );
    }

    #[test]
    fn json_like_the_man_page() {
        let (cols, _) = list_columns(None).unwrap();
        let doc = json(&rows(), &cols, false, JsonOpts::default());
        assert_eq!(doc["output_version"]["command"], "zfs list");
        let d = &doc["datasets"]["pool/home"];
        assert_eq!(d["type"], "FILESYSTEM");
        assert_eq!(d["pool"], "pool");
        assert_eq!(d["createtxg"], "1");
        assert_eq!(d["properties"]["used"]["value"], "315K");
        assert_eq!(d["properties"]["mountpoint"]["source"]["type"], "DEFAULT");
        assert!(d["properties"].get("name").is_none());
    }

    #[test]
    fn types_and_depths() {
        assert_eq!(types(Some("fs,snap")).unwrap(), ["filesystem", "snapshot"]);
        assert_eq!(types(Some("all")).unwrap().len(), 3);
        assert!(
            matches!(types(Some("disk")), Err(CliError::Usage(m)) if m == "invalid type 'disk'")
        );
        assert_eq!(depth(Some("2")).unwrap(), Some(2));
        assert!(depth(Some("-1")).is_err());
    }
}
