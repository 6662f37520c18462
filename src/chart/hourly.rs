//! The by-hour view of a long trace: the dirty rate and the model's predicted slowdown hour by
//! hour, so the admin sees *when* the VM is expensive to protect (the nightly backup, the
//! 02:00 batch job), not only the day's average. Each hour is modelled on its own epochs, at
//! the interval the whole-trace model recommends (or the shortest measured).
//!
//! That interval is known only once the whole trace is read, so [`HourlyBuilder`] models each
//! hour as it closes at every interval the hour measured (on a thread of its own, beside the
//! reading) and keeps only the slowdowns: a day is charted in one pass, in the memory of a
//! few hours' figures.

use super::intervals::{legend, titled};
use super::style::{self, LIMIT, PINNED, SHARED};
use super::{ChartFormat, Picture, WrittenChart};
use crate::model::{
    predict_figures, FiguresBuilder, ModelOptions, ModelReport, Profile, TraceFigures,
};
use crate::trace::{End, EndReason, Epoch, Trace, TraceHeader};
use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;
use std::sync::mpsc::{sync_channel, SyncSender};
use std::thread::JoinHandle;

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

/// The by-hour view of a trace in memory, for a trace that reaches into its second hour;
/// `None` otherwise.
pub fn hourly_view(trace: &Trace, profile: &Profile, report: &ModelReport) -> Option<HourlyView> {
    let mut hours = HourlyBuilder::new(&trace.header, profile);
    for epoch in &trace.epochs {
        hours.push(epoch);
    }
    hours.finish(report)
}

/// One modelled hour: its dirty rate and the predicted slowdown at each interval it measured.
struct HourRow {
    hour: u64,
    dirty_mib_per_s: f64,
    /// (interval ms, slowdown %) with Dom-0 pinned apart.
    slowdown_pct: Vec<(u64, f64)>,
}

/// The hour being read.
struct OpenHour {
    hour: u64,
    figures: FiguresBuilder,
    seconds: f64,
    pages: f64,
}

/// An hour read whole, for the modeller: its dirty rate and the model's figures.
struct ClosedHour {
    hour: u64,
    dirty_mib_per_s: f64,
    figures: TraceFigures,
}

/// Models closed hours on a thread of its own, so that modelling one hour (mostly sorting its
/// windows for quantiles, at every interval) overlaps reading the next. At most one closed
/// hour waits for it: memory stays a few hours' figures.
struct Modeller {
    hours: SyncSender<ClosedHour>,
    rows: JoinHandle<Vec<HourRow>>,
}

impl Modeller {
    fn start(profile: &Profile) -> Self {
        let (hours, closed) = sync_channel::<ClosedHour>(1);
        let profile = profile.clone();
        let rows = std::thread::spawn(move || {
            closed
                .iter()
                .filter_map(|hour| model_hour(hour, &profile))
                .collect()
        });
        Self { hours, rows }
    }

    /// Every hour modelled, in order.
    fn finish(self) -> Vec<HourRow> {
        drop(self.hours);
        self.rows
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }
}

/// Models an hour at every interval it measured; `None` for an hour the model cannot answer
/// for (no whole window).
fn model_hour(hour: ClosedHour, profile: &Profile) -> Option<HourRow> {
    let report = predict_figures(&hour.figures, profile, &ModelOptions::default()).ok()?;
    Some(HourRow {
        hour: hour.hour,
        dirty_mib_per_s: hour.dirty_mib_per_s,
        slowdown_pct: report
            .intervals
            .iter()
            .map(|p| (p.interval_ms, (1.0 - p.throughput_pinned) * 100.0))
            .collect(),
    })
}

/// Builds the by-hour view as epochs stream by, modelling each hour as it closes.
pub struct HourlyBuilder {
    header: TraceHeader,
    /// The end record each hour is modelled with (see [`HourlyBuilder::new`]).
    end: End,
    /// Hours start on a block of epochs that every interval's windows align with, so each
    /// hour's windows are whole.
    block: u64,
    epochs: u64,
    last_end_s: f64,
    open: Option<OpenHour>,
    modeller: Modeller,
}

impl HourlyBuilder {
    /// Each hour is modelled with a stand-in end record, so hours are modelled as the epochs
    /// stream by, before the trace's own end is read: the model takes from the end only its
    /// observer effect, which it reports and does not apply (model/observer.rs), and its
    /// working set, which is the run's, not an hour's.
    pub fn new(header: &TraceHeader, profile: &Profile) -> Self {
        let stand_in = End {
            reason: EndReason::Completed,
            message: "one hour of the trace".into(),
            epochs: 0,
            duration_s: 0.0,
            late_epochs: 0,
            cross_check: None,
            observer_effect: None,
            // An hour's own working set is not the run's: the curve falls back to the hour's
            // longest window, which is what the hour itself measured.
            working_set_pages: None,
        };
        let block = header
            .interval_spans()
            .iter()
            .fold(1u64, |block, &(_, span)| lcm(block, span).min(1 << 16));
        Self {
            header: header.clone(),
            end: stand_in,
            block,
            epochs: 0,
            last_end_s: 0.0,
            open: None,
            modeller: Modeller::start(profile),
        }
    }

    pub fn push(&mut self, epoch: &Epoch) {
        if self.epochs.is_multiple_of(self.block) {
            let hour = (epoch.start_s / HOUR_S) as u64;
            if self.open.as_ref().is_none_or(|open| open.hour != hour) {
                self.close_hour();
                self.open = Some(OpenHour {
                    hour,
                    figures: FiguresBuilder::new(&self.header),
                    seconds: 0.0,
                    pages: 0.0,
                });
            }
        }
        self.epochs += 1;
        self.last_end_s = epoch.end_s;
        if let Some(open) = &mut self.open {
            open.figures.push(epoch);
            open.seconds += epoch.end_s - epoch.start_s;
            open.pages += epoch.dirty_pages as f64;
        }
    }

    /// Hands the open hour to the modeller.
    fn close_hour(&mut self) {
        let Some(open) = self.open.take() else {
            return;
        };
        let page = self.header.page_size as f64;
        let closed = ClosedHour {
            hour: open.hour,
            dirty_mib_per_s: if open.seconds > 0.0 {
                open.pages * page / open.seconds / (1024.0 * 1024.0)
            } else {
                0.0
            },
            figures: open.figures.finish(self.end.clone()),
        };
        // The modeller only stops once this builder drops its sender: it is there to receive.
        let _ = self.modeller.hours.send(closed);
    }

    /// The view at the interval `report` (the whole trace's model) recommends, or its
    /// shortest; `None` for a trace that ends within its first hour or models fewer than two.
    pub fn finish(mut self, report: &ModelReport) -> Option<HourlyView> {
        if self.last_end_s < HOUR_S {
            return None;
        }
        self.close_hour();
        let rows = self.modeller.finish();
        let interval_ms = report
            .recommended_interval_ms
            .or_else(|| report.intervals.first().map(|p| p.interval_ms))?;
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
        for row in &rows {
            let Some(&(_, slowdown)) = row.slowdown_pct.iter().find(|s| s.0 == interval_ms) else {
                continue;
            };
            view.hours.push(row.hour);
            view.dirty_mib_per_s.push(row.dirty_mib_per_s);
            view.slowdown_pct.push(slowdown);
        }
        (view.hours.len() >= 2).then_some(view)
    }
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

/// Writes the by-hour chart of `view` into `dir`, when there is one.
pub fn write_hourly(
    view: Option<&HourlyView>,
    dir: &Path,
    formats: &[ChartFormat],
    force: bool,
) -> Result<Vec<WrittenChart>> {
    let Some(view) = view else {
        return Ok(Vec::new());
    };
    let mut written = Vec::new();
    for &format in formats {
        let bytes = match format {
            ChartFormat::Svg => super::render_picture_svg(Picture::ByHour(view))?.into_bytes(),
            ChartFormat::Png => super::render_picture_png(Picture::ByHour(view))?,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tests::synthetic_trace;
    use crate::model::{predict, FiguresBuilder};
    use crate::profile::{load, ProfileRequest};

    /// 3 hours of 1 s epochs, the second hour dirtying four times as much.
    fn three_hours() -> Trace {
        let mut trace = synthetic_trace(
            1000,
            &[1000, 2000, 4000],
            3 * 3600,
            |ms| 2000.0 * (ms / 1000.0).powf(0.7),
            4096,
        );
        for epoch in trace.epochs.iter_mut().filter(|e| e.start_s >= HOUR_S) {
            if epoch.start_s < 2.0 * HOUR_S {
                epoch.dirty_pages *= 4;
                for window in &mut epoch.windows {
                    window.dirty_pages *= 4;
                }
            }
        }
        trace
    }

    fn streamed(trace: &Trace, profile: &Profile, report: &ModelReport) -> Option<HourlyView> {
        let mut hours = HourlyBuilder::new(&trace.header, profile);
        for epoch in &trace.epochs {
            hours.push(epoch);
        }
        hours.finish(report)
    }

    #[test]
    fn each_hour_is_modelled_on_its_own_epochs_at_the_recommended_interval() {
        let trace = three_hours();
        let profile = load(&ProfileRequest::default()).unwrap();
        let report = predict(&trace, &profile, &ModelOptions::default()).unwrap();
        let view = streamed(&trace, &profile, &report).expect("a view of three hours");
        assert_eq!(view, hourly_view(&trace, &profile, &report).unwrap());
        let interval = report
            .recommended_interval_ms
            .unwrap_or(report.intervals[0].interval_ms);
        assert_eq!(view.interval_ms, interval);
        assert_eq!(view.hours, vec![0, 1, 2]);
        let rate = &view.dirty_mib_per_s;
        assert!((rate[1] / rate[0] - 4.0).abs() < 1e-9, "{rate:?}");
        assert!(view.slowdown_pct[1] > view.slowdown_pct[0], "{view:?}");
        // The second hour alone, modelled at that interval only, as a model of a one-hour
        // trace would: the same slowdown.
        let mut hour = FiguresBuilder::new(&trace.header);
        for epoch in trace
            .epochs
            .iter()
            .filter(|e| (e.start_s / HOUR_S) as u64 == 1)
        {
            hour.push(epoch);
        }
        let options = ModelOptions {
            intervals: Some(vec![interval]),
            ..ModelOptions::default()
        };
        let alone = predict_figures(&hour.finish(trace.end.clone()), &profile, &options).unwrap();
        let slowdown = (1.0 - alone.intervals[0].throughput_pinned) * 100.0;
        assert_eq!(view.slowdown_pct[1], slowdown);
    }

    #[test]
    fn a_trace_within_its_first_hour_has_no_view() {
        let mut trace = three_hours();
        trace.epochs.truncate(3599);
        let profile = load(&ProfileRequest::default()).unwrap();
        let report = predict(&trace, &profile, &ModelOptions::default()).unwrap();
        assert_eq!(streamed(&trace, &profile, &report), None);
    }
}
