//! The `xl` and `virsh` commands that carry out a plan, as argument vectors. The `shell` and
//! `libvirt-xml` emitters print them and the appliers run them, so what an admin reads is
//! what we run.

use super::model::{cpus_of_role, Plan, Role, Strategy};
use crate::cpulist::CpuList;
use crate::virsh::Scope;

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

/// What one virsh pin is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinKind {
    Vcpu(u32),
    Emulator,
    Iothread(u32),
}

/// One virsh change: a vCPU, the emulator threads or an IOThread of a domain onto `cpus`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirshPin {
    pub domain: String,
    pub kind: PinKind,
    pub cpus: CpuList,
}

/// Both states: the running domain and its persistent definition.
pub const BOTH: [Scope; 2] = [Scope::Live, Scope::Config];

impl VirshPin {
    /// The virsh arguments for these scopes (`--live --config` to apply).
    pub fn args(&self, scopes: &[Scope]) -> Vec<String> {
        let mut args = match self.kind {
            PinKind::Vcpu(v) => vec!["vcpupin".into(), self.domain.clone(), v.to_string()],
            PinKind::Emulator => vec!["emulatorpin".into(), self.domain.clone()],
            PinKind::Iothread(id) => {
                vec!["iothreadpin".into(), self.domain.clone(), id.to_string()]
            }
        };
        args.push(self.cpus.to_string());
        args.extend(scopes.iter().map(|s| s.flag().to_string()));
        args
    }

    /// `web01 vCPU 0`, `web01 emulator`, `web01 IOThread 1`.
    pub fn what(&self) -> String {
        describe(&self.domain, self.kind)
    }
}

pub(crate) fn describe(domain: &str, kind: PinKind) -> String {
    match kind {
        PinKind::Vcpu(v) => format!("{domain} vCPU {v}"),
        PinKind::Emulator => format!("{domain} emulator"),
        PinKind::Iothread(id) => format!("{domain} IOThread {id}"),
    }
}

/// The pins a plan asks for: every vCPU on its domain's CPUs; the emulator threads and
/// IOThreads of protected VMs on the host's CPUs (they emulate the devices and do the
/// checkpoint copying and disk replication, as Dom-0 does on Xen), those of unprotected VMs
/// beside their vCPUs.
pub fn virsh_pins(plan: &Plan) -> Vec<VirshPin> {
    let host = cpus_of_role(&plan.placements, Role::Dom0);
    let mut out = Vec::new();
    for p in plan.placements.iter().filter(|p| p.role != Role::Dom0) {
        let pin = |kind, cpus: &CpuList| VirshPin {
            domain: p.domain.clone(),
            kind,
            cpus: cpus.clone(),
        };
        for v in 0..p.vcpus {
            out.push(pin(PinKind::Vcpu(v), &p.cpus));
        }
        let helpers = if p.role == Role::Protected && !host.is_empty() {
            &host
        } else {
            &p.cpus
        };
        out.push(pin(PinKind::Emulator, helpers));
        for id in plan.iothreads_of(&p.domain) {
            out.push(pin(PinKind::Iothread(id), helpers));
        }
    }
    out
}
