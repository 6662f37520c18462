//! The profile file as written: every key optional, every quantity with its unit checked as
//! it is read, so a mistake is reported by the YAML reader with the key's path and line.

use crate::units::{parse_bytes, parse_duration, parse_fraction, parse_rate};
use serde::{Deserialize, Deserializer};

/// A duration in seconds, written with a unit (`25ms`, `3.7us`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Secs(pub f64);
/// A duration that may be negative (`-20ms`): a signed correction, not a cost.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SignedSecs(pub f64);
/// A data rate in bytes per second, written with a unit (`1Gbit/s`, `75MB/s`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rate(pub f64);
/// A size in bytes, written with a unit (`256KiB`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bytes(pub f64);
/// A fraction, written as a percentage (`10%`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Frac(pub f64);

/// Reads a scalar as text: numbers included, so `max_slowdown: 10` reaches the unit check
/// and gets "has no unit" rather than a type error.
fn scalar_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scalar {
        Text(String),
        Int(i64),
        Float(f64),
    }
    Ok(match Scalar::deserialize(deserializer)? {
        Scalar::Text(text) => text,
        Scalar::Int(value) => value.to_string(),
        Scalar::Float(value) => value.to_string(),
    })
}

impl<'de> Deserialize<'de> for Secs {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = scalar_text(deserializer)?;
        parse_duration(&text)
            .map(|d| Secs(d.as_secs_f64()))
            .map_err(serde::de::Error::custom)
    }
}

/// `-20ms` or `75ms`: a duration with an optional minus sign.
pub fn parse_signed_duration(text: &str) -> Result<f64, crate::units::UnitError> {
    let trimmed = text.trim();
    match trimmed.strip_prefix('-') {
        Some(rest) => parse_duration(rest.trim_start()).map(|d| -d.as_secs_f64()),
        None => parse_duration(trimmed).map(|d| d.as_secs_f64()),
    }
}

impl<'de> Deserialize<'de> for SignedSecs {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = scalar_text(deserializer)?;
        parse_signed_duration(&text)
            .map(SignedSecs)
            .map_err(serde::de::Error::custom)
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = scalar_text(deserializer)?;
        let rate = parse_rate(&text).map_err(serde::de::Error::custom)?;
        if rate <= 0.0 {
            return Err(serde::de::Error::custom(format!(
                "`{text}` is zero: a link must carry something"
            )));
        }
        Ok(Rate(rate))
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = scalar_text(deserializer)?;
        parse_bytes(&text)
            .map(|b| Bytes(b as f64))
            .map_err(serde::de::Error::custom)
    }
}

impl<'de> Deserialize<'de> for Frac {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = scalar_text(deserializer)?;
        parse_fraction(&text)
            .map(Frac)
            .map_err(serde::de::Error::custom)
    }
}

/// `interval_semantics`.
#[derive(Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum RawSemantics {
    AfterCommit,
    Max,
}

/// `pause_policy`.
#[derive(Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum RawPausePolicy {
    Stream,
    Staging,
}

/// `dom0`.
#[derive(Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum RawDom0 {
    Pinned,
    Shared,
}

/// `kind`: acceptance limits for a kind of service, or a host's costs.
#[derive(Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Limits,
    Host,
}

/// A whole profile file.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct RawProfile {
    pub kind: Option<Kind>,
    pub description: Option<String>,
    /// The host cost set a limits profile runs on by default.
    pub host: Option<String>,
    #[serde(default)]
    pub limits: RawLimits,
    #[serde(default)]
    pub costs: RawCosts,
    /// What `trial` found of the host profile's accuracy (host profiles it wrote).
    pub validation: Option<RawValidation>,
}

/// `validation:` (written by `trial`).
#[derive(Deserialize, Debug, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawValidation {
    pub method: Option<String>,
    pub intervals: Option<String>,
    pub worst_slowdown_error: Option<Frac>,
    pub worst_pages_error: Option<Frac>,
    pub worst_period_error: Option<Frac>,
}

/// Keys of `validation:`.
pub const VALIDATION_KEYS: &[&str] = &[
    "method",
    "intervals",
    "worst_slowdown_error",
    "worst_pages_error",
    "worst_period_error",
];

/// `limits:`.
#[derive(Deserialize, Debug, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    pub max_slowdown: Option<Frac>,
    pub max_added_latency: Option<Secs>,
    pub max_pause: Option<Secs>,
    pub max_link_share: Option<Frac>,
    pub network_buffering: Option<bool>,
    pub dom0: Option<RawDom0>,
}

/// `costs:`.
#[derive(Deserialize, Debug, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawCosts {
    pub suspend: Option<Secs>,
    pub suspend_pages: Option<u32>,
    pub devices: Option<Secs>,
    pub page_copy: Option<Secs>,
    pub page_send_cpu: Option<Secs>,
    pub stream_buffer: Option<Bytes>,
    pub link: Option<Rate>,
    pub rtt: Option<Secs>,
    pub compressed_size: Option<Frac>,
    pub fault: Option<Secs>,
    pub guest_resume: Option<Secs>,
    pub handshake: Option<SignedSecs>,
    pub pml: Option<bool>,
    pub pml_batch: Option<u32>,
    pub clean_per_gib: Option<Secs>,
    pub disk_cpu_per_mib: Option<Secs>,
    pub shared_sched_wait: Option<Secs>,
    pub interval_semantics: Option<RawSemantics>,
    pub pause_policy: Option<RawPausePolicy>,
}

/// Keys of `limits:`, for `--set` and for listing.
pub const LIMIT_KEYS: &[&str] = &[
    "max_slowdown",
    "max_added_latency",
    "max_pause",
    "max_link_share",
    "network_buffering",
    "dom0",
];

/// Keys of `costs:`, for `--set` and for listing.
pub const COST_KEYS: &[&str] = &[
    "suspend",
    "suspend_pages",
    "devices",
    "page_copy",
    "page_send_cpu",
    "stream_buffer",
    "link",
    "rtt",
    "compressed_size",
    "fault",
    "guest_resume",
    "handshake",
    "pml",
    "pml_batch",
    "clean_per_gib",
    "disk_cpu_per_mib",
    "shared_sched_wait",
    "interval_semantics",
    "pause_policy",
];

/// Takes every key set in `over` in place of `base`'s.
macro_rules! overlay {
    ($base:expr, $over:expr, $($field:ident),*) => {
        $( if $over.$field.is_some() { $base.$field = $over.$field.clone(); } )*
    };
}

impl RawCosts {
    pub fn overlay(&mut self, over: &RawCosts) {
        overlay!(
            self,
            over,
            suspend,
            suspend_pages,
            devices,
            page_copy,
            page_send_cpu,
            stream_buffer,
            link,
            rtt,
            compressed_size,
            fault,
            guest_resume,
            handshake,
            pml,
            pml_batch,
            clean_per_gib,
            disk_cpu_per_mib,
            shared_sched_wait,
            interval_semantics,
            pause_policy
        );
    }
}

impl RawLimits {
    pub fn overlay(&mut self, over: &RawLimits) {
        overlay!(
            self,
            over,
            max_slowdown,
            max_added_latency,
            max_pause,
            max_link_share,
            network_buffering,
            dom0
        );
    }
}
