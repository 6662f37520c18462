//! Model sweep time: the whole model over a one-hour trace at a 10 ms base epoch (360 000
//! epochs) and 10 intervals. Target: under 1 s. The work is linear in windows (one pass per
//! interval over prefix sums, then one cost evaluation per window), so the physical floor is
//! memory bandwidth over ~4 M windows: a few milliseconds.

use criterion::{criterion_group, criterion_main, Criterion};
use remus_tune::model::{interval_series, predict, ModelOptions};
use remus_tune::profile::{load, ProfileRequest};
use remus_tune::trace::{End, EndReason, Epoch, Trace, TraceHeader, WindowCount};
use std::hint::black_box;

const BASE_MS: u64 = 10;
const EPOCHS: u64 = 360_000;
const INTERVALS: [u64; 10] = [10, 20, 30, 40, 50, 100, 200, 400, 800, 1600];

fn one_hour_trace() -> Trace {
    let epochs = (0..EPOCHS)
        .map(|n| {
            let wave = 1.0 + 0.5 * ((n as f64) / 500.0).sin();
            Epoch {
                flushes: None,
                cpu_classes: None,
                dom0: None,
                n,
                start_s: n as f64 * 0.01,
                end_s: (n + 1) as f64 * 0.01,
                dirty_pages: (200.0 * wave) as u64,
                write_bytes: (50_000.0 * wave) as u64,
                syscw: 3,
                cpu_s: 0.005,
                scan_ms: 0.2,
                windows: INTERVALS
                    .iter()
                    .filter(|&&ms| (n + 1) % (ms / BASE_MS) == 0)
                    .map(|&ms| WindowCount {
                        interval_ms: ms,
                        dirty_pages: (200.0 * wave * ((ms / BASE_MS) as f64).powf(0.7)) as u64,
                    })
                    .collect(),
            }
        })
        .collect();
    Trace {
        header: TraceHeader::synthetic("bench", BASE_MS, &INTERVALS, 8 << 30),
        epochs,
        end: End {
            cross_check: None,
            working_set_pages: None,
            observer_effect: None,
            reason: EndReason::Completed,
            message: String::new(),
            epochs: EPOCHS,
            duration_s: EPOCHS as f64 * 0.01,
            late_epochs: 0,
        },
    }
}

fn model_sweep(c: &mut Criterion) {
    let trace = one_hour_trace();
    let profile = load(&ProfileRequest::default()).expect("the built-in web profile loads");
    let mut group = c.benchmark_group("model");
    group.sample_size(10);
    group.bench_function("one-hour trace, 10 ms epochs, 10 intervals", |b| {
        b.iter(|| {
            predict(
                black_box(&trace),
                black_box(&profile),
                &ModelOptions::default(),
            )
            .unwrap()
        })
    });
    group.bench_function("interval series only", |b| {
        b.iter(|| interval_series(black_box(&trace)))
    });
    group.finish();
}

criterion_group!(benches, model_sweep);
criterion_main!(benches);
