//! What measuring costs the measured program: the built-in workload in throughput mode
//! (writes as fast as it can, prints writes/s) alone and under `measure` with each method at
//! a 100 ms epoch. Criterion reports nanoseconds per write; the ratio of "under X" to "alone"
//! is the slowdown. Target (issue 2): ≤ 1 % for soft-dirty and sample; the hash method's cost
//! grows with resident memory, so it is run at two sizes.
//!
//! Uses the release binary built by `cargo bench` (target/release/remus-tune).

use criterion::{criterion_group, criterion_main, Criterion};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

const RUN: &str = "1s";

fn binary() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/release/deps/overhead-xxxx → target/release/remus-tune
    exe.parent().unwrap().parent().unwrap().join("remus-tune")
}

/// One throughput run, optionally under `measure` with `method`; returns seconds per write.
fn seconds_per_write(sweep_pages: u64, method: Option<&str>) -> f64 {
    let bin = binary();
    let mut workload = Command::new(&bin)
        .args([
            "workload",
            "--throughput",
            "--sweep",
            &sweep_pages.to_string(),
            "--duration",
            RUN,
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("run target/release/remus-tune workload (build it with cargo build --release)");
    let mut lines = BufReader::new(workload.stdout.take().unwrap()).lines();
    let ready = lines.next().unwrap().unwrap();
    assert!(ready.starts_with("ready"), "{ready}");
    let measurer = method.map(|method| {
        let trace = std::env::temp_dir().join(format!("overhead-{}.trace.yaml", workload.id()));
        let child = Command::new(&bin)
            .args([
                "measure",
                &workload.id().to_string(),
                "--method",
                method,
                "--epoch",
                "100ms",
            ])
            .args(["--intervals", "100ms", "--duration", "5s", "--force", "-o"])
            .arg(&trace)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        (child, trace)
    });
    let rate: f64 = lines
        .find_map(|line| line.ok()?.strip_prefix("writes/s: ")?.parse().ok())
        .expect("writes/s line");
    workload.wait().unwrap();
    if let Some((mut child, trace)) = measurer {
        let _ = child.wait();
        let _ = std::fs::remove_file(trace);
    }
    1.0 / rate
}

fn overhead(c: &mut Criterion) {
    let mut group = c.benchmark_group("workload_write_cost_under_measure");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(12));
    for (name, pages, method) in [
        ("alone_64MiB", 16384, None),
        ("sample_64MiB", 16384, Some("sample")),
        ("hash_64MiB", 16384, Some("hash")),
        ("alone_256MiB", 65536, None),
        ("hash_256MiB", 65536, Some("hash")),
    ] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                Duration::from_secs_f64(seconds_per_write(pages, method) * iters as f64)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, overhead);
criterion_main!(benches);
