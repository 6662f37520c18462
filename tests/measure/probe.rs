//! `measure --probe CMD`: the probe before and while measuring gives the observer effect, which
//! the trace's end record carries with source `probe`; and the end record carries the working
//! set (distinct pages over the whole run), which `show` prints. On a real process (a workload
//! launched with --exec, measured by hashing its pages).

use remus_tune::observer::ObserverSource;
use remus_tune::trace::read_trace;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_remus-tune");

fn probe() -> String {
    format!(
        "{}/tests/support/counting-probe",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[test]
fn the_probe_s_observer_effect_and_the_working_set_go_into_the_trace() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("probed.trace.yaml");
    let state = dir.path().join("probe-state");
    let out = Command::new(BIN)
        .env("PROBE_STATE", &state)
        .args(["measure", "--method", "hash", "--epoch", "100ms"])
        .args(["--intervals", "100ms,200ms", "--duration", "3s", "-o"])
        .arg(&path)
        .arg("--probe")
        .arg(probe())
        .args(["--exec", "--", BIN, "workload", "--hot", "64"])
        .args(["--sweep", "512", "--rate", "400", "--duration", "20s"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    // Run before and once while measuring.
    assert_eq!(std::fs::read_to_string(&state).unwrap().trim(), "2");
    let trace = read_trace(&path).unwrap();
    let effect = trace.end.observer_effect.expect("an observer effect");
    assert_eq!(effect.source, ObserverSource::Probe);
    assert!((effect.fraction - 0.4).abs() < 1e-9, "{effect:?}");
    assert!(stderr.contains("observer effect 40.0 %"), "{stderr}");
    // The hot set and some of the sweep: at least the 64 hot pages, at most the whole run's.
    let ws = trace.end.working_set_pages.expect("a working set");
    assert!((64..=20_000).contains(&ws), "{ws}");
    let show = Command::new(BIN).arg("show").arg(&path).output().unwrap();
    let shown = String::from_utf8_lossy(&show.stderr);
    assert!(shown.contains("observer effect 40.0 %"), "{shown}");
    assert!(
        shown.contains(&format!("working set: {ws} distinct pages")),
        "{shown}"
    );
}

#[test]
fn a_probe_that_prints_no_number_is_refused_before_measuring() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .current_dir(dir.path())
        .args(["measure", "--duration", "1s", "--probe", "/bin/true"])
        .args(["--exec", "--", BIN, "workload", "--hot", "8"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("printed no number"), "{stderr}");
}

/// A probe that outlasts the measurement is stopped when measuring ends, its whole process
/// group with it: log-dirty (here: the measurement) is never held on for the probe's sake,
/// no probe process is left behind, and the trace says nothing of a probe figure it lacks.
#[test]
fn a_probe_still_running_when_measuring_ends_is_stopped_not_waited_for() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("probed.trace.yaml");
    let pids = dir.path().join("slow-pids");
    // A running process measured by PID, not `--exec`: an --exec measure reaps every orphan
    // of its own (it is their subreaper), which would hide a probe child left running.
    let mut workload = Command::new(BIN)
        .args(["workload", "--hot", "16", "--duration", "30s"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let out = Command::new(BIN)
        .env("PROBE_STATE", dir.path().join("probe-state"))
        .env("PROBE_SLOW_PIDS", &pids)
        .args(["measure", "--method", "hash", "--epoch", "100ms"])
        .args(["--intervals", "100ms,200ms", "--duration", "3s", "-o"])
        .arg(&path)
        .arg("--probe")
        .arg(probe())
        .arg(workload.id().to_string())
        .output()
        .unwrap();
    let took = started.elapsed();
    let _ = workload.kill();
    let _ = workload.wait();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        took.as_secs() < 20,
        "measure waited for the probe: {took:?}"
    );
    assert!(stderr.contains("had not finished"), "{stderr}");
    let trace = read_trace(&path).unwrap();
    assert!(
        trace
            .end
            .observer_effect
            .as_ref()
            .is_none_or(|e| e.source != ObserverSource::Probe),
        "{:?}",
        trace.end.observer_effect
    );
    // The probe's own child (its "benchmark") was killed with it.
    let text = std::fs::read_to_string(&pids).expect("the slow probe ran");
    for pid in text.split_whitespace() {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        assert!(
            status.is_empty() || status.contains("State:\tZ"),
            "probe child {pid} left running:\n{status}"
        );
    }
}
