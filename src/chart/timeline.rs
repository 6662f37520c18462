//! Charts over the trace's real time: what the workload did, epoch by epoch.

use super::data::{ChartData, Series};
use super::intervals::{legend, titled};
use super::style::{self, PINNED, SHARED};
use plotters::coord::Shift;
use plotters::prelude::*;

type Out = Result<(), Box<dyn std::error::Error>>;

fn over_time<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    subtitle: &str,
    series: &Series,
    y_desc: &str,
    what: &str,
) -> Out
where
    DB::ErrorType: 'static,
{
    let body = titled(area, title, subtitle)?;
    let end = series.mean.last().map_or(1.0, |p| p.0).max(1e-3);
    let start = series.mean.first().map_or(0.0, |p| p.0).min(end);
    let top = series.max.iter().map(|p| p.1).fold(1.0, f64::max) * 1.15;
    let mut chart = ChartBuilder::on(&body)
        .margin(20)
        .x_label_area_size(56)
        .y_label_area_size(84)
        .build_cartesian_2d(start.min(0.0)..end * 1.02, 0.0..top)?;
    chart
        .configure_mesh()
        .x_desc("time since the trace started (s)")
        .y_desc(y_desc)
        .light_line_style(TRANSPARENT)
        .x_label_formatter(&style::number)
        .y_label_formatter(&style::number)
        .axis_desc_style(style::label())
        .label_style(style::tick())
        .draw()?;
    // An unbinned series has max == mean: one line says it all.
    let binned = series.mean != series.max;
    if binned {
        chart
            .draw_series(LineSeries::new(series.max.clone(), SHARED.stroke_width(1)))?
            .label(format!("max per {:.2} s bin", series.bin_s))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], SHARED.stroke_width(2)));
    }
    let label = if binned {
        format!("mean per {:.2} s bin", series.bin_s)
    } else {
        what.to_string()
    };
    chart
        .draw_series(LineSeries::new(series.mean.clone(), PINNED.stroke_width(2)))?
        .label(label)
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], PINNED.stroke_width(2)));
    legend(&mut chart, SeriesLabelPosition::UpperRight)
}

pub(super) fn dirty<DB: DrawingBackend>(data: &ChartData, area: &DrawingArea<DB, Shift>) -> Out
where
    DB::ErrorType: 'static,
{
    over_time(
        area,
        "Dirty pages per base epoch over time",
        &data.subtitle,
        &data.dirty,
        "dirty pages per base epoch",
        "dirty pages per epoch",
    )
}

pub(super) fn disk<DB: DrawingBackend>(data: &ChartData, area: &DrawingArea<DB, Shift>) -> Out
where
    DB::ErrorType: 'static,
{
    over_time(
        area,
        "Disk write rate over time",
        &data.subtitle,
        &data.disk_mib_s,
        "disk writes (MiB/s)",
        "write rate per epoch",
    )
}
