//! `zfs get`: one request for every dataset and property, laid out in
//! OpenZFS's NAME PROPERTY VALUE SOURCE table (or its `-j` document).

use serde_json::{Map, Value};

use super::columns::property;
use super::list::{depth, json_dataset, json_property, types};
use super::sort;
use super::{Connect, GetArgs};
use crate::dsprops::{self, PROPS};
use crate::errors::{print_err, print_out, CliError, CliResult, EXIT_ERROR, EXIT_OK};
use crate::format::json::{self as js, JsonOpts};
use crate::format::split_list;
use crate::protocol::zfs::{DatasetRow, PropValue, QueryRequest, QueryResult};
use crate::protocol::Request;

/// The fields `-o` can choose, in their default order.
pub const FIELDS: &[&str] = &["name", "property", "value", "received", "source"];
/// The fields shown without `-o`.
const DEFAULT_FIELDS: &[&str] = &["name", "property", "value", "source"];
/// The sources `-s` can choose.
const SOURCES: &[&str] = &[
    "local",
    "default",
    "inherited",
    "received",
    "temporary",
    "none",
];

/// The fields of `-o`.
pub fn fields(spec: Option<&str>) -> Result<Vec<&'static str>, CliError> {
    let Some(spec) = spec else {
        return Ok(DEFAULT_FIELDS.to_vec());
    };
    let mut out: Vec<&'static str> = Vec::new();
    for f in spec.split(',') {
        if f == "all" {
            if !out.is_empty() {
                return Err(CliError::Usage(
                    "\"all\" conflicts with specific fields given to -o option".into(),
                ));
            }
            out = FIELDS.to_vec();
            continue;
        }
        if out.len() == FIELDS.len() {
            return Err(CliError::Usage("too many fields given to -o option".into()));
        }
        match FIELDS.iter().find(|x| **x == f) {
            Some(x) => out.push(x),
            None => return Err(CliError::Usage(format!("invalid column name '{f}'"))),
        }
    }
    Ok(out)
}

/// The sources of `-s` (all without it).
pub fn sources(spec: Option<&str>) -> Result<Vec<&'static str>, CliError> {
    let Some(spec) = spec else {
        return Ok(SOURCES.to_vec());
    };
    spec.split(',')
        .map(|s| {
            SOURCES
                .iter()
                .find(|x| **x == s)
                .copied()
                .ok_or_else(|| CliError::Usage(format!("invalid source '{s}'")))
        })
        .collect()
}

/// The properties asked for: `all`, or a list.
pub fn properties(spec: &str) -> Result<Vec<String>, CliError> {
    if spec == "all" {
        return Ok(vec!["all".into()]);
    }
    let words = split_list(spec);
    if words.is_empty() {
        return Err(CliError::Usage(
            "bad property list: no properties specified".into(),
        ));
    }
    words.iter().map(|p| property(p)).collect()
}

/// Column widths of the get table.
struct Widths {
    name: usize,
    property: usize,
    value: usize,
    received: usize,
    source: usize,
}

fn widths(rows: &[DatasetRow], props: &[String], literal: bool) -> Widths {
    let all = props.iter().any(|p| p == "all");
    let mut listed: Vec<String> = if all {
        PROPS
            .iter()
            .filter(|p| p.name != "name")
            .map(|p| p.name.to_string())
            .collect()
    } else {
        props.to_vec()
    };
    if all {
        for r in rows {
            for p in r
                .properties
                .iter()
                .filter(|p| dsprops::is_user(&p.property))
            {
                if !listed.contains(&p.property) {
                    listed.push(p.property.clone());
                }
            }
        }
    }
    let name = rows
        .iter()
        .map(|r| r.name.len())
        .chain([4])
        .max()
        .unwrap_or(4);
    let property = listed.iter().map(|p| p.len()).chain([8]).max().unwrap_or(8);
    let min_of = |p: &str| match dsprops::lookup(p) {
        Some(d) => d.min_width,
        None => p.len(),
    };
    let value = listed
        .iter()
        .map(|p| min_of(p))
        .chain(
            rows.iter()
                .flat_map(|r| r.properties.iter())
                .map(|p| p.shown(literal).len()),
        )
        .chain([5])
        .max()
        .unwrap_or(5);
    Widths {
        name,
        property,
        value,
        received: 8,
        source: if name > 4 { name + 14 } else { 6 },
    }
}

fn line(cells: &[(String, usize)], scripted: bool) -> String {
    let mut out = String::new();
    for (i, (text, width)) in cells.iter().enumerate() {
        if i + 1 == cells.len() {
            out.push_str(text);
        } else if scripted {
            out.push_str(text);
            out.push('\t');
        } else {
            out.push_str(&format!("{text:<width$}  "));
        }
    }
    out.push('\n');
    out
}

/// The text `zfs get` prints.
pub fn render(
    rows: &[DatasetRow],
    props: &[String],
    fields: &[&str],
    sources: &[&str],
    literal: bool,
    scripted: bool,
) -> String {
    let w = widths(rows, props, literal);
    let width_of = |f: &str| match f {
        "name" => w.name,
        "property" => w.property,
        "value" => w.value,
        "received" => w.received,
        _ => w.source,
    };
    let mut out = String::new();
    let mut first = true;
    for r in rows {
        for p in r
            .properties
            .iter()
            .filter(|p| sources.contains(&p.source.as_str()))
        {
            if first && !scripted {
                let cells: Vec<(String, usize)> = fields
                    .iter()
                    .map(|f| (f.to_ascii_uppercase(), width_of(f)))
                    .collect();
                out.push_str(&line(&cells, false));
            }
            first = false;
            let cells: Vec<(String, usize)> = fields
                .iter()
                .map(|f| {
                    let text = match *f {
                        "name" => r.name.clone(),
                        "property" => p.property.clone(),
                        "value" => p.shown(literal).to_string(),
                        "received" => "-".into(),
                        _ => p.source_text(),
                    };
                    (text, width_of(f))
                })
                .collect();
            out.push_str(&line(&cells, scripted));
        }
    }
    out
}

/// The `-j` document of `zfs get`.
pub fn json(rows: &[DatasetRow], sources: &[&str], literal: bool, opts: JsonOpts) -> Value {
    let mut datasets = Map::new();
    for r in rows {
        let shown: Vec<&PropValue> = r
            .properties
            .iter()
            .filter(|p| sources.contains(&p.source.as_str()))
            .collect();
        if shown.is_empty() {
            continue;
        }
        let mut obj = json_dataset(r, opts);
        let mut props = Map::new();
        for p in shown {
            props.insert(p.property.clone(), json_property(p, literal, opts));
        }
        obj.insert("properties".into(), Value::Object(props));
        datasets.insert(r.name.clone(), Value::Object(obj));
    }
    js::document("zfs get", "datasets", datasets)
}

/// Runs `zfs get`.
pub fn run(connect: Connect, a: &GetArgs) -> CliResult {
    let fields = fields(a.fields.as_deref())?;
    let sources = sources(a.sources.as_deref())?;
    let props = properties(&a.props)?;
    let mut t = types(a.types.as_deref())?;
    if t.is_empty() {
        t = vec!["filesystem".into(), "volume".into(), "snapshot".into()];
    }
    let mut depth = depth(a.depth.as_deref())?;
    let mut recursive = a.recursive;
    if t == ["snapshot"] && !a.names.is_empty() && !recursive && depth.is_none() {
        recursive = true;
        depth = Some(1);
    }
    let mut result: QueryResult = connect()?.call(&Request::ZfsQuery(QueryRequest {
        names: a.names.clone(),
        recursive,
        depth,
        types: t,
        props: props.clone(),
    }))?;
    for e in &result.errors {
        print_err(&format!("{}\n", e.message));
    }
    sort::sort(&mut result.datasets, &[]);
    let rows = &result.datasets;
    if a.json.json {
        print_out(&js::render(&json(rows, &sources, a.literal, a.json.opts())))?;
    } else {
        print_out(&render(
            rows, &props, &fields, &sources, a.literal, a.scripted,
        ))?;
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

    fn pv(p: &str, v: &str, s: &str, from: Option<&str>) -> PropValue {
        PropValue {
            property: p.into(),
            value: v.into(),
            exact: None,
            source: s.into(),
            inherited_from: from.map(String::from),
        }
    }

    fn bob() -> DatasetRow {
        DatasetRow {
            name: "pool/home/bob".into(),
            dataset_type: "filesystem".into(),
            pool: "pool".into(),
            createtxg: 1176,
            properties: vec![
                pv("quota", "20G", "local", None),
                pv("compression", "on", "local", None),
                pv(
                    "mountpoint",
                    "/pool/home/bob",
                    "inherited",
                    Some("pool/home"),
                ),
            ],
        }
    }

    #[test]
    fn layout_like_openzfs() {
        let props = vec![
            "quota".to_string(),
            "compression".to_string(),
            "mountpoint".to_string(),
        ];
        let text = render(
            &[bob()],
            &props,
            &fields(None).unwrap(),
            SOURCES,
            false,
            false,
        );
        assert_eq!(
            text,
            "NAME           PROPERTY     VALUE           SOURCE\n\
             pool/home/bob  quota        20G             local\n\
             pool/home/bob  compression  on              local\n\
             pool/home/bob  mountpoint   /pool/home/bob  inherited from pool/home\n"
        );
        let local = sources(Some("local")).unwrap();
        let text = render(
            &[bob()],
            &props,
            &fields(Some("name,property,value")).unwrap(),
            &local,
            false,
            true,
        );
        assert_eq!(
            text,
            "pool/home/bob\tquota\t20G\npool/home/bob\tcompression\ton\n"
        );
        let doc = json(&[bob()], SOURCES, false, JsonOpts::default());
        let d = &doc["datasets"]["pool/home/bob"];
        assert_eq!(d["createtxg"], "1176");
        assert_eq!(d["properties"]["mountpoint"]["source"]["type"], "INHERITED");
        assert_eq!(d["properties"]["mountpoint"]["source"]["data"], "pool/home");
    }

    #[test]
    fn field_and_source_lists() {
        assert_eq!(fields(Some("all")).unwrap(), FIELDS);
        assert!(
            matches!(fields(Some("name,bogus")), Err(CliError::Usage(m)) if m == "invalid column name 'bogus'")
        );
        assert!(fields(Some("name,all")).is_err());
        assert!(
            matches!(sources(Some("local,nope")), Err(CliError::Usage(m)) if m == "invalid source 'nope'")
        );
        assert!(
            matches!(properties("used,foo"), Err(CliError::Usage(m)) if m == "bad property list: invalid property 'foo'")
        );
        assert_eq!(
            properties("avail,refer").unwrap(),
            ["available", "referenced"]
        );
    }
}
