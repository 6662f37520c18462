//! The Remus slowdown model: pure functions from (trace, profile) to per-interval predictions.
//! No I/O, no clocks: everything it knows comes in through its arguments.
//!
//! Terms and sources (reference/model.md):
//! - epoch semantics and the achieved-rate fixed point: libxl_remus.c (timer armed after
//!   commit) vs the old Python `remus` tool (`max(τ, T_ckpt)`); Remus paper, NSDI 2008 §3.3
//!   (40/s configured, about half achieved) — `epoch`;
//! - dirty-set growth: measured per interval as unions of base-epoch sets (design.md), log-log
//!   interpolated between measured intervals only (qemu-devel, "Migration time prediction
//!   using calc-dirty-rate", 2023: sub-linear growth) — `curve`;
//! - pause `t_suspend + D·c_page` (Remus paper Figure 5: ≈0.6 ms + 3.7 µs/page) and the
//!   stream-v2 policy of Xen ≥ 4.6 (xg_sr_save.c), CLEAN walk per GiB — `checkpoint`;
//! - send time, bandwidth, output-commit latency (§4), log-dirty faults with/without PML
//!   (§5), Dom-0 CPU and what pinning buys (§7) — `checkpoint`, `predict`; the Dom-0 term
//!   from the profile or measured in Dom-0 by a Xen trace — `dom0`;
//! - the verdict: shortest interval meeting every limit — `verdict`.

mod checkpoint;
mod curve;
mod dom0;
mod epoch;
pub mod fit;
mod observer;
mod params;
mod predict;
mod report;
mod series;
mod text;
pub mod validate;
mod verdict;

pub use checkpoint::{checkpoint, Checkpoint, Guest};
pub use curve::{Basis, DirtyCurve, WorkingSet, WorkingSetSource};
pub use dom0::{Dom0Basis, Dom0Source, Dom0Sums, MIN_CALIBRATION_PAGES};
pub use epoch::{epoch_length, steady_state, work_in, SteadyState};
pub use observer::ObserverBasis;
pub use params::{Constant, Costs, Dom0Placement, IntervalSemantics, Limits, PausePolicy, Profile};
pub use report::{
    CurvePoint, HostValidation, IntervalPrediction, LimitCheck, ModelReport, ProfileSummary, Stat,
    TraceSummary,
};
pub use series::{
    interval_series, quantile, weighted_quantile, IntervalSeries, SeriesBuilder, Window,
};
pub use text::{interval_table, limit_table};
pub use verdict::describe_failure;

use crate::observer::ObserverEffect;
use crate::trace::{End, Epoch, Trace, TraceHeader};
use predict::{predict_interval, Inputs};

/// What to predict beyond the defaults.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ModelOptions {
    /// Intervals to predict, ms; `None` for every interval the trace measured.
    pub intervals: Option<Vec<u64>>,
    /// Allow intervals the trace did not measure, between two it did (marked `interpolated`).
    pub interpolate: bool,
    /// Also beyond the measured intervals, from the nearest one (marked `extrapolated`): for
    /// `trial`'s validation, which must predict the intervals Remus ran at.
    pub extrapolate: bool,
    /// The observer effect to use in place of the trace's own (`trial` measures it with the
    /// user's probe around its exclusive measure).
    pub observer_effect: Option<ObserverEffect>,
}

/// Why the model cannot answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    #[error("the trace has no complete window for any interval ({epochs} epoch(s) recorded): measure for longer than the longest interval")]
    NothingMeasured { epochs: usize },
    #[error("the trace did not measure {interval_ms} ms (it measured {measured}): pick one of those, or pass --interpolate for an interval between two of them")]
    NotMeasured { interval_ms: u64, measured: String },
    #[error("{interval_ms} ms is outside the measured intervals ({measured}): the model interpolates between measured intervals only, never beyond them")]
    OutsideRange { interval_ms: u64, measured: String },
}

/// What the model reads from a trace, gathered in one pass over its epochs: the per-interval
/// series, totals and Dom-0 sums. Nothing per epoch is kept, so a day-long trace streamed
/// from its file is modelled in the memory of its series (see `series`).
pub struct TraceFigures {
    pub header: TraceHeader,
    pub end: End,
    pub epochs: usize,
    /// Seconds measured and bytes written, summed over the epochs.
    pub total_len: f64,
    pub total_write: f64,
    pub dom0: Dom0Sums,
    pub series: Vec<IntervalSeries>,
}

/// Builds `TraceFigures` as epochs stream by.
pub struct FiguresBuilder {
    header: TraceHeader,
    epochs: usize,
    total_len: f64,
    total_write: f64,
    dom0: Dom0Sums,
    series: SeriesBuilder,
}

impl FiguresBuilder {
    pub fn new(header: &TraceHeader) -> Self {
        Self {
            header: header.clone(),
            epochs: 0,
            total_len: 0.0,
            total_write: 0.0,
            dom0: Dom0Sums::default(),
            series: SeriesBuilder::new(header),
        }
    }

    pub fn push(&mut self, epoch: &Epoch) {
        self.epochs += 1;
        self.total_len += (epoch.end_s - epoch.start_s).max(0.0);
        self.total_write += epoch.write_bytes as f64;
        self.dom0.push(epoch);
        self.series.push(epoch);
    }

    pub fn finish(self, end: End) -> TraceFigures {
        TraceFigures {
            header: self.header,
            end,
            epochs: self.epochs,
            total_len: self.total_len,
            total_write: self.total_write,
            dom0: self.dom0,
            series: self.series.finish(),
        }
    }
}

impl TraceFigures {
    pub fn from_trace(trace: &Trace) -> Self {
        let mut builder = FiguresBuilder::new(&trace.header);
        for epoch in &trace.epochs {
            builder.push(epoch);
        }
        builder.finish(trace.end.clone())
    }
}

/// Models `trace` under `profile`: one prediction per interval, and the verdict.
pub fn predict(
    trace: &Trace,
    profile: &Profile,
    options: &ModelOptions,
) -> Result<ModelReport, ModelError> {
    predict_figures(&TraceFigures::from_trace(trace), profile, options)
}

/// `predict` from figures gathered in one pass (a trace streamed from its file).
pub fn predict_figures(
    trace: &TraceFigures,
    profile: &Profile,
    options: &ModelOptions,
) -> Result<ModelReport, ModelError> {
    let series = &trace.series;
    if series.is_empty() {
        return Err(ModelError::NothingMeasured {
            epochs: trace.epochs,
        });
    }
    let header = &trace.header;
    let guest = Guest {
        page_size: header.page_size as f64,
        memory_bytes: header.memory_bytes as f64,
    };
    let observer = ObserverBasis::new(header, &trace.end, options.observer_effect.clone());
    let curve = dirty_curve(header, &trace.end, series, &observer);
    let (total_len, total_write) = (trace.total_len, trace.total_write);
    let write_rate = if total_len > 0.0 {
        total_write / total_len
    } else {
        0.0
    };
    let dom0 = Dom0Basis::from_sums(&trace.dom0, &profile.costs);
    let inputs = Inputs {
        costs: &profile.costs,
        dom0: &dom0,
        limits: &profile.limits,
        guest,
        curve: &curve,
        write_rate,
    };
    let measured: Vec<u64> = series.iter().map(|s| s.interval_ms).collect();
    let measured_text = measured
        .iter()
        .map(|ms| format!("{ms} ms"))
        .collect::<Vec<_>>()
        .join(", ");
    let wanted = options
        .intervals
        .clone()
        .unwrap_or_else(|| measured.clone());
    let mut intervals = Vec::with_capacity(wanted.len());
    for interval_ms in wanted {
        if let Some(s) = series.iter().find(|s| s.interval_ms == interval_ms) {
            intervals.push(predict_interval(&inputs, interval_ms, s, Basis::Measured));
            continue;
        }
        if !options.interpolate {
            return Err(ModelError::NotMeasured {
                interval_ms,
                measured: measured_text,
            });
        }
        // The nearest shorter measured interval lends its windows' spread.
        let below = series.iter().rev().find(|s| s.interval_ms < interval_ms);
        let inside = below.is_some() && series.iter().any(|s| s.interval_ms > interval_ms);
        if !inside && options.extrapolate {
            let nearest = below.unwrap_or(&series[0]);
            intervals.push(predict_interval(
                &inputs,
                interval_ms,
                nearest,
                Basis::Extrapolated,
            ));
            continue;
        }
        let Some(below) = below.filter(|_| inside) else {
            return Err(ModelError::OutsideRange {
                interval_ms,
                measured: measured_text,
            });
        };
        intervals.push(predict_interval(
            &inputs,
            interval_ms,
            below,
            Basis::Interpolated,
        ));
    }
    intervals.sort_by_key(|p| p.interval_ms);
    intervals.dedup_by_key(|p| p.interval_ms);
    let verdict = verdict::verdict(&intervals, &profile.name, profile.limits.network_buffering);
    let curve_points = series
        .iter()
        .map(|s| {
            let mut dirty: Vec<(f64, u64)> =
                s.weighted().map(|(w, k)| (w.dirty_pages, k)).collect();
            CurvePoint {
                interval_ms: s.interval_ms,
                window_ms: s.mean_length_s() * 1e3,
                dirty_pages: Stat {
                    mean: s.mean_dirty(),
                    p50: weighted_quantile(&mut dirty, 0.5),
                    p95: weighted_quantile(&mut dirty, 0.95),
                },
                write_bytes_mean: s.mean_write_bytes(),
            }
        })
        .collect();
    Ok(ModelReport {
        profile: ProfileSummary {
            name: profile.name.clone(),
            host: profile.host.clone(),
            description: profile.description.clone(),
        },
        trace: TraceSummary {
            target: header.target.name.clone(),
            backend: header.backend.clone(),
            method: header.method.name.clone(),
            exact: header.method.exact,
            base_epoch_ms: header.base_epoch_ms,
            epochs: trace.epochs,
            duration_s: total_len,
            memory_bytes: header.memory_bytes,
            page_size: header.page_size,
        },
        link_bytes_per_s: profile.costs.link_bytes_per_s,
        network_buffering: profile.limits.network_buffering,
        dom0,
        warnings: warnings(trace, &intervals, &curve, &observer),
        observer,
        host_validation: profile.validation.clone(),
        intervals,
        recommended_interval_ms: verdict.recommended_interval_ms,
        verdict: verdict.sentence,
        failing: verdict.failing,
        curve: curve_points,
        constants: profile.constants.clone(),
    })
}

/// What a reader of the numbers must know about their basis.
fn warnings(
    trace: &TraceFigures,
    intervals: &[IntervalPrediction],
    curve: &DirtyCurve,
    observer: &ObserverBasis,
) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(effect) = observer
        .effect
        .as_ref()
        .filter(|e| e.fraction > crate::observer::WARN_ABOVE)
    {
        out.push(effect.describe());
    }
    if !trace.header.method.exact {
        out.push(format!(
            "dirty counts come from the `{}` method and are estimates",
            trace.header.method.name
        ));
    }
    if trace.end.reason.is_early() {
        out.push(format!(
            "the trace ended early ({:?}: {}); it may not show the workload's steady state",
            trace.end.reason, trace.end.message
        ));
    }
    if let Some((_, longest)) = curve.measured_range() {
        // The curve's abscissa is the guest's work time: compare the epoch's work with it.
        for p in intervals.iter().filter(|p| {
            p.epoch_dirty_basis == Basis::Extrapolated && p.achieved_epoch_ms > 1.1e3 * longest
        }) {
            out.push(format!(
                "at {} ms the achieved epoch ({:.0} ms) is longer than the longest measured window \
                 ({:.0} ms of the guest's work): its dirty count is scaled linearly, an upper \
                 bound",
                p.interval_ms,
                p.achieved_epoch_ms,
                longest * 1e3
            ));
        }
        let saturated: Vec<String> = intervals
            .iter()
            .filter(|p| p.epoch_dirty_basis == Basis::Saturated)
            .map(|p| format!("{} ms", p.interval_ms))
            .collect();
        if let (false, Some(w)) = (saturated.is_empty(), curve.working_set()) {
            out.push(format!(
                "at {} the guest works longer per epoch than the longest measured window ({:.1} ms \
                 of its work): the dirty count is extrapolated on a curve saturating at the \
                 working set, {}",
                saturated.join(", "),
                longest * 1e3,
                w.describe()
            ));
        }
    }
    for p in intervals.iter().filter(|p| p.basis == Basis::Extrapolated) {
        out.push(format!(
            "{} ms is outside the measured intervals: predicted from the nearest one's windows",
            p.interval_ms
        ));
    }
    for p in intervals.iter().filter(|p| p.basis == Basis::Interpolated) {
        out.push(format!(
            "{} ms was not measured: interpolated between measured intervals, as asked",
            p.interval_ms
        ));
    }
    if let Some(vcpus) = trace.header.host.dom0_vcpus {
        let short: Vec<String> = intervals
            .iter()
            .filter_map(|p| Some((p.interval_ms, p.dom0_cpu_total?)))
            .filter(|&(_, total)| total > f64::from(vcpus))
            .map(|(ms, total)| format!("{ms} ms ({total:.2})"))
            .collect();
        if !short.is_empty() {
            out.push(format!(
                "Dom-0 has {vcpus} vCPU(s) but would need more cores than that under Remus at {}: \
                 checkpoints will queue behind Dom-0's own work; give Dom-0 more CPUs \
                 (dom0_max_vcpus, `remus-tune pin --dom0-cpus`)",
                short.join(", ")
            ));
        }
    }
    out
}

/// The dirty-set curve the model reads, its abscissa in seconds of the guest's own *work*
/// (see `observer`): a trace taken under log-dirty watched a guest slowed by its faults, so
/// its windows hold `1 − observer effect` of their length in work.
pub fn dirty_curve(
    header: &TraceHeader,
    end: &End,
    series: &[IntervalSeries],
    observer: &ObserverBasis,
) -> DirtyCurve {
    let max_pages = header.memory_bytes as f64 / header.page_size.max(1) as f64;
    DirtyCurve::new(
        series
            .iter()
            .map(|s| (s.mean_length_s(), s.mean_dirty()))
            .collect(),
        max_pages,
    )
    .saturating(working_set(end, series))
    .read_at_running_time(observer.at_running_time)
}

/// The working set the curve saturates at: the trace's own count over the whole run, or for an
/// older trace the most pages any window of its longest interval dirtied.
fn working_set(end: &End, series: &[IntervalSeries]) -> Option<WorkingSet> {
    if let Some(pages) = end.working_set_pages {
        return Some(WorkingSet {
            pages: pages as f64,
            source: WorkingSetSource::Trace,
        });
    }
    let longest = series.iter().max_by_key(|s| s.interval_ms)?;
    let most = longest
        .windows
        .iter()
        .map(|w| w.dirty_pages)
        .fold(0.0, f64::max);
    (most > 0.0).then_some(WorkingSet {
        pages: most,
        source: WorkingSetSource::LongestWindowMax,
    })
}

#[cfg(test)]
pub(crate) mod tests;
