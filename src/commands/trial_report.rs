//! What `remus-tune trial` prints and saves: the steps, the fitted costs, measured against
//! predicted (in-sample and leave-one-out), and the accuracy the host profile claims.

use crate::backend::xen::calibrate::StepResult;
use crate::model::validate::{self, Validation};
use crate::model::HostValidation;
use crate::observer::ObserverEffect;
use crate::output::{table, TextReport};
use serde::Serialize;

/// The results, as printed and as saved.
#[derive(Debug, Serialize)]
pub struct TrialReport {
    pub domain: String,
    /// The trace the steps were predicted from.
    pub trace: Option<String>,
    pub observer_effect: Option<ObserverEffect>,
    pub baseline: Option<f64>,
    pub steps: Vec<StepResult>,
    pub suspend_ms: Option<f64>,
    pub per_page_us: Option<f64>,
    /// Everything fitted, with standard errors and what was refused.
    pub fit: Option<crate::model::fit::HostFit>,
    /// Measured against predicted with the costs fitted on every step (in-sample).
    pub validation: Vec<Validation>,
    /// Each interval predicted from costs fitted on the others (leave-one-out).
    pub cross_validation: Vec<Validation>,
    /// Why a validation could not be made.
    pub validation_notes: Vec<String>,
    pub profile: Option<String>,
    pub installed: Option<String>,
    pub interrupted: bool,
}

impl TextReport for TrialReport {
    fn render_text(&self) -> String {
        let mut rows = vec![vec![
            "interval".into(),
            "ckpts".into(),
            "rate/s".into(),
            "of".into(),
            "pages".into(),
            "period ms".into(),
            "Dom-0 CPU".into(),
            "helper CPU".into(),
            "probe".into(),
            "slowdown".into(),
        ]];
        let opt = |v: Option<f64>, f: &dyn Fn(f64) -> String| v.map(f).unwrap_or("-".into());
        for s in &self.steps {
            rows.push(vec![
                format!("{}ms", s.interval_ms),
                s.checkpoints.to_string(),
                format!("{:.1}", s.rate_per_s),
                format!("{:.1}", s.configured_rate_per_s),
                format!("{:.0}", s.mean_pages),
                format!("{:.1}", s.mean_period_ms),
                opt(s.dom0_cpu_per_s, &|x| format!("{:.0} %", x * 100.0)),
                opt(s.helper_cpu_per_s, &|x| format!("{:.0} %", x * 100.0)),
                opt(s.probe, &|x| format!("{x}")),
                opt(s.slowdown, &|x| format!("{:.1} %", x * 100.0)),
            ]);
        }
        let mut text = format!("trial of {} (real xl remus, blackhole)\n", self.domain);
        text += &table(&rows);
        if let Some(b) = self.baseline {
            text += &format!("probe baseline (mean of before and after): {b}\n");
        }
        if let Some(o) = &self.observer_effect {
            text += &format!("{}\n", o.describe());
        }
        text += &fit_text(self.fit.as_ref());
        if !self.validation.is_empty() {
            text += &format!(
                "\nmeasured vs predicted (costs fitted on every step; trace {}):\n",
                self.trace.as_deref().unwrap_or("-")
            );
            text += &validation_table(&self.validation);
        }
        if !self.cross_validation.is_empty() {
            text += "\nleave-one-out (each interval predicted from costs fitted on the others):\n";
            text += &validation_table(&self.cross_validation);
        }
        if let Some(v) = self.host_validation() {
            text += &format!("{}\n", v.sentence());
        }
        for note in &self.validation_notes {
            text += &format!("note: {note}\n");
        }
        if let Some(p) = &self.profile {
            text +=
                &format!("host profile written to {p} (use: remus-tune model TRACE --host {p})\n");
        }
        if let Some(p) = &self.installed {
            text += &format!(
                "host profile installed as {p} (found by name: remus-tune model TRACE --host {} / remus-tune advise {})\n",
                self.domain, self.domain
            );
        }
        for s in &self.steps {
            if !s.note.is_empty() {
                text += &format!("{}ms: {}\n", s.interval_ms, s.note);
            }
        }
        text
    }
}

impl TrialReport {
    /// A report on `domain` with nothing measured, fitted or validated yet.
    pub fn new(domain: String) -> Self {
        Self {
            domain,
            trace: None,
            observer_effect: None,
            baseline: None,
            steps: Vec::new(),
            suspend_ms: None,
            per_page_us: None,
            fit: None,
            validation: Vec::new(),
            cross_validation: Vec::new(),
            validation_notes: Vec::new(),
            profile: None,
            installed: None,
            interrupted: false,
        }
    }

    /// The accuracy the written profile claims: leave-one-out when there was one.
    pub fn host_validation(&self) -> Option<HostValidation> {
        let (method, rows) = if !self.cross_validation.is_empty() {
            ("leave-one-out", &self.cross_validation)
        } else if !self.validation.is_empty() {
            ("in-sample", &self.validation)
        } else {
            return None;
        };
        Some(HostValidation {
            method: method.into(),
            intervals: rows
                .iter()
                .map(|r| format!("{}ms", r.interval_ms))
                .collect::<Vec<_>>()
                .join(","),
            worst_slowdown_error: validate::worst(rows, |v| v.error_slowdown),
            worst_pages_error: validate::worst(rows, |v| v.error_pages),
            worst_period_error: validate::worst(rows, |v| v.error_period),
        })
    }
}

pub fn step_line(s: &StepResult) -> String {
    format!(
        "-i {} ms: {} checkpoints, {:.1}/s achieved of {:.1}/s, {:.0} pages each, period {:.1} ms{}",
        s.interval_ms,
        s.checkpoints,
        s.rate_per_s,
        s.configured_rate_per_s,
        s.mean_pages,
        s.mean_period_ms,
        s.slowdown
            .map(|x| format!(", probe slowdown {:.1} %", x * 100.0))
            .unwrap_or_default()
    )
}

pub fn validation_line(v: &Validation) -> String {
    let pct = |e: Option<f64>| e.map_or("-".into(), |e| format!("{:+.0} %", e * 100.0));
    format!(
        "-i {} ms: slowdown {} vs {:.1} % predicted ({}), pages {:.0} vs {:.0} ({}), period {:.1} vs {:.1} ms ({})",
        v.interval_ms,
        v.measured_slowdown
            .map_or("-".into(), |s| format!("{:.1} %", s * 100.0)),
        v.predicted_slowdown * 100.0,
        pct(v.error_slowdown),
        v.measured_pages,
        v.predicted_pages,
        pct(v.error_pages),
        v.measured_period_ms,
        v.predicted_period_ms,
        pct(v.error_period)
    )
}

/// The fitted costs in words.
fn fit_text(fit: Option<&crate::model::fit::HostFit>) -> String {
    let Some(fit) = fit else {
        return "too few checkpoints to fit costs\n".into();
    };
    let mut text = format!(
        "fitted over {} checkpoints: suspend {}",
        fit.period.points,
        fit.period.suspend_s.describe(1e3, "ms")
    );
    if let Some(p) = fit.period.per_page_s {
        text += &format!(", {} per page", p.describe(1e6, "us"));
    }
    text.push('\n');
    for why in &fit.period.refused {
        text += &format!("not fitted: {why}\n");
    }
    match &fit.guest {
        Ok(g) => text += &format!("guest-side: {}\n", g.note),
        Err(why) => text += &format!("guest-side costs not fitted: {why}\n"),
    }
    if let Some(p) = fit.suspend_pages {
        text += &format!(
            "suspend pages (sent beyond the trace's dirty count): {}\n",
            p.describe(1.0, "pages")
        );
    }
    text
}

/// Measured against predicted, one row per interval, with the relative errors.
fn validation_table(rows: &[Validation]) -> String {
    let pct = |e: Option<f64>| e.map_or("-".into(), |e| format!("{:+.0}%", e * 100.0));
    let mut table_rows = vec![[
        "interval",
        "ckpt/s",
        "err",
        "pages",
        "err",
        "period ms",
        "err",
        "pause ms",
        "err",
        "slowdown",
        "err",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect::<Vec<_>>()];
    for v in rows {
        table_rows.push(vec![
            format!("{}ms", v.interval_ms),
            format!(
                "{:.2} / {:.2}",
                v.measured_checkpoints_per_s, v.predicted_checkpoints_per_s
            ),
            pct(v.error_checkpoints_per_s),
            format!(
                "{:.0} / {:.0}{}",
                v.measured_pages,
                v.predicted_pages,
                match v.pages_basis {
                    crate::model::Basis::Extrapolated => " (x)",
                    crate::model::Basis::Saturated => " (s)",
                    _ => "",
                }
            ),
            pct(v.error_pages),
            format!("{:.1} / {:.1}", v.measured_period_ms, v.predicted_period_ms),
            pct(v.error_period),
            format!("{:.1} / {:.1}", v.measured_pause_ms, v.predicted_pause_ms),
            pct(v.error_pause),
            format!(
                "{} / {:.1}%",
                v.measured_slowdown
                    .map_or("-".into(), |s| format!("{:.1}%", s * 100.0)),
                v.predicted_slowdown * 100.0
            ),
            pct(v.error_slowdown),
        ]);
    }
    let mut text = table(&table_rows);
    text += "(measured / predicted; err = (predicted - measured) / measured; pause measured as period - interval; \
             pages (x): the epoch's work is beyond the trace's longest window, scaled linearly; (s): the same, \
             saturating at the trace's working set)\n";
    text
}
