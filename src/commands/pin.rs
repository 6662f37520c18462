//! `remus-tune pin`: gather the inputs (topology, domains, which are protected), plan, then
//! emit, apply, check or revert. All host facts are read here; the planner itself is pure.

use crate::cli::PinArgs;
use crate::cpulist::CpuList;
use crate::pin::apply::libvirt::{self, Virsh};
use crate::pin::apply::{affinity, describe_drift, process, qmp, xen, Drift};
use crate::pin::emit::emitter;
use crate::pin::journal::{self, Journal, JournalBackend};
use crate::pin::{plan, Current, DomainSpec, Plan, Policy, Role, Target, DOM0};
use crate::topology::Topology;
use crate::xl::{parse_vcpu_list, Xl};
use anyhow::{anyhow, bail, Context, Result};
use std::process::ExitCode;

/// Exit status of `--check` when the live state has drifted from the plan.
pub const EXIT_DRIFT: u8 = 3;

/// The name of the non-VM side on a KVM or plain-Linux host (Dom-0's role there).
pub const HOST: &str = "host";

/// Runs the command; errors are printed as `error: …` with exit status 1.
pub fn run(args: PinArgs) -> ExitCode {
    match run_inner(&args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Where the domains come from.
enum Mode {
    /// `xl vcpu-list` on this Xen host.
    Xen,
    /// `--domain NAME=VCPUS`: nothing is asked of the host.
    Declared,
    /// `--pid` / `--qmp`: Linux processes on this host.
    Process,
    /// `--libvirt`: libvirt guests, through virsh.
    Libvirt,
}

fn run_inner(args: &PinArgs) -> Result<ExitCode> {
    let journal_path = args.journal.clone().unwrap_or_else(journal::default_path);
    if args.revert {
        return revert(&journal_path);
    }
    let mode = if !args.pids.is_empty() || !args.qmp.is_empty() {
        Mode::Process
    } else if args.libvirt {
        Mode::Libvirt
    } else if !args.domains.is_empty() {
        Mode::Declared
    } else {
        Mode::Xen
    };
    if matches!(mode, Mode::Declared) && (args.apply || args.check) {
        bail!("--apply and --check act on the live host, but --domain declares domains that may not exist: drop --domain (and --topology) to use the running domains");
    }
    if args.topology.is_some() && (args.apply || args.check) {
        bail!("--apply and --check need the live host's topology: drop --topology");
    }
    let xl = Xl::from_env();
    let topo = match (&mode, &args.topology) {
        (_, Some(_)) | (Mode::Declared | Mode::Process | Mode::Libvirt, None) => {
            super::topology::load(args.topology.as_deref(), args.source)?
        }
        (Mode::Xen, None) => crate::topology::xen::from_host(&xl)
            .context("reading the physical topology with `xl info -n`")?,
    };
    let plan = match &args.plan {
        Some(path) => {
            let plan = load_plan(path)?;
            let absent: CpuList = plan
                .assignments
                .iter()
                .fold(CpuList::new(), |a, x| a.union(&x.hard))
                .difference(&topo.all_cpus());
            if !absent.is_empty() {
                bail!("the plan {} uses CPUs {absent}, which are offline or absent on this host ({}): plan again on this host", path.display(), topo.source);
            }
            plan
        }
        None => make_plan(args, &mode, &topo, &xl)?,
    };
    match mode {
        Mode::Xen if args.check => report_drift(xen::check(&xl, &plan, topo.bitmap_size())?),
        Mode::Process if args.check => report_drift(process::check(
            &affinity::Kernel,
            &process_targets(&plan, &gather_processes(args)?)?,
        )?),
        Mode::Libvirt if args.check => report_drift(libvirt::check(&Virsh::from_env(), &plan)?),
        Mode::Libvirt if args.apply => {
            let done = libvirt::apply(&Virsh::from_env(), &plan, &journal_path)?;
            println!(
                "Applied {} virsh command(s); read-back matches the plan.",
                done.len()
            );
            for c in &done {
                println!("  {c}");
            }
            println!(
                "Journal: {} (undo with `remus-tune pin --revert --journal {}`)",
                journal_path.display(),
                journal_path.display()
            );
            println!("These are live pins: repeat them with --config (see --format shell) to keep them across restarts.");
            Ok(ExitCode::SUCCESS)
        }
        Mode::Xen if args.apply => {
            let applied = xen::apply(&xl, &plan, topo.bitmap_size(), &journal_path)?;
            println!(
                "Applied {} xl command(s); read-back matches the plan.",
                applied.commands.len()
            );
            for c in &applied.commands {
                println!("  {c}");
            }
            println!(
                "Journal: {} (undo with `remus-tune pin --revert --journal {}`)",
                applied.journal.display(),
                applied.journal.display()
            );
            println!("Runtime pins are lost on reboot and Remus failover: see `--format xl-cfg` and `--format boot`.");
            Ok(ExitCode::SUCCESS)
        }
        Mode::Process if args.apply => {
            let applied = process::apply(
                &affinity::Kernel,
                &process_targets(&plan, &gather_processes(args)?)?,
                &journal_path,
            )?;
            println!(
                "Pinned {} thread(s); read-back matches the plan.",
                applied.threads.len()
            );
            for t in &plan
                .placements
                .iter()
                .filter(|p| p.role == Role::Protected)
                .collect::<Vec<_>>()
            {
                println!("  {}: CPUs {}", t.domain, t.cpus);
            }
            println!(
                "Journal: {} (undo with `remus-tune pin --revert --journal {}`)",
                applied.journal.display(),
                applied.journal.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        _ => {
            print!("{}", emitter(args.format).emit(&plan)?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn report_drift(drift: Vec<Drift>) -> Result<ExitCode> {
    if drift.is_empty() {
        println!("ok: the live affinities match the plan");
        Ok(ExitCode::SUCCESS)
    } else {
        print!(
            "DRIFT: {} vCPU(s)/thread(s) differ from the plan:\n{}",
            drift.len(),
            describe_drift(&drift)
        );
        println!("re-apply with `remus-tune pin --apply` (after `--revert` of the old journal) or investigate who changed them");
        Ok(ExitCode::from(EXIT_DRIFT))
    }
}

fn load_plan(path: &std::path::Path) -> Result<Plan> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the plan {}", path.display()))?;
    yaml_serde::from_str(&text).map_err(|e| {
        anyhow!(
            "{} is not a plan written by `pin --format yaml`: {e}",
            path.display()
        )
    })
}

fn revert(path: &std::path::Path) -> Result<ExitCode> {
    let journal = Journal::load(path)?;
    let lines = match journal.backend {
        JournalBackend::Xen => {
            let xl = Xl::from_env();
            let info = crate::xl::parse_info(&xl.info()?)?;
            let size = info
                .max_cpu_id()
                .map(|m| m + 1)
                .ok_or_else(|| anyhow!("`xl info` printed no max_cpu_id"))?;
            xen::revert(&xl, path, &journal, size)?
        }
        JournalBackend::Process => process::revert(&affinity::Kernel, path, &journal)?,
        JournalBackend::Libvirt => libvirt::revert(&Virsh::from_env(), path, &journal)?,
    };
    println!("Reverted {} entries from {}:", lines.len(), path.display());
    for l in lines {
        println!("  {l}");
    }
    Ok(ExitCode::SUCCESS)
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

fn make_plan(args: &PinArgs, mode: &Mode, topo: &Topology, xl: &Xl) -> Result<Plan> {
    let policy = Policy {
        dom0_cpus: args.dom0_cpus,
        strategy: args.strategy,
    };
    let named = named_protected(args);
    let mut notes = Vec::new();
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
                let vcpus = virsh.vcpu_affinity(&dom)?;
                known.push((dom.clone(), vcpus.len() as u32));
                for (vcpu, cpus) in vcpus {
                    current.push(Current {
                        domain: dom.clone(),
                        vcpu,
                        hard: cpus.to_string(),
                        soft: "-".into(),
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
                    let list: Vec<String> = threads.iter().map(u32::to_string).collect();
                    notes.push(crate::pin::RuleCheck {
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
    let mut plan = plan(topo, &specs, &policy);
    plan.current = current;
    plan.rules.extend(notes);
    match mode {
        Mode::Process => {
            plan.target = Target::Process;
            rename_host(&mut plan);
        }
        Mode::Libvirt => {
            plan.target = Target::Libvirt;
            rename_host(&mut plan);
        }
        Mode::Xen => plan.rules.push(persistence(&plan, xl)),
        Mode::Declared => {}
    }
    Ok(plan)
}

/// Whether the pins will survive a reboot or a Remus failover: runtime pins are not stored
/// in a domain's config, and the backup restores the stored `cpus=` (interfaces.md §0 item
/// 10), so compare the plan with `xl list -l`.
fn persistence(plan: &Plan, xl: &Xl) -> crate::pin::RuleCheck {
    let rule = |met: bool, detail: String| crate::pin::RuleCheck {
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

/// On a KVM or plain host the Dom-0 role is the host's own work, which this command does not
/// pin (that is systemd's `CPUAffinity=` or tuned's job): call it `host` and drop its entries.
/// The emulator threads of protected VMs go there, when they can be told apart.
fn rename_host(plan: &mut Plan) {
    for p in &mut plan.placements {
        if p.domain == DOM0 {
            p.domain = HOST.into();
        }
    }
    for r in &mut plan.rules {
        r.detail = r.detail.replace("Dom-0", "the host");
    }
    plan.assignments.retain(|a| a.domain != DOM0);
    plan.rules.retain(|r| r.rule != "dom0-boot-pin");
    let host = plan
        .placement(HOST)
        .map(|p| p.cpus.to_string())
        .unwrap_or_default();
    plan.rules.push(crate::pin::RuleCheck {
        rule: "host-housekeeping".into(),
        met: true,
        detail: format!("the host's own work should stay on CPUs {host}: set systemd's CPUAffinity={host} or tuned's isolated_cores to the rest; remus-tune pins only the protected processes"),
    });
}

/// A process to protect, as found on this host.
struct Proc {
    pid: u32,
    vcpus: u32,
    /// Its vCPU threads, when QMP or QEMU's thread names tell them.
    vcpu_threads: Option<Vec<u32>>,
}

/// The processes named by `--pid` and `--qmp`.
fn gather_processes(args: &PinArgs) -> Result<Vec<Proc>> {
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
fn process_targets(plan: &Plan, procs: &[Proc]) -> Result<Vec<process::ProcessTarget>> {
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

/// The dry-run pin plan for this host as text, for `advise`'s report: Xen if `xl` answers,
/// otherwise the hwloc topology with no VMs declared.
pub fn host_plan_text() -> Result<String> {
    let xl = Xl::from_env();
    let on_xen = super::topology::on_xen(&xl);
    let (topo, specs) = if on_xen {
        let topo = crate::topology::xen::from_host(&xl)?;
        let list = parse_vcpu_list(&xl.vcpu_list()?)?;
        let specs = list
            .domains()
            .into_iter()
            .map(|(name, _, vcpus)| DomainSpec {
                protected: name != DOM0,
                name,
                vcpus,
            })
            .collect::<Vec<_>>();
        (topo, specs)
    } else {
        (crate::topology::hwloc::from_host()?, Vec::new())
    };
    let mut p = plan(&topo, &specs, &Policy::default());
    if !on_xen {
        p.target = Target::Process;
        rename_host(&mut p);
    }
    crate::pin::emit::emitter(crate::pin::emit::PinFormat::Text).emit(&p)
}
