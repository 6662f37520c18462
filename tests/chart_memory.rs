//! `chart` and `model --charts --html` of a long trace, through the real binary, in bounded
//! memory: the trace is streamed once (binned timelines, the whole-trace model's figures, each
//! hour modelled as it closes), never held. 1.5 M epochs held in memory take
//! `size_of::<Epoch>()` bytes each before their windows: several times the bound.

mod common;
#[path = "../benches/support/day_trace.rs"]
mod day_trace;

use common::*;
use remus_tune::trace::Epoch;
use std::path::Path;
use std::process::{Command, Stdio};

/// Peak resident memory a chart run may reach: the model's own figures (every interval's
/// windows, exact up to 2^18 each, then folded) and one hour's, the bins, the pictures.
const BOUND_MIB: i64 = 100;
/// 10.5 hours of 25 ms epochs.
const HOURS: f64 = 10.5;

/// Runs the binary to its end; (stdout, stderr, exit status, max RSS in MiB).
// The child is reaped by wait4 (for its own rusage), which clippy does not see.
#[allow(clippy::zombie_processes)]
fn run_measured(args: &[&str]) -> (String, String, i32, i64) {
    let dir = temp_dir();
    let (out, err) = (dir.path().join("stdout"), dir.path().join("stderr"));
    let child = Command::new(BIN)
        .args(args)
        .stdout(Stdio::from(std::fs::File::create(&out).unwrap()))
        .stderr(Stdio::from(std::fs::File::create(&err).unwrap()))
        .spawn()
        .expect("run remus-tune");
    let mut status = 0;
    // SAFETY: rusage is plain data that wait4 fills; the PID is our own unreaped child, so
    // its rusage is its own, not that of another test's children.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32, "wait4 failed");
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    let read = |path: &Path| std::fs::read_to_string(path).unwrap_or_default();
    (read(&out), read(&err), code, usage.ru_maxrss / 1024)
}

#[test]
fn a_long_trace_is_charted_and_reported_in_bounded_memory() {
    let dir = temp_dir();
    let trace = dir.path().join("long.trace.zst");
    day_trace::write_day_trace(&trace, HOURS);
    let epochs = (HOURS * 3600.0 / 0.025) as i64;
    let held_mib = epochs * std::mem::size_of::<Epoch>() as i64 / (1 << 20);
    assert!(
        held_mib > 2 * BOUND_MIB,
        "the trace must not fit the bound when held: {held_mib} MiB"
    );
    let trace = trace.to_str().unwrap();

    let charts = dir.path().join("charts");
    let (_, err, code, rss) = run_measured(&["chart", trace, "-o", charts.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(rss < BOUND_MIB, "chart took {rss} MiB");
    // The six charts and the by-hour view, each as SVG and PNG.
    assert_eq!(std::fs::read_dir(&charts).unwrap().count(), 14);
    let svg = std::fs::read_to_string(charts.join("dirty-pages-over-time.svg")).unwrap();
    assert!(svg.contains("<path") || svg.contains("<polyline"), "{}", &svg[..200]);

    let charts = dir.path().join("model-charts");
    let html = dir.path().join("long.report.html");
    let (out, err, code, rss) = run_measured(&[
        "model",
        trace,
        "--charts",
        charts.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(rss < BOUND_MIB, "model --charts --html took {rss} MiB");
    let report: serde_json::Value = serde_json::from_str(&out).expect("the model's JSON");
    assert_eq!(report["trace"]["epochs"].as_i64(), Some(epochs));
    assert!(charts.join("by-hour.svg").exists());
    let page = std::fs::read_to_string(&html).unwrap();
    assert_eq!(page.matches("<figure").count(), 6, "every chart inline");
}
