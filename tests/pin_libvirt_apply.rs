//! libvirt guests are pinned with `virsh vcpupin/emulatorpin`, never raw affinity calls.
//! Driven against tests/support/fake-virsh, a TEST DOUBLE that keeps pinning in a state file
//! and answers in virsh's documented query formats; it is not libvirt.

use std::fs;
use std::path::Path;
use std::process::Command;

const STATE: &str = "web01|0|0-15\nweb01|1|0-15\nweb01|*|0-15\nbatch|0|0-15\nbatch|*|0-15\n";

fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let virsh = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/fake-virsh");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_remus-tune"));
    cmd.args(args)
        .env("REMUS_TUNE_VIRSH", virsh)
        .env("FAKE_VIRSH_DIR", dir)
        .env("REMUS_TUNE_XL", "/nonexistent/xl");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let (o, e) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(!e.contains("panicked"), "{e}");
    (out.status.code().unwrap_or(-1), o, e)
}

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("pins"), STATE).unwrap();
    dir
}

#[test]
fn shell_form_uses_virsh() {
    let dir = setup();
    let (code, out, err) = run(
        dir.path(),
        &[
            "pin",
            "--libvirt",
            "--source",
            "sysfs",
            "web01",
            "--format",
            "shell",
        ],
        &[],
    );
    // The live topology is this machine's; only the command shape is checked here.
    assert_eq!(code, 0, "{err}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("virsh vcpupin web01 0 ") && l.ends_with(" --live")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("virsh emulatorpin web01 ")),
        "{out}"
    );
    assert!(!out.contains("xl "), "{out}");
}

#[test]
fn apply_check_revert_and_rollback() {
    let dir = setup();
    let j = dir.path().join("journal.yaml");
    let js = j.to_str().unwrap();
    // Plan on this host: with 2 CPUs the host keeps CPU 0 and web01 gets CPU 1.
    let (code, out, err) = run(
        dir.path(),
        &["pin", "--libvirt", "web01", "--format", "yaml"],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    let plan: serde_json::Value = yaml_serde::from_str(&out).unwrap();
    assert_eq!(plan["target"], "libvirt");
    let placements = plan["placements"].as_array().unwrap();
    let cpus = |n: &str| {
        placements.iter().find(|p| p["domain"] == n).unwrap()["cpus"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (web, host) = (cpus("web01"), cpus("host"));

    // A failure half-way rolls back.
    let (code, _, err) = run(
        dir.path(),
        &["pin", "--libvirt", "web01", "--apply", "--journal", js],
        &[("FAKE_VIRSH_FAIL_PIN", "2")],
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("cpuset.cpus: Invalid argument") && err.contains("rolled back"),
        "{err}"
    );
    assert_eq!(fs::read_to_string(dir.path().join("pins")).unwrap(), STATE);
    fs::remove_file(dir.path().join("count")).unwrap();

    let (code, out, err) = run(
        dir.path(),
        &["pin", "--libvirt", "web01", "--apply", "--journal", js],
        &[],
    );
    assert_eq!(code, 0, "{out}{err}");
    let pins = fs::read_to_string(dir.path().join("pins")).unwrap();
    assert!(
        pins.contains(&format!("web01|0|{web}\nweb01|1|{web}\nweb01|*|{host}\n")),
        "{pins}"
    );
    let (code, out, _) = run(dir.path(), &["pin", "--libvirt", "web01", "--check"], &[]);
    assert_eq!(code, 0, "{out}");
    let (code, out, err) = run(dir.path(), &["pin", "--revert", "--journal", js], &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(fs::read_to_string(dir.path().join("pins")).unwrap(), STATE);
}
