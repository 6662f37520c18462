//! Pins that survive a reboot or a migration (issue 15): libvirt's `<cputune>` checked against
//! libvirt's own schema with `virt-xml-validate`, and the systemd and tuned settings that keep
//! the host's own work off the protected cores. Driven through the real binary.

use crate::pin_support;
use pin_support::cli;

use std::path::Path;
use std::process::Command;

const HWLOC: &str = "tests/fixtures/topologies/hwloc-2pkg-2numa-smt.xml";

/// Each `<cputune>…</cputune>` block of the output.
fn cputune_blocks(xml: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find("<cputune>") {
        let end = rest[start..].find("</cputune>").expect("closed") + start + "</cputune>".len();
        out.push(rest[start..end].to_string());
        rest = &rest[end..];
    }
    out
}

/// `<cputune>` alone is not a domain: embed it in the smallest domain libvirt's schema
/// accepts (with IOThreads, so an iothreadpin has one to name) and validate that.
fn validate(dir: &Path, name: &str, cputune: &str) -> (bool, String) {
    let domain = format!(
        "<domain type='kvm'>\n  <name>{name}</name>\n  <memory unit='KiB'>1048576</memory>\n  <vcpu placement='static'>4</vcpu>\n  <iothreads>2</iothreads>\n  {cputune}\n  <os>\n    <type arch='x86_64'>hvm</type>\n  </os>\n</domain>\n"
    );
    let file = dir.join(format!("{name}.xml"));
    std::fs::write(&file, domain).unwrap();
    let out = Command::new("virt-xml-validate")
        .arg(&file)
        .arg("domain")
        .output()
        .expect("virt-xml-validate (Debian libvirt-clients, scripts/apt-packages.txt)");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn libvirt_xml_is_valid_against_libvirts_schema() {
    let dir = tempfile::tempdir().unwrap();
    let (code, xml, err) = cli(&[
        "pin",
        "--topology",
        HWLOC,
        "--domain",
        "web01=4",
        "--domain",
        "batch=2",
        "--protect",
        "web01",
        "--format",
        "libvirt-xml",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(xml.contains("<!-- web01 (protected):"), "{xml}");
    let blocks = cputune_blocks(&xml);
    assert_eq!(blocks.len(), 2, "one per guest, none for Dom-0: {xml}");
    // web01 gets 2 whole cores (4 CPUs); its emulator threads go on Dom-0's CPUs 0-1.
    assert!(
        blocks[0].contains("<vcpupin vcpu='3' cpuset='2-5'/>")
            && blocks[0].contains("<emulatorpin cpuset='0-1'/>"),
        "{}",
        blocks[0]
    );
    for (i, block) in blocks.iter().enumerate() {
        let (ok, said) = validate(dir.path(), &format!("guest{i}"), block);
        assert!(ok, "{block}\n{said}");
    }
    // The validator can say no: a vcpupin without its cpuset is not libvirt XML.
    let (ok, said) = validate(
        dir.path(),
        "broken",
        "<cputune><vcpupin vcpu='0'/></cputune>",
    );
    assert!(!ok, "{said}");
}

#[test]
fn libvirt_xml_pins_the_iothreads_virsh_lists() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("pins"),
        "web01|0|0-15\nweb01|*|0-15\nweb01|io1|0-15\nweb01|io2|0-15\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_remus-tune"))
        .args(["pin", "--libvirt", "web01", "--format", "libvirt-xml"])
        .env(
            "REMUS_TUNE_VIRSH",
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/fake-virsh"),
        )
        .env("FAKE_VIRSH_DIR", dir.path())
        .output()
        .unwrap();
    let xml = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let blocks = cputune_blocks(&xml);
    assert_eq!(blocks.len(), 1, "{xml}");
    assert!(
        blocks[0].contains("<iothreadpin iothread='1' cpuset=")
            && blocks[0].contains("<iothreadpin iothread='2' cpuset="),
        "{xml}"
    );
    let (ok, said) = validate(dir.path(), "web01", &blocks[0]);
    assert!(ok, "{}\n{said}", blocks[0]);
}

#[test]
fn a_domain_name_cannot_break_the_xml_comment() {
    let dir = tempfile::tempdir().unwrap();
    let (code, xml, err) = cli(&[
        "pin",
        "--topology",
        HWLOC,
        "--domain",
        "vm--incoming=1",
        "--format",
        "libvirt-xml",
    ]);
    assert_eq!(code, 0, "{err}");
    let comment = xml.lines().find(|l| l.starts_with("<!--")).unwrap();
    assert!(!comment[4..comment.len() - 3].contains("--"), "{comment}");
    let (ok, said) = validate(dir.path(), "incoming", &cputune_blocks(&xml)[0]);
    assert!(ok, "{said}");
}

/// A child to plan for as a plain process.
struct Sleeper(std::process::Child);

impl Drop for Sleeper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn systemd_keeps_the_host_off_the_protected_cores() {
    // A plain process: CPUAffinity= in a system.conf drop-in (AllowedCPUs= on system.slice
    // would confine a protected service too). The script runs under ROOT= for the test.
    let sleeper = Sleeper(Command::new("sleep").arg("60").spawn().unwrap());
    let pid = sleeper.0.id().to_string();
    let (code, script, err) = cli(&["pin", "--pid", &pid, "--format", "systemd"]);
    assert!(code == 0 || code == 6, "{err}");
    assert!(script.starts_with("#!/bin/sh\n"), "{script}");
    let (code, yaml, _) = cli(&["pin", "--pid", &pid, "--format", "yaml"]);
    assert!(code == 0 || code == 6);
    let plan: serde_json::Value = yaml_serde::from_str(&yaml).unwrap();
    let host = plan["placements"][0]["cpus"].as_str().unwrap().to_string();
    assert_eq!(plan["placements"][0]["domain"], "host");
    let root = tempfile::tempdir().unwrap();
    let ran = Command::new("sh")
        .arg("-c")
        .arg(&script)
        .env("ROOT", root.path())
        .output()
        .unwrap();
    assert!(
        ran.status.success(),
        "{}",
        String::from_utf8_lossy(&ran.stderr)
    );
    let drop_in = std::fs::read_to_string(
        root.path()
            .join("etc/systemd/system.conf.d/50-remus-tune.conf"),
    )
    .unwrap();
    assert_eq!(drop_in, format!("[Manager]\nCPUAffinity={host}\n"));

    // libvirt guests live in machine.slice: the host's slices get AllowedCPUs=.
    let (code, script, err) = cli(&[
        "pin",
        "--topology",
        HWLOC,
        "--domain",
        "web01=2",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(script.contains("\"target\": \"xen\""));
    // A Xen plan is refused: Dom-0's systemd sees only Dom-0's vCPUs.
    let (code, _, err) = cli(&[
        "pin",
        "--topology",
        HWLOC,
        "--domain",
        "web01=2",
        "--format",
        "systemd",
    ]);
    assert_eq!(code, 1);
    assert!(
        err.contains("only Dom-0's virtual CPUs") && err.contains("--format boot"),
        "{err}"
    );
}

#[test]
fn systemd_for_libvirt_guests_confines_the_hosts_slices() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pins"), "web01|0|0-15\nweb01|*|0-15\n").unwrap();
    let run = |format: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_remus-tune"))
            .args(["pin", "--libvirt", "web01", "--format", format])
            .env(
                "REMUS_TUNE_VIRSH",
                Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/fake-virsh"),
            )
            .env("FAKE_VIRSH_DIR", dir.path())
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let plan: serde_json::Value = serde_json::from_str(&run("json")).unwrap();
    let host = plan["placements"][0]["cpus"].as_str().unwrap().to_string();
    let guest = plan["placements"][1]["cpus"].as_str().unwrap().to_string();
    let script = run("systemd");
    for unit in ["system.slice", "user.slice", "init.scope"] {
        assert!(
            script.contains(&format!(
                "\nsystemctl set-property {unit} AllowedCPUs={host}\n"
            )),
            "{script}"
        );
    }
    assert!(!script.contains("machine.slice AllowedCPUs"), "{script}");
    let syntax = Command::new("sh")
        .args(["-n", "-c", &script])
        .status()
        .unwrap();
    assert!(syntax.success());
    // tuned isolates the guests' CPUs, the complement of the host's.
    let tuned = run("tuned");
    assert!(
        tuned.contains(&format!("\nisolated_cores={guest}\n")),
        "{tuned}"
    );
    assert!(
        tuned.contains("/etc/tuned/cpu-partitioning-variables.conf"),
        "{tuned}"
    );
}
