//! libvirt-managed guests: pin through `virsh vcpupin` / `virsh emulatorpin`, never with raw
//! sched_setaffinity, because libvirt keeps each vCPU and the emulator threads in cpuset
//! cgroups of their own, clips raw affinities to them and may later rewrite them
//! (interfaces.md §0 item 14, §4.5).
//!
//! `REMUS_TUNE_VIRSH` names the `virsh` to run (default: `virsh` on PATH); tests point it at
//! a stand-in. Arguments go to virsh as they are, never through a shell.

use super::{describe_drift, Drift};
use crate::cpulist::CpuList;
use crate::pin::journal::{Journal, JournalBackend, LibvirtEntry};
use crate::pin::model::{Plan, Role};
use anyhow::{anyhow, bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The environment variable that overrides which `virsh` is run.
pub const VIRSH_ENV: &str = "REMUS_TUNE_VIRSH";

/// How to run virsh.
#[derive(Debug, Clone)]
pub struct Virsh {
    program: PathBuf,
}

impl Virsh {
    pub fn from_env() -> Self {
        let program = std::env::var_os(VIRSH_ENV)
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| "virsh".into());
        Self { program }
    }

    /// Runs `virsh ARGS…`, returning stdout, or an error with virsh's own words.
    pub fn run(&self, args: &[String]) -> Result<String> {
        let out = Command::new(&self.program).args(args).output().map_err(|e| {
            anyhow!("cannot run `{}`: {e}\n  install libvirt-clients, or point {VIRSH_ENV} at virsh", self.program.display())
        })?;
        if out.status.success() {
            return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
        }
        bail!(
            "`virsh {}` failed; virsh said:\n{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim_end()
        )
    }

    /// Running domains' names (`virsh list --name`).
    pub fn running(&self) -> Result<Vec<String>> {
        Ok(self
            .run(&["list".into(), "--name".into()])?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect())
    }

    /// Each vCPU's affinity (`virsh vcpupin DOM`).
    pub fn vcpu_affinity(&self, domain: &str) -> Result<Vec<(u32, CpuList)>> {
        parse_vcpupin(&self.run(&["vcpupin".into(), domain.into()])?)
    }

    /// The emulator threads' affinity (`virsh emulatorpin DOM`).
    pub fn emulator_affinity(&self, domain: &str) -> Result<CpuList> {
        parse_emulatorpin(&self.run(&["emulatorpin".into(), domain.into()])?)
    }
}

/// ` VCPU   CPU Affinity` / dashes / ` 0      0-3` rows.
pub fn parse_vcpupin(text: &str) -> Result<Vec<(u32, CpuList)>> {
    let mut rows = Vec::new();
    for line in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('-') && !l.starts_with("VCPU"))
    {
        let (vcpu, cpus) = line
            .split_once(char::is_whitespace)
            .ok_or_else(|| anyhow!("cannot read `virsh vcpupin` row {line:?}"))?;
        let vcpu = vcpu.trim_end_matches(':').parse().map_err(|_| {
            anyhow!("`{vcpu}` is not a vCPU number in `virsh vcpupin` row {line:?}")
        })?;
        rows.push((vcpu, CpuList::parse(cpus.trim())?));
    }
    if rows.is_empty() {
        bail!("`virsh vcpupin` listed no vCPU: is the domain running?");
    }
    Ok(rows)
}

/// `emulator: CPU Affinity` / dashes / `       *: 0-3`.
pub fn parse_emulatorpin(text: &str) -> Result<CpuList> {
    let line = text
        .lines()
        .map(str::trim)
        .find_map(|l| l.strip_prefix("*:"))
        .ok_or_else(|| anyhow!("cannot read `virsh emulatorpin` output: no `*: CPUS` line"))?;
    Ok(CpuList::parse(line.trim())?)
}

/// One virsh change: vCPU n (or the emulator threads when `vcpu` is None) onto `cpus`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirshPin {
    pub domain: String,
    pub vcpu: Option<u32>,
    pub cpus: CpuList,
}

impl VirshPin {
    /// The virsh arguments, `--live` (running state only: add `--config` yourself to keep it).
    pub fn args(&self) -> Vec<String> {
        match self.vcpu {
            Some(v) => vec![
                "vcpupin".into(),
                self.domain.clone(),
                v.to_string(),
                self.cpus.to_string(),
                "--live".into(),
            ],
            None => vec![
                "emulatorpin".into(),
                self.domain.clone(),
                self.cpus.to_string(),
                "--live".into(),
            ],
        }
    }
}

/// The pins a plan asks for: every vCPU on its domain's CPUs; the emulator threads of
/// protected VMs on the host's CPUs (they do the checkpoint copying, as Dom-0 does on Xen),
/// those of unprotected VMs beside their vCPUs.
pub fn virsh_pins(plan: &Plan) -> Vec<VirshPin> {
    let host = plan
        .placements
        .iter()
        .find(|p| p.role == Role::Dom0)
        .map(|p| p.cpus.clone())
        .unwrap_or_default();
    let mut out = Vec::new();
    for p in plan.placements.iter().filter(|p| p.role != Role::Dom0) {
        for v in 0..p.vcpus {
            out.push(VirshPin {
                domain: p.domain.clone(),
                vcpu: Some(v),
                cpus: p.cpus.clone(),
            });
        }
        let emulator = if p.role == Role::Protected && !host.is_empty() {
            host.clone()
        } else {
            p.cpus.clone()
        };
        out.push(VirshPin {
            domain: p.domain.clone(),
            vcpu: None,
            cpus: emulator,
        });
    }
    out
}

fn live(virsh: &Virsh, pin: &VirshPin) -> Result<CpuList> {
    match pin.vcpu {
        Some(v) => virsh
            .vcpu_affinity(&pin.domain)?
            .into_iter()
            .find(|(n, _)| *n == v)
            .map(|(_, c)| c)
            .ok_or_else(|| anyhow!("{} has no vCPU {v}", pin.domain)),
        None => virsh.emulator_affinity(&pin.domain),
    }
}

fn what(pin: &VirshPin) -> String {
    match pin.vcpu {
        Some(v) => format!("{} vCPU {v}", pin.domain),
        None => format!("{} emulator", pin.domain),
    }
}

/// `pin --check` for libvirt guests.
pub fn check(virsh: &Virsh, plan: &Plan) -> Result<Vec<Drift>> {
    let mut drift = Vec::new();
    for pin in virsh_pins(plan) {
        let now = live(virsh, &pin)?;
        if now != pin.cpus {
            drift.push(Drift {
                what: what(&pin),
                expected: pin.cpus.to_string(),
                actual: now.to_string(),
            });
        }
    }
    Ok(drift)
}

/// `pin --apply` for libvirt guests: journal, pin, read back, roll back on failure.
pub fn apply(virsh: &Virsh, plan: &Plan, journal_path: &Path) -> Result<Vec<String>> {
    let pins = virsh_pins(plan);
    let mut journal = Journal::new(JournalBackend::Libvirt);
    for pin in &pins {
        let before =
            live(virsh, pin).context("reading the current pinning before changing anything")?;
        journal.libvirt.push(LibvirtEntry {
            domain: pin.domain.clone(),
            vcpu: pin.vcpu,
            cpus: before.to_string(),
        });
    }
    journal.create(journal_path)?;
    let mut done = Vec::new();
    for pin in &pins {
        if let Err(e) = virsh.run(&pin.args()) {
            return Err(rolled_back(
                virsh,
                &format!("{e:#}"),
                &journal,
                done.len(),
                journal_path,
            ));
        }
        done.push(format!("virsh {}", pin.args().join(" ")));
    }
    let mut drift = Vec::new();
    for pin in &pins {
        match live(virsh, pin) {
            Ok(now) if now == pin.cpus => {}
            Ok(now) => drift.push(Drift {
                what: what(pin),
                expected: pin.cpus.to_string(),
                actual: now.to_string(),
            }),
            Err(e) => drift.push(Drift {
                what: what(pin),
                expected: pin.cpus.to_string(),
                actual: format!("unreadable: {e}"),
            }),
        }
    }
    if !drift.is_empty() {
        let why = format!(
            "read-back differs from the plan:\n{}",
            describe_drift(&drift)
        );
        return Err(rolled_back(virsh, &why, &journal, done.len(), journal_path));
    }
    Ok(done)
}

fn restore(virsh: &Virsh, journal: &Journal) -> String {
    let mut errors = String::new();
    for e in &journal.libvirt {
        let pin = match CpuList::parse(&e.cpus) {
            Ok(cpus) => VirshPin {
                domain: e.domain.clone(),
                vcpu: e.vcpu,
                cpus,
            },
            Err(err) => {
                errors.push_str(&format!("  {}: {err}\n", e.domain));
                continue;
            }
        };
        if let Err(err) = virsh.run(&pin.args()) {
            errors.push_str(&format!("  {}: {err:#}\n", what(&pin)));
        }
    }
    errors
}

fn rolled_back(
    virsh: &Virsh,
    why: &str,
    journal: &Journal,
    applied: usize,
    path: &Path,
) -> anyhow::Error {
    let errors = restore(virsh, journal);
    if errors.is_empty() {
        let kept = Journal::retire(path, "rolled-back")
            .map(|p| format!("the journal is kept as {}", p.display()))
            .unwrap_or_default();
        anyhow!("{why}\nrolled back: the {applied} change(s) made were undone; {kept}")
    } else {
        anyhow!("{why}\nROLLBACK INCOMPLETE:\n{errors}the journal is kept at {p}: run `remus-tune pin --revert --journal {p}`", p = path.display())
    }
}

/// `pin --revert` for a libvirt journal.
pub fn revert(virsh: &Virsh, path: &Path, journal: &Journal) -> Result<Vec<String>> {
    let errors = restore(virsh, journal);
    if !errors.is_empty() {
        bail!(
            "revert incomplete:\n{errors}the journal stays at {}",
            path.display()
        );
    }
    Journal::retire(path, "reverted")
        .with_context(|| format!("restored, but cannot move {} aside", path.display()))?;
    Ok(journal
        .libvirt
        .iter()
        .map(|e| {
            format!(
                "{} {}: CPUs {}",
                e.domain,
                e.vcpu
                    .map(|v| format!("vCPU {v}"))
                    .unwrap_or_else(|| "emulator".into()),
                e.cpus
            )
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_virsh_query_output() {
        let rows = parse_vcpupin(
            " VCPU   CPU Affinity\n----------------------\n 0      0-3\n 1      0-3,^2\n",
        )
        .err();
        assert!(rows.is_some(), "`^` is input syntax only and is rejected");
        let rows =
            parse_vcpupin(" VCPU   CPU Affinity\n----------------------\n 0      0-3\n 1      4\n")
                .unwrap();
        assert_eq!(rows[1].1.to_string(), "4");
        let emu = parse_emulatorpin(
            "emulator: CPU Affinity\n----------------------------------\n       *: 0-3\n",
        )
        .unwrap();
        assert_eq!(emu.to_string(), "0-3");
        assert!(parse_vcpupin("").is_err());
    }
}
