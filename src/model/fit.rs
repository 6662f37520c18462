//! Least-squares fits of a host's checkpoint costs from real Remus runs (`remus-tune trial`),
//! each parameter with its standard error. Pure: the trial measures, this module fits.
//!
//! Three fits, each explaining one thing the trial measures:
//!
//! - **Period** (model.md §1, §3): with libxl's timer armed after each commit, the gap between
//!   two checkpoints is `τ + suspend + pages × per-page`. One point per checkpoint: intercept
//!   `suspend`, slope the per-page cost. In blackhole mode this is also the pause: the guest
//!   stays suspended while its pages go into the stream.
//! - **Guest** (model.md §5, §10): what the guest loses *between* checkpoints, beyond the pause.
//!   A probe's slowdown `s` over a step of period `T` means the guest did `(1 − s)·T` of work
//!   per period: `τ − (1 − s)·T = fault × pages − handshake`, with `fault` the log-dirty write
//!   faults per page sent and `handshake` the signed time the guest runs beyond τ per period
//!   (it keeps running while Remus's suspend request waits for it to freeze and acknowledge,
//!   and loses time at the resume: only the net is identifiable). One point per step.
//! - **Suspend pages**: pages Remus sent per checkpoint beyond what the trace says the guest
//!   dirties in the work it did: the guest's own suspend/resume writes.
//!
//! A parameter the data cannot tell apart from zero, or from the other parameter, is refused
//! with the reason, never reported as a number.

use serde::Serialize;

/// A fitted value and its standard error (`None` when there are no spare degrees of freedom
/// to estimate one: as many points as parameters).
#[derive(Serialize, Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    pub value: f64,
    pub std_error: Option<f64>,
}

impl Estimate {
    /// True when the value is more than one standard error from zero (unknown error: true).
    pub fn distinct_from_zero(&self) -> bool {
        self.std_error.is_none_or(|se| self.value.abs() > se)
    }

    /// `12.3 ± 0.4` in the unit `scale` converts to, e.g. `(1e6, "us")`.
    pub fn describe(&self, scale: f64, unit: &str) -> String {
        match self.std_error {
            Some(se) => format!("{:.3} ± {:.3} {unit}", self.value * scale, se * scale),
            None => format!(
                "{:.3} {unit} (no error estimate: no spare points)",
                self.value * scale
            ),
        }
    }
}

/// Why a fit could not be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FitError {
    #[error("no checkpoints to fit (every step ended before its second checkpoint)")]
    NoPoints,
    #[error("{0} non-finite value(s) among the points: the measurement is broken")]
    NotFinite(usize),
    #[error("the guest-side costs need the probe's slowdown at two or more intervals (got {0}): run `trial` with --probe and --intervals A,B[,C]")]
    TooFewSteps(usize),
}

/// A least-squares line `y = intercept + slope · x`.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Line {
    intercept: Estimate,
    slope: Estimate,
}

/// Sums the fits share.
struct Moments {
    n: f64,
    mean_x: f64,
    mean_y: f64,
    sxx: f64,
    sxy: f64,
    syy: f64,
}

fn moments(points: &[(f64, f64)]) -> Moments {
    let n = points.len() as f64;
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let (mut sxx, mut sxy, mut syy) = (0.0, 0.0, 0.0);
    for &(x, y) in points {
        sxx += (x - mean_x) * (x - mean_x);
        sxy += (x - mean_x) * (y - mean_y);
        syy += (y - mean_y) * (y - mean_y);
    }
    Moments {
        n,
        mean_x,
        mean_y,
        sxx,
        sxy,
        syy,
    }
}

fn check_finite(points: &[(f64, f64)]) -> Result<(), FitError> {
    let bad = points
        .iter()
        .filter(|p| !p.0.is_finite() || !p.1.is_finite())
        .count();
    if bad > 0 {
        return Err(FitError::NotFinite(bad));
    }
    Ok(())
}

/// True when the x values spread too little for a slope: their standard deviation is below
/// 2 % of their mean (checkpoints of one size), or there are fewer than three points.
fn too_little_spread(m: &Moments) -> bool {
    let sd = (m.sxx / m.n).sqrt();
    m.n < 3.0 || sd <= 0.02 * m.mean_x.abs().max(1e-12)
}

/// Ordinary least squares with the textbook standard errors (residual variance over n − 2).
fn line(m: &Moments) -> Line {
    let slope = m.sxy / m.sxx;
    let intercept = m.mean_y - slope * m.mean_x;
    let rss = (m.syy - slope * m.sxy).max(0.0);
    let dof = m.n - 2.0;
    let (se_slope, se_intercept) = if dof > 0.0 {
        let s2 = rss / dof;
        (
            Some((s2 / m.sxx).sqrt()),
            Some((s2 * (1.0 / m.n + m.mean_x * m.mean_x / m.sxx)).sqrt()),
        )
    } else {
        (None, None)
    };
    Line {
        intercept: Estimate {
            value: intercept,
            std_error: se_intercept,
        },
        slope: Estimate {
            value: slope,
            std_error: se_slope,
        },
    }
}

/// The mean of the y values, as a constant with the standard error of a mean.
fn constant(m: &Moments) -> (Estimate, f64) {
    let rss = m.syy;
    let se = (m.n > 1.0).then(|| (rss / (m.n - 1.0) / m.n).sqrt());
    (
        Estimate {
            value: m.mean_y,
            std_error: se,
        },
        rss,
    )
}

/// A line through the origin `y = slope · x`.
fn proportional(points: &[(f64, f64)]) -> (Estimate, f64) {
    let sxx: f64 = points.iter().map(|p| p.0 * p.0).sum();
    let sxy: f64 = points.iter().map(|p| p.0 * p.1).sum();
    let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
    let rss: f64 = points.iter().map(|p| (p.1 - slope * p.0).powi(2)).sum();
    let n = points.len() as f64;
    let se = (n > 1.0 && sxx > 0.0).then(|| (rss / (n - 1.0) / sxx).sqrt());
    (
        Estimate {
            value: slope,
            std_error: se,
        },
        rss,
    )
}

/// The period fit: this host's suspend and per-page costs.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct PeriodFit {
    /// Seconds per checkpoint beyond τ that do not depend on its size (suspend, resume, the
    /// CLEAN walk, device hooks), floored at 0.
    pub suspend_s: Estimate,
    /// Seconds per page sent; `None` when the checkpoints cannot tell it (see `refused`).
    pub per_page_s: Option<Estimate>,
    pub points: usize,
    /// Why a parameter was not fitted.
    pub refused: Vec<String>,
}

/// Fits `(pages, seconds beyond τ)` points, one per checkpoint.
pub fn fit_period(points: &[(f64, f64)]) -> Result<PeriodFit, FitError> {
    if points.is_empty() {
        return Err(FitError::NoPoints);
    }
    check_finite(points)?;
    let m = moments(points);
    let mut refused = Vec::new();
    let mut per_page = None;
    let mut suspend = constant(&m).0;
    if too_little_spread(&m) {
        refused.push(format!(
            "per-page cost: the {} checkpoint(s) had nearly one size ({:.0} pages on average): \
             no slope can be told; try intervals further apart",
            points.len(),
            m.mean_x
        ));
    } else {
        let fitted = line(&m);
        if fitted.slope.value < 0.0 || !significant(&fitted.slope) {
            refused.push(format!(
                "per-page cost: the fit gives {} per page, negative or within {SLOPE_SIGMAS} \
                 standard errors of zero: larger checkpoints did not take longer",
                fitted.slope.describe(1e6, "us")
            ));
        } else if fitted.intercept.value < 0.0 {
            // A line that needs a negative suspend is no cost model: flooring its intercept
            // at 0 and keeping the slope overstates every period (the Xen lab: 4.3 ms per
            // page from checkpoints of 500-650 pages, intercept -1.8 s). Larger checkpoints
            // came with longer handshakes, during which the guest dirtied more pages.
            refused.push(format!(
                "per-page cost: the fit gives {} per page but a negative suspend ({}): the \
                 slope is not a per-page cost (checkpoints that took longer carried more pages, \
                 not the other way round), so the suspend cost is the mean",
                fitted.slope.describe(1e6, "us"),
                fitted.intercept.describe(1e3, "ms")
            ));
        } else {
            per_page = Some(fitted.slope);
            suspend = fitted.intercept;
        }
    }
    suspend.value = suspend.value.max(0.0);
    Ok(PeriodFit {
        suspend_s: suspend,
        per_page_s: per_page,
        points: points.len(),
        refused,
    })
}

/// The period fit over checkpoints grouped by trial step: as `fit_period`, but a per-page slope
/// is kept only when the checkpoints *within* the steps support it. When the periods differ
/// between steps by more than their sizes explain (the Xen lab: an emulated suspend handshake
/// that varied from step to step, checkpoints of nearly one size), a pooled line reads those
/// differences as a per-page cost; this refuses it and says so. Steps recorded as their means
/// only (one point each, older trial reports) cannot show a within-step slope: refused too.
/// When refused, the suspend cost is the mean of the steps' means, its error from their
/// spread: the step-to-step variation is the uncertainty that matters for predicting another
/// interval, not the checkpoints' count.
pub fn fit_period_by_step(steps: &[Vec<(f64, f64)>]) -> Result<PeriodFit, FitError> {
    let points: Vec<(f64, f64)> = steps.iter().flatten().copied().collect();
    let mut fit = fit_period(&points)?;
    let Some(pooled) = fit.per_page_s else {
        return Ok(fit);
    };
    let filled: Vec<&Vec<(f64, f64)>> = steps.iter().filter(|s| !s.is_empty()).collect();
    if filled.len() < 2 {
        return Ok(fit);
    }
    let refusal = if filled.iter().all(|s| s.len() == 1) {
        Some(format!(
            "per-page cost: the pooled fit gives {} per page, but each step is one point (its \
             means): the slope comes from between-step differences alone, which a per-step \
             cost such as the suspend handshake makes too, so no per-page cost is fitted",
            pooled.describe(1e6, "us")
        ))
    } else {
        within_step_disagreement(&filled, &pooled)
    };
    if let Some(why) = refusal {
        fit.refused.push(why);
        fit.per_page_s = None;
        let means: Vec<(f64, f64)> = filled.iter().map(|s| (0.0, moments(s).mean_y)).collect();
        let mut mean = constant(&moments(&means)).0;
        mean.value = mean.value.max(0.0);
        fit.suspend_s = mean;
    }
    Ok(fit)
}

/// Why the within-step slope contradicts `pooled` (more than 3 standard errors apart), if it
/// does.
fn within_step_disagreement(steps: &[&Vec<(f64, f64)>], pooled: &Estimate) -> Option<String> {
    // Within-step slope: each step's points centred on that step's means.
    let (mut sxx, mut sxy, mut n) = (0.0, 0.0, 0.0);
    let mut residual = Vec::new();
    for step in steps {
        let m = moments(step);
        sxx += m.sxx;
        sxy += m.sxy;
        n += m.n;
        residual.push(m);
    }
    let within = if sxx > 0.0 { sxy / sxx } else { 0.0 };
    let rss: f64 = residual
        .iter()
        .map(|m| (m.syy - 2.0 * within * m.sxy + within * within * m.sxx).max(0.0))
        .sum();
    let dof = n - steps.len() as f64 - 1.0;
    let se_within = (dof > 0.0 && sxx > 0.0).then(|| (rss / dof / sxx).sqrt());
    let disagree = match (se_within, pooled.std_error) {
        (Some(w), Some(p)) => (pooled.value - within).abs() > 3.0 * (w * w + p * p).sqrt(),
        _ => false,
    };
    disagree.then(|| {
        format!(
            "per-page cost: the pooled fit gives {} per page but the checkpoints within each step \
             give {}: the periods differ between intervals by more than their sizes explain \
             (a per-step cost such as the suspend handshake), so no per-page cost is fitted",
            pooled.describe(1e6, "us"),
            Estimate {
                value: within,
                std_error: se_within
            }
            .describe(1e6, "us")
        )
    })
}

/// One trial step as the guest fit sees it.
#[derive(Serialize, Clone, Copy, Debug, PartialEq)]
pub struct GuestStep {
    /// Configured interval τ, seconds.
    pub interval_s: f64,
    /// Measured mean period, seconds.
    pub period_s: f64,
    /// Mean pages sent per checkpoint.
    pub pages: f64,
    /// The probe's slowdown during the step, a fraction.
    pub slowdown: f64,
}

impl GuestStep {
    /// Guest seconds of τ not worked per checkpoint: `τ − (1 − s)·T`. Negative when the guest
    /// worked longer than τ per period (it ran during part of the checkpoint).
    pub fn loss_s(&self) -> f64 {
        self.interval_s - (1.0 - self.slowdown) * self.period_s
    }
}

/// Which terms the guest fit kept.
#[derive(Serialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum GuestForm {
    /// A per-page fault cost and a signed per-checkpoint handshake term.
    FaultAndHandshake,
    /// A per-page fault cost only.
    Fault,
    /// A signed per-checkpoint handshake term only.
    Handshake,
}

/// The guest-side fit: `τ − (1 − s)·T = fault × pages − handshake`, one point per step.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct GuestFit {
    pub form: GuestForm,
    /// Guest seconds lost per page sent (log-dirty write faults), PML amortisation included.
    pub fault_s: Option<Estimate>,
    /// Signed guest running time per checkpoint beyond τ: positive when the guest runs during
    /// the suspend handshake for longer than it loses at the resume, negative otherwise.
    pub handshake_s: Option<Estimate>,
    pub steps: usize,
    /// Why this form, in words.
    pub note: String,
}

/// A slope is kept only this many standard errors from zero: at one, a third of pure-noise
/// slopes would pass, and a per-page term wrongly kept extrapolates badly.
const SLOPE_SIGMAS: f64 = 2.0;

fn significant(e: &Estimate) -> bool {
    e.std_error
        .is_some_and(|se| e.value.abs() > SLOPE_SIGMAS * se)
}

/// Fits the guest's loss beyond the pause: a per-page fault cost and the signed handshake term
/// when the steps tell them apart (three or more steps of different sizes, the fault slope
/// positive and two standard errors from zero), else the one term that explains the steps
/// better (least residual; a negative fault cost is no candidate), and says which and why.
pub fn fit_guest(steps: &[GuestStep]) -> Result<GuestFit, FitError> {
    if steps.len() < 2 {
        return Err(FitError::TooFewSteps(steps.len()));
    }
    let points: Vec<(f64, f64)> = steps.iter().map(|s| (s.pages, s.loss_s())).collect();
    check_finite(&points)?;
    let m = moments(&points);
    let mut why = Vec::new();
    if too_little_spread(&m) {
        why.push(if steps.len() < 3 {
            format!(
                "two terms need three or more steps with a probe ({} here)",
                steps.len()
            )
        } else {
            format!(
                "the steps' checkpoints were of nearly one size ({:.0} pages): a fault cost \
                 cannot be told from the handshake",
                m.mean_x
            )
        });
    } else {
        let both = line(&m);
        let handshake = Estimate {
            value: -both.intercept.value,
            std_error: both.intercept.std_error,
        };
        if both.slope.value > 0.0 && significant(&both.slope) {
            return Ok(GuestFit {
                form: GuestForm::FaultAndHandshake,
                fault_s: Some(both.slope),
                handshake_s: Some(handshake),
                steps: steps.len(),
                note: format!(
                    "both terms fitted over {} steps: fault {} per page, handshake {} per \
                     checkpoint (signed: + the guest runs beyond τ)",
                    steps.len(),
                    both.slope.describe(1e6, "us"),
                    handshake.describe(1e3, "ms")
                ),
            });
        }
        why.push(format!(
            "with both terms the fit gives fault {} per page and handshake {} per checkpoint: \
             the fault cost is negative or within {SLOPE_SIGMAS} standard errors of zero",
            both.slope.describe(1e6, "us"),
            handshake.describe(1e3, "ms")
        ));
    }
    let (fault, fault_rss) = proportional(&points);
    let (mean_loss, handshake_rss) = constant(&m);
    let handshake = Estimate {
        value: -mean_loss.value,
        std_error: mean_loss.std_error,
    };
    let why = why.join("; ");
    Ok(if fault.value > 0.0 && fault_rss <= handshake_rss {
        GuestFit {
            form: GuestForm::Fault,
            fault_s: Some(fault),
            handshake_s: None,
            steps: steps.len(),
            note: format!(
                "{why}; a per-page fault cost alone explains the steps better than a handshake \
                 term alone: {} per page",
                fault.describe(1e6, "us")
            ),
        }
    } else {
        GuestFit {
            form: GuestForm::Handshake,
            fault_s: None,
            handshake_s: Some(handshake),
            steps: steps.len(),
            note: format!(
                "{why}; a signed handshake term alone explains the steps {}: {} per checkpoint \
                 ({})",
                if fault.value > 0.0 {
                    "better than a fault cost alone"
                } else {
                    "(a fault cost alone would be negative)"
                },
                handshake.describe(1e3, "ms"),
                if handshake.value >= 0.0 {
                    "the guest works longer than τ per period: it runs during part of each \
                     checkpoint"
                } else {
                    "the guest loses that much of τ at each checkpoint"
                }
            ),
        }
    })
}

/// Pages per checkpoint beyond the trace's dirty count: from `(pages sent, pages the trace
/// says the guest dirtied in the same work)` per step, their mean difference, floored at 0.
pub fn fit_suspend_pages(pairs: &[(f64, f64)]) -> Result<Estimate, FitError> {
    if pairs.is_empty() {
        return Err(FitError::NoPoints);
    }
    check_finite(pairs)?;
    let diffs: Vec<(f64, f64)> = pairs.iter().map(|&(sent, d)| (0.0, sent - d)).collect();
    let (mut estimate, _) = constant(&moments(&diffs));
    estimate.value = estimate.value.max(0.0);
    Ok(estimate)
}

/// Everything `trial` fitted, ready to replace a host cost set's values.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct HostFit {
    pub period: PeriodFit,
    /// `Err` text when the guest-side costs could not be fitted.
    pub guest: Result<GuestFit, String>,
    /// `None` without a trace to compare the pages with.
    pub suspend_pages: Option<Estimate>,
}

impl HostFit {
    /// `base` with the fitted values in place. Keys not fitted keep `base`'s.
    pub fn apply(&self, base: &super::Costs) -> super::Costs {
        let mut costs = base.clone();
        costs.suspend_s = self.period.suspend_s.value;
        // The intercept includes the CLEAN walk and the device hooks of this domain.
        costs.clean_per_gib_s = 0.0;
        costs.devices_s = 0.0;
        if let Some(per_page) = self.period.per_page_s {
            costs.page_copy_s = per_page.value;
            costs.page_send_cpu_s = per_page.value;
        }
        if let Ok(guest) = &self.guest {
            if let Some(fault) = guest.fault_s {
                costs.fault_s = fault.value.max(0.0);
                // Fitted per page sent: PML's amortisation is already in the figure.
                costs.pml = false;
            } else {
                costs.fault_s = 0.0;
            }
            // The fitted handshake is net of any resume loss: the two are one term now.
            costs.handshake_s = guest.handshake_s.map_or(0.0, |h| h.value);
            costs.guest_resume_s = 0.0;
        }
        if let Some(pages) = self.suspend_pages {
            costs.suspend_pages = pages.value;
        }
        costs
    }
}

#[cfg(test)]
mod tests;
