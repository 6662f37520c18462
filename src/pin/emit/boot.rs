//! `--format boot`: the Xen command line options for Dom-0. `dom0_vcpus_pin` maps Dom-0 vCPU n
//! to pCPU n, which gives whole cores only when SMT siblings are numbered next to each other;
//! otherwise only the vCPU count goes on the boot line and Dom-0 is pinned at run time.

use super::Emitter;
use crate::pin::model::Plan;

pub struct Boot;

impl Emitter for Boot {
    fn emit(&self, plan: &Plan) -> anyhow::Result<String> {
        let b = &plan.boot;
        let line = if b.dom0_vcpus_pin {
            format!("dom0_max_vcpus={} dom0_vcpus_pin", b.dom0_max_vcpus)
        } else {
            format!("dom0_max_vcpus={}", b.dom0_max_vcpus)
        };
        Ok(format!("# {}\n# Add to the Xen (not the Linux) command line, e.g. GRUB_CMDLINE_XEN_DEFAULT.\n{line}\n", b.reason))
    }
}
