//! Bad input: each a clear error, a non-zero exit, and nothing left behind.

use crate::common;

use common::*;
use std::process::Command;

fn fails_with(args: &[&str], needle: &str) {
    let output = run(args);
    assert!(!output.status.success(), "{args:?} succeeded");
    let err = stderr(&output);
    assert!(
        err.contains(needle),
        "{args:?}: expected {needle:?} in {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn unknown_pid() {
    fails_with(&["measure", "999999999"], "no process has PID 999999999");
}

#[test]
fn unknown_name() {
    fails_with(
        &["measure", "no-such-process-at-all"],
        "no running process is named",
    );
}

#[test]
fn ambiguous_name_lists_candidates() {
    let dir = temp_dir();
    let program = dir.path().join("rt-ambiguous");
    // A symlink, not a copy: the kernel names a process after the path it was exec'd by, and
    // a freshly written copy can fail to exec (ETXTBSY) while another test thread forks with
    // the copy's write descriptor still open.
    std::os::unix::fs::symlink("/bin/sleep", &program).unwrap();
    let mut first = Command::new(&program).arg("30").spawn().unwrap();
    let mut second = Command::new(&program).arg("30").spawn().unwrap();
    sleep_ms(100);
    let output = run(&["measure", "rt-ambiguous"]);
    let _ = (first.kill(), second.kill(), first.wait(), second.wait());
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(err.contains("matches 2 processes"), "{err}");
    assert!(err.contains(&first.id().to_string()) && err.contains(&second.id().to_string()));
}

#[test]
fn interval_not_a_multiple_of_the_epoch() {
    fails_with(
        &[
            "measure",
            "1",
            "--epoch",
            "25ms",
            "--intervals",
            "25ms,60ms",
        ],
        "interval 60ms is not a multiple of the base epoch 25ms",
    );
}

#[test]
fn quantities_need_units() {
    fails_with(&["measure", "1", "--epoch", "25"], "has no unit");
}

#[test]
fn unreadable_target_says_run_as_root() {
    let mut sleeper = Command::new("sleep").arg("30").spawn().unwrap();
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let output = if root {
        // Drop to nobody and try to measure a root-owned process.
        Command::new("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                BIN,
                "measure",
            ])
            .arg(sleeper.id().to_string())
            .output()
            .expect("setpriv (util-linux)")
    } else {
        run(&["measure", "1"])
    };
    let _ = (sleeper.kill(), sleeper.wait());
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(err.contains("Run remus-tune as root"), "{err}");
}

#[test]
fn existing_trace_is_not_overwritten() {
    let dir = temp_dir();
    let path = dir.path().join("keep.trace.yaml");
    std::fs::write(&path, "precious").unwrap();
    let target = Workload::start(&["--hot", "10"]);
    fails_with(
        &[
            "measure",
            &target.pid().to_string(),
            "--duration",
            "100ms",
            "-o",
            path.to_str().unwrap(),
        ],
        "already exists",
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "precious");
}

#[test]
fn broken_traces_are_named_with_their_problem() {
    let dir = temp_dir();
    let path = dir.path().join("bad.trace.yaml");
    std::fs::write(&path, "schema: remus-tune-trace\nschema_version: 99\n").unwrap();
    fails_with(&["show", path.to_str().unwrap()], "upgrade remus-tune");
    std::fs::write(
        &path,
        "schema: remus-tune-trace\nschema_version: 1\nepochs: [\n",
    )
    .unwrap();
    fails_with(&["show", path.to_str().unwrap()], "line");
    fails_with(
        &["show", "/nonexistent/x.yaml"],
        "cannot read /nonexistent/x.yaml",
    );
}

#[test]
fn workload_needs_something_to_do() {
    fails_with(&["workload"], "nothing to do");
    fails_with(&["workload", "--sweep", "10"], "positive --rate");
}
