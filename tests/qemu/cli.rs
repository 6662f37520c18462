//! `remus-tune measure` on a real QEMU guest from the command line: by QMP socket, by QEMU
//! PID through `--backend auto`, and the QEMU process itself with `--backend process`.

use crate::qemu_support;

use qemu_support::*;
use remus_tune::trace::read_trace;
use std::process::Command;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_remus-tune");

fn measure(args: &[&str]) -> (std::process::Output, String) {
    let output = Command::new(BIN)
        .arg("measure")
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{args:?}: {stderr}");
    (output, stderr)
}

#[test]
fn measure_a_guest_by_socket_and_by_pid() {
    if !qemu_or_skip("measure_a_guest_by_socket_and_by_pid") {
        return;
    }
    let guest = Guest::start(GuestOptions::with("mode=hot hot=600 rate=100000"));
    std::thread::sleep(Duration::from_secs(3));
    let dir = tempfile::tempdir().unwrap();

    let by_socket = dir.path().join("socket.trace.yaml");
    let socket = guest.qmp[0].to_str().unwrap();
    let (output, _) = measure(&[
        "--qmp",
        socket,
        "--epoch",
        "100ms",
        "--intervals",
        "100ms,200ms",
        "--duration",
        "2s",
        "--format",
        "json",
        "-o",
        by_socket.to_str().unwrap(),
    ]);
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["backend"], "qemu");
    let trace = read_trace(&by_socket).unwrap();
    assert_eq!(trace.header.target.kind, "qemu-guest");
    // QEMU's own figure is kept beside ours, and the threads are split by class.
    let cross = trace
        .end
        .cross_check
        .as_ref()
        .expect("a cross-check record");
    assert_eq!(cross.source, "QEMU calc-dirty-rate");
    assert!(
        summary["cross_check"]["ours_pages_per_s_at_base_epoch"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    assert!(trace
        .epochs
        .iter()
        .all(|e| e.cpu_classes.is_some() && e.flushes.is_some()));
    let vcpu: f64 = trace
        .epochs
        .iter()
        .map(|e| e.cpu_classes.unwrap().vcpu_s)
        .sum();
    assert!(vcpu > 0.0, "the guest's vCPU thread ran");
    // The classes split the same CPU time the epochs count, from the same baseline (not from
    // QEMU's start). Per-thread times tick at 10 ms and emulator threads come and go (a class
    // whose thread exited is clamped at zero), so they agree only roughly.
    let classes: f64 = trace
        .epochs
        .iter()
        .map(|e| {
            e.cpu_classes
                .map_or(0.0, |c| c.vcpu_s + c.iothread_s + c.emulator_s)
        })
        .sum();
    let total: f64 = trace.epochs.iter().map(|e| e.cpu_s).sum();
    assert!(
        (classes - total).abs() <= 0.25 * total + 0.05,
        "{classes} vs {total}"
    );
    assert_eq!(trace.header.memory_bytes, 256 << 20);
    // The hot set: 600 guest pages every window, whatever the interval.
    for interval in &summary["intervals"].as_array().unwrap()[..] {
        let mean = interval["dirty_pages"]["mean"].as_f64().unwrap();
        assert!((mean - 600.0).abs() <= 0.10 * 600.0, "{interval}");
    }

    // Auto: a QEMU PID means its guest, and says so.
    let by_pid = dir.path().join("pid.trace.yaml");
    let pid = guest.pid().to_string();
    let (_, stderr) = measure(&[
        &pid,
        "--epoch",
        "100ms",
        "--intervals",
        "100ms",
        "--duration",
        "1s",
        "-o",
        by_pid.to_str().unwrap(),
    ]);
    assert!(stderr.contains("backend qemu"), "{stderr}");
    assert_eq!(read_trace(&by_pid).unwrap().header.backend, "qemu");

    // --backend process measures the QEMU process as any process.
    let as_process = dir.path().join("process.trace.yaml");
    measure(&[
        &pid,
        "--backend",
        "process",
        "--method",
        "sample",
        "--epoch",
        "100ms",
        "--intervals",
        "100ms",
        "--duration",
        "1s",
        "-o",
        as_process.to_str().unwrap(),
    ]);
    assert_eq!(read_trace(&as_process).unwrap().header.backend, "process");
}

#[test]
fn a_socket_that_is_not_there_is_a_clear_error() {
    let output = Command::new(BIN)
        .args([
            "measure",
            "--qmp",
            "/nonexistent/qmp.sock",
            "--duration",
            "1s",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("no QMP socket at /nonexistent/qmp.sock"),
        "{stderr}"
    );
}
