//! The trial's fits over 10 000 checkpoints (a long trial: e.g. five intervals of 200 s at
//! 10 checkpoints/s): the period line with standard errors, the guest-side fit over the steps,
//! and leave-one-out, which refits once per held-out step. Target: well under a second. The
//! work is one pass over the points per fit (sums of x, y, x², xy), so the physical floor is
//! reading 160 KB of points a few times: microseconds.

use criterion::{criterion_group, criterion_main, Criterion};
use remus_tune::model::fit::{fit_guest, fit_period, GuestStep};
use remus_tune::model::validate::{fit_host, StepObservation};
use std::hint::black_box;

const CHECKPOINTS: usize = 10_000;
const INTERVALS_MS: [u64; 5] = [25, 50, 100, 200, 400];

/// Deterministic points: suspend 3 ms, 20 µs per page, with ±1 ms of jitter.
fn steps() -> Vec<StepObservation> {
    let per_step = CHECKPOINTS / INTERVALS_MS.len();
    INTERVALS_MS
        .iter()
        .enumerate()
        .map(|(i, &ms)| {
            let points: Vec<(f64, f64)> = (0..per_step)
                .map(|j| {
                    let pages = 200.0 * (1.0 + i as f64) + (j % 97) as f64 * 7.0;
                    let jitter = ((j * 7919 + i * 104_729) % 2001) as f64 / 1000.0 - 1.0;
                    (pages, 0.003 + pages * 20e-6 + 0.001 * jitter)
                })
                .collect();
            let mean_pages = points.iter().map(|p| p.0).sum::<f64>() / points.len() as f64;
            let period_s = ms as f64 / 1e3 + 0.003 + mean_pages * 20e-6;
            StepObservation {
                interval_ms: ms,
                points,
                checkpoints_per_s: 1.0 / period_s,
                mean_pages,
                period_s,
                slowdown: Some((0.003 + mean_pages * 60e-6 + 0.004) / period_s),
            }
        })
        .collect()
}

fn bench_fit(c: &mut Criterion) {
    let steps = steps();
    let points: Vec<(f64, f64)> = steps.iter().flat_map(|s| s.points.clone()).collect();
    assert_eq!(points.len(), CHECKPOINTS);
    let guest: Vec<GuestStep> = steps
        .iter()
        .map(|s| GuestStep {
            interval_s: s.interval_ms as f64 / 1e3,
            period_s: s.period_s,
            pages: s.mean_pages,
            slowdown: s.slowdown.unwrap_or(0.0),
        })
        .collect();
    c.bench_function("fit_period_10000_checkpoints", |b| {
        b.iter(|| fit_period(black_box(&points)).unwrap())
    });
    c.bench_function("fit_host_10000_checkpoints", |b| {
        b.iter(|| fit_host(black_box(&steps), None, None).unwrap())
    });
    c.bench_function("fit_guest_5_steps", |b| {
        b.iter(|| fit_guest(black_box(&guest)).unwrap())
    });
    // Leave-one-out's fits: five refits on the other four steps' checkpoints.
    c.bench_function("leave_one_out_fits_10000_checkpoints", |b| {
        b.iter(|| {
            for k in 0..steps.len() {
                let others: Vec<StepObservation> = steps
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i != k)
                    .map(|(_, s)| s.clone())
                    .collect();
                black_box(fit_host(&others, None, None).unwrap());
            }
        })
    });
}

criterion_group!(benches, bench_fit);
criterion_main!(benches);
