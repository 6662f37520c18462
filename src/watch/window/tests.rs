use super::*;
use crate::model::{predict_figures, Dom0Basis, IntervalSeries, ModelOptions};
use crate::profile::{load, Profile, ProfileRequest};
use crate::stats::weighted_quantile;
use crate::trace::WindowCount;

/// A deterministic noise source (no dependency, the same stream on every run).
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Epochs of about `base_ms` (jittered), the windows of `spans` base epochs closing in step,
/// a union smaller than the sum, bursts of writes, and Dom-0 with a save helper now and then.
struct Stream {
    base_s: f64,
    spans: Vec<usize>,
    noise: Noise,
    last: VecDeque<u64>,
    n: u64,
    at_s: f64,
}

impl Stream {
    fn new(base_ms: u64, spans: &[usize]) -> Self {
        Self {
            base_s: base_ms as f64 / 1e3,
            spans: spans.to_vec(),
            noise: Noise(42),
            last: VecDeque::new(),
            n: 0,
            at_s: 0.0,
        }
    }

    fn header(&self, base_ms: u64) -> TraceHeader {
        let intervals: Vec<u64> = self.spans.iter().map(|&s| s as u64 * base_ms).collect();
        TraceHeader::synthetic("window", base_ms, &intervals, 4 << 30)
    }

    fn next(&mut self) -> Epoch {
        let length = self.base_s * (1.0 + 0.04 * self.noise.next());
        let dirty = 200 + (2800.0 * self.noise.next()) as u64;
        self.last.push_front(dirty);
        self.last
            .truncate(self.spans.iter().copied().max().unwrap_or(1));
        let write_bytes = if self.noise.next() < 0.3 {
            4096 * (1 + (64.0 * self.noise.next()) as u64)
        } else {
            0
        };
        let windows = self
            .spans
            .iter()
            .filter(|&&span| (self.n + 1).is_multiple_of(span as u64))
            .map(|&span| WindowCount {
                interval_ms: (span as f64 * self.base_s * 1e3).round() as u64,
                dirty_pages: (self.last.iter().take(span).sum::<u64>() as f64 * 0.7) as u64,
            })
            .collect();
        let helper = self.n.is_multiple_of(3);
        let epoch = Epoch {
            n: self.n,
            start_s: self.at_s,
            end_s: self.at_s + length,
            dirty_pages: dirty,
            write_bytes,
            syscw: 0,
            cpu_s: length,
            scan_ms: 0.1,
            windows,
            flushes: None,
            cpu_classes: None,
            dom0: Some(Dom0Cpu {
                cpu_s: 0.3 * length,
                save_helper_s: helper.then_some(0.1 * length),
            }),
        };
        self.n += 1;
        self.at_s += length;
        epoch
    }
}

fn profile() -> Profile {
    load(&ProfileRequest {
        profile: Some("web".into()),
        host: Some("xen-4.17".into()),
        ..Default::default()
    })
    .unwrap()
}

/// The model's figures over `epochs[first..]`, one window at a time: every window closed in
/// the covered epochs, its writes and length summed over its own epochs (those before
/// `first` too, as the measuring loop's union reaches them).
fn exact_figures(header: &TraceHeader, epochs: &[Epoch], first: usize) -> TraceFigures {
    let base_ms = header.base_epoch_ms;
    let mut series: Vec<IntervalSeries> = Vec::new();
    for &ms in &header.intervals_ms {
        let span = ((ms as f64 / base_ms).round() as usize).max(1);
        let mut windows = Vec::new();
        for (i, epoch) in epochs.iter().enumerate().skip(first) {
            for w in epoch.windows.iter().filter(|w| w.interval_ms == ms) {
                let own = &epochs[(i + 1).saturating_sub(span)..=i];
                windows.push(Window {
                    dirty_pages: w.dirty_pages as f64,
                    write_bytes: own.iter().map(|e| e.write_bytes as f64).sum(),
                    length_s: own.iter().map(|e| e.end_s - e.start_s).sum(),
                });
            }
        }
        series.push(IntervalSeries {
            interval_ms: ms,
            windows,
            weights: Vec::new(),
        });
    }
    let covered = &epochs[first..];
    let mut dom0 = Dom0Sums::default();
    covered.iter().for_each(|e| dom0.push(e));
    TraceFigures {
        header: header.clone(),
        end: End {
            reason: EndReason::Completed,
            message: String::new(),
            epochs: covered.len() as u64,
            duration_s: 0.0,
            late_epochs: 0,
            cross_check: None,
            observer_effect: None,
            working_set_pages: None,
        },
        epochs: covered.len(),
        total_len: covered.iter().map(|e| e.end_s - e.start_s).sum(),
        total_write: covered.iter().map(|e| e.write_bytes as f64).sum(),
        dom0,
        series,
    }
}

fn close(a: f64, b: f64, relative: f64) -> bool {
    (a - b).abs() <= relative * a.abs().max(b.abs()) + 1e-12
}

fn dirty_quantile(series: &IntervalSeries, q: f64) -> f64 {
    let mut values: Vec<(f64, u64)> = series.weighted().map(|(w, k)| (w.dirty_pages, k)).collect();
    weighted_quantile(&mut values, q)
}

/// The bucketed window against the exact computation over the same epochs: counts, sums
/// and means exact, quantiles within the cells' 0.8 %, and the model's answer the same.
#[test]
fn bucketed_window_matches_the_exact_computation() {
    let mut stream = Stream::new(25, &[1, 2, 4, 8]);
    let header = stream.header(25);
    let mut window = SlidingWindow::new(&header, 120.0, 10.0);
    let epochs: Vec<Epoch> = (0..20_000).map(|_| stream.next()).collect();
    epochs.iter().for_each(|e| window.push(e));

    let covered_s = window.covered_s();
    assert!((110.0..=120.0).contains(&covered_s), "covered {covered_s}");
    let newest = epochs.last().unwrap().end_s;
    let first = epochs
        .iter()
        .position(|e| e.start_s >= newest - covered_s - 1e-9)
        .unwrap();
    let exact = exact_figures(&header, &epochs, first);
    let bucketed = window.figures();
    assert_eq!(
        window.relative_error(),
        1.0 / 128.0,
        "no bucket outgrew its cells"
    );

    assert_eq!(bucketed.epochs, exact.epochs);
    assert!(close(bucketed.total_len, exact.total_len, 1e-9));
    assert!(close(bucketed.total_write, exact.total_write, 1e-9));
    let profile = profile();
    let per_page = |f: &TraceFigures| Dom0Basis::from_sums(&f.dom0, &profile.costs).cpu_per_page_s;
    assert!(close(per_page(&bucketed), per_page(&exact), 1e-9));
    assert_eq!(bucketed.series.len(), 4);
    for (b, e) in bucketed.series.iter().zip(&exact.series) {
        assert_eq!(b.interval_ms, e.interval_ms);
        assert_eq!(b.count(), e.count(), "{} ms", b.interval_ms);
        assert!(
            b.windows.len() < b.count(),
            "{} ms: folded into cells",
            b.interval_ms
        );
        assert!(close(b.mean_dirty(), e.mean_dirty(), 1e-9));
        assert!(close(b.mean_write_bytes(), e.mean_write_bytes(), 1e-9));
        assert!(close(b.mean_length_s(), e.mean_length_s(), 1e-9));
        for q in [0.5, 0.95, 0.99] {
            let (got, want) = (dirty_quantile(b, q), dirty_quantile(e, q));
            assert!(
                close(got, want, window.relative_error()),
                "{} ms p{q}: {got} vs {want}",
                b.interval_ms
            );
        }
    }

    let options = ModelOptions::default();
    let got = predict_figures(&bucketed, &profile, &options).unwrap();
    let want = predict_figures(&exact, &profile, &options).unwrap();
    assert_eq!(got.recommended_interval_ms, want.recommended_interval_ms);
    for (g, w) in got.intervals.iter().zip(&want.intervals) {
        assert_eq!(g.windows, w.windows);
        assert_eq!(g.meets_limits, w.meets_limits);
        assert!(close(g.throughput_pinned, w.throughput_pinned, 0.01));
        assert!(close(g.dirty_pages.mean, w.dirty_pages.mean, 1e-6));
        assert!(close(g.pause_ms.mean, w.pause_ms.mean, 1e-6));
        assert!(close(g.pause_ms.p95, w.pause_ms.p95, 0.01));
        assert!(close(
            g.bandwidth_bytes_per_s,
            w.bandwidth_bytes_per_s,
            1e-6
        ));
    }
}

/// The window slides by whole buckets: never more than `--window`, never less by more than
/// one bucket, and a week-long window has at most `MAX_BUCKETS` of them.
#[test]
fn slides_by_buckets_within_the_span() {
    let mut stream = Stream::new(100, &[1, 2]);
    let header = stream.header(100);
    let mut window = SlidingWindow::new(&header, 30.0, 5.0);
    for _ in 0..3000 {
        window.push(&stream.next());
        let covered = window.covered_s();
        assert!(covered <= 30.0 + 1e-9, "covered {covered}");
    }
    assert!(window.covered_s() >= 25.0);
    assert_eq!(window.footprint().0, 6);
    let week = SlidingWindow::new(&header, 7.0 * 86_400.0, 10.0);
    assert!(week.bucket_s * MAX_BUCKETS as f64 >= 7.0 * 86_400.0 - 1e-6);
}

/// The memory proof: 3 million 10 ms epochs (8.3 hours) through a 1-hour window. Once the
/// window is full its footprint stops growing: the same buckets, and cells set by the
/// spread of the data, not by the epochs behind them (360 000 of them per window).
#[test]
fn memory_is_flat_over_millions_of_epochs() {
    let mut stream = Stream::new(10, &[1, 2, 4, 8]);
    let header = stream.header(10);
    let mut window = SlidingWindow::new(&header, 3600.0, 10.0);
    let mut footprint_at = Vec::new();
    for n in 1..=3_000_000u64 {
        window.push(&stream.next());
        if n % 1_000_000 == 0 {
            footprint_at.push(window.footprint());
        }
    }
    eprintln!(
        "(buckets, cells) after 1, 2, 3 M epochs: {footprint_at:?}; quantiles within {}",
        window.relative_error()
    );
    let (buckets, cells) = footprint_at[0];
    // 3600 s in at most 256 buckets (of 14 s), give or take the one being filled.
    assert!(
        (255..=MAX_BUCKETS + 1).contains(&buckets),
        "{buckets} buckets"
    );
    for &(later_buckets, later_cells) in &footprint_at[1..] {
        assert!(later_buckets.abs_diff(buckets) <= 1);
        assert!(
            (later_cells as f64) < cells as f64 * 1.05,
            "cells grew from {cells} to {later_cells}"
        );
    }
    // This stream is spread as wide as it can be (uniform in dirty pages and writes): the
    // cells hit their budget and coarsen, within a stated error.
    assert!(cells <= CELL_BUDGET, "{cells} cells");
    assert!(window.relative_error() <= 0.05);
    assert_eq!(window.figures().epochs, window.figures().series[0].count());
}
