//! The YAML parts of a trace: the header before `epochs:` and the `end` record after the
//! epochs. Both are small and read as text first, so a YAML parser never sees the whole file.
//!
//! The writer never writes anchors or aliases; a reader that let them through would let a
//! kilobyte "alias bomb" expand to gigabytes inside the YAML parser. They are refused before
//! parsing, by a scan that knows enough of YAML's syntax to tell an anchor (`&a`) or alias
//! (`*a`) in a node's place from the same characters inside a scalar or a quoted string.

/// The header is a few hundred bytes; a long --exec command line makes it a few KiB.
pub const MAX_HEADER_BYTES: usize = 1 << 20;
/// The end record, with a cross-check note, is under a KiB.
pub const MAX_END_BYTES: usize = 64 << 10;

/// The 1-based line of `text` (a part starting at line `first_line` of the file) holding an
/// anchor or alias, if any.
pub fn find_anchor_or_alias(text: &str, first_line: usize) -> Option<usize> {
    for (index, line) in text.lines().enumerate() {
        if line_has_anchor_or_alias(line) {
            return Some(first_line + index);
        }
    }
    None
}

/// True when `&` or `*` starts a token where a node may begin: at the start of the line's
/// content, or after `: `, `- `, `? `, `[`, `{` or `,`. Quoted strings and comments are
/// skipped; the writer quotes any scalar that would start with either character.
fn line_has_anchor_or_alias(line: &str) -> bool {
    let mut quote: Option<char> = None;
    let mut node_may_start = true;
    let mut previous = ' ';
    for c in line.chars() {
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
            previous = c;
            continue;
        }
        match c {
            '#' if previous == ' ' || previous == '\t' => return false,
            '\'' | '"' if node_may_start => quote = Some(c),
            '&' | '*' if node_may_start => return true,
            ' ' | '\t' => {
                if matches!(previous, ':' | '-' | '?' | ',' | '[' | '{') {
                    node_may_start = true;
                }
            }
            '[' | '{' | ',' => node_may_start = true,
            _ => node_may_start = false,
        }
        previous = c;
    }
    false
}

/// Describes a YAML error in a part of the file starting at `first_line`, with the line.
pub fn describe_yaml_error(err: &yaml_serde::Error, text: &str, first_line: usize) -> String {
    match err.location() {
        Some(location) => {
            let index = location.line().saturating_sub(1);
            let shown: String = text
                .lines()
                .nth(index)
                .unwrap_or("")
                .chars()
                .take(80)
                .collect();
            let message = err.to_string();
            // The parser's own "at line N" counts from the part, not from the file.
            let message = message
                .split(" at line ")
                .next()
                .unwrap_or(&message)
                .to_string();
            format!(
                "{message} at line {}; the line reads: {shown}",
                first_line + index
            )
        }
        None => err.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_and_aliases_are_found_in_node_places_only() {
        for bad in [
            "a: &x [1, 2]",
            "b: *x",
            "- *x",
            "c: [*x, *x]",
            "d: {k: *x}",
            "&top a: 1",
            "  - &y 3",
        ] {
            assert!(line_has_anchor_or_alias(bad), "{bad}");
        }
        for good in [
            "name: a&b",
            "name: x*y",
            "name: '*quoted'",
            "name: \"&quoted\"",
            "command: [make, -j4]",
            "note: 2 * 3 # *comment",
            "reason: Ctrl-C & more",
        ] {
            assert!(!line_has_anchor_or_alias(good), "{good}");
        }
        assert_eq!(find_anchor_or_alias("a: 1\nb: *x\n", 10), Some(11));
    }
}
