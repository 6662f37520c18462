//! The planner on many topologies: property tests over generated hosts (1–4 sockets, 1–4 NUMA
//! nodes, SMT on/off, siblings numbered next to each other or apart, 2–256 CPUs) and fixed
//! cases with the plans we expect.

use proptest::prelude::*;
use remus_tune::cpulist::CpuList;
use remus_tune::pin::{plan, DomainSpec, Plan, Policy, Role, Strategy as PinStrategy, Vcpu, DOM0};
use remus_tune::topology::{Cpu, Topology};
use std::path::Path;

/// A generated host: `sockets` × `cores` × `threads`, `nodes` NUMA nodes (whole sockets per
/// node, or a socket split into nodes), siblings numbered adjacent (0,1) or apart (0,N).
fn host(sockets: u32, nodes_per_socket: u32, cores: u32, threads: u32, apart: bool) -> Topology {
    let total_cores = sockets * cores;
    let mut cpus = Vec::new();
    for s in 0..sockets {
        for c in 0..cores {
            let global_core = s * cores + c;
            for t in 0..threads {
                let id = if apart {
                    t * total_cores + global_core
                } else {
                    global_core * threads + t
                };
                let node = s * nodes_per_socket + c * nodes_per_socket / cores;
                cpus.push(Cpu {
                    id,
                    core: c,
                    socket: s,
                    node,
                    l3: None,
                });
            }
        }
    }
    Topology::new("generated", cpus, &[]).unwrap()
}

fn domains(protected: &[u32], shared: &[u32], dom0: Option<u32>) -> Vec<DomainSpec> {
    let mut out = Vec::new();
    if let Some(v) = dom0 {
        out.push(DomainSpec {
            name: DOM0.into(),
            vcpus: v,
            protected: false,
        });
    }
    for (i, &v) in protected.iter().enumerate() {
        out.push(DomainSpec {
            name: format!("vm{i}"),
            vcpus: v,
            protected: true,
        });
    }
    for (i, &v) in shared.iter().enumerate() {
        out.push(DomainSpec {
            name: format!("other{i}"),
            vcpus: v,
            protected: false,
        });
    }
    out
}

fn rule(plan: &Plan, name: &str) -> Option<bool> {
    plan.rules.iter().find(|r| r.rule == name).map(|r| r.met)
}

/// The set of (socket, core) a CPU list touches.
fn cores_of(topo: &Topology, cpus: &CpuList) -> Vec<(u32, u32)> {
    let mut v: Vec<(u32, u32)> = topo
        .cpus
        .iter()
        .filter(|c| cpus.contains(c.id))
        .map(|c| (c.socket, c.core))
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

fn arb_host() -> impl Strategy<Value = Topology> {
    (1u32..=4, 1u32..=2, 1u32..=32, 1u32..=2, any::<bool>())
        .prop_filter("2 to 256 CPUs, nodes <= 4", |(s, n, c, t, _)| {
            let cpus = s * c * t;
            (2..=256).contains(&cpus) && s * n <= 4 && *c >= *n
        })
        .prop_map(|(s, n, c, t, apart)| host(s, n, c, t, apart))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn plans_are_sound(
        topo in arb_host(),
        protected in prop::collection::vec(1u32..=8, 0..6),
        shared in prop::collection::vec(1u32..=4, 0..3),
        dom0 in prop::option::of(1u32..=16),
        dom0_cpus in prop::option::of(1u32..=12),
        cpupool in any::<bool>(),
    ) {
        let specs = domains(&protected, &shared, dom0);
        let strategy = if cpupool { PinStrategy::Cpupool } else { PinStrategy::Pin };
        let p = plan(&topo, &specs, &Policy { dom0_cpus, strategy });
        let all = topo.all_cpus();

        // Every CPU named exists; hard is never empty; soft stays inside hard.
        for a in &p.assignments {
            prop_assert!(!a.hard.is_empty(), "{a:?}");
            prop_assert!(a.hard.is_subset(&all), "{a:?}");
            prop_assert!(a.soft.is_subset(&a.hard), "{a:?}");
        }
        // Every domain's every vCPU is covered.
        for spec in &specs {
            let mine: Vec<_> = p.assignments.iter().filter(|a| a.domain == spec.name).collect();
            let covered = mine.iter().any(|a| a.vcpu == Vcpu::All)
                || (0..spec.vcpus).all(|v| mine.iter().any(|a| a.vcpu == Vcpu::Number(v)));
            prop_assert!(covered, "{} not covered: {mine:?}", spec.name);
        }
        // Dom-0 always has whole cores: every core it touches is all its own.
        let d0 = p.placement(DOM0).unwrap();
        for core in topo.cores().iter().filter(|c| !c.cpus.is_disjoint(&d0.cpus)) {
            prop_assert!(core.cpus.is_subset(&d0.cpus), "Dom-0 has half of core {:?}", core);
        }
        // When the rule says so, Dom-0 and protected VMs never share a core.
        let owners: Vec<_> = p.placements.iter().filter(|x| x.role != Role::Shared).collect();
        if rule(&p, "protected-own-cores") != Some(false) {
            for (i, a) in owners.iter().enumerate() {
                for b in &owners[i + 1..] {
                    let (ca, cb) = (cores_of(&topo, &a.cpus), cores_of(&topo, &b.cpus));
                    prop_assert!(ca.iter().all(|c| !cb.contains(c)), "{} and {} share a core", a.domain, b.domain);
                }
            }
        }
        // If the host has room, every protected vCPU gets a CPU of its own.
        let t = topo.threads_per_core();
        let need: u32 = protected.iter().map(|v| v.div_ceil(t)).sum();
        let dom0_cores = cores_of(&topo, &d0.cpus).len() as u32;
        if need + dom0_cores <= topo.cores().len() as u32 && !protected.is_empty() {
            prop_assert_eq!(rule(&p, "protected-cpu-per-vcpu"), Some(true));
            for x in p.placements.iter().filter(|x| x.role == Role::Protected) {
                prop_assert!(x.cpus.len() as u32 >= x.vcpus, "{x:?}");
            }
        }
        // Whenever the one-node rule is reported as met, it is true.
        if rule(&p, "protected-one-node") == Some(true) {
            for x in p.placements.iter().filter(|x| x.role == Role::Protected) {
                prop_assert_eq!(x.nodes.len(), 1, "{:?}", x);
            }
        }
        // A cpupool never takes Dom-0's CPUs, and holds every protected VM's own CPUs.
        if let Some(pool) = &p.pool {
            prop_assert!(pool.cpus.is_disjoint(&d0.cpus));
            if rule(&p, "protected-own-cores") != Some(false) {
                for x in p.placements.iter().filter(|x| x.role == Role::Protected) {
                    prop_assert!(x.cpus.is_subset(&pool.cpus), "{x:?} outside {pool:?}");
                }
            }
        }
        // A failed rule always explains itself.
        for r in p.rules.iter().filter(|r| !r.met) {
            prop_assert!(r.detail.len() > 20, "{r:?}");
        }
    }

    #[test]
    fn numa_preference_is_honoured_when_possible(
        sockets in 2u32..=4,
        cores in 2u32..=16,
        threads in 1u32..=2,
        vcpus in 1u32..=8,
    ) {
        // One protected VM that fits in a node besides Dom-0 must sit on one node.
        let topo = host(sockets, 1, cores, threads, false);
        prop_assume!(vcpus.div_ceil(threads) <= cores);
        let p = plan(&topo, &domains(&[vcpus], &[], Some(1)), &Policy::default());
        prop_assert_eq!(rule(&p, "protected-one-node"), Some(true));
        prop_assert_eq!(p.placement("vm0").unwrap().nodes.len(), 1);
    }
}

#[test]
fn recorded_lab_host_matches_the_lab_pinning() {
    // The real Xen lab: 2 pCPUs, no SMT; the lab pinned Dom-0 to 0 and Meine-VM to 1 by hand.
    let topo = Topology::from_file(Path::new("tests/fixtures/xen/xl-info-n.txt")).unwrap();
    let specs = vec![
        DomainSpec {
            name: DOM0.into(),
            vcpus: 1,
            protected: false,
        },
        DomainSpec {
            name: "Meine-VM".into(),
            vcpus: 1,
            protected: true,
        },
    ];
    let p = plan(&topo, &specs, &Policy::default());
    let shown: Vec<String> = p
        .assignments
        .iter()
        .map(|a| format!("{} {} {} {}", a.domain, a.vcpu, a.hard, a.soft))
        .collect();
    assert_eq!(shown, ["Domain-0 0 0 0", "Meine-VM all 1 1"]);
    assert!(p.all_rules_met(), "{:?}", p.rules);
    assert!(p.boot.dom0_vcpus_pin);
    assert_eq!(p.boot.dom0_max_vcpus, 1);
}

#[test]
fn siblings_numbered_apart_need_runtime_pinning() {
    let topo = Topology::from_file(Path::new(
        "tests/fixtures/topologies/xl-info-n-2socket-smt-apart.txt",
    ))
    .unwrap();
    let p = plan(&topo, &domains(&[4], &[2], Some(2)), &Policy::default());
    assert_eq!(p.placement(DOM0).unwrap().cpus.to_string(), "0,8");
    assert!(!p.boot.dom0_vcpus_pin);
    assert!(
        p.boot.reason.contains("core 0 is CPUs 0,8"),
        "{}",
        p.boot.reason
    );
    let vm = p.placement("vm0").unwrap();
    assert_eq!(vm.cpus.len(), 4);
    assert_eq!(vm.nodes.len(), 1);
    assert!(p.all_rules_met(), "{:?}", p.rules);
}

#[test]
fn offline_cpu_leaves_a_one_cpu_core() {
    let topo = Topology::from_file(Path::new(
        "tests/fixtures/topologies/xl-info-n-offline-cpu5.txt",
    ))
    .unwrap();
    assert_eq!(topo.cpus.len(), 7);
    assert_eq!(topo.bitmap_size(), 8);
    let p = plan(&topo, &domains(&[2, 1], &[], Some(2)), &Policy::default());
    // Dom-0: default rule for 2 VMs = 3 CPUs → 2 whole cores (0-3).
    assert_eq!(p.placement(DOM0).unwrap().cpus.to_string(), "0-3");
    let all: Vec<String> = p
        .placements
        .iter()
        .map(|x| format!("{}={}", x.domain, x.cpus))
        .collect();
    assert!(
        !all.iter().any(|s| s.contains('5')),
        "offline CPU 5 used: {all:?}"
    );
}

#[test]
fn too_small_host_says_which_rule_fails() {
    let topo = host(1, 1, 2, 1, false); // 2 cores, no SMT
    let p = plan(&topo, &domains(&[2, 2], &[1], Some(1)), &Policy::default());
    assert_eq!(rule(&p, "protected-own-cores"), Some(false));
    let fail = p
        .rules
        .iter()
        .find(|r| r.rule == "protected-own-cores")
        .unwrap();
    assert!(
        fail.detail.contains("share cores with each other"),
        "{}",
        fail.detail
    );
    assert_eq!(rule(&p, "shared-leftover"), Some(false));

    let single = host(1, 1, 1, 2, false); // one core, two threads
    let p = plan(&single, &domains(&[1], &[], Some(1)), &Policy::default());
    assert_eq!(rule(&p, "protected-own-cores"), Some(false));
    assert!(p.placement("vm0").unwrap().cpus == p.placement(DOM0).unwrap().cpus);
}

#[test]
fn dom0_sizing_rule_and_override() {
    use remus_tune::pin::plan::dom0_size_rule;
    assert_eq!(dom0_size_rule(1, 2), 2);
    assert_eq!(dom0_size_rule(3, 2), 4);
    assert_eq!(dom0_size_rule(20, 2), 8);
    assert_eq!(dom0_size_rule(20, 1), 8);
    assert_eq!(dom0_size_rule(0, 1), 1);
    assert_eq!(dom0_size_rule(20, 3), 6); // at most 8 CPUs in whole 3-thread cores
    let topo = host(2, 1, 8, 2, false);
    let p = plan(
        &topo,
        &domains(&[2], &[], Some(16)),
        &Policy {
            dom0_cpus: Some(3),
            strategy: PinStrategy::Pin,
        },
    );
    assert_eq!(
        p.placement(DOM0).unwrap().cpus.len(),
        4,
        "3 is rounded up to 2 whole cores"
    );
    assert_eq!(
        rule(&p, "dom0-vcpus"),
        Some(false),
        "16 Dom-0 vCPUs on 4 CPUs must be flagged"
    );
    assert_eq!(p.assignments[0].vcpu, Vcpu::All);
}

#[test]
fn big_vm_spills_over_nodes_and_says_so() {
    let topo = host(2, 1, 4, 2, false); // two nodes of 4 cores
    let p = plan(&topo, &domains(&[12], &[], Some(2)), &Policy::default());
    assert_eq!(rule(&p, "protected-one-node"), Some(false));
    assert_eq!(p.placement("vm0").unwrap().nodes, vec![0, 1]);
}

#[test]
fn cpupool_strategy_pools_the_protected_cpus() {
    let topo = host(1, 1, 4, 2, false);
    let p = plan(
        &topo,
        &domains(&[2, 2], &[], Some(2)),
        &Policy {
            dom0_cpus: None,
            strategy: PinStrategy::Cpupool,
        },
    );
    let pool = p.pool.as_ref().unwrap();
    assert_eq!(pool.cpus.to_string(), "4-7");
    assert_eq!(pool.domains, vec!["vm0", "vm1"]);
}
