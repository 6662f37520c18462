//! The QEMU backend under the real measuring loop: a whole run gives a valid trace whose
//! interval windows match the guest's known rate, and a QEMU killed mid-run ends the run as
//! `target-exited` with a valid partial trace.

mod qemu_support;

use std::time::Duration;

use qemu_support::{qemu_or_skip, Guest, GuestOptions};
use remus_tune::backend::qemu::{QemuBackend, QemuOptions, QemuTarget};
use remus_tune::cli::MethodChoice;
use remus_tune::measure::{run, MeasurePlan};
use remus_tune::sys::signals::StopSignal;
use remus_tune::trace::{read_trace, EndReason};

fn plan(dir: &tempfile::TempDir, duration: Duration) -> MeasurePlan {
    MeasurePlan {
        epoch: Duration::from_millis(50),
        intervals: vec![(50, 1), (100, 2), (200, 4)],
        duration,
        output: dir.path().join("guest.trace.yaml"),
        overwrite: false,
    }
}

fn connect(guest: &Guest) -> QemuBackend {
    let options = QemuOptions {
        method: MethodChoice::Hash,
        epoch: Duration::from_millis(50),
        cross_check: false,
        ..QemuOptions::default()
    };
    QemuBackend::connect(&QemuTarget::Socket(guest.qmp[0].clone()), &options).unwrap()
}

#[test]
fn a_whole_run_gives_a_trace_with_the_guests_rate() {
    if !qemu_or_skip("a_whole_run_gives_a_trace_with_the_guests_rate") {
        return;
    }
    let guest = Guest::start(GuestOptions::with("mode=sweep rate=4000 pages=8192"));
    std::thread::sleep(Duration::from_secs(3));
    let dir = tempfile::tempdir().unwrap();
    let mut backend = connect(&guest);
    let stop = StopSignal::install().unwrap();
    let outcome = run(
        &mut backend,
        &plan(&dir, Duration::from_secs(3)),
        &stop,
        None,
    )
    .unwrap();
    assert_eq!(outcome.end.reason, EndReason::Completed);
    let trace = read_trace(&outcome.trace).unwrap();
    assert_eq!(trace.header.backend, "qemu");
    assert_eq!(trace.header.target.kind, "qemu-guest");
    assert_eq!(trace.header.memory_bytes, 256 << 20);
    assert_eq!(trace.header.target.pid, Some(guest.pid() as u32));
    for (interval, want) in [(50u64, 200.0), (100, 400.0), (200, 800.0)] {
        let counts: Vec<f64> = trace
            .epochs
            .iter()
            .flat_map(|e| e.windows.iter())
            .filter(|w| w.interval_ms == interval)
            .map(|w| w.dirty_pages as f64)
            .collect();
        let mean = counts.iter().sum::<f64>() / counts.len() as f64;
        eprintln!(
            "{interval} ms: {mean:.1} pages per window over {} windows (guest: {want})",
            counts.len()
        );
        // The loop's epochs run late on a busy host, so windows are a little long: 10 %.
        assert!((mean / want - 1.0).abs() < 0.10, "{interval} ms: {mean}");
    }
}

#[test]
fn qemu_killed_mid_run_leaves_a_valid_partial_trace() {
    if !qemu_or_skip("qemu_killed_mid_run_leaves_a_valid_partial_trace") {
        return;
    }
    let mut guest = Guest::start(GuestOptions::with("mode=sweep rate=2000 pages=4096"));
    let dir = tempfile::tempdir().unwrap();
    let mut backend = connect(&guest);
    let pid = guest.pid();
    let killer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        // SAFETY: kill(2) on the QEMU child we started; a stale PID only makes it fail.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    });
    let stop = StopSignal::install().unwrap();
    let outcome = run(
        &mut backend,
        &plan(&dir, Duration::from_secs(30)),
        &stop,
        None,
    )
    .unwrap();
    killer.join().unwrap();
    guest.kill();
    eprintln!("end: {:?}", outcome.end);
    assert_eq!(outcome.end.reason, EndReason::TargetExited);
    assert!(
        outcome.end.message.contains("exited"),
        "{}",
        outcome.end.message
    );
    let trace = read_trace(&outcome.trace).unwrap();
    assert!(trace.epochs.len() >= 10, "{} epochs", trace.epochs.len());
}
