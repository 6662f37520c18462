//! `remus-tune measure` with the Xen backend, end to end through the real binary: the
//! stand-in `xl` (tests/support/fake-xen-xl) and a fake libxenctrl built from
//! tests/support/fake-libxenctrl.c, loaded by the same dlopen path as the real one. The fake
//! logs every log-dirty call, so each test checks the exact calls that would reach Xen.
//! The host's own facts (no Xen, no libxenctrl) are tested for real.

use crate::xen_env;

use remus_tune::trace::{read_trace, EndReason};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use xen_env::{XenEnv, BIN};

fn text(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Log-dirty calls, without the buffer bookkeeping lines.
fn calls(env: &XenEnv) -> Vec<String> {
    env.xenctrl_log()
        .into_iter()
        .filter(|l| !l.starts_with("ALLOC") && !l.starts_with("FREE"))
        .collect()
}

/// `remus-tune measure ARGS` against the fake libxenctrl, with its `FAKE_XENCTRL_*` settings.
fn measure(env: &XenEnv, fake: &[(&str, &str)], args: &[&str]) -> Output {
    let mut command = env.cmd_with_lib();
    command.envs(fake.iter().copied());
    measure_with(command, args)
}

/// `measure --backend xen Meine-VM --duration 1s` from `command`, e.g. with another library.
fn measure_with(mut command: Command, args: &[&str]) -> Output {
    command.arg("measure").args(args).output().unwrap()
}

/// The arguments most refusal tests give.
const MEINE_VM_1S: &[&str] = &["--backend", "xen", "Meine-VM", "--duration", "1s"];

/// `measure Meine-VM --backend xen` at 25 ms into vm.trace.yaml, running in the background.
fn spawn_measure(env: &XenEnv, duration: &str) -> std::process::Child {
    env.cmd_with_lib()
        .args([
            "measure",
            "Meine-VM",
            "--backend",
            "xen",
            "--duration",
            duration,
        ])
        .args(["--intervals", "25ms", "-o", "vm.trace.yaml"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Asserts the run failed with `code` and said every one of `needles`.
fn assert_fails_saying(out: &Output, code: i32, needles: &[&str]) {
    assert_eq!(out.status.code(), Some(code), "{}", text(out));
    for needle in needles {
        assert!(
            text(out).contains(needle),
            "no {needle:?} in:\n{}",
            text(out)
        );
    }
}

#[test]
fn no_xen_on_this_host_is_a_clear_error() {
    if std::process::Command::new("xl")
        .arg("info")
        .output()
        .is_ok()
    {
        return; // a real Xen host: this test is for hosts without one
    }
    for args in [
        vec![
            "measure",
            "--backend",
            "xen",
            "Meine-VM",
            "--duration",
            "1s",
        ],
        vec!["measure", "--backend", "xen", "7"],
    ] {
        let out = std::process::Command::new(BIN)
            .env_remove("REMUS_TUNE_XL")
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(69), "{}", text(&out));
        assert!(text(&out).contains("no Xen here"), "{}", text(&out));
    }
    // pin plans for this host's domains through xl as well: it must say what failed.
    let out = std::process::Command::new(BIN)
        .env_remove("REMUS_TUNE_XL")
        .arg("pin")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("cannot run `xl`"), "{}", text(&out));
}

#[test]
fn libxenctrl_absent_is_a_clear_error_not_a_crash() {
    // The stand-in xl finds the domain; the library path given does not exist.
    let env = XenEnv::new();
    let mut command = env.cmd();
    command.env(
        "REMUS_TUNE_LIBXENCTRL",
        env.path("nowhere/libxenctrl.so.4.17"),
    );
    let out = measure_with(command, MEINE_VM_1S);
    assert_fails_saying(&out, 69, &["libxenctrl", "not installed"]);
    assert!(calls(&env).is_empty());
}

#[test]
fn this_hosts_own_libxenctrl_or_its_absence_is_a_clear_error() {
    // Whatever this host has: no libxenctrl at all (not installed), or Debian's libxenctrl
    // without a hypervisor under it (every symbol binds; xc_interface_open finds no privcmd).
    if std::path::Path::new("/dev/xen/privcmd").exists() {
        return; // a real Xen host
    }
    let env = XenEnv::new();
    let out = measure_with(env.cmd(), MEINE_VM_1S);
    assert_eq!(out.status.code(), Some(69), "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("no Xen here"), "{t}");
    assert!(
        t.contains("not installed") || t.contains("cannot open the Xen control interface"),
        "{t}"
    );
    assert!(
        !t.contains("has no `"),
        "a real libxenctrl lacks a symbol we bind: {t}"
    );
}

#[test]
fn old_or_foreign_libraries_are_refused() {
    let env = XenEnv::new();
    let old = env.path("libxenctrl.so.4.15");
    std::fs::copy(xen_env::fake_libxenctrl(), &old).unwrap();
    let mut command = env.cmd();
    command.env("REMUS_TUNE_LIBXENCTRL", &old);
    let out = measure_with(command, MEINE_VM_1S);
    assert_fails_saying(&out, 1, &["Xen 4.15", "4.16 or later"]);
    // A library without the 4.16 log-dirty call (here: the C library itself).
    let mut command = env.cmd();
    command.env("REMUS_TUNE_LIBXENCTRL", "libc.so.6");
    let out = measure_with(command, MEINE_VM_1S);
    assert_fails_saying(&out, 1, &["xc_logdirty_control"]);
    assert!(calls(&env).is_empty());
}

#[test]
fn exclusive_mode_enables_cleans_each_epoch_and_switches_off() {
    let env = XenEnv::new();
    env.set_vbd(1000, 80_000);
    // Dom-0's vCPUs (their CPU time from the hypervisor) busy at half a core.
    let out = measure(
        &env,
        &[("FAKE_XENCTRL_DOM0_CORES", "0.5")],
        &[
            "Meine-VM",
            "--duration",
            "500ms",
            "--epoch",
            "25ms",
            "--intervals",
            "25ms,50ms,100ms",
            "-o",
            "vm.trace.yaml",
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("backend auto"), "{}", text(&out));
    // Live placement from the recorded `xl vcpu-list` (during Remus, lab).
    assert!(
        text(&out).contains("Meine-VM vCPU 0: on pCPU 1, affinity 1 / all"),
        "{}",
        text(&out)
    );
    let calls = calls(&env);
    assert_eq!(
        calls.first().map(String::as_str),
        Some("ENABLE"),
        "{calls:?}"
    );
    assert_eq!(calls.last().map(String::as_str), Some("OFF"), "{calls:?}");
    assert_eq!(calls.iter().filter(|c| *c == "OFF").count(), 1);
    let cleans = calls.iter().filter(|c| *c == "CLEAN pages=8192").count();
    assert_eq!(
        cleans + 2,
        calls.len(),
        "only ENABLE, CLEANs of the whole bitmap, OFF: {calls:?}"
    );
    assert!(
        !env.xenctrl_log().iter().any(|l| l.starts_with("BADBUF")),
        "{:?}",
        env.xenctrl_log()
    );
    let trace = read_trace(&env.path("vm.trace.yaml")).unwrap();
    assert_eq!(trace.header.backend, "xen");
    assert_eq!(trace.header.method.name, "xen-logdirty");
    assert!(trace.header.method.exact);
    assert_eq!(trace.epochs.len() as usize, cleans);
    // The fake dirties frames 37k..37k+99 at CLEAN k: each epoch is exactly 100 frames, and
    // two consecutive epochs overlap in 63, so every 50 ms window holds 137, 100 ms 211.
    for e in &trace.epochs {
        assert_eq!(e.dirty_pages, 100, "{e:?}");
        for w in &e.windows {
            let want = match w.interval_ms {
                25 => 100,
                50 => 137,
                100 => 211,
                _ => unreachable!(),
            };
            assert_eq!(w.dirty_pages, want, "{e:?}");
        }
    }
    // Dom-0's CPU is in the trace, every epoch, at the fake hypervisor's half core; no save
    // helper ran. Nothing is written twice: there is no companion file any more.
    let (dom0_s, helper_s, seconds) = dom0_totals(&trace);
    assert_eq!(helper_s, None);
    assert!(
        (dom0_s / seconds - 0.5).abs() < 0.05,
        "{dom0_s} s in {seconds} s"
    );
    assert!(!env.path("vm.xen.yaml").exists());
    // Dom-0's vCPUs, as the hypervisor reports them, to compare its load with.
    assert_eq!(trace.header.host.dom0_vcpus, Some(1));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mean = summary["dom0"]["cores"]["mean"].as_f64().unwrap();
    assert!((mean - 0.5).abs() < 0.05, "{summary}");
    assert!(summary["dom0"].get("save_helper_cores").is_none());
    // The model adds that baseline to the checkpoints' Dom-0 cost; per page it has only the
    // profile, since no save helper ran.
    let model = model_json(&env);
    assert_eq!(model["dom0"]["source"], "profile", "{model}");
    let baseline = model["dom0"]["baseline_cores"].as_f64().unwrap();
    assert!((baseline - 0.5).abs() < 0.05, "{model}");
    for i in model["intervals"].as_array().unwrap() {
        let total = i["dom0_cpu_total"].as_f64().unwrap();
        let own = i["dom0_cpu"].as_f64().unwrap();
        assert!((total - baseline - own).abs() < 1e-9, "{i}");
    }
    // Half a core fits Dom-0's one vCPU: no warning about Dom-0 being short of CPUs.
    let warnings = model["warnings"].to_string();
    assert!(!warnings.contains("Dom-0 has"), "{warnings}");
}

/// `remus-tune model vm.trace.yaml --format json`, which must succeed.
fn model_json(env: &XenEnv) -> serde_json::Value {
    let out = env
        .cmd()
        .args(["model", "vm.trace.yaml", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Over the trace's epochs: Dom-0's CPU seconds, the save helper's, and the seconds; every
/// Xen epoch must have Dom-0's figures.
fn dom0_totals(trace: &remus_tune::trace::Trace) -> (f64, Option<f64>, f64) {
    let (mut dom0, mut helper, mut seconds) = (0.0, None, 0.0);
    for e in &trace.epochs {
        let d = e.dom0.expect("every Xen epoch has Dom-0's CPU");
        dom0 += d.cpu_s;
        if let Some(h) = d.save_helper_s {
            helper = Some(helper.unwrap_or(0.0) + h);
        }
        seconds += e.end_s - e.start_s;
    }
    (dom0, helper, seconds)
}

/// A real process that burns CPU, killed when dropped: the save helper's CPU is read from
/// the kernel for its PID, so the stand-in /proc entry must name a live process.
struct BusyProcess(std::process::Child);

impl BusyProcess {
    fn start() -> Self {
        Self(
            std::process::Command::new("sh")
                .args(["-c", "while :; do :; done"])
                .spawn()
                .unwrap(),
        )
    }
}

impl Drop for BusyProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn disk_writes_come_from_blkback_and_survive_a_counter_reset() {
    let env = XenEnv::new();
    env.set_vbd(1000, 80_000);
    let child = spawn_measure(&env, "1500ms");
    std::thread::sleep(Duration::from_millis(500));
    env.set_vbd(1010, 80_800); // +10 requests, +800 sectors
    std::thread::sleep(Duration::from_millis(300));
    env.set_vbd(4, 40); // the frontend reconnected: counters restart
    std::thread::sleep(Duration::from_millis(300));
    env.set_vbd(6, 56);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let trace = read_trace(&env.path("vm.trace.yaml")).unwrap();
    let bytes: u64 = trace.epochs.iter().map(|e| e.write_bytes).sum();
    let reqs: u64 = trace.epochs.iter().map(|e| e.syscw).sum();
    assert_eq!(reqs, 10 + 4 + 2, "{}", text(&out));
    assert_eq!(bytes, (800 + 40 + 16) * 512);
    assert!(text(&out).contains("restarted 1 time"), "{}", text(&out));
}

fn interrupted_run_switches_off(signal: i32, code: i32, reason: EndReason) {
    let env = XenEnv::new();
    let child = spawn_measure(&env, "60s");
    let t0 = Instant::now();
    while !calls(&env).iter().any(|c| c.starts_with("CLEAN")) {
        assert!(t0.elapsed() < Duration::from_secs(20), "never cleaned");
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: kill(2) has no memory-safety preconditions; the PID is our own unreaped child.
    unsafe { libc::kill(child.id() as i32, signal) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(code), "{}", text(&out));
    let calls = calls(&env);
    assert_eq!(calls.last().map(String::as_str), Some("OFF"), "{calls:?}");
    assert_eq!(calls.iter().filter(|c| *c == "OFF").count(), 1);
    let trace = read_trace(&env.path("vm.trace.yaml")).unwrap();
    assert_eq!(trace.end.reason, reason);
}

#[test]
fn ctrl_c_switches_log_dirty_off() {
    interrupted_run_switches_off(libc::SIGINT, 130, EndReason::Interrupted);
}

#[test]
fn sigterm_switches_log_dirty_off() {
    interrupted_run_switches_off(libc::SIGTERM, 143, EndReason::Terminated);
}

#[test]
fn log_dirty_already_on_cleans_nothing_and_offers_observe() {
    let env = XenEnv::new();
    let einval = libc::EINVAL.to_string();
    let out = measure(
        &env,
        &[("FAKE_XENCTRL_ENABLE_ERRNO", &einval)],
        &[
            "Meine-VM",
            "--backend",
            "xen",
            "--duration",
            "1s",
            "-o",
            "vm.trace.yaml",
        ],
    );
    assert_fails_saying(&out, 1, &["already on", "--observe"]);
    assert_eq!(calls(&env), vec!["ENABLE errno=22"]);
}

#[test]
fn pv_guest_without_shadow_paging_is_explained() {
    // The recorded guest (xl-list-l-pv.json) is PV, as in the lab where Debian's Xen 4.17
    // answered 95 (EOPNOTSUPP) to ENABLE.
    let env = XenEnv::new();
    let eopnotsupp = libc::EOPNOTSUPP.to_string();
    let out = measure(
        &env,
        &[("FAKE_XENCTRL_ENABLE_ERRNO", &eopnotsupp)],
        &["Meine-VM", "--backend", "xen", "--duration", "1s"],
    );
    assert_fails_saying(
        &out,
        1,
        &["PV guest", "shadow paging", "Neither remus-tune nor Remus"],
    );
    assert_eq!(calls(&env), vec!["ENABLE errno=95"]);
}

#[test]
fn observe_mode_only_peeks_stats() {
    let env = XenEnv::new();
    let out = measure(
        &env,
        &[("FAKE_XENCTRL_PEEK", "0")],
        &[
            "Meine-VM",
            "--observe",
            "--duration",
            "300ms",
            "-o",
            "vm.trace.yaml",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let calls = calls(&env);
    assert!(!calls.is_empty());
    assert!(
        calls.iter().all(|c| c == "PEEK pages=0 bitmap=null"),
        "{calls:?}"
    );
    let trace = read_trace(&env.path("vm.trace.yaml")).unwrap();
    assert_eq!(trace.header.method.name, "xen-peek-stats");
    assert!(!trace.header.method.exact);
    assert!(trace.header.method.reason.contains("COUNT, not a set"));
    assert!(text(&out).contains("unknown, not idle"), "{}", text(&out));
    // Counts cannot be unioned: only the base epoch (25 ms by default) is reported.
    assert_eq!(trace.header.intervals_ms, vec![25]);
    assert!(
        text(&out).contains("only the base-epoch interval"),
        "{}",
        text(&out)
    );
}

#[test]
fn remus_running_switches_to_observe_by_itself() {
    let env = XenEnv::new();
    let helper = BusyProcess::start();
    env.add_save_helper(helper.0.id(), 1, 1);
    // Remus's dirty_count grows by 500 frames per epoch, its CLEAN every 4th.
    let out = measure(
        &env,
        &[
            ("FAKE_XENCTRL_PEEK", "300"),
            ("FAKE_XENCTRL_PEEK_GROW", "500"),
        ],
        &["Meine-VM", "--duration", "500ms", "-o", "vm.trace.yaml"],
    );
    drop(helper);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("Remus is running on domain 1"),
        "{}",
        text(&out)
    );
    let calls = calls(&env);
    assert!(
        calls.iter().all(|c| c == "PEEK pages=0 bitmap=null"),
        "{calls:?}"
    );
    // The helper's CPU, from its first epoch on (its CPU before the run is the baseline),
    // and never more than the one core its one thread can use.
    let trace = read_trace(&env.path("vm.trace.yaml")).unwrap();
    let (_, helper_s, seconds) = dom0_totals(&trace);
    assert!(
        trace
            .epochs
            .iter()
            .all(|e| e.dom0.and_then(|d| d.save_helper_s).is_some()),
        "the helper ran throughout"
    );
    let helper_s = helper_s.unwrap();
    assert!(
        helper_s > 0.0 && helper_s < seconds * 1.1,
        "{helper_s} s in {seconds} s"
    );
    assert!(text(&out).contains("save helper"), "{}", text(&out));
    // Remus's checkpoints as its own counter showed them: the last count before each drop.
    let check = trace
        .end
        .cross_check
        .expect("observe mode keeps Remus's counts");
    assert_eq!(check.status, "done");
    assert!(check.note.contains("max 1800"), "{}", check.note);
    // The model calibrates its per-page Dom-0 cost on the helper: 500 pages an epoch.
    let model = model_json(&env);
    assert_eq!(model["dom0"]["source"], "save-helper", "{model}");
    assert!(model["dom0"]["cpu_per_page_s"].as_f64().unwrap() > 0.0);
}

#[test]
fn a_plain_save_in_progress_is_refused() {
    let env = XenEnv::new();
    env.add_save_helper(150, 1, 0);
    let out = measure(&env, &[], &["Meine-VM", "--duration", "300ms"]);
    assert_fails_saying(&out, 1, &["a save or live migration is running"]);
    assert!(calls(&env).is_empty());
}

#[test]
fn a_save_helper_appearing_mid_run_stops_cleaning_and_never_calls_off() {
    let env = XenEnv::new();
    let child = spawn_measure(&env, "30s");
    let t0 = Instant::now();
    while calls(&env)
        .iter()
        .filter(|c| c.starts_with("CLEAN"))
        .count()
        < 3
    {
        assert!(t0.elapsed() < Duration::from_secs(20), "never cleaned");
        std::thread::sleep(Duration::from_millis(20));
    }
    env.add_save_helper(140, 1, 1);
    let cleans_then = calls(&env)
        .iter()
        .filter(|c| c.starts_with("CLEAN"))
        .count();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let calls = calls(&env);
    assert!(
        !calls.contains(&"OFF".to_string()),
        "OFF under Remus: {calls:?}"
    );
    // At most the CLEAN already under way when the helper appeared.
    let cleans = calls.iter().filter(|c| c.starts_with("CLEAN")).count();
    assert!(cleans <= cleans_then + 1, "{cleans} > {cleans_then} + 1");
    assert!(
        text(&out).contains("Remus started on this domain"),
        "{}",
        text(&out)
    );
    let trace = read_trace(&env.path("vm.trace.yaml")).unwrap();
    assert_eq!(trace.end.reason, EndReason::Error);
    assert!(
        trace.end.message.contains("not switched off"),
        "{}",
        trace.end.message
    );
}

#[test]
fn dom0_is_not_measured() {
    let env = XenEnv::new();
    let out = measure(
        &env,
        &[],
        &["--backend", "xen", "Domain-0", "--duration", "1s"],
    );
    assert_fails_saying(&out, 1, &["is Dom-0"]);
    assert!(calls(&env).is_empty());
}

#[test]
fn xen_older_than_4_16_is_refused() {
    let env = XenEnv::new();
    let info = xen_env::fixtures().join("synthetic-xl-info-xen-4.15.txt");
    let out = measure(
        &env,
        &[("FAKE_XEN_INFO", info.to_str().unwrap())],
        MEINE_VM_1S,
    );
    assert_fails_saying(&out, 1, &["Xen 4.15", "4.16 or later"]);
    assert!(calls(&env).is_empty());
}

#[test]
fn the_remus_backup_copy_is_named_for_what_it_is() {
    let env = XenEnv::new();
    let vcpus = xen_env::fixtures().join("synthetic-vcpu-list-remus-backup.txt");
    let out = measure(
        &env,
        &[("FAKE_XEN_VCPU_LIST", vcpus.to_str().unwrap())],
        &["--backend", "xen", "Backup-VM", "--duration", "1s"],
    );
    // xl's own words, verbatim, then what this host holds and what to do.
    assert_fails_saying(
        &out,
        1,
        &[
            "Can't get domid of domain name 'Backup-VM'",
            "Backup-VM--incoming",
            "Remus backup",
        ],
    );
    assert!(calls(&env).is_empty());
}
