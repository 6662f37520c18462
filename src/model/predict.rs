//! Turns a trace and a profile into one prediction per interval (model.md §8).

use super::checkpoint::{checkpoint, Guest};
use super::curve::{Basis, DirtyCurve};
use super::dom0::Dom0Basis;
use super::epoch::{epoch_length, steady_state, SteadyState};
use super::params::{Costs, Dom0Placement, IntervalSemantics, Limits};
use super::report::{IntervalPrediction, LimitCheck, Stat};
use super::series::{weighted_quantile, IntervalSeries, Window};

/// The measured windows of one interval and the curve they sit on.
pub(super) struct Inputs<'a> {
    pub costs: &'a Costs,
    /// The Dom-0 term's per-page cost and baseline (profile or measured).
    pub dom0: &'a Dom0Basis,
    pub limits: &'a Limits,
    pub guest: Guest,
    pub curve: &'a DirtyCurve,
    /// Disk bytes written per second of guest running time, over the whole trace.
    pub write_rate: f64,
}

/// Predicts interval `interval_ms` from `series` (its own windows, or for an interpolated
/// interval the nearest measured one's, rescaled to the curve).
pub(super) fn predict_interval(
    inputs: &Inputs,
    interval_ms: u64,
    series: &IntervalSeries,
    basis: Basis,
) -> IntervalPrediction {
    let costs = inputs.costs;
    let interval_s = interval_ms as f64 / 1000.0;
    let pinned = steady_state(
        costs,
        &inputs.guest,
        inputs.curve,
        inputs.write_rate,
        interval_s,
        false,
    );
    let shared = steady_state(
        costs,
        &inputs.guest,
        inputs.curve,
        inputs.write_rate,
        interval_s,
        true,
    );
    let per_window = distributions(inputs, interval_s, series, &pinned);

    let dom0_s = |state: &SteadyState| {
        inputs
            .dom0
            .checkpoint_cpu_s(costs, state.dirty_pages, state.write_bytes)
    };
    let throughput_pinned = throughput(&pinned, 0.0);
    let throughput_shared = throughput(&shared, dom0_s(&shared));
    let dom0_cpu = dom0_s(&pinned) / pinned.epoch_s;
    let bandwidth = pinned.checkpoint.bytes / pinned.epoch_s;
    let link_share = if costs.link_bytes_per_s.is_finite() && costs.link_bytes_per_s > 0.0 {
        bandwidth / costs.link_bytes_per_s
    } else {
        0.0
    };
    // The pipeline keeps up when a checkpoint's sending fits in the interval (§4); under the
    // old tool's `max` semantics also the whole checkpoint, or the epoch stretches (§1).
    let fits = match costs.interval_semantics {
        IntervalSemantics::AfterCommit => true,
        IntervalSemantics::Max => pinned.checkpoint.ckpt_s <= interval_s,
    };
    let sustainable = pinned.converged && pinned.checkpoint.send_total_s <= interval_s && fits;
    let added_latency_ms = inputs
        .limits
        .network_buffering
        .then_some(per_window.latency_ms);
    let mut prediction = IntervalPrediction {
        interval_ms,
        basis,
        windows: series.count(),
        achieved_epoch_ms: pinned.epoch_s * 1e3,
        epoch_ms: per_window.epoch_ms,
        checkpoints_per_s: 1.0 / pinned.epoch_s,
        configured_checkpoints_per_s: 1.0 / interval_s,
        dirty_pages: per_window.dirty_pages,
        epoch_dirty_basis: pinned.basis,
        checkpoint_mib: per_window.checkpoint_mib,
        pause_ms: per_window.pause_ms,
        throughput_shared,
        throughput_pinned,
        bandwidth_bytes_per_s: bandwidth,
        link_share,
        dom0_cpu,
        dom0_cpu_total: inputs.dom0.baseline_cores.map(|b| b + dom0_cpu),
        added_latency_ms,
        send_ms: pinned.checkpoint.send_total_s * 1e3,
        sustainable,
        limits: Vec::new(),
        meets_limits: false,
    };
    prediction.limits = judge(inputs.limits, &prediction);
    prediction.meets_limits = prediction.limits.iter().all(|check| check.ok);
    prediction
}

/// Share of unprotected throughput: the guest's work time (running time less log-dirty faults
/// and its resume cost), over the epoch; with shared cores the guest also loses `dom0_cpu_s`,
/// the Dom-0 CPU checkpointing burns per epoch (§7; 0 when Dom-0 is pinned apart).
fn throughput(state: &SteadyState, dom0_cpu_s: f64) -> f64 {
    if !state.converged || state.epoch_s <= 0.0 {
        return 0.0;
    }
    let value = (state.work_s - dom0_cpu_s) / state.epoch_s;
    value.clamp(0.0, 1.0)
}

struct Distributions {
    epoch_ms: Stat,
    dirty_pages: Stat,
    checkpoint_mib: Stat,
    pause_ms: Stat,
    latency_ms: Stat,
}

/// Per-window spread around the steady state: each measured window's dirty count is scaled
/// by the curve from its measured length to the achieved running time, so p95 comes from the
/// p95 of D as model.md §4 asks.
fn distributions(
    inputs: &Inputs,
    interval_s: f64,
    series: &IntervalSeries,
    state: &SteadyState,
) -> Distributions {
    let mean_dirty = series.mean_dirty();
    let scale = if mean_dirty > 0.0 {
        state.dirty_pages / mean_dirty
    } else {
        0.0
    };
    let n = series.windows.len();
    let mut columns: [Vec<(f64, u64)>; 5] = std::array::from_fn(|_| Vec::with_capacity(n));
    let mut p95_latency = Vec::with_capacity(n);
    for (window, weight) in series.weighted() {
        let Window {
            dirty_pages,
            write_bytes,
            length_s,
        } = *window;
        let dirty = if mean_dirty > 0.0 {
            dirty_pages * scale
        } else {
            state.dirty_pages
        };
        let writes = if length_s > 0.0 {
            write_bytes * state.running_s / length_s
        } else {
            write_bytes
        };
        let ckpt = checkpoint(
            inputs.costs,
            &inputs.guest,
            dirty,
            writes,
            interval_s,
            false,
        );
        let epoch = epoch_length(inputs.costs.interval_semantics, interval_s, ckpt.ckpt_s);
        let running = (epoch - ckpt.pause_s).max(0.0);
        columns[0].push((epoch * 1e3, weight));
        columns[1].push((dirty, weight));
        columns[2].push((ckpt.bytes / (1024.0 * 1024.0), weight));
        columns[3].push((ckpt.pause_s * 1e3, weight));
        // A packet sent at a uniform time while the guest runs waits for the rest of the
        // running time, then the whole checkpoint (§4).
        columns[4].push(((running / 2.0 + ckpt.ckpt_s) * 1e3, weight));
        p95_latency.push(((0.95 * running + ckpt.ckpt_s) * 1e3, weight));
    }
    let [mut epoch, mut dirty, mut size, mut pause, mut latency] = columns;
    let mut latency_stat = stat(&mut latency);
    latency_stat.p95 = weighted_quantile(&mut p95_latency, 0.95);
    Distributions {
        epoch_ms: stat(&mut epoch),
        dirty_pages: stat(&mut dirty),
        checkpoint_mib: stat(&mut size),
        pause_ms: stat(&mut pause),
        latency_ms: latency_stat,
    }
}

/// Mean and percentiles of weighted values (each standing for `weight` windows).
fn stat(values: &mut [(f64, u64)]) -> Stat {
    let (sum, n) = values
        .iter()
        .fold((0.0, 0u64), |(s, n), &(v, k)| (s + v * k as f64, n + k));
    let mean = if n == 0 { 0.0 } else { sum / n as f64 };
    Stat {
        mean,
        p50: weighted_quantile(values, 0.5),
        p95: weighted_quantile(values, 0.95),
    }
}

/// Judges every limit the profile sets at one interval.
fn judge(limits: &Limits, p: &IntervalPrediction) -> Vec<LimitCheck> {
    let mut checks = Vec::new();
    let check = |limit: &str, value: f64, max: f64, unit: &str| LimitCheck {
        limit: limit.to_string(),
        value,
        max,
        unit: unit.to_string(),
        ok: value <= max,
    };
    if let Some(max) = limits.max_slowdown {
        let throughput = match limits.dom0 {
            Dom0Placement::Pinned => p.throughput_pinned,
            Dom0Placement::Shared => p.throughput_shared,
        };
        checks.push(check(
            "max_slowdown",
            (1.0 - throughput) * 100.0,
            max * 100.0,
            "%",
        ));
    }
    if let (Some(max), Some(latency)) = (limits.max_added_latency_s, p.added_latency_ms) {
        checks.push(check("max_added_latency", latency.p95, max * 1e3, "ms"));
    }
    if let Some(max) = limits.max_pause_s {
        checks.push(check("max_pause", p.pause_ms.p95, max * 1e3, "ms"));
    }
    if let Some(max) = limits.max_link_share {
        checks.push(check(
            "max_link_share",
            p.link_share * 100.0,
            max * 100.0,
            "%",
        ));
    }
    let mut keeps_up = check("sustainable", p.send_ms, p.interval_ms as f64, "ms");
    keeps_up.ok = p.sustainable;
    checks.push(keeps_up);
    checks
}
