//! The traversal summary, in the shape of `zdb -b`: totals, a table of
//! blocks by type, then every problem and a verdict.

use std::fmt::Write;

use basin_pool::props::nicenum;

use crate::check::{type_name, ProblemKind, Report, Tally};

fn avg(total: u64, count: u64) -> u64 {
    total.checked_div(count).unwrap_or(0)
}

fn ratio(a: u64, b: u64) -> String {
    if b == 0 {
        "-".into()
    } else {
        format!("{:.2}", a as f64 / b as f64)
    }
}

fn row(out: &mut String, t: &Tally, total_asize: u64, name: &str) {
    let pct = if total_asize == 0 {
        0.0
    } else {
        100.0 * t.asize as f64 / total_asize as f64
    };
    let _ = writeln!(
        out,
        "{:>8} {:>7} {:>7} {:>7} {:>7} {:>6} {:>7.2}  {name}",
        t.count,
        nicenum(t.lsize),
        nicenum(t.psize),
        nicenum(t.asize),
        nicenum(avg(t.asize, t.count)),
        ratio(t.lsize, t.psize),
        pct,
    );
}

/// The summary of a check, ending with the verdict line.
pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Traversing all blocks of pool '{}' (txg {}) to verify checksums and check for leaks ...\n",
        r.pool, r.txg
    );
    if r.space_compared {
        let leaks = r.count(ProblemKind::Leak) + r.count(ProblemKind::DoubleAllocation);
        if leaks == 0 {
            let _ = writeln!(out, "\tNo leaks (block sum matches space maps exactly)\n");
        } else {
            let _ = writeln!(
                out,
                "\tblock sum does NOT match the space maps: {leaks} leaks or double allocations\n"
            );
        }
    }
    let t = &r.total;
    let _ = writeln!(out, "\tbp count:      {:>14}", t.count);
    let _ = writeln!(out, "\tbp references: {:>14}", r.references);
    let _ = writeln!(
        out,
        "\tbp logical:    {:>14}      avg: {:>8}",
        t.lsize,
        avg(t.lsize, t.count)
    );
    let _ = writeln!(
        out,
        "\tbp physical:   {:>14}      avg: {:>8}     compression: {:>6}",
        t.psize,
        avg(t.psize, t.count),
        ratio(t.lsize, t.psize)
    );
    let _ = writeln!(
        out,
        "\tbp allocated:  {:>14}      avg: {:>8}     compression: {:>6}",
        t.asize,
        avg(t.asize, t.count),
        ratio(t.lsize, t.asize)
    );
    let _ = writeln!(
        out,
        "\tcopies read:   {:>14}      bad: {:>8}     unavailable: {:>6}",
        r.copies_read, r.copies_bad, r.copies_unavailable
    );
    let _ = writeln!(
        out,
        "\tobject sets:   {:>14}      objects: {:>4}     ZAPs: {:>13}\n",
        r.objsets, r.objects, r.zaps
    );
    let _ = writeln!(
        out,
        "{:>8} {:>7} {:>7} {:>7} {:>7} {:>6} {:>7}  Type",
        "Blocks", "LSIZE", "PSIZE", "ASIZE", "avg", "comp", "%Total"
    );
    for (code, tally) in &r.by_type {
        row(&mut out, tally, t.asize, type_name(*code));
    }
    row(&mut out, t, t.asize, "Total");
    out.push('\n');
    for p in &r.problems {
        let _ = writeln!(out, "{}: {}", p.kind.name(), p.message);
    }
    if !r.problems.is_empty() {
        out.push('\n');
    }
    let _ = writeln!(out, "{}", verdict(r));
    out
}

/// One line: clean, or how many problems of which kinds.
pub fn verdict(r: &Report) -> String {
    if r.is_clean() {
        return format!("pool '{}' is clean", r.pool);
    }
    let mut kinds: Vec<ProblemKind> = r.problems.iter().map(|p| p.kind).collect();
    kinds.sort();
    kinds.dedup();
    let parts: Vec<String> = kinds
        .iter()
        .map(|k| format!("{} {}", r.count(*k), k.name()))
        .collect();
    format!(
        "pool '{}': {} problems found ({})",
        r.pool,
        r.problems.len(),
        parts.join(", ")
    )
}
