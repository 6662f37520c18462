//! Profiles: what the admin accepts (limits) and what checkpointing costs on a host (costs).
//!
//! Two kinds of YAML file live in the top-level `profiles/` folder and are embedded in the
//! binary: *limits* profiles for a kind of service (`web`, `database`, `batch`), each naming
//! the host cost set it runs on by default, and *host* cost sets (`xen-4.17`, `remus-2008`)
//! whose every value carries a comment with its source (reference/model.md). A user may pass
//! a file path instead of a name, swap the host set, or override single values.
//!
//! Parsing is strict: unknown keys, quantities without units, negative or zero rates are
//! errors naming the file, the key and the line.

mod check;
mod layer;
mod notes;
mod raw;
mod render;
pub mod site;

pub use notes::{value_lines, ValueLine};
pub use raw::{COST_KEYS, LIMIT_KEYS, VALIDATION_KEYS};
pub use render::{render_host_profile, HostProfileFacts};

use crate::limits::FileKind;
pub use crate::model::{Constant, Profile};
use crate::model::{Costs, Dom0Placement, HostValidation, IntervalSemantics, Limits, PausePolicy};
use layer::{parse_layer, parse_sets, read_layer, Layer};
use raw::{Kind, RawCosts, RawDom0, RawLimits, RawPausePolicy, RawSemantics};
use serde::Serialize;

/// The profiles shipped in `profiles/`, embedded at build time.
pub const BUILTIN: &[(&str, &str)] = &[
    ("web", include_str!("../../profiles/web.yaml")),
    ("database", include_str!("../../profiles/database.yaml")),
    ("batch", include_str!("../../profiles/batch.yaml")),
    ("xen-4.17", include_str!("../../profiles/xen-4.17.yaml")),
    ("remus-2008", include_str!("../../profiles/remus-2008.yaml")),
];

/// The limits profile used when none is named.
pub const DEFAULT_PROFILE: &str = "web";

/// Why a profile could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("no profile named `{name}` (searched {searched}): built-in profiles are {available}; or pass a path to a YAML file")]
    Unknown {
        name: String,
        available: String,
        searched: String,
    },
    #[error("cannot read profile {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("profile {file}: {detail}")]
    Invalid { file: String, detail: String },
    #[error("profile {file}: `{key}` is not set here nor in host cost set `{host}`")]
    Missing {
        file: String,
        host: String,
        key: String,
    },
    #[error("profile {file} is a {found} profile where a {expected} profile is needed{hint}")]
    WrongKind {
        file: String,
        found: &'static str,
        expected: &'static str,
        hint: String,
    },
    #[error("--set {arg}: {detail}")]
    BadSet { arg: String, detail: String },
    #[error(
        "profile {file} sets no limits (none of {keys}): every interval would pass a verdict \
         against nothing; add at least one limit to it, give one with --set (e.g. --set \
         max_slowdown=10%), or use a built-in profile (web, database, batch)"
    )]
    NoLimits { file: String, keys: String },
}

/// A profile's name, kind, one-line description and where it lives, for `remus-tune
/// profiles`.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct ProfileListing {
    pub name: String,
    pub kind: String,
    pub description: String,
    /// `current-directory`, `user`, `system` or `built-in`.
    pub origin: site::Origin,
    /// The file, for a profile found on the search path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// What to load: a limits profile, an optional host set in place of its own, and overrides.
#[derive(Clone, Debug, Default)]
pub struct ProfileRequest {
    /// Built-in name or path; `None` for `DEFAULT_PROFILE`.
    pub profile: Option<String>,
    /// Built-in name or path of the host cost set; `None` for the profile's `host`.
    pub host: Option<String>,
    /// `key=value` overrides (`max_slowdown=15%`, `link=10Gbit/s`).
    pub sets: Vec<String>,
    /// `--link`: the replication link's effective rate, bytes/s.
    pub link_bytes_per_s: Option<f64>,
}

impl ProfileRequest {
    /// With no host cost set named, the one `trial --install` wrote for `target` (found by
    /// name on the search path, see `site`), saying on stderr which file it is.
    pub fn or_trial_host(mut self, target: Option<&str>) -> Self {
        if self.host.is_none() {
            if let Some(path) = target.and_then(trial_host_for) {
                crate::note!(
                    "host costs: using the host profile `remus-tune trial` wrote for {}: {}",
                    target.unwrap_or_default(),
                    path.display()
                );
                self.host = Some(path.display().to_string());
            }
        }
        self
    }
}

/// The host profile named after `target` on the search path (as `trial --install` writes
/// it), if there is one and it is a host cost set.
pub fn trial_host_for(target: &str) -> Option<std::path::PathBuf> {
    let (_, path) = site::find(&site::file_name_for(target))?;
    let layer = read_layer(path.to_str()?, FileKind::HostProfile).ok()?;
    (layer.raw.kind == Some(Kind::Host)).then_some(path)
}

fn listing(name: &str, text: &str, origin: site::Origin, path: Option<String>) -> ProfileListing {
    let lines = value_lines(text);
    let get = |key: &str| lines.get(key).map(|l| l.value.clone()).unwrap_or_default();
    ProfileListing {
        name: name.to_string(),
        kind: get("kind"),
        description: get("description"),
        origin,
        path,
    }
}

/// Lists the built-in profiles.
pub fn builtin_list() -> Vec<ProfileListing> {
    BUILTIN
        .iter()
        .map(|(name, text)| listing(name, text, site::Origin::BuiltIn, None))
        .collect()
}

/// Every profile a name reaches: those on the search path first (in search order), then the
/// built-in ones; a name found earlier shadows the later ones and is listed once.
pub fn list_all() -> Vec<ProfileListing> {
    let mut out: Vec<ProfileListing> = site::list()
        .into_iter()
        .filter_map(|(name, origin, path)| {
            let text = std::fs::read_to_string(&path).ok()?;
            Some(listing(
                &name,
                &text,
                origin,
                Some(path.display().to_string()),
            ))
        })
        .collect();
    for builtin in builtin_list() {
        if !out.iter().any(|p| p.name == builtin.name) {
            out.push(builtin);
        }
    }
    out
}

/// The text of the profile `name` reaches (search path, then built-in), and where it is.
pub fn profile_text(name: &str) -> Option<(String, String)> {
    if let Some((_, path)) = site::find(name) {
        let text = std::fs::read_to_string(&path).ok()?;
        return Some((text, path.display().to_string()));
    }
    BUILTIN
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, text)| (text.to_string(), "built-in".to_string()))
}

/// Loads the profile `request` describes.
pub fn load(request: &ProfileRequest) -> Result<Profile, ProfileError> {
    let name = request.profile.as_deref().unwrap_or(DEFAULT_PROFILE);
    let limits_layer = read_layer(name, FileKind::Profile)?;
    if limits_layer.raw.kind == Some(Kind::Host) {
        return Err(ProfileError::WrongKind {
            file: limits_layer.name,
            found: "host cost",
            expected: "limits",
            hint: format!(
                ": pass it as --host {name} and pick the limits with --profile web|database|batch"
            ),
        });
    }
    let host_name = request
        .host
        .clone()
        .or_else(|| limits_layer.raw.host.clone())
        .unwrap_or_else(|| "xen-4.17".to_string());
    let host_layer = read_layer(&host_name, FileKind::HostProfile)?;
    if host_layer.raw.kind == Some(Kind::Limits) {
        return Err(ProfileError::WrongKind {
            file: host_layer.name,
            found: "limits",
            expected: "host cost",
            hint: ": --host takes xen-4.17, remus-2008 or a host cost file".into(),
        });
    }
    let set_layer = parse_sets(&request.sets)?;
    // Later layers win: host costs, then the limits profile, then --set, then --link.
    let mut layers: Vec<&Layer> = vec![&host_layer, &limits_layer];
    if let Some(layer) = &set_layer {
        layers.push(layer);
    }
    let mut costs = RawCosts::default();
    let mut limits = RawLimits::default();
    for layer in &layers {
        costs.overlay(&layer.raw.costs);
        limits.overlay(&layer.raw.limits);
    }
    let mut constants = constants_of(&layers);
    if let Some(link) = request.link_bytes_per_s {
        costs.link = Some(raw::Rate(link));
        constants.retain(|c| c.key != "costs.link");
        constants.push(Constant {
            key: "costs.link".into(),
            value: format!("{:.0}B/s", link),
            from: "--link".into(),
            line: None,
            note: "given on the command line".into(),
        });
    }
    let missing = |key: &str| ProfileError::Missing {
        file: limits_layer.name.clone(),
        host: host_layer.name.clone(),
        key: key.to_string(),
    };
    let costs = finish_costs(&costs, &missing)?;
    let limits = finish_limits(&limits);
    if !sets_a_limit(&limits) {
        return Err(ProfileError::NoLimits {
            file: limits_layer.name.clone(),
            keys: CHECKED_LIMITS.join(", "),
        });
    }
    Ok(Profile {
        name: limits_layer.name.clone(),
        description: limits_layer.raw.description.clone().unwrap_or_default(),
        host: host_layer.name.clone(),
        costs,
        limits,
        constants,
        validation: host_layer.raw.validation.as_ref().map(|v| HostValidation {
            method: v.method.clone().unwrap_or_else(|| "in-sample".into()),
            intervals: v.intervals.clone().unwrap_or_default(),
            worst_slowdown_error: v.worst_slowdown_error.map(|f| f.0),
            worst_pages_error: v.worst_pages_error.map(|f| f.0),
            worst_period_error: v.worst_period_error.map(|f| f.0),
        }),
    })
}

/// Every value of every layer, the last layer's winning, in key order.
fn constants_of(layers: &[&Layer]) -> Vec<Constant> {
    let mut out: Vec<Constant> = Vec::new();
    let keys = LIMIT_KEYS
        .iter()
        .map(|k| format!("limits.{k}"))
        .chain(COST_KEYS.iter().map(|k| format!("costs.{k}")));
    for key in keys {
        let winner = layers
            .iter()
            .rev()
            .find_map(|layer| layer.lines.get(&key).map(|line| (layer, line)));
        if let Some((layer, line)) = winner {
            out.push(Constant {
                key: key.clone(),
                value: line.value.clone(),
                from: layer.name.clone(),
                line: (layer.name != "--set").then_some(line.line),
                note: line.comment.clone(),
            });
        }
    }
    out
}

fn finish_costs(
    raw: &RawCosts,
    missing: &dyn Fn(&str) -> ProfileError,
) -> Result<Costs, ProfileError> {
    macro_rules! need {
        ($field:ident) => {
            raw.$field
                .ok_or_else(|| missing(concat!("costs.", stringify!($field))))?
        };
    }
    Ok(Costs {
        suspend_s: need!(suspend).0,
        // Optional, 0 when absent: profiles written before it existed keep their meaning.
        suspend_pages: f64::from(raw.suspend_pages.unwrap_or(0)),
        devices_s: need!(devices).0,
        page_copy_s: need!(page_copy).0,
        page_send_cpu_s: need!(page_send_cpu).0,
        stream_buffer_bytes: need!(stream_buffer).0,
        link_bytes_per_s: need!(link).0,
        rtt_s: need!(rtt).0,
        compression_ratio: need!(compressed_size).0,
        fault_s: need!(fault).0,
        // Optional, 0 when absent: only a trial with a probe measures it.
        guest_resume_s: raw.guest_resume.map_or(0.0, |s| s.0),
        // Optional, 0 when absent (the guest runs exactly τ per epoch, as before it existed).
        handshake_s: raw.handshake.map_or(0.0, |s| s.0),
        pml: need!(pml),
        pml_batch: f64::from(need!(pml_batch).max(1)),
        clean_per_gib_s: need!(clean_per_gib).0,
        disk_cpu_per_byte_s: need!(disk_cpu_per_mib).0 / (1024.0 * 1024.0),
        shared_sched_wait_s: need!(shared_sched_wait).0,
        interval_semantics: match need!(interval_semantics) {
            RawSemantics::AfterCommit => IntervalSemantics::AfterCommit,
            RawSemantics::Max => IntervalSemantics::Max,
        },
        pause_policy: match need!(pause_policy) {
            RawPausePolicy::Stream => PausePolicy::Stream,
            RawPausePolicy::Staging => PausePolicy::Staging,
        },
    })
}

/// The limits a verdict checks; a profile must set at least one of them.
const CHECKED_LIMITS: &[&str] = &[
    "max_slowdown",
    "max_added_latency",
    "max_pause",
    "max_link_share",
];

/// True when `limits` gives the verdict something to check.
fn sets_a_limit(limits: &Limits) -> bool {
    limits.max_slowdown.is_some()
        || limits.max_added_latency_s.is_some()
        || limits.max_pause_s.is_some()
        || limits.max_link_share.is_some()
}

fn finish_limits(raw: &RawLimits) -> Limits {
    Limits {
        max_slowdown: raw.max_slowdown.map(|f| f.0),
        max_added_latency_s: raw.max_added_latency.map(|s| s.0),
        max_pause_s: raw.max_pause.map(|s| s.0),
        max_link_share: raw.max_link_share.map(|f| f.0),
        network_buffering: raw.network_buffering.unwrap_or(true),
        dom0: match raw.dom0 {
            Some(RawDom0::Shared) => Dom0Placement::Shared,
            _ => Dom0Placement::Pinned,
        },
    }
}

/// Parses profile text as a file would be (for tests and fuzzing): the YAML limits, then the
/// profile reader; no panics, only errors.
pub fn parse_text(text: &str, file: &str) -> Result<(), ProfileError> {
    crate::limits::check_yaml(text).map_err(|err| ProfileError::Invalid {
        file: file.to_string(),
        detail: err.to_string(),
    })?;
    parse_layer(text, file).map(|_| ())
}
