//! `remus-tune watch` scraped by a real Prometheus server (Debian's `prometheus` package),
//! on the built-in workload whose dirty rate is known: the dirty-rate metric against the
//! truth, the verdict gauges against `remus-tune model` on a trace of the same workload,
//! a profile reload on SIGHUP, the shipped rules and dashboard queries accepted by
//! Prometheus, `promtool check metrics` on a scrape, and a clean stop on SIGTERM.

use crate::common;

use common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The workload's truth: a sweep writes RATE distinct new pages a second (the sweep region
/// is far larger than one epoch's share), so every base epoch sees RATE·T pages.
const RATE: f64 = 4000.0;
const WORKLOAD: [&str; 4] = ["--sweep", "8192", "--rate", "4000"];
const TIMING: [&str; 4] = ["--epoch", "50ms", "--intervals", "50ms,100ms,200ms,400ms"];

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn tool(name: &str) -> PathBuf {
    let path = Path::new("/usr/bin").join(name);
    assert!(
        path.exists(),
        "{} is missing: install the Debian package `prometheus` (scripts/setup.sh does)",
        path.display()
    );
    path
}

/// A port free right now on loopback (Prometheus needs one in its command line).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One HTTP/1.0 GET, the body as text (no client crate needed for two local servers).
fn get(addr: SocketAddr, path_and_query: &str) -> Option<String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path_and_query} HTTP/1.0\r\nHost: {addr}\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.").then(|| body.to_string())
}

fn encode(query: &str) -> String {
    query
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A Prometheus instant query: the API's whole JSON answer.
fn query(prometheus: SocketAddr, expr: &str) -> serde_json::Value {
    let body = get(prometheus, &format!("/api/v1/query?query={}", encode(expr)))
        .unwrap_or_else(|| panic!("Prometheus did not answer the query {expr}"));
    serde_json::from_str(&body).unwrap_or_else(|err| panic!("{err}: {body}"))
}

/// The values of an instant query's series (empty when there are none).
fn values(prometheus: SocketAddr, expr: &str) -> Vec<f64> {
    let answer = query(prometheus, expr);
    assert_eq!(answer["status"], "success", "{expr}: {answer}");
    answer["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["value"][1].as_str().unwrap().parse().unwrap())
        .collect()
}

/// Polls `expr` until `ok` holds for its values, or panics after `limit`.
fn wait_for(
    prometheus: SocketAddr,
    expr: &str,
    limit: Duration,
    ok: impl Fn(&[f64]) -> bool,
) -> Vec<f64> {
    let deadline = Instant::now() + limit;
    loop {
        let got = values(prometheus, expr);
        if ok(&got) {
            return got;
        }
        assert!(Instant::now() < deadline, "{expr} stayed at {got:?}");
        sleep_ms(500);
    }
}

/// A child process killed when dropped, so a failing assertion leaves nothing running.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `remus-tune watch` on `pid`; returns it with its metrics address, read from its stderr
/// (it listens on port 0), and a channel of its later stderr lines.
fn start_watch(pid: u32, profile: &Path) -> (Running, SocketAddr, mpsc::Receiver<String>) {
    let mut child = Command::new(BIN)
        .args(["watch", &pid.to_string(), "--method", "hash"])
        .args(TIMING)
        .args([
            "--update",
            "2s",
            "--window",
            "30s",
            "--listen",
            "127.0.0.1:0",
        ])
        .args(["--profile", profile.to_str().unwrap()])
        .stderr(Stdio::piped())
        .spawn()
        .expect("start remus-tune watch");
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let (send, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            eprintln!("watch: {line}");
            if send.send(line).is_err() {
                break;
            }
        }
    });
    let running = Running(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let line = lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("watch never said where it serves");
        if let Some(rest) = line.split("serving metrics on http://").nth(1) {
            let addr = rest.split('/').next().unwrap().parse().unwrap();
            return (running, addr, lines);
        }
    }
}

fn start_prometheus(dir: &Path, watch: SocketAddr) -> (Running, SocketAddr) {
    let rules = manifest().join("contrib/prometheus/remus-tune.rules.yml");
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - {}\n\
             scrape_configs:\n  - job_name: remus-tune\n    static_configs:\n      - targets: ['{watch}']\n",
            rules.display()
        ),
    )
    .unwrap();
    let output = Command::new(tool("promtool"))
        .args(["check", "config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let child = Command::new(tool("prometheus"))
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address={addr}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start prometheus");
    let running = Running(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while get(addr, "/-/ready").is_none_or(|body| !body.contains("Ready")) {
        assert!(Instant::now() < deadline, "Prometheus never became ready");
        sleep_ms(200);
    }
    (running, addr)
}

/// The model's recommended interval for a trace, in seconds (`None` when none meets).
fn model_recommends(trace: &Path, profile: &Path) -> Option<f64> {
    let output = run(&[
        "model",
        trace.to_str().unwrap(),
        "--profile",
        profile.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    json(&output)["recommended_interval_ms"]
        .as_f64()
        .map(|ms| ms / 1e3)
}

/// The batch profile with another slowdown limit (loose: every interval meets it; tight:
/// none does), so the verdict is clear-cut on a loaded machine either way.
fn write_profile(path: &Path, max_slowdown: &str) {
    let batch = std::fs::read_to_string(manifest().join("profiles/batch.yaml")).unwrap();
    let text: String = batch
        .lines()
        .map(|line| {
            if line.trim_start().starts_with("max_slowdown:") {
                format!("  max_slowdown: {max_slowdown}")
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(path, text + "\n").unwrap();
}

#[test]
fn shipped_rules_pass_promtool() {
    let output = Command::new(tool("promtool"))
        .args(["check", "rules"])
        .arg(manifest().join("contrib/prometheus/remus-tune.rules.yml"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        stderr(&output)
    );
}

#[test]
fn prometheus_scrapes_watch_on_the_workload() {
    let _heavy = one_at_a_time();
    let dir = temp_dir();
    let loose = dir.path().join("loose.yaml");
    let tight = dir.path().join("tight.yaml");
    write_profile(&loose, "90%");
    write_profile(&tight, "1%");
    let profile = dir.path().join("watched.yaml");
    std::fs::copy(&loose, &profile).unwrap();
    let workload = Workload::start(&WORKLOAD);
    let pid = workload.pid().to_string();

    // A trace of the same workload, for `model`'s verdict.
    let trace = dir.path().join("t.trace.yaml");
    let measured = run(&[
        &["measure", &pid, "--method", "hash", "--duration", "5s"][..],
        &TIMING,
        &["-o", trace.to_str().unwrap()],
    ]
    .concat());
    assert!(measured.status.success(), "{}", stderr(&measured));
    let loose_verdict = model_recommends(&trace, &loose);
    let tight_verdict = model_recommends(&trace, &tight);
    assert_eq!(
        loose_verdict,
        Some(0.05),
        "every interval meets a 90 % limit"
    );
    assert_eq!(tight_verdict, None, "none meets a 1 % limit");

    let (mut watch, watch_addr, _lines) = start_watch(workload.pid(), &profile);
    let (_prometheus, prom) = start_prometheus(dir.path(), watch_addr);

    // Scraped, and the model has run over the window.
    wait_for(
        prom,
        "up{job=\"remus-tune\"}",
        Duration::from_secs(20),
        |v| v == [1.0],
    );
    wait_for(
        prom,
        "remus_tune_model_updates_total",
        Duration::from_secs(20),
        |v| v.first().is_some_and(|&n| n >= 2.0),
    );
    // The dirty rate against the truth, from the counter as any dashboard reads it, and
    // from the window gauge of the base interval. rate() divides by its whole range, so it
    // is read once the series fills it (8 s at one scrape a second).
    wait_for(
        prom,
        "count_over_time(remus_tune_dirty_pages_total[8s])",
        Duration::from_secs(20),
        |v| v.first().is_some_and(|&n| n >= 8.0),
    );
    let rate = wait_for(
        prom,
        "rate(remus_tune_dirty_pages_total[8s])",
        Duration::from_secs(20),
        |v| v.len() == 1,
    )[0];
    eprintln!("dirty rate {rate:.0} pages/s, truth {RATE}");
    assert!(
        (rate - RATE).abs() <= RATE * 0.10,
        "dirty rate {rate:.0} pages/s, truth {RATE}"
    );
    let window = values(
        prom,
        "remus_tune_window_dirty_pages_per_second{interval_seconds=\"0.05\"}",
    );
    assert!(
        window.len() == 1 && (window[0] - RATE).abs() <= RATE * 0.10,
        "window dirty rate {window:?}, truth {RATE}"
    );
    // The verdict gauges say what `model` says on a trace of the same workload.
    assert_eq!(values(prom, "remus_tune_verdict_acceptable"), [1.0]);
    assert_eq!(
        values(prom, "remus_tune_recommended_interval_seconds"),
        [loose_verdict.unwrap()]
    );

    // SIGHUP reloads the profile: now nothing meets the limit, as `model` says.
    std::fs::copy(&tight, &profile).unwrap();
    signal(watch.0.id(), libc::SIGHUP);
    wait_for(
        prom,
        "remus_tune_profile_reloads_total",
        Duration::from_secs(15),
        |v| v == [1.0],
    );
    wait_for(
        prom,
        "remus_tune_verdict_acceptable",
        Duration::from_secs(15),
        |v| v == [0.0],
    );
    assert!(
        values(prom, "remus_tune_recommended_interval_seconds").is_empty(),
        "no recommendation when no interval meets the limits"
    );
    let over = values(
        prom,
        "remus_tune_operating_predicted_slowdown_ratio > remus_tune_profile_max_slowdown_ratio",
    );
    assert_eq!(over.len(), 1, "the slowdown alert's expression holds");

    // Every query of the shipped dashboard is valid PromQL to this Prometheus.
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(manifest().join("contrib/prometheus/grafana-dashboard.json"))
            .unwrap(),
    )
    .unwrap();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"]
                .as_str()
                .unwrap()
                .replace("$instance", ".*")
                .replace("$target", ".*");
            assert_eq!(query(prom, &expr)["status"], "success", "{expr}");
        }
    }

    // A scrape passes promtool's lint.
    let scrape = get(watch_addr, "/metrics").expect("scrape watch");
    let mut promtool = Command::new(tool("promtool"))
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(scrape.as_bytes())
        .unwrap();
    let linted = promtool.wait_with_output().unwrap();
    assert!(
        linted.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&linted.stdout),
        stderr(&linted)
    );

    // SIGTERM: a clean stop with the SIGTERM status.
    signal(watch.0.id(), libc::SIGTERM);
    let status = watch.0.wait().unwrap();
    assert_eq!(status.code(), Some(143), "watch exits 143 on SIGTERM");
    drop(workload);
}
