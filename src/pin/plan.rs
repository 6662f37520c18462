//! The planner: topology + domains + policy → plan. Pure: no I/O, no clock, so every rule
//! below is tested on many topologies (tests/pin_plan.rs).
//!
//! The rules, in order of priority (the Xen developers' advice for Remus: switch off the
//! scheduler's spreading and give Dom-0 and each protected VM cores of their own):
//!
//! 1. Dom-0 gets whole cores of its own, sized by [`dom0_size_rule`] or `--dom0-cpus`.
//! 2. Each protected VM gets whole cores of its own — never an SMT sibling of Dom-0's or of
//!    another protected VM's — enough for one CPU per vCPU, on one NUMA node where it fits.
//! 3. Unprotected domains share whatever is left.
//!
//! When the host is too small, the planner says which rule fails and keeps the best plan that
//! remains: first Dom-0 shrinks to one core, then protected VMs get fewer cores than vCPUs,
//! then protected VMs share cores, and only last do they share Dom-0's.

use super::model::*;
use crate::cpulist::CpuList;
use crate::topology::{Core, Topology};

/// The most Dom-0 vCPUs we size by default: the Xen project's tuning guide suggests a Dom-0
/// of up to 8 vCPUs even on large hosts.
pub const DOM0_MAX_DEFAULT: u32 = 8;

/// The default Dom-0 size, stated: one CPU per protected VM plus one (the checkpoint stream
/// of each VM is work for Dom-0), rounded up to whole cores, at most 8 CPUs (rounded down to
/// whole cores), and never less than one whole core.
pub fn dom0_size_rule(protected: usize, threads_per_core: u32) -> u32 {
    let t = threads_per_core.max(1);
    let wanted = (protected as u32 + 1).div_ceil(t) * t;
    let capped = (DOM0_MAX_DEFAULT / t) * t;
    wanted.min(capped.max(t)).max(t)
}

/// The sentence that explains [`dom0_size_rule`].
pub const DOM0_RULE_TEXT: &str = "one CPU per protected VM plus one, rounded up to whole cores, at most 8 CPUs, at least one whole core";

/// Plans `domains` on `topo`. `domains` may include `Domain-0`; if it does not, Dom-0 is
/// planned with as many vCPUs as CPUs it gets.
pub fn plan(topo: &Topology, domains: &[DomainSpec], policy: &Policy) -> Plan {
    let mut rules = Vec::new();
    let cores = topo.cores();
    let t = topo.threads_per_core();
    let protected: Vec<&DomainSpec> = domains
        .iter()
        .filter(|d| d.protected && !d.is_dom0())
        .collect();
    let shared: Vec<&DomainSpec> = domains
        .iter()
        .filter(|d| !d.protected && !d.is_dom0())
        .collect();

    // --- Dom-0's size, in whole cores -------------------------------------------------------
    let (wanted_cpus, sizing) = match policy.dom0_cpus {
        Some(n) => (n.max(1), format!("--dom0-cpus {n}")),
        None => (
            dom0_size_rule(protected.len(), t),
            format!(
                "default rule ({DOM0_RULE_TEXT}) for {} protected VM(s)",
                protected.len()
            ),
        ),
    };
    let mut dom0_cores = cores_for(&cores, wanted_cpus);
    // Leave at least one core per protected VM when the host allows it.
    let spare = cores.len().saturating_sub(protected.len()).max(1);
    if dom0_cores > spare {
        // The default size is a preference; an explicit --dom0-cpus that cannot be had is a
        // rule the plan breaks.
        rules.push(RuleCheck {
            kind: RuleKind::Plan,
            rule: "dom0-size".into(),
            met: policy.dom0_cpus.is_none(),
            detail: format!(
                "Dom-0 wanted {wanted_cpus} CPUs ({sizing}) but the host has {} cores for Dom-0 and {} protected VM(s): Dom-0 gets {spare} core(s)",
                cores.len(),
                protected.len()
            ),
        });
        dom0_cores = spare;
    }
    let dom0_set: Vec<&Core> = cores.iter().take(dom0_cores).collect();
    let dom0_cpus: CpuList = dom0_set
        .iter()
        .fold(CpuList::new(), |acc, c| acc.union(&c.cpus));
    if !rules.iter().any(|r| r.rule == "dom0-size") {
        rules.push(RuleCheck {
            kind: RuleKind::Plan,
            rule: "dom0-size".into(),
            met: true,
            detail: format!(
                "Dom-0 gets {} CPU(s) on {dom0_cores} whole core(s): {sizing}",
                dom0_cpus.len()
            ),
        });
    }
    let rounded = dom0_cpus.len() as u32;
    if policy.dom0_cpus.is_some_and(|n| n < rounded) {
        rules.push(RuleCheck {
            kind: RuleKind::Plan,
            rule: "dom0-whole-cores".into(),
            met: true,
            detail: format!("--dom0-cpus was rounded up to {rounded} so that Dom-0 has whole cores (no SMT sibling shared)"),
        });
    }

    // --- Protected VMs ----------------------------------------------------------------------
    let free: Vec<&Core> = cores.iter().skip(dom0_cores).collect();
    let placed = place_protected(&free, &protected, topo, &mut rules);

    // If there was no free core at all, protected VMs share Dom-0's cores: the last resort.
    let mut placements = vec![Placement {
        domain: DOM0.into(),
        role: Role::Dom0,
        vcpus: domains
            .iter()
            .find(|d| d.is_dom0())
            .map(|d| d.vcpus)
            .unwrap_or(rounded),
        nodes: nodes_of(topo, &dom0_cpus),
        cpus: dom0_cpus.clone(),
    }];
    let mut used = dom0_cpus.clone();
    for (spec, cpus) in protected.iter().zip(placed) {
        let cpus = if cpus.is_empty() {
            dom0_cpus.clone()
        } else {
            cpus
        };
        used = used.union(&cpus);
        placements.push(Placement {
            domain: spec.name.clone(),
            role: Role::Protected,
            vcpus: spec.vcpus,
            nodes: nodes_of(topo, &cpus),
            cpus,
        });
    }

    // --- Unprotected domains share what is left ---------------------------------------------
    let leftover = topo.all_cpus().difference(&used);
    if !shared.is_empty() {
        let protected_cpus = placements
            .iter()
            .filter(|p| p.role == Role::Protected)
            .fold(CpuList::new(), |a, p| a.union(&p.cpus));
        let (cpus, rule) = if !leftover.is_empty() {
            (
                leftover.clone(),
                RuleCheck {
                    kind: RuleKind::Plan,
                    rule: "shared-leftover".into(),
                    met: true,
                    detail: format!(
                        "{} unprotected domain(s) share CPUs {leftover}",
                        shared.len()
                    ),
                },
            )
        } else {
            let fallback = topo.all_cpus().difference(&dom0_cpus);
            let fallback = if fallback.is_empty() {
                topo.all_cpus()
            } else {
                fallback
            };
            (
                fallback.clone(),
                RuleCheck {
                    kind: RuleKind::Plan,
                    rule: "shared-leftover".into(),
                    met: false,
                    detail: format!(
                        "no CPU is left for the {} unprotected domain(s): they share CPUs {fallback}, which the protected VMs (CPUs {protected_cpus}) use too; protect fewer VMs, give Dom-0 fewer CPUs or stop unprotected domains",
                        shared.len()
                    ),
                },
            )
        };
        rules.push(rule);
        for spec in &shared {
            placements.push(Placement {
                domain: spec.name.clone(),
                role: Role::Shared,
                vcpus: spec.vcpus,
                nodes: nodes_of(topo, &cpus),
                cpus: cpus.clone(),
            });
        }
    }

    let dom0_vcpus = placements[0].vcpus;
    if dom0_vcpus > rounded {
        rules.push(RuleCheck {
            kind: RuleKind::Plan,
            rule: "dom0-vcpus".into(),
            met: false,
            detail: format!(
                "Dom-0 has {dom0_vcpus} vCPUs for {rounded} CPUs, so they take turns on them; boot Xen with dom0_max_vcpus={rounded} (see --format boot)"
            ),
        });
    }
    let boot = boot_plan(topo, &dom0_cpus, &dom0_set);
    rules.push(RuleCheck {
        kind: RuleKind::Plan,
        rule: "dom0-boot-pin".into(),
        met: true,
        detail: boot.reason.clone(),
    });

    let assignments = assignments(&placements);
    let pool = (policy.strategy == Strategy::Cpupool && !protected.is_empty()).then(|| PoolPlan {
        name: POOL_NAME.into(),
        cpus: placements
            .iter()
            .filter(|p| p.role == Role::Protected)
            .fold(CpuList::new(), |a, p| a.union(&p.cpus))
            .difference(&dom0_cpus),
        domains: protected.iter().map(|d| d.name.clone()).collect(),
    });
    if let Some(pool) = &pool {
        if pool.cpus.is_empty() {
            rules.push(RuleCheck {
                kind: RuleKind::Plan,
                rule: "cpupool".into(),
                met: false,
                detail: "the protected VMs have no CPU apart from Dom-0's, so no cpupool can be made: use --strategy pin".into(),
            });
        }
    }
    Plan {
        target: Target::Xen,
        strategy: policy.strategy,
        topology: topo.source.clone(),
        assignments,
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

/// How many of the first cores it takes to hold `cpus` CPUs (at least one core).
fn cores_for(cores: &[Core], cpus: u32) -> usize {
    let mut have = 0u32;
    for (i, core) in cores.iter().enumerate() {
        have += core.cpus.len() as u32;
        if have >= cpus {
            return i + 1;
        }
    }
    cores.len().max(1)
}

/// Gives each protected VM whole cores from `free`; returns their CPU sets in input order
/// (empty when nothing could be given) and records the rules.
fn place_protected(
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

pub(super) fn nodes_of(topo: &Topology, cpus: &CpuList) -> Vec<u32> {
    topo.nodes
        .iter()
        .filter(|n| !n.cpus.is_disjoint(cpus))
        .map(|n| n.id)
        .collect()
}

/// Whether `dom0_vcpus_pin` can do Dom-0's pinning at boot: it places vCPU n on the n-th
/// online pCPU (sched_select_initial_cpu cycles through the CPUs in order), so it works only
/// if the first N CPUs are exactly Dom-0's whole cores.
pub(super) fn boot_plan(topo: &Topology, dom0: &CpuList, dom0_cores: &[&Core]) -> BootPlan {
    let n = dom0.len() as u32;
    let first_n: CpuList = topo.cpus.iter().take(n as usize).map(|c| c.id).collect();
    if &first_n == dom0 {
        BootPlan {
            dom0_max_vcpus: n,
            dom0_vcpus_pin: true,
            reason: format!("`dom0_max_vcpus={n} dom0_vcpus_pin` puts Dom-0's vCPUs on CPUs {dom0}, its planned whole cores"),
        }
    } else {
        let example = dom0_cores
            .first()
            .map(|c| format!("core {} is CPUs {}", c.core, c.cpus))
            .unwrap_or_default();
        BootPlan {
            dom0_max_vcpus: n,
            dom0_vcpus_pin: false,
            reason: format!(
                "`dom0_vcpus_pin` would put Dom-0 on CPUs {first_n} (vCPU n → pCPU n), which are not whole cores because SMT siblings are not numbered next to each other ({example}); boot with `dom0_max_vcpus={n}` only and pin Dom-0 at run time to {dom0}"
            ),
        }
    }
}

/// The assignments: Dom-0 one vCPU per CPU when the counts match (what dom0_vcpus_pin does),
/// otherwise every vCPU on the whole set; Dom-Us all vCPUs on their set.
fn assignments(placements: &[Placement]) -> Vec<Assignment> {
    let mut out = Vec::new();
    for p in placements {
        if p.role == Role::Dom0 && p.vcpus as usize == p.cpus.len() {
            for (vcpu, cpu) in p.cpus.iter().enumerate() {
                let one: CpuList = std::iter::once(cpu).collect();
                out.push(Assignment {
                    domain: p.domain.clone(),
                    vcpu: Vcpu::Number(vcpu as u32),
                    hard: one.clone(),
                    soft: one,
                });
            }
        } else {
            out.push(Assignment {
                domain: p.domain.clone(),
                vcpu: Vcpu::All,
                hard: p.cpus.clone(),
                soft: p.cpus.clone(),
            });
        }
    }
    out
}
