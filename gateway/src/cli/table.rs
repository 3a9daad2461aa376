//! Plain-text tables for the commands' output, aligned by display width: a Chinese character
//! takes two columns in a terminal, so padding by characters would skew every row after one.

use unicode_width::UnicodeWidthStr;

#[derive(Clone, Copy, PartialEq)]
pub enum Align {
    Left,
    Right,
}

/// A table of text cells with a header row.
pub struct Table {
    columns: Vec<(String, Align)>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(columns: Vec<(String, Align)>) -> Self {
        Self {
            columns,
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The header and the rows, two spaces between columns, no trailing blanks.
    pub fn render(&self) -> String {
        let widths: Vec<usize> = (0..self.columns.len())
            .map(|i| {
                std::iter::once(self.columns[i].0.as_str())
                    .chain(
                        self.rows
                            .iter()
                            .filter_map(|r| r.get(i).map(String::as_str)),
                    )
                    .map(UnicodeWidthStr::width)
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |cells: Vec<&str>| {
            let mut out = String::new();
            for (i, (cell, (_, align))) in cells.iter().zip(&self.columns).enumerate() {
                if i > 0 {
                    out.push_str("  ");
                }
                let pad = " ".repeat(widths[i].saturating_sub(cell.width()));
                match align {
                    Align::Left => {
                        out.push_str(cell);
                        out.push_str(&pad);
                    }
                    Align::Right => {
                        out.push_str(&pad);
                        out.push_str(cell);
                    }
                }
            }
            format!("{}\n", out.trim_end())
        };
        let mut out = line(self.columns.iter().map(|(h, _)| h.as_str()).collect());
        for r in &self.rows {
            out.push_str(&line(r.iter().map(String::as_str).collect()));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_by_display_width() {
        let mut t = Table::new(vec![
            ("用途".into(), Align::Left),
            ("kWh".into(), Align::Right),
        ]);
        t.row(vec!["空壓機".into(), "12.0".into()]);
        t.row(vec!["ab".into(), "3.5".into()]);
        assert_eq!(t.render(), "用途     kWh\n空壓機  12.0\nab       3.5\n");
    }
}
