//! `--format boot`: the Xen command line options for Dom-0. `dom0_vcpus_pin` maps Dom-0 vCPU n
//! to pCPU n, which gives whole cores only when SMT siblings are numbered next to each other;
//! otherwise only the vCPU count goes on the boot line and Dom-0 is pinned at run time.

use super::Emitter;
use crate::pin::model::Plan;

pub struct Boot;

impl Emitter for Boot {
    fn emit(&self, plan: &Plan) -> anyhow::Result<String> {
        let mut out = boot_line(&plan.boot, "");
        if let Some(f) = &plan.failover {
            out.push_str(&format!("\n# On the backup ({}):\n", f.backup_topology));
            out.push_str(&boot_line(&f.backup_boot, "# "));
        }
        Ok(out)
    }
}

/// One host's boot line with its reason; `prefix` comments the line out (the backup's, which
/// goes on the other host).
fn boot_line(b: &crate::pin::model::BootPlan, prefix: &str) -> String {
    let line = if b.dom0_vcpus_pin {
        format!("dom0_max_vcpus={} dom0_vcpus_pin", b.dom0_max_vcpus)
    } else {
        format!("dom0_max_vcpus={}", b.dom0_max_vcpus)
    };
    format!("# {}\n# Add to the Xen (not the Linux) command line, e.g. GRUB_CMDLINE_XEN_DEFAULT.\n{prefix}{line}\n", b.reason)
}
