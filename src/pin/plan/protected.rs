//! The protected VMs' share (rule 2): whole cores of their own, one CPU per vCPU, on one NUMA
//! node where it fits; and, when the host is too small, the order in which the rule gives way.

use super::super::model::*;
use crate::cpulist::CpuList;
use crate::topology::{Core, Topology};

/// Gives each protected VM whole cores from `free`; returns their CPU sets in input order
/// (empty when nothing could be given) and records the rules.
pub(super) fn place_protected(
    free: &[&Core],
    protected: &[&DomainSpec],
    topo: &Topology,
    rules: &mut Vec<RuleCheck>,
) -> Vec<CpuList> {
    let mut result = vec![CpuList::new(); protected.len()];
    if protected.is_empty() {
        return result;
    }
    if free.is_empty() {
        rules.push(RuleCheck {
            kind: RuleKind::Plan,
            rule: "protected-own-cores".into(),
            met: false,
            detail: format!(
                "the host has {} core(s), all needed by Dom-0: the {} protected VM(s) share Dom-0's cores; a Remus host needs at least 2 cores",
                topo.cores().len(),
                protected.len()
            ),
        });
        return result;
    }
    // How many cores each VM needs for one CPU per vCPU.
    let t = topo.threads_per_core().max(1);
    let need: Vec<usize> = protected
        .iter()
        .map(|d| d.vcpus.max(1).div_ceil(t) as usize)
        .collect();
    let total_need: usize = need.iter().sum();
    let mut grant = need.clone();
    if total_need > free.len() {
        if free.len() >= protected.len() {
            // Shrink the biggest first, down to one core each.
            let mut excess = total_need - free.len();
            while excess > 0 {
                let Some(i) = (0..grant.len())
                    .filter(|&i| grant[i] > 1)
                    .max_by_key(|&i| (grant[i], usize::MAX - i))
                else {
                    break;
                };
                grant[i] -= 1;
                excess -= 1;
            }
            rules.push(RuleCheck {
                kind: RuleKind::Plan,
                rule: "protected-cpu-per-vcpu".into(),
                met: false,
                detail: format!(
                    "the protected VMs need {total_need} cores for one CPU per vCPU but {} are free after Dom-0: some VMs' vCPUs share their own cores ({})",
                    free.len(),
                    protected
                        .iter()
                        .zip(&grant)
                        .map(|(d, g)| format!("{}: {} vCPU(s) on {g} core(s)", d.name, d.vcpus))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        } else {
            // Fewer cores than VMs: they must share cores with each other.
            for (i, slot) in result.iter_mut().enumerate() {
                *slot = free[i % free.len()].cpus.clone();
            }
            rules.push(RuleCheck {
                kind: RuleKind::Plan,
                rule: "protected-own-cores".into(),
                met: false,
                detail: format!(
                    "{} protected VMs but only {} core(s) free after Dom-0: protected VMs share cores with each other; protect fewer VMs or use a larger host",
                    protected.len(),
                    free.len()
                ),
            });
            return result;
        }
    } else {
        rules.push(RuleCheck {
            kind: RuleKind::Plan,
            rule: "protected-cpu-per-vcpu".into(),
            met: true,
            detail: "every protected vCPU has a CPU of its own".into(),
        });
    }
    rules.push(RuleCheck {
        kind: RuleKind::Plan,
        rule: "protected-own-cores".into(),
        met: true,
        detail:
            "Dom-0 and each protected VM have whole cores of their own: no SMT sibling is shared"
                .into(),
    });

    // Place the biggest first, each on the node whose free cores fit it most tightly.
    let mut taken = vec![false; free.len()];
    let mut order: Vec<usize> = (0..protected.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(grant[i]));
    let mut split = Vec::new();
    for i in order {
        let free_on = |node: u32, taken: &[bool]| {
            free.iter()
                .zip(taken)
                .filter(|(c, t)| c.node == node && !**t)
                .count()
        };
        let node = topo
            .nodes
            .iter()
            .map(|n| (n.id, free_on(n.id, &taken)))
            .filter(|&(_, n)| n >= grant[i])
            .min_by_key(|&(id, n)| (n, id))
            .map(|(id, _)| id);
        let mut cpus = CpuList::new();
        // On the chosen node first; if none fits, spill from the node with most free cores.
        let mut candidates: Vec<usize> = (0..free.len()).filter(|&c| !taken[c]).collect();
        match node {
            Some(node) => candidates.retain(|&c| free[c].node == node),
            None => {
                split.push(protected[i].name.clone());
                candidates.sort_by_key(|&c| {
                    (
                        std::cmp::Reverse(free_on(free[c].node, &taken)),
                        free[c].node,
                        c,
                    )
                });
            }
        }
        for c in candidates.into_iter().take(grant[i]) {
            taken[c] = true;
            cpus = cpus.union(&free[c].cpus);
        }
        result[i] = cpus;
    }
    rules.push(RuleCheck {
        kind: RuleKind::Plan,
        rule: "protected-one-node".into(),
        met: split.is_empty(),
        detail: if split.is_empty() {
            "each protected VM sits on one NUMA node".into()
        } else {
            format!(
                "{} spread over more than one NUMA node: no node has enough free cores for them",
                split.join(", ")
            )
        },
    });
    result
}
