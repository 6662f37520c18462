//! On a KVM or plain Linux host the role Dom-0 plays on Xen is the host's own work: the
//! planner's Dom-0 placement is renamed `host`, and its assignments dropped (remus-tune does
//! not pin the host's processes; `--format systemd` and `--format tuned` write the settings
//! that keep them on the host's cores).

use super::model::{Plan, RuleCheck, RuleKind, DOM0};

/// The name of the non-VM side on a KVM or plain-Linux host (Dom-0's role there).
pub const HOST: &str = "host";

/// Renames Dom-0 to `host` in a plan for a KVM or plain host, and says where the host's own
/// work should stay. The emulator threads of protected VMs go there, when they can be told
/// apart.
pub fn rename_host(plan: &mut Plan) {
    for p in &mut plan.placements {
        if p.domain == DOM0 {
            p.domain = HOST.into();
        }
    }
    for r in &mut plan.rules {
        r.detail = r.detail.replace("Dom-0", "the host");
    }
    plan.assignments.retain(|a| a.domain != DOM0);
    plan.rules.retain(|r| r.rule != "dom0-boot-pin");
    let host = plan
        .placement(HOST)
        .map(|p| p.cpus.to_string())
        .unwrap_or_default();
    plan.rules.push(RuleCheck {
        kind: RuleKind::Plan,
        rule: "host-housekeeping".into(),
        met: true,
        detail: format!("the host's own work should stay on CPUs {host}: `--format systemd` (CPUAffinity= or AllowedCPUs=) or `--format tuned` (isolated_cores) write that; remus-tune pins only the protected VMs and processes"),
    });
}
