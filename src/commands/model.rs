//! `remus-tune model` and `remus-tune chart`: read a trace, load the profile, run the model,
//! and write what was asked (table/JSON/YAML, charts, HTML report).

use crate::chart::{check_outputs, WrittenChart};
use crate::cli::{ChartArgs, ModelArgs};
use crate::model::{predict_figures, FiguresBuilder, ModelOptions, ModelReport, TraceFigures};
use crate::output::{emit, TextReport};
use crate::profile::load;
use crate::report::bundle::{for_each_epoch, model_trace, write_charts, BOTH_FORMATS};
use crate::report::{write_html, ReportInput};
use crate::trace::{ReadOptions, TraceReader};
use anyhow::{Context, Result};
use std::path::Path;

/// What the model needs from the trace at `path`, read in one pass.
fn read_figures(path: &Path) -> Result<TraceFigures> {
    let reader = TraceReader::open(path, ReadOptions::default())?;
    let mut builder = FiguresBuilder::new(reader.header());
    let end = for_each_epoch(reader, path, |epoch| builder.push(epoch))?;
    Ok(builder.finish(end))
}

/// `remus-tune model`.
pub fn run(args: &ModelArgs) -> Result<()> {
    let options = ModelOptions {
        intervals: args
            .intervals
            .as_deref()
            .map(crate::settings::whole_milliseconds)
            .transpose()?,
        interpolate: args.interpolate,
        ..Default::default()
    };
    if args.charts.is_none() && args.html.is_none() {
        // Only the model's figures: nothing to bin or chart on the way.
        let figures = read_figures(&args.trace)?;
        let report = predict_figures(&figures, &load(&args.profile.request())?, &options)
            .with_context(|| format!("cannot model {}", args.trace.display()))?;
        return emit(&report, args.format);
    }
    // Every output is checked before the model runs: nothing is half done when one is refused.
    let inputs = [("the trace being modelled", args.trace.as_path())];
    if let Some(dir) = &args.charts {
        check_outputs(dir, &BOTH_FORMATS, args.force, &inputs)?;
    }
    if let Some(path) = &args.html {
        crate::outfile::check_output(path, args.force, &inputs)?;
    }
    let modelled = model_trace(&args.trace, &args.profile.request(), &options)?;
    if let Some(dir) = &args.charts {
        let written = write_charts(&modelled, dir, &BOTH_FORMATS, args.force)?;
        crate::note!("wrote {} charts to {}", written.len(), dir.display());
    }
    if let Some(path) = &args.html {
        write_html(
            path,
            &ReportInput {
                charts: &modelled.charts,
                trace_path: &args.trace.display().to_string(),
                report: &modelled.report,
                extra_html: "",
            },
            args.force,
        )?;
        crate::note!("wrote the report {}", path.display());
    }
    emit(&modelled.report, args.format)
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
    if let Some(warning) = args.deprecation() {
        crate::warn!("{warning}");
    }
    check_outputs(
        &args.output,
        args.images(),
        args.force,
        &[("the trace being charted", args.trace.as_path())],
    )?;
    let modelled = model_trace(
        &args.trace,
        &args.profile.request(),
        &ModelOptions::default(),
    )?;
    let charts = write_charts(&modelled, &args.output, args.images(), args.force)?;
    emit(&ChartList { charts }, args.listing())
}
