//! The one row reader behind every `xl` table parser: a header checked once, then numbered
//! rows whose errors name the command, the line and the text. `xl info`'s `N: a b c` rows,
//! `xl cpupool-list` and `xl vcpu-list` all go through [`Row`].

use super::ParseError;
use std::str::FromStr;

/// One non-blank line of an `xl` table, with its 1-based line number.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Row<'a> {
    pub command: &'static str,
    pub line: usize,
    pub text: &'a str,
}

impl<'a> Row<'a> {
    /// An error about this row.
    pub fn error(&self, problem: impl Into<String>) -> ParseError {
        ParseError::new(self.command, self.line, self.text, problem)
    }

    /// The row's whitespace-separated words.
    pub fn words(&self) -> Vec<&'a str> {
        self.text.split_whitespace().collect()
    }

    /// `word` as a number, or an error saying it is not a `what`.
    pub fn number<T: FromStr>(&self, word: &str, what: &str) -> Result<T, ParseError> {
        word.parse()
            .map_err(|_| self.error(format!("`{word}` is not a {what}")))
    }

    /// A `  N:  a  b  c` row with exactly `columns` columns after the key: (N, columns).
    /// `expected` names them for the error.
    pub fn keyed(&self, columns: usize, expected: &str) -> Result<(u32, Vec<&'a str>), ParseError> {
        let (key, rest) = self
            .text
            .split_once(':')
            .and_then(|(k, rest)| Some((k.trim().parse().ok()?, rest)))
            .ok_or_else(|| self.error(format!("expected `N: {expected}`")))?;
        let cols: Vec<&str> = rest.split_whitespace().collect();
        if cols.len() != columns {
            return Err(self.error(format!("expected {columns} columns: {expected}")));
        }
        Ok((key, cols))
    }
}

/// The non-blank lines of `text` as rows.
pub(crate) fn rows<'a>(command: &'static str, text: &'a str) -> impl Iterator<Item = Row<'a>> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(move |(i, l)| Row {
            command,
            line: i + 1,
            text: l,
        })
}

/// A table with a header line: the header (checked by `is_header`, `expected` says what it
/// should look like) and the rows after it.
pub(crate) fn with_header<'a>(
    command: &'static str,
    text: &'a str,
    is_header: impl Fn(&str) -> bool,
    expected: &str,
) -> Result<(&'a str, Vec<Row<'a>>), ParseError> {
    let mut all = rows(command, text);
    let header = all.next().ok_or_else(|| {
        ParseError::new(
            command,
            1,
            "",
            format!("empty output: expected a `{expected}` header"),
        )
    })?;
    if !is_header(header.text) {
        return Err(header.error(format!("expected the `{expected}` header")));
    }
    Ok((header.text, all.collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_keep_their_line_numbers_and_errors_name_them() {
        let (header, rows) = with_header(
            "t",
            "Name X\n\n a: 1 2\n",
            |h| h.starts_with("Name"),
            "Name X",
        )
        .unwrap();
        assert_eq!(header, "Name X");
        assert_eq!(rows[0].line, 3);
        let err = rows[0].keyed(2, "a b").unwrap_err();
        assert_eq!(err.line, 3);
        let row = Row {
            command: "t",
            line: 7,
            text: " 4:  1 x",
        };
        assert_eq!(row.keyed(2, "a b").unwrap(), (4, vec!["1", "x"]));
        assert!(row
            .number::<u32>("x", "count")
            .unwrap_err()
            .to_string()
            .contains("`x` is not a count"));
        assert!(with_header("t", "", |_| true, "Name").is_err());
        assert!(with_header("t", "Pool 1\n", |h| h.starts_with("Name"), "Name").is_err());
    }
}
