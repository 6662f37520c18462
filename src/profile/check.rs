//! Checks a profile's text key by key before it is deserialised, so every error names the
//! exact line: the YAML reader only knows the line of the enclosing mapping for errors raised
//! inside it (a bad unit in `costs:` would point at the first key of `costs:`).

use super::notes::value_lines;
use super::raw::{COST_KEYS, LIMIT_KEYS, VALIDATION_KEYS};
use crate::units::{parse_bytes, parse_duration, parse_fraction, parse_rate};

/// What a key's value must be.
enum Kind {
    Duration,
    /// A duration that may be negative (`costs.handshake`).
    SignedDuration,
    Rate,
    Fraction,
    Bytes,
    Other,
}

fn kind(key: &str) -> Kind {
    match key {
        "limits.max_slowdown"
        | "limits.max_link_share"
        | "costs.compressed_size"
        | "validation.worst_slowdown_error"
        | "validation.worst_pages_error"
        | "validation.worst_period_error" => Kind::Fraction,
        "costs.handshake" => Kind::SignedDuration,
        "costs.link" => Kind::Rate,
        "costs.stream_buffer" => Kind::Bytes,
        "limits.max_added_latency"
        | "limits.max_pause"
        | "costs.suspend"
        | "costs.devices"
        | "costs.page_copy"
        | "costs.page_send_cpu"
        | "costs.rtt"
        | "costs.fault"
        | "costs.guest_resume"
        | "costs.clean_per_gib"
        | "costs.disk_cpu_per_mib"
        | "costs.shared_sched_wait" => Kind::Duration,
        _ => Kind::Other,
    }
}

const TOP_KEYS: &[&str] = &[
    "kind",
    "description",
    "host",
    "limits",
    "costs",
    "validation",
];

/// Limits that are shares of a whole: above 100 % they could never fail, so such a value is
/// a typo (`200%` for `20%`), not a policy.
const SHARE_LIMITS: &[&str] = &["limits.max_slowdown", "limits.max_link_share"];

/// The first problem in `text`, as "line N, key `k`: what is wrong".
pub fn check(text: &str) -> Result<(), String> {
    line_checks(text)?;
    let mut lines: Vec<_> = value_lines(text).into_iter().collect();
    lines.sort_by_key(|(_, line)| line.line);
    for (key, line) in lines {
        let at = format!("line {}, key `{key}`", line.line);
        let known = match key.split_once('.') {
            Some(("limits", k)) => LIMIT_KEYS.contains(&k),
            Some(("costs", k)) => COST_KEYS.contains(&k),
            Some(("validation", k)) => VALIDATION_KEYS.contains(&k),
            Some(_) => false,
            None => TOP_KEYS.contains(&key.as_str()),
        };
        if !known {
            let expected = match key.split_once('.') {
                Some(("limits", _)) => LIMIT_KEYS.join(", "),
                Some(("costs", _)) => COST_KEYS.join(", "),
                Some(("validation", _)) => VALIDATION_KEYS.join(", "),
                _ => TOP_KEYS.join(", "),
            };
            return Err(format!("{at}: unknown key; expected one of {expected}"));
        }
        let value = line.value.as_str();
        let result = match kind(&key) {
            Kind::Duration => parse_duration(value).map(|_| ()),
            Kind::SignedDuration => super::raw::parse_signed_duration(value).map(|_| ()),
            Kind::Fraction => match parse_fraction(value) {
                Ok(share) if share > 1.0 && SHARE_LIMITS.contains(&key.as_str()) => {
                    return Err(format!(
                        "{at}: `{value}` is above 100%: {key} is a share of the whole, so it \
                         could never be exceeded; give at most 100%"
                    ))
                }
                other => other.map(|_| ()),
            },
            Kind::Bytes => parse_bytes(value).map(|_| ()),
            Kind::Rate => match parse_rate(value) {
                Ok(rate) if rate <= 0.0 => {
                    return Err(format!(
                        "{at}: `{value}` is zero: a link must carry something"
                    ))
                }
                other => other.map(|_| ()),
            },
            Kind::Other => Ok(()),
        };
        result.map_err(|err| format!("{at}: {err}"))?;
    }
    Ok(())
}

/// What the YAML reader would take silently or report at the wrong line: a key of
/// `limits:` or `costs:` without a value (read as "not set", dropping what the user meant to
/// set), a key written twice (which one wins?), and anchors or aliases (a profile has no use
/// for them, and the reader names the wrong key for them).
fn line_checks(text: &str) -> Result<(), String> {
    let mut section = "";
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (index, raw) in text.lines().enumerate() {
        let body = raw.split(" #").next().unwrap_or("");
        if body.trim_start().starts_with('#') || body.trim().is_empty() {
            continue;
        }
        let Some((key, value)) = body.split_once(':') else {
            continue;
        };
        let indented = raw.starts_with(' ') || raw.starts_with('\t');
        let path = if indented {
            format!("{section}.{}", key.trim())
        } else {
            key.trim().to_string()
        };
        let at = format!("line {}, key `{path}`", index + 1);
        if let Some(first) = seen.insert(path.clone(), index + 1) {
            return Err(format!(
                "{at}: set twice (first on line {first}): keep one of them"
            ));
        }
        let value = value.trim();
        if value.starts_with('&') || value.starts_with('*') || key.trim().starts_with("<<") {
            return Err(format!(
                "{at}: YAML anchors, aliases and merge keys (`&`, `*`, `<<`) are not used in \
                 profiles: write the value itself"
            ));
        }
        if !indented {
            section = key.trim();
        } else if value.is_empty() && (section == "limits" || section == "costs") {
            return Err(format!(
                "line {}, key `{section}.{}`: no value: write one (e.g. `max_slowdown: 10%`), \
                 or remove the line to keep the default",
                index + 1,
                key.trim()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn empty_values_and_shares_over_100_percent_are_errors() {
        let err = check("limits:\n  max_slowdown:\n").unwrap_err();
        assert!(
            err.contains("line 2, key `limits.max_slowdown`: no value"),
            "{err}"
        );
        let err = check("limits:\n  max_slowdown: 200%\n").unwrap_err();
        assert!(err.contains("above 100%"), "{err}");
        let err = check("limits:\n  max_link_share: 100.5%\n").unwrap_err();
        assert!(err.contains("above 100%"), "{err}");
        assert!(check("limits:\n  max_slowdown: 100%\n").is_ok());
        // A compressed size above 100 % is odd but possible (incompressible data plus headers).
        assert!(check("costs:\n  compressed_size: 110%\n").is_ok());
        assert!(check("limits:  # the SLO\n  max_pause: 20ms\n").is_ok());
    }

    #[test]
    fn duplicate_keys_and_anchors_name_their_line_and_key() {
        let err = check("limits:\n  max_pause: 20ms\n  max_slowdown: 10%\n  max_pause: 30ms\n")
            .unwrap_err();
        assert!(
            err.contains("line 4, key `limits.max_pause`: set twice (first on line 2)"),
            "{err}"
        );
        let err = check("limits:\n  max_pause: &p 20ms\n  max_added_latency: *p\n").unwrap_err();
        assert!(
            err.contains("line 2, key `limits.max_pause`: YAML anchors"),
            "{err}"
        );
        let err = check("limits: &l\n  max_pause: 20ms\n").unwrap_err();
        assert!(err.contains("line 1, key `limits`"), "{err}");
    }
}
