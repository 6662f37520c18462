//! `remus-tune trial --replay TRIAL.json`: the fits and the validation again, offline, from
//! what a trial recorded (its JSON report) and the trace it predicted from. No Xen needed: how
//! the model is iterated on with recorded lab data, and how an admin re-evaluates a trial with
//! a newer remus-tune.

use crate::backend::xen::calibrate::StepResult;
use crate::cli::TrialArgs;
use crate::commands::trial::{finish, observation};
use crate::commands::trial_report::TrialReport;
use crate::model::validate::StepObservation;
use crate::observer::ObserverEffect;
use crate::output::emit;
use crate::trace::read_trace;
use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// What a replay reads of a trial's JSON report; the fit and validation in it are not read
/// (they are what the replay makes anew).
#[derive(Deserialize)]
struct Recorded {
    domain: String,
    trace: Option<String>,
    observer_effect: Option<ObserverEffect>,
    baseline: Option<f64>,
    steps: Vec<StepResult>,
    #[serde(default)]
    interrupted: bool,
}

pub fn run(args: &TrialArgs, path: &Path) -> Result<ExitCode> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the trial report {}", path.display()))?;
    let recorded: Recorded = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a trial's JSON report (`remus-tune trial --format json`)",
            path.display()
        )
    })?;
    if recorded.steps.is_empty() {
        bail!("{} records no trial step: nothing to refit", path.display());
    }
    let trace_path = trace_path(args, path, recorded.trace.as_deref())?;
    let trace = read_trace(&trace_path)
        .with_context(|| format!("cannot read the trace {}", trace_path.display()))?;
    let mut report = TrialReport {
        trace: Some(trace_path.display().to_string()),
        // The trial's own figure (its probe) first, else the trace's.
        observer_effect: recorded
            .observer_effect
            .or_else(|| trace.end.observer_effect.clone()),
        baseline: recorded.baseline,
        steps: recorded.steps,
        interrupted: recorded.interrupted,
        ..TrialReport::new(recorded.domain.clone())
    };
    let observations: Vec<StepObservation> = report.steps.iter().map(observation).collect();
    let means_only = report
        .steps
        .iter()
        .filter(|s| s.checkpoints > 0 && s.checkpoint_pages.is_empty())
        .count();
    if means_only > 0 {
        report.validation_notes.push(format!(
            "replayed from {}: {means_only} step(s) recorded no per-checkpoint data (a trial \
             from before remus-tune wrote it): the period is fitted from those steps' means, \
             one point each, so no within-step check of the per-page cost is possible",
            path.display()
        ));
    } else {
        report
            .validation_notes
            .push(format!("replayed from {}", path.display()));
    }
    let name = report.domain.clone();
    finish(
        &mut report,
        args,
        &name,
        &trace,
        &observations,
        args.output.is_some(),
    )?;
    emit(&report, args.format)?;
    Ok(ExitCode::SUCCESS)
}

/// --trace, else the trace the report names: beside the report first (trials write it in
/// their working directory), then as written.
fn trace_path(args: &TrialArgs, report: &Path, named: Option<&str>) -> Result<PathBuf> {
    if let Some(path) = &args.trace {
        return Ok(path.clone());
    }
    let Some(named) = named else {
        bail!(
            "{} names no trace (the trial fitted without one): pass --trace TRACE",
            report.display()
        );
    };
    let beside = report
        .parent()
        .map(|dir| dir.join(Path::new(named).file_name().unwrap_or_default()));
    match beside {
        Some(p) if p.is_file() => Ok(p),
        _ if Path::new(named).is_file() => Ok(PathBuf::from(named)),
        _ => bail!(
            "the trace {named} named by {} is not there (nor beside the report): pass --trace \
             TRACE",
            report.display()
        ),
    }
}
