//! How long and how often to measure: a base epoch, the checkpoint intervals built from it,
//! and the run's duration. An interval's dirty set is the union of consecutive base-epoch
//! sets, so every interval must be a whole number of epochs (design.md, "Measuring several
//! checkpoint intervals from one run").

use super::SettingsError;
use crate::units::HumanDuration;
use std::time::Duration;

/// One checkpoint interval, as measured: whole milliseconds, and the base epochs it spans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Interval {
    pub ms: u64,
    pub epochs: u32,
}

/// A validated measuring schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct Timing {
    pub epoch: Duration,
    /// Sorted, without duplicates.
    pub intervals: Vec<Interval>,
    pub duration: Duration,
}

impl Timing {
    /// `--epoch`, `--intervals` and `--duration`: the epoch at least 1 ms, each interval a
    /// whole number of milliseconds and of epochs, the duration at least one epoch.
    pub fn new(
        epoch: Duration,
        intervals: &[Duration],
        duration: Duration,
    ) -> Result<Self, SettingsError> {
        if epoch < Duration::from_millis(1) {
            return Err(SettingsError(format!(
                "--epoch must be at least 1ms (got {})",
                HumanDuration(epoch)
            )));
        }
        if intervals.is_empty() {
            return Err(SettingsError(
                "--intervals is empty: give at least one interval, e.g. 25ms,100ms".into(),
            ));
        }
        let epoch_us = epoch.as_micros();
        let mut planned = Vec::new();
        for interval in intervals {
            let us = interval.as_micros();
            if us == 0 || us % epoch_us != 0 || us % 1000 != 0 {
                return Err(SettingsError(format!(
                    "interval {} is not a multiple of the base epoch {}: every interval is \
                     built from whole epochs; use multiples such as {}, {}, {}",
                    HumanDuration(*interval),
                    HumanDuration(epoch),
                    HumanDuration(epoch),
                    HumanDuration(epoch * 2),
                    HumanDuration(epoch * 4)
                )));
            }
            planned.push(Interval {
                ms: (us / 1000) as u64,
                epochs: (us / epoch_us) as u32,
            });
        }
        planned.sort_unstable();
        planned.dedup();
        if duration < epoch {
            return Err(SettingsError(format!(
                "--duration {} is shorter than one --epoch {}",
                HumanDuration(duration),
                HumanDuration(epoch)
            )));
        }
        Ok(Self {
            epoch,
            intervals: planned,
            duration,
        })
    }

    /// The schedule as a person would type it, for messages.
    pub fn describe(&self) -> String {
        let intervals: Vec<String> = self
            .intervals
            .iter()
            .map(|i| HumanDuration(Duration::from_millis(i.ms)).to_string())
            .collect();
        format!(
            "base epoch {}, intervals {}, duration {}",
            HumanDuration(self.epoch),
            intervals.join(","),
            HumanDuration(self.duration)
        )
    }

    /// (ms, epochs) pairs, as the measuring loop and the trace take them.
    pub fn interval_pairs(&self) -> Vec<(u64, u32)> {
        self.intervals.iter().map(|i| (i.ms, i.epochs)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn intervals_are_whole_epochs_sorted_and_deduplicated() {
        let timing = Timing::new(ms(25), &[ms(100), ms(25), ms(50), ms(25)], ms(1000)).unwrap();
        assert_eq!(timing.interval_pairs(), vec![(25, 1), (50, 2), (100, 4)]);
        assert_eq!(
            timing.describe(),
            "base epoch 25ms, intervals 25ms,50ms,100ms, duration 1s"
        );
    }

    #[test]
    fn every_bad_schedule_names_its_flag() {
        let err = Timing::new(ms(25), &[ms(60)], ms(1000)).unwrap_err().0;
        assert!(
            err.contains("not a multiple") && err.contains("60ms"),
            "{err}"
        );
        let err = Timing::new(ms(25), &[], ms(1000)).unwrap_err().0;
        assert!(err.starts_with("--intervals is empty"), "{err}");
        let err = Timing::new(Duration::from_micros(10), &[ms(1)], ms(1000))
            .unwrap_err()
            .0;
        assert!(err.starts_with("--epoch must be at least 1ms"), "{err}");
        let err = Timing::new(ms(25), &[ms(25)], ms(10)).unwrap_err().0;
        assert!(err.contains("--duration 10ms is shorter"), "{err}");
        // Whole epochs of a sub-millisecond epoch that are not whole milliseconds.
        let epoch = Duration::from_micros(1500);
        assert!(Timing::new(epoch, &[epoch], ms(1000)).is_err());
        assert!(Timing::new(epoch, &[ms(3)], ms(1000)).is_ok());
    }
}
