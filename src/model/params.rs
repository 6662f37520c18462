//! The numbers the model runs on: host and link costs, and the admin's acceptance limits.
//!
//! These are plain typed values (seconds, bytes per second, fractions). Profiles
//! (`crate::profile`) fill them from YAML with units; the model never parses anything. The
//! defaults and their public sources live in the shipped profiles, one comment per value, and
//! in `reference/model.md`; this file only says what each term means in the model.

use serde::Serialize;

/// When the interval timer is armed (model.md §1).
#[derive(Serialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum IntervalSemantics {
    /// Xen ≥ 4.5 libxl: the timer starts after the backup committed the previous checkpoint
    /// (libxl_remus.c, remus_devices_commit_cb), so an epoch lasts `τ + T_ckpt`.
    AfterCommit,
    /// The old Python `remus` tool and QEMU micro-checkpointing slept `max(0, τ − T_ckpt)`,
    /// so an epoch lasts `max(τ, T_ckpt)`.
    Max,
}

/// What the guest waits for while it is suspended (model.md §3).
#[derive(Serialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum PausePolicy {
    /// Xen ≥ 4.6 migration stream v2 (xg_sr_save.c): pages go into the stream while the
    /// guest is suspended, so each dirty page costs the pause its send time.
    Stream,
    /// Remus 2008: pages are copied into a staging buffer while paused and sent after the
    /// guest resumes, so each dirty page costs the pause only its copy time.
    Staging,
}

/// Host and link costs. Times in seconds, rates in bytes per second.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct Costs {
    /// Suspending and resuming the guest (`t_suspend`, model.md §3).
    pub suspend_s: f64,
    /// Pages the guest's own suspend and resume write at every checkpoint (driver and timer
    /// state, stacks of frozen tasks): a measurement without checkpoints (log-dirty alone,
    /// a process scan) cannot see them, Remus sends them every time. Added to every
    /// checkpoint's dirty pages.
    pub suspend_pages: f64,
    /// Device checkpoint hooks: network-buffer barrier, disk checkpoint (`t_devices`).
    pub devices_s: f64,
    /// Copying one dirty page into a buffer (`c_page`; 3.7 µs in the Remus paper, Fig. 5).
    pub page_copy_s: f64,
    /// Dom-0 CPU to push one page into the stream (save helper, ssh), the floor of the
    /// per-page send time when the link is faster than the sender.
    pub page_send_cpu_s: f64,
    /// Bytes of stream the pipe and socket buffers take at copy speed while the guest is
    /// suspended, under `stream` (model.md §3: "unless the stream's socket buffer absorbs
    /// it"); they drain over the link after the resume.
    pub stream_buffer_bytes: f64,
    /// Effective replication link throughput `B` (not the NIC's nominal rate).
    pub link_bytes_per_s: f64,
    /// Round trip between primary and backup: the ack of each checkpoint.
    pub rtt_s: f64,
    /// Bytes sent per byte of dirty memory (`r`; 1.0 on current Xen).
    pub compression_ratio: f64,
    /// Lost guest time per first write to a page with log-dirty on (`c_fault`, §5).
    pub fault_s: f64,
    /// Guest time lost after every resume beyond the pause itself: thawing frozen tasks,
    /// timers catching up, xenbus (model.md §10). Fitted by `trial` from a probe; 0 when
    /// unknown.
    pub guest_resume_s: f64,
    /// Signed guest running time per checkpoint beyond τ (model.md §10, the Xen lab): Remus's
    /// suspend request waits for the guest to freeze its tasks and acknowledge, and the guest
    /// keeps running (working) meanwhile; what it loses at the resume counts against it. Only
    /// this net figure (handshake − resume loss) is identifiable from a probe, so `trial`
    /// fits it signed: positive, the guest runs longer than τ per epoch; negative, it loses
    /// time at each resume. 0 when unknown.
    pub handshake_s: f64,
    /// Intel PML: a vCPU exits once per `pml_batch` logged pages instead of per page.
    pub pml: bool,
    /// Pages per PML exit (the PML log holds 512 entries).
    pub pml_batch: f64,
    /// The log-dirty CLEAN walk, per GiB of guest memory (`c_clean_per_gib`, §3).
    pub clean_per_gib_s: f64,
    /// Dom-0 CPU per byte written to disk (blkback/DRBD), for the Dom-0 CPU term (§7).
    pub disk_cpu_per_byte_s: f64,
    /// When Dom-0 shares cores with the guest, each suspend waits for a Dom-0 vCPU to be
    /// scheduled (§7); this is that wait.
    pub shared_sched_wait_s: f64,
    pub interval_semantics: IntervalSemantics,
    pub pause_policy: PausePolicy,
}

impl Costs {
    /// Seconds to send one page over the link, or to push it through the sender, whichever
    /// is slower. `None` link means infinitely fast.
    pub fn page_send_s(&self, page_size: f64) -> f64 {
        let wire = if self.link_bytes_per_s.is_finite() && self.link_bytes_per_s > 0.0 {
            page_size * self.compression_ratio / self.link_bytes_per_s
        } else if self.link_bytes_per_s == 0.0 {
            f64::INFINITY
        } else {
            0.0
        };
        wire.max(self.page_send_cpu_s)
    }

    /// Seconds to send `bytes` of disk writes over the link.
    pub fn bytes_send_s(&self, bytes: f64) -> f64 {
        if bytes == 0.0 {
            0.0
        } else {
            bytes / self.link_bytes_per_s
        }
    }

    /// Lost guest time per dirty page from log-dirty tracking, PML amortised.
    pub fn fault_per_page_s(&self) -> f64 {
        if self.pml {
            self.fault_s / self.pml_batch.max(1.0)
        } else {
            self.fault_s
        }
    }
}

/// Which Dom-0 placement the verdict judges throughput with.
#[derive(Serialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Dom0Placement {
    /// Dom-0 on cores of its own, as `remus-tune pin` sets up.
    Pinned,
    /// Dom-0 and the guest spread over the same cores (Xen's default).
    Shared,
}

/// The admin's acceptance limits (an SLO). `None` means "no limit on this".
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct Limits {
    /// Largest acceptable loss of guest throughput, as a fraction (0.10 = 10 %).
    pub max_slowdown: Option<f64>,
    /// Largest acceptable p95 added network latency, seconds.
    pub max_added_latency_s: Option<f64>,
    /// Largest acceptable p95 pause, seconds.
    pub max_pause_s: Option<f64>,
    /// Largest share of the link replication may use (0.8 = 80 %).
    pub max_link_share: Option<f64>,
    /// Output commit on (`xl remus` default) or off (`-n`: no latency, no guarantee).
    pub network_buffering: bool,
    /// Which placement the slowdown limit is judged against.
    pub dom0: Dom0Placement,
}

/// One constant the model used, traceable to where it was set.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct Constant {
    /// `costs.page_copy`, `limits.max_slowdown`, …
    pub key: String,
    /// As written (`3.7us`).
    pub value: String,
    /// Which profile, file or command-line option set it.
    pub from: String,
    /// Line in that profile, when it came from one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// The source comment next to the value.
    pub note: String,
}

/// A profile ready for the model: limits, costs, and where each value came from. `crate::profile`
/// builds it from YAML; the model owns the type, so it depends on nothing that parses.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct Profile {
    pub name: String,
    pub description: String,
    /// The host cost set under the limits.
    pub host: String,
    pub costs: Costs,
    pub limits: Limits,
    pub constants: Vec<Constant>,
    /// The host cost set's `validation:` block, when `trial` wrote one.
    pub validation: Option<super::report::HostValidation>,
}
