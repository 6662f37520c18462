//! The numbers the charts draw, gathered once from the trace and the model's report, so each
//! chart is only drawing. Long traces are binned: a one-hour trace at 10 ms has 360 000 epochs,
//! far more than a chart has pixels.

use crate::model::ModelReport;
use crate::trace::{Epoch, Trace};
use crate::units::mib;

/// Points drawn per time series at most: one per two pixel columns of the plot, so a line
/// stays readable; bins show their mean and their peak.
pub const MAX_POINTS: usize = 400;

/// A time series, binned when long: `mean` per bin and `max` per bin.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Series {
    pub mean: Vec<(f64, f64)>,
    pub max: Vec<(f64, f64)>,
    /// Seconds per bin; the base epoch when not binned.
    pub bin_s: f64,
}

/// Bins `(t, value)` points into at most `max_points` bins (see [`Binner`]).
pub fn downsample(points: &[(f64, f64)], max_points: usize) -> Series {
    let mut binner = Binner::new(max_points);
    for &(t, value) in points {
        binner.push(t, value);
    }
    binner.finish()
}

/// Seconds per bin of `per_bin` points, from the span of `count` points.
fn bin_seconds(first_t: f64, last_t: f64, count: usize, per_bin: usize) -> f64 {
    if count > 1 {
        (last_t - first_t) / (count - 1) as f64 * per_bin as f64
    } else {
        0.0
    }
}

/// One bin of a [`Binner`]: its points' sum, count and peak, the time of its first point
/// and of its middle one (where [`downsample`] draws a bin).
#[derive(Clone, Copy, Debug)]
struct Bin {
    sum: f64,
    count: usize,
    max: f64,
    first_t: f64,
    middle_t: f64,
}

/// [`downsample`] as the points stream by, in memory bounded by `max_points`: bins of equal
/// count, the count doubled (neighbours merged) whenever the bins would pass `max_points`. A
/// series of at most `max_points` points comes out as [`downsample`] gives it, one bin per
/// point; a longer one in `max_points / 2` to `max_points` bins of a power-of-two count.
#[derive(Clone, Debug)]
pub struct Binner {
    max_points: usize,
    per_bin: usize,
    bins: Vec<Bin>,
    points: usize,
    first_t: f64,
    last_t: f64,
}

impl Binner {
    pub fn new(max_points: usize) -> Self {
        Self {
            // Pairs are merged, so at least two bins.
            max_points: max_points.max(2),
            per_bin: 1,
            bins: Vec::new(),
            points: 0,
            first_t: 0.0,
            last_t: 0.0,
        }
    }

    pub fn push(&mut self, t: f64, value: f64) {
        if self.points == 0 {
            self.first_t = t;
        }
        self.points += 1;
        self.last_t = t;
        if let Some(bin) = self.bins.last_mut().filter(|b| b.count < self.per_bin) {
            bin.sum += value;
            bin.max = bin.max.max(value);
            bin.count += 1;
            // The middle of `per_bin` points is the first of the bin's second half.
            if bin.count == self.per_bin / 2 + 1 {
                bin.middle_t = t;
            }
            return;
        }
        if self.bins.len() == self.max_points {
            self.double();
        }
        self.bins.push(Bin {
            sum: value,
            count: 1,
            max: f64::MIN.max(value),
            first_t: t,
            middle_t: t,
        });
    }

    /// Merges neighbouring bins, all full: the merged bin's middle is its second half's first.
    fn double(&mut self) {
        let merged = self
            .bins
            .chunks(2)
            .map(|pair| match pair {
                [a, b] => Bin {
                    sum: a.sum + b.sum,
                    count: a.count + b.count,
                    max: a.max.max(b.max),
                    first_t: a.first_t,
                    middle_t: b.first_t,
                },
                [a] => *a,
                _ => unreachable!("chunks of two"),
            })
            .collect();
        self.bins = merged;
        self.per_bin *= 2;
    }

    /// True when the last bin holds less than half its points.
    fn partial_last(&self) -> bool {
        self.bins
            .last()
            .is_some_and(|b| b.count <= self.per_bin / 2)
    }

    pub fn finish(self) -> Series {
        let mut series = Series::default();
        for bin in &self.bins {
            series.mean.push((bin.middle_t, bin.sum / bin.count as f64));
            series.max.push((bin.middle_t, bin.max));
        }
        if let Some(last) = series.mean.last_mut().filter(|_| self.partial_last()) {
            // Its middle point has not come: draw it halfway between its first and last.
            let first = self.bins[self.bins.len() - 1].first_t;
            last.0 = first + (self.last_t - first) / 2.0;
            series.max.last_mut().expect("as many peaks as means").0 = last.0;
        }
        if self.points > 0 {
            series.bin_s = bin_seconds(self.first_t, self.last_t, self.points, self.per_bin);
        }
        series
    }
}

/// The two series over time the charts draw, gathered as epochs stream by.
#[derive(Clone, Debug)]
pub struct Timeline {
    dirty: Binner,
    disk_mib_s: Binner,
}

impl Default for Timeline {
    fn default() -> Self {
        Self {
            dirty: Binner::new(MAX_POINTS),
            disk_mib_s: Binner::new(MAX_POINTS),
        }
    }
}

impl Timeline {
    pub fn push(&mut self, epoch: &Epoch) {
        let length = (epoch.end_s - epoch.start_s).max(1e-9);
        self.dirty.push(epoch.end_s, epoch.dirty_pages as f64);
        self.disk_mib_s
            .push(epoch.end_s, mib(epoch.write_bytes as f64) / length);
    }
}

/// Everything the six charts need.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChartData {
    /// "target · profile web on xen-4.17", under every title.
    pub subtitle: String,
    pub intervals_ms: Vec<f64>,
    pub throughput_pinned: Vec<f64>,
    pub throughput_shared: Vec<f64>,
    /// Lowest acceptable throughput, % (100 − max_slowdown).
    pub throughput_floor: Option<f64>,
    pub recommended_ms: Option<f64>,
    pub buffered: bool,
    pub latency_mean: Vec<f64>,
    pub latency_p95: Vec<f64>,
    pub latency_limit_ms: Option<f64>,
    pub bandwidth_mib_s: Vec<f64>,
    pub link_mib_s: f64,
    pub link_share_limit: Option<f64>,
    /// (interval ms, mean, p95) dirty pages per measured window.
    pub working_set: Vec<(f64, f64, f64)>,
    pub dirty: Series,
    pub disk_mib_s: Series,
}

impl ChartData {
    /// The chart data of a trace in memory.
    pub fn new(trace: &Trace, report: &ModelReport) -> Self {
        let mut timeline = Timeline::default();
        for epoch in &trace.epochs {
            timeline.push(epoch);
        }
        Self::from_timeline(timeline, report)
    }

    /// The chart data of a trace streamed into `timeline`.
    pub fn from_timeline(timeline: Timeline, report: &ModelReport) -> Self {
        let limit = |name: &str| {
            report
                .intervals
                .first()
                .and_then(|p| p.limits.iter().find(|c| c.limit == name))
                .map(|c| c.max)
        };
        let i = &report.intervals;
        Self {
            subtitle: format!(
                "{} · profile {} on {}",
                report.trace.target, report.profile.name, report.profile.host
            ),
            intervals_ms: i.iter().map(|p| p.interval_ms as f64).collect(),
            throughput_pinned: i.iter().map(|p| p.throughput_pinned * 100.0).collect(),
            throughput_shared: i.iter().map(|p| p.throughput_shared * 100.0).collect(),
            throughput_floor: limit("max_slowdown").map(|s| 100.0 - s),
            recommended_ms: report.recommended_interval_ms.map(|ms| ms as f64),
            buffered: report.network_buffering,
            latency_mean: i
                .iter()
                .map(|p| p.added_latency_ms.map_or(0.0, |l| l.mean))
                .collect(),
            latency_p95: i
                .iter()
                .map(|p| p.added_latency_ms.map_or(0.0, |l| l.p95))
                .collect(),
            latency_limit_ms: limit("max_added_latency"),
            bandwidth_mib_s: i.iter().map(|p| mib(p.bandwidth_bytes_per_s)).collect(),
            link_mib_s: mib(report.link_bytes_per_s),
            link_share_limit: limit("max_link_share"),
            working_set: report
                .curve
                .iter()
                .map(|c| (c.interval_ms as f64, c.dirty_pages.mean, c.dirty_pages.p95))
                .collect(),
            dirty: timeline.dirty.finish(),
            disk_mib_s: timeline.disk_mib_s.finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The equal-count binning the charts drew before they streamed: one bin per point up
    /// to `max_points`, which the streaming binner must reproduce exactly.
    fn equal_count(points: &[(f64, f64)], max_points: usize) -> Series {
        let per_bin = points.len().div_ceil(max_points);
        let mut series = Series::default();
        for chunk in points.chunks(per_bin) {
            let t = chunk[chunk.len() / 2].0;
            let mean = chunk.iter().map(|p| p.1).sum::<f64>() / chunk.len() as f64;
            let max = chunk.iter().map(|p| p.1).fold(f64::MIN, f64::max);
            series.mean.push((t, mean));
            series.max.push((t, max));
        }
        series.bin_s = bin_seconds(
            points[0].0,
            points[points.len() - 1].0,
            points.len(),
            per_bin,
        );
        series
    }

    fn wavy(n: usize) -> Vec<(f64, f64)> {
        (0..n)
            .map(|i| {
                (
                    0.025 * (i + 1) as f64 + (i % 7) as f64 * 1e-6,
                    ((i * 37) % 101) as f64,
                )
            })
            .collect()
    }

    #[test]
    fn series_within_the_budget_come_out_point_by_point_as_before() {
        for n in [1, 2, 3, 399, MAX_POINTS] {
            let points = wavy(n);
            assert_eq!(
                downsample(&points, MAX_POINTS),
                equal_count(&points, MAX_POINTS),
                "{n}"
            );
        }
        assert_eq!(downsample(&[], MAX_POINTS), Series::default());
    }

    #[test]
    fn long_series_double_their_bins_and_keep_means_and_peaks() {
        let points: Vec<(f64, f64)> = (0..10_000)
            .map(|i| (i as f64 * 0.01, (i % 128) as f64))
            .collect();
        let s = downsample(&points, 100);
        // 10 000 points in bins of 128 (the first power of two that fits 100 bins).
        assert_eq!(s.mean.len(), 79);
        assert!(s.max[..78].iter().all(|p| p.1 == 127.0), "{:?}", s.max);
        assert_eq!(s.max[78].1, 15.0, "the last 16 points, 0 to 15");
        assert!(s.mean[..78].iter().all(|p| (p.1 - 63.5).abs() < 1e-9));
        assert!((s.bin_s - 1.28).abs() < 1e-3, "{}", s.bin_s);
        // A whole bin is drawn at its middle point, the partial last one halfway along it.
        assert_eq!(s.mean[0].0, 0.64);
        assert!((s.mean[78].0 - (99.84 + 99.99) / 2.0).abs() < 1e-9);
        assert_eq!(
            s.mean.iter().map(|p| p.0).collect::<Vec<_>>(),
            s.max.iter().map(|p| p.0).collect::<Vec<_>>()
        );
    }

    #[test]
    fn the_bins_stay_within_the_budget_at_every_length() {
        let mut binner = Binner::new(MAX_POINTS);
        for (i, (t, v)) in wavy(100_000).into_iter().enumerate() {
            binner.push(t, v);
            assert!(binner.bins.len() <= MAX_POINTS, "{i}");
        }
        let s = binner.finish();
        assert!(s.mean.len() > MAX_POINTS / 2 && s.mean.len() <= MAX_POINTS);
        let total: f64 = wavy(100_000).iter().map(|p| p.1).sum();
        let per_bin = 256.0;
        let binned: f64 = s.mean[..s.mean.len() - 1]
            .iter()
            .map(|p| p.1 * per_bin)
            .sum::<f64>();
        assert!(
            binned < total && binned > total * 0.99,
            "{binned} vs {total}"
        );
    }
}
