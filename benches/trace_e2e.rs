//! What users wait for, end to end from a file: `remus-tune show`, `remus-tune model` and
//! `remus-tune chart` of a synthetic 24-hour trace at 25 ms (3.456 M epochs), the real binary
//! on a real file, plain and zstd-compressed. Criterion times each command; the max RSS of every run comes from
//! wait4's rusage and is printed beside it, with the file sizes (the trace size per day).
//!
//! Targets (issue 13): each command ≤ 3 s and ≤ 256 MB max RSS (`chart` in a time
//! comparable to `model`: it models every hour as well, and draws 14 pictures). The physical
//! floor is parsing: ~290 MB of JSON lines per day, one line per epoch.
//!
//! `RT_TRACE_HOURS` shortens the trace for a quick run (default 24).

#[path = "support/day_trace.rs"]
mod day_trace;

use criterion::{criterion_group, criterion_main, Criterion};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_remus-tune");

/// CPU seconds (user + system) of a finished child.
fn cpu_seconds(usage: &libc::rusage) -> f64 {
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// Runs the binary once; (wall time, max RSS in KiB, CPU seconds).
// The child is reaped by wait4 (for its rusage), which clippy does not see.
#[allow(clippy::zombie_processes)]
fn run_measured(args: &[&str]) -> (Duration, i64, f64) {
    let start = Instant::now();
    let child = Command::new(BIN)
        .args(args)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("run remus-tune");
    let mut status = 0;
    // SAFETY: rusage is plain data that wait4 fills; the PID is our own unreaped child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    let wall = start.elapsed();
    assert_eq!(pid, child.id() as i32, "wait4 failed");
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "remus-tune {args:?} failed ({status})"
    );
    (wall, usage.ru_maxrss, cpu_seconds(&usage))
}

fn traces() -> Vec<PathBuf> {
    let hours: f64 = std::env::var("RT_TRACE_HOURS")
        .ok()
        .and_then(|h| h.parse().ok())
        .unwrap_or(24.0);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("day-trace-{hours}h"));
    std::fs::create_dir_all(&dir).expect("bench data directory");
    let mut paths = Vec::new();
    for name in ["day.trace.yaml", "day.trace.zst"] {
        let path = dir.join(name);
        if !path.exists() {
            let partial = dir.join(format!("writing-{name}"));
            let start = Instant::now();
            day_trace::write_day_trace(&partial, hours);
            std::fs::rename(&partial, &path).expect("rename the finished trace");
            eprintln!(
                "wrote {} in {:.1} s",
                path.display(),
                start.elapsed().as_secs_f64()
            );
        }
        let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        eprintln!(
            "trace size: {name}: {:.1} MB for {hours} h at 25 ms ({:.1} bytes/epoch)",
            bytes as f64 / 1e6,
            bytes as f64 / (hours * 3600.0 * 40.0)
        );
        paths.push(path);
    }
    paths
}

fn end_to_end(c: &mut Criterion) {
    let paths = traces();
    let mut group = c.benchmark_group("day trace end to end");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(30));
    for path in &paths {
        let file = path.to_str().expect("UTF-8 path");
        let kind = if file.ends_with(".zst") {
            "zst"
        } else {
            "plain"
        };
        let charts = format!("{file}.charts");
        for (command, args) in [
            ("show", vec!["show", file]),
            ("model", vec!["model", file]),
            // --force: every run replaces the charts of the one before.
            ("chart", vec!["chart", file, "-o", &charts, "--force"]),
        ] {
            // Wall time depends on what else runs; CPU time is what the command needs.
            let (wall, rss, cpu) = run_measured(&args);
            eprintln!(
                "{command} {kind}: {:.2} s wall, {cpu:.2} s CPU, max RSS {:.1} MB",
                wall.as_secs_f64(),
                rss as f64 / 1024.0
            );
            group.bench_function(format!("{command} {kind}"), |b| {
                b.iter_custom(|iterations| {
                    let mut total = Duration::ZERO;
                    let mut max_rss = 0;
                    for _ in 0..iterations {
                        let (wall, rss, _) = run_measured(&args);
                        total += wall;
                        max_rss = max_rss.max(rss);
                    }
                    eprintln!(
                        "  {command} {kind}: max RSS {:.1} MB",
                        max_rss as f64 / 1024.0
                    );
                    total
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, end_to_end);
criterion_main!(benches);
