//! Charts against the configured checkpoint interval (log scale: intervals are usually
//! chosen in doublings, 25, 50, 100, 200, 400 ms).

use super::data::ChartData;
use super::style::{self, LIMIT, MUTED, PINNED, RECOMMENDED, SHARED};
use plotters::coord::combinators::WithKeyPoints;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters_backend::BackendCoord;

type Out = Result<(), Box<dyn std::error::Error>>;

/// Splits off the title and subtitle band, returns the plotting area.
pub(super) fn titled<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    subtitle: &str,
) -> Result<DrawingArea<DB, Shift>, Box<dyn std::error::Error>>
where
    DB::ErrorType: 'static,
{
    let (top, body) = area.split_vertically(64);
    let (w, _) = top.dim_in_pixel();
    let centred = plotters::style::text_anchor::Pos::new(
        plotters::style::text_anchor::HPos::Center,
        plotters::style::text_anchor::VPos::Top,
    );
    for (text, style, y) in [
        (title, style::title(), 10),
        (subtitle, style::subtitle(), 40),
    ] {
        top.draw_text(text, &style.pos(centred), (w as i32 / 2, y))?;
    }
    Ok(body)
}

fn x_range(data: &ChartData) -> std::ops::Range<f64> {
    let lo = data
        .intervals_ms
        .iter()
        .cloned()
        .fold(f64::INFINITY, f64::min);
    let hi = data.intervals_ms.iter().cloned().fold(0.0, f64::max);
    if !lo.is_finite() || hi <= 0.0 {
        return 10.0..1000.0;
    }
    (lo / 1.25)..(hi * 1.25)
}

fn ms_label(x: &f64) -> String {
    format!("{x:.0}")
}

/// The chart every interval plot shares: the interval on a log x axis with a tick at each
/// measured interval, the quantity on a linear y axis, labelled, light grid lines off.
#[allow(clippy::type_complexity)]
fn interval_axes<'a, DB: DrawingBackend>(
    body: &'a DrawingArea<DB, Shift>,
    x: std::ops::Range<f64>,
    key_points: Vec<f64>,
    y: std::ops::Range<f64>,
    (x_desc, y_desc): (&str, &str),
    y_label_area: u32,
) -> Result<
    ChartContext<'a, DB, Cartesian2d<WithKeyPoints<LogCoord<f64>>, RangedCoordf64>>,
    Box<dyn std::error::Error>,
>
where
    DB::ErrorType: 'static,
{
    let mut chart = ChartBuilder::on(body)
        .margin(20)
        .x_label_area_size(56)
        .y_label_area_size(y_label_area)
        .build_cartesian_2d(x.log_scale().with_key_points(key_points), y)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .x_label_formatter(&ms_label)
        .y_label_formatter(&style::number)
        .light_line_style(TRANSPARENT)
        .axis_desc_style(style::label())
        .label_style(style::tick())
        .draw()?;
    Ok(chart)
}

/// A per-interval series as (interval, value) points.
fn per_interval(data: &ChartData, values: &[f64]) -> Vec<(f64, f64)> {
    data.intervals_ms
        .iter()
        .cloned()
        .zip(values.iter().cloned())
        .collect()
}

/// The legend box every chart draws, at `position`.
pub(super) fn legend<'a, DB: DrawingBackend + 'a, CT: plotters::coord::CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
) -> Out
where
    DB::ErrorType: 'static,
{
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.9))
        .border_style(MUTED)
        .label_font(style::legend())
        .draw()?;
    Ok(())
}

/// The chart context every interval plot draws on.
type IntervalPlot<'a, DB> =
    ChartContext<'a, DB, Cartesian2d<WithKeyPoints<LogCoord<f64>>, RangedCoordf64>>;

/// Dash and gap lengths of limit lines, in pixels.
const LIMIT_DASH: (u32, u32) = (10, 6);

/// The legend's sample of a line: a short stroke in its colour and width.
fn legend_key(color: RGBColor, width: u32) -> impl Fn(BackendCoord) -> PathElement<BackendCoord> {
    move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(width))
}

/// A line with point markers, labelled for the legend.
fn draw_line<DB: DrawingBackend>(
    chart: &mut IntervalPlot<'_, DB>,
    points: Vec<(f64, f64)>,
    color: RGBColor,
    label: &str,
) -> Out
where
    DB::ErrorType: 'static,
{
    chart
        .draw_series(LineSeries::new(points.clone(), color.stroke_width(3)))?
        .label(label)
        .legend(legend_key(color, 3));
    chart.draw_series(
        points
            .into_iter()
            .map(|p| Circle::new(p, 5, color.filled())),
    )?;
    Ok(())
}

/// A dashed line without markers, labelled for the legend: limits, and contrasts.
fn draw_dashed<DB: DrawingBackend>(
    chart: &mut IntervalPlot<'_, DB>,
    points: Vec<(f64, f64)>,
    (dash, gap): (u32, u32),
    color: RGBColor,
    label: &str,
) -> Out
where
    DB::ErrorType: 'static,
{
    chart
        .draw_series(DashedLineSeries::new(
            points,
            dash,
            gap,
            color.stroke_width(2),
        ))?
        .label(label)
        .legend(legend_key(color, 2));
    Ok(())
}

/// One of the charts of a per-interval quantity (throughput, latency, bandwidth), as data:
/// [`draw`] turns any of them into a picture, so the three cannot drift apart.
struct IntervalChart {
    title: &'static str,
    y_desc: &'static str,
    y: std::ops::Range<f64>,
    /// One value per measured interval each, drawn in order.
    lines: Vec<(Vec<f64>, RGBColor, String)>,
    /// Horizontal lines across the plot, at a y value.
    limits: Vec<(f64, RGBColor, String)>,
    legend: SeriesLabelPosition,
    /// A sentence shown instead of the plot, when the quantity does not apply.
    instead: Option<&'static str>,
}

/// Draws `chart`: title, axes, lines, limits, the recommended interval, the legend.
fn draw<DB: DrawingBackend>(
    chart: IntervalChart,
    data: &ChartData,
    area: &DrawingArea<DB, Shift>,
) -> Out
where
    DB::ErrorType: 'static,
{
    let body = titled(area, chart.title, &data.subtitle)?;
    if let Some(sentence) = chart.instead {
        let (w, h) = body.dim_in_pixel();
        body.draw_text(
            sentence,
            &style::label().pos(plotters::style::text_anchor::Pos::new(
                plotters::style::text_anchor::HPos::Center,
                plotters::style::text_anchor::VPos::Center,
            )),
            (w as i32 / 2, h as i32 / 2),
        )?;
        return Ok(());
    }
    let x = x_range(data);
    let y = chart.y;
    let mut plot = interval_axes(
        &body,
        x.clone(),
        data.intervals_ms.clone(),
        y.clone(),
        (
            "configured checkpoint interval (ms, log scale)",
            chart.y_desc,
        ),
        72,
    )?;
    for (values, color, label) in chart.lines {
        draw_line(&mut plot, per_interval(data, &values), color, &label)?;
    }
    for (at, color, label) in chart.limits {
        let across = vec![(x.start, at), (x.end, at)];
        draw_dashed(&mut plot, across, LIMIT_DASH, color, &label)?;
    }
    if let Some(ms) = data.recommended_ms {
        plot.draw_series(std::iter::once(PathElement::new(
            vec![(ms, y.start), (ms, y.end)],
            RECOMMENDED.stroke_width(2),
        )))?
        .label(format!("recommended: {ms:.0} ms"))
        .legend(legend_key(RECOMMENDED, 2));
    }
    legend(&mut plot, chart.legend)
}

pub(super) fn throughput<DB: DrawingBackend>(data: &ChartData, area: &DrawingArea<DB, Shift>) -> Out
where
    DB::ErrorType: 'static,
{
    draw(throughput_chart(data), data, area)
}

pub(super) fn latency<DB: DrawingBackend>(data: &ChartData, area: &DrawingArea<DB, Shift>) -> Out
where
    DB::ErrorType: 'static,
{
    draw(latency_chart(data), data, area)
}

pub(super) fn bandwidth<DB: DrawingBackend>(data: &ChartData, area: &DrawingArea<DB, Shift>) -> Out
where
    DB::ErrorType: 'static,
{
    draw(bandwidth_chart(data), data, area)
}

fn throughput_chart(data: &ChartData) -> IntervalChart {
    // Zoom on the interesting band, but never hide the limit or start below zero.
    let lowest = data
        .throughput_pinned
        .iter()
        .chain(&data.throughput_shared)
        .cloned()
        .chain(data.throughput_floor)
        .fold(100.0, f64::min);
    IntervalChart {
        title: "Guest throughput vs checkpoint interval",
        y_desc: "throughput (% of unprotected)",
        y: ((lowest - 5.0) / 10.0).floor().max(0.0) * 10.0..101.0,
        lines: vec![
            (
                data.throughput_pinned.clone(),
                PINNED,
                "Dom-0 pinned apart".into(),
            ),
            (
                data.throughput_shared.clone(),
                SHARED,
                "Dom-0 sharing cores".into(),
            ),
        ],
        limits: data
            .throughput_floor
            .map(|floor| {
                let label = format!("limit: {floor:.0} % (max slowdown {:.0} %)", 100.0 - floor);
                (floor, LIMIT, label)
            })
            .into_iter()
            .collect(),
        legend: SeriesLabelPosition::LowerRight,
        instead: None,
    }
}

fn latency_chart(data: &ChartData) -> IntervalChart {
    let top = data
        .latency_p95
        .iter()
        .cloned()
        .chain(data.latency_limit_ms)
        .fold(1.0, f64::max)
        * 1.15;
    IntervalChart {
        title: "Added network latency vs checkpoint interval",
        y_desc: "added latency (ms)",
        y: 0.0..top,
        lines: vec![
            (data.latency_p95.clone(), PINNED, "p95".into()),
            (data.latency_mean.clone(), SHARED, "mean".into()),
        ],
        limits: data
            .latency_limit_ms
            .map(|limit| (limit, LIMIT, format!("limit: p95 ≤ {limit:.0} ms")))
            .into_iter()
            .collect(),
        legend: SeriesLabelPosition::UpperLeft,
        instead: (!data.buffered).then_some(
            "Network buffering is off (xl remus -n): no added latency, and no guarantee.",
        ),
    }
}

fn bandwidth_chart(data: &ChartData) -> IntervalChart {
    let link = if data.link_mib_s.is_finite() {
        data.link_mib_s
    } else {
        0.0
    };
    let top = data
        .bandwidth_mib_s
        .iter()
        .cloned()
        .fold(link, f64::max)
        .max(1.0)
        * 1.15;
    let mut limits = Vec::new();
    if link > 0.0 {
        limits.push((link, MUTED, format!("link capacity: {link:.0} MiB/s")));
        if let Some(share) = data.link_share_limit {
            let label = format!("limit: {share:.0} % of the link");
            limits.push((link * share / 100.0, LIMIT, label));
        }
    }
    IntervalChart {
        title: "Replication bandwidth vs checkpoint interval",
        y_desc: "bandwidth needed (MiB/s)",
        y: 0.0..top,
        lines: vec![(
            data.bandwidth_mib_s.clone(),
            PINNED,
            "needed (memory + disk)".into(),
        )],
        limits,
        legend: SeriesLabelPosition::UpperRight,
        instead: None,
    }
}

pub(super) fn working_set<DB: DrawingBackend>(
    data: &ChartData,
    area: &DrawingArea<DB, Shift>,
) -> Out
where
    DB::ErrorType: 'static,
{
    let body = titled(
        area,
        "Writable working set: dirty pages vs interval",
        &data.subtitle,
    )?;
    let lo = data
        .working_set
        .iter()
        .map(|p| p.0)
        .fold(f64::INFINITY, f64::min);
    let hi = data.working_set.iter().map(|p| p.0).fold(0.0, f64::max);
    let x = if lo.is_finite() && hi > 0.0 {
        (lo / 1.25)..(hi * 1.25)
    } else {
        10.0..1000.0
    };
    let top = data.working_set.iter().map(|p| p.2).fold(1.0, f64::max) * 1.15;
    let mut chart = interval_axes(
        &body,
        x.clone(),
        data.working_set.iter().map(|p| p.0).collect(),
        0.0..top,
        (
            "measured interval (ms, log scale)",
            "distinct dirty pages per interval",
        ),
        84,
    )?;
    let points = |value: fn(&(f64, f64, f64)) -> f64| -> Vec<(f64, f64)> {
        data.working_set.iter().map(|p| (p.0, value(p))).collect()
    };
    draw_line(&mut chart, points(|p| p.2), SHARED, "p95")?;
    draw_line(&mut chart, points(|p| p.1), PINNED, "mean")?;
    // What a rate × interval model would predict from the shortest interval: the gap to the
    // measured curve is why dirty sets must be measured per interval (model.md §2).
    if let Some(&(x0, mean0, _)) = data.working_set.first() {
        let linear: Vec<(f64, f64)> = data
            .working_set
            .iter()
            .map(|p| (p.0, mean0 * p.0 / x0))
            .collect();
        let label = "rate × interval (linear, for contrast)";
        draw_dashed(&mut chart, linear, (8, 6), MUTED, label)?;
    }
    legend(&mut chart, SeriesLabelPosition::UpperLeft)
}
