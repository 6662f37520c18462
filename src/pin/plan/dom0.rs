//! Dom-0's share: how many whole cores it gets (rule 1), and whether the Xen boot line can
//! give it exactly those.

use super::super::model::*;
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

/// Whether `dom0_vcpus_pin` can do Dom-0's pinning at boot: it places vCPU n on the n-th
/// online pCPU (sched_select_initial_cpu cycles through the CPUs in order), so it works only
/// if the first N CPUs are exactly Dom-0's whole cores.
pub(in crate::pin) fn boot_plan(topo: &Topology, dom0: &CpuList, dom0_cores: &[&Core]) -> BootPlan {
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

/// Dom-0's cores: the first ones, as many as its size asks (`--dom0-cpus` or the default
/// rule), leaving one per protected VM where the host allows. Returns how many cores.
pub(super) fn dom0_cores(
    cores: &[Core],
    protected: usize,
    threads_per_core: u32,
    policy: &Policy,
    rules: &mut Vec<RuleCheck>,
) -> usize {
    let (wanted_cpus, sizing) = match policy.dom0_cpus {
        Some(n) => (n.max(1), format!("--dom0-cpus {n}")),
        None => (
            dom0_size_rule(protected, threads_per_core),
            format!("default rule ({DOM0_RULE_TEXT}) for {protected} protected VM(s)"),
        ),
    };
    let wanted = cores_for(cores, wanted_cpus);
    // Leave at least one core per protected VM when the host allows it.
    let spare = cores.len().saturating_sub(protected).max(1);
    let (count, rule) = if wanted > spare {
        // The default size is a preference; an explicit --dom0-cpus that cannot be had is a
        // rule the plan breaks.
        (spare, RuleCheck {
            kind: RuleKind::Plan,
            rule: "dom0-size".into(),
            met: policy.dom0_cpus.is_none(),
            detail: format!(
                "Dom-0 wanted {wanted_cpus} CPUs ({sizing}) but the host has {} cores for Dom-0 and {protected} protected VM(s): Dom-0 gets {spare} core(s)",
                cores.len(),
            ),
        })
    } else {
        let cpus: usize = cores.iter().take(wanted).map(|c| c.cpus.len()).sum();
        (
            wanted,
            RuleCheck {
                kind: RuleKind::Plan,
                rule: "dom0-size".into(),
                met: true,
                detail: format!("Dom-0 gets {cpus} CPU(s) on {wanted} whole core(s): {sizing}"),
            },
        )
    };
    rules.push(rule);
    let rounded: usize = cores.iter().take(count).map(|c| c.cpus.len()).sum();
    if policy.dom0_cpus.is_some_and(|n| (n as usize) < rounded) {
        rules.push(RuleCheck {
            kind: RuleKind::Plan,
            rule: "dom0-whole-cores".into(),
            met: true,
            detail: format!("--dom0-cpus was rounded up to {rounded} so that Dom-0 has whole cores (no SMT sibling shared)"),
        });
    }
    count
}

/// Dom-0 with more vCPUs than CPUs: they take turns, and only the boot line can fix it.
pub(super) fn vcpus_rule(dom0_vcpus: u32, cpus: u32) -> Option<RuleCheck> {
    (dom0_vcpus > cpus).then(|| RuleCheck {
        kind: RuleKind::Plan,
        rule: "dom0-vcpus".into(),
        met: false,
        detail: format!(
            "Dom-0 has {dom0_vcpus} vCPUs for {cpus} CPUs, so they take turns on them; boot Xen with dom0_max_vcpus={cpus} (see --format boot)"
        ),
    })
}
