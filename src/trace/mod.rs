//! The measurement file: what was measured, how, and every base epoch's results.
//!
//! A trace is one YAML document, versioned and self-describing: a header (target, method,
//! host, page size, base epoch, intervals, memory size, start time), then `epochs`, one line
//! per base epoch written as it ends, then an `end` record saying how the run ended. Because
//! the epochs are appended as they happen, a run stopped by Ctrl-C, SIGTERM, SIGHUP or the
//! target's death still leaves a valid trace of everything measured; a file with no `end`
//! record was cut off (the writer was killed, the disk filled) and readers say so instead of
//! guessing, or with `--partial` read it up to its last whole epoch, marked as such.
//!
//! Each epoch line also carries the interval windows longer than the base epoch that closed
//! with it: their counts are unions of page sets, which no later pass over counts can give.
//! Schema 2 writes an epoch as a compact JSON object (`codec`); a `.zst` file is the same text
//! compressed with zstd. Readers stream: one line at a time, memory bounded by a line, never
//! by the run (`reader`), and every invariant the writer keeps is checked as it goes
//! (`validate`).

mod codec;
mod fastline;
mod header;
mod reader;
mod source;
mod validate;
mod writer;

pub use reader::{read_trace, read_trace_with, ReadOptions, TraceError, TraceReader};
pub use writer::{Appended, Finished, TraceWriter, WriteFailure};

use serde::{Deserialize, Serialize};

/// The value of the `schema` key: tells a trace from any other YAML file.
pub const SCHEMA: &str = "remus-tune-trace";
/// Bumped on any change a reader of the previous version would misread. Optional fields a
/// previous reader can skip do not bump it: readers ignore keys they do not know, and every
/// added field has a `serde(default)`, so old traces read as "not measured". That is how
/// `flushes`, `cpu_classes` and `dom0` came in, all at version 1. Version 2 changed the
/// epoch line (short keys, no base-epoch window, start implied by the previous end) and added
/// the `hang-up` end; version 1 traces still read.
pub const SCHEMA_VERSION: u32 = 2;
/// The oldest schema this remus-tune reads.
pub const OLDEST_SCHEMA_VERSION: u32 = 1;

/// Everything known before the first epoch.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct TraceHeader {
    pub schema: String,
    pub schema_version: u32,
    pub tool_version: String,
    pub target: Target,
    /// `process`, `qemu` or `xen`.
    pub backend: String,
    pub method: MethodInfo,
    pub host: Host,
    pub page_size: u64,
    pub base_epoch_ms: f64,
    /// Every interval measured, each a multiple of the base epoch.
    pub intervals_ms: Vec<u64>,
    /// Memory the method watched: resident writable memory at the start for a process,
    /// guest RAM for a VM.
    pub memory_bytes: u64,
    /// RFC 3339, UTC.
    pub start_time: String,
}

impl TraceHeader {
    /// A header for a synthetic trace of a process measured with `hash`, with placeholder
    /// host facts: for the traces tests and benches make up, which then set what they need.
    pub fn synthetic(
        name: &str,
        base_epoch_ms: u64,
        intervals_ms: &[u64],
        memory_bytes: u64,
    ) -> Self {
        Self {
            schema: SCHEMA.into(),
            schema_version: SCHEMA_VERSION,
            tool_version: env!("CARGO_PKG_VERSION").into(),
            target: Target {
                kind: "process".into(),
                name: name.into(),
                pid: None,
                command: vec![],
            },
            backend: "process".into(),
            method: MethodInfo {
                name: "hash".into(),
                reason: "requested".into(),
                exact: true,
                sample: None,
            },
            host: Host {
                hostname: "synthetic".into(),
                kernel: "synthetic".into(),
                cpus: 2,
                dom0_vcpus: None,
            },
            page_size: 4096,
            base_epoch_ms: base_epoch_ms as f64,
            intervals_ms: intervals_ms.to_vec(),
            memory_bytes,
            start_time: "2026-11-26T12:00:00Z".into(),
        }
    }
}

/// What was measured.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Target {
    /// `process`, `qemu-guest` or `xen-domain`.
    pub kind: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
}

impl Target {
    /// `1234 (postgres)` for a process, the name otherwise.
    pub fn describe(&self) -> String {
        match self.pid {
            Some(pid) => format!("{pid} ({})", self.name),
            None => self.name.clone(),
        }
    }
}

/// How dirty pages were found, and why that way.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct MethodInfo {
    /// `soft-dirty`, `hash` or `sample`.
    pub name: String,
    /// Why this method was used (auto's reasoning, or "requested").
    pub reason: String,
    /// False for statistical methods whose counts are estimates.
    pub exact: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample: Option<SampleInfo>,
}

impl MethodInfo {
    /// What a backend reports before `start` has chosen its method.
    pub fn not_started() -> Self {
        Self {
            name: "unset".into(),
            reason: "not started".into(),
            exact: true,
            sample: None,
        }
    }
}

/// The fixed random sample behind the `sample` method.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct SampleInfo {
    /// Pages hashed every epoch.
    pub sampled_pages: u64,
    /// Pages the sample was drawn from; counts are scaled by frame/sampled.
    pub frame_pages: u64,
    pub per_gib: u64,
    pub seed: u64,
}

/// The machine the measurement ran on.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Host {
    pub hostname: String,
    pub kernel: String,
    pub cpus: u32,
    /// Dom-0's vCPUs, on a Xen host: what Dom-0's measured load is to be compared with.
    /// Optional like the other later fields, so older traces still read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dom0_vcpus: Option<u32>,
}

/// One base epoch, with its real (not nominal) start and end.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Epoch {
    pub n: u64,
    /// Seconds since `start_time`.
    pub start_s: f64,
    pub end_s: f64,
    /// Distinct pages dirtied in this epoch (scaled estimate for `sample`).
    pub dirty_pages: u64,
    /// Bytes the target caused to be written to storage (/proc/PID/io write_bytes).
    pub write_bytes: u64,
    /// Write system calls (/proc/PID/io syscw).
    pub syscw: u64,
    /// CPU time of the target, all threads.
    pub cpu_s: f64,
    /// Time the measurement itself took at this epoch's end (scan, bitmap read).
    pub scan_ms: f64,
    /// Interval windows that closed with this epoch.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub windows: Vec<WindowCount>,
    /// Disk flushes (QEMU guests: query-blockstats flush_operations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flushes: Option<u64>,
    /// CPU time by thread class (QEMU guests: vCPU, iothread, emulator threads).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_classes: Option<CpuClasses>,
    /// CPU time of the host's control domain (Xen guests: Dom-0, and libxl's save helper).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dom0: Option<Dom0Cpu>,
}

/// CPU seconds by kind of thread of a VM process.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Default)]
pub struct CpuClasses {
    pub vcpu_s: f64,
    pub iothread_s: f64,
    pub emulator_s: f64,
}

/// CPU seconds Xen's Dom-0 spent in one epoch: the checkpoint work of Remus happens there
/// (model.md §7), so the model's Dom-0 term can be fed from it.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Default)]
pub struct Dom0Cpu {
    /// All of Dom-0's vCPUs (the hypervisor's `cpu_time` of domain 0, what `xl vcpu-list`
    /// sums to). Includes the save helper and remus-tune itself, which run in Dom-0.
    pub cpu_s: f64,
    /// The domain's `libxl-save-helper` (Remus, COLO, a save) once one has been seen: the
    /// part of `cpu_s` that copies checkpoints into the stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub save_helper_s: Option<f64>,
}

/// A hypervisor's own dirty-rate figure, kept beside ours as a cross-check.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct CrossCheck {
    /// Who measured it, e.g. `QEMU calc-dirty-rate`.
    pub source: String,
    /// `done`, or why it has no figure (`skipped: …`, `not finished`).
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_ms: Option<u64>,
    /// Distinct pages per second over its window, as it reported them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dirty_pages_per_s: Option<f64>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
}

/// The dirty count of one checkpoint interval's window.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
pub struct WindowCount {
    pub interval_ms: u64,
    pub dirty_pages: u64,
}

/// How the run ended.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum EndReason {
    /// Ran for the whole requested duration.
    Completed,
    /// Ctrl-C (SIGINT).
    Interrupted,
    /// SIGTERM.
    Terminated,
    /// SIGHUP: the terminal or SSH session that ran `measure` went away.
    HangUp,
    /// The measured process or VM went away.
    TargetExited,
    /// A command started with --exec finished on its own.
    CommandExited,
    /// Measuring failed; `message` says why.
    Error,
    /// Never written: a trace without its `end` record, read with `--partial` up to its last
    /// whole epoch. The message says where it was cut.
    Truncated,
}

impl EndReason {
    /// True when the trace covers less than the requested duration.
    pub fn is_early(self) -> bool {
        self != EndReason::Completed
    }
}

/// The last record of a trace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct End {
    pub reason: EndReason,
    pub message: String,
    pub epochs: u64,
    pub duration_s: f64,
    /// Epochs that ran more than 20 % over the base epoch because measuring fell behind.
    pub late_epochs: u64,
    /// The hypervisor's own dirty-rate figure, when the backend has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cross_check: Option<CrossCheck>,
    /// How much the measurement itself slowed the guest (log-dirty faults), and how that was
    /// measured; absent when not measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observer_effect: Option<crate::observer::ObserverEffect>,
    /// Distinct pages dirtied over the whole measurement (the union of every epoch's set): the
    /// guest's working set as far as this trace saw it, which the model's dirty-set curve
    /// saturates at beyond the longest window. Absent in older traces and for methods that
    /// count without a set of pages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_set_pages: Option<u64>,
}

/// A whole trace as read back.
#[derive(Clone, Debug, PartialEq)]
pub struct Trace {
    pub header: TraceHeader,
    pub epochs: Vec<Epoch>,
    pub end: End,
}

/// Rounds seconds to microseconds: the clocks are not finer than that and the file stays
/// readable.
pub fn round_us(seconds: f64) -> f64 {
    (seconds * 1e6).round() / 1e6
}

impl TraceHeader {
    /// Every measured interval with the base epochs it spans, shortest first. Spans are
    /// whole by construction (`measure` refuses other intervals; readers check it).
    pub fn interval_spans(&self) -> Vec<(u64, u64)> {
        let mut spans: Vec<(u64, u64)> = self
            .intervals_ms
            .iter()
            .map(|&ms| {
                let span = (ms as f64 / self.base_epoch_ms).round();
                (ms, if span >= 1.0 { span as u64 } else { 1 })
            })
            .collect();
        spans.sort_unstable();
        spans.dedup();
        spans
    }
}
