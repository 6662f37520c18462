//! `remus-tune pin`: gather the inputs (topology, domains, which are protected), plan, then
//! emit, apply, check or revert. Host facts are read here and in [`gather`]; the planner
//! itself is pure.

mod gather;

use gather::{gather_processes, make_plan, process_targets, rename_host, Mode};

use crate::cli::PinArgs;
use crate::cpulist::CpuList;
use crate::pin::apply::libvirt::{self, Virsh};
use crate::pin::apply::{affinity, describe_drift, process, xen, Drift};
use crate::pin::emit::emitter;
use crate::pin::journal::{self, Journal, JournalBackend};
use crate::pin::{plan, DomainSpec, Plan, Policy, Role, Target, DOM0};
use crate::xl::{parse_vcpu_list, Xl};
use anyhow::{anyhow, bail, Context, Result};
use std::process::ExitCode;

/// Exit status of `--check` when the live state has drifted from the plan.
pub const EXIT_DRIFT: u8 = 3;

/// The name of the non-VM side on a KVM or plain-Linux host (Dom-0's role there).
pub const HOST: &str = "host";

/// Runs `remus-tune pin`: the exit code, or an error for `main` to print.
pub fn run(args: &PinArgs) -> Result<ExitCode> {
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
    let text = crate::limits::read_yaml(path, crate::limits::FileKind::PinPlan)
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

/// The dry-run pin plan for this host as text, for `advise`'s report: Xen if `xl` answers,
/// otherwise this host's own topology with no VMs declared.
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
        (crate::topology::native_host()?, Vec::new())
    };
    let mut p = plan(&topo, &specs, &Policy::default());
    if !on_xen {
        p.target = Target::Process;
        rename_host(&mut p);
    }
    crate::pin::emit::emitter(crate::pin::emit::PinFormat::Text).emit(&p)
}

/// [`host_plan_text`] as an HTML section, for `advise`'s report (`ReportInput::extra_html`).
pub fn host_plan_html() -> Result<String> {
    let text = host_plan_text()?;
    Ok(format!(
        "<h2>Pin plan for this host (dry run)</h2>\n<pre>{}</pre>\n",
        crate::report::escape(&text)
    ))
}
