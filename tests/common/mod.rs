//! Shared helpers for the integration tests: the real binary, the real built-in workload.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_remus-tune");

/// Measuring tests compete for 2 CPUs; one at a time keeps epochs on time.
static HEAVY: Mutex<()> = Mutex::new(());

pub fn one_at_a_time() -> MutexGuard<'static, ()> {
    HEAVY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A running `remus-tune workload`, killed when dropped.
pub struct Workload {
    pub child: Child,
    stdout: BufReader<std::process::ChildStdout>,
}

/// How well the workload kept to its schedule (it prints this when it stops).
#[derive(Debug, Clone)]
pub struct KeptUp {
    pub max_hot_gap_ms: f64,
    pub run_ms: f64,
    pub max_sweep_lag_pages: u64,
    /// Gaps between hot-set rewrites over 10 ms.
    pub hot_gaps_ms: Vec<f64>,
}

impl KeptUp {
    /// Share of windows of `window_ms` that fall wholly inside a gap between hot-set
    /// rewrites (and so see fewer hot pages than promised).
    pub fn hot_miss_share(&self, window_ms: f64) -> f64 {
        let missed: f64 = self
            .hot_gaps_ms
            .iter()
            .map(|g| (g - window_ms).max(0.0))
            .sum();
        missed / self.run_ms.max(1.0)
    }
}

impl Workload {
    pub fn start(args: &[&str]) -> Self {
        let mut child = Command::new(BIN)
            .arg("workload")
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("start workload");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        assert!(line.starts_with("ready pid="), "workload said {line:?}");
        Self { child, stdout }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the workload (SIGTERM) and returns how well it kept to its schedule.
    pub fn stop(mut self) -> KeptUp {
        signal(self.pid(), libc::SIGTERM);
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        let _ = self.child.wait();
        let field = |key: &str| -> f64 {
            line.split_whitespace()
                .find_map(|f| f.strip_prefix(key)?.parse().ok())
                .unwrap_or_else(|| panic!("no {key} in {line:?}"))
        };
        KeptUp {
            max_hot_gap_ms: field("max_hot_gap_ms="),
            run_ms: field("run_ms="),
            hot_gaps_ms: line
                .split_whitespace()
                .find_map(|f| f.strip_prefix("hot_gaps_ms="))
                .map(|list| list.split(',').filter_map(|g| g.parse().ok()).collect())
                .unwrap_or_default(),
            max_sweep_lag_pages: field("max_sweep_lag_pages=") as u64,
        }
    }
}

impl Drop for Workload {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh directory for trace files.
pub fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("remus-tune-test")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap()
}

pub fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("run remus-tune")
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub fn json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
        panic!(
            "stdout is not JSON ({err}): {}\nstderr: {}",
            String::from_utf8_lossy(&output.stdout),
            stderr(output)
        )
    })
}

pub fn trace_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(name)
}

/// Sends `signal` to `pid`.
pub fn signal(pid: u32, signal: i32) {
    // SAFETY: kill has no memory-safety preconditions.
    assert_eq!(unsafe { libc::kill(pid as i32, signal) }, 0);
}

pub fn sleep_ms(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}
