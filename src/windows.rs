//! Dirty-page counts for every checkpoint interval from one run at the base epoch.
//!
//! A page written twice within one checkpoint interval is sent once, so the dirty count of an
//! interval of k base epochs is the size of the *union* of k consecutive base-epoch sets, not
//! the sum of their counts (design.md, "Measuring several checkpoint intervals from one run").
//! Windows are consecutive and do not overlap, as successive checkpoints would be: the window
//! of interval k·e that closes at base epoch n covers epochs n-k+1 ..= n.

use crate::pageset::PageSet;

/// One interval's open window: the union of the base-epoch sets seen since it last closed.
struct Window {
    epochs_per_window: u32,
    interval_ms: u64,
    union: PageSet,
    filled: u32,
}

/// A window that closed at the base epoch just added.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClosedWindow {
    pub interval_ms: u64,
    /// Distinct pages in the union of the window's base-epoch sets.
    pub distinct_pages: u64,
}

/// Accumulates base-epoch sets into every requested interval at once.
pub struct IntervalWindows {
    windows: Vec<Window>,
}

impl IntervalWindows {
    /// `intervals` are (interval in ms, number of base epochs it spans).
    pub fn new(intervals: &[(u64, u32)]) -> Self {
        let windows = intervals
            .iter()
            .map(|&(interval_ms, epochs_per_window)| Window {
                epochs_per_window: epochs_per_window.max(1),
                interval_ms,
                union: PageSet::new(),
                filled: 0,
            })
            .collect();
        Self { windows }
    }

    /// Adds one base epoch's dirty set and returns the windows it closed.
    pub fn push(&mut self, epoch_set: &PageSet) -> Vec<ClosedWindow> {
        let mut closed = Vec::new();
        for window in &mut self.windows {
            let distinct_pages = if window.epochs_per_window == 1 {
                // No union needed: spare the copy on the hottest path.
                Some(epoch_set.len())
            } else {
                window.union.union_with(epoch_set);
                window.filled += 1;
                (window.filled == window.epochs_per_window).then(|| {
                    let count = window.union.len();
                    window.union.clear();
                    window.filled = 0;
                    count
                })
            };
            if let Some(distinct_pages) = distinct_pages {
                closed.push(ClosedWindow {
                    interval_ms: window.interval_ms,
                    distinct_pages,
                });
            }
        }
        closed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(range: std::ops::Range<u64>) -> PageSet {
        range.collect()
    }

    #[test]
    fn union_not_sum() {
        // The same 10 pages every epoch (a hot set): every interval sees 10 pages.
        let mut windows = IntervalWindows::new(&[(25, 1), (50, 2), (100, 4)]);
        let mut closed = Vec::new();
        for _ in 0..8 {
            closed.extend(windows.push(&set(0..10)));
        }
        assert!(closed.iter().all(|w| w.distinct_pages == 10));
        assert_eq!(closed.iter().filter(|w| w.interval_ms == 25).count(), 8);
        assert_eq!(closed.iter().filter(|w| w.interval_ms == 50).count(), 4);
        assert_eq!(closed.iter().filter(|w| w.interval_ms == 100).count(), 2);
    }

    #[test]
    fn sweep_grows_with_interval() {
        // 10 new pages every epoch: an interval of k epochs sees 10·k pages.
        let mut windows = IntervalWindows::new(&[(25, 1), (75, 3)]);
        let mut closed = Vec::new();
        for epoch in 0..6u64 {
            closed.extend(windows.push(&set(epoch * 10..epoch * 10 + 10)));
        }
        let long: Vec<u64> = closed
            .iter()
            .filter(|w| w.interval_ms == 75)
            .map(|w| w.distinct_pages)
            .collect();
        assert_eq!(long, vec![30, 30]);
    }

    #[test]
    fn windows_do_not_leak_into_each_other() {
        let mut windows = IntervalWindows::new(&[(50, 2)]);
        assert!(windows.push(&set(0..5)).is_empty());
        assert_eq!(windows.push(&set(3..8))[0].distinct_pages, 8);
        assert!(windows.push(&set(100..101)).is_empty());
        assert_eq!(windows.push(&set(100..101))[0].distinct_pages, 1);
    }
}
