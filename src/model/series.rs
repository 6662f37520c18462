//! What the trace measured, per checkpoint interval: one sample per closed window.
//!
//! The dirty count of interval X is every `windows` entry with `interval_ms == X` (the union
//! of the covered base-epoch sets, design.md); its disk writes and real length are the sums
//! over the covered epochs, taken from the last epochs of the longest interval.
//!
//! Built as epochs stream by (`SeriesBuilder`), so a day-long trace is modelled in bounded
//! memory: each interval keeps its windows exactly up to `EXACT_WINDOWS`, then folds them into
//! cells of windows alike within 0.8 % in dirty pages, writes and length. A cell keeps
//! its members' mean and count, so means stay exact and every quantile is within 1 % of the
//! exact one; the number of cells grows with the spread of the data, not with its length.

use crate::fasthash::FastMap;
use crate::trace::{Epoch, Trace, TraceHeader};
use std::collections::VecDeque;

/// Windows kept one by one per interval: 1.8 hours at 25 ms, far more than any short trace.
pub const EXACT_WINDOWS: usize = 1 << 18;
/// Mantissa bits a cell keeps of each dimension: members of a cell share their exponent and
/// top 7 mantissa bits, so they differ by less than 1/128 (0.8 %) of their value.
const CELL_MANTISSA_BITS: u32 = 7;

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
    /// How many measured windows each entry of `windows` stands for (a cell's mean, see the
    /// module doc); empty when every entry is one window.
    pub weights: Vec<u64>,
}

impl IntervalSeries {
    /// Measured windows behind the series.
    pub fn count(&self) -> usize {
        if self.weights.is_empty() {
            self.windows.len()
        } else {
            self.weights.iter().sum::<u64>() as usize
        }
    }
    /// Each entry with the windows it stands for.
    pub fn weighted(&self) -> impl Iterator<Item = (&Window, u64)> + '_ {
        self.windows
            .iter()
            .enumerate()
            .map(|(i, w)| (w, self.weights.get(i).copied().unwrap_or(1)))
    }
    pub fn mean_dirty(&self) -> f64 {
        self.mean(|w| w.dirty_pages)
    }
    pub fn mean_write_bytes(&self) -> f64 {
        self.mean(|w| w.write_bytes)
    }
    pub fn mean_length_s(&self) -> f64 {
        self.mean(|w| w.length_s)
    }
    fn mean(&self, value: impl Fn(&Window) -> f64) -> f64 {
        let (sum, n) = self.weighted().fold((0.0, 0u64), |(s, n), (w, k)| {
            (s + value(w) * k as f64, n + k)
        });
        if n == 0 {
            0.0
        } else {
            sum / n as f64
        }
    }
}

/// A cell: the log-scale buckets of a window's dirty pages, writes and length.
type CellKey = (i32, i32, i32);

/// One interval's windows as they arrive: exact, then folded into cells.
#[derive(Default)]
struct Collector {
    exact: Vec<Window>,
    /// Cell → (sum of members, count).
    cells: Option<FastMap<CellKey, (Window, u64)>>,
}

/// A log-scale bucket from the float's own bits (no `ln` on the hot path): exponent and top
/// mantissa bits, monotone in the value for positive finite numbers.
fn cell_index(value: f64) -> i32 {
    if value > 0.0 && value.is_finite() {
        (value.to_bits() >> (52 - CELL_MANTISSA_BITS)) as i32
    } else {
        i32::MIN
    }
}

impl Collector {
    fn push(&mut self, window: Window) {
        if let Some(cells) = &mut self.cells {
            let key = (
                cell_index(window.dirty_pages),
                cell_index(window.write_bytes),
                cell_index(window.length_s),
            );
            let cell = cells.entry(key).or_insert((
                Window {
                    dirty_pages: 0.0,
                    write_bytes: 0.0,
                    length_s: 0.0,
                },
                0,
            ));
            cell.0.dirty_pages += window.dirty_pages;
            cell.0.write_bytes += window.write_bytes;
            cell.0.length_s += window.length_s;
            cell.1 += 1;
            return;
        }
        self.exact.push(window);
        if self.exact.len() > EXACT_WINDOWS {
            self.cells = Some(FastMap::default());
            for window in std::mem::take(&mut self.exact) {
                self.push(window);
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.exact.is_empty() && self.cells.as_ref().is_none_or(|c| c.is_empty())
    }

    fn into_series(self, interval_ms: u64) -> IntervalSeries {
        match self.cells {
            None => IntervalSeries {
                interval_ms,
                windows: self.exact,
                weights: Vec::new(),
            },
            Some(cells) => {
                let (windows, weights) = cells
                    .into_values()
                    .map(|(sum, n)| {
                        let k = n as f64;
                        (
                            Window {
                                dirty_pages: sum.dirty_pages / k,
                                write_bytes: sum.write_bytes / k,
                                length_s: sum.length_s / k,
                            },
                            n,
                        )
                    })
                    .unzip();
                IntervalSeries {
                    interval_ms,
                    windows,
                    weights,
                }
            }
        }
    }
}

/// Builds every interval's series from epochs as they stream by; memory is the longest
/// interval's epochs plus the collectors.
pub struct SeriesBuilder {
    /// (interval ms, span in base epochs), ascending.
    intervals: Vec<(u64, usize)>,
    collectors: Vec<Collector>,
    /// Span-1 intervals whose writer left their windows out: the epoch's own count.
    fallback: Vec<Option<Collector>>,
    /// (length, write bytes) of the latest epochs, as many as the longest span.
    recent: VecDeque<(f64, f64)>,
    longest: usize,
}

impl SeriesBuilder {
    pub fn new(header: &TraceHeader) -> Self {
        let base_ms = header.base_epoch_ms;
        let mut intervals: Vec<u64> = header.intervals_ms.clone();
        intervals.sort_unstable();
        intervals.dedup();
        let intervals: Vec<(u64, usize)> = intervals
            .into_iter()
            .map(|ms| (ms, ((ms as f64 / base_ms).round() as usize).max(1)))
            .collect();
        let longest = intervals.iter().map(|i| i.1).max().unwrap_or(1);
        Self {
            collectors: intervals.iter().map(|_| Collector::default()).collect(),
            fallback: intervals
                .iter()
                .map(|&(_, span)| (span == 1).then(Collector::default))
                .collect(),
            intervals,
            recent: VecDeque::with_capacity(longest),
            longest,
        }
    }

    pub fn push(&mut self, epoch: &Epoch) {
        let length = (epoch.end_s - epoch.start_s).max(0.0);
        let write = epoch.write_bytes as f64;
        if self.recent.len() == self.longest {
            self.recent.pop_back();
        }
        self.recent.push_front((length, write));
        for window in &epoch.windows {
            let Some(slot) = self
                .intervals
                .iter()
                .position(|&(ms, _)| ms == window.interval_ms)
            else {
                continue;
            };
            let span = self.intervals[slot].1;
            let (length_s, write_bytes) = self
                .recent
                .iter()
                .take(span)
                .fold((0.0, 0.0), |(l, w), r| (l + r.0, w + r.1));
            self.collectors[slot].push(Window {
                dirty_pages: window.dirty_pages as f64,
                write_bytes,
                length_s,
            });
            self.fallback[slot] = None;
        }
        for fallback in self.fallback.iter_mut().flatten() {
            fallback.push(Window {
                dirty_pages: epoch.dirty_pages as f64,
                write_bytes: write,
                length_s: length,
            });
        }
    }

    /// The series of every interval with at least one window, shortest first.
    pub fn finish(self) -> Vec<IntervalSeries> {
        let mut out = Vec::new();
        for (((interval_ms, _), collector), fallback) in self
            .intervals
            .into_iter()
            .zip(self.collectors)
            .zip(self.fallback)
        {
            // A one-epoch interval needs no union: a writer may leave its windows out and the
            // epoch's own count is the window.
            let collector = match fallback {
                Some(fallback) if collector.is_empty() => fallback,
                _ => collector,
            };
            if !collector.is_empty() {
                out.push(collector.into_series(interval_ms));
            }
        }
        out
    }
}

/// The series of every interval the trace measured, shortest first. Intervals with no closed
/// window (a trace shorter than the interval) are left out: there is nothing measured.
pub fn interval_series(trace: &Trace) -> Vec<IntervalSeries> {
    let mut builder = SeriesBuilder::new(&trace.header);
    for epoch in &trace.epochs {
        builder.push(epoch);
    }
    builder.finish()
}

/// Nearest-rank quantiles, shared with the summary.
pub use crate::stats::{quantile, weighted_quantile};

#[cfg(test)]
mod tests {
    use super::*;

    /// Past `EXACT_WINDOWS` the windows fold into cells: counts and means stay exact, and
    /// percentiles stay within the cells' 1 %.
    #[test]
    fn long_series_fold_into_cells_within_one_percent() {
        use crate::trace::{Epoch, TraceHeader, WindowCount};
        let header = TraceHeader::synthetic("long", 25, &[25], 1 << 30);
        let mut builder = SeriesBuilder::new(&header);
        let mut exact = Vec::new();
        let n = EXACT_WINDOWS as u64 + 50_000;
        for i in 0..n {
            let dirty = 500 + (i * 7919) % 3000;
            exact.push(dirty as f64);
            builder.push(&Epoch {
                n: i,
                start_s: i as f64 * 0.025,
                end_s: (i + 1) as f64 * 0.025,
                dirty_pages: dirty,
                write_bytes: (i % 4) * 4096,
                syscw: 0,
                cpu_s: 0.0,
                scan_ms: 0.0,
                windows: vec![WindowCount {
                    interval_ms: 25,
                    dirty_pages: dirty,
                }],
                flushes: None,
                cpu_classes: None,
                dom0: None,
            });
        }
        let series = builder.finish().remove(0);
        assert!(!series.weights.is_empty() && series.windows.len() < 50_000);
        assert_eq!(series.count(), n as usize);
        let mean = exact.iter().sum::<f64>() / exact.len() as f64;
        assert!((series.mean_dirty() - mean).abs() < 1e-6 * mean);
        let mut folded: Vec<(f64, u64)> =
            series.weighted().map(|(w, k)| (w.dirty_pages, k)).collect();
        for q in [0.5, 0.95] {
            let truth = quantile(&mut exact, q);
            let got = weighted_quantile(&mut folded, q);
            assert!(
                (got - truth).abs() <= 0.01 * truth,
                "p{q}: {got} vs {truth}"
            );
        }
    }
}
