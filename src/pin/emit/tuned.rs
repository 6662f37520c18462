//! `--format tuned`: the variables file of tuned's `cpu-partitioning` profile, isolating every
//! CPU the plan gives to VMs from the host's housekeeping (interfaces.md §6.1: the profile
//! asserts that `isolated_cores` is set and online, and moves systemd's affinity, IRQs and
//! workqueues to the other CPUs, which are the plan's host cores).

use super::{failure_comment, host_and_guest_cpus, Emitter};
use crate::pin::model::Plan;

pub struct Tuned;

/// Where tuned reads the profile's variables.
pub const VARIABLES_FILE: &str = "/etc/tuned/cpu-partitioning-variables.conf";

impl Emitter for Tuned {
    fn emit(&self, plan: &Plan) -> anyhow::Result<String> {
        let (host, guests) = host_and_guest_cpus(plan, "tuned")?;
        let mut out = failure_comment(plan, "#");
        out.push_str(&format!(
            "# {VARIABLES_FILE}, from `remus-tune pin --format tuned`.\n# The VMs' CPUs {guests} are isolated; the host's own work keeps CPUs {host}.\n# Then: tuned-adm profile cpu-partitioning, and reboot (it changes the kernel command line).\nisolated_cores={guests}\n"
        ));
        Ok(out)
    }
}
