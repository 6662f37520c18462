//! The Xen backend: a Dom-U's dirty pages through the hypervisor's log-dirty mode, its disk
//! writes from blkback (or QEMU), and Dom-0's CPU cost, measured from Dom-0 — safely beside
//! Remus.
//!
//! Two modes (interfaces.md §0, §2):
//! - **exclusive**: nobody else tracks the domain. ENABLE_LOGDIRTY, then one CLEAN per base
//!   epoch (the exact set of frames dirtied in it), then OFF on every exit path.
//! - **observe** (`--observe`, or by itself when Remus or COLO already runs): only the
//!   stats-only PEEK (no bitmap, zero pages) per epoch, reading `dirty_count`, the distinct
//!   frames dirtied since Remus's own last CLEAN. A count, not a set.
//!
//! Which calls may be made is decided by [`ownership`], a pure state machine; the calls
//! themselves are in [`libxenctrl`], loaded at run time. Host facts come from `xl`
//! ([`domain`]), disks from [`blkback`], Dom-0's cost from [`dom0`]. Dom-0's and the save
//! helper's CPU go into the trace's epochs (`dom0`), where the summary and the model read
//! them. The raw `dirty_count` Xen reports is not kept per epoch: after a CLEAN it is the
//! epoch's `dirty_pages`; in observe mode its drops (Remus's checkpoints) are counted by
//! [`observe`] and reported typed (`Backend::remus_progress`, read by `watch`) and in words
//! (the trace's `cross_check` and the end-of-run note).

pub mod blkback;
pub mod calibrate;
pub mod dom0;
pub mod domain;
pub mod libxenctrl;
pub mod observe;
pub mod ownership;
pub mod remus;
pub mod savehelper;
pub mod xenstore;

use crate::backend::{Backend, BackendError, Counters, EpochDetails, EpochSample, RemusProgress};
use crate::observer::{ObserverEffect, ObserverSource};
use crate::pageset::PageSet;
use crate::trace::{CrossCheck, Dom0Cpu, MethodInfo, Target};
use blkback::DiskWatch;
use dom0::HelperCpu;
use domain::XenDomain;
use libxenctrl::{XenCtrl, XenLogDirty};
use observe::ObserveStats;
use ownership::{Begin, EpochError, EpochReading, Refusal, Requested, Session};
use savehelper::ProcWatch;
use std::path::PathBuf;
use std::rc::Rc;

/// Xen's page size for guest frames.
pub const PAGE_SIZE: u64 = 4096;

/// How to measure.
#[derive(Debug, Clone)]
pub struct XenOptions {
    /// `--observe`: stats-only PEEK whatever runs.
    pub observe: bool,
    /// /sys and /var/run/xen, normally.
    pub sysfs: PathBuf,
    pub run_dir: PathBuf,
}

impl Default for XenOptions {
    fn default() -> Self {
        Self {
            observe: false,
            sysfs: PathBuf::from("/sys"),
            run_dir: PathBuf::from("/var/run/xen"),
        }
    }
}

/// A Xen domain being measured.
pub struct XenBackend {
    domain: XenDomain,
    options: XenOptions,
    ctrl: Option<Rc<XenCtrl>>,
    session: Option<Session<XenLogDirty, ProcWatch>>,
    frames: u64,
    memory_bytes: u64,
    observing: Option<Begin>,
    observe: ObserveStats,
    /// Page numbers handed out for observe-mode counts (fresh ones each epoch).
    next_synthetic: u64,
    bitmap: Vec<u64>,
    disks: DiskWatch,
    helper_cpu: HelperCpu,
    /// Dom-0's CPU at `start`, from which the first epoch's is measured.
    baseline_dom0: Option<Dom0Cpu>,
    /// The guest's CPU time before and while log-dirty is on: the observer effect's proxy.
    guest_cpu: GuestCpuProxy,
    stopped: bool,
}

/// Shortest window of guest CPU time before log-dirty goes on (from opening the domain to
/// `start`: `measure --warmup`) that makes a baseline for the proxy; shorter, no proxy.
const CPU_BASELINE: std::time::Duration = std::time::Duration::from_millis(500);

/// The guest's CPU seconds per wall second from the hypervisor (`xc_domain_getinfo`'s
/// cpu_time), before log-dirty tracking and while it is on: a proxy for the observer effect
/// when no probe of the guest's own work is given. A proxy only: Xen can charge the time it
/// spends on the guest's write faults to the guest, so a guest slowed by faults may still
/// show its full CPU time; the trace says which source it is.
#[derive(Default)]
struct GuestCpuProxy {
    /// (when, guest CPU seconds) at `new`.
    opened: Option<(std::time::Instant, f64)>,
    /// CPU seconds per second before log-dirty, and the reading log-dirty started from.
    before: Option<(f64, std::time::Instant, f64)>,
}

impl XenBackend {
    /// Opens libxenctrl and sizes the bitmap; nothing is switched on until `start`.
    pub fn new(domain: XenDomain, options: XenOptions) -> anyhow::Result<Self> {
        let ctrl = Rc::new(XenCtrl::open()?);
        let info = ctrl.domain_info(domain.domid)?;
        let opened = (std::time::Instant::now(), info.cpu_time_ns as f64 / 1e9);
        let frames = ctrl.nr_gpfns(domain.domid)?;
        let disks = DiskWatch::new(
            domain.domid,
            &domain.disks,
            &options.sysfs,
            &options.run_dir,
        );
        Ok(Self {
            memory_bytes: info.tot_pages * PAGE_SIZE,
            frames,
            bitmap: vec![0; frames.div_ceil(64) as usize],
            ctrl: Some(ctrl),
            session: None,
            observing: None,
            observe: ObserveStats::default(),
            next_synthetic: 0,
            disks,
            helper_cpu: HelperCpu::default(),
            baseline_dom0: None,
            guest_cpu: GuestCpuProxy {
                opened: Some(opened),
                before: None,
            },
            stopped: false,
            domain,
            options,
        })
    }

    /// The guest's CPU seconds now, with the time read.
    fn guest_cpu_now(&self) -> Option<(std::time::Instant, f64)> {
        let info = self.ctrl.as_ref()?.domain_info(self.domain.domid).ok()?;
        Some((std::time::Instant::now(), info.cpu_time_ns as f64 / 1e9))
    }

    /// Reads the guest's CPU rate without log-dirty, since `new` (the warm-up), when that
    /// window is at least `CPU_BASELINE` long.
    fn guest_cpu_before(&mut self) {
        let Some((t0, c0)) = self.guest_cpu.opened else {
            return;
        };
        if t0.elapsed() < CPU_BASELINE {
            return;
        }
        if let Some((t1, c1)) = self.guest_cpu_now() {
            let rate = (c1 - c0) / t1.duration_since(t0).as_secs_f64().max(1e-9);
            self.guest_cpu.before = Some((rate, t1, c1));
        }
    }

    fn ctrl(&self) -> Result<&Rc<XenCtrl>, BackendError> {
        self.ctrl
            .as_ref()
            .ok_or_else(|| BackendError::Other(anyhow::anyhow!("libxenctrl is closed")))
    }

    /// Cumulative counters: disk writes, the guest's CPU time. Also checks it still lives.
    fn counters(&mut self) -> Result<Counters, BackendError> {
        let info = match self.ctrl()?.domain_info(self.domain.domid) {
            Ok(info) if !info.dying() => info,
            Ok(_) | Err(libxenctrl::XenCtrlError::NoDomain(_)) => {
                return Err(BackendError::TargetGone(format!(
                    "domain {} ({}) was destroyed",
                    self.domain.domid, self.domain.name
                )))
            }
            Err(err) => return Err(BackendError::Other(err.into())),
        };
        let disk = self.disks.read();
        Ok(Counters {
            write_bytes: disk.bytes,
            write_requests: disk.requests,
            cpu_s: info.cpu_time_ns as f64 * 1e-9,
        })
    }

    /// Dom-0's CPU so far (cumulative, the measuring loop takes differences): all its vCPUs
    /// from the hypervisor, and the domain's save helper once one has been seen. Read from
    /// libxenctrl, not `xl vcpu-list`: the same sum in nanoseconds instead of 0.1 s, and
    /// without starting `xl` once per epoch, which would itself cost Dom-0 CPU (dom0.rs).
    fn dom0_cpu(&mut self) -> Option<Dom0Cpu> {
        let helper = self.session.as_ref().and_then(|s| s.watch.last.as_ref());
        let helper_total = self.helper_cpu.update(helper.map(|h| h.pid));
        let ns = self.ctrl.as_ref()?.domain_info(0).ok()?.cpu_time_ns;
        Some(Dom0Cpu {
            cpu_s: ns as f64 * 1e-9,
            save_helper_s: self.helper_cpu.any().then_some(helper_total),
        })
    }

    /// The summary of observe mode, said at the end.
    fn observe_summary(&self) -> String {
        let o = &self.observe;
        let mut text = format!(
            "observe mode: {} PEEKs; {}",
            o.epochs,
            self.observe.progress().map_or_else(
                || "no drop of dirty_count (no Remus checkpoint seen)".into(),
                |p| p.to_string()
            )
        );
        if o.zero_epochs == o.epochs && o.epochs > 0 {
            text += ". Every PEEK gave 0: log-dirty is probably not on (is Remus running?), \
                     so these zeros mean unknown, not idle";
        } else if o.zero_epochs > 0 {
            text += &format!(
                "; {} PEEKs gave 0 (unknown: right after Remus's CLEAN, or log-dirty off)",
                o.zero_epochs
            );
        }
        text
    }
}

impl Backend for XenBackend {
    fn target(&self) -> Target {
        Target {
            kind: "xen-domain".into(),
            name: self.domain.name.clone(),
            pid: None,
            command: vec![format!("domid {}", self.domain.domid)],
        }
    }

    fn method(&self) -> MethodInfo {
        let xen = self
            .domain
            .xen_version
            .as_deref()
            .map(|v| format!("Xen {v}, "))
            .unwrap_or_default();
        match &self.observing {
            Some(Begin::Observe { because }) => MethodInfo {
                name: "xen-peek-stats".into(),
                reason: format!(
                    "{xen}observe mode{}: only the stats-only PEEK (no bitmap, zero pages), \
                     never CLEAN or OFF. dirty_count is a COUNT, not a set: each epoch records \
                     its growth since the previous epoch (frames first dirtied since Remus's \
                     last CLEAN); interval values are sums of those and over-count frames \
                     rewritten across a Remus checkpoint, so only the base epoch is \
                     meaningful; a 0 means unknown, not idle",
                    match because {
                        Some(kind) => format!(" (chosen because {kind} runs on this domain)"),
                        None => " (--observe)".into(),
                    }
                ),
                exact: false,
                sample: None,
            },
            _ => MethodInfo {
                name: "xen-logdirty".into(),
                reason: format!(
                    "{xen}exclusive: remus-tune switched log-dirty on and takes one CLEAN per \
                     base epoch (the exact set of frames dirtied); it is switched off at the \
                     end. Writes QEMU makes into guest RAM for emulated devices are not seen"
                ),
                exact: true,
                sample: None,
            },
        }
    }

    fn page_size(&self) -> u64 {
        PAGE_SIZE
    }

    fn memory_bytes(&self) -> u64 {
        self.memory_bytes
    }

    fn kind(&self) -> &'static str {
        "xen"
    }

    fn start(&mut self) -> Result<Counters, BackendError> {
        if !self.options.observe {
            self.guest_cpu_before();
        }
        let ctrl = Rc::clone(self.ctrl()?);
        let ops = XenLogDirty::new(Rc::clone(&ctrl), self.domain.domid, self.frames);
        let watch = ProcWatch::from_env(self.domain.domid);
        let mut session = Session::new(ops, watch, self.domain.is_pv());
        let requested = if self.options.observe {
            Requested::Observe
        } else {
            Requested::Auto
        };
        let begin = session.start(requested);
        self.session = Some(session);
        match begin {
            Ok(Begin::Observe { because }) => {
                if let Some(kind) = because {
                    crate::note!(
                        "{kind} is running on domain {}: measuring in observe mode (stats-only \
                         PEEK; nothing is cleaned or switched off)",
                        self.domain.domid
                    );
                }
                self.observing = Some(Begin::Observe { because });
            }
            Ok(_) => {}
            Err(refusal) => return Err(BackendError::Other(refusal.into())),
        }
        // A save helper already running (observe mode) has CPU from before the run: the
        // baseline holds it, so the first epoch gets only its own.
        self.baseline_dom0 = self.dom0_cpu();
        if !self.disks.unread.is_empty() {
            crate::warn!(
                "no write statistics for {} (only blkback and qdisk disks are read)",
                self.disks.unread.join(", ")
            );
        }
        // The baseline PEEK in observe mode; exclusive mode's bitmap starts empty at ENABLE.
        if self.observing.is_some() {
            if let Some(session) = self.session.as_mut() {
                if let Ok(EpochReading::Count(stats)) = session.epoch(&mut self.bitmap) {
                    self.observe.previous = Some(stats.dirty_count);
                }
            }
        }
        self.counters()
    }

    fn collect(&mut self) -> Result<EpochSample, BackendError> {
        let Some(session) = self.session.as_mut() else {
            return Err(BackendError::Other(anyhow::anyhow!(
                "measuring was not started"
            )));
        };
        let reading = match session.epoch(&mut self.bitmap) {
            Ok(reading) => reading,
            Err(EpochError::Refused(refusal)) => {
                return Err(BackendError::Other(anyhow::Error::new(refusal)))
            }
            Err(EpochError::Call { errno, .. }) if errno == libc::ESRCH => {
                return Err(BackendError::TargetGone(format!(
                    "domain {} ({}) went away",
                    self.domain.domid, self.domain.name
                )))
            }
            Err(err) => return Err(BackendError::Other(err.into())),
        };
        let mut dirty = PageSet::new();
        match reading {
            EpochReading::Set(_) => {
                for (w, word) in self.bitmap.iter().enumerate() {
                    let mut bits = *word;
                    while bits != 0 {
                        let bit = bits.trailing_zeros() as u64;
                        dirty.insert(w as u64 * 64 + bit);
                        bits &= bits - 1;
                    }
                }
            }
            EpochReading::Count(stats) => {
                let grown = self.observe.push(stats.dirty_count);
                // Fresh page numbers: the windows' unions become sums of counts.
                for page in self.next_synthetic..self.next_synthetic + grown {
                    dirty.insert(page);
                }
                self.next_synthetic += grown;
            }
        }
        let counters = self.counters()?;
        Ok(EpochSample {
            dirty,
            scale: 1.0,
            counters,
            details: EpochDetails {
                dom0: self.dom0_cpu(),
                ..EpochDetails::default()
            },
        })
    }

    fn counts_only(&self) -> bool {
        self.observing.is_some()
    }

    fn dom0_vcpus(&self) -> Option<u32> {
        let info = self.ctrl.as_ref()?.domain_info(0).ok()?;
        Some(info.online_vcpus)
    }

    fn baseline_details(&self) -> EpochDetails {
        EpochDetails {
            dom0: self.baseline_dom0,
            ..EpochDetails::default()
        }
    }

    /// In observe mode, what Remus's own counter said: the last `dirty_count` before each
    /// drop is (at least) the frames one of its checkpoints took. Kept in the trace so the
    /// per-checkpoint sizes outlive the run; they are a lower bound, not our figure again.
    fn cross_check(&self) -> Option<CrossCheck> {
        self.observing.as_ref()?;
        let seen = self.observe.progress();
        Some(CrossCheck {
            source: "Xen dirty_count before Remus's CLEANs".into(),
            status: if seen.is_some() {
                "done".into()
            } else {
                "skipped: no drop of dirty_count seen (no Remus checkpoint between two PEEKs)"
                    .into()
            },
            mode: Some("stats-only PEEK".into()),
            window_ms: None,
            dirty_pages_per_s: None,
            note: seen.map(|p| p.to_string()).unwrap_or_default(),
        })
    }

    fn remus_progress(&self) -> Option<RemusProgress> {
        self.observing.as_ref()?;
        self.observe.progress()
    }

    /// Exclusive mode only (observing beside Remus, the slowdown is Remus's): the guest's CPU
    /// rate while log-dirty was on against before, a proxy (see `GuestCpuProxy`).
    fn observer_effect(&self) -> Option<ObserverEffect> {
        if self.observing.is_some() {
            return None;
        }
        let (before, t1, c1) = self.guest_cpu.before?;
        let (t2, c2) = self.guest_cpu_now()?;
        let during = (c2 - c1) / t2.duration_since(t1).as_secs_f64().max(1e-9);
        ObserverEffect::from_rates(before, during, None, ObserverSource::GuestCpuTime)
    }

    fn stop(&mut self) -> Result<(), BackendError> {
        if self.stopped {
            return Ok(());
        }
        self.stopped = true;
        if self.observing.is_some() {
            crate::note!("{}", self.observe_summary());
        }
        if self.disks.resets() > 0 {
            crate::note!(
                "note: disk counters restarted {} time(s) (a frontend reconnect); the writes \
                 around it are counted from the restart",
                self.disks.resets()
            );
        }
        if let Some(err) = &self.disks.qmp_error {
            crate::warn!("QEMU disk statistics unavailable: {err}");
        }
        let Some(session) = self.session.as_mut() else {
            return Ok(());
        };
        let owned_before = session.owns();
        let result = session.stop();
        if let ownership::State::Yielded(kind) = session.state() {
            crate::note!(
                "{kind} took over domain {}'s log-dirty mode: remus-tune did not switch it off",
                self.domain.domid
            );
        }
        match result {
            Ok(()) => {
                if owned_before {
                    crate::note!("log-dirty switched off for domain {}", self.domain.domid);
                }
                Ok(())
            }
            Err(errno) => Err(BackendError::Other(anyhow::anyhow!(
                "switching log-dirty off for domain {} failed: {}. It stays on (the guest runs \
                 a little slower) until a save, migration or Remus run switches it off",
                self.domain.domid,
                std::io::Error::from_raw_os_error(errno)
            ))),
        }
    }
}

impl Drop for XenBackend {
    fn drop(&mut self) {
        // The measuring loop's guard calls stop; this covers callers that do not.
        let _ = self.stop();
        self.session = None;
        self.ctrl = None;
    }
}

/// A refusal as an error (for callers that show it).
pub fn refusal_error(refusal: Refusal) -> anyhow::Error {
    anyhow::Error::new(refusal)
}
