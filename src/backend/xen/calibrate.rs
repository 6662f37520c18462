//! A trial step's checkpoints as the fits need them (`remus-tune trial`).
//!
//! With libxl's timer armed after each commit (model.md §1), the gap between two
//! consecutive checkpoints is `τ + suspend + pages × per-page (+ commit)`. Each checkpoint
//! after the first (a full live migration, left out) gives one point (pages, gap − τ); the
//! fit itself is the model's (`crate::model::fit`). With blackhole mode the per-page cost is
//! the save helper copying a page into the stream with nothing slower behind it: the pause
//! floor.

use super::remus::Checkpoint;
use serde::{Deserialize, Serialize};

/// (pages, seconds beyond τ) for every checkpoint but the first.
pub fn points(checkpoints: &[Checkpoint], interval_s: f64, after_s: f64) -> Vec<(f64, f64)> {
    let kept: Vec<&Checkpoint> = checkpoints.iter().skip(1).collect();
    kept.windows(2)
        .filter(|w| w[0].at_s >= after_s)
        .map(|w| (w[1].pages as f64, w[1].at_s - w[0].at_s - interval_s))
        .collect()
}

/// One step of the trial, for the table and the profile's comments.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StepResult {
    pub interval_ms: u64,
    /// Seconds counted (after --settle).
    pub counted_s: f64,
    /// Checkpoints after the first.
    pub checkpoints: usize,
    /// Achieved checkpoints per second, against 1/τ configured.
    pub rate_per_s: f64,
    pub configured_rate_per_s: f64,
    pub mean_pages: f64,
    pub mean_period_ms: f64,
    /// Dom-0 CPU (all vCPUs) per second of the step.
    pub dom0_cpu_per_s: Option<f64>,
    /// The save helper's CPU per second of the step.
    pub helper_cpu_per_s: Option<f64>,
    /// The probe's number during this step.
    pub probe: Option<f64>,
    /// 1 − probe / baseline (mean of before and after).
    pub slowdown: Option<f64>,
    /// Every counted checkpoint's period (ms since the one before) and pages, in order: what
    /// `trial --replay` refits from. Absent in the JSON of older trials (step means only).
    #[serde(default)]
    pub checkpoint_period_ms: Vec<f64>,
    #[serde(default)]
    pub checkpoint_pages: Vec<u64>,
    /// How the step ended and the guest's state after it.
    pub note: String,
}

/// Summarises a step's checkpoints counted after `after_s`.
pub fn summarize_step(
    checkpoints: &[Checkpoint],
    interval_ms: u64,
    after_s: f64,
    end_s: f64,
) -> (usize, f64, f64, f64) {
    let counted: Vec<&Checkpoint> = checkpoints
        .iter()
        .skip(1)
        .filter(|c| c.at_s >= after_s)
        .collect();
    let span = (end_s - after_s).max(1e-9);
    let mean_pages = if counted.is_empty() {
        0.0
    } else {
        counted.iter().map(|c| c.pages as f64).sum::<f64>() / counted.len() as f64
    };
    let mean_period_ms = if counted.len() >= 2 {
        (counted[counted.len() - 1].at_s - counted[0].at_s) / (counted.len() - 1) as f64 * 1e3
    } else {
        f64::NAN
    };
    let _ = interval_ms;
    (
        counted.len(),
        counted.len() as f64 / span,
        mean_pages,
        mean_period_ms,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_leave_out_the_migration_and_the_gap_after_it() {
        // suspend 2 ms, 10 µs per page, τ = 100 ms; the first checkpoint is the migration.
        let mut t = 5.0;
        let mut list = vec![Checkpoint {
            at_s: t,
            pages: 32768,
        }];
        for pages in [100u64, 500, 300, 900, 50, 700] {
            t += 0.1 + 0.002 + pages as f64 * 10e-6;
            list.push(Checkpoint { at_s: t, pages });
        }
        let pts = points(&list, 0.1, 0.0);
        assert_eq!(pts.len(), 5);
        assert_eq!(pts[0].0, 500.0);
        assert!((pts[0].1 - (0.002 + 500.0 * 10e-6)).abs() < 1e-9);
        let (count, _, mean_pages, period_ms) = summarize_step(&list, 100, 0.0, t);
        assert_eq!(count, 6);
        assert!((mean_pages - 425.0).abs() < 1e-9);
        assert!(period_ms > 100.0);
    }
}
