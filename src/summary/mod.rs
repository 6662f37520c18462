//! The per-interval summary of a trace: what `measure` prints at its end and `show` prints
//! from a file. Computed only from the trace, so both always agree.

mod dom0;
mod hours;
pub mod sketch;

pub use dom0::{CoreLoad, Dom0Summary};
pub use hours::{HourInterval, HourSummary};
pub use sketch::Quantiles;

use crate::output::{table, TextReport};
use crate::stats::{margin_95, quantile};
use crate::trace::{CpuClasses, CrossCheck, End, EndReason, Epoch, Trace, TraceHeader};
use crate::units::mib;
use serde::Serialize;
use std::collections::VecDeque;

/// Distribution of a per-checkpoint quantity.
#[derive(Serialize, Debug, Clone, Copy, PartialEq, Default)]
pub struct Stats {
    pub mean: f64,
    pub p50: f64,
    pub p95: f64,
    pub max: f64,
}

impl Stats {
    /// Nearest-rank percentiles; all zero for no values.
    pub fn of(values: &[f64]) -> Self {
        if values.is_empty() {
            return Self::default();
        }
        let mut values = values.to_vec();
        Self {
            mean: round3(values.iter().sum::<f64>() / values.len() as f64),
            p50: quantile(&mut values, 0.50),
            p95: quantile(&mut values, 0.95),
            max: quantile(&mut values, 1.0),
        }
    }

    /// The same from a streaming sketch: nearest-rank, exact while the sketch is.
    pub fn of_quantiles(q: &Quantiles) -> Self {
        Self {
            mean: round3(q.mean()),
            p50: q.quantile(0.50),
            p95: q.quantile(0.95),
            max: q.max(),
        }
    }
}

/// One checkpoint interval.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct IntervalSummary {
    pub interval_ms: u64,
    /// Complete windows (checkpoints) of this interval in the trace.
    pub epochs: u64,
    pub dirty_pages: Stats,
    pub checkpoint_mib_p95: f64,
    /// Dirty bytes per real second of the windows.
    pub dirty_mib_per_s: f64,
    pub disk_write_mib_per_s: f64,
    /// 95 % confidence margin of one checkpoint's estimate, in pages (sampled traces only).
    /// The mean over many checkpoints is usually closer than this when the dirtied pages
    /// move around memory, and no closer when the same pages are dirtied every time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub margin_95_pages: Option<f64>,
    /// Relative error of the percentiles, when more distinct counts than the summary keeps
    /// exactly made it bucket them (`sketch`); absent when they are exact.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percentile_error: Option<f64>,
}

/// The hypervisor's dirty-rate figure and ours at the base epoch.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct CrossCheckSummary {
    #[serde(flatten)]
    pub theirs: CrossCheck,
    /// Our mean distinct pages per base epoch over the real epoch length, in pages/s.
    pub ours_pages_per_s_at_base_epoch: f64,
}

/// Everything `measure` and `show` print.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct Summary {
    pub target: String,
    pub backend: String,
    pub method: String,
    pub method_reason: String,
    pub exact: bool,
    pub trace: String,
    pub start_time: String,
    pub base_epoch_ms: f64,
    pub duration_s: f64,
    pub base_epochs: u64,
    pub late_epochs: u64,
    pub ended: EndReason,
    pub end_message: String,
    pub memory_mib: f64,
    pub page_size: u64,
    pub disk_write_mib_per_s: f64,
    pub disk_writes_per_s: f64,
    /// CPU time of the target per second (1.0 = one core busy).
    pub cpu_cores: f64,
    /// The same by thread class, for VM processes that have them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_cores_by_class: Option<CpuClasses>,
    /// Disk flushes per second, where the backend counts them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk_flushes_per_s: Option<f64>,
    /// Xen's Dom-0 CPU while measuring, in cores.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dom0: Option<Dom0Summary>,
    /// The hypervisor's own dirty rate beside ours.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cross_check: Option<CrossCheckSummary>,
    pub intervals: Vec<IntervalSummary>,
    /// The windows hour by hour, for traces longer than an hour.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hours: Vec<HourSummary>,
}

/// Three decimals: finer than any input is precise, and the same in JSON and YAML.
fn round3(value: f64) -> f64 {
    (value * 1e3).round() / 1e3
}

/// Summarises a trace in memory; `path` is shown as where it came from.
pub fn summarize(trace: &Trace, path: &str) -> Summary {
    let mut summarizer = Summarizer::new(&trace.header);
    for epoch in &trace.epochs {
        summarizer.push(epoch);
    }
    summarizer.finish(&trace.end, path)
}

/// One interval's running figures: its windows' dirty counts, and the last `span` epochs'
/// starts and writes (a window's length and disk writes run over the epochs it covers).
struct IntervalAccumulator {
    interval_ms: u64,
    span: usize,
    dirty: Quantiles,
    seconds: f64,
    bytes_written: u64,
    /// (start_s, write_bytes) of the most recent epochs, at most `span`.
    recent: VecDeque<(f64, u64)>,
    /// The sum of `recent`'s write_bytes, kept as it changes rather than summed per window.
    recent_bytes: u64,
}

/// The summary built as epochs arrive, from a trace being read or a run being measured:
/// memory is the longest interval's epochs and the running quantiles, never the run.
pub struct Summarizer {
    header: TraceHeader,
    epochs: u64,
    total_s: f64,
    write_bytes: u64,
    syscw: f64,
    cpu_s: f64,
    dirty_pages: f64,
    first_classes: Option<bool>,
    classes: CpuClasses,
    first_flushes: Option<bool>,
    flushes: u64,
    dom0: dom0::Dom0Accumulator,
    intervals: Vec<IntervalAccumulator>,
    hours: hours::HourlyAccumulator,
}

impl Summarizer {
    pub fn new(header: &TraceHeader) -> Self {
        let intervals = header
            .intervals_ms
            .iter()
            .map(|&interval_ms| IntervalAccumulator {
                interval_ms,
                span: ((interval_ms as f64 / header.base_epoch_ms).round() as usize).max(1),
                dirty: Quantiles::default(),
                seconds: 0.0,
                bytes_written: 0,
                recent: VecDeque::new(),
                recent_bytes: 0,
            })
            .collect();
        Self {
            header: header.clone(),
            epochs: 0,
            total_s: 0.0,
            write_bytes: 0,
            syscw: 0.0,
            cpu_s: 0.0,
            dirty_pages: 0.0,
            first_classes: None,
            classes: CpuClasses::default(),
            first_flushes: None,
            flushes: 0,
            dom0: dom0::Dom0Accumulator::default(),
            intervals,
            hours: hours::HourlyAccumulator::new(header),
        }
    }

    pub fn push(&mut self, epoch: &Epoch) {
        self.epochs += 1;
        self.total_s += epoch.end_s - epoch.start_s;
        self.write_bytes += epoch.write_bytes;
        self.syscw += epoch.syscw as f64;
        self.cpu_s += epoch.cpu_s;
        self.dirty_pages += epoch.dirty_pages as f64;
        self.first_classes
            .get_or_insert(epoch.cpu_classes.is_some());
        if let Some(c) = &epoch.cpu_classes {
            self.classes.vcpu_s += c.vcpu_s;
            self.classes.iothread_s += c.iothread_s;
            self.classes.emulator_s += c.emulator_s;
        }
        self.first_flushes.get_or_insert(epoch.flushes.is_some());
        self.flushes += epoch.flushes.unwrap_or(0);
        self.dom0.push(epoch);
        for interval in &mut self.intervals {
            if interval.recent.len() == interval.span {
                if let Some((_, bytes)) = interval.recent.pop_front() {
                    interval.recent_bytes -= bytes;
                }
            }
            interval
                .recent
                .push_back((epoch.start_s, epoch.write_bytes));
            interval.recent_bytes += epoch.write_bytes;
            for window in epoch
                .windows
                .iter()
                .filter(|w| w.interval_ms == interval.interval_ms)
            {
                interval.dirty.push(window.dirty_pages as f64);
                // The window covers this epoch and the span-1 before it.
                let first_start = interval.recent.front().map_or(epoch.start_s, |r| r.0);
                let seconds = epoch.end_s - first_start;
                interval.seconds += seconds;
                interval.bytes_written += interval.recent_bytes;
                self.hours.window(
                    interval.interval_ms,
                    first_start,
                    seconds,
                    window.dirty_pages,
                );
            }
        }
    }

    /// The summary of everything pushed, ended by `end`.
    pub fn finish(&self, end: &End, path: &str) -> Summary {
        let header = &self.header;
        let per_s = |value: f64| {
            if self.total_s > 0.0 {
                value / self.total_s
            } else {
                0.0
            }
        };
        Summary {
            target: header.target.describe(),
            backend: header.backend.clone(),
            method: header.method.name.clone(),
            method_reason: header.method.reason.clone(),
            exact: header.method.exact,
            trace: path.to_string(),
            start_time: header.start_time.clone(),
            base_epoch_ms: header.base_epoch_ms,
            duration_s: end.duration_s,
            base_epochs: self.epochs,
            late_epochs: end.late_epochs,
            ended: end.reason,
            end_message: end.message.clone(),
            memory_mib: round3(mib(header.memory_bytes as f64)),
            page_size: header.page_size,
            disk_write_mib_per_s: round3(mib(per_s(self.write_bytes as f64))),
            disk_writes_per_s: round3(per_s(self.syscw)),
            cpu_cores: round3(per_s(self.cpu_s)),
            cpu_cores_by_class: (self.first_classes == Some(true)).then(|| CpuClasses {
                vcpu_s: round3(per_s(self.classes.vcpu_s)),
                iothread_s: round3(per_s(self.classes.iothread_s)),
                emulator_s: round3(per_s(self.classes.emulator_s)),
            }),
            disk_flushes_per_s: (self.first_flushes == Some(true))
                .then(|| round3(per_s(self.flushes as f64))),
            dom0: self.dom0.summary(),
            cross_check: end.cross_check.clone().map(|theirs| CrossCheckSummary {
                theirs,
                ours_pages_per_s_at_base_epoch: round3(per_s(self.dirty_pages)),
            }),
            intervals: self
                .intervals
                .iter()
                .map(|i| interval_summary(header, i))
                .collect(),
            hours: self.hours.summary(),
        }
    }
}

fn interval_summary(header: &TraceHeader, i: &IntervalAccumulator) -> IntervalSummary {
    let dirty_pages = Stats::of_quantiles(&i.dirty);
    let page = header.page_size as f64;
    let rate = |value: f64| {
        if i.seconds > 0.0 {
            value / i.seconds
        } else {
            0.0
        }
    };
    let margin_95_pages = header.method.sample.as_ref().map(|sample| {
        let scale = sample.frame_pages as f64 / sample.sampled_pages.max(1) as f64;
        margin_95(
            dirty_pages.mean / scale,
            sample.sampled_pages,
            sample.frame_pages,
        )
    });
    IntervalSummary {
        interval_ms: i.interval_ms,
        epochs: i.dirty.count(),
        dirty_pages,
        checkpoint_mib_p95: round3(mib(dirty_pages.p95 * page)),
        dirty_mib_per_s: round3(mib(rate(i.dirty.sum() * page))),
        disk_write_mib_per_s: round3(mib(rate(i.bytes_written as f64))),
        margin_95_pages: margin_95_pages.map(round3),
        percentile_error: (!i.dirty.exact()).then_some(sketch::RELATIVE_ERROR),
    }
}

impl TextReport for Summary {
    fn render_text(&self) -> String {
        let mut out = format!(
            "target   {} ({} backend)\nmethod   {}{}: {}\nmeasured {:.1} s, {} base epochs of {} ms{}\n",
            self.target,
            self.backend,
            self.method,
            if self.exact { "" } else { " (estimate)" },
            self.method_reason,
            self.duration_s,
            self.base_epochs,
            self.base_epoch_ms,
            if self.late_epochs > 0 {
                format!(", {} ran late", self.late_epochs)
            } else {
                String::new()
            }
        );
        out.push_str(&format!(
            "memory   {:.1} MiB watched, {} B pages; disk writes {:.2} MiB/s ({:.0} writes/s); CPU {:.2} cores\n",
            self.memory_mib, self.page_size, self.disk_write_mib_per_s, self.disk_writes_per_s, self.cpu_cores
        ));
        if let Some(classes) = &self.cpu_cores_by_class {
            out.push_str(&format!(
                "threads  CPU cores: vCPUs {:.2}, iothreads {:.2}, emulator {:.2}{}\n",
                classes.vcpu_s,
                classes.iothread_s,
                classes.emulator_s,
                self.disk_flushes_per_s
                    .map(|f| format!("; disk flushes {f:.1}/s"))
                    .unwrap_or_default()
            ));
        }
        if let Some(d) = &self.dom0 {
            out.push_str(&dom0::render(d));
        }
        if let Some(check) = &self.cross_check {
            let theirs = match check.theirs.dirty_pages_per_s {
                Some(rate) => format!(
                    "{rate:.0} pages/s ({}, {} ms window)",
                    check.theirs.mode.as_deref().unwrap_or("?"),
                    check.theirs.window_ms.unwrap_or(0)
                ),
                None => check.theirs.status.clone(),
            };
            out.push_str(&format!(
                "check    {}: {theirs}; remus-tune: {:.0} pages/s at the base epoch{}\n",
                check.theirs.source,
                check.ours_pages_per_s_at_base_epoch,
                if check.theirs.note.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", check.theirs.note)
                }
            ));
        }
        out.push_str(&format!("trace    {}\n", self.trace));
        if self.ended == EndReason::Truncated {
            out.push_str(&format!("PARTIAL TRACE: {}\n", self.end_message));
        } else if self.ended.is_early() {
            out.push_str(&format!("ENDED EARLY: {}\n", self.end_message));
        }
        out.push('\n');
        let sampled = self.intervals.iter().any(|i| i.margin_95_pages.is_some());
        let mut header = vec![
            "interval",
            "ckpts",
            "dirty pages mean",
            "p50",
            "p95",
            "max",
            "MiB/ckpt p95",
            "dirty MiB/s",
            "disk MiB/s",
        ];
        if sampled {
            header.push("±95%/ckpt");
        }
        let mut rows = vec![header.into_iter().map(String::from).collect::<Vec<_>>()];
        for i in &self.intervals {
            let mut row = vec![
                format!("{}ms", i.interval_ms),
                i.epochs.to_string(),
                format!("{:.1}", i.dirty_pages.mean),
                format!("{:.0}", i.dirty_pages.p50),
                format!("{:.0}", i.dirty_pages.p95),
                format!("{:.0}", i.dirty_pages.max),
                format!("{:.2}", i.checkpoint_mib_p95),
                format!("{:.2}", i.dirty_mib_per_s),
                format!("{:.2}", i.disk_write_mib_per_s),
            ];
            if let Some(margin) = i.margin_95_pages {
                row.push(format!("±{margin:.1}"));
            }
            rows.push(row);
        }
        out.push_str(&table(&rows));
        out.push_str(&hours::render(&self.hours));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        let stats = Stats::of(&values);
        assert_eq!(stats.p50, 50.0);
        assert_eq!(stats.p95, 95.0);
        assert_eq!(stats.max, 100.0);
        assert_eq!(stats.mean, 50.5);
        assert_eq!(Stats::of(&[]), Stats::default());
        assert_eq!(Stats::of(&[7.0]).p95, 7.0);
    }
}
