//! `remus-tune advise DOMAIN` on a Xen host goes through the one backend factory to the Xen
//! backend, as `measure` does: the stand-in `xl` (tests/support/fake-xen-xl) knows Meine-VM,
//! and the fake libxenctrl (tests/support/fake-libxenctrl.c) logs every log-dirty call.

use crate::xen_env;

use remus_tune::trace::read_trace;
use xen_env::XenEnv;

#[test]
fn advise_on_a_xen_domain_runs_the_xen_backend() {
    let env = XenEnv::new();
    let out = env
        .cmd_with_lib()
        .args(["advise", "Meine-VM", "--duration", "500ms"])
        .args(["-o", "vm.trace.yaml", "--format", "json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("backend xen: Xen domain Meine-VM (domid 1"),
        "{stderr}"
    );
    // The live placement, as `measure` prints it.
    assert!(
        stderr.contains("Meine-VM vCPU 0: on pCPU 1, affinity 1 / all"),
        "{stderr}"
    );
    // Log-dirty went on, was cleaned once per base epoch, and went off exactly once.
    let calls: Vec<String> = env
        .xenctrl_log()
        .into_iter()
        .filter(|l| !l.starts_with("ALLOC") && !l.starts_with("FREE"))
        .collect();
    assert_eq!(
        calls.first().map(String::as_str),
        Some("ENABLE"),
        "{calls:?}"
    );
    assert_eq!(calls.last().map(String::as_str), Some("OFF"), "{calls:?}");
    let cleans = calls.iter().filter(|c| *c == "CLEAN pages=8192").count();
    assert_eq!(cleans + 2, calls.len(), "{calls:?}");

    let trace = read_trace(&env.path("vm.trace.yaml")).unwrap();
    assert_eq!(trace.header.backend, "xen");
    assert_eq!(trace.header.method.name, "xen-logdirty");
    assert_eq!(trace.epochs.len(), cleans);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["summary"]["backend"], "xen", "{report}");
    assert!(env.path("vm.report.html").exists());
}

#[test]
fn advise_on_a_xen_domain_without_libxenctrl_says_no_xen_here() {
    // The stand-in `xl` knows the domain; the library is not there: exit 69, as `measure`.
    let env = XenEnv::new();
    let out = env
        .cmd()
        .env(
            "REMUS_TUNE_LIBXENCTRL",
            env.path("nowhere/libxenctrl.so.4.17"),
        )
        .args(["advise", "Meine-VM", "--duration", "500ms"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(69), "{stderr}");
    assert!(
        stderr.contains("no Xen here") && stderr.contains("not installed"),
        "{stderr}"
    );
    assert!(env.xenctrl_log().is_empty());
}
