//! `remus-tune model` and `remus-tune chart`: read a trace, load the profile, run the model,
//! and write what was asked (table/JSON/YAML, charts, HTML report).

use crate::chart::{write_all, ChartFormat, WrittenChart};
use crate::cli::{ChartArgs, ModelArgs};
use crate::model::{predict, ModelOptions, ModelReport};
use crate::output::{emit, TextReport};
use crate::profile::{load, ProfileRequest};
use crate::report::{write_html, ReportInput};
use crate::trace::{read_trace, Trace};
use anyhow::{bail, Context, Result};
use std::path::Path;

/// Reads `path` and models it: the one call `advise` needs before charts and report.
pub fn model_trace(
    path: &Path,
    request: &ProfileRequest,
    options: &ModelOptions,
) -> Result<(Trace, ModelReport)> {
    let trace = read_trace(path)?;
    let profile = load(request)?;
    let report = predict(&trace, &profile, options)
        .with_context(|| format!("cannot model {}", path.display()))?;
    Ok((trace, report))
}

/// Intervals from the command line, in whole milliseconds.
fn interval_list(intervals: &Option<Vec<std::time::Duration>>) -> Result<Option<Vec<u64>>> {
    let Some(list) = intervals else {
        return Ok(None);
    };
    let mut out = Vec::new();
    for d in list {
        let ms = d.as_secs_f64() * 1e3;
        if ms < 1.0 || (ms - ms.round()).abs() > 1e-6 {
            bail!(
                "--intervals: {} is not a whole number of milliseconds (at least 1ms)",
                crate::units::HumanDuration(*d)
            );
        }
        out.push(ms.round() as u64);
    }
    Ok(Some(out))
}

/// `remus-tune model`.
pub fn run(args: &ModelArgs) -> Result<()> {
    let options = ModelOptions {
        intervals: interval_list(&args.intervals)?,
        interpolate: args.interpolate,
        ..Default::default()
    };
    let (trace, report) = model_trace(&args.trace, &args.profile.request(), &options)?;
    if let Some(dir) = &args.charts {
        let written = write_all(&trace, &report, dir, &[ChartFormat::Svg, ChartFormat::Png])?;
        eprintln!("wrote {} charts to {}", written.len(), dir.display());
    }
    if let Some(path) = &args.html {
        write_html(
            path,
            &ReportInput {
                trace: &trace,
                trace_path: &args.trace.display().to_string(),
                report: &report,
                extra_html: "",
            },
        )?;
        eprintln!("wrote the report {}", path.display());
    }
    emit(&report, args.format)
}

/// The model's per-interval and limit tables, for reports that embed them (`advise`).
pub fn interval_table_text(report: &ModelReport) -> String {
    format!(
        "Model (profile {} on {}):\n{}\n{}",
        report.profile.name,
        report.profile.host,
        crate::model::interval_table(&report.intervals),
        crate::model::limit_table(&report.intervals)
    )
}

/// The files `chart` wrote.
#[derive(serde::Serialize)]
pub struct ChartList {
    pub charts: Vec<WrittenChart>,
}

impl TextReport for ChartList {
    fn render_text(&self) -> String {
        let mut rows = vec![vec![
            "chart".to_string(),
            "file".to_string(),
            "bytes".to_string(),
        ]];
        for c in &self.charts {
            rows.push(vec![
                c.title.clone(),
                c.path.display().to_string(),
                c.bytes.to_string(),
            ]);
        }
        crate::output::table(&rows)
    }
}

/// `remus-tune chart`.
pub fn run_chart(args: &ChartArgs) -> Result<()> {
    let (trace, report) = model_trace(
        &args.trace,
        &args.profile.request(),
        &ModelOptions::default(),
    )?;
    let charts = write_all(&trace, &report, &args.output, &args.format)?;
    emit(&ChartList { charts }, crate::cli::Format::Text)
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
    let (trace, report) = model_trace(trace_path, request, &ModelOptions::default())?;
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
    let charts = write_all(
        &trace,
        &report,
        &chart_dir,
        &[ChartFormat::Svg, ChartFormat::Png],
    )?;
    write_html(
        &html_path,
        &ReportInput {
            trace: &trace,
            trace_path: &trace_path.display().to_string(),
            report: &report,
            extra_html,
        },
    )?;
    Ok(AdviseOutput {
        report,
        html_path,
        chart_dir,
        charts,
    })
}
