//! The checks of reference/model.md §9, on synthetic traces whose truth is known.

use super::*;
use crate::profile::{load, ProfileRequest};
use crate::trace::{End, EndReason, Epoch, Trace, TraceHeader, WindowCount};

/// A trace at `base_ms` whose window of `t` ms dirties `dirty(t)` pages, for `epochs` epochs.
pub(crate) fn synthetic_trace(
    base_ms: u64,
    intervals: &[u64],
    epochs: u64,
    dirty: impl Fn(f64) -> f64,
    write_bytes_per_epoch: u64,
) -> Trace {
    let base_s = base_ms as f64 / 1000.0;
    let epochs = (0..epochs)
        .map(|n| Epoch {
            flushes: None,
            cpu_classes: None,
            dom0: None,
            n,
            start_s: n as f64 * base_s,
            end_s: (n + 1) as f64 * base_s,
            dirty_pages: dirty(base_ms as f64).round() as u64,
            write_bytes: write_bytes_per_epoch,
            syscw: 0,
            cpu_s: base_s,
            scan_ms: 0.1,
            windows: intervals
                .iter()
                .filter(|&&ms| (n + 1) % (ms / base_ms) == 0)
                .map(|&ms| WindowCount {
                    interval_ms: ms,
                    // A little spread so p95 differs from p50.
                    dirty_pages: (dirty(ms as f64) * (0.9 + 0.2 * ((n % 10) as f64 / 9.0))).round()
                        as u64,
                })
                .collect(),
        })
        .collect::<Vec<_>>();
    let count = epochs.len() as u64;
    Trace {
        header: TraceHeader::synthetic("synthetic", base_ms, intervals, 4 << 30),
        epochs,
        end: End {
            cross_check: None,
            observer_effect: None,
            working_set_pages: None,
            reason: EndReason::Completed,
            message: String::new(),
            epochs: count,
            duration_s: count as f64 * base_s,
            late_epochs: 0,
        },
    }
}

fn profile(name: &str, host: &str) -> crate::profile::Profile {
    load(&ProfileRequest {
        profile: Some(name.into()),
        host: Some(host.into()),
        ..Default::default()
    })
    .unwrap()
}

const INTERVALS: &[u64] = &[25, 50, 100, 200, 400];

fn web_trace(scale: f64) -> Trace {
    synthetic_trace(
        25,
        INTERVALS,
        800,
        |ms| scale * 100.0 * (ms / 25.0).powf(0.7),
        64 * 1024,
    )
}

fn model(trace: &Trace, profile: &crate::profile::Profile) -> ModelReport {
    predict(trace, profile, &ModelOptions::default()).unwrap()
}

#[test]
fn more_dirty_pages_never_predict_less_slowdown() {
    // Where the pipeline cannot keep up, the epoch stretches and the guest runs while late
    // checkpoints are sent: throughput can then rise as protection falls. Such intervals are
    // never recommended (see `when_sending_cannot_keep_up_...`), so slowdown is compared
    // where both sides keep up, and sustainability itself must be monotonic.
    let (mut compared, mut sustainable) = (0, 0);
    for host in ["xen-4.17", "remus-2008"] {
        let p = profile("web", host);
        let mut previous: Option<ModelReport> = None;
        for scale in [0.0, 0.5, 1.0, 2.0, 4.0] {
            let report = model(&web_trace(scale), &p);
            if let Some(prev) = &previous {
                for (a, b) in prev.intervals.iter().zip(&report.intervals) {
                    compared += 1;
                    // Every checkpoint is bigger, slower to take and to wait for.
                    assert!(b.checkpoint_mib.p95 >= a.checkpoint_mib.p95 - 1e-12);
                    assert!(b.send_ms >= a.send_ms - 1e-12);
                    if !(a.sustainable && b.sustainable) {
                        assert!(
                            !b.sustainable || a.sustainable,
                            "more pages made it sustainable"
                        );
                        continue;
                    }
                    sustainable += 1;
                    assert!(
                        b.throughput_pinned <= a.throughput_pinned + 1e-12,
                        "{host} {scale}"
                    );
                    assert!(
                        b.throughput_shared <= a.throughput_shared + 1e-12,
                        "{host} {scale}"
                    );
                    assert!(b.pause_ms.p95 >= a.pause_ms.p95 - 1e-12);
                    assert!(b.achieved_epoch_ms >= a.achieved_epoch_ms - 1e-12);
                    let (la, lb) = (a.added_latency_ms.unwrap(), b.added_latency_ms.unwrap());
                    assert!(lb.mean >= la.mean - 1e-12 && lb.p95 >= la.p95 - 1e-12);
                }
            }
            previous = Some(report);
        }
    }
    assert!(
        sustainable * 2 > compared,
        "{sustainable} of {compared}: too few to mean much"
    );
}

#[test]
fn a_faster_link_never_predicts_more_slowdown() {
    let (mut compared, mut sustainable) = (0, 0);
    for host in ["xen-4.17", "remus-2008"] {
        let mut p = profile("web", host);
        let trace = web_trace(1.0);
        let mut previous: Option<ModelReport> = None;
        for link in [10e6, 50e6, 125e6, 1.25e9, f64::INFINITY] {
            p.costs.link_bytes_per_s = link;
            let report = model(&trace, &p);
            if let Some(prev) = &previous {
                for (a, b) in prev.intervals.iter().zip(&report.intervals) {
                    compared += 1;
                    assert!(b.send_ms <= a.send_ms + 1e-12);
                    if !(a.sustainable && b.sustainable) {
                        assert!(b.sustainable || !a.sustainable, "a faster link broke it");
                        continue;
                    }
                    sustainable += 1;
                    assert!(
                        b.throughput_pinned >= a.throughput_pinned - 1e-12,
                        "{host} {link}"
                    );
                    assert!(
                        b.throughput_shared >= a.throughput_shared - 1e-12,
                        "{host} {link}"
                    );
                    assert!(b.pause_ms.p95 <= a.pause_ms.p95 + 1e-12);
                    let (la, lb) = (a.added_latency_ms.unwrap(), b.added_latency_ms.unwrap());
                    assert!(lb.p95 <= la.p95 + 1e-12, "{host} {link}");
                }
            }
            previous = Some(report);
        }
    }
    assert!(
        sustainable * 2 > compared,
        "{sustainable} of {compared}: too few to mean much"
    );
}

#[test]
fn no_dirty_pages_cost_only_suspend_and_clean() {
    let mut p = profile("web", "xen-4.17");
    p.costs.suspend_pages = 0.0;
    let guest = Guest {
        page_size: 4096.0,
        memory_bytes: 4.0 * 1024.0 * 1024.0 * 1024.0,
    };
    let c = checkpoint(&p.costs, &guest, 0.0, 0.0, 0.1, false);
    let expected = p.costs.suspend_s + p.costs.devices_s + 4.0 * p.costs.clean_per_gib_s;
    assert!((c.pause_s - expected).abs() < 1e-15, "{c:?}");
    assert_eq!(c.bytes, 0.0);
    assert_eq!(c.fault_s, 0.0);
    assert_eq!(c.dom0_cpu_s, 0.0);
    assert!((c.send_total_s - p.costs.rtt_s).abs() < 1e-15);
}

#[test]
fn the_guests_own_suspend_pages_are_in_every_checkpoint() {
    let guest = Guest {
        page_size: 4096.0,
        memory_bytes: 1024.0 * 1024.0 * 1024.0,
    };
    for host in ["xen-4.17", "remus-2008"] {
        let mut with = profile("web", host);
        with.costs.suspend_pages = 300.0;
        let mut without = with.clone();
        without.costs.suspend_pages = 0.0;
        for dirty in [0.0, 100.0, 5000.0] {
            let c = checkpoint(&with.costs, &guest, dirty, 1e5, 0.1, false);
            let same = checkpoint(&without.costs, &guest, dirty + 300.0, 1e5, 0.1, false);
            assert_eq!(c, same, "{host}, {dirty} pages");
            assert!(c.bytes >= 300.0 * 4096.0, "{host}: {c:?}");
        }
    }
}

#[test]
fn an_infinite_link_removes_the_send_term() {
    for host in ["xen-4.17", "remus-2008"] {
        let mut p = profile("web", host);
        p.costs.suspend_pages = 0.0;
        p.costs.link_bytes_per_s = f64::INFINITY;
        p.costs.page_send_cpu_s = 0.0;
        let guest = Guest {
            page_size: 4096.0,
            memory_bytes: 1.0 * 1024.0 * 1024.0 * 1024.0,
        };
        let c = checkpoint(&p.costs, &guest, 5000.0, 1e6, 0.1, false);
        assert_eq!(c.send_total_s, p.costs.rtt_s, "{host}");
        assert_eq!(c.send_after_s, 0.0, "{host}");
        let fixed = p.costs.suspend_s + p.costs.devices_s + p.costs.clean_per_gib_s;
        assert!(
            (c.pause_s - fixed - 5000.0 * p.costs.page_copy_s).abs() < 1e-12,
            "{host}"
        );
    }
}

#[test]
fn reproduces_the_remus_figure_5_pause_shape() {
    // Remus paper, Figure 5: 1, 256, 512, 1024 pages → about 0.6, 1.6, 2.6, 4.4 ms.
    let p = profile("web", "remus-2008");
    let guest = Guest {
        page_size: 4096.0,
        memory_bytes: 512.0 * 1024.0 * 1024.0,
    };
    for (pages, paper_ms) in [(1.0, 0.6), (256.0, 1.6), (512.0, 2.6), (1024.0, 4.4)] {
        let pause_ms = checkpoint(&p.costs, &guest, pages, 0.0, 0.1, false).pause_s * 1e3;
        assert!(
            (pause_ms - paper_ms).abs() < 0.15,
            "{pages} pages: {pause_ms} ms, paper {paper_ms} ms"
        );
    }
}

#[test]
fn when_sending_cannot_keep_up_the_achieved_rate_falls() {
    // 20 000 pages per 25 ms on a 100 Mbit/s link: one checkpoint needs ~6.6 s of sending.
    let trace = synthetic_trace(25, INTERVALS, 800, |ms| 20_000.0 * (ms / 25.0).powf(0.8), 0);
    for host in ["xen-4.17", "remus-2008"] {
        let mut p = profile("web", host);
        p.costs.link_bytes_per_s = 12.5e6;
        let report = model(&trace, &p);
        for i in &report.intervals {
            assert!(!i.sustainable, "{host} {}", i.interval_ms);
            assert!(i.send_ms > i.interval_ms as f64);
            assert!(
                i.checkpoints_per_s < i.configured_checkpoints_per_s,
                "{host} {}",
                i.interval_ms
            );
            let latency = i.added_latency_ms.unwrap();
            assert!(
                latency.mean > i.interval_ms as f64,
                "{host} {}",
                i.interval_ms
            );
        }
        assert_eq!(report.recommended_interval_ms, None);
        assert!(report.verdict.contains("No interval"), "{}", report.verdict);
    }
}

#[test]
fn after_commit_epochs_are_interval_plus_checkpoint() {
    let p = profile("web", "xen-4.17");
    let report = model(&web_trace(1.0), &p);
    for i in &report.intervals {
        assert!(
            i.achieved_epoch_ms > i.interval_ms as f64,
            "{}",
            i.interval_ms
        );
        assert!(i.checkpoints_per_s < i.configured_checkpoints_per_s);
    }
}

#[test]
fn kernel_build_overhead_grows_linearly_with_frequency() {
    // CPU- and memory-heavy, no network and no disk: a hot working set that is rewritten
    // over and over, so the dirty set grows slowly with the interval (exponent 0.3).
    let intervals = [25, 30, 50, 100];
    let trace = synthetic_trace(5, &intervals, 2400, |ms| 400.0 * (ms / 25.0).powf(0.3), 0);
    let p = profile("batch", "remus-2008");
    let report = model(&trace, &p);
    let points: Vec<(f64, f64)> = report
        .intervals
        .iter()
        .map(|i| (1000.0 / i.interval_ms as f64, 1.0 - i.throughput_pinned))
        .collect();
    // Least-squares line through (frequency, overhead); R² close to 1 means linear.
    let n = points.len() as f64;
    let (sx, sy) = points
        .iter()
        .fold((0.0, 0.0), |(a, b), p| (a + p.0, b + p.1));
    let (mx, my) = (sx / n, sy / n);
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let syy: f64 = points.iter().map(|p| (p.1 - my).powi(2)).sum();
    let r2 = sxy * sxy / (sxx * syy);
    assert!(r2 > 0.98, "R² {r2}: {points:?}");
    let at = |f: f64| points.iter().find(|p| (p.0 - f).abs() < 0.5).unwrap().1;
    let ratio = at(40.0) / at(10.0);
    assert!(
        (2.5..=4.5).contains(&ratio),
        "overhead 40/s over 10/s: {ratio} {points:?}"
    );
    assert!(sxy > 0.0);
}

#[test]
fn recommends_the_shortest_interval_meeting_every_limit() {
    let mut p = profile("web", "xen-4.17");
    // About the choice of interval, not the costs: no per-checkpoint floor.
    p.costs.suspend_pages = 0.0;
    p.limits.max_slowdown = Some(0.15);
    let report = model(&web_trace(0.3), &p);
    let recommended = report.recommended_interval_ms.expect(&report.verdict);
    for i in &report.intervals {
        if i.interval_ms < recommended {
            assert!(!i.meets_limits);
        }
        if i.interval_ms == recommended {
            assert!(i.meets_limits);
        }
    }
    assert!(report.verdict.contains(&format!("{recommended} ms")));
}

#[test]
fn unbuffered_profiles_have_no_latency_and_say_unsafe() {
    let p = profile("batch", "xen-4.17");
    let report = model(&web_trace(1.0), &p);
    assert!(report
        .intervals
        .iter()
        .all(|i| i.added_latency_ms.is_none()));
    assert!(report.verdict.contains("unsafe"), "{}", report.verdict);
}

#[test]
fn unmeasured_intervals_need_interpolate_and_are_marked() {
    let p = profile("web", "xen-4.17");
    let trace = web_trace(1.0);
    let mut options = ModelOptions {
        intervals: Some(vec![75]),
        ..Default::default()
    };
    let err = predict(&trace, &p, &options).unwrap_err().to_string();
    assert!(
        err.contains("75 ms") && err.contains("--interpolate"),
        "{err}"
    );
    options.interpolate = true;
    let report = predict(&trace, &p, &options).unwrap();
    assert_eq!(report.intervals[0].basis, Basis::Interpolated);
    options.intervals = Some(vec![800]);
    let err = predict(&trace, &p, &options).unwrap_err().to_string();
    assert!(err.contains("outside"), "{err}");
}

#[test]
fn an_empty_trace_is_an_error_not_a_panic() {
    let p = profile("web", "xen-4.17");
    let trace = synthetic_trace(25, INTERVALS, 0, |_| 0.0, 0);
    assert!(matches!(
        predict(&trace, &p, &ModelOptions::default()),
        Err(ModelError::NothingMeasured { .. })
    ));
}

#[test]
fn a_stream_buffer_shortens_the_pause_but_not_the_send() {
    let mut p = profile("web", "xen-4.17");
    let guest = Guest {
        page_size: 4096.0,
        memory_bytes: 1024.0 * 1024.0 * 1024.0,
    };
    p.costs.stream_buffer_bytes = 0.0;
    let unbuffered = checkpoint(&p.costs, &guest, 1000.0, 0.0, 0.1, false);
    p.costs.stream_buffer_bytes = 256.0 * 1024.0;
    let buffered = checkpoint(&p.costs, &guest, 1000.0, 0.0, 0.1, false);
    // 64 pages fit the buffer: they cost a copy, not a send, while paused ...
    let saved = 64.0 * (p.costs.page_send_s(4096.0) - p.costs.page_copy_s);
    assert!((unbuffered.pause_s - buffered.pause_s - saved).abs() < 1e-12);
    // ... and are sent after the resume: the link carries the same bytes either way.
    assert!((buffered.send_total_s - unbuffered.send_total_s).abs() < 1e-12);
    assert!(buffered.ckpt_s <= unbuffered.ckpt_s + 1e-12);
}

#[test]
fn the_guest_works_its_running_time_less_faults_and_resume() {
    // An emulated fault cost (100 µs per page) on a guest dirtying 20 000 pages per second of
    // work: a fixed-point iteration would oscillate (slope 2 > 1); the bisection solves
    // w + fault · (D(w) + suspend_pages) + resume = running.
    let mut costs = profile("web", "xen-4.17").costs;
    costs.fault_s = 100e-6;
    costs.pml = false;
    costs.suspend_pages = 100.0;
    costs.guest_resume_s = 0.005;
    let curve = DirtyCurve::new(vec![(0.05, 1000.0), (0.2, 4000.0)], 1e9);
    let (w, dirty, _) = work_in(&costs, &curve, 0.2);
    let spent = w + 100e-6 * (dirty + 100.0) + 0.005;
    assert!((spent - 0.2).abs() < 1e-9, "w {w}, dirty {dirty}");
    assert!(w > 0.05 && w < 0.2, "{w}");
    // No faults, no resume: all running time is work.
    let mut free = costs.clone();
    free.fault_s = 0.0;
    free.guest_resume_s = 0.0;
    assert_eq!(work_in(&free, &curve, 0.2).0, 0.2);
    // Resume longer than the running time: no work at all.
    free.guest_resume_s = 0.3;
    assert_eq!(work_in(&free, &curve, 0.2).0, 0.0);
}

#[test]
fn under_log_dirty_the_pages_are_read_at_the_running_time() {
    // A trace under log-dirty: its guest was slowed by the same faults, so a Remus epoch of
    // 0.2 s running dirties what the trace's 0.2 s windows did, and works what the faults leave.
    let mut costs = profile("web", "xen-4.17").costs;
    costs.fault_s = 100e-6;
    costs.pml = false;
    costs.suspend_pages = 100.0;
    costs.guest_resume_s = 0.0;
    let curve = DirtyCurve::new(vec![(0.05, 200.0), (0.2, 600.0)], 1e9).read_at_running_time(true);
    let (w, dirty, basis) = work_in(&costs, &curve, 0.2);
    assert_eq!(dirty, 600.0);
    assert_eq!(basis, Basis::Measured);
    assert!((w - (0.2 - 100e-6 * 700.0)).abs() < 1e-12, "{w}");
    // Faults that cost more than the running time leave no work, never negative work.
    costs.fault_s = 1e-3;
    assert_eq!(work_in(&costs, &curve, 0.2).0, 0.0);
}
