//! How a measuring run ends: Ctrl-C, SIGTERM, the target's death, an --exec command that
//! finishes. Each must leave a valid trace marked with the reason, and the right exit code.

use crate::common;

use common::*;
use remus_tune::trace::{read_trace, EndReason};
use std::process::{Command, Stdio};

/// Starts `measure` on a workload for 30 s and returns it with its trace path.
fn start_measure(
    target: &Workload,
    dir: &std::path::Path,
) -> (std::process::Child, std::path::PathBuf) {
    let path = dir.join("run.trace.yaml");
    let child = Command::new(BIN)
        .args([
            "measure",
            &target.pid().to_string(),
            "--method",
            "sample",
            "--duration",
            "30s",
            "-o",
            path.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    (child, path)
}

fn ended_by_signal(sig: i32, code: i32, reason: EndReason) {
    let _heavy = one_at_a_time();
    let dir = temp_dir();
    let target = Workload::start(&["--sweep", "2048", "--rate", "1000"]);
    let (measure, path) = start_measure(&target, dir.path());
    sleep_ms(1500);
    signal(measure.id(), sig);
    let output = measure.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(code), "{}", stderr(&output));
    let trace = read_trace(&path).expect("a valid partial trace");
    assert_eq!(trace.end.reason, reason);
    assert!(
        !trace.epochs.is_empty(),
        "epochs measured before the signal are kept"
    );
    assert_eq!(trace.end.epochs as usize, trace.epochs.len());
    assert!(trace.end.duration_s < 10.0);
    assert!(
        stderr(&output).contains("ended early"),
        "{}",
        stderr(&output)
    );
    // The summary still goes to stdout.
    assert!(String::from_utf8_lossy(&output.stdout).contains("interval"));
}

#[test]
fn ctrl_c_leaves_a_valid_trace_and_exits_130() {
    ended_by_signal(libc::SIGINT, 130, EndReason::Interrupted);
}

#[test]
fn sigterm_leaves_a_valid_trace_and_exits_143() {
    ended_by_signal(libc::SIGTERM, 143, EndReason::Terminated);
}

/// A dropped SSH session: the run ends like SIGTERM, with its `end` record.
#[test]
fn sighup_leaves_a_valid_trace_and_exits_129() {
    ended_by_signal(libc::SIGHUP, 129, EndReason::HangUp);
}

#[test]
fn target_killed_mid_run() {
    let _heavy = one_at_a_time();
    let dir = temp_dir();
    let mut target = Workload::start(&["--hot", "100"]);
    let (measure, path) = start_measure(&target, dir.path());
    sleep_ms(1500);
    target.child.kill().unwrap();
    target.child.wait().unwrap();
    let output = measure.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(err.contains("exited during the measurement"), "{err}");
    let trace = read_trace(&path).unwrap();
    assert_eq!(trace.end.reason, EndReason::TargetExited);
    assert!(!trace.epochs.is_empty());
}

#[test]
fn exec_measures_a_command_until_it_ends() {
    let _heavy = one_at_a_time();
    let dir = temp_dir();
    let path = dir.path().join("exec.trace.yaml");
    let output = run(&[
        "measure",
        "--method",
        "hash",
        "--duration",
        "20s",
        "--format",
        "json",
        "-o",
        path.to_str().unwrap(),
        "--exec",
        "--",
        BIN,
        "workload",
        "--hot",
        "300",
        "--duration",
        "2s",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let trace = read_trace(&path).unwrap();
    assert_eq!(trace.end.reason, EndReason::CommandExited);
    assert!(trace.end.duration_s < 10.0);
    assert_eq!(trace.header.target.command[1], "workload");
    let summary = json(&output);
    let mean = summary["intervals"][0]["dirty_pages"]["mean"]
        .as_f64()
        .unwrap();
    assert!(mean >= 250.0, "the hot set was seen: {mean}");
}

#[test]
fn show_prints_the_same_summary_as_measure() {
    let _heavy = one_at_a_time();
    let dir = temp_dir();
    let path = dir.path().join("s.trace.yaml");
    let target = Workload::start(&["--sweep", "2048", "--rate", "2000"]);
    let measured = run(&[
        "measure",
        &target.pid().to_string(),
        "--duration",
        "1s",
        "--format",
        "json",
        "-o",
        path.to_str().unwrap(),
    ]);
    assert!(measured.status.success(), "{}", stderr(&measured));
    let shown = run(&["show", path.to_str().unwrap(), "--format", "json"]);
    assert!(shown.status.success(), "{}", stderr(&shown));
    assert_eq!(json(&measured), json(&shown));
    let yaml = run(&["show", path.to_str().unwrap(), "--format", "yaml"]);
    let parsed: serde_json::Value = yaml_serde::from_slice(&yaml.stdout).unwrap();
    assert_eq!(parsed["intervals"], json(&shown)["intervals"]);
    let text = run(&["show", path.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&text.stdout);
    for interval in ["25ms", "50ms", "100ms", "200ms", "400ms"] {
        assert!(text.contains(interval), "{text}");
    }
}
