//! `remus-tune watch` at its edges: what --help teaches, addresses it refuses, the
//! node_exporter textfile written while it runs and removed when it stops.

use crate::common;

use common::*;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn help_teaches_metrics_signals_and_safety() {
    let output = run(&["watch", "--help"]);
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for needle in [
        "--listen",
        "127.0.0.1:9477",
        "--allow-remote",
        "--textfile",
        "--update",
        "--window",
        "remus_checkpoints_total",
        "predicted_slowdown_ratio",
        "SIGHUP",
        "SIGTERM",
        "contrib/prometheus",
    ] {
        assert!(help.contains(needle), "--help lacks {needle}:\n{help}");
    }
}

#[test]
fn a_non_loopback_address_needs_allow_remote() {
    let output = run(&["watch", "1", "--listen", "0.0.0.0:9477"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("--allow-remote"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_window_too_short_for_the_intervals_is_refused() {
    let output = run(&["watch", "1", "--window", "1s", "--intervals", "400ms"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("--window"), "{}", stderr(&output));
}

#[test]
fn textfile_is_written_while_running_and_removed_at_sigint() {
    let _heavy = one_at_a_time();
    let dir = temp_dir();
    let workload = Workload::start(&["--hot", "64"]);
    let mut watch = Command::new(BIN)
        .args(["watch", &workload.pid().to_string(), "--method", "hash"])
        .args(["--epoch", "50ms", "--intervals", "50ms,100ms"])
        .args([
            "--update",
            "1s",
            "--window",
            "10s",
            "--listen",
            "127.0.0.1:0",
        ])
        .arg("--textfile")
        .arg(dir.path())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let file = dir.path().join("remus-tune-remus-tune.prom");
    let deadline = Instant::now() + Duration::from_secs(30);
    let text = loop {
        if let Ok(text) = std::fs::read_to_string(&file) {
            if text.contains("remus_tune_verdict_acceptable") {
                break text;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no textfile with a verdict in 30 s"
        );
        sleep_ms(200);
    };
    assert!(
        text.contains("# TYPE remus_tune_dirty_pages_total counter"),
        "{text}"
    );
    signal(watch.id(), libc::SIGINT);
    let status = watch.wait().unwrap();
    let log: Vec<String> = BufReader::new(watch.stderr.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .collect();
    assert_eq!(status.code(), Some(130), "{log:?}");
    assert!(!file.exists(), "the textfile outlived watch");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "temp files left"
    );
    drop(workload);
}
