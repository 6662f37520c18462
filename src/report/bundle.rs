//! The model's files beside a trace: read it, model it under a profile, write the charts and
//! the HTML report. Shared by `model --charts/--html`, `chart` and `advise`, so the commands
//! only choose paths and print.
//!
//! The trace is streamed, never held: one pass feeds the whole-trace model's figures, the
//! binned timelines and the by-hour view, so a day of 25 ms epochs is charted in the memory
//! of one hour's figures.

use super::{write_html, ReportInput};
use crate::chart::{
    write_all, write_hourly, ChartData, ChartFormat, HourlyBuilder, HourlyView, Timeline,
    WrittenChart,
};
use crate::model::{predict_figures, FiguresBuilder, ModelOptions, ModelReport};
use crate::profile::{load, ProfileRequest};
use crate::trace::{End, Epoch, ReadOptions, TraceReader};
use anyhow::{Context, Result};
use std::path::Path;

/// Both chart images, the default everywhere.
pub const BOTH_FORMATS: [ChartFormat; 2] = [ChartFormat::Svg, ChartFormat::Png];

/// A trace modelled, with what its charts draw.
pub struct Modelled {
    pub report: ModelReport,
    pub charts: ChartData,
    /// The by-hour view, for a trace that reaches into its second hour.
    pub hours: Option<HourlyView>,
}

/// Hands every epoch of `reader` to `each`, checked, and returns the trace's end record.
pub fn for_each_epoch(
    mut reader: TraceReader,
    path: &Path,
    mut each: impl FnMut(&Epoch),
) -> Result<End> {
    while let Some(epoch) = reader.next_epoch()? {
        each(&epoch);
    }
    reader
        .end()
        .cloned()
        .with_context(|| format!("{} ended without an end record", path.display()))
}

/// Reads the trace at `path` in one pass and models it under the requested profile: the
/// report, the charts' data and the by-hour view.
pub fn model_trace(
    path: &Path,
    request: &ProfileRequest,
    options: &ModelOptions,
) -> Result<Modelled> {
    let reader = TraceReader::open(path, ReadOptions::default())?;
    let header = reader.header().clone();
    let profile = load(request)?;
    let mut figures = FiguresBuilder::new(&header);
    let mut timeline = Timeline::default();
    let mut hours = HourlyBuilder::new(&header, &profile);
    let end = for_each_epoch(reader, path, |epoch| {
        figures.push(epoch);
        timeline.push(epoch);
        hours.push(epoch);
    })?;
    let report = predict_figures(&figures.finish(end.clone()), &profile, options)
        .with_context(|| format!("cannot model {}", path.display()))?;
    Ok(Modelled {
        charts: ChartData::from_timeline(timeline, &report),
        hours: hours.finish(&report),
        report,
    })
}

/// The six charts, and the by-hour view when the trace is longer than an hour.
pub fn write_charts(
    modelled: &Modelled,
    dir: &Path,
    formats: &[ChartFormat],
    force: bool,
) -> Result<Vec<WrittenChart>> {
    let mut written = write_all(&modelled.charts, dir, formats, force)?;
    written.extend(write_hourly(modelled.hours.as_ref(), dir, formats, force)?);
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
    let modelled = model_trace(trace_path, request, &ModelOptions::default())?;
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
    let charts = write_charts(&modelled, &chart_dir, &BOTH_FORMATS, false)?;
    write_html(
        &html_path,
        &ReportInput {
            charts: &modelled.charts,
            trace_path: &trace_path.display().to_string(),
            report: &modelled.report,
            extra_html,
        },
        false,
    )?;
    Ok(AdviseOutput {
        report: modelled.report,
        html_path,
        chart_dir,
        charts,
    })
}
