//! The unprotected domains' share (rule 3): whatever Dom-0 and the protected VMs left, or,
//! when nothing is left, the CPUs outside Dom-0's (a broken rule, said so).

use super::super::model::*;
use super::nodes_of;
use crate::cpulist::CpuList;
use crate::topology::Topology;

/// Places every unprotected domain on the leftover CPUs and records the rule.
pub(super) fn place_shared(
    topo: &Topology,
    shared: &[&DomainSpec],
    placements: &mut Vec<Placement>,
    rules: &mut Vec<RuleCheck>,
) {
    if shared.is_empty() {
        return;
    }
    let used = placements
        .iter()
        .fold(CpuList::new(), |a, p| a.union(&p.cpus));
    let leftover = topo.all_cpus().difference(&used);
    let (cpus, rule) = if !leftover.is_empty() {
        let detail = format!(
            "{} unprotected domain(s) share CPUs {leftover}",
            shared.len()
        );
        (leftover, (true, detail))
    } else {
        let dom0 = cpus_of_role(placements, Role::Dom0);
        let protected = cpus_of_role(placements, Role::Protected);
        let fallback = topo.all_cpus().difference(&dom0);
        let fallback = if fallback.is_empty() {
            topo.all_cpus()
        } else {
            fallback
        };
        let detail = format!(
            "no CPU is left for the {} unprotected domain(s): they share CPUs {fallback}, which the protected VMs (CPUs {protected}) use too; protect fewer VMs, give Dom-0 fewer CPUs or stop unprotected domains",
            shared.len()
        );
        (fallback, (false, detail))
    };
    rules.push(RuleCheck {
        kind: RuleKind::Plan,
        rule: "shared-leftover".into(),
        met: rule.0,
        detail: rule.1,
    });
    for spec in shared {
        placements.push(Placement {
            domain: spec.name.clone(),
            role: Role::Shared,
            vcpus: spec.vcpus,
            nodes: nodes_of(topo, &cpus),
            cpus: cpus.clone(),
        });
    }
}
