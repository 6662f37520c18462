//! `--format text`: who gets which CPUs, the current pinning beside the plan, and one sentence
//! per rule saying whether it holds.

use super::Emitter;
use crate::output::table;
use crate::pin::model::{Placement, Plan, Role, RuleKind, Strategy, Vcpu};

pub struct Text;

impl Emitter for Text {
    fn emit(&self, plan: &Plan) -> anyhow::Result<String> {
        let strategy = match plan.strategy {
            Strategy::Pin => "pin",
            Strategy::Cpupool => "cpupool",
        };
        let mut out = format!("Pin plan ({strategy} strategy) for {}\n\n", plan.topology);
        out.push_str(&placements_table(&plan.placements));
        out.push('\n');
        let mut rows = vec![vec![
            "domain".to_string(),
            "vCPU".into(),
            "hard".into(),
            "soft".into(),
            "now (hard / soft)".into(),
        ]];
        for a in &plan.assignments {
            let mine: Vec<_> = plan
                .current
                .iter()
                .filter(|c| {
                    c.domain == a.domain && (a.vcpu == Vcpu::All || a.vcpu == Vcpu::Number(c.vcpu))
                })
                .collect();
            // One value when every vCPU has the same affinity, else each vCPU's.
            let same = mine
                .windows(2)
                .all(|w| (&w[0].hard, &w[0].soft) == (&w[1].hard, &w[1].soft));
            let now: Vec<String> = match mine.first() {
                Some(c) if same => vec![format!("{} / {}", c.hard, c.soft)],
                _ => mine
                    .iter()
                    .map(|c| format!("v{}: {} / {}", c.vcpu, c.hard, c.soft))
                    .collect(),
            };
            rows.push(vec![
                a.domain.clone(),
                a.vcpu.to_string(),
                a.hard.to_string(),
                a.soft.to_string(),
                if now.is_empty() {
                    "-".into()
                } else {
                    now.join("; ")
                },
            ]);
        }
        out.push_str(&table(&rows));
        if let Some(f) = &plan.failover {
            let how = if f.same_config {
                "the same CPUs as on the primary"
            } else {
                "its own CPUs (re-pin the VMs there after failover)"
            };
            out.push_str(&format!(
                "\nOn the backup ({}) after failover, {how}:\n",
                f.backup_topology
            ));
            out.push_str(&placements_table(&f.backup));
        }
        if let Some(pool) = &plan.pool {
            out.push_str(&format!(
                "\ncpupool {:?}: CPUs {} for {}\n",
                pool.name,
                pool.cpus,
                pool.domains.join(", ")
            ));
        }
        out.push('\n');
        for r in &plan.rules {
            out.push_str(&format!(
                "{} {}\n",
                match (r.met, r.kind) {
                    (true, _) => "ok:  ",
                    (false, RuleKind::Plan) => "FAIL:",
                    (false, RuleKind::Todo) => "todo:",
                },
                r.detail
            ));
        }
        out.push_str("\nDry run: nothing was changed. Apply with `remus-tune pin --apply`; make it survive reboot and failover with `--format xl-cfg` and `--format boot`.\n");
        Ok(out)
    }
}

/// Who gets which CPUs, one row per domain.
fn placements_table(placements: &[Placement]) -> String {
    let mut rows = vec![vec![
        "domain".to_string(),
        "role".into(),
        "vCPUs".into(),
        "CPUs".into(),
        "NUMA".into(),
    ]];
    for p in placements {
        let role = match p.role {
            Role::Dom0 if p.domain == crate::pin::DOM0 => "Dom-0",
            Role::Dom0 => "host",
            Role::Protected => "protected",
            Role::Shared => "shared",
        };
        let nodes: Vec<String> = p.nodes.iter().map(u32::to_string).collect();
        rows.push(vec![
            p.domain.clone(),
            role.into(),
            p.vcpus.to_string(),
            p.cpus.to_string(),
            nodes.join(","),
        ]);
    }
    table(&rows)
}
