//! The per-interval summary of a trace: what `measure` prints at its end and `show` prints
//! from a file. Computed only from the trace, so both always agree.

mod dom0;

pub use dom0::{CoreLoad, Dom0Summary};

use crate::output::{table, TextReport};
use crate::stats::{margin_95, quantile};
use crate::trace::{CpuClasses, CrossCheck, EndReason, Trace};
use crate::units::mib;
use serde::Serialize;

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
}

/// Three decimals: finer than any input is precise, and the same in JSON and YAML.
fn round3(value: f64) -> f64 {
    (value * 1e3).round() / 1e3
}

/// Summarises a trace; `path` is shown as where it came from.
pub fn summarize(trace: &Trace, path: &str) -> Summary {
    let header = &trace.header;
    let epochs = &trace.epochs;
    let total_s: f64 = epochs.iter().map(|e| e.end_s - e.start_s).sum();
    let per_s = |value: f64| if total_s > 0.0 { value / total_s } else { 0.0 };
    let write_bytes: u64 = epochs.iter().map(|e| e.write_bytes).sum();
    let intervals = header
        .intervals_ms
        .iter()
        .map(|&interval_ms| interval_summary(trace, interval_ms))
        .collect();
    Summary {
        target: header.target.describe(),
        backend: header.backend.clone(),
        method: header.method.name.clone(),
        method_reason: header.method.reason.clone(),
        exact: header.method.exact,
        trace: path.to_string(),
        start_time: header.start_time.clone(),
        base_epoch_ms: header.base_epoch_ms,
        duration_s: trace.end.duration_s,
        base_epochs: epochs.len() as u64,
        late_epochs: trace.end.late_epochs,
        ended: trace.end.reason,
        end_message: trace.end.message.clone(),
        memory_mib: round3(mib(header.memory_bytes as f64)),
        page_size: header.page_size,
        disk_write_mib_per_s: round3(mib(per_s(write_bytes as f64))),
        disk_writes_per_s: round3(per_s(epochs.iter().map(|e| e.syscw as f64).sum())),
        cpu_cores: round3(per_s(epochs.iter().map(|e| e.cpu_s).sum())),
        cpu_cores_by_class: epochs.first().and_then(|e| e.cpu_classes).map(|_| {
            let sum = |f: fn(&CpuClasses) -> f64| {
                round3(per_s(
                    epochs
                        .iter()
                        .filter_map(|e| e.cpu_classes.as_ref())
                        .map(f)
                        .sum(),
                ))
            };
            CpuClasses {
                vcpu_s: sum(|c| c.vcpu_s),
                iothread_s: sum(|c| c.iothread_s),
                emulator_s: sum(|c| c.emulator_s),
            }
        }),
        disk_flushes_per_s: epochs.first().and_then(|e| e.flushes).map(|_| {
            round3(per_s(
                epochs.iter().filter_map(|e| e.flushes).sum::<u64>() as f64
            ))
        }),
        dom0: dom0::summarize(epochs),
        cross_check: trace
            .end
            .cross_check
            .clone()
            .map(|theirs| CrossCheckSummary {
                theirs,
                ours_pages_per_s_at_base_epoch: round3(per_s(
                    epochs.iter().map(|e| e.dirty_pages as f64).sum(),
                )),
            }),
        intervals,
    }
}

fn interval_summary(trace: &Trace, interval_ms: u64) -> IntervalSummary {
    let header = &trace.header;
    let span = ((interval_ms as f64 / header.base_epoch_ms).round() as usize).max(1);
    let mut counts = Vec::new();
    let (mut seconds, mut bytes_written) = (0.0, 0u64);
    for (index, epoch) in trace.epochs.iter().enumerate() {
        for window in epoch
            .windows
            .iter()
            .filter(|w| w.interval_ms == interval_ms)
        {
            counts.push(window.dirty_pages as f64);
            // The window covers this epoch and the span-1 before it.
            let first = index + 1 - span.min(index + 1);
            seconds += epoch.end_s - trace.epochs[first].start_s;
            bytes_written += trace.epochs[first..=index]
                .iter()
                .map(|e| e.write_bytes)
                .sum::<u64>();
        }
    }
    let dirty_pages = Stats::of(&counts);
    let page = header.page_size as f64;
    let rate = |value: f64| if seconds > 0.0 { value / seconds } else { 0.0 };
    let margin_95_pages = header.method.sample.as_ref().map(|sample| {
        let scale = sample.frame_pages as f64 / sample.sampled_pages.max(1) as f64;
        margin_95(
            dirty_pages.mean / scale,
            sample.sampled_pages,
            sample.frame_pages,
        )
    });
    IntervalSummary {
        interval_ms,
        epochs: counts.len() as u64,
        dirty_pages,
        checkpoint_mib_p95: round3(mib(dirty_pages.p95 * page)),
        dirty_mib_per_s: round3(mib(rate(counts.iter().sum::<f64>() * page))),
        disk_write_mib_per_s: round3(mib(rate(bytes_written as f64))),
        margin_95_pages: margin_95_pages.map(round3),
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
        if self.ended.is_early() {
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
