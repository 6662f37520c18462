//! The `xl` parsers on outputs recorded on a real Xen 4.17 host (tests/fixtures/xen/, REAL
//! unless named synthetic-*) and on hand-built outputs in the formats of older Xen versions.

use remus_tune::xl::{
    parse_cpupool_list, parse_info, parse_list_long, parse_vcpu_list, Affinity, AffinityFormat,
};
use std::fs;

fn fixture(name: &str) -> String {
    fs::read_to_string(format!("tests/fixtures/xen/{name}")).unwrap()
}

#[test]
fn real_xl_info_n() {
    let info = parse_info(&fixture("xl-info-n.txt")).unwrap();
    assert_eq!(info.nr_cpus(), Some(2));
    assert_eq!(info.max_cpu_id(), Some(1));
    assert_eq!(info.threads_per_core(), Some(1));
    assert_eq!(info.xen_version(), Some("4.17.7"));
    assert_eq!(info.scheduler(), Some("credit2"));
    assert_eq!(
        info.xen_commandline(),
        Some("console=com1 com1=115200,8n1 dom0_mem=1536M dom0_max_vcpus=1 smap=0 smep=0")
    );
    assert_eq!(info.cpu_topology.len(), 2);
    assert_eq!(info.cpu_topology[1].core, Some(1));
    assert_eq!(info.numa_info.len(), 1);
    assert_eq!(info.numa_info[0].memsize_mib, 5120);
    assert_eq!(info.numa_info[0].distances, vec![10]);
    // `xen_caps` ends with a space in the real output; values are trimmed.
    assert_eq!(
        info.get("xen_caps"),
        Some("xen-3.0-x86_64 hvm-3.0-x86_32 hvm-3.0-x86_32p hvm-3.0-x86_64")
    );
}

#[test]
fn real_vcpu_list_before_and_after_pin() {
    let before = parse_vcpu_list(&fixture("xl-vcpu-list-before-pin.txt")).unwrap();
    assert_eq!(before.format, AffinityFormat::HardSoft);
    assert_eq!(before.rows.len(), 2);
    assert!(before
        .rows
        .iter()
        .all(|r| r.hard == Affinity::All && r.soft == Some(Affinity::All)));
    let after = parse_vcpu_list(&fixture("xl-vcpu-list-after-pin.txt")).unwrap();
    assert_eq!(after.find("Meine-VM", 0).unwrap().hard.to_string(), "1");
    assert_eq!(after.find("0", 0).unwrap().hard.to_string(), "0");
    assert_eq!(after.rows[1].time_s, 4.0);
    assert_eq!(
        after.domains(),
        vec![("Domain-0".into(), 0, 1), ("Meine-VM".into(), 1, 1)]
    );
}

#[test]
fn real_vcpu_list_during_remus() {
    let text = fixture("during-remus-pvh-vcpu-list-list-ps.txt");
    let vcpu_part: String = text.lines().take(3).map(|l| format!("{l}\n")).collect();
    let list = parse_vcpu_list(&vcpu_part).unwrap();
    assert_eq!(list.rows[1].state, "---");
    assert_eq!(list.rows[1].hard.to_string(), "1");
}

#[test]
fn all_three_affinity_formats() {
    let old = parse_vcpu_list(&fixture("synthetic-vcpu-list-xen-4.3.txt")).unwrap();
    assert_eq!(old.format, AffinityFormat::SingleColumn);
    assert_eq!(old.rows[0].hard, Affinity::All);
    assert_eq!(old.rows[2].hard.resolve(4).to_string(), "2-3");
    assert!(old.rows.iter().all(|r| r.soft.is_none()));

    let mid = parse_vcpu_list(&fixture("synthetic-vcpu-list-xen-4.4.txt")).unwrap();
    assert_eq!(mid.rows[1].hard.resolve(4).to_string(), "0-3");

    let new = parse_vcpu_list(&fixture("synthetic-vcpu-list-xen-4.17-multi.txt")).unwrap();
    assert_eq!(new.rows.len(), 5);
    assert!(!new.rows[3].online());
    assert_eq!(new.rows[3].soft.as_ref().unwrap().to_string(), "0-3,8-11");
    assert_eq!(new.rows[4].name, "web server");
}

#[test]
fn real_list_long_json() {
    let doms = parse_list_long(&fixture("xl-list-l-pv.json")).unwrap();
    assert_eq!(doms.len(), 1);
    assert_eq!(doms[0].name, "Meine-VM");
    assert_eq!(doms[0].domid, 1);
    assert_eq!(doms[0].kind.as_deref(), Some("pv"));
    assert_eq!(doms[0].max_vcpus, Some(1));
    assert_eq!(doms[0].online_vcpus, Some(1));
    // Created without cpus=: libxl omits the key.
    assert_eq!(doms[0].hard_affinity, None);
}

#[test]
fn cpupool_lists_and_an_empty_pool() {
    let pools = parse_cpupool_list(&fixture("synthetic-cpupool-list-c.txt")).unwrap();
    assert_eq!(pools[0].cpus.as_ref().unwrap().to_string(), "0-3,8-11");
    assert_eq!(pools[1].cpus.as_ref().unwrap().to_string(), "4-7");
    assert!(pools[2].cpus.as_ref().unwrap().is_empty());
    let plain = parse_cpupool_list(&fixture("synthetic-cpupool-list.txt")).unwrap();
    assert_eq!(plain[1].cpu_count, Some(4));
}

#[test]
fn odd_inputs_give_clear_errors() {
    // `xl list` is not `xl vcpu-list`.
    let err = parse_vcpu_list(&fixture("xl-list.txt"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no affinity column") || err.contains("header"),
        "{err}"
    );
    // A vcpu-list row cut short.
    let err = parse_vcpu_list("Name ID VCPU CPU State Time(s) Affinity (Hard / Soft)\nvm1 3 0\n")
        .unwrap_err();
    assert_eq!(err.line, 2);
    // xl info without -n has no topology: the topology layer says to use -n.
    let no_n: String = fixture("xl-info-n.txt")
        .lines()
        .filter(|l| {
            !l.starts_with(' ')
                && !l.starts_with("cpu")
                && !l.starts_with("node")
                && !l.starts_with("device")
                && !l.starts_with("No device")
        })
        .map(|l| format!("{l}\n"))
        .collect();
    let err = remus_tune::topology::xen::from_info_text(&no_n, "test")
        .unwrap_err()
        .to_string();
    assert!(err.contains("xl info -n"), "{err}");
    // nr_cpus disagreeing with the table.
    let bad = fixture("xl-info-n.txt")
        .replace("nr_cpus                : 2", "nr_cpus                : 3");
    let err = remus_tune::topology::xen::from_info_text(&bad, "test")
        .unwrap_err()
        .to_string();
    assert!(err.contains("inconsistent"), "{err}");
    // The remus log is not xl info.
    assert!(parse_info(&fixture("xl-remus-vvv-pv-logdirty-fails.txt")).is_err());
}
