//! From placements to the plan's contract: one assignment per Dom-0 vCPU (when it has one CPU
//! each, as `dom0_vcpus_pin` would) and one `all` assignment per Dom-U.

use super::super::model::*;
use crate::cpulist::CpuList;

/// The assignments: Dom-0 one vCPU per CPU when the counts match (what dom0_vcpus_pin does),
/// otherwise every vCPU on the whole set; Dom-Us all vCPUs on their set.
pub(super) fn assignments(placements: &[Placement]) -> Vec<Assignment> {
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

/// The cpupool for the protected VMs (`--strategy cpupool`): their CPUs apart from Dom-0's.
pub(super) fn pool_plan(
    policy: &Policy,
    placements: &[Placement],
    rules: &mut Vec<RuleCheck>,
) -> Option<PoolPlan> {
    let protected: Vec<&Placement> = placements
        .iter()
        .filter(|p| p.role == Role::Protected)
        .collect();
    if policy.strategy != Strategy::Cpupool || protected.is_empty() {
        return None;
    }
    let dom0 = cpus_of_role(placements, Role::Dom0);
    let pool = PoolPlan {
        name: POOL_NAME.into(),
        cpus: protected
            .iter()
            .fold(CpuList::new(), |a, p| a.union(&p.cpus))
            .difference(&dom0),
        domains: protected.iter().map(|p| p.domain.clone()).collect(),
    };
    if pool.cpus.is_empty() {
        rules.push(RuleCheck {
            kind: RuleKind::Plan,
            rule: "cpupool".into(),
            met: false,
            detail: "the protected VMs have no CPU apart from Dom-0's, so no cpupool can be made: use --strategy pin".into(),
        });
    }
    Some(pool)
}
