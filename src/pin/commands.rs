//! The `xl` commands that carry out a plan, as argument vectors. The `shell` emitter prints
//! them and the Xen applier runs them, so what an admin reads is what we run.

use super::model::{Plan, Role, Strategy};

/// The pool a fresh Xen host boots with; protected VMs leave it under `--strategy cpupool`.
pub const BOOT_POOL: &str = "Pool-0";

/// One `xl` invocation (without the leading `xl`), and why it is there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XlCommand {
    pub args: Vec<String>,
}

impl XlCommand {
    fn new(args: &[&str]) -> Self {
        Self {
            args: args.iter().map(|s| s.to_string()).collect(),
        }
    }

    pub fn is_vcpu_pin(&self) -> bool {
        self.args.first().map(String::as_str) == Some("vcpu-pin")
    }
}

/// Every command, in the order that keeps each step valid: first pin the domains that stay
/// in Pool-0 (so none is pinned only to CPUs about to leave it, which Xen would silently reset
/// to `all`), then move CPUs to the new pool and the protected VMs into it, then pin them.
pub fn xl_commands(plan: &Plan) -> Vec<XlCommand> {
    let pin = |out: &mut Vec<XlCommand>, roles: &[Role]| {
        for a in &plan.assignments {
            let role = plan.placement(&a.domain).map(|p| p.role);
            if role.is_some_and(|r| roles.contains(&r)) {
                out.push(XlCommand::new(&[
                    "vcpu-pin",
                    &a.domain,
                    &a.vcpu.to_string(),
                    &a.hard.to_string(),
                    &a.soft.to_string(),
                ]));
            }
        }
    };
    let mut out = Vec::new();
    match (&plan.pool, plan.strategy) {
        (Some(pool), Strategy::Cpupool) if !pool.cpus.is_empty() => {
            pin(&mut out, &[Role::Dom0, Role::Shared]);
            let cpus = pool.cpus.to_string();
            out.push(XlCommand::new(&["cpupool-cpu-remove", BOOT_POOL, &cpus]));
            out.push(XlCommand::new(&[
                "cpupool-create",
                &format!("name=\"{}\"", pool.name),
                &format!("cpus=\"{cpus}\""),
            ]));
            for dom in &pool.domains {
                out.push(XlCommand::new(&["cpupool-migrate", dom, &pool.name]));
            }
            pin(&mut out, &[Role::Protected]);
        }
        _ => pin(&mut out, &[Role::Dom0, Role::Protected, Role::Shared]),
    }
    out
}

/// The commands that undo a cpupool made by [`xl_commands`]: back to Pool-0, pool gone, CPUs
/// returned. Affinities are restored separately, from the journal.
pub fn undo_pool_commands(pool: &str, cpus: &str, domains: &[String]) -> Vec<XlCommand> {
    let mut out: Vec<XlCommand> = domains
        .iter()
        .map(|d| XlCommand::new(&["cpupool-migrate", d, BOOT_POOL]))
        .collect();
    out.push(XlCommand::new(&["cpupool-destroy", pool]));
    out.push(XlCommand::new(&["cpupool-cpu-add", BOOT_POOL, cpus]));
    out
}
