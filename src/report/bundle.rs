//! The model's files beside a trace: read it, model it under a profile, write the charts and
//! the HTML report. Shared by `model --charts/--html`, `chart` and `advise`, so the commands
//! only choose paths and print.

use super::{write_html, ReportInput};
use crate::chart::{write_all, write_hourly, ChartFormat, WrittenChart};
use crate::model::{predict, ModelOptions, ModelReport};
use crate::profile::{load, Profile, ProfileRequest};
use crate::trace::{read_trace, Trace};
use anyhow::{Context, Result};
use std::path::Path;

/// Both chart images, the default everywhere.
pub const BOTH_FORMATS: [ChartFormat; 2] = [ChartFormat::Svg, ChartFormat::Png];

/// Reads `path` and models it: the one call `advise` needs before charts and report.
pub fn model_trace(
    path: &Path,
    request: &ProfileRequest,
    options: &ModelOptions,
) -> Result<(Trace, ModelReport)> {
    let (trace, _, report) = model_trace_with_profile(path, request, options)?;
    Ok((trace, report))
}

/// [`model_trace`] with the profile it loaded (the by-hour chart re-models per hour).
pub fn model_trace_with_profile(
    path: &Path,
    request: &ProfileRequest,
    options: &ModelOptions,
) -> Result<(Trace, Profile, ModelReport)> {
    let trace = read_trace(path)?;
    let profile = load(request)?;
    let report = predict(&trace, &profile, options)
        .with_context(|| format!("cannot model {}", path.display()))?;
    Ok((trace, profile, report))
}

/// The six charts, and the by-hour view when the trace is longer than an hour.
pub fn write_charts(
    trace: &Trace,
    profile: &Profile,
    report: &ModelReport,
    dir: &Path,
    formats: &[ChartFormat],
    force: bool,
) -> Result<Vec<WrittenChart>> {
    let mut written = write_all(trace, report, dir, formats, force)?;
    written.extend(write_hourly(trace, profile, report, dir, formats, force)?);
    Ok(written)
}

/// What `advise_from_trace` wrote.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AdviseOutput {
    pub report: ModelReport,
    /// The HTML report, next to the trace: `<trace stem>.report.html`.
    pub html_path: std::path::PathBuf,
    /// The charts, next to the trace: `<trace stem>.charts/`.
    pub chart_dir: std::path::PathBuf,
    pub charts: Vec<WrittenChart>,
}

/// The model, charts and HTML report half of `advise`: models the trace at `trace_path`,
/// writes SVG and PNG charts into `<stem>.charts/` and the self-contained report
/// `<stem>.report.html` beside it. `extra_html` (e.g. the pin plan) is appended to the report.
pub fn advise_from_trace(
    trace_path: &Path,
    request: &ProfileRequest,
    extra_html: &str,
) -> Result<AdviseOutput> {
    let (trace, profile, report) =
        model_trace_with_profile(trace_path, request, &ModelOptions::default())?;
    let name = trace_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "trace".into());
    let stem = name
        .strip_suffix(".trace.yaml")
        .or_else(|| name.strip_suffix(".yaml"))
        .unwrap_or(&name)
        .to_string();
    let dir = trace_path.parent().unwrap_or(Path::new("."));
    let chart_dir = dir.join(format!("{stem}.charts"));
    let html_path = dir.join(format!("{stem}.report.html"));
    // The trace was just written under a new name, so files named after it are leftovers of
    // an earlier run: they are not replaced (the error says so), as everywhere else.
    let charts = write_charts(&trace, &profile, &report, &chart_dir, &BOTH_FORMATS, false)?;
    write_html(
        &html_path,
        &ReportInput {
            trace: &trace,
            trace_path: &trace_path.display().to_string(),
            report: &report,
            extra_html,
        },
        false,
    )?;
    Ok(AdviseOutput {
        report,
        html_path,
        chart_dir,
        charts,
    })
}
