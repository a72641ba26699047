//! The order of `zfs list` and `zfs get`: by the `-s`/`-S` keys left to
//! right (numbers as numbers, text alphabetically, rows the property does
//! not apply to last), then by name with each filesystem before its
//! snapshots and snapshots by creation, as OpenZFS sorts.

use std::cmp::Ordering;

use crate::dsprops;
use crate::protocol::zfs::DatasetRow;

/// A resolved sort key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Key {
    /// Canonical property name (`name`, native or user).
    pub property: String,
    /// Descending (`-S`).
    pub descending: bool,
}

/// OpenZFS's default order.
pub fn by_name(a: &DatasetRow, b: &DatasetRow) -> Ordering {
    let (afs, asnap) = split(&a.name);
    let (bfs, bsnap) = split(&b.name);
    afs.cmp(bfs).then_with(|| match (asnap, bsnap) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(x), Some(y)) => a.createtxg.cmp(&b.createtxg).then_with(|| x.cmp(y)),
    })
}

fn split(name: &str) -> (&str, Option<&str>) {
    match name.split_once('@') {
        Some((f, s)) => (f, Some(s)),
        None => (name, None),
    }
}

/// A value to compare, or none when the property does not apply.
#[derive(PartialEq, PartialOrd)]
enum Sortable<'a> {
    Int(u64),
    Float(f64),
    Text(&'a str),
}

fn sortable<'a>(row: &'a DatasetRow, prop: &str) -> Option<Sortable<'a>> {
    if prop == "name" {
        return Some(Sortable::Text(&row.name));
    }
    let v = row.properties.iter().find(|p| p.property == prop)?;
    match dsprops::lookup(prop) {
        None => (v.source != "none").then_some(Sortable::Text(&v.value)),
        Some(d) => {
            if !d.applies_to(dsprops::type_bit(&row.dataset_type)) {
                return None;
            }
            if !d.numeric() {
                return Some(Sortable::Text(v.exact()));
            }
            let x = v.exact();
            if let Ok(n) = x.parse::<u64>() {
                Some(Sortable::Int(n))
            } else if let Ok(f) = x.parse::<f64>() {
                Some(Sortable::Float(f))
            } else {
                Some(Sortable::Int(0))
            }
        }
    }
}

fn compare_values(a: &Sortable<'_>, b: &Sortable<'_>) -> Ordering {
    match (a, b) {
        (Sortable::Int(x), Sortable::Int(y)) => x.cmp(y),
        (Sortable::Text(x), Sortable::Text(y)) => x.cmp(y),
        (Sortable::Float(x), Sortable::Float(y)) => x.partial_cmp(y).unwrap_or(Ordering::Equal),
        (Sortable::Int(x), Sortable::Float(y)) => {
            (*x as f64).partial_cmp(y).unwrap_or(Ordering::Equal)
        }
        (Sortable::Float(x), Sortable::Int(y)) => {
            x.partial_cmp(&(*y as f64)).unwrap_or(Ordering::Equal)
        }
        _ => Ordering::Equal,
    }
}

fn compare_keys(x: &[Option<Sortable<'_>>], y: &[Option<Sortable<'_>>], keys: &[Key]) -> Ordering {
    for (k, (a, b)) in keys.iter().zip(x.iter().zip(y)) {
        let o = match (a, b) {
            (None, None) => continue,
            (None, Some(_)) => return Ordering::Greater,
            (Some(_), None) => return Ordering::Less,
            (Some(a), Some(b)) => compare_values(a, b),
        };
        if o != Ordering::Equal {
            return if k.descending { o.reverse() } else { o };
        }
    }
    Ordering::Equal
}

/// Compares two rows by `keys`, then by name.
pub fn compare(a: &DatasetRow, b: &DatasetRow, keys: &[Key]) -> Ordering {
    let ka: Vec<_> = keys.iter().map(|k| sortable(a, &k.property)).collect();
    let kb: Vec<_> = keys.iter().map(|k| sortable(b, &k.property)).collect();
    compare_keys(&ka, &kb, keys).then_with(|| by_name(a, b))
}

/// Sorts rows by `keys`, then by name. Each row's keys are looked up once.
pub fn sort(rows: &mut Vec<DatasetRow>, keys: &[Key]) {
    if keys.is_empty() {
        rows.sort_by(by_name);
        return;
    }
    let mut order: Vec<usize> = (0..rows.len()).collect();
    {
        let values: Vec<Vec<Option<Sortable<'_>>>> = rows
            .iter()
            .map(|r| keys.iter().map(|k| sortable(r, &k.property)).collect())
            .collect();
        order.sort_by(|&i, &j| {
            compare_keys(&values[i], &values[j], keys).then_with(|| by_name(&rows[i], &rows[j]))
        });
    }
    let mut taken: Vec<Option<DatasetRow>> = std::mem::take(rows).into_iter().map(Some).collect();
    rows.extend(order.into_iter().filter_map(|i| taken[i].take()));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::zfs::PropValue;

    fn row(name: &str, ty: &str, txg: u64, used: &str) -> DatasetRow {
        DatasetRow {
            name: name.into(),
            dataset_type: ty.into(),
            pool: "tank".into(),
            createtxg: txg,
            properties: vec![PropValue {
                property: "used".into(),
                value: "x".into(),
                exact: Some(used.into()),
                source: "none".into(),
                inherited_from: None,
            }],
        }
    }

    #[test]
    fn openzfs_order() {
        let mut rows = vec![
            row("tank/a-b", "filesystem", 9, "5"),
            row("tank/a@late", "snapshot", 8, "1"),
            row("tank/a/c", "filesystem", 4, "7"),
            row("tank/a@early", "snapshot", 5, "2"),
            row("tank/a", "filesystem", 2, "3"),
            row("tank", "filesystem", 1, "9"),
        ];
        sort(&mut rows, &[]);
        let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "tank",
                "tank/a",
                "tank/a@early",
                "tank/a@late",
                "tank/a-b",
                "tank/a/c"
            ]
        );
        let keys = [Key {
            property: "used".into(),
            descending: true,
        }];
        sort(&mut rows, &keys);
        let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "tank",
                "tank/a/c",
                "tank/a-b",
                "tank/a",
                "tank/a@early",
                "tank/a@late"
            ]
        );
    }
}
