//! One profile source (a built-in profile, a file, or the `--set` overrides) read into a
//! layer: its raw values plus each value's line and comment. `load` stacks the layers.

use super::check;
use super::notes::{value_lines, ValueLine};
use super::raw::{RawProfile, COST_KEYS, LIMIT_KEYS};
use super::{site, ProfileError, BUILTIN};
use crate::limits::FileKind;
use std::collections::HashMap;
use std::path::Path;

/// One parsed layer, with its text for value lines and comments.
pub(super) struct Layer {
    pub name: String,
    pub raw: RawProfile,
    pub lines: HashMap<String, ValueLine>,
}

/// Parses profile text; `file` names it in errors.
pub(super) fn parse_layer(text: &str, file: &str) -> Result<Layer, ProfileError> {
    check::check(text).map_err(|detail| ProfileError::Invalid {
        file: file.to_string(),
        detail,
    })?;
    let raw: RawProfile = if text.trim().is_empty() {
        RawProfile::default()
    } else {
        yaml_serde::from_str(text).map_err(|err| ProfileError::Invalid {
            file: file.to_string(),
            detail: describe_error(&err, text),
        })?
    };
    Ok(Layer {
        name: file.to_string(),
        raw,
        lines: value_lines(text),
    })
}

/// Rewrites a YAML error as "line N, key `section.key`: what is wrong", so the file, the key
/// and the line are always named (the reader names the enclosing mapping, not the key).
fn describe_error(err: &yaml_serde::Error, text: &str) -> String {
    let message = err.to_string();
    let Some(location) = err.location() else {
        return message;
    };
    let line = location.line();
    // Drop the reader's own " at line L column C" and "section: " prefix: said better below.
    let mut what = message
        .rsplit_once(" at line ")
        .map_or(message.as_str(), |(head, _)| head)
        .to_string();
    for section in ["limits", "costs"] {
        if let Some(rest) = what.strip_prefix(section) {
            // "limits: …" or "limits.dom0: …"
            if let Some((path, message)) = rest.split_once(": ") {
                if path.is_empty() || path.starts_with('.') {
                    what = message.to_string();
                }
            }
        }
    }
    let source_line = text.lines().nth(line.saturating_sub(1)).unwrap_or("");
    let key = source_line
        .split_once(':')
        .map(|(key, _)| key.trim().trim_start_matches("- "))
        .filter(|key| !key.is_empty() && !key.starts_with('#'));
    let section = text
        .lines()
        .take(line.saturating_sub(1))
        .filter(|l| !l.starts_with(' ') && !l.starts_with('#') && l.trim_end().ends_with(':'))
        .last()
        .map(|l| l.trim_end().trim_end_matches(':'));
    let indented = source_line.starts_with(' ') || source_line.starts_with('\t');
    match (key, section) {
        (Some(key), Some(section)) if indented => {
            format!("line {line}, key `{section}.{key}`: {what}")
        }
        (Some(key), _) => format!("line {line}, key `{key}`: {what}"),
        _ => format!("line {line}: {what}"),
    }
}

/// Reads a profile by path, or by name from the search path (`site`): `./NAME.yaml`, the
/// user's and the system's profile directories, then the built-in ones. A layer read from a
/// file is named by its path, so the output says which file was used. Files are read within
/// the size and YAML limits of `kind` (see `crate::limits`).
pub(super) fn read_layer(name_or_path: &str, kind: FileKind) -> Result<Layer, ProfileError> {
    let path = Path::new(name_or_path);
    let looks_like_path = name_or_path.contains('/')
        || name_or_path.ends_with(".yaml")
        || name_or_path.ends_with(".yml");
    let file = if looks_like_path || path.is_file() {
        Some(path.to_path_buf())
    } else {
        site::find(name_or_path).map(|(_, found)| found)
    };
    let Some(file) = file else {
        if let Some((name, text)) = BUILTIN.iter().find(|(name, _)| *name == name_or_path) {
            return parse_layer(text, name);
        }
        return Err(ProfileError::Unknown {
            name: name_or_path.to_string(),
            available: BUILTIN
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", "),
            searched: site::describe_search_path(),
        });
    };
    let shown = file.display().to_string();
    let text = crate::limits::read_yaml(&file, kind).map_err(|source| ProfileError::Io {
        path: shown.clone(),
        source,
    })?;
    parse_layer(&text, &shown)
}

/// Parses `key=value` overrides into one layer, checked exactly like a file.
pub(super) fn parse_sets(sets: &[String]) -> Result<Option<Layer>, ProfileError> {
    if sets.is_empty() {
        return Ok(None);
    }
    let mut limits = String::from("limits:\n");
    let mut costs = String::from("costs:\n");
    for arg in sets {
        let bad = |detail: String| ProfileError::BadSet {
            arg: arg.clone(),
            detail,
        };
        let (key, value) = arg
            .split_once('=')
            .ok_or_else(|| bad("write it as KEY=VALUE, e.g. max_slowdown=15%".into()))?;
        if value.trim().is_empty() {
            return Err(bad(format!(
                "no value after `=`: write it as {}=VALUE, e.g. max_slowdown=15%",
                key.trim()
            )));
        }
        let line = format!("  {}: {}\n", key.trim(), value.trim());
        let section = if LIMIT_KEYS.contains(&key.trim()) {
            &mut limits
        } else if COST_KEYS.contains(&key.trim()) {
            &mut costs
        } else {
            return Err(bad(format!(
                "unknown key `{}`: limits are {}; costs are {}",
                key.trim(),
                LIMIT_KEYS.join(", "),
                COST_KEYS.join(", ")
            )));
        };
        // Checked one at a time so an error names the argument at fault.
        let header = section.lines().next().unwrap_or_default();
        let single = format!("{header}\n{line}");
        check::check(&single).map_err(|detail| {
            bad(detail
                .split_once(", ")
                .map_or(detail.clone(), |(_, rest)| rest.to_string()))
        })?;
        yaml_serde::from_str::<RawProfile>(&single).map_err(|err| {
            let detail = describe_error(&err, &single);
            // The line of a one-line snippet means nothing to the user: keep key and message.
            bad(detail
                .split_once(", ")
                .map_or(detail.clone(), |(_, rest)| rest.to_string()))
        })?;
        section.push_str(&line);
    }
    parse_layer(&format!("{limits}{costs}"), "--set").map(Some)
}
