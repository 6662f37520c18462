//! Profiles found by name on the search path (`./`, the user's config directory, the system
//! directory, then the built-in ones): listed with their origin, used by `model --host NAME`
//! and `advise` with the file named, a host profile's `validation` block quoted.

use crate::model_common;

use model_common as common;
use std::path::Path;
use std::process::Command;

const XEN: &str = include_str!("../../profiles/xen-4.17.yaml");

/// The binary in `dir`, with `dir/config` as XDG_CONFIG_HOME and `dir/etc` as the system
/// directory.
fn cmd(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_remus-tune"));
    c.current_dir(dir)
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env("REMUS_TUNE_SYSTEM_PROFILES", dir.join("etc"));
    c
}

fn host_profile(description: &str) -> String {
    XEN.replace(
        "description: \"Current Xen (4.17): libxl timer after commit, pages streamed while suspended, PML\"",
        &format!("description: \"{description}\""),
    )
}

#[test]
fn names_are_found_on_the_search_path_and_listed_with_their_origin() {
    let dir = tempfile::tempdir().unwrap();
    let user = dir.path().join("config/remus-tune/profiles");
    let system = dir.path().join("etc");
    std::fs::create_dir_all(&user).unwrap();
    std::fs::create_dir_all(&system).unwrap();
    std::fs::write(system.join("lab-host.yaml"), host_profile("system copy")).unwrap();
    std::fs::write(user.join("lab-host.yaml"), host_profile("user copy")).unwrap();
    std::fs::write(system.join("only-system.yaml"), host_profile("system only")).unwrap();
    // A trace in the current directory is no profile and is not listed.
    let trace = common::write_trace(&dir.path().join("vm.trace.yaml"), 25, 400, 300.0, 0);

    let out = cmd(dir.path())
        .args(["profiles", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let find = |name: &str| {
        v["profiles"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} not listed: {v}"))
    };
    // The user's copy shadows the system's and is listed once.
    let lab = find("lab-host");
    assert_eq!(lab["origin"], "user", "{lab}");
    assert_eq!(lab["description"], "user copy");
    assert_eq!(
        v["profiles"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["name"] == "lab-host")
            .count(),
        1
    );
    assert_eq!(find("only-system")["origin"], "system");
    assert_eq!(find("web")["origin"], "built-in");
    assert!(!v.to_string().contains("vm.trace"), "{v}");
    assert_eq!(v["search_path"].as_array().unwrap().len(), 4, "{v}");

    // The text list says where a name is looked up.
    let out = cmd(dir.path()).arg("profiles").output().unwrap();
    let text = common::stdout(&out);
    assert!(text.contains("user ("), "{text}");
    assert!(text.contains("--install"), "{text}");

    // `model --host NAME` uses the user's copy and names the file.
    let out = cmd(dir.path())
        .arg("model")
        .arg(&trace)
        .args(["--host", "lab-host"])
        .output()
        .unwrap();
    let text = common::stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
    let used = user.join("lab-host.yaml").display().to_string();
    assert!(text.contains(&used), "{text}");

    // A name nowhere on the path says where it looked.
    let out = cmd(dir.path())
        .arg("model")
        .arg(&trace)
        .args(["--host", "nowhere"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = common::stderr(&out);
    assert!(err.contains("no profile named `nowhere`"), "{err}");
    assert!(err.contains("remus-tune/profiles/NAME.yaml"), "{err}");
}

#[test]
fn a_host_profiles_validation_is_quoted_beside_the_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let trace = common::write_trace(&dir.path().join("vm.trace.yaml"), 25, 400, 300.0, 0);
    let text = format!(
        "{}validation:\n  method: leave-one-out\n  intervals: 50ms,100ms,200ms\n  \
         worst_slowdown_error: 14.0%\n  worst_pages_error: 9.5%\n  worst_period_error: 4.0%\n",
        host_profile("fitted")
    );
    std::fs::write(dir.path().join("fitted-host.yaml"), text).unwrap();
    let out = cmd(dir.path())
        .arg("model")
        .arg(&trace)
        .args(["--host", "fitted-host.yaml"])
        .output()
        .unwrap();
    let stdout = common::stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
    assert!(
        stdout.contains("this host profile predicted held-out intervals (50ms,100ms,200ms) within 14 % (slowdown), 10 % (checkpoint size)"),
        "{stdout}"
    );
    // A bad value in the block is an error naming the line and key.
    let bad = host_profile("bad") + "validation:\n  worst_pages_error: lots\n";
    std::fs::write(dir.path().join("bad.yaml"), bad).unwrap();
    let out = cmd(dir.path())
        .arg("model")
        .arg(&trace)
        .args(["--host", "bad.yaml"])
        .output()
        .unwrap();
    let err = common::stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("validation.worst_pages_error"), "{err}");
}

#[test]
fn model_set_takes_the_new_guest_side_keys() {
    let dir = tempfile::tempdir().unwrap();
    let trace = common::write_trace(&dir.path().join("vm.trace.yaml"), 25, 400, 300.0, 0);
    let json = |sets: &[&str]| {
        let mut c = cmd(dir.path());
        c.arg("model").arg(&trace).args(["--format", "json"]);
        for s in sets {
            c.args(["--set", s]);
        }
        let out = c.output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let plain = json(&[]);
    let slowed = json(&["guest_resume=10ms"]);
    let t0 = plain["intervals"][0]["throughput_pinned"].as_f64().unwrap();
    let t1 = slowed["intervals"][0]["throughput_pinned"]
        .as_f64()
        .unwrap();
    // 10 ms lost per checkpoint at a 25 ms interval: a visible loss of throughput.
    assert!(t1 < t0 - 0.1, "{t0} -> {t1}");
    let from = slowed["constants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["key"] == "costs.guest_resume")
        .unwrap();
    assert_eq!(from["from"], "--set");
}
