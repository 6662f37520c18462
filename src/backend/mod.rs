//! Backends: things whose memory and disk we can observe per epoch.
//!
//! One trait, one implementation per kind of target: `process` (any Linux process), `qemu`
//! (a QEMU/KVM guest through QMP or libvirt) and `xen` (a Xen domain through `xl` and
//! libxenctrl). `select` is the one factory that turns a name into one of them. A backend
//! owns every OS and hypervisor detail; the measuring loop above it only sees page sets and
//! counters, and never knows which it is.

pub mod process;
pub mod qemu;
pub mod regions;
pub mod select;
pub mod xen;

use crate::pageset::PageSet;
use crate::trace::{CpuClasses, CrossCheck, Dom0Cpu, MethodInfo, Target};

/// How dirty pages are found (`--method`), for the backends that can choose: process and
/// QEMU. Xen always uses the hypervisor's log-dirty bitmap.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum MethodChoice {
    /// soft-dirty if the kernel supports it, else hash if one scan fits well inside the
    /// epoch, else sample.
    #[default]
    Auto,
    SoftDirty,
    Hash,
    Sample,
}

/// Why a backend could not go on.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The process or VM went away: the run ends with a valid partial trace.
    #[error("{0}")]
    TargetGone(String),
    /// Anything else; the message says what failed and what to do.
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// Cumulative counters of the target since it started; the loop takes differences.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Counters {
    /// Bytes the target caused to be written to storage.
    pub write_bytes: u64,
    /// Write requests (system calls for a process, block requests for a VM).
    pub write_requests: u64,
    /// CPU time of the target, all threads, in seconds.
    pub cpu_s: f64,
}

/// What one `collect` found.
#[derive(Debug, Clone, Default)]
pub struct EpochSample {
    /// Pages dirtied since the previous collect, in the backend's page numbering.
    pub dirty: PageSet,
    /// Multiplier from counted pages to estimated pages: 1 for exact methods, frame/sample
    /// for sampling.
    pub scale: f64,
    pub counters: Counters,
    /// What only some backends know, also cumulative.
    pub details: EpochDetails,
}

/// Cumulative counters only some backends have.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct EpochDetails {
    pub flushes: Option<u64>,
    pub cpu_classes: Option<CpuClasses>,
    /// Xen's Dom-0 and save-helper CPU seconds, cumulative from any fixed origin.
    pub dom0: Option<Dom0Cpu>,
}

/// Remus's checkpoints as a backend observing beside it has seen them (Xen's observe mode:
/// drops of `dirty_count`). Sizes are lower bounds: the backend samples between Remus's
/// CLEANs, so it misses what was dirtied after its last look before each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemusProgress {
    /// Checkpoints seen since measuring started.
    pub checkpoints: u64,
    /// Pages over all those checkpoints, at least.
    pub pages: u64,
    /// Pages per checkpoint, at least.
    pub median_pages: u64,
    pub max_pages: u64,
    /// False once the median comes from a bounded histogram rather than every size (the
    /// backend's doc states the error).
    pub exact: bool,
}

/// The wording of the trace's cross-check note and of the end-of-run summary.
impl std::fmt::Display for RemusProgress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} Remus checkpoints seen (drops of dirty_count); frames per checkpoint, at least: \
             median {}{}, max {}",
            self.checkpoints,
            if self.exact { "" } else { "~" },
            self.median_pages,
            self.max_pages
        )
    }
}

/// A target being measured.
pub trait Backend {
    /// What is measured, for the trace header.
    fn target(&self) -> Target;
    /// How dirty pages are found, and why that way.
    fn method(&self) -> MethodInfo;
    fn page_size(&self) -> u64;
    /// The memory the method watches, in bytes.
    fn memory_bytes(&self) -> u64;
    /// Name of the backend as written in the trace: `process`, `qemu` or `xen`.
    fn kind(&self) -> &'static str;
    /// Takes the baseline; after it, `collect` reports pages dirtied since the previous call.
    /// Returns the counters at the baseline, from which the first epoch's are measured.
    fn start(&mut self) -> Result<Counters, BackendError>;
    /// Pages dirtied since the previous call, and the cumulative counters now.
    fn collect(&mut self) -> Result<EpochSample, BackendError>;
    /// Dom-0's vCPUs, when the target is a Xen domain.
    fn dom0_vcpus(&self) -> Option<u32> {
        None
    }
    /// True when `collect` can give only a count per epoch, not the set of pages (Xen's
    /// observe mode): then only the base-epoch interval can be measured, since a union
    /// cannot be taken of counts.
    fn counts_only(&self) -> bool {
        false
    }
    /// The details at the baseline (see `EpochDetails`), read by `start`; the first epoch's
    /// are measured from these.
    fn baseline_details(&self) -> EpochDetails {
        EpochDetails::default()
    }
    /// The hypervisor's own dirty-rate figure, if this backend has one, for the trace's end.
    fn cross_check(&self) -> Option<CrossCheck> {
        None
    }

    /// Remus's checkpoints seen so far, when this backend observes beside a running Remus;
    /// `None` otherwise or before the first.
    fn remus_progress(&self) -> Option<RemusProgress> {
        None
    }

    /// How much measuring slowed the target (log-dirty faults), when the backend can tell.
    fn observer_effect(&self) -> Option<crate::observer::ObserverEffect> {
        None
    }

    /// Switches off whatever `start` switched on. Called on every exit path, so it must be
    /// safe to call twice and after a failed `start`.
    fn stop(&mut self) -> Result<(), BackendError>;
}
