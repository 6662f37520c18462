//! Hostile input and bad days (issue 14), each through the real binary: a clear message that
//! names the limit, a non-zero exit, no panic, bounded memory and time, nothing half-written.

use crate::common;
use crate::model_common;

use common::{one_at_a_time, temp_dir, BIN};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// Address-space cap for the binary in these tests: a blow-up fails with ENOMEM (abort)
/// instead of growing, so "bounded memory" is checked, not hoped for.
const MEMORY_CAP: u64 = 1 << 30;

/// Runs the binary with its address space capped; returns the output and how long it took.
fn run_capped(args: &[&str]) -> (Output, Duration) {
    let mut command = Command::new(BIN);
    command.args(args);
    // SAFETY: setrlimit is async-signal-safe and touches only the child's own limits.
    unsafe {
        command.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: MEMORY_CAP,
                rlim_max: MEMORY_CAP,
            };
            libc::setrlimit(libc::RLIMIT_AS, &limit);
            Ok(())
        });
    }
    let started = Instant::now();
    let output = command.output().expect("run remus-tune");
    (output, started.elapsed())
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts a clean refusal within `seconds`: non-zero exit (not a panic's 101 nor an abort),
/// `needle` in the message.
fn refused_within(args: &[&str], needle: &str, seconds: u64) -> String {
    let (output, took) = run_capped(args);
    let err = stderr(&output);
    let code = output.status.code();
    assert!(
        matches!(code, Some(1..=3)),
        "{args:?}: exit {code:?} (status {:?}): {err}",
        output.status
    );
    assert!(!err.contains("panicked"), "{args:?}: {err}");
    assert!(
        err.contains(needle),
        "{args:?}: expected {needle:?} in: {err}"
    );
    assert!(
        took < Duration::from_secs(seconds),
        "{args:?} took {took:?}"
    );
    err
}

fn trace_in(dir: &Path) -> String {
    let path = dir.join("v.trace.yaml");
    model_common::write_trace(&path, 25, 80, 300.0, 4096);
    path.display().to_string()
}

fn topology() -> String {
    format!(
        "{}/tests/fixtures/topologies/hwloc-2pkg-2numa-smt.xml",
        env!("CARGO_MANIFEST_DIR")
    )
}

// ---- files read whole: regular files only, within a size limit per kind ----

#[test]
fn devices_are_refused_as_profile_host_and_topology() {
    let dir = temp_dir();
    let trace = trace_in(dir.path());
    for flag in ["--profile", "--host"] {
        refused_within(
            &["model", &trace, flag, "/dev/zero"],
            "/dev/zero is a character device, not a regular file",
            5,
        );
    }
    refused_within(
        &["model", &trace, "--profile", "/dev/null"],
        "not a regular file",
        5,
    );
    refused_within(
        &["pin", "--topology", "/dev/zero", "--domain", "A=1"],
        "not a regular file",
        5,
    );
    refused_within(
        &["pin", "--pid", "1", "--plan", "/dev/zero", "--check"],
        "not a regular file",
        5,
    );
}

#[test]
fn an_oversized_profile_names_its_limit() {
    let dir = temp_dir();
    let trace = trace_in(dir.path());
    let big = dir.path().join("big.yaml");
    std::fs::write(&big, "#".repeat(300 * 1024)).unwrap();
    refused_within(
        &["model", &trace, "--profile", &big.display().to_string()],
        "max_profile_size (256 KiB)",
        5,
    );
}

#[test]
fn a_yaml_alias_bomb_in_a_profile_or_plan_stops_at_the_node_limit() {
    let dir = temp_dir();
    let trace = trace_in(dir.path());
    let mut bomb = format!("a0: &a0 [{}]\n", vec!["x"; 500].join(","));
    for level in 1..9 {
        let refs = vec![format!("*a{}", level - 1); 10].join(", ");
        bomb.push_str(&format!("a{level}: &a{level} [{refs}]\n"));
    }
    let path = dir.path().join("bomb.yaml");
    std::fs::write(&path, &bomb).unwrap();
    let p = path.display().to_string();
    refused_within(&["model", &trace, "--profile", &p], "max_yaml_nodes", 10);
    refused_within(
        &["pin", "--pid", "1", "--plan", &p, "--check"],
        "max_yaml_nodes",
        10,
    );
    refused_within(&["pin", "--revert", "--journal", &p], "max_yaml_nodes", 10);
}

// ---- CPU lists and vCPU counts: checked before anything is expanded ----

#[test]
fn huge_cpu_ranges_in_a_plan_or_journal_are_refused_at_once() {
    let dir = temp_dir();
    let topo = topology();
    let plan = Command::new(BIN)
        .args(["pin", "--topology", &topo, "--domain", "Meine-VM=2"])
        .args(["--format", "yaml"])
        .output()
        .unwrap();
    let plan = String::from_utf8(plan.stdout).unwrap();
    let hard = plan
        .lines()
        .find_map(|l| l.trim().strip_prefix("hard: "))
        .unwrap_or_else(|| panic!("no hard: in the plan:\n{plan}"))
        .to_string();
    let hostile = plan.replace(&format!("hard: {hard}"), "hard: '0-4000000000'");
    assert_ne!(hostile, plan);
    let path = dir.path().join("plan.yaml");
    std::fs::write(&path, hostile).unwrap();
    refused_within(
        &[
            "pin",
            "--pid",
            "1",
            "--plan",
            &path.display().to_string(),
            "--check",
        ],
        "max_cpu_id (4095",
        5,
    );
    // A journal of `pin --apply` on a process, its saved CPU list made hostile. The thread
    // is a `sleep` of ours, so nothing else could be re-pinned if the list were accepted;
    // the journal has no start time, so --force (which still compares names) gets past that
    // check to the CPU list.
    let mut sleeper = Command::new("sleep").arg("30").spawn().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let pid = sleeper.id();
    let journal = dir.path().join("journal.yaml");
    std::fs::write(
        &journal,
        format!(
            "version: 1\ncreated: '2026-12-04T00:00:00Z'\nbackend: process\nthreads:\n\
             - pid: {pid}\n  tid: {pid}\n  comm: sleep\n  cpus: '0-4000000000'\n"
        ),
    )
    .unwrap();
    let err = refused_within(
        &[
            "pin",
            "--revert",
            "--force",
            "--journal",
            &journal.display().to_string(),
        ],
        "max_cpu_id (4095",
        5,
    );
    let _ = (sleeper.kill(), sleeper.wait());
    assert!(!err.contains("panicked"));
}

#[test]
fn huge_vcpu_counts_are_refused_at_once() {
    let topo = topology();
    refused_within(
        &["pin", "--topology", &topo, "--domain", "X=4000000000"],
        "max_vcpus (4096)",
        5,
    );
    refused_within(
        &["pin", "--topology", &topo, "--pid", "1=4000000000"],
        "max_vcpus (4096)",
        5,
    );
}

// ---- durations: an error, never Duration's panic ----

#[test]
fn huge_durations_are_refused_everywhere() {
    let dir = temp_dir();
    let trace = trace_in(dir.path());
    let huge = "99999999999999999999h";
    for args in [
        vec!["measure", "1", "--duration", huge],
        vec!["measure", "1", "--warmup", huge],
        vec!["measure", "1", "--epoch", huge],
        vec!["workload", "--duration", huge],
        vec!["trial", "Meine-VM", "--step", huge],
        vec!["trial", "Meine-VM", "--settle", huge],
    ] {
        let (output, _) = run_capped(&args);
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("max_duration (30 days)"), "{args:?}: {err}");
    }
    let nines = format!("rtt={}s", "9".repeat(300));
    refused_within(
        &["model", &trace, "--set", &nines],
        "max_duration (30 days)",
        5,
    );
}

// ---- profiles that would give silently wrong answers ----

#[test]
fn a_profile_without_limits_is_an_error_not_a_pass() {
    let dir = temp_dir();
    let trace = trace_in(dir.path());
    let empty = dir.path().join("empty.yaml");
    std::fs::write(&empty, "").unwrap();
    let e = empty.display().to_string();
    refused_within(&["model", &trace, "--profile", &e], "sets no limits", 5);
    // With a limit given on the command line it is a real verdict again.
    let (output, _) = run_capped(&[
        "model",
        &trace,
        "--profile",
        &e,
        "--set",
        "max_slowdown=50%",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
}

#[test]
fn empty_and_impossible_set_values_are_refused() {
    let dir = temp_dir();
    let trace = trace_in(dir.path());
    refused_within(
        &["model", &trace, "--set", "max_slowdown="],
        "no value after `=`",
        5,
    );
    refused_within(
        &["model", &trace, "--set", "max_slowdown=200%"],
        "above 100%",
        5,
    );
}

#[test]
fn a_sample_of_no_pages_is_refused() {
    refused_within(
        &[
            "measure",
            "--exec",
            "--sample-per-gib",
            "0",
            "--sample-min",
            "0",
            "--",
            "sleep",
            "5",
        ],
        "samples no pages at all",
        5,
    );
}

// ---- outputs: never over an input, never replaced silently, never half-written ----

#[test]
fn an_output_equal_to_the_input_is_refused_and_the_trace_survives() {
    let dir = temp_dir();
    let trace = trace_in(dir.path());
    let before = std::fs::read(&trace).unwrap();
    for force in [false, true] {
        let mut args = vec!["model", trace.as_str(), "--html", trace.as_str()];
        if force {
            args.push("--force");
        }
        refused_within(&args, "an input of this command", 10);
    }
    assert_eq!(std::fs::read(&trace).unwrap(), before);
}

#[test]
fn existing_charts_and_reports_need_force() {
    let dir = temp_dir();
    let trace = trace_in(dir.path());
    let out = dir.path().join("charts");
    let o = out.display().to_string();
    let chart = |extra: &[&str]| {
        let mut args = vec!["chart", trace.as_str(), "-o", o.as_str(), "--format", "svg"];
        args.extend_from_slice(extra);
        run_capped(&args).0
    };
    assert!(chart(&[]).status.success());
    let svg = out.join("throughput-vs-interval.svg");
    std::fs::write(&svg, "mine").unwrap();
    let refused = chart(&[]);
    assert!(!refused.status.success());
    assert!(stderr(&refused).contains("--force"), "{}", stderr(&refused));
    assert_eq!(std::fs::read_to_string(&svg).unwrap(), "mine");
    assert!(chart(&["--force"]).status.success());
    assert!(std::fs::read_to_string(&svg).unwrap().starts_with("<svg"));
    // -o naming a file: said plainly.
    refused_within(
        &["chart", &trace, "-o", &svg.display().to_string()],
        "is a file, not a directory",
        10,
    );
    let html = dir.path().join("r.html");
    let h = html.display().to_string();
    assert!(run_capped(&["model", &trace, "--html", &h])
        .0
        .status
        .success());
    refused_within(&["model", &trace, "--html", &h], "already exists", 10);
    assert!(run_capped(&["model", &trace, "--html", &h, "--force"])
        .0
        .status
        .success());
}

/// On a full file system a chart or report is written whole or not at all. Needs root for
/// a tiny tmpfs; without root the outfile unit tests cover the failure path.
#[test]
fn a_full_disk_leaves_no_partial_chart_or_report() {
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: a tiny tmpfs needs root");
        return;
    }
    let dir = temp_dir();
    let trace = trace_in(dir.path());
    let mount = dir.path().join("full");
    std::fs::create_dir(&mount).unwrap();
    let m = mount.display().to_string();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs", &m])
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("skipped: cannot mount a tmpfs here");
        return;
    }
    let (chart, _) = run_capped(&["chart", &trace, "-o", &m]);
    let html = mount.join("r.html");
    let (report, _) = run_capped(&["model", &trace, "--html", &html.display().to_string()]);
    let files: Vec<(String, u64)> = std::fs::read_dir(&mount)
        .unwrap()
        .flatten()
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                e.metadata().unwrap().len(),
            )
        })
        .collect();
    let _ = Command::new("umount").arg(&m).status();
    assert!(!chart.status.success(), "charts fit in 64 KiB?");
    assert!(
        stderr(&chart).contains("nothing was written"),
        "{}",
        stderr(&chart)
    );
    assert!(!report.status.success());
    // What is there is whole: every SVG ends its document, no temporary file is left.
    for (name, _) in &files {
        assert!(!name.ends_with(".tmp"), "left behind: {files:?}");
        assert!(name != "r.html", "a report on a full disk: {files:?}");
    }
    assert!(files
        .iter()
        .all(|(n, len)| !n.ends_with(".svg") || *len > 1000));
}

// ---- --exec: the whole tree, stopped on exit; a command that ends at once ----

#[test]
fn exec_of_a_command_that_exits_at_once_has_one_outcome() {
    let _heavy = one_at_a_time();
    let dir = temp_dir();
    for round in 0..10 {
        let trace = dir.path().join(format!("t{round}.trace.yaml"));
        let (output, _) = run_capped(&[
            "measure",
            "--exec",
            "-o",
            &trace.display().to_string(),
            "--",
            "true",
        ]);
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(3), "round {round}: {err}");
        assert!(
            err.contains("exited (exit status: 0) before its first epoch was measured"),
            "round {round}: {err}"
        );
        assert!(
            !trace.exists(),
            "round {round}: a trace of nothing was left"
        );
    }
}

/// PIDs of live processes whose command line contains `marker`.
fn running_with(marker: &str) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(marker))
        })
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "))
        })
        .collect()
}

#[test]
fn exec_measures_the_whole_tree_and_stops_it() {
    let _heavy = one_at_a_time();
    let dir = temp_dir();
    let trace = dir.path().join("tree.trace.yaml");
    // Two workers in the background of a shell that only waits: the shell dirties nothing.
    let marker = format!("--disk-file {}/marker", dir.path().display());
    let script = format!(
        "{BIN} workload --hot 300 --duration 60s {marker}1 & \
         {BIN} workload --hot 200 --duration 60s {marker}2 & wait"
    );
    let (output, _) = run_capped(&[
        "measure",
        "--exec",
        "--warmup",
        "1s",
        "--duration",
        "2s",
        "--epoch",
        "100ms",
        "--intervals",
        "100ms",
        "--method",
        "hash",
        "--format",
        "json",
        "-o",
        &trace.display().to_string(),
        "--",
        "bash",
        "-c",
        &script,
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let pages = &summary["intervals"][0]["dirty_pages"];
    let (p50, max) = (
        pages["p50"].as_f64().unwrap(),
        pages["max"].as_f64().unwrap(),
    );
    // 500 hot pages between the two workers (300 + 200), which no single member reaches;
    // the shell alone would show a handful. The median is looser: on a loaded machine a
    // worker starts late or falls behind its hot-set rewrites.
    assert!(
        max >= 450.0 && p50 >= 250.0,
        "p50 {p50}, max {max} dirty pages per 100 ms:\n{summary}"
    );
    assert!(stderr(&output).contains("whole process tree"));
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        running_with(&marker).is_empty(),
        "workers left running: {:?}",
        running_with(&marker)
    );
}

#[test]
fn sigterm_stops_the_whole_tree() {
    let _heavy = one_at_a_time();
    let dir = temp_dir();
    let trace = dir.path().join("t.trace.yaml");
    let marker = format!("--disk-file {}/sigmarker", dir.path().display());
    let script = format!("{BIN} workload --hot 10 --duration 60s {marker} & sleep 60; wait");
    let child = Command::new(BIN)
        .args(["measure", "--exec", "--duration", "30s", "-o"])
        .arg(&trace)
        .args(["--", "bash", "-c", &script])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        !running_with(&marker).is_empty(),
        "the worker did not start"
    );
    common::signal(child.id(), libc::SIGTERM);
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(143));
    assert!(running_with(&marker).is_empty(), "workers left running");
}

// ---- unclear messages made clear ----

#[test]
fn kernel_threads_impossible_pids_and_zero_links_are_named() {
    refused_within(&["measure", "2"], "is a kernel thread", 5);
    refused_within(&["measure", "2147483648"], "is not a valid PID", 5);
    let dir = temp_dir();
    let trace = trace_in(dir.path());
    refused_within(
        &["model", &trace, "--link", "0bit/s"],
        "a replication link must carry something",
        5,
    );
}

#[test]
fn duplicate_keys_and_anchors_in_a_profile_name_their_line() {
    let dir = temp_dir();
    let trace = trace_in(dir.path());
    let path = dir.path().join("p.yaml");
    let p = path.display().to_string();
    std::fs::write(
        &path,
        "kind: limits\nlimits:\n  max_pause: 20ms\n  max_pause: 30ms\n",
    )
    .unwrap();
    refused_within(
        &["model", &trace, "--profile", &p],
        "line 4, key `limits.max_pause`: set twice (first on line 3)",
        5,
    );
    std::fs::write(
        &path,
        "kind: limits\nlimits:\n  max_pause: &p 20ms\n  max_added_latency: *p\n",
    )
    .unwrap();
    refused_within(
        &["model", &trace, "--profile", &p],
        "line 3, key `limits.max_pause`: YAML anchors",
        5,
    );
}

/// A reader that closed the pipe ends the output quietly, with the shell's SIGPIPE status.
#[test]
fn a_closed_pipe_ends_quietly() {
    let dir = temp_dir();
    let trace = trace_in(dir.path());
    let mut fds = [0; 2];
    // SAFETY: pipe fills the two-int array we pass; we close the read end at once and hand
    // the write end to the child as its stdout (Stdio takes ownership of it).
    let write_end = unsafe {
        assert_eq!(libc::pipe(fds.as_mut_ptr()), 0);
        libc::close(fds[0]);
        <std::process::Stdio as std::os::fd::FromRawFd>::from_raw_fd(fds[1])
    };
    let output = Command::new(BIN)
        .args(["model", &trace])
        .stdout(write_end)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(141), "{}", stderr(&output));
    assert!(
        !stderr(&output).contains("Broken pipe"),
        "{}",
        stderr(&output)
    );
}

/// A SIGTERM before the first epoch stops the command; that is not the command exiting by
/// itself, so it ends as a SIGTERM (143), not as "exited before its first epoch".
#[test]
fn sigterm_before_the_first_epoch_is_a_sigterm() {
    let _heavy = one_at_a_time();
    let dir = temp_dir();
    let trace = dir.path().join("w.trace.yaml");
    let child = Command::new(BIN)
        .args(["measure", "--exec", "--warmup", "10s", "-o"])
        .arg(&trace)
        .args(["--", "sleep", "30"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    common::signal(child.id(), libc::SIGTERM);
    let output = child.wait_with_output().unwrap();
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(143), "{err}");
    assert!(!err.contains("before its first epoch"), "{err}");
}
