//! The QMP client, peer lookup and error paths against a real QEMU (TCG) booting the test guest.

use crate::qemu_support;

use std::os::unix::net::UnixListener;
use std::time::{Duration, Instant};

use qemu_support::{qemu_or_skip, Guest, GuestOptions};
use remus_tune::backend::qemu::peer::{peer_pid, socket_for_pid};
use remus_tune::backend::qemu::qmp::{Qmp, QmpError};
use remus_tune::backend::qemu::{QemuBackend, QemuOptions, QemuTarget};
use remus_tune::backend::{Backend, BackendError};

#[test]
fn greeting_capabilities_commands_and_errors() {
    if !qemu_or_skip("greeting_capabilities_commands_and_errors") {
        return;
    }
    let guest = Guest::start(GuestOptions::idle());
    eprintln!(
        "guest booted in {:.0} ms: {}",
        guest.boot_time.as_secs_f64() * 1e3,
        guest.ready_line
    );
    let mut qmp = Qmp::connect(&guest.qmp[0], Duration::from_secs(5)).unwrap();
    let v = qmp.greeting().version;
    assert!(v.at_least(5, 2), "QEMU {v} is too old for these tests");
    assert!(qmp.greeting().capabilities.iter().any(|c| c == "oob"));
    // Capabilities were negotiated: a real command works.
    let status = qmp.execute("query-status", None).unwrap();
    assert_eq!(status["running"], true);
    // The peer of the socket is the QEMU we started.
    assert_eq!(peer_pid(qmp.stream()).unwrap(), guest.pid());
    // QEMU's own error text reaches the user.
    let err = qmp.execute("no-such-command", None).unwrap_err();
    assert!(matches!(err, QmpError::Command { .. }));
    assert!(
        err.to_string()
            .contains("The command no-such-command has not been found"),
        "{err}"
    );
    let err = qmp
        .execute(
            "qom-get",
            Some(serde_json::json!({"path": "/nope", "property": "type"})),
        )
        .unwrap_err();
    eprintln!("qom-get on a missing path: {err}");
    assert!(err.to_string().contains("/nope"), "{err}");
    // Events: stop and cont give STOP and RESUME.
    qmp.execute("stop", None).unwrap();
    qmp.execute("cont", None).unwrap();
    let mut names = Vec::new();
    while let Some(e) = qmp.next_event(Duration::from_millis(500)).unwrap() {
        names.push(e.name);
    }
    assert!(
        names.contains(&"STOP".to_string()) && names.contains(&"RESUME".to_string()),
        "{names:?}"
    );
}

#[test]
fn second_client_times_out_with_an_explanation() {
    if !qemu_or_skip("second_client_times_out_with_an_explanation") {
        return;
    }
    let guest = Guest::start(GuestOptions::idle());
    let _first = Qmp::connect(&guest.qmp[0], Duration::from_secs(5)).unwrap();
    let started = Instant::now();
    let err = Qmp::connect(&guest.qmp[0], Duration::from_millis(500)).unwrap_err();
    assert!(matches!(err, QmpError::Timeout { .. }), "{err}");
    assert!(err.to_string().contains("another client"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[test]
fn qemu_killed_mid_session_is_a_clear_error() {
    if !qemu_or_skip("qemu_killed_mid_session_is_a_clear_error") {
        return;
    }
    let mut guest = Guest::start(GuestOptions::idle());
    let mut qmp = Qmp::connect(&guest.qmp[0], Duration::from_secs(5)).unwrap();
    guest.kill();
    let err = qmp.execute("query-status", None).unwrap_err();
    assert!(err.is_gone(), "{err}");
    assert!(err.to_string().contains("exited or was killed"), "{err}");
}

#[test]
fn backend_reports_a_killed_qemu_as_gone() {
    if !qemu_or_skip("backend_reports_a_killed_qemu_as_gone") {
        return;
    }
    let mut guest = Guest::start(GuestOptions::with("mode=sweep rate=1000 pages=2048"));
    let options = QemuOptions {
        method: remus_tune::cli::MethodChoice::Hash,
        ..QemuOptions::default()
    };
    let mut backend =
        QemuBackend::connect(&QemuTarget::Socket(guest.qmp[0].clone()), &options).unwrap();
    backend.start().unwrap();
    backend.collect().unwrap();
    guest.kill();
    match backend.collect() {
        Err(BackendError::TargetGone(msg)) => {
            eprintln!("after kill: {msg}");
            assert!(msg.contains("exited"), "{msg}");
        }
        Err(e) => panic!("expected TargetGone, got {e}"),
        Ok(_) => panic!("collect succeeded on a dead QEMU"),
    }
    backend.stop().unwrap();
    backend.stop().unwrap();
}

#[test]
fn missing_socket_and_non_qmp_socket() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.sock");
    let err = Qmp::connect(&missing, Duration::from_secs(1)).unwrap_err();
    assert!(err.to_string().contains("is QEMU running?"), "{err}");
    let err = QemuTarget::resolve(missing.to_str().unwrap()).unwrap_err();
    assert!(err.to_string().contains("no QMP socket"), "{err}");
    // A socket nobody listens on any more.
    let stale = dir.path().join("stale.sock");
    drop(UnixListener::bind(&stale).unwrap());
    let err = Qmp::connect(&stale, Duration::from_secs(1)).unwrap_err();
    assert!(
        err.to_string().contains("left its socket file behind"),
        "{err}"
    );
    if !qemu_or_skip("missing_socket_and_non_qmp_socket (serial part)") {
        return;
    }
    // The guest's serial port on a Unix socket: a socket, but not QMP.
    let serial = dir.path().join("serial.sock");
    let mut cmd = std::process::Command::new(qemu_support::QEMU);
    cmd.args([
        "-M", "pc", "-display", "none", "-nic", "none", "-m", "64", "-kernel",
    ])
    .arg(qemu_support::guest_elf())
    .args(["-append", "mode=idle", "-serial"])
    .arg(format!("unix:{},server=on,wait=off", serial.display()));
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !serial.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(1500)); // let the guest print its stat line
    let err = Qmp::connect(&serial, Duration::from_secs(3)).unwrap_err();
    let _ = child.kill();
    let _ = child.wait();
    eprintln!("serial socket: {err}");
    assert!(
        matches!(err, QmpError::NotQmp { .. } | QmpError::Timeout { .. }),
        "{err}"
    );
}

#[test]
fn qemu_pid_leads_to_its_socket() {
    if !qemu_or_skip("qemu_pid_leads_to_its_socket") {
        return;
    }
    let guest = Guest::start(GuestOptions::idle());
    assert_eq!(socket_for_pid(guest.pid()).unwrap(), guest.qmp[0]);
    let (target, why) = QemuTarget::resolve(&guest.pid().to_string()).unwrap();
    assert_eq!(target, QemuTarget::Pid(guest.pid()));
    eprintln!("{why}");
    let (target, _) = QemuTarget::resolve(guest.qmp[0].to_str().unwrap()).unwrap();
    assert_eq!(target, QemuTarget::Socket(guest.qmp[0].clone()));
    // A process that is not QEMU.
    let err = socket_for_pid(std::process::id() as i32).unwrap_err();
    assert!(err.to_string().contains("not a QEMU"), "{err}");
    let err = QemuTarget::resolve(&std::process::id().to_string()).unwrap_err();
    assert!(
        err.to_string().contains("not the PID of a running QEMU"),
        "{err}"
    );
}

#[test]
fn libvirt_name_without_libvirt_says_what_to_give_instead() {
    let (target, why) = QemuTarget::resolve("web01").unwrap();
    assert_eq!(target, QemuTarget::Libvirt("web01".into()));
    eprintln!("{why}");
    if remus_tune::backend::qemu::libvirt::virsh_available() {
        eprintln!("*** virsh is installed: the no-libvirt message is not checked here ***");
        return;
    }
    let err = QemuBackend::connect(&target, &QemuOptions::default())
        .err()
        .expect("no libvirt here");
    eprintln!("{err:#}");
    assert!(
        err.to_string().contains("libvirt is not installed"),
        "{err}"
    );
    assert!(err.to_string().contains("QMP socket path"), "{err}");
}

#[test]
fn xen_style_sockets_libxl_refused_libxenstat_per_query() {
    if !qemu_or_skip("xen_style_sockets_libxl_refused_libxenstat_per_query") {
        return;
    }
    // A QEMU with the two monitors of a Xen device model (names as libxl gives them).
    let guest = Guest::start(GuestOptions {
        qmp_names: vec!["qmp-libxl-7".into(), "qmp-libxenstat-7".into()],
        ..GuestOptions::with("mode=sweep rate=1000 pages=1024")
    });
    let err = QemuBackend::connect(
        &QemuTarget::Socket(guest.qmp[0].clone()),
        &QemuOptions::default(),
    )
    .err()
    .expect("libxl socket must be refused");
    eprintln!("{err}");
    assert!(
        err.to_string().contains("never") || err.to_string().contains("refusing"),
        "{err}"
    );
    // From the PID, the libxenstat one is chosen.
    assert_eq!(socket_for_pid(guest.pid()).unwrap(), guest.qmp[1]);
    let options = QemuOptions {
        method: remus_tune::cli::MethodChoice::Hash,
        cross_check: false,
        ..QemuOptions::default()
    };
    let mut backend = QemuBackend::connect(&QemuTarget::Pid(guest.pid()), &options).unwrap();
    backend.start().unwrap();
    // Between queries the monitor is free: another client gets a greeting at once.
    let other = Qmp::connect(&guest.qmp[1], Duration::from_secs(2)).unwrap();
    drop(other);
    backend.collect().unwrap();
    // And nobody ever held the libxl socket: the test's own client gets its answer at once.
    let reply = qemu_support::raw_qmp(&guest.qmp[0], "query-status");
    assert!(reply.contains("\"return\""), "{reply}");
}

#[test]
fn a_frozen_qemu_times_out_instead_of_hanging() {
    if !qemu_or_skip("a_frozen_qemu_times_out_instead_of_hanging") {
        return;
    }
    let guest = Guest::start(GuestOptions::idle());
    let mut qmp = Qmp::connect(&guest.qmp[0], Duration::from_secs(5)).unwrap();
    qmp.set_timeout(Duration::from_millis(400));
    // SAFETY: signals to the QEMU child this test started.
    unsafe { libc::kill(guest.pid(), libc::SIGSTOP) };
    let started = Instant::now();
    let err = qmp.execute("query-status", None).unwrap_err();
    let waited = started.elapsed();
    // SAFETY: as above.
    unsafe { libc::kill(guest.pid(), libc::SIGCONT) };
    eprintln!("frozen QEMU: {err} after {waited:?}");
    assert!(matches!(err, QmpError::Timeout { .. }), "{err}");
    assert!(err.to_string().contains("SIGSTOP"), "{err}");
    assert!(waited < Duration::from_secs(2), "{waited:?}");
    // Once QEMU runs again, the late reply is skipped and the session goes on.
    qmp.set_timeout(Duration::from_secs(5));
    assert_eq!(qmp.execute("query-status", None).unwrap()["running"], true);
}
