//! `remus-tune topology`, driven through the real binary.

use crate::pin_support;
use pin_support::cli as run;

#[test]
fn saved_xl_info_n_as_a_table() {
    let (code, out, err) = run(&["topology", "--topology", "tests/fixtures/xen/xl-info-n.txt"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("2 CPUs, 2 cores, 1 socket(s), 1 NUMA node(s), 1 thread(s) per core"),
        "{out}"
    );
    assert!(out.contains("xl info -n"), "{out}");
}

#[test]
fn hwloc_xml_as_yaml_and_json() {
    let (code, out, err) = run(&[
        "topology",
        "--topology",
        "tests/fixtures/topologies/hwloc-2pkg-2numa-smt.xml",
        "--format",
        "yaml",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = yaml_serde::from_str(&out).unwrap();
    assert_eq!(v["cpus"].as_array().unwrap().len(), 16);
    assert_eq!(v["nodes"].as_array().unwrap().len(), 2);
    assert_eq!(v["nodes"][1]["cpus"], "8-15");
    // SMT siblings share a core: CPUs 0 and 1.
    assert_eq!(v["cpus"][0]["core"], v["cpus"][1]["core"]);
    assert_ne!(v["cpus"][1]["core"], v["cpus"][2]["core"]);
    let (code, out, _) = run(&[
        "topology",
        "--topology",
        "tests/fixtures/topologies/hwloc-4pkg-4numa-256cpu.xml",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["cpus"].as_array().unwrap().len(), 256);
    assert_eq!(v["cpus"][255]["l3"], 7);
}

#[test]
fn siblings_numbered_apart_show_as_one_core() {
    let (code, out, _) = run(&[
        "topology",
        "--topology",
        "tests/fixtures/topologies/xl-info-n-2socket-smt-apart.txt",
    ]);
    assert_eq!(code, 0);
    assert!(
        out.contains("16 CPUs, 8 cores, 2 socket(s), 2 NUMA node(s), 2 thread(s) per core"),
        "{out}"
    );
    assert!(out.lines().any(|l| l.trim_end().ends_with(" 0,8")), "{out}");
}

#[test]
fn live_host_via_sysfs() {
    let (code, out, err) = run(&["topology", "--source", "sysfs"]);
    assert_eq!(code, 0, "{err}");
    let cpus = std::thread::available_parallelism().unwrap().get();
    assert!(out.starts_with(&format!("{cpus} CPUs")), "{out}");
}

#[test]
fn errors_say_what_to_do() {
    let (code, _, err) = run(&["topology", "--topology", "Cargo.toml"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("neither a saved `xl info -n` output nor hwloc XML"),
        "{err}"
    );
    let (code, _, err) = run(&["topology", "--topology", "/nonexistent"]);
    assert_eq!(code, 1);
    assert!(err.contains("cannot read /nonexistent"), "{err}");
    let (code, _, err) = run(&["topology", "--source", "xen"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("REMUS_TUNE_XL") && err.contains("--topology FILE"),
        "{err}"
    );
    assert!(!err.contains("panicked"));
}
