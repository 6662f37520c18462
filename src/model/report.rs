//! What the model answers: one prediction per interval, the verdict, and every input it used.
//!
//! Field names are a contract: scripts and our own checks read `intervals[].interval_ms`,
//! `achieved_epoch_ms`, `throughput_shared`, `throughput_pinned`, `pause_ms.{mean,p95}`,
//! `added_latency_ms.{mean,p95}`, `bandwidth_bytes_per_s`, `sustainable` and
//! `recommended_interval_ms`. Add keys freely; rename none.

use super::curve::Basis;
use super::dom0::Dom0Basis;
use super::observer::ObserverBasis;
use super::params::Constant;
use serde::Serialize;

/// A distribution summarised for people: mean, median, 95th percentile.
#[derive(Serialize, Clone, Copy, Debug, PartialEq, Default)]
pub struct Stat {
    pub mean: f64,
    pub p50: f64,
    pub p95: f64,
}

/// The prediction at one configured checkpoint interval.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct IntervalPrediction {
    /// The configured interval τ (`xl remus -i`).
    pub interval_ms: u64,
    /// `measured` for an interval the trace measured; `interpolated` when asked for one
    /// between two measured intervals.
    pub basis: Basis,
    /// Measured windows behind the distributions.
    pub windows: usize,
    /// Achieved epoch, suspend to suspend (the fixed point of model.md §1), mean.
    pub achieved_epoch_ms: f64,
    /// Achieved epoch distribution over the measured windows.
    pub epoch_ms: Stat,
    pub checkpoints_per_s: f64,
    /// Configured rate, for comparison: 1000 / interval_ms.
    pub configured_checkpoints_per_s: f64,
    /// Dirty pages per achieved epoch.
    pub dirty_pages: Stat,
    /// How the dirty count of the achieved epoch was read off the measured curve.
    pub epoch_dirty_basis: Basis,
    pub checkpoint_mib: Stat,
    pub pause_ms: Stat,
    /// Guest throughput relative to unprotected, Dom-0 on the guest's cores.
    pub throughput_shared: f64,
    /// Guest throughput relative to unprotected, Dom-0 pinned to cores of its own.
    pub throughput_pinned: f64,
    /// Link throughput replication needs, mean.
    pub bandwidth_bytes_per_s: f64,
    /// `bandwidth_bytes_per_s` over the link's effective rate.
    pub link_share: f64,
    /// Dom-0 CPU spent on checkpoints, in cores (per page from `dom0.source`).
    pub dom0_cpu: f64,
    /// `dom0_cpu` plus Dom-0's measured baseline load: what Dom-0's cores carry under Remus.
    /// Null when the trace has no Dom-0 figures.
    pub dom0_cpu_total: Option<f64>,
    /// Added network latency (output commit); null when the profile disables buffering.
    pub added_latency_ms: Option<Stat>,
    /// Time to ship one mean checkpoint and get the ack: `T_send` of model.md §4.
    pub send_ms: f64,
    /// True when `T_send ≤ τ` and the epoch has a fixed point: the pipeline keeps up.
    pub sustainable: bool,
    /// Every limit, judged at this interval.
    pub limits: Vec<LimitCheck>,
    /// True when every limit holds.
    pub meets_limits: bool,
}

/// One limit at one interval.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct LimitCheck {
    /// The profile key (`max_slowdown`, …).
    pub limit: String,
    /// The predicted value, in `unit`.
    pub value: f64,
    /// The limit, in `unit`.
    pub max: f64,
    pub unit: String,
    pub ok: bool,
}

impl LimitCheck {
    /// How far over the limit, as a fraction of the limit (0 when met).
    pub fn excess(&self) -> f64 {
        if self.ok {
            0.0
        } else if self.max > 0.0 {
            self.value / self.max - 1.0
        } else {
            f64::INFINITY
        }
    }
}

/// One point of the writable-working-set curve, as measured.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct CurvePoint {
    pub interval_ms: u64,
    /// Mean real window length.
    pub window_ms: f64,
    pub dirty_pages: Stat,
    /// Mean disk bytes written per window.
    pub write_bytes_mean: f64,
}

/// The trace the model ran on, as a person identifies it.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct TraceSummary {
    pub target: String,
    pub backend: String,
    pub method: String,
    pub exact: bool,
    pub base_epoch_ms: f64,
    pub epochs: usize,
    pub duration_s: f64,
    pub memory_bytes: u64,
    pub page_size: u64,
}

/// The profile the model ran with.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct ProfileSummary {
    pub name: String,
    pub host: String,
    pub description: String,
}

/// Everything `remus-tune model` says.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct ModelReport {
    pub profile: ProfileSummary,
    pub trace: TraceSummary,
    pub link_bytes_per_s: f64,
    pub network_buffering: bool,
    /// Where the Dom-0 term came from: the profile, or measured in Dom-0 by the trace.
    pub dom0: Dom0Basis,
    pub intervals: Vec<IntervalPrediction>,
    /// The shortest interval meeting every limit; null when none does.
    pub recommended_interval_ms: Option<u64>,
    /// The verdict in one sentence.
    pub verdict: String,
    /// When no interval meets the limits: the failing limits at the closest interval, worst
    /// first.
    pub failing: Vec<LimitCheck>,
    /// The measured writable-working-set curve.
    pub curve: Vec<CurvePoint>,
    /// Every constant used, with where it came from.
    pub constants: Vec<Constant>,
    /// Whether the trace's counts include log-dirty's slowdown, and how the model used it.
    pub observer: ObserverBasis,
    /// How well the host profile predicted real Remus when `trial` wrote it; null for a
    /// profile without a `validation` block.
    pub host_validation: Option<HostValidation>,
    pub warnings: Vec<String>,
}

/// What a host profile written by `trial` says of its own accuracy (its `validation:` block):
/// the worst relative error of its predictions against real Remus at intervals it was not
/// fitted on (leave-one-out), or in-sample when there were too few intervals for that.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct HostValidation {
    /// `leave-one-out` or `in-sample`.
    pub method: String,
    /// The intervals Remus ran at, e.g. `50ms,100ms,200ms`.
    pub intervals: String,
    /// Worst relative error of the predicted slowdown, fraction.
    pub worst_slowdown_error: Option<f64>,
    /// Worst relative error of the predicted pages per checkpoint, fraction.
    pub worst_pages_error: Option<f64>,
    /// Worst relative error of the predicted checkpoint period, fraction.
    pub worst_period_error: Option<f64>,
}

impl HostValidation {
    /// "this host profile predicted held-out intervals within X % ..."
    pub fn sentence(&self) -> String {
        let what = if self.method == "leave-one-out" {
            "held-out intervals"
        } else {
            "the intervals it was fitted on (in-sample only: fewer than three intervals)"
        };
        let pct = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{:.0} %", v * 100.0));
        format!(
            "this host profile predicted {what} ({}) within {} (slowdown), {} (checkpoint size), \
             {} (period)",
            self.intervals,
            pct(self.worst_slowdown_error),
            pct(self.worst_pages_error),
            pct(self.worst_period_error)
        )
    }
}
