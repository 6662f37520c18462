//! The numbers the charts draw, gathered once from the trace and the model's report, so each
//! chart is only drawing. Long traces are binned: a one-hour trace at 10 ms has 360 000 epochs,
//! far more than a chart has pixels.

use crate::model::ModelReport;
use crate::trace::Trace;
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

/// Bins `(t, value)` points into at most `max_points` bins of equal count.
pub fn downsample(points: &[(f64, f64)], max_points: usize) -> Series {
    if points.is_empty() {
        return Series::default();
    }
    let per_bin = points.len().div_ceil(max_points.max(1));
    let mut series = Series::default();
    for chunk in points.chunks(per_bin) {
        let t = chunk[chunk.len() / 2].0;
        let mean = chunk.iter().map(|p| p.1).sum::<f64>() / chunk.len() as f64;
        let max = chunk.iter().map(|p| p.1).fold(f64::MIN, f64::max);
        series.mean.push((t, mean));
        series.max.push((t, max));
    }
    let span = points[points.len() - 1].0 - points[0].0;
    series.bin_s = if points.len() > 1 {
        span / (points.len() - 1) as f64 * per_bin as f64
    } else {
        0.0
    };
    series
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
    pub fn new(trace: &Trace, report: &ModelReport) -> Self {
        let limit = |name: &str| {
            report
                .intervals
                .first()
                .and_then(|p| p.limits.iter().find(|c| c.limit == name))
                .map(|c| c.max)
        };
        let dirty: Vec<(f64, f64)> = trace
            .epochs
            .iter()
            .map(|e| (e.end_s, e.dirty_pages as f64))
            .collect();
        let disk: Vec<(f64, f64)> = trace
            .epochs
            .iter()
            .map(|e| {
                let length = (e.end_s - e.start_s).max(1e-9);
                (e.end_s, mib(e.write_bytes as f64) / length)
            })
            .collect();
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
            dirty: downsample(&dirty, MAX_POINTS),
            disk_mib_s: downsample(&disk, MAX_POINTS),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn downsampling_keeps_means_and_peaks() {
        let points: Vec<(f64, f64)> = (0..10_000)
            .map(|i| (i as f64 * 0.01, (i % 100) as f64))
            .collect();
        let s = super::downsample(&points, 100);
        assert_eq!(s.mean.len(), 100);
        assert!(s.max.iter().all(|p| p.1 == 99.0));
        assert!(s.mean.iter().all(|p| (p.1 - 49.5).abs() < 1e-9));
        assert!((s.bin_s - 1.0).abs() < 0.01);
    }
}
