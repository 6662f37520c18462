//! `remus-tune pin` offline (`--topology FILE --domain NAME=VCPUS`), every `--format`, and the
//! errors a user meets, driven through the real binary.

use crate::pin_support;
use pin_support::cli as run;

const APART: &str = "tests/fixtures/topologies/xl-info-n-2socket-smt-apart.txt";
const HWLOC: &str = "tests/fixtures/topologies/hwloc-2pkg-2numa-smt.xml";

fn offline(topology: &str, format: &str, extra: &[&str]) -> String {
    let mut args = vec![
        "pin",
        "--topology",
        topology,
        "--domain",
        "Domain-0=2",
        "--domain",
        "Meine-VM=4",
        "--domain",
        "web=2",
        "--protect",
        "Meine-VM",
        "--format",
        format,
    ];
    args.extend_from_slice(extra);
    let (code, out, err) = run(&args);
    assert_eq!(code, 0, "{err}");
    out
}

#[test]
fn yaml_plan_keeps_the_contract() {
    let out = offline(APART, "yaml", &[]);
    let v: serde_json::Value = yaml_serde::from_str(&out).unwrap();
    let a = v["assignments"].as_array().unwrap();
    let rows: Vec<String> = a
        .iter()
        .map(|x| {
            format!(
                "{} {} {} {}",
                x["domain"].as_str().unwrap(),
                x["vcpu"],
                x["hard"].as_str().unwrap(),
                x["soft"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            "Domain-0 0 0 0",
            "Domain-0 1 8 8",
            "Meine-VM \"all\" 1-2,9-10 1-2,9-10",
            "web \"all\" 3-7,11-15 3-7,11-15"
        ]
    );
    assert!(a[0]["vcpu"].is_u64(), "a vCPU number stays a number");
}

#[test]
fn shell_xl_cfg_and_boot_forms() {
    let shell = offline(APART, "shell", &[]);
    let cmds: Vec<&str> = shell.lines().filter(|l| l.starts_with("xl ")).collect();
    assert_eq!(
        cmds,
        [
            "xl vcpu-pin Domain-0 0 0 0",
            "xl vcpu-pin Domain-0 1 8 8",
            "xl vcpu-pin Meine-VM all 1-2,9-10 1-2,9-10",
            "xl vcpu-pin web all 3-7,11-15 3-7,11-15"
        ]
    );
    let cfg = offline(APART, "xl-cfg", &[]);
    assert!(
        cfg.contains("# Meine-VM (protected)")
            && cfg.contains("cpus = \"1-2,9-10\"\ncpus_soft = \"1-2,9-10\"\n"),
        "{cfg}"
    );
    // Siblings numbered apart: the boot line gives only the vCPU count, and says why.
    let boot = offline(APART, "boot", &[]);
    assert!(boot.trim_end().ends_with("\ndom0_max_vcpus=2"), "{boot}");
    assert!(boot.contains("not whole cores"), "{boot}");
    // Siblings adjacent (hwloc XML): dom0_vcpus_pin works.
    let boot = offline(HWLOC, "boot", &[]);
    assert!(
        boot.trim_end()
            .ends_with("\ndom0_max_vcpus=2 dom0_vcpus_pin"),
        "{boot}"
    );
}

#[test]
fn cpupool_strategy_in_shell_and_xl_cfg() {
    let shell = offline(HWLOC, "shell", &["--strategy", "cpupool"]);
    let cmds: Vec<&str> = shell.lines().filter(|l| l.starts_with("xl ")).collect();
    assert_eq!(
        cmds,
        [
            "xl vcpu-pin Domain-0 0 0 0",
            "xl vcpu-pin Domain-0 1 1 1",
            "xl vcpu-pin web all 6-15 6-15",
            "xl cpupool-cpu-remove Pool-0 2-5",
            "xl cpupool-create 'name=\"remus-tune\"' 'cpus=\"2-5\"'",
            "xl cpupool-migrate Meine-VM remus-tune",
            "xl vcpu-pin Meine-VM all 2-5 2-5",
        ]
    );
    let cfg = offline(HWLOC, "xl-cfg", &["--strategy", "cpupool"]);
    assert!(cfg.contains("pool = \"remus-tune\""), "{cfg}");
}

#[test]
fn text_explains_every_rule_and_changes_nothing() {
    let out = offline(APART, "text", &[]);
    assert!(
        out.contains("ok:   every protected vCPU has a CPU of its own"),
        "{out}"
    );
    assert!(out.contains("Dry run: nothing was changed"), "{out}");
    // A host too small for the request: the failing rule is named, the best plan printed.
    let (code, out, _) = run(&[
        "pin",
        "--topology",
        "tests/fixtures/xen/xl-info-n.txt",
        "--domain",
        "a=2",
        "--domain",
        "b=2",
        "--domain",
        "c=1",
    ]);
    assert_eq!(code, 6, "a plan with a FAIL exits 6, plan still printed");
    assert!(
        out.contains("FAIL: 3 protected VMs but only 1 core(s) free after Dom-0"),
        "{out}"
    );
}

/// Issue 14: a plan whose checks say FAIL exits 6 in every form, and the forms that are run
/// or installed as they are carry a loud warning in the output and on stderr.
#[test]
fn a_failing_plan_exits_6_and_its_scripts_say_so_loudly() {
    let small = [
        "pin",
        "--topology",
        "tests/fixtures/xen/xl-info-n.txt",
        "--domain",
        "a=2",
        "--domain",
        "b=2",
    ];
    let with = |format: &str| {
        let mut args = small.to_vec();
        args.extend(["--format", format]);
        run(&args)
    };
    let (code, out, err) = with("shell");
    assert_eq!(code, 6, "{err}");
    assert!(
        out.starts_with("#!/bin/sh\n# WARNING: THIS PLAN BREAKS"),
        "{out}"
    );
    assert!(
        out.contains("# FAIL: 2 protected VMs but only 1 core(s)"),
        "{out}"
    );
    assert!(
        out.contains("xl vcpu-pin a all"),
        "the plan is still printed: {out}"
    );
    assert!(
        err.contains("WARNING: this plan breaks") && err.contains("exit status 6"),
        "{err}"
    );
    for format in ["yaml", "json", "xl-cfg", "libvirt-xml"] {
        let (code, out, err) = with(format);
        assert_eq!(code, 6, "{format}: {err}");
        assert!(
            !out.is_empty() && err.contains("FAIL: 2 protected VMs"),
            "{format}: {err}"
        );
    }
    // A plan that holds exits 0, and an unmet `todo:` is not a FAIL.
    let (code, out, err) = run(&[
        "pin",
        "--topology",
        APART,
        "--domain",
        "Meine-VM=2",
        "--format",
        "shell",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("WARNING") && err.is_empty(), "{out}{err}");
}

/// Issue 12: the plan itself in JSON, the same value as YAML.
#[test]
fn json_plan_is_the_yaml_plan() {
    let json: serde_json::Value = serde_json::from_str(&offline(APART, "json", &[])).unwrap();
    let yaml: serde_json::Value = yaml_serde::from_str(&offline(APART, "yaml", &[])).unwrap();
    assert_eq!(json, yaml);
    assert_eq!(json["assignments"][2]["hard"], "1-2,9-10");
}

/// --apply/--check/--revert report in text, json or yaml only.
#[test]
fn a_plan_form_with_apply_is_a_usage_error() {
    let (code, _, err) = run(&["pin", "--check", "--format", "shell"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("report in --format text, json or yaml; `shell` is a form of the plan"),
        "{err}"
    );
}

#[test]
fn dom0_cpus_and_default_protection() {
    let (code, out, _) = run(&[
        "pin",
        "--topology",
        HWLOC,
        "--domain",
        "a=2",
        "--domain",
        "b=2",
        "--dom0-cpus",
        "3",
        "--format",
        "yaml",
    ]);
    assert_eq!(code, 0);
    let v: serde_json::Value = yaml_serde::from_str(&out).unwrap();
    let p = v["placements"].as_array().unwrap();
    assert_eq!(p[0]["cpus"], "0-3", "3 rounds up to 2 whole cores");
    assert!(
        p[1..].iter().all(|x| x["role"] == "protected"),
        "every declared Dom-U is protected by default"
    );
}

#[test]
fn usage_errors_say_what_to_do() {
    let (code, _, err) = run(&["pin", "--topology", HWLOC, "--domain", "vm"]);
    assert_eq!(code, 2);
    assert!(err.contains("is not NAME=VCPUS"), "{err}");
    let (code, _, err) = run(&["pin", "--topology", HWLOC, "--domain", "vm=0"]);
    assert_eq!(code, 2);
    assert!(err.contains("at least one vCPU"), "{err}");
    let (code, _, err) = run(&[
        "pin",
        "--topology",
        HWLOC,
        "--domain",
        "vm=2",
        "--protect",
        "other",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("no domain named `other`"), "{err}");
    let (code, _, err) = run(&["pin", "--topology", HWLOC, "--domain", "vm=2", "--apply"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("--apply and --check act on the live host"),
        "{err}"
    );
    let (code, _, err) = run(&["pin", "--apply", "--revert"]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = run(&["pin", "--revert", "--journal", "/nonexistent/j.yaml"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("cannot read the journal /nonexistent/j.yaml"),
        "{err}"
    );
    // No xl on this host and no --topology: say how to plan anyway.
    let (code, _, err) = run(&["pin"]);
    assert_eq!(code, 1);
    assert!(err.contains("--topology FILE"), "{err}");
}

#[test]
fn advise_gets_a_dry_run_plan_for_this_host() {
    // Not a Xen host (no /proc/xen): this host's own topology (sysfs), the host's side named `host`.
    if std::path::Path::new("/proc/xen/capabilities").exists() {
        return;
    }
    let text = remus_tune::commands::pin::host_plan_text().unwrap();
    assert!(
        text.starts_with("Pin plan (pin strategy) for sysfs (this host)"),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("host") && l.contains("host")),
        "{text}"
    );
    assert!(text.contains("Dry run: nothing was changed"), "{text}");
    let html = remus_tune::commands::pin::host_plan_html().unwrap();
    assert!(
        html.starts_with("<h2>Pin plan for this host (dry run)</h2>\n<pre>Pin plan"),
        "{html}"
    );
    assert!(
        !html[4..].contains("<h") || html.contains("</h2>"),
        "{html}"
    );
}
