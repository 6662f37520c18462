//! Every result goes out through one emitter per format: text for people, JSON and YAML for
//! scripts. A result type implements `TextReport` for the table and `Serialize` for the rest,
//! so the three formats cannot drift apart.

use anyhow::Result;
use serde::Serialize;

/// How results are printed on stdout (`--format`).
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Format {
    /// Aligned tables for people.
    #[default]
    Text,
    /// One JSON object, for scripts.
    Json,
    /// The same data as YAML.
    Yaml,
}

/// The human-readable rendering of a result.
pub trait TextReport {
    fn render_text(&self) -> String;
}

/// Renders `value` in `format`, ending with a newline.
pub fn render<T: Serialize + TextReport>(value: &T, format: Format) -> Result<String> {
    let mut text = match format {
        Format::Text => value.render_text(),
        Format::Json => serde_json::to_string_pretty(value)?,
        Format::Yaml => yaml_serde::to_string(value)?,
    };
    if !text.ends_with('\n') {
        text.push('\n');
    }
    Ok(text)
}

/// Prints `value` on stdout in `format`.
pub fn emit<T: Serialize + TextReport>(value: &T, format: Format) -> Result<()> {
    use std::io::Write;
    let text = render(value, format)?;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    Ok(())
}

/// Lays out rows as columns: the first row is the header, numbers align right.
pub fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|row| row.get(c))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(c, cell)| {
                let numeric = cell
                    .chars()
                    .next()
                    .is_some_and(|ch| ch.is_ascii_digit() || ch == '-' || ch == '±');
                if c == 0 || !numeric {
                    format!("{cell:<width$}", width = widths[c])
                } else {
                    format!("{cell:>width$}", width = widths[c])
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn table_aligns_numbers_right() {
        let rows = vec![
            vec!["interval".to_string(), "pages".to_string()],
            vec!["25ms".to_string(), "7".to_string()],
            vec!["400ms".to_string(), "1234".to_string()],
        ];
        let text = super::table(&rows);
        assert_eq!(text, "interval  pages\n25ms          7\n400ms      1234\n");
    }
}
