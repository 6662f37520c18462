//! Quantities with units, parsed strictly and printed the same way.
//!
//! Every duration, size, rate and fraction that crosses the command line or a profile goes
//! through here once, so the rest of the code handles typed values and never a string. A
//! number without a unit is an error: "25" could be milliseconds or seconds, and a tool whose
//! numbers people act on must not guess.

use std::fmt;
use std::time::Duration;

/// Why a quantity could not be read; the message names the accepted units.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    #[error("`{text}` has no unit: write it as {expected}")]
    MissingUnit {
        text: String,
        expected: &'static str,
    },
    #[error("`{text}` has an unknown unit `{unit}`: use {expected}")]
    UnknownUnit {
        text: String,
        unit: String,
        expected: &'static str,
    },
    #[error("`{text}` is not a number followed by a unit (e.g. {expected})")]
    NotANumber {
        text: String,
        expected: &'static str,
    },
    #[error("`{text}` is negative: {what} cannot be below zero")]
    Negative { text: String, what: &'static str },
    #[error(transparent)]
    Limit(#[from] crate::limits::LimitError),
    #[error("`{text}` is above 100%: {what} is a share of a whole")]
    OverWhole { text: String, what: &'static str },
}

const DURATION_UNITS: &str = "ns, us, ms, s, m or h (e.g. 25ms)";
const SIZE_UNITS: &str = "B, KiB, MiB, GiB, TiB, kB, MB, GB or TB (e.g. 4KiB)";
const RATE_UNITS: &str =
    "bit/s, kbit/s, Mbit/s, Gbit/s, B/s, kB/s, MB/s, GB/s, KiB/s, MiB/s or GiB/s (e.g. 1Gbit/s)";
const FRACTION_UNITS: &str = "a percentage (e.g. 10%)";

/// Splits "12.5ms" into (12.5, "ms"), trimming spaces between number and unit.
fn split_number(text: &str, expected: &'static str) -> Result<(f64, String), UnitError> {
    let trimmed = text.trim();
    let end = trimmed
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || c == '.' || (i == 0 && (c == '-' || c == '+'))))
        .map(|(i, _)| i)
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(end);
    let value: f64 = number.parse().map_err(|_| UnitError::NotANumber {
        text: text.to_string(),
        expected,
    })?;
    if !value.is_finite() {
        return Err(UnitError::NotANumber {
            text: text.to_string(),
            expected,
        });
    }
    let unit = unit.trim();
    if unit.is_empty() {
        return Err(UnitError::MissingUnit {
            text: text.to_string(),
            expected,
        });
    }
    Ok((value, unit.to_string()))
}

fn non_negative(value: f64, text: &str, what: &'static str) -> Result<f64, UnitError> {
    if value < 0.0 {
        Err(UnitError::Negative {
            text: text.to_string(),
            what,
        })
    } else {
        Ok(value)
    }
}

/// Parses a duration such as `25ms`, `1.5s`, `500us`, `2m`.
pub fn parse_duration(text: &str) -> Result<Duration, UnitError> {
    let (value, unit) = split_number(text, DURATION_UNITS)?;
    let value = non_negative(value, text, "a duration")?;
    let seconds = match unit.as_str() {
        "ns" => value * 1e-9,
        "us" | "µs" => value * 1e-6,
        "ms" => value * 1e-3,
        "s" => value,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        _ => {
            return Err(UnitError::UnknownUnit {
                text: text.to_string(),
                unit,
                expected: DURATION_UNITS,
            })
        }
    };
    // Checked before the conversion, which panics on values a Duration cannot hold.
    Ok(crate::limits::check_duration_secs(seconds, text)?)
}

/// Parses a byte size such as `4KiB`, `16GiB`, `100MB`.
pub fn parse_bytes(text: &str) -> Result<u64, UnitError> {
    let (value, unit) = split_number(text, SIZE_UNITS)?;
    let value = non_negative(value, text, "a size")?;
    let factor = byte_factor(&unit).ok_or_else(|| UnitError::UnknownUnit {
        text: text.to_string(),
        unit: unit.clone(),
        expected: SIZE_UNITS,
    })?;
    Ok((value * factor).round() as u64)
}

fn byte_factor(unit: &str) -> Option<f64> {
    Some(match unit {
        "B" => 1.0,
        "kB" | "KB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        "TB" => 1e12,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        "TiB" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    })
}

/// Parses a data rate into bytes per second: `1Gbit/s`, `100MB/s`, `125MiB/s`.
pub fn parse_rate(text: &str) -> Result<f64, UnitError> {
    let (value, unit) = split_number(text, RATE_UNITS)?;
    let value = non_negative(value, text, "a rate")?;
    let unknown = || UnitError::UnknownUnit {
        text: text.to_string(),
        unit: unit.clone(),
        expected: RATE_UNITS,
    };
    let per_second = unit.strip_suffix("/s").ok_or_else(unknown)?;
    let bits = |prefix: &str| -> Option<f64> {
        Some(match prefix {
            "" => 1.0,
            "k" | "K" => 1e3,
            "M" => 1e6,
            "G" => 1e9,
            "T" => 1e12,
            _ => return None,
        })
    };
    if let Some(prefix) = per_second.strip_suffix("bit") {
        return bits(prefix).map(|f| value * f / 8.0).ok_or_else(unknown);
    }
    byte_factor(per_second)
        .map(|f| value * f)
        .ok_or_else(unknown)
}

/// Parses a fraction written as a percentage (`10%`) into 0.10.
pub fn parse_fraction(text: &str) -> Result<f64, UnitError> {
    let (value, unit) = split_number(text, FRACTION_UNITS)?;
    let value = non_negative(value, text, "a percentage")?;
    if unit != "%" {
        return Err(UnitError::UnknownUnit {
            text: text.to_string(),
            unit,
            expected: FRACTION_UNITS,
        });
    }
    Ok(value / 100.0)
}

/// A duration printed the way a person writes it: `25ms`, `1.5s`, `250us`.
pub struct HumanDuration(pub Duration);

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.as_secs_f64();
        if secs >= 1.0 {
            write!(f, "{}s", trim_float(secs))
        } else if secs >= 1e-3 {
            write!(f, "{}ms", trim_float(secs * 1e3))
        } else {
            write!(f, "{}us", trim_float(secs * 1e6))
        }
    }
}

fn trim_float(value: f64) -> String {
    let text = format!("{value:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Bytes as MiB with two decimals, the unit admins read checkpoint sizes in.
pub fn mib(bytes: f64) -> f64 {
    bytes / (1024.0 * 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_need_units() {
        assert_eq!(parse_duration("25ms").unwrap(), Duration::from_millis(25));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("500us").unwrap(), Duration::from_micros(500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert!(matches!(
            parse_duration("25"),
            Err(UnitError::MissingUnit { .. })
        ));
        assert!(matches!(
            parse_duration("25 fortnights"),
            Err(UnitError::UnknownUnit { .. })
        ));
        assert!(matches!(
            parse_duration("-1s"),
            Err(UnitError::Negative { .. })
        ));
        assert!(matches!(
            parse_duration("ms"),
            Err(UnitError::NotANumber { .. })
        ));
    }

    #[test]
    fn huge_durations_are_errors_not_panics() {
        let nines = format!("{}s", "9".repeat(300));
        for text in ["99999999999999999999h", "721h", nines.as_str(), "1e300s"] {
            match parse_duration(text) {
                Err(UnitError::Limit(err)) => {
                    assert!(err.to_string().contains("max_duration (30 days)"), "{err}")
                }
                // `1e300s` is not how we write numbers: refused as such, also without a panic.
                Err(UnitError::UnknownUnit { .. }) => assert_eq!(text, "1e300s"),
                other => panic!("{text}: {other:?}"),
            }
        }
        assert_eq!(
            parse_duration("720h").unwrap(),
            Duration::from_secs(30 * 86_400)
        );
    }

    #[test]
    fn sizes_and_rates() {
        assert_eq!(parse_bytes("4KiB").unwrap(), 4096);
        assert_eq!(parse_bytes("1GB").unwrap(), 1_000_000_000);
        assert_eq!(parse_rate("1Gbit/s").unwrap(), 125_000_000.0);
        assert_eq!(parse_rate("100MB/s").unwrap(), 100e6);
        assert_eq!(parse_rate("1MiB/s").unwrap(), 1048576.0);
        assert!(parse_rate("1Gbit").is_err());
        assert!(parse_rate("-5MB/s").is_err());
        assert!((parse_fraction("10%").unwrap() - 0.10).abs() < 1e-12);
        assert!(parse_fraction("10").is_err());
    }

    #[test]
    fn durations_print_readably() {
        assert_eq!(HumanDuration(Duration::from_millis(25)).to_string(), "25ms");
        assert_eq!(
            HumanDuration(Duration::from_millis(1500)).to_string(),
            "1.5s"
        );
        assert_eq!(
            HumanDuration(Duration::from_micros(250)).to_string(),
            "250us"
        );
    }
}
