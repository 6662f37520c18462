//! The fits on synthetic steps made from known parameters: each is recovered within its stated
//! uncertainty, and what the data cannot tell is refused with a reason.

use super::*;

/// A small deterministic noise source (an LCG), uniform in [-1, 1).
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    }
}

fn within(estimate: Estimate, truth: f64, sigmas: f64) -> bool {
    let se = estimate.std_error.expect("an error estimate");
    (estimate.value - truth).abs() <= sigmas * se
}

#[test]
fn the_period_line_is_recovered_within_its_error() {
    // suspend 2 ms, 10 µs per page, ±0.5 ms of noise on each gap.
    let mut noise = Noise(7);
    let points: Vec<(f64, f64)> = (0..400)
        .map(|i| {
            let pages = 100.0 + (i % 37) as f64 * 25.0;
            (pages, 0.002 + pages * 10e-6 + 0.0005 * noise.next())
        })
        .collect();
    let fit = fit_period(&points).unwrap();
    let per_page = fit.per_page_s.unwrap();
    assert!(within(per_page, 10e-6, 3.0), "{fit:?}");
    assert!(within(fit.suspend_s, 0.002, 3.0), "{fit:?}");
    // And the error is honest: not absurdly wide.
    assert!(per_page.std_error.unwrap() < 1e-6, "{fit:?}");
    assert!(fit.refused.is_empty());
}

#[test]
fn an_exact_line_is_recovered_exactly() {
    let points: Vec<(f64, f64)> = [100.0, 500.0, 300.0, 900.0, 50.0]
        .iter()
        .map(|&p| (p, 0.002 + p * 10e-6))
        .collect();
    let fit = fit_period(&points).unwrap();
    assert!((fit.suspend_s.value - 0.002).abs() < 1e-9, "{fit:?}");
    assert!((fit.per_page_s.unwrap().value - 10e-6).abs() < 1e-12);
}

#[test]
fn checkpoints_of_one_size_give_no_slope_and_say_why() {
    let fit = fit_period(&[(100.0, 0.003), (100.0, 0.005), (100.0, 0.004)]).unwrap();
    assert_eq!(fit.per_page_s, None);
    assert!((fit.suspend_s.value - 0.004).abs() < 1e-12);
    assert!(fit.refused[0].contains("nearly one size"), "{fit:?}");
    // A slope that noise swamps is refused too, not reported.
    let mut noise = Noise(3);
    let points: Vec<(f64, f64)> = (0..50)
        .map(|i| (100.0 + (i % 5) as f64 * 50.0, 0.010 + 0.005 * noise.next()))
        .collect();
    let fit = fit_period(&points).unwrap();
    assert!(
        fit.per_page_s.is_none() || fit.per_page_s.unwrap().distinct_from_zero(),
        "{fit:?}"
    );
}

#[test]
fn degenerate_inputs_are_refused_with_a_reason() {
    assert_eq!(fit_period(&[]), Err(FitError::NoPoints));
    assert_eq!(
        fit_period(&[(1.0, f64::NAN), (2.0, 1.0)]),
        Err(FitError::NotFinite(1))
    );
    let one = GuestStep {
        interval_s: 0.1,
        period_s: 0.12,
        pages: 500.0,
        slowdown: 0.3,
    };
    let err = fit_guest(&[one]).unwrap_err();
    assert_eq!(err, FitError::TooFewSteps(1));
    assert!(err.to_string().contains("--probe"), "{err}");
    assert_eq!(fit_suspend_pages(&[]), Err(FitError::NoPoints));
}

/// A step at `interval_s` whose checkpoints carry `pages`, on a host with 2 ms + 20 µs per
/// page of checkpoint, a guest fault cost `fault_s` per page and a signed `handshake_s`
/// (the guest runs `τ + handshake` per period); `jitter` is added to the slowdown.
fn step(interval_s: f64, pages: f64, fault_s: f64, handshake_s: f64, jitter: f64) -> GuestStep {
    let period = interval_s + 0.002 + pages * 20e-6;
    let work = interval_s + handshake_s - fault_s * pages;
    GuestStep {
        interval_s,
        period_s: period,
        pages,
        slowdown: 1.0 - work / period + jitter,
    }
}

#[test]
fn both_guest_terms_are_recovered_within_their_error() {
    for handshake in [0.004, -0.004] {
        let mut noise = Noise(11);
        let steps: Vec<GuestStep> = [
            (0.025, 150.0),
            (0.05, 260.0),
            (0.1, 430.0),
            (0.2, 700.0),
            (0.4, 1100.0),
        ]
        .iter()
        .map(|&(tau, pages)| step(tau, pages, 50e-6, handshake, 0.002 * noise.next()))
        .collect();
        let fit = fit_guest(&steps).unwrap();
        assert_eq!(fit.form, GuestForm::FaultAndHandshake, "{}", fit.note);
        assert!(within(fit.fault_s.unwrap(), 50e-6, 3.0), "{fit:?}");
        assert!(within(fit.handshake_s.unwrap(), handshake, 3.0), "{fit:?}");
    }
}

#[test]
fn two_steps_fit_one_guest_term_and_say_so() {
    let steps = [
        step(0.1, 400.0, 80e-6, 0.0, 0.0),
        step(0.2, 650.0, 80e-6, 0.0, 0.0),
    ];
    let fit = fit_guest(&steps).unwrap();
    assert_eq!(fit.form, GuestForm::Fault, "{}", fit.note);
    assert!((fit.fault_s.unwrap().value - 80e-6).abs() < 1e-9, "{fit:?}");
    assert!(fit.note.contains("three or more steps"), "{}", fit.note);
    // A constant loss per checkpoint is a negative handshake.
    let steps = [
        step(0.1, 400.0, 0.0, -0.01, 0.0),
        step(0.2, 650.0, 0.0, -0.01, 0.0),
    ];
    let fit = fit_guest(&steps).unwrap();
    assert_eq!(fit.form, GuestForm::Handshake, "{}", fit.note);
    assert!(
        (fit.handshake_s.unwrap().value + 0.01).abs() < 1e-9,
        "{fit:?}"
    );
}

#[test]
fn a_guest_that_works_beyond_the_interval_gets_a_positive_handshake() {
    // The Xen lab's light writer (2026-12-04 16:01): the probe saw more work per period than
    // τ at every interval but one: (1 − s)·T − τ = +213, +32, −20 ms. Once this was refused
    // ("the probe lost no more than the pauses explain"); now it is the signed term.
    let steps = [
        GuestStep {
            interval_s: 0.05,
            period_s: 1.141,
            pages: 604.0,
            slowdown: 0.7696,
        },
        GuestStep {
            interval_s: 0.1,
            period_s: 0.4075,
            pages: 552.0,
            slowdown: 0.6756,
        },
        GuestStep {
            interval_s: 0.2,
            period_s: 0.7859,
            pages: 588.0,
            slowdown: 0.7709,
        },
    ];
    let fit = fit_guest(&steps).unwrap();
    assert_eq!(fit.form, GuestForm::Handshake, "{}", fit.note);
    let h = fit.handshake_s.unwrap();
    assert!((h.value - 0.075).abs() < 0.002, "{fit:?}");
    assert!(h.std_error.unwrap() > 0.05, "{fit:?}");
    assert!(
        fit.note.contains("runs during part of each"),
        "{}",
        fit.note
    );
    // Synthetic: a known handshake with noise, recovered within its error.
    let mut noise = Noise(19);
    let steps: Vec<GuestStep> = (0..6)
        .map(|i| {
            step(
                0.05 * (1 + i % 3) as f64,
                580.0 + noise.next(),
                0.0,
                0.07 + 0.01 * noise.next(),
                0.0,
            )
        })
        .collect();
    let fit = fit_guest(&steps).unwrap();
    assert!(within(fit.handshake_s.unwrap(), 0.07, 3.0), "{fit:?}");
}

#[test]
fn suspend_pages_are_the_mean_excess() {
    let e = fit_suspend_pages(&[(600.0, 350.0), (900.0, 640.0), (500.0, 260.0)]).unwrap();
    assert!((e.value - 250.0).abs() < 1e-9, "{e:?}");
    assert!(e.std_error.unwrap() > 0.0);
    // Fewer pages sent than the trace predicts: floored at 0.
    assert_eq!(fit_suspend_pages(&[(100.0, 300.0)]).unwrap().value, 0.0);
}

#[test]
fn applying_a_fit_replaces_only_what_was_fitted() {
    let base = crate::profile::load(&crate::profile::ProfileRequest::default())
        .unwrap()
        .costs;
    let exact = |value| Estimate {
        value,
        std_error: None,
    };
    let fit = HostFit {
        period: PeriodFit {
            suspend_s: exact(0.003),
            per_page_s: Some(exact(5e-6)),
            points: 10,
            refused: vec![],
        },
        guest: Ok(GuestFit {
            form: GuestForm::Handshake,
            fault_s: None,
            handshake_s: Some(exact(0.06)),
            steps: 3,
            note: String::new(),
        }),
        suspend_pages: Some(exact(120.0)),
    };
    let costs = fit.apply(&base);
    assert_eq!(costs.suspend_s, 0.003);
    assert_eq!(costs.page_copy_s, 5e-6);
    assert_eq!(costs.handshake_s, 0.06);
    assert_eq!(costs.guest_resume_s, 0.0);
    assert_eq!(costs.fault_s, 0.0);
    assert_eq!(costs.suspend_pages, 120.0);
    assert_eq!(costs.link_bytes_per_s, base.link_bytes_per_s);
}

#[test]
fn a_slope_only_the_differences_between_steps_make_is_refused() {
    // The Xen lab's light writer: nearly one checkpoint size at every interval, periods that
    // differ from step to step (1091, 307, 586 ms beyond τ), noise within each step.
    let mut noise = Noise(5);
    let steps: Vec<Vec<(f64, f64)>> = [(604.0, 1.091), (552.0, 0.307), (588.0, 0.586)]
        .iter()
        .map(|&(pages, extra)| {
            (0..40)
                .map(|_| (pages + 20.0 * noise.next(), extra + 0.05 * noise.next()))
                .collect()
        })
        .collect();
    let fit = fit_period_by_step(&steps).unwrap();
    assert_eq!(fit.per_page_s, None, "{fit:?}");
    // Refused either way: its line needs a negative suspend, and its slope is between-step.
    assert!(
        fit.refused[0].contains("between intervals") || fit.refused[0].contains("negative"),
        "{fit:?}"
    );
    // A real per-page cost, the same within and between steps, is kept.
    let steps: Vec<Vec<(f64, f64)>> = [200.0, 500.0, 900.0]
        .iter()
        .map(|&centre| {
            (0..40)
                .map(|j| {
                    let pages = centre + (j % 9) as f64 * 30.0;
                    (pages, 0.002 + pages * 10e-6 + 0.0002 * noise.next())
                })
                .collect()
        })
        .collect();
    let fit = fit_period_by_step(&steps).unwrap();
    assert!(within(fit.per_page_s.unwrap(), 10e-6, 3.0), "{fit:?}");
}

#[test]
fn steps_recorded_as_means_only_fit_no_slope_and_the_suspend_is_their_mean() {
    // An older trial report: one (mean pages, mean period − τ) point per step.
    let steps = vec![
        vec![(604.0, 1.091)],
        vec![(552.0, 0.3075)],
        vec![(588.0, 0.5859)],
    ];
    let fit = fit_period_by_step(&steps).unwrap();
    if fit.per_page_s.is_none() {
        let mean = (1.091 + 0.3075 + 0.5859) / 3.0;
        assert!((fit.suspend_s.value - mean).abs() < 1e-9, "{fit:?}");
        // Its error is the steps' spread, not a checkpoint count's.
        assert!(fit.suspend_s.std_error.unwrap() > 0.1, "{fit:?}");
    }
    assert!(
        fit.per_page_s.is_none() && !fit.refused.is_empty(),
        "{fit:?}"
    );
    // With a positive intercept the one-point-per-step rule refuses it.
    let steps = vec![vec![(100.0, 0.2)], vec![(500.0, 0.5)], vec![(900.0, 0.75)]];
    let fit = fit_period_by_step(&steps).unwrap();
    assert!(
        fit.per_page_s.is_none() && fit.refused.iter().any(|r| r.contains("one point")),
        "{fit:?}"
    );
}

#[test]
fn a_slope_that_needs_a_negative_suspend_is_refused() {
    // Periods that grow with the pages only because both grow with a longer handshake: the
    // line through them crosses zero far above the origin.
    let mut noise = Noise(23);
    let points: Vec<(f64, f64)> = (0..120)
        .map(|i| {
            let pages = 500.0 + (i % 30) as f64 * 5.0;
            (pages, -1.8 + pages * 4.3e-3 + 0.01 * noise.next())
        })
        .collect();
    let fit = fit_period(&points).unwrap();
    assert_eq!(fit.per_page_s, None, "{fit:?}");
    assert!(fit.refused[0].contains("negative suspend"), "{fit:?}");
    let mean = points.iter().map(|p| p.1).sum::<f64>() / points.len() as f64;
    assert!((fit.suspend_s.value - mean).abs() < 1e-9, "{fit:?}");
}
