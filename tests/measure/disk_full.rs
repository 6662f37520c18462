//! A trace is always finishable: when its file cannot grow (a full disk, a file size limit),
//! `measure` stops writing epochs, goes on measuring, prints the summary of every epoch,
//! and exits 74 with the count lost; the file reads up to its last whole epoch with
//! `show --partial`.

use crate::common;

use common::*;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

/// Runs `measure` with its file size limited to `limit` bytes (RLIMIT_FSIZE): a write past
/// it fails with EFBIG, as one on a full disk fails with ENOSPC. SIGXFSZ is ignored so the
/// write fails instead of killing the process, as the kernel does for a full disk.
fn measure_with_file_limit(
    target: u32,
    path: &std::path::Path,
    limit: u64,
) -> std::process::Output {
    let mut command = Command::new(BIN);
    command
        .args([
            "measure",
            &target.to_string(),
            "--method",
            "sample",
            "--duration",
            "3s",
            "--format",
            "json",
            "-o",
            path.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: only async-signal-safe calls (setrlimit, signal) between fork and exec.
    unsafe {
        command.pre_exec(move || {
            let rlimit = libc::rlimit {
                rlim_cur: limit,
                rlim_max: limit,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &rlimit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            Ok(())
        });
    }
    command.output().unwrap()
}

#[test]
fn a_full_file_keeps_measuring_prints_the_summary_and_exits_74() {
    let _heavy = one_at_a_time();
    let dir = temp_dir();
    let path = dir.path().join("full.trace.yaml");
    let target = Workload::start(&["--hot", "50"]);
    // Room for the header and a few dozen epochs of the ~120 a 3 s run measures.
    let output = measure_with_file_limit(target.pid(), &path, 4096);
    drop(target);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(74), "{err}");
    assert!(
        err.contains("epoch(s) lost") && err.contains("--partial"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    let summary = json(&output);
    let measured = summary["base_epochs"].as_u64().unwrap();
    assert!(
        measured >= 100,
        "the summary covers every epoch: {measured}"
    );
    assert_eq!(summary["ended"], "completed");

    // Without --partial the cut file is refused, naming what to do.
    let file = path.to_str().unwrap();
    let refused = run(&["show", file]);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("--partial"),
        "{}",
        stderr(&refused)
    );
    // With it, every whole epoch written reads, marked partial.
    let partial = run(&["show", "--partial", "--format", "json", file]);
    assert!(partial.status.success(), "{}", stderr(&partial));
    let partial = json(&partial);
    let kept = partial["base_epochs"].as_u64().unwrap();
    assert!(kept > 0 && kept < measured, "{kept} of {measured}");
    assert_eq!(partial["ended"], "truncated");
    // The lost count is the difference.
    let lost: u64 = err
        .split(" epoch(s) lost")
        .next()
        .and_then(|s| s.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in {err}"));
    assert_eq!(kept + lost, measured, "{err}");
    // The file was cut back to its last whole epoch: it ends with a newline.
    assert!(std::fs::read(&path).unwrap().ends_with(b"\n"));
}

#[test]
fn a_full_file_compressed_still_reads_with_partial() {
    let _heavy = one_at_a_time();
    let dir = temp_dir();
    let path = dir.path().join("full.trace.zst");
    let target = Workload::start(&["--hot", "50"]);
    let output = measure_with_file_limit(target.pid(), &path, 1200);
    drop(target);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(74), "{err}");
    let partial = run(&[
        "show",
        "--partial",
        "--format",
        "json",
        path.to_str().unwrap(),
    ]);
    assert!(partial.status.success(), "{}", stderr(&partial));
    assert_eq!(json(&partial)["ended"], "truncated");
    assert!(json(&partial)["base_epochs"].as_u64().unwrap() > 0);
}
