//! Observe mode's reading of Remus: `dirty_count` grows between Remus's CLEANs and drops at
//! each, so every drop is one checkpoint and the last value before it a lower bound of the
//! frames that checkpoint sent (we sample between its CLEANs).
//!
//! A week of `watch` beside Remus sees millions of checkpoints, so their sizes are not kept
//! one by one: count, sum and max are exact, and the median comes from the summary's
//! quantile sketch (`summary::sketch`), exact while at most `SIZES_CAP` distinct sizes were
//! seen, within its `RELATIVE_ERROR` (0.5 %) after.

use crate::backend::RemusProgress;
use crate::summary::Quantiles;

/// Distinct checkpoint sizes kept exactly (about 100 KB at most).
const SIZES_CAP: usize = 4096;

/// What observe mode has seen of Remus's checkpoints.
#[derive(Debug, Clone)]
pub struct ObserveStats {
    pub(super) previous: Option<u32>,
    /// The sizes of the checkpoints seen (see the module doc).
    sizes: Quantiles,
    pages: u64,
    /// Epochs whose PEEK gave 0: unknown (log-dirty may be off), not idle.
    pub zero_epochs: u64,
    pub epochs: u64,
}

impl Default for ObserveStats {
    fn default() -> Self {
        Self {
            previous: None,
            sizes: Quantiles::with_cap(SIZES_CAP),
            pages: 0,
            zero_epochs: 0,
            epochs: 0,
        }
    }
}

impl ObserveStats {
    /// The growth of `dirty_count` since the previous epoch, counting from 0 after a drop
    /// (Remus's CLEAN in between).
    pub fn push(&mut self, dirty_count: u32) -> u64 {
        self.epochs += 1;
        if dirty_count == 0 {
            self.zero_epochs += 1;
        }
        let grown = match self.previous {
            Some(prev) if dirty_count >= prev => dirty_count - prev,
            Some(prev) => {
                self.sizes.push(f64::from(prev));
                self.pages += u64::from(prev);
                dirty_count
            }
            None => 0, // the first reading is the baseline: its pages predate the run
        };
        self.previous = Some(dirty_count);
        u64::from(grown)
    }

    /// The checkpoints seen so far; `None` before the first.
    pub fn progress(&self) -> Option<RemusProgress> {
        let checkpoints = self.sizes.count();
        (checkpoints > 0).then(|| RemusProgress {
            checkpoints,
            pages: self.pages,
            median_pages: self.sizes.quantile(0.5).round() as u64,
            max_pages: self.sizes.max() as u64,
            exact: self.sizes.exact(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_growth_and_drops() {
        let mut o = ObserveStats {
            previous: Some(100), // baseline PEEK
            ..ObserveStats::default()
        };
        assert_eq!(o.progress(), None);
        assert_eq!(o.push(150), 50);
        assert_eq!(o.push(400), 250);
        assert_eq!(o.push(30), 30); // Remus cleaned: 400 was its checkpoint (at least)
        assert_eq!(o.push(0), 0); // and 30 the next one's
        assert_eq!(o.push(70), 70);
        assert_eq!(o.push(10), 10); // 70
        assert_eq!(o.zero_epochs, 1);
        assert_eq!(
            o.progress(),
            Some(RemusProgress {
                checkpoints: 3,
                pages: 500,
                median_pages: 70,
                max_pages: 400,
                exact: true,
            })
        );
    }

    /// The words of the trace's cross-check and the end-of-run note, as before the counts
    /// were typed; `~` marks a median from the bucketed sketch.
    #[test]
    fn progress_reads_as_the_note() {
        let mut seen = RemusProgress {
            checkpoints: 412,
            pages: 900_000,
            median_pages: 1830,
            max_pages: 20211,
            exact: true,
        };
        assert_eq!(
            seen.to_string(),
            "412 Remus checkpoints seen (drops of dirty_count); frames per checkpoint, at \
             least: median 1830, max 20211"
        );
        seen.exact = false;
        assert!(seen.to_string().contains("median ~1830"));
    }

    /// A week beside Remus: millions of checkpoints in the memory of the sketch, the median
    /// within its stated error once the sizes outnumber the cap.
    #[test]
    fn millions_of_checkpoints_in_bounded_memory() {
        let mut o = ObserveStats::default();
        o.push(0);
        let n: u64 = 2_000_000;
        for i in 0..n {
            let size = 1000 + (i * 7919) % 20_000; // 20 000 distinct sizes, uniform
            o.push(size as u32);
            o.push(0);
        }
        let seen = o.progress().unwrap();
        assert_eq!(seen.checkpoints, n);
        assert_eq!(seen.max_pages, 20_999);
        assert!(!seen.exact);
        let true_median = 1000.0 + 10_000.0;
        let error = (seen.median_pages as f64 - true_median).abs() / true_median;
        assert!(
            error <= 0.006,
            "median {} off by {error}",
            seen.median_pages
        );
    }
}
