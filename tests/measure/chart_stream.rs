//! `chart` and `model --charts --html` stream the trace: one pass feeds the binned timelines,
//! the whole-trace model's figures and each hour's model as it closes, nothing is held. A long
//! trace through the real binary stays in bounded memory (1.5 M epochs held in memory take
//! `size_of::<Epoch>()` bytes each before their windows: several times the bound), and a
//! trace whose end record changes the model (an observer effect under log-dirty) still gets
//! its hours modelled with it.

use crate::common;
use crate::day_trace;

use common::*;
use remus_tune::chart::hourly_view;
use remus_tune::model::ModelOptions;
use remus_tune::observer::{ObserverEffect, ObserverSource};
use remus_tune::profile::{load, ProfileRequest};
use remus_tune::report::bundle::model_trace;
use remus_tune::trace::{read_trace, End, EndReason, Epoch, TraceHeader, TraceWriter, WindowCount};
use std::path::Path;
use std::process::{Command, Stdio};

/// Peak resident memory a chart run may reach: the model's own figures (every interval's
/// windows, exact up to 2^18 each, then folded) and a few hours', the bins, the pictures.
const BOUND_MIB: i64 = 100;
/// 10.5 hours of 25 ms epochs.
const HOURS: f64 = 10.5;

/// Runs the binary to its end under GNU time; (stdout, stderr, exit status, max RSS in MiB).
///
/// Not this process's own wait4: Rust spawns with vfork semantics, and at exec the kernel
/// records the *parent's* peak RSS as the child's (exec_mmap's setmax_mm_hiwater_rss on the
/// shared mm), so in a test binary that runs big tests beside this one the child's ru_maxrss
/// was the test process's (174 MiB seen in the full suite, 63 MiB alone). GNU time forks the
/// binary from its own small process and reports that child's peak alone.
fn run_measured(args: &[&str]) -> (String, String, i32, i64) {
    let dir = temp_dir();
    let (out, err, rss) = (
        dir.path().join("stdout"),
        dir.path().join("stderr"),
        dir.path().join("maxrss"),
    );
    let status = Command::new("/usr/bin/time")
        .args(["-f", "%M", "-o"])
        .arg(&rss)
        .arg(BIN)
        .args(args)
        .stdout(Stdio::from(std::fs::File::create(&out).unwrap()))
        .stderr(Stdio::from(std::fs::File::create(&err).unwrap()))
        .status()
        .expect("run remus-tune under /usr/bin/time (Debian package time)");
    let read = |path: &Path| std::fs::read_to_string(path).unwrap_or_default();
    let kib: i64 = read(&rss)
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .expect("GNU time's %M");
    (
        read(&out),
        read(&err),
        status.code().unwrap_or(-1),
        kib / 1024,
    )
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
    assert!(
        svg.contains("<path") || svg.contains("<polyline"),
        "{}",
        &svg[..200]
    );

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

/// `hours` of 1 s epochs measured under Xen's log-dirty, the second hour dirtying four times
/// as much, with the guest slowed 30 % by the measuring (in the end record, as `measure`
/// writes it).
fn write_log_dirty_trace(path: &Path, hours: u64) {
    const INTERVALS: [u64; 3] = [1000, 2000, 4000];
    let mut header = TraceHeader::synthetic("slowed-vm", 1000, &INTERVALS, 4 << 30);
    header.method.name = "xen-logdirty".into();
    let mut writer = TraceWriter::create(path, &header, true).unwrap();
    let epochs = hours * 3600;
    let mut open = [(0u64, 0u64); INTERVALS.len()];
    for n in 0..epochs {
        let dirty = if (3600..7200).contains(&n) {
            8000
        } else {
            2000
        } + n % 97;
        let mut windows = Vec::new();
        for (slot, &ms) in INTERVALS.iter().enumerate() {
            open[slot] = (open[slot].0.max(dirty), open[slot].1 + dirty);
            if (n + 1) % (ms / 1000) == 0 {
                let (max, sum) = std::mem::take(&mut open[slot]);
                windows.push(WindowCount {
                    interval_ms: ms,
                    dirty_pages: max + (sum - max) * 2 / 5,
                });
            }
        }
        writer
            .append(&Epoch {
                n,
                start_s: n as f64,
                end_s: (n + 1) as f64,
                dirty_pages: dirty,
                write_bytes: 4096 * (n % 7),
                syscw: 0,
                cpu_s: 0.5,
                scan_ms: 0.2,
                windows,
                flushes: None,
                cpu_classes: None,
                dom0: None,
            })
            .unwrap();
    }
    writer
        .finish(&End {
            reason: EndReason::Completed,
            message: "measured the whole duration".into(),
            epochs,
            duration_s: epochs as f64,
            late_epochs: 0,
            cross_check: None,
            observer_effect: Some(ObserverEffect {
                fraction: 0.3,
                source: ObserverSource::Probe,
                note: "a probe ran at 70 % of its speed while measured".into(),
            }),
            working_set_pages: None,
        })
        .unwrap();
}

#[test]
fn hours_under_log_dirty_are_modelled_as_the_whole_trace_is() {
    let dir = temp_dir();
    let path = dir.path().join("slowed.trace.yaml");
    write_log_dirty_trace(&path, 3);
    let request = ProfileRequest::default();
    let modelled = model_trace(&path, &request, &ModelOptions::default()).unwrap();
    // Under log-dirty the curve is read at running time (model/observer.rs): the effect is
    // reported, and the hours are read as the whole trace is.
    assert!(modelled.report.observer.at_running_time);
    assert!(modelled.report.observer.effect.is_some());
    // What the trace held in memory gives, its hours modelled with its end record.
    let trace = read_trace(&path).unwrap();
    let profile = load(&request).unwrap();
    let held = hourly_view(&trace, &profile, &modelled.report).expect("three hours");
    assert_eq!(modelled.hours.as_ref(), Some(&held));
    assert_eq!(held.hours, vec![0, 1, 2]);
    // And the stand-in end record the hours were modelled with while streaming agrees.
    let mut unslowed = trace.clone();
    unslowed.end.observer_effect = None;
    let stand_in = hourly_view(&unslowed, &profile, &modelled.report).unwrap();
    assert_eq!(stand_in.slowdown_pct, held.slowdown_pct);
}
