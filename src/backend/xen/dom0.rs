//! Dom-0's CPU cost: all of Dom-0's vCPUs, and the save helper's own CPU time while Remus
//! runs. The model's Dom-0 contention term (model.md §7) is fed from these.
//!
//! Dom-0's time is the sum over its vCPUs, as `xl vcpu-list` shows them (0.1 s resolution;
//! fine for `trial` steps of many seconds). Per base epoch the measuring backend reads the
//! same sum from the hypervisor instead (`cpu_time` of domain 0 through libxenctrl, in
//! nanoseconds): running `xl` 40 times a second would itself cost Dom-0 CPU.

use crate::sys::cpuclock::process_cpu_seconds;
use crate::xl::VcpuList;
use std::collections::BTreeMap;

/// Dom-0's CPU seconds so far: the sum of its vCPUs' times in `xl vcpu-list`.
pub fn dom0_cpu_seconds(list: &VcpuList) -> Option<f64> {
    let rows: Vec<_> = list.rows.iter().filter(|r| r.domid == 0).collect();
    (!rows.is_empty()).then(|| rows.iter().map(|r| r.time_s).sum())
}

/// Dom-0's vCPU count in `xl vcpu-list`.
pub fn dom0_vcpus(list: &VcpuList) -> usize {
    list.rows.iter().filter(|r| r.domid == 0).count()
}

/// CPU time of the save helpers seen, summed over their lifetimes: one helper exits and
/// another starts when Remus is restarted.
#[derive(Debug, Default, Clone)]
pub struct HelperCpu {
    seen: BTreeMap<i32, f64>,
}

impl HelperCpu {
    /// Updates with the helper now running (if any); returns the total so far.
    pub fn update(&mut self, pid: Option<i32>) -> f64 {
        if let Some(pid) = pid {
            if let Ok(seconds) = process_cpu_seconds(pid) {
                self.seen.insert(pid, seconds);
            }
        }
        self.total()
    }

    /// Records a reading directly (tests, or a reading taken elsewhere).
    pub fn record(&mut self, pid: i32, seconds: f64) {
        self.seen.insert(pid, seconds);
    }

    pub fn total(&self) -> f64 {
        self.seen.values().sum()
    }

    pub fn any(&self) -> bool {
        !self.seen.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xl::parse_vcpu_list;

    #[test]
    fn dom0_time_from_the_lab_vcpu_list() {
        // Recorded in the Xen lab during Remus (tests/fixtures/xen/).
        let text = "Name                                ID  VCPU   CPU State   Time(s) Affinity (Hard / Soft)\n\
                    Domain-0                             0     0    0   r--      52.2  0 / all\n\
                    Meine-VM                             1     0    1   ---      53.1  1 / all\n";
        let list = parse_vcpu_list(text).unwrap();
        assert_eq!(dom0_cpu_seconds(&list), Some(52.2));
        assert_eq!(dom0_vcpus(&list), 1);
    }

    #[test]
    fn helper_time_adds_up_over_restarts() {
        let mut cpu = HelperCpu::default();
        cpu.record(140, 1.5);
        cpu.record(140, 2.0);
        cpu.record(200, 0.5);
        assert_eq!(cpu.total(), 2.5);
        let own = std::process::id() as i32;
        assert!(cpu.update(Some(own)) > 2.5);
    }
}
