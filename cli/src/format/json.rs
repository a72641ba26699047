//! `-j` output shaped like OpenZFS 2.3's: an `output_version` object, then
//! the objects of the command, with every property as
//! `{"value": ..., "source": {"type": ..., "data": ...}}`.
//!
//! Numbers are strings unless `--json-int` asks for integers, as in
//! OpenZFS.

use serde_json::{json, Map, Value};

/// Major version of the JSON layout (OpenZFS 2.3 starts at 0.1).
pub const VERS_MAJOR: u64 = 0;
/// Minor version of the JSON layout.
pub const VERS_MINOR: u64 = 1;

/// How numbers are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JsonOpts {
    /// `--json-int`: integers instead of strings.
    pub as_int: bool,
    /// `--json-pool-key-guid`: key pools by guid instead of name.
    pub key_by_guid: bool,
}

/// The `output_version` object for `command` ("zpool list").
pub fn output_version(command: &str) -> Value {
    json!({
        "command": command,
        "vers_major": VERS_MAJOR,
        "vers_minor": VERS_MINOR,
    })
}

/// A document: `output_version` then `key` holding `objects`.
pub fn document(command: &str, key: &str, objects: Map<String, Value>) -> Value {
    let mut doc = Map::new();
    doc.insert("output_version".into(), output_version(command));
    doc.insert(key.into(), Value::Object(objects));
    Value::Object(doc)
}

/// A number as a JSON string, or an integer with `--json-int`.
pub fn number(n: u64, opts: JsonOpts) -> Value {
    if opts.as_int {
        Value::from(n)
    } else {
        Value::from(n.to_string())
    }
}

/// A value that is a number when it is all digits and `--json-int` is on.
pub fn value(s: &str, opts: JsonOpts) -> Value {
    if opts.as_int && !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(n) = s.parse::<u64>() {
            return Value::from(n);
        }
    }
    Value::from(s)
}

/// The OpenZFS source type of a `zpool get` source column.
pub fn source_type(source: &str) -> &'static str {
    match source {
        "local" => "LOCAL",
        "default" => "DEFAULT",
        "inherited" => "INHERITED",
        "temporary" => "TEMPORARY",
        "received" => "RECEIVED",
        _ => "NONE",
    }
}

/// One property: value and source.
pub fn property(value_text: &str, source: &str, opts: JsonOpts) -> Value {
    json!({
        "value": value(value_text, opts),
        "source": {"type": source_type(source), "data": "-"},
    })
}

/// Renders a document as OpenZFS does (indented, newline at the end).
pub fn render(doc: &Value) -> String {
    let mut s = serde_json::to_string_pretty(doc).unwrap_or_else(|_| "{}".into());
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let mut pools = Map::new();
        pools.insert(
            "tank".into(),
            json!({"properties": {"size": property("1.00G", "-", JsonOpts::default())}}),
        );
        let doc = document("zpool list", "pools", pools);
        assert_eq!(doc["output_version"]["command"], "zpool list");
        assert_eq!(doc["output_version"]["vers_major"], 0);
        assert_eq!(doc["output_version"]["vers_minor"], 1);
        let size = &doc["pools"]["tank"]["properties"]["size"];
        assert_eq!(size["value"], "1.00G");
        assert_eq!(size["source"]["type"], "NONE");
        assert_eq!(size["source"]["data"], "-");
        let ints = JsonOpts {
            as_int: true,
            ..Default::default()
        };
        assert_eq!(value("1234", ints), json!(1234));
        assert_eq!(value("12%", ints), json!("12%"));
        assert_eq!(number(7, JsonOpts::default()), json!("7"));
        assert_eq!(
            property("off", "default", ints)["source"]["type"],
            "DEFAULT"
        );
    }
}
