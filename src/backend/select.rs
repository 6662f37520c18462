//! The one backend factory: which backend a TARGET names, and that backend built.
//!
//! `--backend auto` tries, in the order the README documents: a QMP socket path, the PID of a
//! QEMU process (its guest is measured), a Xen domain when `xl` runs here and knows the name,
//! a PID or name of any other process, and last a libvirt domain name. Every command that
//! measures (`measure`, `advise`, `trial`) resolves through here, so a Xen domain is reached
//! the same way from each, and a host without Xen is told so the same way ([`NoXen`]).

use crate::backend::process::sample::SampleSize;
use crate::backend::process::target::{resolve as resolve_process, ProcessTarget};
use crate::backend::process::tree::TreeBackend;
use crate::backend::process::{ProcessBackend, ProcessOptions};
use crate::backend::qemu::{libvirt, peer, QemuBackend, QemuOptions, QemuTarget};
use crate::backend::xen::domain::{self, XenDomain};
use crate::backend::xen::libxenctrl::{privcmd_present, XenCtrlError};
use crate::backend::xen::{XenBackend, XenOptions};
use crate::backend::{Backend, MethodChoice};
use crate::xl::{Xl, XlError};
use anyhow::{bail, Result};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Which kind of target a name is taken for (`--backend`).
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum BackendChoice {
    /// Pick the backend that finds TARGET, and say which.
    #[default]
    Auto,
    /// A Linux process.
    Process,
    /// A QEMU/KVM guest: a QMP socket, a QEMU PID or a libvirt domain name.
    Qemu,
    /// A Xen domain (name or domid), measured from Dom-0 through libxenctrl.
    Xen,
}

/// The Xen backend was asked for (or a Xen command run) on a host without Xen: no `xl`, no
/// libxenctrl, or no hypervisor under it. Commands turn it into exit status 69.
#[derive(Debug, thiserror::Error)]
#[error("no Xen here: {0}")]
pub struct NoXen(pub String);

/// A resolved target, before its backend is built.
pub enum Resolved {
    Process(ProcessTarget),
    /// A command `--exec` launched: measured with every process it starts (its tree).
    Launched(ProcessTarget),
    Qemu(QemuTarget),
    Xen(Box<XenDomain>),
}

/// How to measure, for whichever backend.
#[derive(Debug, Clone, Copy)]
pub struct BuildOptions {
    pub method: MethodChoice,
    pub epoch: Duration,
    pub sample: SampleSize,
    /// Xen: never switch log-dirty on or clean it (`--observe`).
    pub observe: bool,
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
        BackendChoice::Xen => {
            let found = xen_domain(&Xl::from_env(), target)?;
            let why = describe_domain(&found);
            Ok((Resolved::Xen(Box::new(found)), why))
        }
        BackendChoice::Auto => auto(target),
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
    if names_xen_domain(target) {
        let found = xen_domain(&Xl::from_env(), target)?;
        let why = format!(
            "backend xen: {} (backend auto: `xl` knows `{target}` here)",
            describe_domain(&found)
        );
        return Ok((Resolved::Xen(Box::new(found)), why));
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

/// Whether `xl` runs here and knows `target` as a domain: what `auto` asks of Xen.
pub fn names_xen_domain(target: &str) -> bool {
    domain::is_domain(&Xl::from_env(), target)
}

/// The Xen domain `name`, as `xl` describes it; [`NoXen`] when `xl` does not run here.
pub fn xen_domain(xl: &Xl, name: &str) -> Result<XenDomain> {
    let found = domain::resolve(xl, name).map_err(|err| no_xen_if_no_xl(err, name))?;
    if let Some((major, minor)) = found.xen_version.as_deref().and_then(domain::major_minor) {
        if (major, minor) < (4, 16) {
            bail!(
                "this host runs Xen {major}.{minor}: remus-tune needs Xen 4.16 or later (its \
                 log-dirty call has a different signature before 4.16)"
            );
        }
    }
    Ok(found)
}

/// The name and domid of the Xen domain `name`, for commands that drive `xl` themselves
/// (`trial`); [`NoXen`] when `xl` does not run here.
pub fn xen_domid(xl: &Xl, name: &str) -> Result<(String, u32)> {
    domain::domid_of(xl, name).map_err(|err| no_xen_if_no_xl(err, name))
}

/// `xl` that cannot be started means no Xen here; any other failure says which domain.
fn no_xen_if_no_xl(err: anyhow::Error, name: &str) -> anyhow::Error {
    match err.downcast_ref::<XlError>() {
        Some(not_found @ XlError::NotFound { .. }) => NoXen(not_found.to_string()).into(),
        _ => err.context(format!("cannot find Xen domain `{name}`")),
    }
}

/// `Xen domain Meine-VM (domid 3, hvm, 2 vCPUs)`.
fn describe_domain(found: &XenDomain) -> String {
    format!(
        "Xen domain {} (domid {}, {}, {} vCPU{})",
        found.name,
        found.domid,
        found.guest_type.as_deref().unwrap_or("type unknown"),
        found.vcpus,
        if found.vcpus == 1 { "" } else { "s" },
    )
}

/// `path` from the environment variable `var` when set and not empty, else `default`: test
/// hooks, like REMUS_TUNE_XL, for directories standing in for /sys or /var/run/xen.
fn dir_from_env(var: &str, default: PathBuf) -> PathBuf {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or(default)
}

impl Resolved {
    pub fn is_xen(&self) -> bool {
        matches!(self, Resolved::Xen(_))
    }

    /// Where the target runs now, one line each, for stderr before measuring: a Xen
    /// domain's live vCPU placement and Dom-0's, from `xl vcpu-list` (the stored config's
    /// affinity is only the creation one).
    pub fn placement(&self) -> Vec<String> {
        let Resolved::Xen(found) = self else {
            return Vec::new();
        };
        found
            .vcpu_list
            .rows
            .iter()
            .filter(|r| r.domid == found.domid || r.domid == 0)
            .map(|row| {
                format!(
                    "  {} vCPU {}: on pCPU {}, affinity {} / {}",
                    row.name,
                    row.vcpu,
                    row.cpu.map_or("-".to_string(), |c| c.to_string()),
                    row.hard,
                    row.soft
                        .as_ref()
                        .map_or("(no soft affinity before Xen 4.5)".to_string(), |s| s
                            .to_string())
                )
            })
            .collect()
    }

    /// Builds the backend, checking access up front; notes on the way go to stderr.
    pub fn build(self, options: BuildOptions) -> Result<Box<dyn Backend>> {
        let process = ProcessOptions {
            method: options.method,
            epoch: options.epoch,
            sample: options.sample,
        };
        Ok(match self {
            Resolved::Process(target) => Box::new(ProcessBackend::new(target, process)?),
            Resolved::Launched(target) => Box::new(TreeBackend::new(target, process)?),
            Resolved::Qemu(target) => {
                let backend = QemuBackend::connect(
                    &target,
                    &QemuOptions {
                        epoch: options.epoch,
                        method: options.method,
                        sample: options.sample,
                        ..QemuOptions::default()
                    },
                )?;
                for note in backend.notes() {
                    crate::note!("note: {note}");
                }
                Box::new(backend)
            }
            Resolved::Xen(found) => {
                let defaults = XenOptions::default();
                let xen_options = XenOptions {
                    observe: options.observe,
                    sysfs: dir_from_env("REMUS_TUNE_SYSFS", defaults.sysfs.clone()),
                    run_dir: dir_from_env("REMUS_TUNE_XEN_RUN", defaults.run_dir.clone()),
                };
                Box::new(XenBackend::new(*found, xen_options).map_err(no_xen_if_no_library)?)
            }
        })
    }
}

/// No libxenctrl, or a libxenctrl with no hypervisor interface under it, means no Xen here.
fn no_xen_if_no_library(err: anyhow::Error) -> anyhow::Error {
    match err.downcast_ref::<XenCtrlError>() {
        Some(missing @ XenCtrlError::NotInstalled { .. }) => NoXen(missing.to_string()).into(),
        Some(closed @ XenCtrlError::Open(_)) if !privcmd_present() => {
            NoXen(closed.to_string()).into()
        }
        _ => err,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_xl_is_no_xen_and_other_failures_stay() {
        let xl = Xl::with_program("/nonexistent/remus-tune-test/xl");
        let err = xen_domid(&xl, "Meine-VM").unwrap_err();
        let no_xen = err.downcast_ref::<NoXen>().expect("NoXen in the chain");
        assert!(no_xen.to_string().starts_with("no Xen here: cannot run"));

        let other = no_xen_if_no_xl(anyhow::anyhow!("xl said no"), "Meine-VM");
        assert!(other.downcast_ref::<NoXen>().is_none());
        assert!(format!("{other:#}").contains("cannot find Xen domain `Meine-VM`"));
    }
}
