//! The sliding window the model sees: the epochs of the last `--window`, nothing older.
//!
//! Dirty *sets* never reach this far: the measuring loop unions them into each interval's
//! open window and keeps only those (`windows`). What is kept here is each epoch's record
//! (counts, bytes, CPU, its closed windows: about 300 bytes), so memory is bounded by
//! window / epoch (12 000 records for 5 minutes at 25 ms), not by how long `watch` runs.

use crate::trace::{End, EndReason, Epoch, Trace, TraceHeader};
use std::collections::VecDeque;

/// The latest epochs, spanning at most `span_s` seconds.
pub struct SlidingWindow {
    span_s: f64,
    epochs: VecDeque<Epoch>,
}

impl SlidingWindow {
    pub fn new(span_s: f64) -> Self {
        Self {
            span_s,
            epochs: VecDeque::new(),
        }
    }

    /// Adds the newest epoch and forgets those that fell out of the window.
    pub fn push(&mut self, epoch: Epoch) {
        let end = epoch.end_s;
        self.epochs.push_back(epoch);
        while self
            .epochs
            .front()
            .is_some_and(|first| end - first.start_s > self.span_s)
        {
            self.epochs.pop_front();
        }
    }

    pub fn len(&self) -> usize {
        self.epochs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.epochs.is_empty()
    }

    /// Seconds of measured time the window holds.
    pub fn covered_s(&self) -> f64 {
        match (self.epochs.front(), self.epochs.back()) {
            (Some(first), Some(last)) => (last.end_s - first.start_s).max(0.0),
            _ => 0.0,
        }
    }

    /// The window as a trace the model reads. A window of interval k·e that closed within
    /// the first k-1 epochs kept began before the window: its length and disk writes would
    /// be cut short, so it is left out (its dirty count stays in the histograms).
    pub fn trace(&self, header: &TraceHeader) -> Trace {
        let base_ms = header.base_epoch_ms;
        let epochs: Vec<Epoch> = self
            .epochs
            .iter()
            .enumerate()
            .map(|(index, epoch)| {
                let mut epoch = epoch.clone();
                epoch.windows.retain(|w| {
                    let span = ((w.interval_ms as f64 / base_ms).round() as usize).max(1);
                    span <= index + 1
                });
                epoch
            })
            .collect();
        let end = End {
            reason: EndReason::Completed,
            message: "sliding window of remus-tune watch".into(),
            epochs: epochs.len() as u64,
            duration_s: self.covered_s(),
            late_epochs: 0,
            cross_check: None,
            observer_effect: None,
            working_set_pages: None,
        };
        Trace {
            header: header.clone(),
            epochs,
            end,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::WindowCount;

    fn epoch(n: u64, windows: &[(u64, u64)]) -> Epoch {
        Epoch {
            n,
            start_s: n as f64 / 10.0,
            end_s: (n + 1) as f64 / 10.0,
            dirty_pages: 10,
            write_bytes: 0,
            syscw: 0,
            cpu_s: 0.0,
            scan_ms: 0.0,
            windows: windows
                .iter()
                .map(|&(interval_ms, dirty_pages)| WindowCount {
                    interval_ms,
                    dirty_pages,
                })
                .collect(),
            flushes: None,
            cpu_classes: None,
            dom0: None,
        }
    }

    #[test]
    fn keeps_only_the_span_and_whole_windows() {
        let header = TraceHeader::synthetic("w", 100, &[100, 200], 1 << 20);
        let mut window = SlidingWindow::new(1.0);
        for n in 0..100 {
            let mut closed = vec![(100, 10)];
            if n % 2 == 1 {
                closed.push((200, 15));
            }
            window.push(epoch(n, &closed));
        }
        // 1 s of 100 ms epochs: ten, however long it ran.
        assert_eq!(window.len(), 10);
        assert!((window.covered_s() - 1.0).abs() < 1e-9);
        let trace = window.trace(&header);
        assert_eq!(trace.epochs.first().unwrap().n, 90);
        // Epoch 91 closes a 200 ms window over 90..=91: whole, kept. Had the window started
        // at 91, that window would reach back before it and be dropped.
        assert_eq!(trace.epochs[1].windows.len(), 2);
        let mut shifted = SlidingWindow::new(0.95);
        for n in 0..100 {
            let mut closed = vec![(100, 10)];
            if n % 2 == 1 {
                closed.push((200, 15));
            }
            shifted.push(epoch(n, &closed));
        }
        let trace = shifted.trace(&header);
        assert_eq!(trace.epochs.first().unwrap().n, 91);
        assert_eq!(trace.epochs[0].windows.len(), 1, "cut window dropped");
    }
}
