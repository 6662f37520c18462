//! Which backend a TARGET names, and the backend built for it.
//!
//! `--backend auto` tries, in order: a QMP socket path, the PID of a QEMU process (its guest
//! is measured), a PID or name of any other process, and last a libvirt domain name. It says
//! on stderr what it chose, so an admin never wonders which thing was measured.

use crate::backend::process::sample::SampleSize;
use crate::backend::process::target::{resolve as resolve_process, ProcessTarget};
use crate::backend::process::{ProcessBackend, ProcessOptions};
use crate::backend::qemu::{libvirt, peer, QemuBackend, QemuOptions, QemuTarget};
use crate::backend::Backend;
use crate::cli::{BackendChoice, MethodChoice};
use anyhow::Result;
use std::path::Path;
use std::time::Duration;

/// A resolved target, before its backend is built.
pub enum Resolved {
    Process(ProcessTarget),
    Qemu(QemuTarget),
}

/// How to measure, for whichever backend.
#[derive(Debug, Clone, Copy)]
pub struct BackendSettings {
    pub method: MethodChoice,
    pub epoch: Duration,
    pub sample: SampleSize,
}

/// Resolves TARGET (or `--qmp PATH`) for `choice`; returns it with a sentence saying why.
pub fn resolve(
    target: &str,
    choice: BackendChoice,
    qmp: Option<&Path>,
) -> Result<(Resolved, String)> {
    if let Some(socket) = qmp {
        let (qemu, why) = QemuTarget::resolve(&socket.display().to_string())?;
        return Ok((Resolved::Qemu(qemu), why));
    }
    match choice {
        BackendChoice::Process => process(target),
        BackendChoice::Qemu => {
            let (qemu, why) = QemuTarget::resolve(target)?;
            Ok((Resolved::Qemu(qemu), why))
        }
        BackendChoice::Auto => auto(target),
        // Xen domains are resolved through `xl` before this (commands::measure_xen).
        BackendChoice::Xen => {
            anyhow::bail!("`{target}`: the Xen backend resolves domains through xl")
        }
    }
}

fn process(target: &str) -> Result<(Resolved, String)> {
    let found = resolve_process(target)?;
    let why = format!("process {} ({})", found.pid, found.name);
    Ok((Resolved::Process(found), why))
}

fn auto(target: &str) -> Result<(Resolved, String)> {
    let is_socket = std::fs::metadata(target)
        .map(|meta| std::os::unix::fs::FileTypeExt::is_socket(&meta.file_type()))
        .unwrap_or(false);
    let is_qemu_pid = target
        .parse::<i32>()
        .is_ok_and(|pid| pid > 0 && peer::cmdline(pid).is_ok_and(|args| peer::is_qemu(&args)));
    if is_socket || is_qemu_pid {
        let (qemu, why) = QemuTarget::resolve(target)?;
        let hint = if is_qemu_pid {
            " (its guest is measured; --backend process measures the QEMU process itself)"
        } else {
            ""
        };
        return Ok((Resolved::Qemu(qemu), format!("backend qemu: {why}{hint}")));
    }
    match process(target) {
        Ok((resolved, why)) => Ok((resolved, format!("backend process: {why}"))),
        Err(not_a_process) => {
            let by_name = target.parse::<i32>().is_err() && !target.contains('/');
            if by_name && libvirt::virsh_available() && libvirt::Virsh::open(target).is_ok() {
                Ok((
                    Resolved::Qemu(QemuTarget::Libvirt(target.to_string())),
                    format!("backend qemu: {target} is a running libvirt domain"),
                ))
            } else {
                Err(not_a_process)
            }
        }
    }
}

impl Resolved {
    /// A short name for default file names.
    pub fn name(&self) -> String {
        match self {
            Resolved::Process(target) => target.name.clone(),
            Resolved::Qemu(QemuTarget::Socket(path)) => path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "qemu".into()),
            Resolved::Qemu(QemuTarget::Pid(pid)) => format!("qemu-{pid}"),
            Resolved::Qemu(QemuTarget::Libvirt(name)) => name.clone(),
        }
    }

    /// Builds the backend, checking access up front.
    pub fn build(self, settings: BackendSettings) -> Result<Box<dyn Backend>> {
        Ok(match self {
            Resolved::Process(target) => Box::new(ProcessBackend::new(
                target,
                ProcessOptions {
                    method: settings.method,
                    epoch: settings.epoch,
                    sample: settings.sample,
                },
            )?),
            Resolved::Qemu(target) => {
                let backend = QemuBackend::connect(
                    &target,
                    &QemuOptions {
                        epoch: settings.epoch,
                        method: settings.method,
                        sample: settings.sample,
                        ..QemuOptions::default()
                    },
                )?;
                for note in backend.notes() {
                    eprintln!("note: {note}");
                }
                Box::new(backend)
            }
        })
    }
}
