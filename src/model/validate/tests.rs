//! Validation on steps made by the model itself from known costs: fitting and predicting them
//! back must give (near) zero error in-sample and out of sample.

use super::*;
use crate::model::fit::{Estimate, GuestFit, GuestForm, PeriodFit};
use crate::model::tests::synthetic_trace;
use crate::observer::{ObserverEffect, ObserverSource};

fn exact(value: f64) -> Estimate {
    Estimate {
        value,
        std_error: None,
    }
}

fn truth() -> HostFit {
    HostFit {
        period: PeriodFit {
            suspend_s: exact(0.003),
            per_page_s: Some(exact(20e-6)),
            points: 0,
            refused: vec![],
        },
        guest: Ok(GuestFit {
            form: GuestForm::FaultAndHandshake,
            fault_s: Some(exact(30e-6)),
            handshake_s: Some(exact(0.002)),
            steps: 0,
            note: String::new(),
        }),
        suspend_pages: Some(exact(150.0)),
    }
}

fn base() -> Profile {
    crate::profile::load(&crate::profile::ProfileRequest::default()).unwrap()
}

fn trace() -> Trace {
    synthetic_trace(
        25,
        &[25, 50, 100, 200, 400],
        800,
        |ms| 100.0 * (ms / 25.0).powf(0.7),
        0,
    )
}

/// What a trial would measure at `intervals` on a host whose costs are `truth()`.
fn observe(trace: &Trace, intervals: &[u64]) -> Vec<StepObservation> {
    let truth = truth();
    let profile = blackhole_profile(&base(), &truth);
    let options = ModelOptions {
        intervals: Some(intervals.to_vec()),
        interpolate: true,
        ..Default::default()
    };
    let report = predict(trace, &profile, &options).unwrap();
    report
        .intervals
        .iter()
        .map(|p| {
            let pages = p.dirty_pages.mean + 150.0;
            let points = (0..30)
                .map(|j| {
                    let size = pages * (0.7 + 0.6 * j as f64 / 29.0);
                    (size, 0.003 + size * 20e-6)
                })
                .collect();
            StepObservation {
                interval_ms: p.interval_ms,
                points,
                checkpoints_per_s: p.checkpoints_per_s,
                mean_pages: pages,
                period_s: p.achieved_epoch_ms / 1e3,
                slowdown: Some(1.0 - p.throughput_pinned),
            }
        })
        .collect()
}

#[test]
fn known_costs_are_fitted_back_and_predict_their_own_steps() {
    let trace = trace();
    let steps = observe(&trace, &[50, 100, 200, 400]);
    let fit = fit_host(&steps, Some(&trace), None).unwrap();
    assert!((fit.period.suspend_s.value - 0.003).abs() < 1e-9, "{fit:?}");
    let guest = fit.guest.clone().unwrap();
    assert_eq!(guest.form, GuestForm::FaultAndHandshake, "{}", guest.note);
    assert!(
        (guest.fault_s.unwrap().value - 30e-6).abs() < 1e-8,
        "{guest:?}"
    );
    assert!(
        (guest.handshake_s.unwrap().value - 0.002).abs() < 1e-5,
        "{guest:?}"
    );
    assert!(
        (fit.suspend_pages.unwrap().value - 150.0).abs() < 1.0,
        "{fit:?}"
    );
    let rows = compare(&trace, &base(), &fit, &steps, None).unwrap();
    assert_eq!(rows.len(), 4);
    for field in [
        |v: &Validation| v.error_slowdown,
        |v: &Validation| v.error_pages,
        |v: &Validation| v.error_period,
    ] {
        let w = worst(&rows, field).unwrap();
        assert!(w < 1e-3, "in-sample error {w}: {rows:#?}");
    }
}

#[test]
fn leave_one_out_predicts_each_interval_from_the_others() {
    let trace = trace();
    let steps = observe(&trace, &[50, 100, 200, 400]);
    let rows = leave_one_out(&trace, &base(), &steps, None).unwrap();
    assert_eq!(
        rows.iter().map(|r| r.interval_ms).collect::<Vec<_>>(),
        [50, 100, 200, 400]
    );
    let w = worst(&rows, |v| v.error_slowdown).unwrap();
    assert!(w < 0.01, "out-of-sample slowdown error {w}: {rows:#?}");
    assert!(worst(&rows, |v| v.error_pages).unwrap() < 0.01);
    // A wrong step is caught out of sample: its slowdown doubled, it cannot be predicted
    // from the others.
    let mut bad = steps.clone();
    bad[2].slowdown = bad[2].slowdown.map(|s| (s * 2.0).min(0.99));
    let rows = leave_one_out(&trace, &base(), &bad, None).unwrap();
    assert!(rows[2].error_slowdown.unwrap().abs() > 0.2, "{rows:#?}");
}

#[test]
fn leave_one_out_needs_three_intervals() {
    let trace = trace();
    let steps = observe(&trace, &[100, 200]);
    let err = leave_one_out(&trace, &base(), &steps, None).unwrap_err();
    assert!(err.contains("three or more"), "{err}");
}

#[test]
fn a_trace_under_log_dirty_is_read_at_running_time_and_one_without_at_work_time() {
    // Under log-dirty the guest was slowed by the same faults as under Remus: its windows are
    // read at the running time, whatever the observer effect (it is not counted twice).
    let mut slowed = trace();
    slowed.header.method.name = "xen-logdirty".into();
    let plain_logdirty = slowed.clone();
    slowed.end.observer_effect =
        ObserverEffect::from_rates(100.0, 50.0, None, ObserverSource::Probe);
    let fit = truth();
    let steps = observe(&plain_logdirty, &[100]);
    let a = compare(&plain_logdirty, &base(), &fit, &steps, None).unwrap();
    let b = compare(&slowed, &base(), &fit, &steps, None).unwrap();
    assert!(
        (b[0].predicted_pages - a[0].predicted_pages).abs() < 1e-9,
        "{a:?} {b:?}"
    );
    // A trace without log-dirty (an unslowed guest) is read at the work time, which the
    // faults make shorter than the running time: fewer pages.
    let unslowed = trace();
    let c = compare(&unslowed, &base(), &fit, &steps, None).unwrap();
    assert!(c[0].predicted_pages < a[0].predicted_pages, "{a:?} {c:?}");
    // The report says which basis it used.
    let report = predict(&slowed, &base(), &ModelOptions::default()).unwrap();
    assert!(
        report.observer.note.contains("running time"),
        "{}",
        report.observer.note
    );
    assert!(report
        .warnings
        .iter()
        .any(|w| w.contains("observer effect 50.0 %")));
}
