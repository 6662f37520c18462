//! Pinning a real QEMU VM: its vCPU threads (from QMP `query-cpus-fast`) go on the VM's CPUs,
//! its other threads on the host's; then revert. QEMU runs paused (-S) under TCG with one
//! thread per vCPU, so no KVM is needed. Needs qemu-system-x86 (scripts/apt-packages.txt).

use crate::pin_support;
use pin_support::cli;

use remus_tune::cpulist::CpuList;
use remus_tune::pin::apply::affinity::{threads, Kernel, ThreadAffinity};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Qemu {
    child: Child,
    socket: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Qemu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_qemu() -> Option<Qemu> {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("qmp.sock");
    let child = Command::new("qemu-system-x86_64")
        .args([
            "-M",
            "pc",
            "-accel",
            "tcg,thread=multi",
            "-smp",
            "2",
            "-m",
            "64",
            "-nodefaults",
            "-display",
            "none",
            "-S",
        ])
        .args(["-name", "pin-test,debug-threads=on", "-qmp"])
        .arg(format!("unix:{},server=on,wait=off", socket.display()))
        .stdin(Stdio::null())
        .spawn();
    let Ok(child) = child else {
        eprintln!("skipped: qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)");
        return None;
    };
    let start = Instant::now();
    while !socket.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "QEMU did not open its QMP socket"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Some(Qemu {
        child,
        socket,
        _dir: dir,
    })
}

#[test]
fn qemu_vcpu_threads_and_emulator_threads_are_pinned_apart_and_reverted() {
    let mine = Kernel.get(std::process::id(), std::process::id()).unwrap();
    if mine.len() < 2 {
        eprintln!("skipped: needs 2 CPUs");
        return;
    }
    let Some(qemu) = start_qemu() else { return };
    let pid = qemu.child.id();
    let socket = qemu.socket.to_str().unwrap();
    let vcpus = remus_tune::pin::apply::qmp::query_vcpus(&qemu.socket).unwrap();
    assert_eq!(vcpus.len(), 2);
    let vcpu_tids: Vec<u32> = vcpus.iter().map(|v| v.thread_id).collect();
    let affinities = || -> Vec<(u32, CpuList)> {
        threads(pid)
            .unwrap()
            .into_iter()
            .filter_map(|t| Kernel.get(pid, t).ok().map(|c| (t, c)))
            .collect()
    };
    let before = affinities();

    // This machine's topology: on 2 CPUs the 2-vCPU VM gets one core, a FAIL (exit 6) with
    // the plan still printed.
    let (code, out, err) = cli(&["pin", "--qmp", socket, "--format", "yaml"]);
    assert!(code == 0 || (code == 6 && err.contains("FAIL")), "{err}");
    let plan: serde_json::Value = yaml_serde::from_str(&out).unwrap();
    let cpus_of = |name: &str| {
        let p = plan["placements"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["domain"] == name)
            .unwrap();
        CpuList::parse(p["cpus"].as_str().unwrap()).unwrap()
    };
    let (vm, host) = (cpus_of(&format!("pid:{pid}")), cpus_of("host"));
    assert!(vm.is_disjoint(&host));

    // The shell form says the same: all threads to the host, then each vCPU thread to the VM.
    let (code, shell, _) = cli(&["pin", "--qmp", socket, "--format", "shell"]);
    assert!(code == 0 || (code == 6 && shell.contains("# WARNING: THIS PLAN BREAKS")));
    assert!(
        shell.contains(&format!("taskset -a -p -c {host} {pid}\n")),
        "{shell}"
    );
    for tid in &vcpu_tids {
        assert!(
            shell.contains(&format!("taskset -p -c {vm} {tid}\n")),
            "{shell}"
        );
    }

    let journal = qemu._dir.path().join("journal.yaml");
    let (code, out, err) = cli(&[
        "pin",
        "--qmp",
        socket,
        "--apply",
        "--journal",
        journal.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    for (tid, cpus) in affinities() {
        let want = if vcpu_tids.contains(&tid) { &vm } else { &host };
        assert_eq!(&cpus, want, "thread {tid}");
    }
    let (code, out, _) = cli(&["pin", "--qmp", socket, "--check"]);
    assert_eq!(code, 0, "{out}");

    let (code, out, err) = cli(&["pin", "--revert", "--journal", journal.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(affinities(), before);
    assert!(!Path::new(&journal).exists());
}
