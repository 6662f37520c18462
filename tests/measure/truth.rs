//! The measured dirty pages and disk writes of the built-in workload, against its known truth.
//!
//! Each test runs the real binary on a real workload process. The truth of an interval is
//! computed from the real length of each window as the trace recorded it (an epoch that ran
//! long holds more writes), so a slow machine does not fail the test, but a wrong count does.

use crate::common;

use common::*;
use remus_tune::trace::{read_trace, Trace};

/// What the workload dirties: `min(rate·T, sweep) + hot` distinct pages in a window of T.
struct Truth {
    sweep: f64,
    rate: f64,
    hot: f64,
}

impl Truth {
    fn pages(&self, seconds: f64) -> f64 {
        (self.rate * seconds).min(self.sweep) + self.hot
    }
}

/// Mean known truth and mean measured count of every window of `interval_ms`.
fn compare(trace: &Trace, interval_ms: u64, truth: &Truth) -> (f64, f64, usize) {
    let span = (interval_ms as f64 / trace.header.base_epoch_ms).round() as usize;
    let (mut expected, mut measured, mut windows) = (0.0, 0.0, 0);
    for (index, epoch) in trace.epochs.iter().enumerate() {
        for window in epoch
            .windows
            .iter()
            .filter(|w| w.interval_ms == interval_ms)
        {
            let first = index + 1 - span;
            expected += truth.pages(epoch.end_s - trace.epochs[first].start_s);
            measured += window.dirty_pages as f64;
            windows += 1;
        }
    }
    (
        expected / windows as f64,
        measured / windows as f64,
        windows,
    )
}

/// Attempts before a starved workload counts as a failure.
const ATTEMPTS: usize = 3;

/// Measures a workload and checks every interval against the truth within `tolerance`.
///
/// The truth holds only if the workload kept to its schedule: on a machine loaded by other
/// work it can be starved (a hot set not rewritten for a whole epoch). The workload reports
/// how long its hot set stalled; a run where it did is repeated, up to ATTEMPTS times, and
/// a workload that never keeps up fails the test.
fn check(method: &str, workload: &[&str], truth: Truth, tolerance: f64) {
    let _heavy = one_at_a_time();
    for attempt in 1..=ATTEMPTS {
        let dir = temp_dir();
        let path = dir.path().join("t.trace.yaml");
        let target = Workload::start(workload);
        let output = run(&[
            "measure",
            &target.pid().to_string(),
            "--method",
            method,
            "--epoch",
            "50ms",
            "--intervals",
            "50ms,100ms,200ms,400ms",
            "--duration",
            "4s",
            "--format",
            "json",
            "-o",
            path.to_str().unwrap(),
        ]);
        let kept_up = target.stop();
        assert!(output.status.success(), "{}", stderr(&output));
        // Base-epoch windows (50 ms) that fell wholly inside a hot-set gap saw too few hot
        // pages; more than 1 % of them would move the mean by that much. (A sweep that falls
        // behind catches up, so its mean holds.)
        let starved = truth.hot > 0.0 && kept_up.hot_miss_share(50.0) > 0.01;
        if starved && attempt < ATTEMPTS {
            eprintln!("attempt {attempt}: the workload was starved ({kept_up:?}); again");
            continue;
        }
        assert!(
            !starved,
            "the workload never kept to its schedule: {kept_up:?}"
        );
        compare_all(method, workload, &truth, tolerance, &json(&output), &path);
        return;
    }
}

fn compare_all(
    method: &str,
    workload: &[&str],
    truth: &Truth,
    tolerance: f64,
    summary: &serde_json::Value,
    path: &std::path::Path,
) {
    assert_eq!(summary["method"], method);
    let trace = read_trace(path).unwrap();
    for interval in [50, 100, 200, 400] {
        let (expected, measured, windows) = compare(&trace, interval, truth);
        assert!(windows >= 8, "only {windows} windows of {interval} ms");
        let error = (measured - expected) / expected;
        eprintln!(
            "{method} {workload:?} {interval}ms: expected {expected:.1}, measured {measured:.1} ({:+.1}%)",
            error * 100.0
        );
        assert!(
            error.abs() <= tolerance,
            "{method} at {interval} ms: measured {measured:.1} pages, truth {expected:.1} ({:+.1}%)",
            error * 100.0
        );
        // The JSON summary reports the same means as the trace.
        let entry = summary["intervals"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["interval_ms"] == interval)
            .unwrap();
        assert!((entry["dirty_pages"]["mean"].as_f64().unwrap() - measured).abs() < 0.5);
        assert_eq!(entry["epochs"].as_u64().unwrap() as usize, windows);
    }
}

const SWEEP: Truth = Truth {
    sweep: 8192.0,
    rate: 4000.0,
    hot: 0.0,
};
const HOT: Truth = Truth {
    sweep: 0.0,
    rate: 0.0,
    hot: 2000.0,
};
const MIX: Truth = Truth {
    sweep: 4096.0,
    rate: 2000.0,
    hot: 1000.0,
};
const SWEEP_ARGS: [&str; 4] = ["--sweep", "8192", "--rate", "4000"];
const HOT_ARGS: [&str; 2] = ["--hot", "2000"];
const MIX_ARGS: [&str; 6] = ["--sweep", "4096", "--rate", "2000", "--hot", "1000"];

#[test]
fn hash_sweep_within_5_percent() {
    check("hash", &SWEEP_ARGS, SWEEP, 0.05);
}

#[test]
fn hash_hot_set_within_5_percent() {
    check("hash", &HOT_ARGS, HOT, 0.05);
}

#[test]
fn hash_mix_within_5_percent() {
    check("hash", &MIX_ARGS, MIX, 0.05);
}

#[test]
fn sample_sweep_within_15_percent() {
    check("sample", &SWEEP_ARGS, SWEEP, 0.15);
}

#[test]
fn sample_hot_set_within_15_percent() {
    check("sample", &HOT_ARGS, HOT, 0.15);
}

#[test]
fn sample_mix_within_15_percent() {
    check("sample", &MIX_ARGS, MIX, 0.15);
}

#[test]
fn disk_write_rate_within_10_percent() {
    let _heavy = one_at_a_time();
    let dir = temp_dir();
    let data = dir.path().join("disk.dat");
    let rate = 2_000_000.0;
    let target = Workload::start(&[
        "--hot",
        "16",
        "--disk-rate",
        "2MB/s",
        "--disk-file",
        data.to_str().unwrap(),
    ]);
    let output = run(&[
        "measure",
        &target.pid().to_string(),
        "--method",
        "hash",
        "--duration",
        "4s",
        "--format",
        "json",
        "-o",
        dir.path().join("d.trace.yaml").to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let measured = json(&output)["disk_write_mib_per_s"].as_f64().unwrap() * 1048576.0;
    let error = (measured - rate) / rate;
    eprintln!(
        "disk: measured {measured:.0} B/s against {rate} ({:+.1}%)",
        error * 100.0
    );
    assert!(
        error.abs() <= 0.10,
        "disk rate {measured:.0} B/s, truth {rate}"
    );
}

/// A 256 MiB sweep, where the sample is about 3 % of the pages: the estimate has to scale.
#[test]
fn sample_large_sweep_within_15_percent() {
    check(
        "sample",
        &["--sweep", "65536", "--rate", "20000"],
        Truth {
            sweep: 65536.0,
            rate: 20000.0,
            hot: 0.0,
        },
        0.15,
    );
}
