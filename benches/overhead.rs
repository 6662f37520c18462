//! What measuring costs the measured program: the built-in workload in throughput mode
//! (writes as fast as it can, then prints writes/s and writes per CPU second) alone and
//! under `measure` with each method at a 100 ms epoch. Target (issue 2): ≤ 1 % loss for
//! soft-dirty and sample; the hash method's cost grows with resident memory, so it runs at
//! two sizes.
//!
//! A difference of 1 % is below this machine's run-to-run noise (±4 % between separate
//! runs), so the runs are paired: each sample runs the workload alone and under `measure`
//! back to back, in alternating order, and the loss is taken within the pair. Workload and
//! measurer are pinned to different CPUs (as `remus-tune pin` would place a Dom-U and Dom-0),
//! so the loss is what measuring costs the program, not time lost to sharing a core. Criterion
//! reports the time per million writes under each method; the paired losses are printed after the
//! group as mean ± 95 % confidence, both per wall-clock second and per CPU second of the
//! workload (the latter is immune to other load on the host taking the workload's core).
//!
//! Uses the release binary built by `cargo bench` (target/release/remus-tune).

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The measure epoch the targets are stated for.
const EPOCH: &str = "100ms";

fn binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/release/deps/overhead-xxxx → target/release/remus-tune
    exe.parent().unwrap().parent().unwrap().join("remus-tune")
}

/// Seconds per workload run: long enough that measure's start-up is a small part of it
/// under `cargo bench`, short under `cargo test --all-targets`, which runs each bench once.
fn run_seconds() -> f64 {
    if std::env::args().any(|arg| arg == "--bench") {
        3.0
    } else {
        0.5
    }
}

/// One workload run's throughput.
#[derive(Debug, Clone, Copy)]
struct Throughput {
    per_wall_s: f64,
    per_cpu_s: f64,
}

/// Pins a running process to one CPU; no-op on a single-CPU machine.
fn pin(pid: u32, cpu: usize) {
    if std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
        return;
    }
    // SAFETY: a zeroed cpu_set_t is the empty set; CPU_SET writes within it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(pid as i32, std::mem::size_of_val(&set), &set);
    }
}

/// One throughput run, optionally under `measure --method METHOD`.
fn run(sweep_pages: u64, method: Option<&str>) -> Throughput {
    let bin = binary();
    let mut workload = Command::new(&bin)
        .args([
            "workload",
            "--throughput",
            "--sweep",
            &sweep_pages.to_string(),
        ])
        .arg("--duration")
        .arg(format!("{}ms", (run_seconds() * 1e3) as u64))
        .stdout(Stdio::piped())
        .spawn()
        .expect("run target/release/remus-tune workload (build it with cargo build --release)");
    pin(workload.id(), 1);
    let mut lines = BufReader::new(workload.stdout.take().unwrap()).lines();
    let ready = lines.next().unwrap().unwrap();
    assert!(ready.starts_with("ready"), "{ready}");
    let measurer = method.map(|method| spawn_measure(&bin, workload.id(), method));
    let mut value = |key: &str| -> f64 {
        lines
            .find_map(|line| line.ok()?.strip_prefix(key)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("workload printed no `{key}` line"))
    };
    let per_wall_s = value("writes/s:");
    let per_cpu_s = value("writes/cpu-s:");
    workload.wait().unwrap();
    if let Some((child, trace)) = measurer {
        check_measured(child, &trace, method.unwrap());
    }
    Throughput {
        per_wall_s,
        per_cpu_s,
    }
}

/// `remus-tune measure PID --method METHOD` at the bench's epoch, writing to `trace`.
fn measure_command(
    bin: &PathBuf,
    pid: u32,
    method: &str,
    duration: &str,
    trace: &PathBuf,
) -> Command {
    let mut command = Command::new(bin);
    command
        .args(["measure", &pid.to_string(), "--method", method])
        .args([
            "--epoch",
            EPOCH,
            "--intervals",
            EPOCH,
            "--duration",
            duration,
        ])
        .args(["--force", "-o"])
        .arg(trace)
        .stdout(Stdio::null());
    command
}

fn spawn_measure(bin: &PathBuf, pid: u32, method: &str) -> (Child, PathBuf) {
    let trace = std::env::temp_dir().join(format!("overhead-{pid}.trace.yaml"));
    let child = measure_command(bin, pid, method, "60s", &trace)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    pin(child.id(), 0);
    (child, trace)
}

/// The measurer must really have measured (it ends when the workload exits, status 3), or
/// the "loss" would be that of an idle measurer.
fn check_measured(child: Child, trace: &PathBuf, method: &str) {
    let output = child.wait_with_output().unwrap();
    let _ = std::fs::remove_file(trace);
    let code = output.status.code();
    assert!(
        matches!(code, Some(0) | Some(3)),
        "measure --method {method} failed ({code:?}): {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Whether `measure --method METHOD` works on this machine (soft-dirty needs a kernel with
/// CONFIG_MEM_SOFT_DIRTY).
fn method_works(method: &str) -> bool {
    let bin = binary();
    let mut workload = Command::new(&bin)
        .args([
            "workload",
            "--sweep",
            "16",
            "--rate",
            "100",
            "--duration",
            "2s",
        ])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let trace = std::env::temp_dir().join(format!("overhead-probe-{}.trace.yaml", workload.id()));
    let status = measure_command(&bin, workload.id(), method, "300ms", &trace)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    let _ = workload.kill();
    let _ = workload.wait();
    let _ = std::fs::remove_file(trace);
    status.success()
}

/// Paired losses of one configuration, in per cent (positive: slower under measure).
#[derive(Default)]
struct Losses {
    wall: Vec<f64>,
    cpu: Vec<f64>,
}

fn mean_and_ci95(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    if values.len() < 2 {
        return (mean, f64::NAN);
    }
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    // Student's t for 95 % two-sided; 2.0 is close enough from 30 samples on.
    let t = match values.len() {
        2 => 12.71,
        3 => 4.30,
        4..=5 => 3.18,
        6..=10 => 2.36,
        11..=20 => 2.13,
        _ => 2.0,
    };
    (mean, t * (var / n).sqrt())
}

fn overhead(c: &mut Criterion) {
    let mut group = c.benchmark_group("workload_write_cost_under_measure");
    group.sampling_mode(SamplingMode::Flat);
    // 20 pairs (21 with the warm-up call): a 95 % interval of about ±1 % on a quiet host.
    group.sample_size(20);
    group.warm_up_time(Duration::from_millis(100));
    group.measurement_time(Duration::from_secs(150));
    let mut results: Vec<(&str, Losses)> = Vec::new();
    for (name, pages, method) in [
        ("soft-dirty_64MiB", 16384, "soft-dirty"),
        ("sample_64MiB", 16384, "sample"),
        ("sample_256MiB", 65536, "sample"),
        ("hash_64MiB", 16384, "hash"),
        ("hash_256MiB", 65536, "hash"),
    ] {
        if !method_works(method) {
            eprintln!("{name}: skipped, `measure --method {method}` does not work here");
            continue;
        }
        let mut losses = Losses::default();
        group.bench_function(name, |b| {
            // One pair per call, whatever `iters` criterion asks for (a pair takes seconds);
            // the time reported is per million writes under the method, scaled to `iters`.
            let mut pairs = 0u64;
            b.iter_custom(|iters| {
                // Alternate the order so drift over time does not favour either side.
                let (alone, under) = if pairs.is_multiple_of(2) {
                    let alone = run(pages, None);
                    (alone, run(pages, Some(method)))
                } else {
                    let under = run(pages, Some(method));
                    (run(pages, None), under)
                };
                pairs += 1;
                losses
                    .wall
                    .push(100.0 * (1.0 - under.per_wall_s / alone.per_wall_s));
                losses
                    .cpu
                    .push(100.0 * (1.0 - under.per_cpu_s / alone.per_cpu_s));
                Duration::from_secs_f64(iters as f64 * 1e6 / under.per_wall_s)
            })
        });
        results.push((name, losses));
    }
    group.finish();
    println!("\npaired loss of workload throughput under measure (epoch {EPOCH}; mean ± 95 % CI):");
    println!(
        "{:<18} {:>6} {:>22} {:>22}",
        "", "pairs", "per wall s", "per CPU s"
    );
    for (name, losses) in results {
        let (wall, wall_ci) = mean_and_ci95(&losses.wall);
        let (cpu, cpu_ci) = mean_and_ci95(&losses.cpu);
        println!(
            "{name:<18} {:>6} {:>13.2} % ± {:>4.2} {:>13.2} % ± {:>4.2}",
            losses.wall.len(),
            wall,
            wall_ci,
            cpu,
            cpu_ci
        );
    }
}

criterion_group!(benches, overhead);
criterion_main!(benches);
