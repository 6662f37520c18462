//! `remus-tune trial --replay`: the fits and validation again from a trial's recorded JSON and
//! trace, no Xen. Run on the Xen lab's real recordings (tests/fixtures/xen/lab/model-1601/).

use std::path::PathBuf;
use std::process::Command;

fn fixture_in(run: &str, name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/xen/lab")
        .join(run)
        .join(name)
}

fn fixture(name: &str) -> PathBuf {
    fixture_in("model-1601", name)
}

fn replay_run(run: &str, load: &str, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_remus-tune"))
        .arg("trial")
        .arg("--replay")
        .arg(fixture_in(run, &format!("model-loop-{load}.json")))
        .arg("--trace")
        .arg(fixture_in(run, &format!("model-loop-{load}.trace.yaml")))
        .args(extra)
        .output()
        .unwrap()
}

fn replay(load: &str, extra: &[&str]) -> std::process::Output {
    replay_run("model-1601", load, extra)
}

#[test]
fn replays_the_labs_light_writer_and_prints_validation_and_cross_validation() {
    let out = replay("light", &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("measured vs predicted"), "{stdout}");
    assert!(stdout.contains("leave-one-out"), "{stdout}");
    assert!(stdout.contains("predicted held-out intervals"), "{stdout}");
    // That trial's JSON had step means only: the replay says how it fitted.
    assert!(stdout.contains("from those steps' means"), "{stdout}");
}

#[test]
fn replay_json_carries_fit_validation_and_cross_validation_for_both_loads() {
    for load in ["light", "heavy"] {
        let out = replay(load, &["--format", "json"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["steps"].as_array().unwrap().len(), 3, "{load}");
        assert!(v["fit"]["period"]["suspend_s"]["value"].is_number(), "{v}");
        for key in ["validation", "cross_validation"] {
            let rows = v[key].as_array().unwrap();
            assert_eq!(rows.len(), 3, "{load} {key}: {v}");
            for row in rows {
                assert!(row["error_slowdown"].is_number(), "{row}");
                assert!(row["error_pages"].is_number(), "{row}");
            }
        }
        // No profile without -o.
        assert!(v["profile"].is_null(), "{v}");
    }
}

#[test]
fn replay_refuses_what_is_not_a_trial_report() {
    let out = Command::new(env!("CARGO_BIN_EXE_remus-tune"))
        .args(["trial", "--replay"])
        .arg(fixture("model-loop-light.trace.yaml"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("not a trial's JSON report"), "{stderr}");
    let out = Command::new(env!("CARGO_BIN_EXE_remus-tune"))
        .args(["trial", "--replay"])
        .arg(fixture("model-loop-light.json"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The trace it names (Meine-VM-trial.trace.yaml) is not beside it.
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("--trace"), "{stderr}");
}

/// The light writer of both recorded lab runs, replayed with this build's model: every held-out
/// interval within issue 11's goal (20 %) for slowdown and checkpoint size. The run of 17:37
/// recorded every checkpoint, so its period fit is the within-step one.
#[test]
fn the_light_writer_s_recorded_runs_replay_within_twenty_percent_out_of_sample() {
    for run in ["model-1601", "model-1737"] {
        let v = replayed_within_goal(run, "light");
        let means_only = v["validation_notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("steps' means"));
        assert_eq!(means_only, run == "model-1601", "{run}: {v}");
        // The handshake is fitted, signed and positive: the guest runs beyond τ.
        let h = v["fit"]["guest"]["Ok"]["handshake_s"]["value"]
            .as_f64()
            .unwrap();
        assert!(h > 0.0, "{run}: {h}");
    }
}

/// The heavy writer's run of 19:15 (the merged build, one checkpoint counted per `N/N 100%`
/// line that ends it, not per 1 024-page batch line) replays within issue 11's goal for
/// slowdown and checkpoint size at every held-out interval, as it did in Dom-0.
#[test]
fn the_heavy_writer_counted_per_checkpoint_replays_within_twenty_percent_out_of_sample() {
    replayed_within_goal("model-1915", "heavy");
}

/// Replays `run`'s `load` as JSON and checks issue 11's goal: slowdown and checkpoint size
/// within 20 % out of sample at each of the three intervals. The replay's JSON.
fn replayed_within_goal(run: &str, load: &str) -> serde_json::Value {
    let out = replay_run(run, load, &["--format", "json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = v["cross_validation"].as_array().unwrap();
    assert_eq!(rows.len(), 3, "{run}: {v}");
    for row in rows {
        for key in ["error_slowdown", "error_pages"] {
            let e = row[key].as_f64().unwrap();
            assert!(e.abs() <= 0.2, "{run} {} ms {key} {e}", row["interval_ms"]);
        }
    }
    v
}
