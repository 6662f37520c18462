//! The planner's inputs, read from the host: domains and their vCPUs (`xl vcpu-list`,
//! `virsh`, /proc and QMP for processes), which are protected, and whether the stored
//! configs keep the pins (`xl list -l`).

use crate::cli::PinArgs;
use crate::pin::apply::{affinity, process, qmp};
use crate::pin::host_role::{rename_host, HOST};
use crate::pin::{plan, Current, DomainSpec, Plan, Policy, Role, Target, DOM0};
use crate::topology::Topology;
use crate::virsh::{Scope, Virsh};
use crate::xl::{parse_vcpu_list, Xl};
use anyhow::{anyhow, bail, Context, Result};

/// Where the domains come from.
pub(super) enum Mode {
    /// `xl vcpu-list` on this Xen host.
    Xen,
    /// `--domain NAME=VCPUS`: nothing is asked of the host.
    Declared,
    /// `--pid` / `--qmp`: Linux processes on this host.
    Process,
    /// `--libvirt`: libvirt guests, through virsh.
    Libvirt,
}

/// The protected names: positional VMs and `--protect`, in order, without repeats.
fn named_protected(args: &PinArgs) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for n in args.vms.iter().chain(&args.protect) {
        if !names.contains(n) {
            names.push(n.clone());
        }
    }
    names
}

pub(super) fn make_plan(args: &PinArgs, mode: &Mode, topo: &Topology, xl: &Xl) -> Result<Plan> {
    let policy = Policy {
        dom0_cpus: args.dom0_cpus,
        strategy: args.strategy,
    };
    let named = named_protected(args);
    let mut notes = Vec::new();
    let mut splits: Vec<(u32, Vec<u32>)> = Vec::new();
    let mut iothreads = Vec::new();
    let (known, current): (Vec<(String, u32)>, Vec<Current>) = match mode {
        Mode::Declared => (args.domains.clone(), Vec::new()),
        Mode::Xen => {
            let list = parse_vcpu_list(&xl.vcpu_list()?)?;
            let current = list
                .rows
                .iter()
                .map(|r| Current {
                    domain: r.name.clone(),
                    vcpu: r.vcpu,
                    hard: r.hard.to_string(),
                    soft: r
                        .soft
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_else(|| "-".into()),
                })
                .collect();
            (
                list.domains().into_iter().map(|(n, _, v)| (n, v)).collect(),
                current,
            )
        }
        Mode::Libvirt => {
            if args.strategy == crate::pin::Strategy::Cpupool {
                bail!("--strategy cpupool is for Xen; libvirt guests are kept apart with vcpupin/emulatorpin");
            }
            let virsh = Virsh::from_env();
            let mut known = vec![];
            let mut current = vec![];
            for dom in virsh.running()? {
                let vcpus = virsh.vcpu_affinity(&dom, Scope::Live)?;
                if vcpus.is_empty() {
                    bail!("`virsh vcpupin {dom}` listed no vCPU: is the domain running?");
                }
                known.push((dom.clone(), vcpus.len() as u32));
                for (vcpu, cpus) in vcpus {
                    current.push(Current {
                        domain: dom.clone(),
                        vcpu,
                        hard: cpus.to_string(),
                        soft: "-".into(),
                    });
                }
                let ids: Vec<u32> = virsh
                    .iothread_affinity(&dom, Scope::Live)?
                    .into_iter()
                    .map(|(id, _)| id)
                    .collect();
                if !ids.is_empty() {
                    iothreads.push(crate::pin::DomainIothreads {
                        domain: dom.clone(),
                        ids,
                    });
                }
            }
            if known.is_empty() {
                bail!("`virsh list --name` shows no running guest: start the VMs first");
            }
            (known, current)
        }
        Mode::Process => {
            if args.strategy == crate::pin::Strategy::Cpupool {
                bail!("--strategy cpupool is for Xen; on a KVM host use cgroup cpusets (or libvirt's <cputune>)");
            }
            let mut known = vec![];
            let mut current = vec![];
            for p in gather_processes(args)? {
                if let Some(threads) = &p.vcpu_threads {
                    splits.push((p.pid, threads.clone()));
                }
                if let Some(threads) = &p.vcpu_threads {
                    let list: Vec<String> = threads.iter().map(u32::to_string).collect();
                    notes.push(crate::pin::RuleCheck {
                        kind: crate::pin::RuleKind::Plan,
                        rule: "emulator-threads".into(),
                        met: true,
                        detail: format!(
                            "pid {}: vCPU threads {} go on the VM's CPUs; its other (emulator) threads, which do the checkpoint copying, go on the host's CPUs",
                            p.pid,
                            list.join(",")
                        ),
                    });
                }
                let name = format!("pid:{}", p.pid);
                known.push((name.clone(), p.vcpus));
                for tid in affinity::threads(p.pid).unwrap_or_default() {
                    if let Ok(cpus) = affinity::ThreadAffinity::get(&affinity::Kernel, p.pid, tid) {
                        current.push(Current {
                            domain: name.clone(),
                            vcpu: tid,
                            hard: cpus.to_string(),
                            soft: "-".into(),
                        });
                    }
                }
            }
            (known, current)
        }
    };
    if known.iter().filter(|(n, _)| n == DOM0).count() > 1 || has_duplicates(&known) {
        bail!("a domain is declared twice: give each --domain once");
    }
    // On a Remus backup (or a migration target) the domain is `NAME--incoming` until
    // failover (interfaces.md §1.3): accept the plain name for it.
    let named: Vec<String> = named
        .into_iter()
        .map(|n| {
            let incoming = format!("{n}--incoming");
            if !known.iter().any(|(k, _)| *k == n) && known.iter().any(|(k, _)| *k == incoming) {
                notes.push(crate::pin::RuleCheck {
                    kind: crate::pin::RuleKind::Plan,
                    rule: "incoming".into(),
                    met: true,
                    detail: format!("{n} is here as {incoming} (a Remus backup or migration target): planned under that name"),
                });
                incoming
            } else {
                n
            }
        })
        .collect();
    for n in &named {
        if !known.iter().any(|(k, _)| k == n) {
            let list: Vec<&str> = known.iter().map(|(k, _)| k.as_str()).collect();
            bail!("no domain named `{n}`; the domains are: {} (names are exact; `xl list` shows them)", list.join(", "));
        }
        if n == DOM0 {
            bail!("Domain-0 cannot be a protected VM: it does the checkpointing");
        }
    }
    let specs: Vec<DomainSpec> = known
        .iter()
        .map(|(name, vcpus)| DomainSpec {
            name: name.clone(),
            vcpus: *vcpus,
            protected: name != DOM0 && (named.is_empty() || named.contains(name)),
        })
        .collect();
    let mut plan = match &args.backup_topology {
        None => plan(topo, &specs, &policy),
        Some(path) => {
            if matches!(mode, Mode::Process | Mode::Libvirt) {
                bail!("--backup-topology plans a Xen Remus pair (the stored cpus= travels to the backup): use it with --domain or on a Xen host, not with --pid, --qmp or --libvirt");
            }
            let backup = crate::topology::Topology::from_file(path).with_context(|| {
                format!("reading the backup host's topology {}", path.display())
            })?;
            crate::pin::plan_failover(topo, &backup, &specs, &policy)
        }
    };
    plan.current = current;
    plan.iothreads = iothreads;
    plan.rules.extend(notes);
    match mode {
        Mode::Process => {
            plan.target = Target::Process;
            rename_host(&mut plan);
            let host = plan
                .placement(HOST)
                .map(|p| p.cpus.clone())
                .unwrap_or_default();
            plan.threads = splits
                .into_iter()
                .map(|(pid, vcpu_threads)| crate::pin::ThreadSplit {
                    pid,
                    vcpu_threads,
                    emulator_cpus: host.clone(),
                })
                .collect();
        }
        Mode::Libvirt => {
            plan.target = Target::Libvirt;
            rename_host(&mut plan);
        }
        Mode::Xen => {
            plan.rules.push(persistence(&plan, xl));
            if let Some(rule) = boot_now(&plan, xl) {
                plan.rules.push(rule);
            }
        }
        Mode::Declared => {}
    }
    Ok(plan)
}

/// Whether the pins will survive a reboot or a Remus failover: runtime pins are not stored
/// in a domain's config, and the backup restores the stored `cpus=` (interfaces.md §0 item
/// 10), so compare the plan with `xl list -l`.
fn persistence(plan: &Plan, xl: &Xl) -> crate::pin::RuleCheck {
    let rule = |met: bool, detail: String| crate::pin::RuleCheck {
        kind: crate::pin::RuleKind::Todo,
        rule: "persistent".into(),
        met,
        detail,
    };
    let stored = match xl.list_long().map_err(anyhow::Error::from).and_then(|t| Ok(crate::xl::parse_list_long(&t)?)) {
        Ok(stored) => stored,
        Err(e) => return rule(false, format!("cannot read the stored configs to see whether the pins survive a reboot or failover: {e:#}")),
    };
    let mut missing = Vec::new();
    for p in plan.placements.iter().filter(|p| p.role != Role::Dom0) {
        let cfg = stored
            .iter()
            .find(|d| d.name == p.domain)
            .and_then(|d| d.hard_affinity.as_ref());
        let matches = cfg
            .is_some_and(|per_vcpu| !per_vcpu.is_empty() && per_vcpu.iter().all(|c| *c == p.cpus));
        if !matches {
            let now = cfg
                .map(|v| {
                    v.iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_else(|| "no cpus=".into());
            missing.push(format!("{} ({now})", p.domain));
        }
    }
    if missing.is_empty() {
        rule(true, "every Dom-U's stored config already has these cpus=: the pins survive reboot and failover".into())
    } else {
        rule(
            false,
            format!(
                "not persistent yet: the stored configs of {} differ from the plan, so runtime pins would be lost on reboot or Remus failover; add the `--format xl-cfg` lines on both hosts",
                missing.join(", ")
            ),
        )
    }
}

/// How Xen was booted (`xen_commandline` of `xl info`) against the plan's boot line: the boot
/// options only take effect at the next boot, so say whether they are already in force.
fn boot_now(plan: &Plan, xl: &Xl) -> Option<crate::pin::RuleCheck> {
    let info = crate::xl::parse_info(&xl.info().ok()?).ok()?;
    let line = info.xen_commandline()?.to_string();
    let mut max = None;
    let mut pinned = false;
    for word in line.split_whitespace() {
        match word.split_once('=') {
            Some(("dom0_max_vcpus", v)) => max = Some(v.to_string()),
            Some(("dom0_vcpus_pin", v)) => {
                pinned = matches!(v, "1" | "true" | "yes" | "on" | "enable")
            }
            None if word == "dom0_vcpus_pin" => pinned = true,
            _ => {}
        }
    }
    let want = plan.boot.dom0_max_vcpus.to_string();
    let max_ok = max
        .as_deref()
        .is_some_and(|m| m == want || m == format!("{want}-{want}"));
    let met = max_ok && pinned == plan.boot.dom0_vcpus_pin;
    let planned = if plan.boot.dom0_vcpus_pin {
        format!("dom0_max_vcpus={want} dom0_vcpus_pin")
    } else {
        format!("dom0_max_vcpus={want}")
    };
    Some(crate::pin::RuleCheck {
        kind: crate::pin::RuleKind::Todo,
        rule: "boot-now".into(),
        met,
        detail: if met {
            format!("Xen was booted with `{planned}` already")
        } else {
            format!("Xen was booted with `{line}`; the plan's boot options are `{planned}` (see --format boot; they take effect at the next boot)")
        },
    })
}

fn has_duplicates(known: &[(String, u32)]) -> bool {
    known
        .iter()
        .enumerate()
        .any(|(i, (n, _))| known[..i].iter().any(|(m, _)| m == n))
}

/// QEMU names vCPU threads `CPU 0/KVM` (or `/TCG`) with `-name …,debug-threads=on`, as
/// libvirt sets it.
fn is_vcpu_thread(comm: &str) -> bool {
    comm.starts_with("CPU ") && (comm.ends_with("/KVM") || comm.ends_with("/TCG"))
}

/// A process to protect, as found on this host.
pub(super) struct Proc {
    pid: u32,
    vcpus: u32,
    /// Its vCPU threads, when QMP or QEMU's thread names tell them.
    vcpu_threads: Option<Vec<u32>>,
}

/// The processes named by `--pid` and `--qmp`.
pub(super) fn gather_processes(args: &PinArgs) -> Result<Vec<Proc>> {
    let mut out: Vec<Proc> = Vec::new();
    for (pid, vcpus) in &args.pids {
        let tids = affinity::threads(*pid)
            .map_err(|e| anyhow!("process {pid} not found ({e}): is it running?"))?;
        let named: Vec<u32> = tids
            .iter()
            .copied()
            .filter(|&t| is_vcpu_thread(&affinity::comm(*pid, t)))
            .collect();
        out.push(Proc {
            pid: *pid,
            vcpus: vcpus.unwrap_or((named.len() as u32).max(1)),
            vcpu_threads: (!named.is_empty()).then_some(named),
        });
    }
    for socket in &args.qmp {
        let vcpus = qmp::query_vcpus(socket)?;
        let first = vcpus
            .first()
            .ok_or_else(|| anyhow!("QEMU on {} reports no vCPU", socket.display()))?;
        let pid = qmp::process_of_thread(first.thread_id).with_context(|| {
            format!(
                "vCPU thread {} of {} is not visible in /proc: is QEMU in another PID namespace?",
                first.thread_id,
                socket.display()
            )
        })?;
        let mut threads: Vec<u32> = vcpus.iter().map(|v| v.thread_id).collect();
        threads.sort_unstable();
        threads.dedup();
        out.retain(|p| p.pid != pid);
        out.push(Proc {
            pid,
            vcpus: vcpus.len() as u32,
            vcpu_threads: Some(threads),
        });
    }
    Ok(out)
}

/// The processes and CPUs of a process plan (`pid:N` placements). vCPU threads, where known,
/// go on the VM's CPUs and the other threads on the host's.
pub(super) fn process_targets(plan: &Plan, procs: &[Proc]) -> Result<Vec<process::ProcessTarget>> {
    let host = plan.placement(HOST).map(|p| p.cpus.clone());
    plan.placements
        .iter()
        .filter(|p| p.role == Role::Protected)
        .map(|p| {
            let pid = p
                .domain
                .strip_prefix("pid:")
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| anyhow!("plan entry `{}` is not a process (`pid:N`)", p.domain))?;
            let vcpu_threads = procs
                .iter()
                .find(|q| q.pid == pid)
                .and_then(|q| q.vcpu_threads.clone());
            Ok(process::ProcessTarget {
                pid,
                cpus: p.cpus.clone(),
                emulator_cpus: vcpu_threads.as_ref().and(host.clone()),
                vcpu_threads,
            })
        })
        .collect()
}
