//! Carrying a plan out, safely: journal first, then change, then read back and compare; any
//! failure or mismatch rolls back everything changed so far. Two appliers:
//!
//! - [`xen`]: `xl vcpu-pin` and `xl cpupool-*`, run with arguments (never a shell), read back
//!   with `xl vcpu-list` (Xen may change what it was told: cpupool intersection, xl.conf
//!   `vm.cpumask`, interfaces.md §0 item 15);
//! - [`process`]: `sched_setaffinity` on every thread of a QEMU/KVM or plain process (a PID
//!   alone would pin only its main thread, §0 item 14), read back from
//!   /proc/PID/task/TID/status;
//! - [`libvirt`]: `virsh vcpupin` / `emulatorpin` for libvirt guests, whose cgroups would clip
//!   and later overwrite raw affinities.

pub mod affinity;
pub mod libvirt;
pub mod process;
pub mod qmp;
pub mod xen;

/// One way in which the live state differs from the plan.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Drift {
    /// `vm1 vCPU 0` or `pid 1234 tid 1240 (worker)`.
    pub what: String,
    pub expected: String,
    pub actual: String,
}

impl std::fmt::Display for Drift {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: plan {}, live {}",
            self.what, self.expected, self.actual
        )
    }
}

/// Lists drifts one per line, indented, for error messages.
pub fn describe_drift(drift: &[Drift]) -> String {
    drift.iter().map(|d| format!("  {d}\n")).collect()
}
