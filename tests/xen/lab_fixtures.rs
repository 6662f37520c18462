//! The parsers on the outputs the Xen lab recorded on real Xen 4.17.7 (tests/fixtures/xen/lab/,
//! each file's origin in its README): what the lab saw must parse to what it showed.

use remus_tune::xl::block::parse_block_list;
use remus_tune::xl::{parse_info, parse_list_long, parse_vcpu_list};

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/xen/lab/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

#[test]
fn xl_info_of_the_lab_host() {
    let info = parse_info(&fixture("xl-info.txt")).unwrap();
    assert_eq!(info.nr_cpus(), Some(2));
    assert!(info
        .get("xen_version")
        .is_some_and(|v| v.starts_with("4.17")));
    let topology = parse_info(&fixture("xl-info-n.txt")).unwrap();
    assert_eq!(topology.cpu_topology.len(), 2);
}

#[test]
fn a_pvh_guest_in_xl_list_l() {
    let domains = parse_list_long(&fixture("xl-list-l-pvh.json")).unwrap();
    let guest = domains.iter().find(|d| d.name == "Meine-VM").unwrap();
    assert_eq!(guest.kind.as_deref(), Some("pvh"));
}

#[test]
fn vcpu_lists_before_and_after_pinning() {
    let before = parse_vcpu_list(&fixture("xl-vcpu-list-before-pin.txt")).unwrap();
    let after = parse_vcpu_list(&fixture("xl-vcpu-list-after-pin.txt")).unwrap();
    let reverted = parse_vcpu_list(&fixture("xl-vcpu-list-after-revert.txt")).unwrap();
    let affinities = |list: &remus_tune::xl::VcpuList| {
        list.rows
            .iter()
            .map(|r| (r.name.clone(), r.vcpu, format!("{:?}/{:?}", r.hard, r.soft)))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        affinities(&before),
        affinities(&reverted),
        "pin --revert restored what pin --apply found"
    );
    assert_ne!(affinities(&before), affinities(&after));
}

#[test]
fn the_attached_disk_in_xl_block_list() {
    let disks = parse_block_list(&fixture("xl-block-list.txt")).unwrap();
    assert_eq!(disks.len(), 1);
    assert_eq!(disks[0].devid, 51712);
    assert_eq!(disks[0].state, 4);
}
