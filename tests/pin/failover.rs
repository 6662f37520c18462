//! The failover-aware plan (issue 15): `--backup-topology` plans the protected VMs so that
//! the `cpus=` their config carries to the Remus backup is whole cores of their own on both
//! hosts, reserves the backup's Dom-0 for the receiving side, and says what breaks on a
//! smaller backup. On two topologies with different CPU numbering (siblings apart on the
//! primary, next to each other on the backup: the latter constructed, see the fixtures'
//! README), through the binary; and as a property over generated pairs of hosts.

use crate::pin_support;
use pin_support::cli;

use proptest::prelude::*;
use remus_tune::cpulist::CpuList;
use remus_tune::pin::{plan_failover, DomainSpec, Plan, Policy, Role};
use remus_tune::topology::{Cpu, Topology};

const APART: &str = "tests/fixtures/topologies/xl-info-n-2socket-smt-apart.txt";
const ADJACENT: &str = "tests/fixtures/topologies/xl-info-n-2socket-smt-adjacent.txt";
const SMALL: &str = "tests/fixtures/topologies/xl-info-n-offline-cpu5.txt";

/// True when `cpus` is a union of whole cores of `topo`.
fn whole_cores(topo: &Topology, cpus: &CpuList) -> bool {
    topo.cores()
        .iter()
        .all(|c| c.cpus.is_disjoint(cpus) || c.cpus.is_subset(cpus))
}

/// Every protected VM's CPUs are whole cores on `topo`, and share no core with Dom-0 or another
/// protected VM there.
fn dedicated_on(topo: &Topology, placements: &[remus_tune::pin::Placement]) -> Result<(), String> {
    let core_of = |cpu: u32| topo.cores().iter().position(|c| c.cpus.contains(cpu));
    for p in placements.iter().filter(|p| p.role == Role::Protected) {
        if !whole_cores(topo, &p.cpus) {
            return Err(format!(
                "{} {} is not whole cores on {}",
                p.domain, p.cpus, topo.source
            ));
        }
        for q in placements
            .iter()
            .filter(|q| q.domain != p.domain && q.role != Role::Shared)
        {
            if p.cpus
                .iter()
                .any(|a| q.cpus.iter().any(|b| core_of(a) == core_of(b)))
            {
                return Err(format!(
                    "{} shares a core with {} on {}",
                    p.domain, q.domain, topo.source
                ));
            }
        }
    }
    Ok(())
}

#[test]
fn one_config_valid_and_dedicated_on_both_differently_numbered_hosts() {
    let (code, out, err) = cli(&[
        "pin",
        "--topology",
        APART,
        "--backup-topology",
        ADJACENT,
        "--domain",
        "Meine-VM=2",
        "--domain",
        "db=2",
        "--domain",
        "web=2",
        "--protect",
        "Meine-VM",
        "--protect",
        "db",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let plan: Plan = serde_json::from_str(&out).unwrap();
    let failover = plan.failover.clone().expect("a failover section");
    assert!(failover.same_config, "{out}");
    let primary = Topology::from_file(APART.as_ref()).unwrap();
    let backup = Topology::from_file(ADJACENT.as_ref()).unwrap();
    dedicated_on(&primary, &plan.placements).unwrap();
    dedicated_on(&backup, &failover.backup).unwrap();
    for p in plan.placements.iter().filter(|p| p.role == Role::Protected) {
        let b = failover
            .backup
            .iter()
            .find(|b| b.domain == p.domain)
            .unwrap();
        assert_eq!(p.cpus, b.cpus, "one cpus= for both hosts");
    }
    // The backup's Dom-0 keeps a CPU per incoming stream plus one.
    let dom0 = failover
        .backup
        .iter()
        .find(|p| p.role == Role::Dom0)
        .unwrap();
    assert!(dom0.cpus.len() >= 3, "{}", dom0.cpus);
    assert!(plan
        .rules
        .iter()
        .any(|r| r.rule == "backup-dom0-receive" && r.met));
    // The same numbers are different cores on the two hosts: CPU 0's sibling is 8 on the
    // primary and 1 on the backup, so Dom-0 holds both pairs.
    assert!(dom0.cpus.is_subset(&CpuList::parse("0-1,8-9").unwrap()) || dom0.cpus.len() > 4);

    // The text says which config goes where, and xl-cfg says "both hosts".
    let (code, text, _) = cli(&[
        "pin",
        "--topology",
        APART,
        "--backup-topology",
        ADJACENT,
        "--domain",
        "Meine-VM=2",
    ]);
    assert_eq!(code, 0);
    assert!(
        text.contains("after failover, the same CPUs as on the primary"),
        "{text}"
    );
    assert!(text.contains("ok:   one config for both hosts"), "{text}");
    let (_, cfg, _) = cli(&[
        "pin",
        "--topology",
        APART,
        "--backup-topology",
        ADJACENT,
        "--domain",
        "Meine-VM=2",
        "--format",
        "xl-cfg",
    ]);
    assert!(cfg.contains("on the primary and the backup host"), "{cfg}");
}

#[test]
fn a_smaller_backup_says_what_breaks_and_exits_6() {
    let on_small = |format: &str| {
        cli(&[
            "pin",
            "--topology",
            APART,
            "--backup-topology",
            SMALL,
            "--domain",
            "Meine-VM=4",
            "--domain",
            "db=4",
            "--format",
            format,
        ])
    };
    let (code, out, err) = on_small("text");
    assert_eq!(code, 6, "{err}");
    assert!(
        out.contains(
            "FAIL: the backup has 7 CPU(s) in 4 core(s), the primary 16 in 8: after failover"
        ),
        "{out}"
    );
    assert!(out.contains("its 4 vCPUs take turns on them"), "{out}");
    assert!(out.contains("per-host configs"), "{out}");
    // Per-host configs: the xl-cfg form says what to run on the backup after failover.
    let (_, cfg, _) = on_small("xl-cfg");
    assert!(
        cfg.contains("on the primary host (the backup needs other CPUs"),
        "{cfg}"
    );
    assert!(cfg.contains("#   xl vcpu-pin Meine-VM all "), "{cfg}");
    // A backup plan needs no live host to act on.
    let (code, _, err) = cli(&["pin", "--backup-topology", SMALL, "--check"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("drop --topology and --backup-topology"),
        "{err}"
    );
}

/// A host of `sockets` × `cores` × 2 threads, siblings numbered adjacent or apart.
fn host(sockets: u32, cores: u32, apart: bool, name: &str) -> Topology {
    let total = sockets * cores;
    let mut cpus = Vec::new();
    for s in 0..sockets {
        for c in 0..cores {
            let g = s * cores + c;
            for t in 0..2 {
                let id = if apart { t * total + g } else { g * 2 + t };
                cpus.push(Cpu {
                    id,
                    core: c,
                    socket: s,
                    node: s,
                    l3: None,
                });
            }
        }
    }
    Topology::new(name, cpus, &[]).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Whatever the two numberings and sizes: when the plan says one config serves both
    /// hosts, every protected VM is dedicated whole cores on both; otherwise each host's own
    /// placements are, unless a rule says FAIL.
    #[test]
    fn failover_plans_are_sound(
        s1 in 1u32..=2, c1 in 1u32..=8, a1 in any::<bool>(),
        s2 in 1u32..=2, c2 in 1u32..=8, a2 in any::<bool>(),
        vms in prop::collection::vec(1u32..=4, 1..=3),
    ) {
        let primary = host(s1, c1, a1, "primary");
        let backup = host(s2, c2, a2, "backup");
        let specs: Vec<DomainSpec> = vms.iter().enumerate().map(|(i, &v)| DomainSpec {
            name: format!("vm{i}"), vcpus: v, protected: true,
        }).collect();
        let plan = plan_failover(&primary, &backup, &specs, &Policy::default());
        let f = plan.failover.clone().unwrap();
        let failed = !plan.failures().is_empty();
        if f.same_config {
            for p in plan.placements.iter().filter(|p| p.role == Role::Protected) {
                let b = f.backup.iter().find(|b| b.domain == p.domain).unwrap();
                prop_assert_eq!(&p.cpus, &b.cpus);
            }
        }
        if !failed {
            prop_assert!(dedicated_on(&primary, &plan.placements).is_ok(), "{:?}", dedicated_on(&primary, &plan.placements));
            prop_assert!(dedicated_on(&backup, &f.backup).is_ok(), "{:?}", dedicated_on(&backup, &f.backup));
            let dom0 = f.backup.iter().find(|p| p.role == Role::Dom0).unwrap();
            prop_assert!(dom0.cpus.len() > vms.len(), "receiving side: {}", dom0.cpus);
        }
    }
}
