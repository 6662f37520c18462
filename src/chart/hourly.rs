//! The by-hour view of a long trace: the dirty rate and the model's predicted slowdown hour by
//! hour, so the admin sees *when* the VM is expensive to protect (the nightly backup, the
//! 02:00 batch job), not only the day's average. Each hour is modelled on its own epochs, at
//! the interval the whole-trace model recommends (or the shortest measured).

use super::intervals::{legend, titled};
use super::style::{self, LIMIT, PINNED, SHARED};
use super::{ChartFormat, Picture, WrittenChart};
use crate::model::{predict_figures, FiguresBuilder, ModelOptions, ModelReport};
use crate::profile::Profile;
use crate::trace::Trace;
use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;

/// File stem of the chart.
pub const STEM: &str = "by-hour";
const HOUR_S: f64 = 3600.0;

/// The numbers the chart draws.
#[derive(Clone, Debug, PartialEq)]
pub struct HourlyView {
    pub subtitle: String,
    pub interval_ms: u64,
    /// Hours since the trace started, one entry per modelled hour.
    pub hours: Vec<u64>,
    pub dirty_mib_per_s: Vec<f64>,
    /// Predicted loss of guest throughput at `interval_ms`, %, with Dom-0 pinned apart.
    pub slowdown_pct: Vec<f64>,
    pub slowdown_limit_pct: Option<f64>,
}

/// The by-hour view, for a trace that reaches into its second hour; `None` otherwise.
pub fn hourly_view(trace: &Trace, profile: &Profile, report: &ModelReport) -> Option<HourlyView> {
    let last = trace.epochs.last()?;
    if last.end_s < HOUR_S {
        return None;
    }
    let interval_ms = report
        .recommended_interval_ms
        .or_else(|| report.intervals.first().map(|p| p.interval_ms))?;
    // Hours start on a block of epochs that every interval's windows align with, so each
    // hour's windows are whole.
    let block = trace
        .header
        .interval_spans()
        .iter()
        .fold(1u64, |block, &(_, span)| lcm(block, span).min(1 << 16));
    let options = ModelOptions {
        intervals: Some(vec![interval_ms]),
        ..ModelOptions::default()
    };
    let mut view = HourlyView {
        subtitle: format!(
            "{} · profile {} on {} · checkpoint every {interval_ms} ms",
            report.trace.target, report.profile.name, report.profile.host
        ),
        interval_ms,
        hours: Vec::new(),
        dirty_mib_per_s: Vec::new(),
        slowdown_pct: Vec::new(),
        slowdown_limit_pct: report
            .intervals
            .first()
            .and_then(|p| p.limits.iter().find(|c| c.limit == "max_slowdown"))
            .map(|c| c.max),
    };
    let page = trace.header.page_size as f64;
    let mut start = 0usize;
    while start < trace.epochs.len() {
        let hour = (trace.epochs[start].start_s / HOUR_S) as u64;
        let mut stop = start;
        while stop < trace.epochs.len() && (trace.epochs[stop].start_s / HOUR_S) as u64 == hour {
            stop = (stop + block as usize).min(trace.epochs.len());
        }
        let epochs = &trace.epochs[start..stop];
        start = stop;
        let mut builder = FiguresBuilder::new(&trace.header);
        let (mut seconds, mut pages) = (0.0, 0.0);
        for epoch in epochs {
            builder.push(epoch);
            seconds += epoch.end_s - epoch.start_s;
            pages += epoch.dirty_pages as f64;
        }
        let figures = builder.finish(trace.end.clone());
        let Ok(hour_report) = predict_figures(&figures, profile, &options) else {
            continue;
        };
        let Some(prediction) = hour_report.intervals.first() else {
            continue;
        };
        view.hours.push(hour);
        view.dirty_mib_per_s.push(if seconds > 0.0 {
            pages * page / seconds / (1024.0 * 1024.0)
        } else {
            0.0
        });
        view.slowdown_pct
            .push((1.0 - prediction.throughput_pinned) * 100.0);
    }
    (view.hours.len() >= 2).then_some(view)
}

fn lcm(a: u64, b: u64) -> u64 {
    fn gcd(a: u64, b: u64) -> u64 {
        if b == 0 {
            a
        } else {
            gcd(b, a % b)
        }
    }
    a / gcd(a, b).max(1) * b
}

type Out = Result<(), Box<dyn std::error::Error>>;

/// Two panels over the same hours: the dirty rate above, the predicted slowdown below.
pub(super) fn draw<DB: DrawingBackend>(view: &HourlyView, area: &DrawingArea<DB, Shift>) -> Out
where
    DB::ErrorType: 'static,
{
    let body = titled(
        area,
        "Dirty rate and predicted slowdown by hour",
        &view.subtitle,
    )?;
    let (_, height) = body.dim_in_pixel();
    let (upper, lower) = body.split_vertically(height / 2);
    panel(
        &upper,
        view,
        &view.dirty_mib_per_s,
        "dirty MiB/s",
        PINNED,
        None,
    )?;
    panel(
        &lower,
        view,
        &view.slowdown_pct,
        "predicted slowdown (%)",
        SHARED,
        view.slowdown_limit_pct,
    )?;
    Ok(())
}

fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    view: &HourlyView,
    values: &[f64],
    y_desc: &str,
    colour: RGBColor,
    limit: Option<f64>,
) -> Out
where
    DB::ErrorType: 'static,
{
    let hours = view.hours.last().map_or(1, |h| h + 1) as f64;
    let top = values.iter().copied().chain(limit).fold(1e-3, f64::max) * 1.15;
    let mut chart = ChartBuilder::on(area)
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(84)
        .build_cartesian_2d(0.0..hours, 0.0..top)?;
    chart
        .configure_mesh()
        .x_desc("hour since the trace started")
        .y_desc(y_desc)
        .light_line_style(TRANSPARENT)
        .x_label_formatter(&style::number)
        .y_label_formatter(&style::number)
        .axis_desc_style(style::label())
        .label_style(style::tick())
        .draw()?;
    chart.draw_series(view.hours.iter().zip(values).map(|(&hour, &value)| {
        let x = hour as f64;
        Rectangle::new([(x + 0.1, 0.0), (x + 0.9, value)], colour.filled())
    }))?;
    if let Some(limit) = limit {
        chart
            .draw_series(LineSeries::new(
                [(0.0, limit), (hours, limit)],
                LIMIT.stroke_width(2),
            ))?
            .label(format!("profile limit {limit:.0} %"))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], LIMIT.stroke_width(2)));
        legend(&mut chart, SeriesLabelPosition::UpperRight)?;
    }
    Ok(())
}

/// Writes the by-hour chart into `dir` when the trace is longer than an hour; nothing
/// otherwise.
pub fn write_hourly(
    trace: &Trace,
    profile: &Profile,
    report: &ModelReport,
    dir: &Path,
    formats: &[ChartFormat],
    force: bool,
) -> Result<Vec<WrittenChart>> {
    let Some(view) = hourly_view(trace, profile, report) else {
        return Ok(Vec::new());
    };
    let mut written = Vec::new();
    for &format in formats {
        let bytes = match format {
            ChartFormat::Svg => super::render_picture_svg(Picture::ByHour(&view))?.into_bytes(),
            ChartFormat::Png => super::render_picture_png(Picture::ByHour(&view))?,
        };
        let path = dir.join(format!("{STEM}.{}", format.extension()));
        crate::outfile::write_atomic(&path, &bytes, force)?;
        written.push(WrittenChart {
            title: "Dirty rate and predicted slowdown by hour".into(),
            path,
            bytes: bytes.len() as u64,
        });
    }
    Ok(written)
}
