//! Reads each value's line and comment back from a profile's text, so the model's output can
//! say of every constant what it was written as, where, and why (its source comment).

use std::collections::HashMap;

/// One `key: value  # comment` line of a profile.
#[derive(Clone, Debug, PartialEq)]
pub struct ValueLine {
    /// 1-based line number.
    pub line: usize,
    /// The value as written, without the comment.
    pub value: String,
    /// The trailing comment, or the comment lines right above when there is none.
    pub comment: String,
}

/// Maps `section.key` (or `key` at the top level) to its line. Profiles are flat two-level
/// mappings, so indentation alone tells a section from its keys.
pub fn value_lines(text: &str) -> HashMap<String, ValueLine> {
    let mut out = HashMap::new();
    let mut section = String::new();
    let mut pending_comment: Vec<String> = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let trimmed = raw.trim();
        if let Some(comment) = trimmed.strip_prefix('#') {
            pending_comment.push(comment.trim().to_string());
            continue;
        }
        if trimmed.is_empty() {
            pending_comment.clear();
            continue;
        }
        let (body, comment) = match raw.find(" #") {
            Some(at) => (&raw[..at], raw[at + 2..].trim().to_string()),
            None => (raw, String::new()),
        };
        let Some((key, value)) = body.split_once(':') else {
            pending_comment.clear();
            continue;
        };
        let indented = raw.starts_with(' ') || raw.starts_with('\t');
        let key = key.trim().to_string();
        let value = value.trim().to_string();
        if !indented {
            section = if value.is_empty() {
                key.clone()
            } else {
                String::new()
            };
        }
        if !value.is_empty() {
            let path = if indented && !section.is_empty() {
                format!("{section}.{key}")
            } else {
                key
            };
            let comment = if comment.is_empty() {
                pending_comment.join(" ")
            } else {
                comment
            };
            out.insert(
                path,
                ValueLine {
                    line: index + 1,
                    value: value.trim_matches('"').to_string(),
                    comment,
                },
            );
        }
        pending_comment.clear();
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_values_and_their_comments() {
        let text =
            "kind: host\ncosts:\n  # paper, Fig. 5\n  page_copy: 3.7us\n  rtt: 0.2ms  # ping\n";
        let lines = super::value_lines(text);
        assert_eq!(lines["kind"].value, "host");
        assert_eq!(lines["costs.page_copy"].line, 4);
        assert_eq!(lines["costs.page_copy"].comment, "paper, Fig. 5");
        assert_eq!(lines["costs.rtt"].value, "0.2ms");
        assert_eq!(lines["costs.rtt"].comment, "ping");
    }
}
