//! A small SVG writer for the report's charts: one horizontal bar per
//! system, Basin's bar in its own colour, and a text in place of the bar
//! for a system that has no figure (not applicable, pending).

use std::fmt::Write;

use crate::stats::sig3;

/// One bar.
#[derive(Clone, Debug)]
pub struct Bar {
    /// The system's name.
    pub label: String,
    /// Its figure; `None` draws `note` instead of a bar.
    pub value: Option<f64>,
    /// Printed after the value, or alone when there is none.
    pub note: String,
    /// Basin's bar.
    pub highlight: bool,
}

const WIDTH: f64 = 760.0;
const LABEL_W: f64 = 170.0;
const BAR_W: f64 = 440.0;
const ROW_H: f64 = 26.0;
const TOP: f64 = 46.0;

/// Escapes text for XML.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// A horizontal bar chart; `subtitle` says the unit and which way is
/// better.
pub fn bar_chart(title: &str, subtitle: &str, bars: &[Bar]) -> String {
    let height = TOP + ROW_H * bars.len() as f64 + 16.0;
    let max = bars
        .iter()
        .filter_map(|b| b.value)
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r##"<rect width="100%" height="100%" fill="#ffffff"/>"##);
    let _ = writeln!(
        s,
        r#"<text x="10" y="18" font-size="14" font-weight="bold">{}</text>"#,
        escape(title)
    );
    let _ = writeln!(
        s,
        r##"<text x="10" y="34" fill="#555555">{}</text>"##,
        escape(subtitle)
    );
    for (i, b) in bars.iter().enumerate() {
        let y = TOP + ROW_H * i as f64;
        let _ = writeln!(
            s,
            r#"<text x="{:.0}" y="{:.1}" text-anchor="end">{}</text>"#,
            LABEL_W - 8.0,
            y + 15.0,
            escape(&b.label)
        );
        match b.value.filter(|v| v.is_finite()) {
            Some(v) => {
                let w = if max > 0.0 { v / max * BAR_W } else { 0.0 }.max(1.0);
                let colour = if b.highlight { "#d9534f" } else { "#4a78b5" };
                let _ = writeln!(
                    s,
                    r#"<rect x="{LABEL_W}" y="{:.1}" width="{w:.1}" height="18" fill="{colour}"/>"#,
                    y + 2.0
                );
                let label = if b.note.is_empty() {
                    sig3(v)
                } else {
                    format!("{} {}", sig3(v), b.note)
                };
                let _ = writeln!(
                    s,
                    r#"<text x="{:.1}" y="{:.1}">{}</text>"#,
                    LABEL_W + w + 6.0,
                    y + 15.0,
                    escape(&label)
                );
            }
            None => {
                let _ = writeln!(
                    s,
                    r##"<text x="{LABEL_W}" y="{:.1}" fill="#888888" font-style="italic">{}</text>"##,
                    y + 15.0,
                    escape(&b.note)
                );
            }
        }
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_are_well_formed_and_scaled() {
        let bars = vec![
            Bar {
                label: "basin".into(),
                value: Some(50.0),
                note: String::new(),
                highlight: true,
            },
            Bar {
                label: "ext4 <loop>".into(),
                value: Some(100.0),
                note: "(2.0x)".into(),
                highlight: false,
            },
            Bar {
                label: "basin-fuse".into(),
                value: None,
                note: "not yet available".into(),
                highlight: false,
            },
        ];
        let svg = bar_chart("seq write & read", "MB/s, higher is better", &bars);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("ext4 &lt;loop&gt;"));
        assert!(svg.contains("seq write &amp; read"));
        assert!(
            svg.contains(r#"width="440.0""#),
            "the largest bar fills the width"
        );
        assert!(
            svg.contains(r#"width="220.0""#),
            "half the value, half the width"
        );
        assert!(svg.contains("not yet available"));
        // Every opened element is closed.
        assert_eq!(svg.matches("<text").count(), svg.matches("</text>").count());
    }
}
