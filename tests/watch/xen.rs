//! `remus-tune watch` on a Xen domain, through the real binary against the stand-in `xl` and
//! the fake libxenctrl (as tests/xen/measure.rs): beside a simulated Remus it observes
//! (PEEK only) and counts Remus's checkpoints as metrics; alone it takes log-dirty, and
//! switches it off when stopped.

use crate::xen_env;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};
use xen_env::XenEnv;

/// `watch Meine-VM --backend xen` on a free loopback port; returns it and its address.
fn spawn_watch(env: &XenEnv, fake: &[(&str, &str)]) -> (Child, SocketAddr) {
    let mut child = env
        .cmd_with_lib()
        .envs(fake.iter().copied())
        .args(["watch", "Meine-VM", "--backend", "xen", "--epoch", "25ms"])
        .args(["--intervals", "25ms", "--update", "1s", "--window", "10s"])
        .args(["--listen", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut said = String::new();
    let addr = loop {
        let mut line = String::new();
        let read = stderr.read_line(&mut line).unwrap();
        assert!(read > 0, "watch ended before serving: {said}");
        said.push_str(&line);
        if let Some(rest) = line.split("serving metrics on http://").nth(1) {
            break rest.split('/').next().unwrap().parse().unwrap();
        }
    };
    // Keep draining stderr so watch never blocks on a full pipe.
    std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = stderr.read_to_string(&mut rest);
    });
    (child, addr)
}

fn scrape(addr: SocketAddr) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(stream, "GET /metrics HTTP/1.0\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

/// The value of the one series of `name` (given with its label filter, if any) in `text`.
fn value(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// Scrapes until `ok` holds, or panics after 20 s.
fn scrape_until(addr: SocketAddr, ok: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = scrape(addr);
        if ok(&text) {
            return text;
        }
        assert!(Instant::now() < deadline, "never true of:\n{text}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn stop(mut child: Child, signal: i32) -> i32 {
    // SAFETY: kill(2) has no memory-safety preconditions; the PID is our own unreaped child.
    unsafe { libc::kill(child.id() as i32, signal) };
    child.wait().unwrap().code().unwrap_or(-1)
}

fn calls(env: &XenEnv) -> Vec<String> {
    env.xenctrl_log()
        .into_iter()
        .filter(|l| !l.starts_with("ALLOC") && !l.starts_with("FREE"))
        .collect()
}

#[test]
fn beside_remus_it_observes_and_counts_checkpoints() {
    let env = XenEnv::new();
    // A save helper for domain 1 means Remus runs there; its dirty_count grows by 500
    // frames a PEEK from 300 and drops back every 4th PEEK (Remus's CLEAN): a checkpoint
    // of at least 1800 frames every 4 epochs.
    let helper = std::process::Command::new("sleep")
        .arg("60")
        .spawn()
        .unwrap();
    env.add_save_helper(helper.id(), 1, 1);
    let (watch, addr) = spawn_watch(
        &env,
        &[
            ("FAKE_XENCTRL_PEEK", "300"),
            ("FAKE_XENCTRL_PEEK_GROW", "500"),
        ],
    );
    let text = scrape_until(addr, |t| {
        value(t, "remus_tune_remus_checkpoints_total").is_some_and(|n| n >= 10.0)
    });
    let status = stop(watch, libc::SIGTERM);
    let mut helper = helper;
    let _ = helper.kill();
    let _ = helper.wait();
    assert_eq!(status, 143);
    assert!(text.contains("mode=\"observe\""), "{text}");
    let epochs = value(&text, "remus_tune_epochs_total").unwrap();
    let checkpoints = value(&text, "remus_tune_remus_checkpoints_total").unwrap();
    // Read once a second from the backend: a second's checkpoints (10 at 25 ms) may lag.
    assert!(
        checkpoints <= epochs / 4.0 + 1.0 && checkpoints >= epochs / 4.0 - 11.0,
        "{checkpoints} checkpoints in {epochs} epochs"
    );
    assert_eq!(
        value(
            &text,
            "remus_tune_remus_checkpoint_pages{target=\"Meine-VM\",stat=\"max\"}"
        ),
        Some(1800.0),
        "{text}"
    );
    assert!(value(&text, "remus_tune_dom0_cpu_seconds_total").is_some());
    assert!(value(&text, "remus_tune_save_helper_cpu_seconds_total").is_some());
    // Beside Remus: PEEKs only, never a CLEAN or an OFF that would corrupt its backup.
    let calls = calls(&env);
    assert!(!calls.is_empty());
    assert!(
        calls.iter().all(|c| c == "PEEK pages=0 bitmap=null"),
        "{calls:?}"
    );
}

#[test]
fn alone_it_takes_log_dirty_and_switches_it_off_at_sigint() {
    let env = XenEnv::new();
    let (watch, addr) = spawn_watch(&env, &[]);
    let text = scrape_until(addr, |t| {
        value(t, "remus_tune_model_updates_total").is_some_and(|n| n >= 1.0)
    });
    assert!(text.contains("mode=\"exclusive\""), "{text}");
    // The fake dirties 100 frames per CLEAN.
    let epochs = value(&text, "remus_tune_epochs_total").unwrap();
    let dirty = value(&text, "remus_tune_dirty_pages_total").unwrap();
    assert_eq!(dirty, epochs * 100.0, "{text}");
    assert!(
        value(&text, "remus_tune_remus_checkpoints_total") == Some(0.0),
        "no Remus, no checkpoints: {text}"
    );
    assert_eq!(stop(watch, libc::SIGINT), 130);
    let calls = calls(&env);
    assert!(calls.iter().any(|c| c.starts_with("CLEAN")), "{calls:?}");
    assert_eq!(calls.last().map(String::as_str), Some("OFF"), "{calls:?}");
    assert_eq!(calls.iter().filter(|c| *c == "OFF").count(), 1);
}
