//! Output formats: `-H`, `-p`, `-o` and `-j` of list, get and status.

mod common;

use common::{s, TestDir};
use serde_json::Value;

fn json(out: &common::Out) -> Value {
    serde_json::from_str(out.ok()).unwrap_or_else(|e| panic!("not JSON ({e}): {out:?}"))
}

#[test]
fn scripted_exact_chosen_and_json_output() {
    let t = TestDir::new();
    let a = t.vdev("a");
    let b = t.vdev("b");
    let c = t.vdev("c");
    let d = t.daemon("d");
    d.zpool(&["create", "tank", "mirror", s(&a), s(&b)]).ok();
    d.zpool(&["create", "data", s(&c)]).ok();

    // -H: tabs, no header, pools by name.
    assert_eq!(
        d.zpool(&["list", "-H", "-o", "name,health"]).ok(),
        "data\tONLINE\ntank\tONLINE\n"
    );
    // -p: exact numbers; size = allocated + free.
    let exact = d.zpool(&["list", "-Hp", "-o", "name,size,alloc,free,cap", "tank"]);
    let f: Vec<&str> = exact.ok().trim_end().split('\t').collect();
    let n = |i: usize| f[i].parse::<u64>().unwrap();
    assert_eq!(f[0], "tank");
    assert_eq!(n(1), n(2) + n(3));
    assert_eq!(f[4], "0");
    // -o with column names, aligned as OpenZFS aligns them.
    let chosen = d.zpool(&["list", "-o", "name,cap,frag,health"]);
    assert_eq!(
        chosen.ok(),
        "NAME    CAP   FRAG    HEALTH\ndata     0%     0%    ONLINE\ntank     0%     0%    ONLINE\n"
    );

    // list -j.
    let doc = json(&d.zpool(&["list", "-j"]));
    assert_eq!(doc["output_version"]["command"], "zpool list");
    assert_eq!(doc["output_version"]["vers_major"], 0);
    assert_eq!(doc["output_version"]["vers_minor"], 1);
    let tank = &doc["pools"]["tank"];
    assert_eq!(tank["name"], "tank");
    assert_eq!(tank["type"], "POOL");
    assert_eq!(tank["state"], "ONLINE");
    let guid = tank["guid"].as_str().unwrap().to_string();
    assert!(guid.parse::<u64>().is_ok(), "{guid}");
    let props = tank["properties"].as_object().unwrap();
    let names: Vec<&str> = props.keys().map(String::as_str).collect();
    for p in [
        "size",
        "allocated",
        "free",
        "checkpoint",
        "expandsize",
        "fragmentation",
        "capacity",
        "dedupratio",
        "health",
        "altroot",
    ] {
        assert!(names.contains(&p), "{p} missing from {names:?}");
    }
    assert!(!names.contains(&"name"));
    assert_eq!(props["health"]["value"], "ONLINE");
    assert_eq!(props["health"]["source"]["type"], "NONE");
    assert_eq!(props["health"]["source"]["data"], "-");
    assert_eq!(props["altroot"]["source"]["type"], "DEFAULT");
    assert!(props["size"]["value"].as_str().unwrap().ends_with('M'));
    // --json-int: numbers; --json-pool-key-guid: keyed by guid.
    let doc = json(&d.zpool(&["list", "-j", "--json-int", "--json-pool-key-guid", "tank"]));
    let tank = &doc["pools"][guid.as_str()];
    assert_eq!(tank["name"], "tank");
    assert!(tank["properties"]["size"]["value"].as_u64().unwrap() > 0);
    assert_eq!(tank["guid"].as_u64().unwrap().to_string(), guid);

    // get: -H -o property,value; -j.
    assert_eq!(
        d.zpool(&["get", "-H", "-o", "property,value", "health,ashift", "tank"])
            .ok(),
        "health\tONLINE\nashift\t12\n"
    );
    d.zpool(&["set", "comment=hello", "tank"]).ok();
    let doc = json(&d.zpool(&["get", "-j", "all", "tank"]));
    assert_eq!(doc["output_version"]["command"], "zpool get");
    let props = &doc["pools"]["tank"]["properties"];
    assert_eq!(props["comment"]["value"], "hello");
    assert_eq!(props["comment"]["source"]["type"], "LOCAL");
    assert_eq!(props["autoexpand"]["source"]["type"], "DEFAULT");
    assert_eq!(props["guid"]["value"], guid.as_str());
    let all = props.as_object().unwrap().len();
    assert_eq!(all, basin_pool::props::all_names().len());
    assert!(doc["pools"].get("data").is_none());
    // get with several pools lists both.
    assert_eq!(
        d.zpool(&["get", "-H", "-o", "name,value", "health"]).ok(),
        "data\tONLINE\ntank\tONLINE\n"
    );

    // status -j.
    let doc = json(&d.zpool(&["status", "-j", "tank"]));
    assert_eq!(doc["output_version"]["command"], "zpool status");
    let tank = &doc["pools"]["tank"];
    assert_eq!(tank["state"], "ONLINE");
    assert_eq!(tank["error_count"], "0");
    let root = &tank["vdevs"]["tank"];
    assert_eq!(root["vdev_type"], "root");
    let mirror = &root["vdevs"]["mirror-0"];
    assert_eq!(mirror["vdev_type"], "mirror");
    for leaf in [s(&a), s(&b)] {
        let l = &mirror["vdevs"][leaf];
        assert_eq!(l["state"], "ONLINE", "{leaf}");
        assert_eq!(l["path"], leaf);
        assert_eq!(l["vdev_type"], "file");
        assert_eq!(l["checksum_errors"], "0");
    }
    // status -x: nothing wrong.
    assert_eq!(d.zpool(&["status", "-x"]).ok(), "all pools are healthy\n");
    assert_eq!(
        d.zpool(&["status", "-x", "tank"]).ok(),
        "pool 'tank' is healthy\n"
    );
    // Two pools: separated by one blank line.
    let both = d.zpool(&["status"]);
    assert!(
        both.ok()
            .contains("errors: No known data errors\n\n  pool: tank\n"),
        "{both:?}"
    );
}
