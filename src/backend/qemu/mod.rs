//! The QEMU/KVM backend: a QEMU guest's RAM, disks and threads, per epoch.
//!
//! A guest is named by its QMP socket, its QEMU PID, or its libvirt domain name (`QemuTarget`).
//! Through QMP we learn where guest RAM sits in the QEMU process (`ram`), the disks' write
//! counters (`blockstats`), the vCPU and iothread TIDs (`threads`) and QEMU's own dirty-rate
//! estimate (`dirtyrate`, a cross-check only); the dirty pages themselves come from the process
//! backend's scanners (soft-dirty, hash, sample) run over exactly the RAM mappings in the QEMU
//! process, reporting guest frame numbers.
//!
//! Safety: the only QMP commands sent are queries, plus `calc-dirty-rate`, whose dirty-bitmap
//! mode we use only under KVM and outside migrations. Xen's `qmp-libxl-<domid>` is never
//! opened; Xen's `qmp-libxenstat-<domid>` is opened per query and closed at once.

pub mod blockstats;
pub mod dirtyrate;
pub mod libvirt;
pub mod maps;
mod monitor;
pub mod peer;
pub mod qmp;
pub mod ram;
mod target;
pub mod threads;

pub use target::QemuTarget;

use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};

use self::blockstats::DiskTotals;
use self::dirtyrate::CrossCheck;
use self::monitor::{open_socket, query_version, Monitor};
use self::qmp::{Execute, QmpError, Version};
use self::ram::{GuestRam, GuestRamSource};
use self::threads::{CpuByClass, QemuThreads};
use super::process::sample::SampleSize;
use super::process::scanner::{self, DirtyScanner};
use super::process::target::is_gone;
use super::{Backend, BackendError, Counters, EpochDetails, EpochSample};
use crate::backend::MethodChoice;
use crate::trace::{self, CpuClasses, MethodInfo, Target};

/// Validated options of the QEMU backend.
#[derive(Debug, Clone)]
pub struct QemuOptions {
    /// Deadline for every QMP reply.
    pub timeout: Duration,
    /// The base epoch: for `auto`'s choice of method and the calc-dirty-rate window.
    pub epoch: Duration,
    /// How dirty pages are found (the process backend's scanners).
    pub method: MethodChoice,
    pub sample: SampleSize,
    /// Run QEMU's calc-dirty-rate once as a cross-check.
    pub cross_check: bool,
}

impl Default for QemuOptions {
    fn default() -> Self {
        QemuOptions {
            timeout: qmp::DEFAULT_TIMEOUT,
            epoch: Duration::from_millis(25),
            method: MethodChoice::Auto,
            sample: SampleSize::new(4096, 2048),
            cross_check: true,
        }
    }
}

/// A QEMU guest being measured.
pub struct QemuBackend {
    monitor: Monitor,
    name: String,
    pid: i32,
    command: Vec<String>,
    version: Version,
    kvm: bool,
    ram: GuestRamSource,
    options: QemuOptions,
    scanner: Option<Box<dyn DirtyScanner>>,
    method: Option<MethodInfo>,
    threads: QemuThreads,
    cross: Option<CrossCheck>,
    disks: DiskTotals,
    cpu: CpuByClass,
    notes: Vec<String>,
}

impl QemuBackend {
    /// Connects to a QEMU guest and finds its RAM, disks and threads.
    pub fn connect(target: &QemuTarget, options: &QemuOptions) -> Result<QemuBackend> {
        let mut notes = Vec::new();
        let (mut monitor, pid, name) = match target {
            QemuTarget::Socket(path) => {
                let (monitor, pid) = open_socket(path, options.timeout)?;
                (monitor, pid, path.display().to_string())
            }
            QemuTarget::Pid(pid) => {
                let path = peer::socket_for_pid(*pid)?;
                notes.push(format!("QMP socket of QEMU {pid}: {}", path.display()));
                let (monitor, peer) = open_socket(&path, options.timeout)?;
                if peer != *pid {
                    bail!(
                        "{} belongs to process {peer}, not to QEMU {pid}",
                        path.display()
                    );
                }
                (monitor, *pid, pid.to_string())
            }
            QemuTarget::Libvirt(domain) => {
                let v = libvirt::Virsh::open(domain)?;
                let pid = v.qemu_pid()?;
                notes.push(libvirt::TAINT_NOTE.to_string());
                (Monitor::Virsh(v), pid, domain.clone())
            }
        };
        let version = query_version(&mut monitor)?;
        let kvm = monitor
            .execute("query-kvm", None)
            .ok()
            .and_then(|v| v["enabled"].as_bool())
            .unwrap_or(false);
        let ram = GuestRam::locate(&mut monitor, pid)
            .with_context(|| format!("cannot locate the RAM of QEMU {pid}"))?;
        notes.push(ram.layout.clone());
        let threads = QemuThreads::read(&mut monitor, pid)?;
        let libvirt = matches!(monitor, Monitor::Virsh(_));
        if libvirt && options.cross_check {
            notes.push(
                "no calc-dirty-rate cross-check through libvirt (only queries are sent); \
                 `virsh domdirtyrate-calc` runs it with libvirt's consent"
                    .into(),
            );
        }
        let cross = (options.cross_check && !libvirt).then(|| {
            let migrating = monitor
                .execute("query-migrate", None)
                .ok()
                .and_then(|v| {
                    v["status"]
                        .as_str()
                        .map(|s| s == "active" || s == "postcopy-active")
                })
                .unwrap_or(false);
            let plan = dirtyrate::plan(version, kvm, migrating, options.epoch.as_millis() as u64);
            if let Some(p) = &plan {
                notes.push(format!("calc-dirty-rate cross-check: {}", p.note));
            }
            CrossCheck::new(plan, process_age_s(pid).unwrap_or(0.0))
        });
        Ok(QemuBackend {
            command: peer::cmdline(pid).unwrap_or_default(),
            monitor,
            name,
            pid,
            version,
            kvm,
            ram: GuestRamSource::new(ram),
            options: options.clone(),
            scanner: None,
            method: None,
            threads,
            cross,
            disks: DiskTotals::default(),
            cpu: CpuByClass::default(),
            notes,
        })
    }

    pub fn pid(&self) -> i32 {
        self.pid
    }
    pub fn version(&self) -> Version {
        self.version
    }
    pub fn kvm_enabled(&self) -> bool {
        self.kvm
    }
    /// Guest RAM as found in the QEMU process.
    pub fn ram(&self) -> &GuestRam {
        self.ram.ram()
    }
    /// The RAM as a region source, for the process backend's scanners.
    pub fn region_source(&mut self) -> &mut GuestRamSource {
        &mut self.ram
    }
    /// vCPU, iothread and emulator threads, for `pin`.
    pub fn threads(&self) -> &QemuThreads {
        &self.threads
    }
    /// CPU seconds per thread class at the last collect (cumulative).
    pub fn cpu_by_class(&self) -> CpuByClass {
        self.cpu
    }
    /// Disk write counters at the last collect (cumulative, flushes included).
    pub fn disk_totals(&self) -> DiskTotals {
        self.disks
    }
    /// QEMU's calc-dirty-rate cross-check, once it has a result.
    pub fn cross_check(&self) -> Option<&dirtyrate::State> {
        self.cross.as_ref().map(CrossCheck::state)
    }
    /// Things the user should read before the results (taint, layout, cross-check window).
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    fn gone_or(&self, e: anyhow::Error) -> BackendError {
        // A killed QEMU stays a zombie until its parent reaps it: that is gone too.
        let gone = e.downcast_ref::<QmpError>().is_some_and(QmpError::is_gone) || is_gone(self.pid);
        if gone {
            BackendError::TargetGone(format!("QEMU (pid {}) exited: {e:#}", self.pid))
        } else {
            BackendError::Other(e)
        }
    }

    /// The method to ask the scanners for, and why when `auto` was overridden. Soft-dirty
    /// tracks a huge page as a whole, and QEMU asks for transparent huge pages on its RAM, so
    /// with huge pages in guest RAM soft-dirty would count 2 MiB per 4 KiB write.
    fn method_choice(&mut self) -> Result<(MethodChoice, Option<String>)> {
        let wants_soft_dirty = matches!(
            self.options.method,
            MethodChoice::Auto | MethodChoice::SoftDirty
        );
        if !wants_soft_dirty {
            return Ok((self.options.method, None));
        }
        let ram = self.ram.ram();
        let huge = maps::huge_page_bytes(self.pid, &ram.regions(), ram.page_size)?;
        if huge == 0 {
            return Ok((self.options.method, None));
        }
        let why = format!(
            "{} MiB of guest RAM is in, or eligible for, huge pages, and soft-dirty marks a \
             whole huge page dirty for one 4 KiB write",
            huge >> 20
        );
        if self.options.method == MethodChoice::SoftDirty {
            bail!(
                "--method soft-dirty would overcount: {why}; use --method hash or sample, or \
                 keep QEMU's RAM in base pages (transparent_hugepage=never)"
            );
        }
        Ok((MethodChoice::Hash, Some(format!("not soft-dirty: {why}"))))
    }

    /// Flushes and CPU by thread class as last read, cumulative.
    fn details(&self) -> EpochDetails {
        EpochDetails {
            flushes: Some(self.disks.flush_operations),
            cpu_classes: Some(CpuClasses {
                vcpu_s: self.cpu.vcpu_s,
                iothread_s: self.cpu.iothread_s,
                emulator_s: self.cpu.emulator_s,
            }),
            dom0: None,
        }
    }

    fn read_counters(&mut self) -> Result<Counters> {
        let disks = blockstats::read(&mut self.monitor)?;
        self.disks = blockstats::totals(&disks);
        self.threads.refresh_emulator()?;
        self.cpu = self.threads.cpu()?;
        Ok(Counters {
            write_bytes: self.disks.wr_bytes,
            write_requests: self.disks.wr_operations,
            cpu_s: self.cpu.total(),
        })
    }
}

/// Seconds since the process started (proc(5) stat field 22 against /proc/uptime).
fn process_age_s(pid: i32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 1..];
    let start_ticks: f64 = after.split_whitespace().nth(19)?.parse().ok()?;
    let uptime: f64 = std::fs::read_to_string("/proc/uptime")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    let tick = crate::sys::clock_ticks_per_second();
    Some(uptime - start_ticks / tick)
}

impl Backend for QemuBackend {
    fn target(&self) -> Target {
        Target {
            kind: "qemu-guest".into(),
            name: self.name.clone(),
            pid: Some(self.pid as u32),
            command: self.command.clone(),
        }
    }

    fn method(&self) -> MethodInfo {
        self.method.clone().unwrap_or_else(MethodInfo::not_started)
    }

    fn page_size(&self) -> u64 {
        self.ram.ram().page_size
    }

    fn memory_bytes(&self) -> u64 {
        self.ram.ram().bytes()
    }

    fn kind(&self) -> &'static str {
        "qemu"
    }

    fn start(&mut self) -> Result<Counters, BackendError> {
        let page_size = self.ram.ram().page_size;
        let choice = self.method_choice().map_err(|e| self.gone_or(e))?;
        let started = std::time::Instant::now();
        let mut chosen = scanner::choose(
            choice.0,
            &mut self.ram,
            page_size,
            self.options.epoch,
            self.options.sample,
        )
        .map_err(|e| self.gone_or(e))?;
        // `auto` without soft-dirty: hash if a scan fits a quarter of the epoch, as the
        // process backend decides, else sample.
        if choice.1.is_some() && started.elapsed() > self.options.epoch.mul_f64(0.25) {
            chosen = scanner::choose(
                MethodChoice::Sample,
                &mut self.ram,
                page_size,
                self.options.epoch,
                self.options.sample,
            )
            .map_err(|e| self.gone_or(e))?;
        }
        let mut info = chosen.info;
        if let Some(why) = choice.1 {
            info.reason = format!(
                "{why}; {} ms for one hash scan",
                started.elapsed().as_millis()
            );
        }
        info.reason = format!(
            "{}; over guest RAM only ({})",
            info.reason,
            self.ram.ram().layout
        );
        self.scanner = Some(chosen.scanner);
        self.method = Some(info);
        self.read_counters().map_err(|e| self.gone_or(e))
    }

    fn collect(&mut self) -> Result<EpochSample, BackendError> {
        let scanner = self
            .scanner
            .as_mut()
            .ok_or_else(|| BackendError::Other(anyhow!("collect before start")))?;
        let scale = scanner.scale();
        let dirty = match scanner.scan(&mut self.ram) {
            Ok(dirty) => dirty,
            Err(e) => return Err(self.gone_or(e)),
        };
        let counters = self.read_counters().map_err(|e| self.gone_or(e))?;
        if let Some(cross) = &mut self.cross {
            if let Err(e) = cross.poll(&mut self.monitor) {
                return Err(self.gone_or(e.into()));
            }
        }
        Ok(EpochSample {
            dirty,
            scale,
            counters,
            details: self.details(),
        })
    }

    fn baseline_details(&self) -> EpochDetails {
        self.details()
    }

    fn cross_check(&self) -> Option<trace::CrossCheck> {
        let cross = self.cross.as_ref()?;
        let plan = cross.plan();
        let (status, measured) = match cross.state() {
            dirtyrate::State::Done(measured) => ("done".to_string(), Some(measured)),
            dirtyrate::State::Skipped(why) => (format!("skipped: {why}"), None),
            dirtyrate::State::Waiting | dirtyrate::State::Measuring => (
                "not finished: the run ended before QEMU's window did".to_string(),
                None,
            ),
        };
        Some(trace::CrossCheck {
            source: "QEMU calc-dirty-rate".into(),
            status,
            mode: measured
                .map(|m| m.mode.clone())
                .or_else(|| plan.map(|p| p.mode.to_string())),
            window_ms: measured.map(|m| {
                if m.unit == "millisecond" {
                    m.calc_time
                } else {
                    m.calc_time * 1000
                }
            }),
            dirty_pages_per_s: measured.map(|m| m.pages_per_s(self.ram.ram().page_size)),
            note: plan.map(|p| p.note.clone()).unwrap_or_default(),
        })
    }

    fn stop(&mut self) -> Result<(), BackendError> {
        // Nothing to switch off: hash and sample change nothing; soft-dirty leaves only
        // write-protected PTEs that the kernel lifts on the next write. Closing QMP frees the
        // monitor for other clients.
        self.scanner = None;
        self.monitor = Monitor::Closed;
        Ok(())
    }
}
