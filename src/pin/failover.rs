//! The failover-aware plan (`pin --topology PRIMARY --backup-topology BACKUP`). Pure, like
//! the planner it builds on.
//!
//! Remus resumes a protected VM on the backup host from the checkpoint stream, and the
//! domain's stored config — its `cpus=` — travels with it (interfaces.md §0 item 10): the
//! backup applies the *primary's* CPU numbers. So the best plan gives each protected VM CPUs
//! that are whole cores of its own on both hosts, even where the two number their SMT
//! siblings differently. It is found by planning on a *merged* host: the CPUs both hosts
//! have, grouped into the smallest sets that are whole cores on each (the connected
//! components of "is an SMT sibling of" on either host). Any plan on the merged host is
//! valid on both. Where that costs a rule the hosts could keep on their own (the merged
//! "cores" are coarser), each host is planned alone and the plan says so: the VMs must then
//! be re-pinned on the backup after failover.
//!
//! The backup's Dom-0 runs the receiving side of every stream (one restore helper per
//! protected VM), so it keeps at least one CPU per protected VM plus one.

use super::model::*;
use super::plan::{boot_plan, nodes_of};
use crate::cpulist::CpuList;
use crate::topology::{Cpu, Topology};

/// Plans `domains` for a primary and a backup host. The result is the primary's plan with
/// [`Plan::failover`] set and the failover rules added.
pub fn plan_failover(
    primary: &Topology,
    backup: &Topology,
    domains: &[DomainSpec],
    policy: &Policy,
) -> Plan {
    let protected = domains
        .iter()
        .filter(|d| d.protected && !d.is_dom0())
        .count() as u32;
    // The backup's Dom-0 needs a CPU per incoming stream plus one, whatever --dom0-cpus says.
    let receive = protected + 1;
    let backup_policy = Policy {
        dom0_cpus: policy.dom0_cpus.map(|n| n.max(receive)),
        ..policy.clone()
    };

    let merged = merge(primary, backup);
    let joint = merged
        .as_ref()
        .map(|m| super::plan(m, domains, &backup_policy));
    let alone = super::plan(primary, domains, policy);
    let on_backup = super::plan(backup, domains, &backup_policy);
    // One config for both hosts when it breaks no rule that planning each host alone keeps.
    let fails = |p: &Plan| p.failures().len();
    let mut plan = match joint {
        Some(joint) if fails(&joint) <= fails(&alone).max(fails(&on_backup)) => {
            let m = merged.as_ref().expect("a joint plan has a merged host");
            let backup_view = realise(&joint, m, backup);
            let mut p = realise(&joint, m, primary);
            let split: Vec<String> = backup_view
                .placements
                .iter()
                .filter(|x| x.role == Role::Protected && x.nodes.len() > 1)
                .map(|x| {
                    format!(
                        "{} (nodes {})",
                        x.domain,
                        x.nodes
                            .iter()
                            .map(u32::to_string)
                            .collect::<Vec<_>>()
                            .join(",")
                    )
                })
                .collect();
            if !split.is_empty() {
                p.rules.push(RuleCheck {
                    kind: RuleKind::Todo,
                    rule: "failover-backup-numa".into(),
                    met: false,
                    detail: format!(
                        "on the backup, {} spread over NUMA nodes: the hosts number their CPUs too differently for one config to keep them on one node there. If locality on the backup matters more than one config, plan each host alone (`pin --topology BACKUP`) and re-pin after failover",
                        split.join(", ")
                    ),
                });
            }
            p.failover = Some(Failover {
                backup_topology: backup.source.clone(),
                same_config: true,
                backup_boot: backup_view.boot.clone(),
                backup: backup_view.placements,
            });
            p.rules.push(rule(true, "failover-config", format!(
                "one config for both hosts: each protected VM's CPUs are whole cores of its own on the primary ({}) and on the backup ({}), so the cpus= the backup restores from the checkpoint stream is right there too",
                primary.source, backup.source
            )));
            p
        }
        _ => {
            let mut p = alone;
            p.failover = Some(Failover {
                backup_topology: backup.source.clone(),
                same_config: false,
                backup_boot: on_backup.boot.clone(),
                backup: on_backup.placements.clone(),
            });
            let why = if merged.is_none() {
                "no CPUs are whole cores on both hosts (the backup lacks the SMT siblings of every CPU the two have in common)"
            } else {
                "CPUs that are whole cores on both hosts are too few or too coarse for every protected VM to have its own"
            };
            p.rules.push(rule(true, "failover-config", format!(
                "per-host configs: {why}; the primary's cpus= travels with the checkpoint stream, so after failover re-pin the VMs on the backup to its own CPUs (see --format xl-cfg)"
            )));
            for r in on_backup.failures() {
                p.rules.push(rule(
                    false,
                    "failover-backup",
                    format!("on the backup: {}", r.detail),
                ));
            }
            p
        }
    };
    let failover = plan.failover.clone().expect("set above");
    plan.rules.push(dom0_receive_rule(&failover, receive));
    plan.rules
        .push(backup_size_rule(&plan, &failover, primary, backup));
    plan
}

fn rule(met: bool, name: &str, detail: String) -> RuleCheck {
    RuleCheck {
        kind: RuleKind::Plan,
        rule: name.into(),
        met,
        detail,
    }
}

/// The backup's Dom-0 against what the receiving side needs.
fn dom0_receive_rule(failover: &Failover, receive: u32) -> RuleCheck {
    let cpus = cpus_of_role(&failover.backup, Role::Dom0);
    let n = cpus.len() as u32;
    rule(
        n >= receive,
        "backup-dom0-receive",
        if n >= receive {
            format!("the backup's Dom-0 keeps CPUs {cpus} ({n}) for the receiving side of the {} checkpoint stream(s), one CPU each, plus one", receive - 1)
        } else {
            format!("the backup's Dom-0 has only {n} CPU(s) ({cpus}) for the receiving side of {} checkpoint stream(s): it needs {receive}, or checkpoints queue up behind each other on the backup", receive - 1)
        },
    )
}

/// What breaks after failover when the backup gives a protected VM less than the primary.
fn backup_size_rule(
    plan: &Plan,
    failover: &Failover,
    primary: &Topology,
    backup: &Topology,
) -> RuleCheck {
    let mut broken = Vec::new();
    for p in plan.placements.iter().filter(|p| p.role == Role::Protected) {
        let Some(b) = failover.backup.iter().find(|b| b.domain == p.domain) else {
            continue;
        };
        let dom0 = cpus_of_role(&failover.backup, Role::Dom0);
        let others = failover
            .backup
            .iter()
            .filter(|x| x.role == Role::Protected && x.domain != p.domain)
            .fold(CpuList::new(), |a, x| a.union(&x.cpus));
        let mut what = Vec::new();
        if b.cpus.len() < p.cpus.len() {
            what.push(format!(
                "{} CPU(s) instead of {}",
                b.cpus.len(),
                p.cpus.len()
            ));
        }
        if (b.cpus.len() as u32) < b.vcpus {
            what.push(format!("its {} vCPUs take turns on them", b.vcpus));
        }
        if !b.cpus.is_disjoint(&dom0) {
            what.push(
                "it shares cores with the backup's Dom-0, which is receiving the checkpoints"
                    .into(),
            );
        }
        if !b.cpus.is_disjoint(&others) {
            what.push("it shares cores with another protected VM".into());
        }
        if !what.is_empty() {
            broken.push(format!(
                "{} gets {} ({})",
                p.domain,
                b.cpus,
                what.join("; ")
            ));
        }
    }
    let sizes = format!(
        "the backup has {} CPU(s) in {} core(s), the primary {} in {}",
        backup.cpus.len(),
        backup.cores().len(),
        primary.cpus.len(),
        primary.cores().len()
    );
    if broken.is_empty() {
        rule(
            true,
            "failover-backup-size",
            format!("{sizes}: every protected VM keeps its CPUs after failover"),
        )
    } else {
        rule(
            false,
            "failover-backup-size",
            format!(
                "{sizes}: after failover {}; use a backup at least as large, or protect fewer VMs",
                broken.join(", ")
            ),
        )
    }
}

/// The merged host: the CPUs both have, each group of CPUs that is whole cores on both hosts
/// one "core". NUMA nodes are the primary's (where the VM runs until a failure). `None` when
/// the hosts share no CPU number.
pub fn merge(primary: &Topology, backup: &Topology) -> Option<Topology> {
    let common = primary.all_cpus().intersection(&backup.all_cpus());
    if common.is_empty() {
        return None;
    }
    // Union-find over CPU ids: siblings on either host end up in one group.
    let ids: Vec<u32> = common.iter().collect();
    let mut parent: Vec<usize> = (0..ids.len()).collect();
    fn find(parent: &mut [usize], i: usize) -> usize {
        let mut root = i;
        while parent[root] != root {
            root = parent[root];
        }
        let mut at = i;
        while parent[at] != root {
            let next = parent[at];
            parent[at] = root;
            at = next;
        }
        root
    }
    let index = |cpu: u32| ids.binary_search(&cpu).ok();
    for host in [primary, backup] {
        for core in host.cores() {
            let members: Vec<usize> = core.cpus.iter().filter_map(index).collect();
            for pair in members.windows(2) {
                let (a, b) = (find(&mut parent, pair[0]), find(&mut parent, pair[1]));
                parent[a] = b;
            }
        }
    }
    // A group with a CPU whose SMT sibling exists on one host only is not whole cores on that
    // host: leave the whole group out (groups are closed under "sibling within the common
    // CPUs", so dropping one never breaks another).
    let node_of = |cpu: u32| {
        primary
            .cpus
            .iter()
            .find(|c| c.id == cpu)
            .map(|c| c.node)
            .unwrap_or(0)
    };
    let groups: Vec<usize> = (0..ids.len()).map(|i| find(&mut parent, i)).collect();
    let partial = |id: u32| {
        [primary, backup].iter().any(|h| {
            h.cores()
                .iter()
                .any(|c| c.cpus.contains(id) && !c.cpus.is_subset(&common))
        })
    };
    let bad: Vec<usize> = ids
        .iter()
        .zip(&groups)
        .filter(|(&id, _)| partial(id))
        .map(|(_, &g)| g)
        .collect();
    let cpus: Vec<Cpu> = ids
        .iter()
        .zip(&groups)
        .filter(|(_, g)| !bad.contains(g))
        .map(|(&id, &g)| Cpu {
            id,
            core: ids[g],
            socket: 0,
            node: node_of(ids[g]),
            l3: None,
        })
        .collect();
    if cpus.is_empty() {
        return None;
    }
    Topology::new(
        format!("{} and {}", primary.source, backup.source),
        cpus,
        &[],
    )
    .ok()
}

/// A plan made on the merged host, as seen on one real host: its NUMA nodes, its cores and
/// its boot line.
fn realise(joint: &Plan, merged: &Topology, host: &Topology) -> Plan {
    let mut p = joint.clone();
    p.topology = host.source.clone();
    let count = |topo: &Topology, cpus: &CpuList| {
        topo.cores()
            .iter()
            .filter(|c| !c.cpus.is_disjoint(cpus))
            .count()
    };
    if let Some(dom0) = p.placements.iter().find(|x| x.role == Role::Dom0) {
        let (from, to) = (count(merged, &dom0.cpus), count(host, &dom0.cpus));
        for r in p.rules.iter_mut().filter(|r| r.rule == "dom0-size") {
            r.detail = r.detail.replace(
                &format!(" on {from} whole core(s)"),
                &format!(" on {to} whole core(s)"),
            );
        }
    }
    for placement in &mut p.placements {
        placement.nodes = nodes_of(host, &placement.cpus);
    }
    if let Some(dom0) = p.placements.iter().find(|x| x.role == Role::Dom0) {
        let cores = host.cores();
        let touched: Vec<&crate::topology::Core> = cores
            .iter()
            .filter(|c| !c.cpus.is_disjoint(&dom0.cpus))
            .collect();
        p.boot = boot_plan(host, &dom0.cpus, &touched);
        for r in p.rules.iter_mut().filter(|r| r.rule == "dom0-boot-pin") {
            r.detail = p.boot.reason.clone();
        }
    }
    p
}
