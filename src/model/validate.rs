//! The model against real Remus: what `trial` measured at each interval beside what the model,
//! with the host costs fitted from those steps, predicts for the same guest's trace; and
//! leave-one-out cross-validation, where each interval is predicted from costs fitted on the
//! others only. Pure: the trial measures, this module fits, predicts and compares.

use super::fit::{fit_guest, fit_period_by_step, fit_suspend_pages, GuestStep, HostFit};
use super::{dirty_curve, interval_series, predict, ModelOptions, ObserverBasis, Profile};
use crate::observer::ObserverEffect;
use crate::trace::Trace;
use serde::Serialize;

/// One trial step as measured.
#[derive(Clone, Debug, PartialEq)]
pub struct StepObservation {
    pub interval_ms: u64,
    /// (pages, seconds beyond τ) for every counted checkpoint: the period fit's points.
    pub points: Vec<(f64, f64)>,
    pub checkpoints_per_s: f64,
    pub mean_pages: f64,
    pub period_s: f64,
    /// The probe's slowdown, when there was a probe.
    pub slowdown: Option<f64>,
}

impl StepObservation {
    fn interval_s(&self) -> f64 {
        self.interval_ms as f64 / 1e3
    }

    /// Usable for fits: at least one counted checkpoint with a period.
    fn usable(&self) -> bool {
        !self.points.is_empty() && self.period_s.is_finite() && self.period_s > 0.0
    }
}

/// Fits the host's costs from `steps`; with `trace`, also the suspend pages (pages sent
/// beyond the trace's dirty count at the guest's measured work per period).
pub fn fit_host(
    steps: &[StepObservation],
    trace: Option<&Trace>,
    observer: Option<ObserverEffect>,
) -> Result<HostFit, String> {
    let usable: Vec<&StepObservation> = steps.iter().filter(|s| s.usable()).collect();
    let by_step: Vec<Vec<(f64, f64)>> = usable.iter().map(|s| s.points.clone()).collect();
    let period = fit_period_by_step(&by_step).map_err(|e| e.to_string())?;
    let guest_steps: Vec<GuestStep> = usable
        .iter()
        .filter_map(|s| {
            Some(GuestStep {
                interval_s: s.interval_s(),
                period_s: s.period_s,
                pages: s.mean_pages,
                slowdown: s.slowdown?,
            })
        })
        .collect();
    let guest = fit_guest(&guest_steps).map_err(|e| e.to_string());
    let suspend_pages = trace.and_then(|trace| {
        let series = interval_series(trace);
        if series.is_empty() {
            return None;
        }
        let basis = ObserverBasis::new(&trace.header, &trace.end, observer);
        let curve = dirty_curve(&trace.header, &trace.end, &series, &basis);
        let handshake = guest
            .as_ref()
            .ok()
            .and_then(|g| g.handshake_s)
            .map_or(0.0, |h| h.value);
        let pairs: Vec<(f64, f64)> = usable
            .iter()
            .map(|s| {
                let at = if curve.at_running_time() {
                    // Under log-dirty the curve is read at the running time: τ + handshake.
                    (s.interval_s() + handshake).clamp(0.0, s.period_s)
                } else {
                    // The guest's own work per period: all of τ without a probe.
                    match s.slowdown {
                        Some(slowdown) => (1.0 - slowdown).max(0.0) * s.period_s,
                        None => s.interval_s(),
                    }
                };
                (s.mean_pages, curve.at(at).0)
            })
            .collect();
        fit_suspend_pages(&pairs).ok()
    });
    Ok(HostFit {
        period,
        guest,
        suspend_pages,
    })
}

/// The profile the trial's steps are predicted with: the fitted costs on `base`, with the
/// trial's own setting: blackhole mode (`-b`) sends to /dev/null, so no link, no ack, no
/// network buffering (`-n`).
pub fn blackhole_profile(base: &Profile, fit: &HostFit) -> Profile {
    let mut profile = base.clone();
    profile.costs = fit.apply(&base.costs);
    profile.costs.link_bytes_per_s = f64::INFINITY;
    profile.costs.rtt_s = 0.0;
    profile.costs.stream_buffer_bytes = 0.0;
    profile.limits.network_buffering = false;
    profile
}

/// Measured, predicted, and the relative error `(predicted − measured) / measured`.
#[derive(Serialize, Clone, Copy, Debug, PartialEq)]
pub struct Compared {
    pub measured: f64,
    pub predicted: f64,
    /// `None` when the measured value is 0.
    pub error: Option<f64>,
}

impl Compared {
    fn new(measured: f64, predicted: f64) -> Self {
        let error = (measured.abs() > 1e-12 && measured.is_finite() && predicted.is_finite())
            .then(|| (predicted - measured) / measured);
        Self {
            measured,
            predicted,
            error,
        }
    }
}

/// One interval, measured against predicted; field names are the JSON contract
/// (`validation[].measured_slowdown`, `predicted_pages`, `error_period`, ...).
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct Validation {
    pub interval_ms: u64,
    pub measured_checkpoints_per_s: f64,
    pub predicted_checkpoints_per_s: f64,
    pub error_checkpoints_per_s: Option<f64>,
    pub measured_pages: f64,
    pub predicted_pages: f64,
    pub error_pages: Option<f64>,
    /// How the predicted epoch's dirty count was read off the trace's curve: `measured`,
    /// `interpolated`, `extrapolated` (linear beyond the longest window, an upper bound) or
    /// `saturated` (beyond it, capped by the working set).
    pub pages_basis: super::Basis,
    pub measured_period_ms: f64,
    pub predicted_period_ms: f64,
    pub error_period: Option<f64>,
    /// Measured as period − τ: in blackhole mode the guest stays suspended for the whole
    /// checkpoint.
    pub measured_pause_ms: f64,
    pub predicted_pause_ms: f64,
    pub error_pause: Option<f64>,
    pub measured_slowdown: Option<f64>,
    pub predicted_slowdown: f64,
    pub error_slowdown: Option<f64>,
}

impl Validation {
    fn new(step: &StepObservation, p: &super::IntervalPrediction, suspend_pages: f64) -> Self {
        let rate = Compared::new(step.checkpoints_per_s, p.checkpoints_per_s);
        let pages = Compared::new(step.mean_pages, p.dirty_pages.mean + suspend_pages);
        let period = Compared::new(step.period_s * 1e3, p.achieved_epoch_ms);
        let pause = Compared::new((step.period_s - step.interval_s()) * 1e3, p.pause_ms.mean);
        let predicted_slowdown = 1.0 - p.throughput_pinned;
        let slowdown = step.slowdown.map(|s| Compared::new(s, predicted_slowdown));
        Self {
            interval_ms: step.interval_ms,
            measured_checkpoints_per_s: rate.measured,
            predicted_checkpoints_per_s: rate.predicted,
            error_checkpoints_per_s: rate.error,
            measured_pages: pages.measured,
            predicted_pages: pages.predicted,
            error_pages: pages.error,
            pages_basis: p.epoch_dirty_basis,
            measured_period_ms: period.measured,
            predicted_period_ms: period.predicted,
            error_period: period.error,
            measured_pause_ms: pause.measured,
            predicted_pause_ms: pause.predicted,
            error_pause: pause.error,
            measured_slowdown: step.slowdown,
            predicted_slowdown,
            error_slowdown: slowdown.and_then(|c| c.error),
        }
    }
}

/// Predicts every step in `steps` with `fit` on `base`, for the guest of `trace`.
pub fn compare(
    trace: &Trace,
    base: &Profile,
    fit: &HostFit,
    steps: &[StepObservation],
    observer: Option<ObserverEffect>,
) -> Result<Vec<Validation>, String> {
    let profile = blackhole_profile(base, fit);
    let options = ModelOptions {
        intervals: Some(steps.iter().map(|s| s.interval_ms).collect()),
        interpolate: true,
        extrapolate: true,
        observer_effect: observer,
    };
    let report = predict(trace, &profile, &options).map_err(|e| e.to_string())?;
    Ok(steps
        .iter()
        .filter(|s| s.usable())
        .filter_map(|s| {
            let p = report
                .intervals
                .iter()
                .find(|p| p.interval_ms == s.interval_ms)?;
            Some(Validation::new(s, p, profile.costs.suspend_pages))
        })
        .collect())
}

/// Leave-one-out: each usable step predicted from costs fitted on the others. Needs three or
/// more usable steps (two left to fit on); `Err` says why not.
pub fn leave_one_out(
    trace: &Trace,
    base: &Profile,
    steps: &[StepObservation],
    observer: Option<ObserverEffect>,
) -> Result<Vec<Validation>, String> {
    let usable: Vec<&StepObservation> = steps.iter().filter(|s| s.usable()).collect();
    if usable.len() < 3 {
        return Err(format!(
            "leave-one-out needs three or more intervals with checkpoints ({} here)",
            usable.len()
        ));
    }
    let mut out = Vec::new();
    for (k, held_out) in usable.iter().enumerate() {
        let others: Vec<StepObservation> = usable
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != k)
            .map(|(_, s)| (*s).clone())
            .collect();
        let fit = fit_host(&others, Some(trace), observer.clone())?;
        let mut one = compare(
            trace,
            base,
            &fit,
            std::slice::from_ref(*held_out),
            observer.clone(),
        )?;
        out.append(&mut one);
    }
    Ok(out)
}

/// The worst |relative error| of one field over `rows`.
pub fn worst(rows: &[Validation], field: impl Fn(&Validation) -> Option<f64>) -> Option<f64> {
    rows.iter()
        .filter_map(field)
        .map(f64::abs)
        .fold(None, |acc: Option<f64>, e| {
            Some(acc.map_or(e, |a| a.max(e)))
        })
}

#[cfg(test)]
mod tests;
