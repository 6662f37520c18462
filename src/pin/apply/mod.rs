//! Carrying a plan out, safely: journal first, then change, then read back and compare; any
//! failure or mismatch rolls back everything changed so far. One [`Applier`] per way of
//! pinning:
//!
//! - [`xen::XenApplier`]: `xl vcpu-pin` and `xl cpupool-*`, run with arguments (never a
//!   shell), read back with `xl vcpu-list` (Xen may change what it was told: cpupool
//!   intersection, xl.conf `vm.cpumask`, interfaces.md §0 item 15);
//! - [`process::ProcessApplier`]: `sched_setaffinity` on every thread of a plain process or a
//!   QEMU (a PID alone would pin only its main thread, §0 item 14), read back from
//!   /proc/PID/task/TID/status. For a QEMU whose vCPU threads are known (QMP
//!   `query-cpus-fast` through [`qmp`], or QEMU's `CPU n/KVM` thread names) the targets carry
//!   the split: vCPU threads on the VM's cores, emulator threads on the host's;
//! - [`libvirt::LibvirtApplier`]: `virsh vcpupin` / `emulatorpin` / `iothreadpin`, live and
//!   persistent, for libvirt guests, whose cgroups would clip and overwrite raw affinities.
//!
//! What an applier did comes back as data ([`Applied`], [`Drift`], the revert lines), and the
//! command turns it into an [`ApplyReport`] printed through [`crate::output`], so `--apply`,
//! `--check` and `--revert` honour `--format text|json|yaml` like every other result.

pub mod affinity;
pub mod libvirt;
pub mod process;
pub mod qmp;
mod report;
pub mod xen;

pub use report::{Action, ApplyReport};

use crate::pin::journal::{Journal, JournalBackend};
use crate::pin::model::Plan;
use anyhow::Result;
use std::path::Path;

/// One way of carrying a plan out. Every method reads back what it changed; `apply` journals
/// before the first change and rolls back on any failure, returning the error that says so.
pub trait Applier {
    /// The journal kind this applier writes and can revert.
    fn backend(&self) -> JournalBackend;
    /// The live state against the plan: empty when they match.
    fn check(&self, plan: &Plan) -> Result<Vec<Drift>>;
    /// Journal to `journal`, apply, read back; roll back and fail on any mismatch.
    fn apply(&self, plan: &Plan, journal: &Path) -> Result<Applied>;
    /// Restores a journal and moves it aside; one line per entry restored (or skipped).
    fn revert(&self, journal_path: &Path, journal: &Journal) -> Result<Vec<String>>;
}

/// What an apply changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// Commands run, or threads pinned.
    pub changed: usize,
    /// One line per command, or per process with its CPUs.
    pub changes: Vec<String>,
}

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
