//! What the trace measured, per checkpoint interval: one sample per closed window.
//!
//! The dirty count of interval X is every `windows` entry with `interval_ms == X` (the union
//! of the covered base-epoch sets, design.md); its disk writes and real length are the sums
//! over the covered epochs, taken from prefix sums so a one-hour trace stays linear.

use crate::trace::Trace;

/// One closed window of one interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Window {
    /// Distinct pages dirtied in the window.
    pub dirty_pages: f64,
    /// Bytes written to disk in the window.
    pub write_bytes: f64,
    /// Real length of the window, seconds (the sum of its epochs' real lengths).
    pub length_s: f64,
}

/// Every window of one measured interval.
#[derive(Clone, Debug, PartialEq)]
pub struct IntervalSeries {
    pub interval_ms: u64,
    pub windows: Vec<Window>,
}

impl IntervalSeries {
    pub fn mean_dirty(&self) -> f64 {
        mean(self.windows.iter().map(|w| w.dirty_pages))
    }
    pub fn mean_write_bytes(&self) -> f64 {
        mean(self.windows.iter().map(|w| w.write_bytes))
    }
    pub fn mean_length_s(&self) -> f64 {
        mean(self.windows.iter().map(|w| w.length_s))
    }
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    if n == 0 {
        0.0
    } else {
        sum / n as f64
    }
}

/// The series of every interval the trace measured, shortest first. Intervals with no closed
/// window (a trace shorter than the interval) are left out: there is nothing measured.
pub fn interval_series(trace: &Trace) -> Vec<IntervalSeries> {
    let base_ms = trace.header.base_epoch_ms;
    let epochs = &trace.epochs;
    // Prefix sums over epochs: index i holds the sum of epochs[..i].
    let mut length_prefix = Vec::with_capacity(epochs.len() + 1);
    let mut write_prefix = Vec::with_capacity(epochs.len() + 1);
    let (mut length, mut write) = (0.0f64, 0.0f64);
    length_prefix.push(0.0);
    write_prefix.push(0.0);
    for epoch in epochs {
        length += (epoch.end_s - epoch.start_s).max(0.0);
        write += epoch.write_bytes as f64;
        length_prefix.push(length);
        write_prefix.push(write);
    }
    let mut intervals = trace.header.intervals_ms.clone();
    intervals.sort_unstable();
    intervals.dedup();
    let spans: Vec<usize> = intervals
        .iter()
        .map(|&ms| ((ms as f64 / base_ms).round() as usize).max(1))
        .collect();
    // One pass over the epochs, routing each closed window to its interval.
    let mut windows: Vec<Vec<Window>> = vec![Vec::new(); intervals.len()];
    for (index, epoch) in epochs.iter().enumerate() {
        for window in &epoch.windows {
            let Some(slot) = intervals.iter().position(|&ms| ms == window.interval_ms) else {
                continue;
            };
            let first = (index + 1).saturating_sub(spans[slot]);
            windows[slot].push(Window {
                dirty_pages: window.dirty_pages as f64,
                write_bytes: write_prefix[index + 1] - write_prefix[first],
                length_s: length_prefix[index + 1] - length_prefix[first],
            });
        }
    }
    let mut out = Vec::new();
    for ((interval_ms, span), mut windows) in intervals.into_iter().zip(spans).zip(windows) {
        // A one-epoch interval needs no union: a writer may leave its windows out and the
        // epoch's own count is the window.
        if windows.is_empty() && span == 1 {
            windows = epochs
                .iter()
                .map(|epoch| Window {
                    dirty_pages: epoch.dirty_pages as f64,
                    write_bytes: epoch.write_bytes as f64,
                    length_s: (epoch.end_s - epoch.start_s).max(0.0),
                })
                .collect();
        }
        if !windows.is_empty() {
            out.push(IntervalSeries {
                interval_ms,
                windows,
            });
        }
    }
    out
}

/// Nearest-rank quantiles, shared with the summary.
pub use crate::stats::quantile;
