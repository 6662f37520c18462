//! The windows hour by hour, for a trace longer than an hour: a VM's dirty rate is not one
//! number (the nightly backup, the batch job at 02:00), and the admin must see *when* it is
//! expensive to protect. Each hour of the run keeps one bounded sketch per interval.

use super::{round3, Quantiles};
use crate::output::table;
use crate::trace::TraceHeader;
use crate::units::mib;
use serde::Serialize;

const HOUR_S: f64 = 3600.0;
/// Distinct counts kept exactly per hour and interval (`sketch`): smaller than a whole run's,
/// as a week holds 168 hours.
const HOUR_CAP: usize = 4096;

/// One interval within one hour.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct HourInterval {
    pub interval_ms: u64,
    pub windows: u64,
    pub dirty_pages_p95: f64,
    /// Dirty bytes per real second of the hour's windows.
    pub dirty_mib_per_s: f64,
}

/// One hour of the run, counted from its start.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct HourSummary {
    /// 0 for the first hour.
    pub hour: u64,
    /// Wall-clock start of the hour, `HH:MM` UTC, from the trace's `start_time`.
    pub start_utc: String,
    /// True for the hour with the highest dirty rate at the shortest interval.
    pub peak: bool,
    pub intervals: Vec<HourInterval>,
}

#[derive(Default)]
struct Cell {
    dirty: Option<Quantiles>,
    seconds: f64,
    pages: f64,
}

pub struct HourlyAccumulator {
    intervals: Vec<u64>,
    page_size: f64,
    /// Minutes after midnight UTC of the trace's start, when `start_time` reads.
    start_minute: Option<u64>,
    /// [hour][interval]
    cells: Vec<Vec<Cell>>,
}

impl HourlyAccumulator {
    pub fn new(header: &TraceHeader) -> Self {
        let mut intervals = header.intervals_ms.clone();
        intervals.sort_unstable();
        intervals.dedup();
        let time = header.start_time.get(11..16).unwrap_or("");
        let start_minute = match (time.get(0..2), time.get(3..5)) {
            (Some(h), Some(m)) => h
                .parse::<u64>()
                .ok()
                .zip(m.parse::<u64>().ok())
                .map(|(h, m)| h * 60 + m),
            _ => None,
        };
        Self {
            intervals,
            page_size: header.page_size as f64,
            start_minute,
            cells: Vec::new(),
        }
    }

    /// Records a window of `interval_ms` that started at `start_s` and lasted `seconds`.
    pub fn window(&mut self, interval_ms: u64, start_s: f64, seconds: f64, dirty_pages: u64) {
        let Some(slot) = self.intervals.iter().position(|&ms| ms == interval_ms) else {
            return;
        };
        // A window belongs to the hour it starts in (the last window of a 24-hour run ends
        // a little after 24:00); validated times are finite and >= 0, and the cast
        // saturates for anything else.
        let hour = (start_s / HOUR_S) as usize;
        if hour >= 24 * 366 {
            return;
        }
        while self.cells.len() <= hour {
            self.cells
                .push(self.intervals.iter().map(|_| Cell::default()).collect());
        }
        let cell = &mut self.cells[hour][slot];
        cell.dirty
            .get_or_insert_with(|| Quantiles::with_cap(HOUR_CAP))
            .push(dirty_pages as f64);
        cell.seconds += seconds;
        cell.pages += dirty_pages as f64;
    }

    /// One entry per hour when the trace reaches into its second hour; none otherwise.
    pub fn summary(&self) -> Vec<HourSummary> {
        if self.cells.len() < 2 {
            return Vec::new();
        }
        let mut hours: Vec<HourSummary> = self
            .cells
            .iter()
            .enumerate()
            .map(|(hour, cells)| HourSummary {
                hour: hour as u64,
                start_utc: self
                    .start_minute
                    .map(|m| {
                        let at = (m + hour as u64 * 60) % (24 * 60);
                        format!("{:02}:{:02}", at / 60, at % 60)
                    })
                    .unwrap_or_default(),
                peak: false,
                intervals: self
                    .intervals
                    .iter()
                    .zip(cells)
                    .map(|(&interval_ms, cell)| HourInterval {
                        interval_ms,
                        windows: cell.dirty.as_ref().map_or(0, Quantiles::count),
                        dirty_pages_p95: cell.dirty.as_ref().map_or(0.0, |q| q.quantile(0.95)),
                        dirty_mib_per_s: round3(mib(if cell.seconds > 0.0 {
                            cell.pages * self.page_size / cell.seconds
                        } else {
                            0.0
                        })),
                    })
                    .collect(),
            })
            .collect();
        let rate = |h: &HourSummary| h.intervals.first().map_or(0.0, |i| i.dirty_mib_per_s);
        if let Some(peak) = hours.iter_mut().max_by(|a, b| rate(a).total_cmp(&rate(b))) {
            peak.peak = true;
        }
        hours
    }
}

/// The `by hour` table of the text summary; empty for a trace of an hour or less.
pub fn render(hours: &[HourSummary]) -> String {
    let Some(first) = hours.first() else {
        return String::new();
    };
    let mut header = vec!["hour".to_string(), "UTC".to_string()];
    for i in &first.intervals {
        header.push(format!("p95 {}ms", i.interval_ms));
    }
    header.push(format!("dirty MiB/s @{}ms", first.intervals[0].interval_ms));
    let mut rows = vec![header];
    for h in hours {
        let mut row = vec![
            format!("{}{}", h.hour, if h.peak { " peak" } else { "" }),
            h.start_utc.clone(),
        ];
        for i in &h.intervals {
            row.push(format!("{:.0}", i.dirty_pages_p95));
        }
        row.push(format!(
            "{:.2}",
            h.intervals.first().map_or(0.0, |i| i.dirty_mib_per_s)
        ));
        rows.push(row);
    }
    let peak = hours.iter().find(|h| h.peak).map_or(0, |h| h.hour);
    format!(
        "\nby hour (dirty pages per checkpoint, p95; peak hour {peak}):\n{}",
        table(&rows)
    )
}
