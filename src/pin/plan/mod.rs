//! The planner: topology + domains + policy → plan. Pure: no I/O, no clock, so every rule
//! below is tested on many topologies (tests/pin/plan.rs).
//!
//! The rules, in order of priority (the Xen developers' advice for Remus: switch off the
//! scheduler's spreading and give Dom-0 and each protected VM cores of their own):
//!
//! 1. Dom-0 gets whole cores of its own, sized by [`dom0_size_rule`] or `--dom0-cpus`
//!    ([`dom0`]).
//! 2. Each protected VM gets whole cores of its own — never an SMT sibling of Dom-0's or of
//!    another protected VM's — enough for one CPU per vCPU, on one NUMA node where it fits
//!    ([`protected`]).
//! 3. Unprotected domains share whatever is left ([`shared`]).
//!
//! When the host is too small, the planner says which rule fails and keeps the best plan that
//! remains: first Dom-0 shrinks to one core, then protected VMs get fewer cores than vCPUs,
//! then protected VMs share cores, and only last do they share Dom-0's. [`assign`] turns the
//! placements into the plan's assignments (and the cpupool).

mod assign;
mod dom0;
mod protected;
mod shared;

pub(in crate::pin) use dom0::boot_plan;
pub use dom0::{dom0_size_rule, DOM0_MAX_DEFAULT, DOM0_RULE_TEXT};

use super::model::*;
use crate::cpulist::CpuList;
use crate::topology::{Core, Topology};

/// Plans `domains` on `topo`. `domains` may include `Domain-0`; if it does not, Dom-0 is
/// planned with as many vCPUs as CPUs it gets.
pub fn plan(topo: &Topology, domains: &[DomainSpec], policy: &Policy) -> Plan {
    let mut rules = Vec::new();
    let cores = topo.cores();
    let protected: Vec<&DomainSpec> = domains
        .iter()
        .filter(|d| d.protected && !d.is_dom0())
        .collect();
    let shared: Vec<&DomainSpec> = domains
        .iter()
        .filter(|d| !d.protected && !d.is_dom0())
        .collect();

    let count = dom0::dom0_cores(
        &cores,
        protected.len(),
        topo.threads_per_core(),
        policy,
        &mut rules,
    );
    let (dom0_set, free) = cores.split_at(count.min(cores.len()));
    let dom0_set: Vec<&Core> = dom0_set.iter().collect();
    let free: Vec<&Core> = free.iter().collect();
    let dom0_cpus: CpuList = dom0_set
        .iter()
        .fold(CpuList::new(), |acc, c| acc.union(&c.cpus));
    let dom0_cpu_count = dom0_cpus.len() as u32;
    let mut placements = vec![Placement {
        domain: DOM0.into(),
        role: Role::Dom0,
        vcpus: domains
            .iter()
            .find(|d| d.is_dom0())
            .map(|d| d.vcpus)
            .unwrap_or(dom0_cpu_count),
        nodes: nodes_of(topo, &dom0_cpus),
        cpus: dom0_cpus.clone(),
    }];

    let placed = protected::place_protected(&free, &protected, topo, &mut rules);
    for (spec, cpus) in protected.iter().zip(placed) {
        // No free core at all: protected VMs share Dom-0's cores, the last resort.
        let cpus = if cpus.is_empty() {
            dom0_cpus.clone()
        } else {
            cpus
        };
        placements.push(Placement {
            domain: spec.name.clone(),
            role: Role::Protected,
            vcpus: spec.vcpus,
            nodes: nodes_of(topo, &cpus),
            cpus,
        });
    }
    shared::place_shared(topo, &shared, &mut placements, &mut rules);

    rules.extend(dom0::vcpus_rule(placements[0].vcpus, dom0_cpu_count));
    let boot = boot_plan(topo, &dom0_cpus, &dom0_set);
    rules.push(RuleCheck {
        kind: RuleKind::Plan,
        rule: "dom0-boot-pin".into(),
        met: true,
        detail: boot.reason.clone(),
    });
    let pool = assign::pool_plan(policy, &placements, &mut rules);
    Plan {
        target: Target::Xen,
        strategy: policy.strategy,
        topology: topo.source.clone(),
        assignments: assign::assignments(&placements),
        placements,
        pool,
        boot,
        rules,
        threads: Vec::new(),
        current: Vec::new(),
        iothreads: Vec::new(),
        failover: None,
    }
}

/// The NUMA nodes a CPU set touches.
pub(in crate::pin) fn nodes_of(topo: &Topology, cpus: &CpuList) -> Vec<u32> {
    topo.nodes
        .iter()
        .filter(|n| !n.cpus.is_disjoint(cpus))
        .map(|n| n.id)
        .collect()
}
