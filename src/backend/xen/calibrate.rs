//! Fitting this host's checkpoint costs from real Remus runs (`remus-tune trial`).
//!
//! With libxl's timer armed after each commit (model.md §1), the gap between two
//! consecutive checkpoints is `τ + suspend + pages × per-page (+ commit)`. Each checkpoint
//! after the first (a full live migration, left out) gives one point (pages, gap − τ); a
//! least-squares line through all points of all steps gives the suspend cost (intercept) and
//! the per-page cost (slope). With blackhole mode the per-page cost is the save helper
//! copying a page into the stream with nothing slower behind it: the pause floor.

use super::remus::Checkpoint;
use serde::Serialize;

/// (pages, seconds beyond τ) for every checkpoint but the first.
pub fn points(checkpoints: &[Checkpoint], interval_s: f64, after_s: f64) -> Vec<(f64, f64)> {
    let kept: Vec<&Checkpoint> = checkpoints.iter().skip(1).collect();
    kept.windows(2)
        .filter(|w| w[0].at_s >= after_s)
        .map(|w| (w[1].pages as f64, w[1].at_s - w[0].at_s - interval_s))
        .collect()
}

/// The fitted costs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Fit {
    pub suspend_s: f64,
    /// `None` when every checkpoint had (nearly) the same size: no slope can be told.
    pub per_page_s: Option<f64>,
    pub points: usize,
}

/// Least squares over the points; the intercept is floored at 0, a negative slope is `None`.
pub fn fit(points: &[(f64, f64)]) -> Option<Fit> {
    if points.is_empty() {
        return None;
    }
    let n = points.len() as f64;
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let slope = (sxx > 1e-9 && points.len() >= 3).then(|| sxy / sxx);
    let per_page = slope.filter(|s| *s >= 0.0);
    let intercept = match per_page {
        Some(s) => my - s * mx,
        None => my,
    };
    Some(Fit {
        suspend_s: intercept.max(0.0),
        per_page_s: per_page,
        points: points.len(),
    })
}

/// One step of the trial, for the table and the profile's comments.
#[derive(Debug, Clone, Serialize, PartialEq)]
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

/// The host profile `remus-tune model --host FILE` reads: the shipped `xen-4.17` cost set
/// (profiles/xen-4.17.yaml, every value with its source) with the measured values in place of
/// its defaults, each saying where it came from. Keys the trial does not measure keep the
/// shipped line, so the profile always has every key the model needs.
pub fn render_profile(fit: &Fit, domain: &str, date: &str, steps: &[StepResult]) -> String {
    let base = crate::profile::BUILTIN
        .iter()
        .find(|(name, _)| *name == "xen-4.17")
        .map(|(_, text)| *text)
        .unwrap_or_default();
    let mut out = format!(
        "# Host cost set measured by `remus-tune trial {domain}` on {date}: real `xl remus` in\n\
         # blackhole mode (-F -b -n -d), {} checkpoints fitted (period - interval = suspend +\n\
         # pages x per-page). Values marked `measured` come from this host; every other line is\n\
         # the shipped xen-4.17 profile's, with its source.\n",
        fit.points
    );
    for s in steps {
        out.push_str(&format!(
            "#   -i {} ms: {} checkpoints, {:.1}/s achieved of {:.1}/s, {:.0} pages each, period {:.1} ms{}\n",
            s.interval_ms,
            s.checkpoints,
            s.rate_per_s,
            s.configured_rate_per_s,
            s.mean_pages,
            s.mean_period_ms,
            s.slowdown
                .map(|x| format!(", probe slowdown {:.1} %", x * 100.0))
                .unwrap_or_default()
        ));
    }
    let per_page = fit.per_page_s.map(|s| s * 1e6);
    for line in base.lines().filter(|l| !l.starts_with('#')) {
        let key = line.trim_start().split(':').next().unwrap_or("");
        let replaced = match (key, per_page) {
            ("description", _) => Some(format!(
                "description: \"Measured on this host by remus-tune trial ({domain}, {date})\""
            )),
            ("suspend", _) => Some(format!(
                "  suspend: {:.3}ms  # measured: fitted intercept (suspend + resume + this domain's CLEAN walk)",
                fit.suspend_s * 1e3
            )),
            ("page_copy", Some(us)) => Some(format!(
                "  page_copy: {us:.3}us  # measured: fitted slope, per dirty page while suspended (blackhole stream)"
            )),
            ("page_send_cpu", Some(us)) => Some(format!(
                "  page_send_cpu: {us:.3}us  # measured: the same slope, Dom-0 CPU per page into the stream (no ssh in blackhole mode)"
            )),
            ("clean_per_gib", _) => Some(
                "  clean_per_gib: 0ms  # measured: included in suspend above (same domain)".to_string(),
            ),
            _ => None,
        };
        out.push_str(&replaced.unwrap_or_else(|| line.to_string()));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cps(list: &[(f64, u64)]) -> Vec<Checkpoint> {
        list.iter()
            .map(|&(at_s, pages)| Checkpoint { at_s, pages })
            .collect()
    }

    #[test]
    fn a_known_line_is_recovered() {
        // suspend 2 ms, 10 µs per page, τ = 100 ms; the first checkpoint is the migration.
        let mut t = 5.0;
        let mut list = vec![(t, 32768u64)];
        for pages in [100u64, 500, 300, 900, 50, 700] {
            t += 0.1 + 0.002 + pages as f64 * 10e-6;
            list.push((t, pages));
        }
        let pts = points(&cps(&list), 0.1, 0.0);
        assert_eq!(pts.len(), 5); // the migration and the first gap after it are left out
        let f = fit(&pts).unwrap();
        assert!((f.suspend_s - 0.002).abs() < 1e-6, "{f:?}");
        assert!((f.per_page_s.unwrap() - 10e-6).abs() < 1e-9, "{f:?}");
    }

    #[test]
    fn equal_sizes_give_no_slope() {
        let f = fit(&[(100.0, 0.003), (100.0, 0.005), (100.0, 0.004)]).unwrap();
        assert_eq!(f.per_page_s, None);
        assert!((f.suspend_s - 0.004).abs() < 1e-12);
        assert!(fit(&[]).is_none());
    }

    #[test]
    fn profile_carries_the_fit() {
        let f = Fit {
            suspend_s: 0.0021,
            per_page_s: Some(4.2e-6),
            points: 40,
        };
        let text = render_profile(&f, "Meine-VM", "2026-11-26", &[]);
        assert!(text.contains("suspend: 2.100ms"), "{text}");
        assert!(text.contains("page_copy: 4.200us"), "{text}");
        assert!(text.contains("clean_per_gib: 0ms"), "{text}");
        assert!(text.contains("kind: host"));
        // Every key of the shipped cost set is there, once.
        for key in crate::profile::COST_KEYS {
            let n = text
                .lines()
                .filter(|l| l.trim_start().starts_with(&format!("{key}:")))
                .count();
            assert_eq!(n, 1, "{key} in {text}");
        }
    }
}
