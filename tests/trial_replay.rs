//! `remus-tune trial --replay`: the fits and validation again from a trial's recorded JSON and
//! trace, no Xen. Run on the Xen lab's real recordings (tests/fixtures/xen/lab/model-1601/).

use std::path::PathBuf;
use std::process::Command;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/xen/lab/model-1601")
        .join(name)
}

fn replay(load: &str, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_remus-tune"))
        .arg("trial")
        .arg("--replay")
        .arg(fixture(&format!("model-loop-{load}.json")))
        .arg("--trace")
        .arg(fixture(&format!("model-loop-{load}.trace.yaml")))
        .args(extra)
        .output()
        .unwrap()
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
