//! The sliding window the model sees: the last `--window` of measuring, kept as what the
//! model reads rather than epoch by epoch, so its memory does not grow with the epoch rate.
//!
//! The window is a queue of buckets, each one stretch of `bucket_s` (the `--update` period,
//! or longer for very long windows so that there are at most `MAX_BUCKETS`). A bucket holds,
//! per interval, the windows that closed in it as [`Cells`] (counts and means exact,
//! quantiles within `cells::RELATIVE_ERROR`), and the sums the model takes over epochs
//! (seconds, writes, Dom-0 CPU). An update merges the buckets into the figures `model`
//! would gather from the same epochs; the oldest bucket is dropped once the window has slid
//! past it. Dirty *sets* never reach this far: the measuring loop unions them into each
//! interval's open window; the one per-epoch state kept here is the (length, writes) of the
//! last epochs of the longest interval, for the windows still to close.
//!
//! Memory: buckets × intervals × cells per bucket, at most `MAX_BUCKETS` buckets, and cells
//! bounded by the spread of the data, not by how many epochs fell into them.

use super::cells::{self, Cells};
use crate::model::{Dom0Sums, TraceFigures, Window};
use crate::trace::{Dom0Cpu, End, EndReason, Epoch, TraceHeader};
use std::collections::VecDeque;

/// Buckets kept at most: a week-long window at 10 s updates slides by about 40 minutes.
pub const MAX_BUCKETS: usize = 256;
/// Cells the whole window may hold, shared out between its buckets and intervals (about 48
/// bytes each: 50 MB at most). A bucket past its share coarsens (`cells`).
pub const CELL_BUDGET: usize = 1 << 20;

/// The sliding window as per-bucket summaries.
pub struct SlidingWindow {
    header: TraceHeader,
    span_s: f64,
    bucket_s: f64,
    /// Cells per bucket and interval: `CELL_BUDGET` shared out.
    cell_cap: usize,
    /// (interval ms, span in base epochs), in the header's order.
    intervals: Vec<(u64, usize)>,
    /// (length, write bytes) of the latest epochs, newest first, as many as the longest span.
    recent: VecDeque<(f64, f64)>,
    longest: usize,
    buckets: VecDeque<Bucket>,
}

/// What one stretch of the window adds to the model's figures.
struct Bucket {
    start_s: f64,
    end_s: f64,
    epochs: usize,
    total_len: f64,
    total_write: f64,
    dom0: Dom0Totals,
    /// Per interval, in `SlidingWindow::intervals`' order.
    cells: Vec<Cells>,
}

/// The sums `model::Dom0Sums` keeps, split by whether the save helper was seen.
#[derive(Default, Clone, Copy)]
struct Dom0Totals {
    with_helper: Option<Dom0Sum>,
    without_helper: Option<Dom0Sum>,
}

#[derive(Default, Clone, Copy)]
struct Dom0Sum {
    seconds: f64,
    dom0_s: f64,
    helper_s: f64,
    helper_pages: u64,
}

impl Dom0Totals {
    fn push(&mut self, epoch: &Epoch) {
        let Some(dom0) = epoch.dom0 else { return };
        let slot = match dom0.save_helper_s {
            Some(_) => &mut self.with_helper,
            None => &mut self.without_helper,
        };
        let sum = slot.get_or_insert_with(Dom0Sum::default);
        sum.seconds += (epoch.end_s - epoch.start_s).max(0.0);
        sum.dom0_s += dom0.cpu_s;
        if let Some(helper) = dom0.save_helper_s {
            sum.helper_s += helper;
            sum.helper_pages += epoch.dirty_pages;
        }
    }

    fn merge(&mut self, other: &Dom0Totals) {
        for (mine, theirs) in [
            (&mut self.with_helper, other.with_helper),
            (&mut self.without_helper, other.without_helper),
        ] {
            if let Some(theirs) = theirs {
                let sum = mine.get_or_insert_with(Dom0Sum::default);
                sum.seconds += theirs.seconds;
                sum.dom0_s += theirs.dom0_s;
                sum.helper_s += theirs.helper_s;
                sum.helper_pages += theirs.helper_pages;
            }
        }
    }

    /// As the model's sums. `Dom0Sums` is built from epochs only, and is linear in them: one
    /// epoch carrying the sums of many gives the same sums as those many.
    fn to_sums(self) -> Dom0Sums {
        let mut sums = Dom0Sums::default();
        for (sum, helper) in [(self.with_helper, true), (self.without_helper, false)] {
            let Some(sum) = sum else { continue };
            sums.push(&Epoch {
                n: 0,
                start_s: 0.0,
                end_s: sum.seconds,
                dirty_pages: sum.helper_pages,
                write_bytes: 0,
                syscw: 0,
                cpu_s: 0.0,
                scan_ms: 0.0,
                windows: Vec::new(),
                flushes: None,
                cpu_classes: None,
                dom0: Some(Dom0Cpu {
                    cpu_s: sum.dom0_s,
                    save_helper_s: helper.then_some(sum.helper_s),
                }),
            });
        }
        sums
    }
}

impl Bucket {
    fn new(start_s: f64, intervals: usize, cap: usize) -> Self {
        Self {
            start_s,
            end_s: start_s,
            epochs: 0,
            total_len: 0.0,
            total_write: 0.0,
            dom0: Dom0Totals::default(),
            cells: vec![Cells::with_cap(cap); intervals],
        }
    }
}

impl SlidingWindow {
    /// A window of `span_s` seconds whose model is re-run every `update_s`.
    pub fn new(header: &TraceHeader, span_s: f64, update_s: f64) -> Self {
        let base_ms = header.base_epoch_ms;
        let intervals: Vec<(u64, usize)> = header
            .intervals_ms
            .iter()
            .map(|&ms| (ms, ((ms as f64 / base_ms).round() as usize).max(1)))
            .collect();
        let longest = intervals.iter().map(|i| i.1).max().unwrap_or(1);
        // Finer than an update is never seen; at least four buckets so the window slides.
        let bucket_s = (span_s / MAX_BUCKETS as f64)
            .max(update_s)
            .min(span_s / 4.0);
        // One more bucket than fit: the one being filled.
        let buckets = (span_s / bucket_s).ceil() as usize + 1;
        let cell_cap = CELL_BUDGET / (buckets * intervals.len().max(1));
        Self {
            header: header.clone(),
            span_s,
            bucket_s,
            cell_cap,
            intervals,
            recent: VecDeque::with_capacity(longest),
            longest,
            buckets: VecDeque::new(),
        }
    }

    /// Adds the newest epoch and forgets the buckets the window slid past.
    pub fn push(&mut self, epoch: &Epoch) {
        let length = (epoch.end_s - epoch.start_s).max(0.0);
        let write = epoch.write_bytes as f64;
        if self.recent.len() == self.longest {
            self.recent.pop_back();
        }
        self.recent.push_front((length, write));

        let opens = self
            .buckets
            .back()
            .is_none_or(|b| epoch.start_s >= b.start_s + self.bucket_s);
        if opens {
            self.buckets.push_back(Bucket::new(
                epoch.start_s,
                self.intervals.len(),
                self.cell_cap,
            ));
        }
        let Some(bucket) = self.buckets.back_mut() else {
            return;
        };
        bucket.end_s = epoch.end_s;
        bucket.epochs += 1;
        bucket.total_len += length;
        bucket.total_write += write;
        bucket.dom0.push(epoch);
        for (slot, &(interval_ms, span)) in self.intervals.iter().enumerate() {
            let closed = epoch.windows.iter().find(|w| w.interval_ms == interval_ms);
            let dirty_pages = match closed {
                Some(window) => window.dirty_pages,
                // A one-epoch interval needs no union: a writer may leave its windows out
                // and the epoch's own count is the window (as `model::SeriesBuilder`).
                None if span == 1 => epoch.dirty_pages,
                None => continue,
            };
            let (length_s, write_bytes) = self
                .recent
                .iter()
                .take(span)
                .fold((0.0, 0.0), |(l, w), r| (l + r.0, w + r.1));
            bucket.cells[slot].push(Window {
                dirty_pages: dirty_pages as f64,
                write_bytes,
                length_s,
            });
        }

        let newest = epoch.end_s;
        while self.buckets.len() > 1
            && self
                .buckets
                .front()
                .is_some_and(|first| newest - first.start_s > self.span_s)
        {
            self.buckets.pop_front();
        }
    }

    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }

    /// Seconds of measured time the window holds: `--window` less at most one bucket.
    pub fn covered_s(&self) -> f64 {
        match (self.buckets.front(), self.buckets.back()) {
            (Some(first), Some(last)) => (last.end_s - first.start_s).max(0.0),
            _ => 0.0,
        }
    }

    /// Buckets and cells held: what the window's memory grows with.
    pub fn footprint(&self) -> (usize, usize) {
        let cells = self
            .buckets
            .iter()
            .flat_map(|b| b.cells.iter())
            .map(Cells::len)
            .sum();
        (self.buckets.len(), cells)
    }

    /// Bound of the relative error of the quantiles the model takes over the window: the
    /// coarsest of its cells (0.8 % unless a bucket outgrew its share of `CELL_BUDGET`).
    pub fn relative_error(&self) -> f64 {
        self.buckets
            .iter()
            .flat_map(|b| b.cells.iter())
            .map(Cells::relative_error)
            .fold(cells::relative_error(cells::FINEST_BITS), f64::max)
    }

    /// The window as the figures the model reads (`model::predict_figures`).
    pub fn figures(&self) -> TraceFigures {
        let mut epochs = 0;
        let (mut total_len, mut total_write) = (0.0, 0.0);
        let mut dom0 = Dom0Totals::default();
        for bucket in &self.buckets {
            epochs += bucket.epochs;
            total_len += bucket.total_len;
            total_write += bucket.total_write;
            dom0.merge(&bucket.dom0);
        }
        let mut series: Vec<_> = self
            .intervals
            .iter()
            .enumerate()
            .map(|(slot, &(interval_ms, _))| {
                let merged = Cells::merged(self.buckets.iter().map(|b| &b.cells[slot]));
                cells::into_series(interval_ms, merged)
            })
            .filter(|series| !series.windows.is_empty())
            .collect();
        series.sort_by_key(|s| s.interval_ms);
        series.dedup_by_key(|s| s.interval_ms);
        TraceFigures {
            header: self.header.clone(),
            end: End {
                reason: EndReason::Completed,
                message: "sliding window of remus-tune watch".into(),
                epochs: epochs as u64,
                duration_s: self.covered_s(),
                late_epochs: 0,
                cross_check: None,
                observer_effect: None,
                // The window keeps no union over its whole span: the curve saturates at its
                // longest window instead (model::curve says so).
                working_set_pages: None,
            },
            epochs,
            total_len,
            total_write,
            dom0: dom0.to_sums(),
            series,
        }
    }
}

#[cfg(test)]
mod tests;
