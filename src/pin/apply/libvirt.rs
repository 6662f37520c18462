//! libvirt-managed guests: pin through `virsh vcpupin` / `emulatorpin` / `iothreadpin`, never
//! with raw sched_setaffinity, because libvirt keeps each vCPU, the emulator threads and each
//! IOThread in cpuset cgroups of their own, clips raw affinities to them and may later rewrite
//! them (interfaces.md §0 item 14, §4.5).
//!
//! Every change goes to the running domain (`--live`) and to its persistent definition
//! (`--config`), so the pins survive a restart and travel with a migration; the journal keeps
//! both states as they were, and `--revert` restores each to its own.

use super::{describe_drift, Applied, Applier, Drift};
use crate::cpulist::CpuList;
use crate::pin::commands::describe;
use crate::pin::commands::{virsh_pins, PinKind, VirshPin, BOTH};
use crate::pin::journal::{Journal, JournalBackend, LibvirtEntry};
use crate::pin::model::Plan;
use crate::virsh::{Scope, Virsh};
use anyhow::{anyhow, bail, Context, Result};
use std::path::Path;

fn read(virsh: &Virsh, domain: &str, kind: PinKind, scope: Scope) -> Result<CpuList> {
    let find = |rows: Vec<(u32, CpuList)>, id: u32, what: &str| {
        rows.into_iter()
            .find(|(n, _)| *n == id)
            .map(|(_, c)| c)
            .ok_or_else(|| anyhow!("{domain} has no {what} {id} ({} state)", flag(scope)))
    };
    Ok(match kind {
        PinKind::Vcpu(v) => find(virsh.vcpu_affinity(domain, scope)?, v, "vCPU")?,
        PinKind::Emulator => virsh.emulator_affinity(domain, scope)?,
        PinKind::Iothread(id) => find(virsh.iothread_affinity(domain, scope)?, id, "IOThread")?,
    })
}

fn flag(scope: Scope) -> &'static str {
    match scope {
        Scope::Live => "running",
        Scope::Config => "persistent",
    }
}

/// Every pin of the plan against both states of its domain.
fn compare(virsh: &Virsh, pins: &[VirshPin]) -> Vec<Drift> {
    let mut drift = Vec::new();
    for pin in pins {
        for scope in BOTH {
            let what = match scope {
                Scope::Live => pin.what(),
                Scope::Config => format!("{} (persistent config)", pin.what()),
            };
            match read(virsh, &pin.domain, pin.kind, scope) {
                Ok(now) if now == pin.cpus => {}
                Ok(now) => drift.push(Drift {
                    what,
                    expected: pin.cpus.to_string(),
                    actual: now.to_string(),
                }),
                Err(e) => drift.push(Drift {
                    what,
                    expected: pin.cpus.to_string(),
                    actual: format!("unreadable: {e:#}"),
                }),
            }
        }
    }
    drift
}

/// The libvirt applier.
#[derive(Debug, Clone, Default)]
pub struct LibvirtApplier {
    pub virsh: Virsh,
}

impl Applier for LibvirtApplier {
    fn backend(&self) -> JournalBackend {
        JournalBackend::Libvirt
    }

    fn check(&self, plan: &Plan) -> Result<Vec<Drift>> {
        Ok(compare(&self.virsh, &virsh_pins(plan)))
    }

    /// Journal both states, pin (`--live --config`), read back, roll back on failure.
    fn apply(&self, plan: &Plan, journal_path: &Path) -> Result<Applied> {
        let virsh = &self.virsh;
        let pins = virsh_pins(plan);
        let mut journal = Journal::new(JournalBackend::Libvirt);
        for pin in &pins {
            let before = |scope| {
                read(virsh, &pin.domain, pin.kind, scope)
                    .context("reading the current pinning before changing anything")
            };
            let (vcpu, iothread) = match pin.kind {
                PinKind::Vcpu(v) => (Some(v), None),
                PinKind::Emulator => (None, None),
                PinKind::Iothread(id) => (None, Some(id)),
            };
            journal.libvirt.push(LibvirtEntry {
                domain: pin.domain.clone(),
                vcpu,
                iothread,
                cpus: before(Scope::Live)?.to_string(),
                config: Some(before(Scope::Config)?.to_string()),
            });
        }
        journal.create(journal_path)?;
        let mut done = Vec::new();
        for pin in &pins {
            if let Err(e) = virsh.run(&pin.args(&BOTH)) {
                return Err(rolled_back(
                    virsh,
                    &format!("{e:#}{}", transient_hint(&e)),
                    &journal,
                    done.len(),
                    journal_path,
                ));
            }
            done.push(format!("virsh {}", pin.args(&BOTH).join(" ")));
        }
        let drift = compare(virsh, &pins);
        if !drift.is_empty() {
            let why = format!(
                "read-back differs from the plan:\n{}",
                describe_drift(&drift)
            );
            return Err(rolled_back(virsh, &why, &journal, done.len(), journal_path));
        }
        Ok(Applied {
            changed: done.len(),
            changes: done,
        })
    }

    fn revert(&self, path: &Path, journal: &Journal) -> Result<Vec<String>> {
        let errors = restore(&self.virsh, journal);
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
                let config = e
                    .config
                    .as_deref()
                    .map(|c| format!(", persistent config {c}"))
                    .unwrap_or_default();
                format!(
                    "{}: CPUs {}{config}",
                    describe(&e.domain, kind_of(e)),
                    e.cpus
                )
            })
            .collect())
    }
}

fn transient_hint(e: &crate::virsh::VirshError) -> &'static str {
    if e.to_string().contains("transient") {
        "\n  (a transient domain has no persistent config to pin: define it with `virsh define`, or pin it with --format shell minus --config)"
    } else {
        ""
    }
}

fn kind_of(e: &LibvirtEntry) -> PinKind {
    match (e.vcpu, e.iothread) {
        (Some(v), _) => PinKind::Vcpu(v),
        (None, Some(id)) => PinKind::Iothread(id),
        (None, None) => PinKind::Emulator,
    }
}

/// Puts every journalled state back: the live one, and the persistent one where the journal
/// has it (journals from before `--config` was applied changed only the live state).
fn restore(virsh: &Virsh, journal: &Journal) -> String {
    let mut errors = String::new();
    for e in &journal.libvirt {
        let states = [
            (Scope::Live, Some(&e.cpus)),
            (Scope::Config, e.config.as_ref()),
        ];
        for (scope, cpus) in states {
            let Some(cpus) = cpus else { continue };
            let pin = match CpuList::parse(cpus) {
                Ok(cpus) => VirshPin {
                    domain: e.domain.clone(),
                    kind: kind_of(e),
                    cpus,
                },
                Err(err) => {
                    errors.push_str(&format!("  {}: {err}\n", e.domain));
                    continue;
                }
            };
            if let Err(err) = virsh.run(&pin.args(&[scope])) {
                errors.push_str(&format!("  {}: {err:#}\n", pin.what()));
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_carry_both_scopes_and_the_kind() {
        let pin = |kind| VirshPin {
            domain: "my vm".into(),
            kind,
            cpus: CpuList::parse("2-3").unwrap(),
        };
        assert_eq!(
            pin(PinKind::Vcpu(1)).args(&BOTH),
            ["vcpupin", "my vm", "1", "2-3", "--live", "--config"]
        );
        assert_eq!(
            pin(PinKind::Emulator).args(&[Scope::Config]),
            ["emulatorpin", "my vm", "2-3", "--config"]
        );
        assert_eq!(
            pin(PinKind::Iothread(4)).args(&[Scope::Live]),
            ["iothreadpin", "my vm", "4", "2-3", "--live"]
        );
    }
}
