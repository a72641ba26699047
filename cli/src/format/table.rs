//! Tables as OpenZFS prints them: columns separated by two spaces, each as
//! wide as its header, its minimum and its widest value; numbers aligned
//! right; the last column unpadded when aligned left. Scripted mode (`-H`)
//! prints no header and separates fields by one tab.

/// How a column aligns its values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Align {
    /// Text: padded on the right.
    Left,
    /// Numbers: padded on the left.
    Right,
}

/// One column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Column {
    /// Header text.
    pub header: String,
    /// Alignment.
    pub align: Align,
    /// Narrowest width (OpenZFS keeps size columns at least 5 wide).
    pub min_width: usize,
}

impl Column {
    /// A column of `align` at least `min_width` wide.
    pub fn new(header: impl Into<String>, align: Align, min_width: usize) -> Column {
        Column {
            header: header.into(),
            align,
            min_width,
        }
    }
}

/// Rows under columns.
#[derive(Clone, Debug, Default)]
pub struct Table {
    columns: Vec<Column>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// An empty table.
    pub fn new(columns: Vec<Column>) -> Table {
        Table {
            columns,
            rows: Vec::new(),
        }
    }

    /// Adds a row (missing cells print as `-`).
    pub fn push(&mut self, mut row: Vec<String>) {
        row.resize(self.columns.len(), "-".into());
        self.rows.push(row);
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The table as text: with a header unless `scripted`.
    pub fn render(&self, scripted: bool) -> String {
        let mut out = String::new();
        if scripted {
            for row in &self.rows {
                out.push_str(&row.join("\t"));
                out.push('\n');
            }
            return out;
        }
        let widths: Vec<usize> = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                self.rows
                    .iter()
                    .map(|r| r[i].chars().count())
                    .chain([c.header.chars().count(), c.min_width])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let headers: Vec<String> = self.columns.iter().map(|c| c.header.clone()).collect();
        for row in std::iter::once(&headers).chain(self.rows.iter()) {
            let last = self.columns.len().saturating_sub(1);
            for (i, (cell, col)) in row.iter().zip(&self.columns).enumerate() {
                if i > 0 {
                    out.push_str("  ");
                }
                let pad = widths[i].saturating_sub(cell.chars().count());
                match col.align {
                    Align::Right => {
                        out.extend(std::iter::repeat_n(' ', pad));
                        out.push_str(cell);
                    }
                    Align::Left if i == last => out.push_str(cell),
                    Align::Left => {
                        out.push_str(cell);
                        out.extend(std::iter::repeat_n(' ', pad));
                    }
                }
            }
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Table {
        let mut t = Table::new(vec![
            Column::new("NAME", Align::Left, 0),
            Column::new("SIZE", Align::Right, 5),
            Column::new("FRAG", Align::Right, 5),
            Column::new("HEALTH", Align::Right, 8),
            Column::new("ALTROOT", Align::Left, 0),
        ]);
        t.push(vec![
            "rpool".into(),
            "19.9G".into(),
            "33%".into(),
            "ONLINE".into(),
            "-".into(),
        ]);
        t.push(vec![
            "tank".into(),
            "61.5G".into(),
            "48%".into(),
            "DEGRADED".into(),
            "/mnt".into(),
        ]);
        t
    }

    #[test]
    fn aligned_like_openzfs() {
        assert_eq!(
            sample().render(false),
            "NAME    SIZE   FRAG    HEALTH  ALTROOT\n\
             rpool  19.9G    33%    ONLINE  -\n\
             tank   61.5G    48%  DEGRADED  /mnt\n"
        );
    }

    #[test]
    fn scripted_is_tab_separated_without_header() {
        assert_eq!(
            sample().render(true),
            "rpool\t19.9G\t33%\tONLINE\t-\ntank\t61.5G\t48%\tDEGRADED\t/mnt\n"
        );
    }

    #[test]
    fn short_rows_are_filled() {
        let mut t = Table::new(vec![
            Column::new("A", Align::Left, 0),
            Column::new("B", Align::Left, 0),
        ]);
        t.push(vec!["x".into()]);
        assert_eq!(t.render(true), "x\t-\n");
    }
}
