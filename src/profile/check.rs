//! Checks a profile's text key by key before it is deserialised, so every error names the
//! exact line: the YAML reader only knows the line of the enclosing mapping for errors raised
//! inside it (a bad unit in `costs:` would point at the first key of `costs:`).

use super::notes::value_lines;
use super::raw::{COST_KEYS, LIMIT_KEYS, VALIDATION_KEYS};
use crate::units::{parse_bytes, parse_duration, parse_fraction, parse_rate};

/// What a key's value must be.
enum Kind {
    Duration,
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

/// The first problem in `text`, as "line N, key `k`: what is wrong".
pub fn check(text: &str) -> Result<(), String> {
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
            Kind::Fraction => parse_fraction(value).map(|_| ()),
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
