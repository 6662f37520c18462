//! `remus-tune pin`: gather the inputs (topology, domains, which are protected), plan, then
//! emit the plan, or apply, check or revert it through the [`Applier`] of the target. Host
//! facts are read here and in [`gather`]; the planner itself is pure, and every result goes
//! out through [`crate::output`] or an emitter.

mod gather;

use gather::{gather_processes, make_plan, process_targets, Mode};

use crate::cli::{Format, PinArgs};
use crate::cpulist::CpuList;
use crate::pin::apply::libvirt::LibvirtApplier;
use crate::pin::apply::process::ProcessApplier;
use crate::pin::apply::xen::XenApplier;
use crate::pin::apply::{affinity, Action, Applier, ApplyReport};
use crate::pin::emit::{emitter, PinFormat};
use crate::pin::journal::{self, Journal, JournalBackend};
use crate::pin::Plan;
use crate::virsh::Virsh;
use crate::xl::Xl;
use anyhow::{anyhow, bail, Context, Result};
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

pub use crate::pin::host_plan::{host_plan_html, host_plan_text};
pub use crate::pin::host_role::HOST;

/// Exit status of `--check` when the live state has drifted from the plan.
pub const EXIT_DRIFT: u8 = 4; // exit_codes.rs table
/// Exit status of a plan that breaks a rule (`FAIL:`); the plan is still printed.
pub const EXIT_PLAN_FAILS: u8 = 6; // exit_codes.rs table
/// Exit status of a usage error found after clap (a format that does not fit the action).
pub const EXIT_USAGE: u8 = 2; // exit_codes.rs table

/// Runs `remus-tune pin`: the exit code, or an error for `main` to print.
pub fn run(args: &PinArgs) -> Result<ExitCode> {
    let journal_path = args.journal.clone().unwrap_or_else(journal::default_path);
    let action = match (args.apply, args.check, args.revert) {
        (true, _, _) => Some(Action::Apply),
        (_, true, _) => Some(Action::Check),
        (_, _, true) => Some(Action::Revert),
        _ => None,
    };
    let report_format = match (action, report_format(args.format)) {
        (Some(_), None) => {
            crate::error!(
                "--apply, --check and --revert report in --format text, json or yaml; `{}` is a form of the plan: drop --apply/--check/--revert to print it",
                format_name(args.format)
            );
            return Ok(ExitCode::from(EXIT_USAGE));
        }
        (_, f) => f.unwrap_or(Format::Text),
    };
    if action == Some(Action::Revert) {
        return revert(&journal_path, args.force, report_format);
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
    if action.is_some() {
        if matches!(mode, Mode::Declared) {
            bail!("--apply and --check act on the live host, but --domain declares domains that may not exist: drop --domain (and --topology) to use the running domains");
        }
        if args.topology.is_some() || args.backup_topology.is_some() {
            bail!("--apply and --check need the live host's topology: drop --topology and --backup-topology");
        }
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
    let Some(action) = action else {
        return print_plan(&plan, args.format);
    };
    let applier: Box<dyn Applier> = match mode {
        Mode::Xen => Box::new(XenApplier {
            xl,
            bitmap_size: topo.bitmap_size(),
        }),
        Mode::Libvirt => Box::new(LibvirtApplier {
            virsh: Virsh::from_env(),
        }),
        Mode::Process => Box::new(ProcessApplier {
            sys: &affinity::Kernel,
            targets: process_targets(&plan, &gather_processes(args)?)?,
            force: args.force,
        }),
        Mode::Declared => unreachable!("refused above: --domain with --apply or --check"),
    };
    let report = match action {
        Action::Check => ApplyReport::checked(applier.backend(), applier.check(&plan)?),
        _ => {
            for r in plan.failures() {
                crate::warn!("applying a plan that breaks a rule: {}", r.detail);
            }
            let applied = applier.apply(&plan, &journal_path)?;
            let mut report = ApplyReport::new(Action::Apply, applier.backend());
            report.changed = applied.changed;
            report.changes = applied.changes;
            report.journal = Some(journal_path.clone());
            report.advice = Some(persistence_advice(applier.backend()).into());
            report
        }
    };
    crate::output::emit(&report, report_format)?;
    Ok(if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_DRIFT)
    })
}

/// The format of an apply/check/revert report, if `format` is one (text, json, yaml).
fn report_format(format: PinFormat) -> Option<Format> {
    match format {
        PinFormat::Text => Some(Format::Text),
        PinFormat::Json => Some(Format::Json),
        PinFormat::Yaml => Some(Format::Yaml),
        _ => None,
    }
}

fn format_name(format: PinFormat) -> String {
    use clap::ValueEnum;
    format
        .to_possible_value()
        .map(|v| v.get_name().to_string())
        .unwrap_or_default()
}

/// What the apply leaves for the admin to do so that the pins outlive the running state.
fn persistence_advice(backend: JournalBackend) -> &'static str {
    match backend {
        JournalBackend::Xen => "Runtime pins are lost on reboot and Remus failover: see `--format xl-cfg` and `--format boot`.",
        JournalBackend::Libvirt => "Pinned live and in the persistent config (--config): the pins survive a restart and travel with a migration (`--format libvirt-xml` shows the <cputune>).",
        JournalBackend::Process => "These pins last as long as the threads: new threads inherit them, a restarted process does not; `--format systemd` or `--format tuned` keep the host's own work off these cores.",
    }
}

/// Prints the plan in its form; exit 6 when it breaks a rule, said on stderr as well for
/// every form but text (which prints the FAIL lines itself).
fn print_plan(plan: &Plan, format: PinFormat) -> Result<ExitCode> {
    let text = emitter(format).emit(plan)?;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    let fails = plan.failures();
    if fails.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    if format != PinFormat::Text {
        eprintln!(
            "WARNING: this plan breaks {} rule(s) (exit status {EXIT_PLAN_FAILS}); the output above carries it out as far as the host allows:",
            fails.len()
        );
        for r in fails {
            crate::note!("  FAIL: {}", r.detail);
        }
    }
    Ok(ExitCode::from(EXIT_PLAN_FAILS))
}

fn load_plan(path: &Path) -> Result<Plan> {
    let text = crate::limits::read_yaml(path, crate::limits::FileKind::PinPlan)
        .with_context(|| format!("cannot read the plan {}", path.display()))?;
    yaml_serde::from_str(&text).map_err(|e| {
        anyhow!(
            "{} is not a plan written by `pin --format yaml`: {e}",
            path.display()
        )
    })
}

/// `pin --revert`: the journal says which applier wrote it.
fn revert(path: &Path, force: bool, format: Format) -> Result<ExitCode> {
    let journal = Journal::load(path)?;
    let applier: Box<dyn Applier> = match journal.backend {
        JournalBackend::Xen => Box::new(XenApplier::from_host(Xl::from_env())?),
        JournalBackend::Process => Box::new(ProcessApplier {
            sys: &affinity::Kernel,
            targets: Vec::new(),
            force,
        }),
        JournalBackend::Libvirt => Box::new(LibvirtApplier {
            virsh: Virsh::from_env(),
        }),
    };
    let lines = applier.revert(path, &journal)?;
    let mut report = ApplyReport::new(Action::Revert, journal.backend);
    report.changed = lines.len();
    report.changes = lines;
    report.journal = Some(path.to_path_buf());
    crate::output::emit(&report, format)?;
    Ok(ExitCode::SUCCESS)
}
