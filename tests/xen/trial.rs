//! `remus-tune trial` against the stand-in `xl` (tests/support/fake-xen-xl), which records
//! every argument it gets: the exact Remus command lines, refusal without --yes, a clean
//! stop at each step's end and on Ctrl-C, the guest's state checked after, and the fitted
//! host profile.

use crate::xen_env;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use xen_env::{support, XenEnv};

#[test]
fn refuses_without_yes_and_runs_nothing() {
    let env = XenEnv::new();
    let out = env
        .cmd()
        .args(["trial", "Meine-VM", "--intervals", "100ms,200ms"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // 5: not confirmed (the exit-code table), distinct from 2, a usage error.
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    assert!(stderr.contains("exclusive measure"), "{stderr}");
    assert!(
        stderr.contains("xl remus -F -b -n -d -i 100 Meine-VM localhost"),
        "{stderr}"
    );
    assert!(
        stderr.contains("xl remus -F -b -n -d -i 200 Meine-VM localhost"),
        "{stderr}"
    );
    assert!(stderr.contains("--yes"), "{stderr}");
    assert!(env.xl_log().is_empty(), "xl was run: {:?}", env.xl_log());
}

#[test]
fn domain_must_be_named() {
    let env = XenEnv::new();
    let out = env.cmd().args(["trial", "--yes"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(env.xl_log().is_empty());
}

#[test]
fn runs_each_interval_stops_remus_and_writes_a_profile() {
    let env = XenEnv::new();
    // A trace of the guest first (the fake libxenctrl), then the trial predicts from it.
    trace_of_guest(&env);
    let out = env
        .cmd()
        .args(["trial", "Meine-VM", "--yes", "--intervals", "50ms,100ms"])
        .args(["--trace", "vm.trace.yaml"])
        .args(["--step", "2s", "--settle", "400ms", "-o", "host.yaml"])
        .arg("--probe")
        .arg(support("fake-probe"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let log = env.xl_log();
    let remus: Vec<&String> = log.iter().filter(|l| l.starts_with("remus -F")).collect();
    assert_eq!(
        remus,
        vec![
            "remus -F -b -n -d -i 50 Meine-VM localhost",
            "remus -F -b -n -d -i 100 Meine-VM localhost"
        ],
        "{log:?}"
    );
    // Each Remus run is stopped with SIGINT, then the guest's state is read.
    let stops: Vec<usize> = log
        .iter()
        .enumerate()
        .filter(|(_, l)| *l == "remus got SIGINT")
        .map(|(i, _)| i)
        .collect();
    assert_eq!(stops.len(), 2, "{log:?}");
    for i in stops {
        assert!(log[i + 1..].iter().any(|l| l == "list Meine-VM"), "{log:?}");
    }
    // Probe: 100 outside Remus, 80 during: a 20 % slowdown.
    assert!(stdout.contains("20.0 %"), "{stdout}");
    let profile = std::fs::read_to_string(env.path("host.yaml")).unwrap();
    assert!(profile.contains("kind: host"), "{profile}");
    // The stand-in's checkpoints take 2 ms + 100 us per page beyond the interval; bash (and
    // a loaded machine) add milliseconds of their own, so only the order of magnitude of the
    // fit is checked (a machine at load 12 on 2 cores delays bash by up to 200 ms).
    let suspend_ms: f64 = value(&profile, "suspend:", "ms");
    assert!(suspend_ms > 0.5 && suspend_ms < 300.0, "{profile}");
    let per_page_us: f64 = value(&profile, "page_copy:", "us");
    assert!(per_page_us > 20.0 && per_page_us < 400.0, "{profile}");
    // The model reads it.
    let model = succeeded(
        env.cmd()
            .args(["model", "vm.trace.yaml", "--host", "host.yaml"])
            .output()
            .unwrap(),
    );
    assert!(model.contains("host.yaml"), "{model}");
    // Two intervals: validated in-sample only, and the profile says so.
    assert!(stdout.contains("measured vs predicted"), "{stdout}");
    assert!(stdout.contains("leave-one-out needs three"), "{stdout}");
    assert!(profile.contains("method: in-sample"), "{profile}");
}

/// A whole trial as a new user runs it: no trace given, so the trial measures the guest
/// exclusively first (the stand-in libxenctrl), probes it during that measure, runs Remus at
/// three intervals, and predicts each from the trace: `validation[]` in-sample and
/// leave-one-out, in the JSON and in the profile, which `model --host` then quotes.
#[test]
fn a_trial_measures_first_then_validates_every_interval() {
    let env = XenEnv::new();
    let out = env
        .cmd_with_lib()
        .env("XDG_CONFIG_HOME", env.path("config"))
        .args([
            "trial",
            "Meine-VM",
            "--yes",
            "--intervals",
            "50ms,100ms,150ms",
        ])
        .args([
            "--measure-for",
            "1s",
            "--step",
            "1500ms",
            "--settle",
            "300ms",
        ])
        .args(["-o", "host.yaml", "--install", "--format", "json"])
        .arg("--probe")
        .arg(support("fake-probe"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    // The exclusive measure ran (log-dirty through libxenctrl) before any Remus.
    assert!(stderr.contains("exclusive measure"), "{stderr}");
    assert!(env.path("Meine-VM-trial.trace.yaml").exists());
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    // The stand-in's probe reads 100 outside Remus, so measuring cost nothing.
    assert_eq!(
        report["observer_effect"]["fraction"].as_f64(),
        Some(0.0),
        "{stdout}"
    );
    assert_eq!(report["observer_effect"]["source"], "probe");
    for key in ["validation", "cross_validation"] {
        let rows = report[key].as_array().unwrap();
        assert_eq!(rows.len(), 3, "{key}: {stdout}");
        for (row, step) in rows.iter().zip(report["steps"].as_array().unwrap()) {
            assert_eq!(row["interval_ms"], step["interval_ms"]);
            // Measured is what the step measured; the error is (predicted - measured) / measured.
            assert_eq!(row["measured_pages"], step["mean_pages"], "{row}");
            for (what, error) in [
                ("slowdown", "slowdown"),
                ("pages", "pages"),
                ("period_ms", "period"),
            ] {
                let m = row[format!("measured_{what}")].as_f64().unwrap();
                let p = row[format!("predicted_{what}")].as_f64().unwrap();
                let e = row[format!("error_{error}")].as_f64().unwrap();
                assert!(p.is_finite() && p > 0.0, "{what}: {row}");
                assert!(((p - m) / m - e).abs() < 1e-9, "{what}: {row}");
            }
        }
    }
    // The profile carries the leave-one-out block, and `model --host DOMAIN` finds the
    // installed copy by name and quotes it.
    let profile = std::fs::read_to_string(env.path("host.yaml")).unwrap();
    assert!(profile.contains("method: leave-one-out"), "{profile}");
    assert!(profile.contains("worst_pages_error:"), "{profile}");
    let installed = env.path("config/remus-tune/profiles/Meine-VM.yaml");
    assert_eq!(std::fs::read_to_string(&installed).unwrap(), profile);
    let model = succeeded(
        env.cmd()
            .env("XDG_CONFIG_HOME", env.path("config"))
            .args(["model", "Meine-VM-trial.trace.yaml", "--host", "Meine-VM"])
            .output()
            .unwrap(),
    );
    assert!(model.contains("predicted held-out intervals"), "{model}");
    assert!(model.contains(&installed.display().to_string()), "{model}");
}

/// Measures the stand-in guest (fake libxenctrl) into `vm.trace.yaml`, for trials given
/// --trace.
fn trace_of_guest(env: &XenEnv) {
    let out = env
        .cmd_with_lib()
        .args([
            "measure",
            "Meine-VM",
            "--duration",
            "600ms",
            "--epoch",
            "50ms",
        ])
        .args([
            "--intervals",
            "50ms,100ms",
            "-o",
            "vm.trace.yaml",
            "--force",
        ])
        .args(["--warmup", "600ms"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Without a probe the exclusive measure records the observer effect from the guest's CPU
    // time before (the warm-up) and during (the stand-in's grows at one core, measured or
    // not), said to be a proxy.
    let trace = std::fs::read_to_string(env.path("vm.trace.yaml")).unwrap();
    assert!(trace.contains("observer_effect:"), "{trace}");
    assert!(trace.contains("source: guest-cpu-time"), "{trace}");
    let out = env.cmd().args(["show", "vm.trace.yaml"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("observer effect 0.0 %"), "{stderr}");
    assert!(stderr.contains("a proxy"), "{stderr}");
}

/// The stdout of a run that must have exited 0 (its output shown if not).
fn succeeded(out: std::process::Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn value(text: &str, key: &str, unit: &str) -> f64 {
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with(key))
        .unwrap();
    let v = line
        .split(key)
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    v.trim_end_matches(unit).parse().unwrap()
}

/// Runs a trial that is interrupted with Ctrl-C during its first step, with the stand-in
/// Remus leaving the guest suspended; returns (stdout, stderr) after checking the clean stop.
fn interrupted_trial(env: &XenEnv, mut command: Command) -> (String, String) {
    trace_of_guest(env);
    let child = command
        .env("FAKE_XEN_SUSPEND_ON_INT", "1")
        .args(["trial", "Meine-VM", "--yes", "--intervals", "100ms,200ms"])
        .args(["--trace", "vm.trace.yaml"])
        .args(["--step", "60s", "--settle", "1s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while !env.xl_log().iter().any(|l| l.starts_with("remus")) {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "remus never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(700));
    // SAFETY: kill(2) has no memory-safety preconditions; the PID is our own unreaped child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(130), "{stdout}\n{stderr}");
    assert!(t0.elapsed() < Duration::from_secs(30));
    let log = env.xl_log();
    // Only the first step ran, Remus got its SIGINT, and the guest was looked at after.
    assert_eq!(
        log.iter().filter(|l| l.starts_with("remus -F")).count(),
        1,
        "{log:?}"
    );
    let int = log
        .iter()
        .position(|l| l == "remus got SIGINT")
        .expect("Remus was stopped");
    assert!(log[int..].iter().any(|l| l == "list Meine-VM"), "{log:?}");
    (stdout, stderr)
}

#[test]
fn ctrl_c_stops_remus_cleanly_and_checks_the_guest() {
    let env = XenEnv::new();
    let (stdout, stderr) = interrupted_trial(&env, env.cmd());
    // The stand-in left the guest suspended and there is no libxenguest here: say so loudly.
    assert!(stderr.contains("left suspended"), "{stderr}");
    assert!(stdout.contains("GUEST NOT RECOVERED"), "{stdout}");
}

#[test]
fn a_guest_left_suspended_is_resumed_and_xenstored_told() {
    let env = XenEnv::new();
    let (stdout, stderr) = interrupted_trial(&env, env.cmd_with_tools());
    // xc_domain_resume, then XS_RESUME, as libxl_domain_resume does: without the second,
    // the guest's next suspend times out (the Xen lab's resume-without-xs-resume step).
    let calls: Vec<String> = env
        .xenctrl_log()
        .into_iter()
        .filter(|l| l.contains("RESUME"))
        .collect();
    assert_eq!(
        calls,
        ["RESUME domid=1 fast=1", "XS_RESUME domid=1"],
        "{stderr}"
    );
    assert!(stderr.contains("resuming it"), "{stderr}");
    assert!(
        stdout.contains("xenstored told (XS_RESUME)"),
        "{stdout}\n{stderr}"
    );
    assert!(!stdout.contains("GUEST NOT RECOVERED"), "{stdout}");
}

#[test]
fn without_xenstored_the_resume_says_what_may_follow() {
    let env = XenEnv::new();
    let mut command = env.cmd_with_tools();
    command.env("FAKE_XENSTORE_DOWN", "1");
    let (_, stderr) = interrupted_trial(&env, command);
    assert!(stderr.contains("xenstored was not told"), "{stderr}");
    assert!(stderr.contains("may time out"), "{stderr}");
}

#[test]
fn refuses_while_remus_already_runs() {
    let env = XenEnv::new();
    env.add_save_helper(140, 1, 1);
    let out = env
        .cmd()
        .args(["trial", "Meine-VM", "--yes", "--intervals", "100ms"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("Remus is already running") && stderr.contains("--observe"),
        "{stderr}"
    );
    assert!(!env.xl_log().iter().any(|l| l.starts_with("remus")));
}

#[test]
fn no_xen_here_says_so() {
    if std::process::Command::new("xl")
        .arg("info")
        .output()
        .is_ok()
    {
        return; // a real Xen host: this test is for hosts without one
    }
    let out = std::process::Command::new(xen_env::BIN)
        .env_remove("REMUS_TUNE_XL")
        .args(["trial", "Meine-VM", "--yes"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(69), "{stderr}");
    assert!(stderr.contains("no Xen here"), "{stderr}");
}

#[test]
fn the_save_helpers_cpu_is_read_from_the_real_proc() {
    // The stand-in starts a real process shaped like libxl-save-helper (comm and argv as in
    // the lab); trial finds it in the real /proc and reads its CPU clock.
    let env = XenEnv::new();
    trace_of_guest(&env);
    let out = env
        .cmd()
        .env_remove("REMUS_TUNE_PROC")
        .env("FAKE_XEN_HELPER", "1")
        .args([
            "trial",
            "Meine-VM",
            "--yes",
            "--intervals",
            "100ms",
            "--step",
            "1500ms",
        ])
        .args(["--settle", "300ms", "-o", "host.yaml", "--format", "json"])
        .args(["--trace", "vm.trace.yaml"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let helper = report["steps"][0]["helper_cpu_per_s"].as_f64();
    assert!(helper.is_some_and(|h| h > 0.05), "{stdout}");
    // SIGINT went to xl's whole process group, as Ctrl-C at a terminal: the helper is gone.
    let note = report["steps"][0]["note"].as_str().unwrap_or_default();
    assert!(!note.contains("still runs"), "{note}");
}
