//! `--format systemd`: keep the host's own work (services, logins, PID 1) on the host's cores
//! in the plan, off the cores of the protected VMs. A script to review and run as root; what it
//! writes is persistent.
//!
//! - libvirt guests run in `machine.slice`, so `system.slice`, `user.slice` and `init.scope`
//!   are confined with `AllowedCPUs=` (cgroup v2 cpuset, systemd ≥ 244) through `systemctl
//!   set-property`, which applies it at once and stores a drop-in under
//!   /etc/systemd/system.control/ (where scopes, which have no unit file, take drop-ins).
//! - Protected plain processes and plain QEMUs usually run *inside* `system.slice` (a
//!   service) or `user.slice` (a login), where `AllowedCPUs=` would confine them too. For them
//!   the form is `CPUAffinity=` in a system.conf drop-in instead: only the affinity every
//!   process inherits from PID 1, which `pin --apply` then widens per protected thread.

use super::{failure_comment, host_and_guest_cpus, Emitter};
use crate::pin::model::{Plan, Target};

pub struct Systemd;

/// The units that hold the host's own work, and their section name in a drop-in.
const UNITS: [(&str, &str); 3] = [
    ("system.slice", "Slice"),
    ("user.slice", "Slice"),
    ("init.scope", "Scope"),
];

/// Where the system.conf drop-in goes.
pub const SYSTEM_CONF_DROP_IN: &str = "/etc/systemd/system.conf.d/50-remus-tune.conf";

impl Emitter for Systemd {
    fn emit(&self, plan: &Plan) -> anyhow::Result<String> {
        let (host, guests) = host_and_guest_cpus(plan, "systemd")?;
        let mut out = String::from("#!/bin/sh\n");
        out.push_str(&failure_comment(plan, "#"));
        out.push_str(&format!(
            "# remus-tune pin --format systemd: the host's own work stays on CPUs {host}, off the VMs' CPUs {guests}.\nset -e\n"
        ));
        if plan.target == Target::Libvirt {
            out.push_str("# The guests run in machine.slice, which is left alone. set-property applies at once and\n# writes /etc/systemd/system.control/UNIT.d/50-AllowedCPUs.conf, e.g. [Slice] AllowedCPUs=…\n");
            for (unit, _) in UNITS {
                out.push_str(&format!(
                    "systemctl set-property {unit} AllowedCPUs={host}\n"
                ));
            }
            out.push_str(&format!(
                "# Undo: systemctl set-property UNIT AllowedCPUs= for {}.\n",
                UNITS.map(|u| u.0).join(", ")
            ));
        } else {
            out.push_str(&format!(
                "# CPUAffinity= (not AllowedCPUs=, which would also confine protected processes that run in\n# system.slice or user.slice): the affinity every process inherits; `pin --apply` widens it\n# for the protected threads. It takes effect at the next boot, or for services started\n# after `systemctl daemon-reexec`. Undo: rm {SYSTEM_CONF_DROP_IN}\n"
            ));
            out.push_str(&format!(
                "mkdir -p \"${{ROOT:-}}/etc/systemd/system.conf.d\"\ncat > \"${{ROOT:-}}{SYSTEM_CONF_DROP_IN}\" <<'EOF'\n[Manager]\nCPUAffinity={host}\nEOF\n"
            ));
        }
        Ok(out)
    }
}
