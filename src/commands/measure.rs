//! `remus-tune measure`: validate the settings, find or launch the target (through the one
//! backend factory, `backend::select`), run the measuring loop, print the summary, and exit
//! with a code that says how the run ended.

use super::no_xen::or_no_xen;
use crate::backend::process::exec;
use crate::backend::process::target::ProcessTarget;
use crate::backend::select::{self, BackendChoice, BuildOptions, Resolved};
use crate::backend::Backend;
use crate::cli::MeasureArgs;
use crate::host::UtcTime;
use crate::measure::{self, MeasureOutcome, MeasurePlan};
use crate::output::{emit, Format};
use crate::settings::Timing;
use crate::summary::Summary;
use crate::sys::signals::StopSignal;
use crate::trace::EndReason;
use anyhow::{bail, Context, Result};
use std::path::PathBuf;
use std::process::{Child, ExitCode};
use std::time::{Duration, Instant};

/// Exit code when the target went away before the run's end.
pub const EXIT_TARGET_GONE: u8 = 3;
/// Exit code when epochs could not be written to the trace. // exit_codes.rs table
pub const EXIT_TRACE_IO: u8 = 74;

/// The exit code for how a run ended.
pub fn exit_code(reason: EndReason) -> ExitCode {
    ExitCode::from(match reason {
        EndReason::Completed | EndReason::CommandExited => 0,
        EndReason::Interrupted => 130,
        EndReason::Terminated => 143,
        EndReason::HangUp => 129, // exit_codes.rs table
        EndReason::TargetExited => EXIT_TARGET_GONE,
        EndReason::Error | EndReason::Truncated => 1,
    })
}

/// Where the trace goes by default: `<name>-<timestamp>.trace.yaml` in the current directory.
pub fn default_output(name: &str) -> PathBuf {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    PathBuf::from(format!("{safe}-{}.trace.yaml", UtcTime::now().compact()))
}

/// How long and how often to measure, after validation; shared by `measure` and `advise`.
pub struct MeasureRequest {
    pub timing: Timing,
    /// Trace file; default `<target name>-<timestamp>.trace.yaml`.
    pub output: Option<PathBuf>,
    pub overwrite: bool,
    /// `--probe`, with its figure before measuring.
    pub probe: Option<crate::measure::ProbePlan>,
}

/// Measures `backend` and summarises; `command` is an --exec child to watch.
pub fn measure_backend(
    backend: &mut dyn Backend,
    request: MeasureRequest,
    stop: &StopSignal,
    command: Option<&mut Child>,
) -> Result<(MeasureOutcome, Summary)> {
    let output = request
        .output
        .unwrap_or_else(|| default_output(&backend.target().name));
    let plan = MeasurePlan {
        epoch: request.timing.epoch,
        intervals: request.timing.interval_pairs(),
        duration: request.timing.duration,
        output,
        overwrite: request.overwrite,
        probe: request.probe,
    };
    let outcome = measure::run(backend, &plan, stop, command)?;
    let summary = outcome.summary.clone();
    Ok((outcome, summary))
}

/// What `measure` and `advise` say after "no Xen here".
pub const NO_XEN_HINT: &str = "The Xen backend measures a domain from Dom-0 of a Xen host. On \
     this host, measure a Linux process with --backend process.";

pub fn run(args: &MeasureArgs) -> Result<ExitCode> {
    or_no_xen(measure_command(args), NO_XEN_HINT)
}

fn measure_command(args: &MeasureArgs) -> Result<ExitCode> {
    let timing = Timing::new(args.epochs.epoch, &args.epochs.intervals, args.duration)?;
    let options = args.target_flags.build_options(args.epochs.epoch)?;
    let flags = &args.target_flags;
    if let Some(output) = &args.output {
        // Checked before anything is launched or scanned; the writer checks again atomically.
        let program = args.command.first().map(std::path::Path::new);
        let mut inputs = vec![];
        inputs.extend(flags.qmp.as_deref().map(|q| ("the QMP socket", q)));
        inputs.extend(program.map(|p| ("the command to run", p)));
        crate::outfile::check_output(output, args.force, &inputs)
            .context("-o/--output is refused")?;
    }
    if args.exec && flags.backend == BackendChoice::Xen {
        bail!(
            "--exec launches a process, not a Xen domain: drop --backend xen, or name the domain"
        );
    }
    if flags.observe {
        // Observing is beside Remus, which only Xen runs: refuse before resolving anything.
        let target = args.target.as_deref().filter(|_| flags.qmp.is_none());
        let xen = match flags.backend {
            BackendChoice::Xen => true,
            BackendChoice::Process | BackendChoice::Qemu => false,
            BackendChoice::Auto => target.is_some_and(select::names_xen_domain),
        };
        if !xen || target.is_none() {
            bail!("{}", observe_needs_xen(target.unwrap_or("--exec")));
        }
    }
    // Handlers first: a Ctrl-C from here on ends the run cleanly instead of killing us.
    let stop = StopSignal::install()?;
    let mut child = if args.exec {
        Some(exec::launch(&args.command)?)
    } else {
        None
    };
    let result = measure_launched(args, timing, options, &stop, child.as_mut());
    if let Some(child) = child.as_mut() {
        // Asked before stopping the tree: a command we stopped did not end by itself.
        let ended_by_itself = exited_by_itself(child, &result);
        exec::stop_tree(child);
        if ended_by_itself {
            if let Some(code) = exited_before_measuring(child, &args.command, &result) {
                return Ok(code);
            }
        }
    }
    let (outcome, summary) = result?;
    finish(&outcome, &summary, args.format)
}

/// The end of every measuring command: the summary on stdout, how it ended on stderr, and
/// the exit code for that.
pub fn finish(outcome: &MeasureOutcome, summary: &Summary, format: Format) -> Result<ExitCode> {
    emit(summary, format)?;
    if let Some(effect) = &outcome.end.observer_effect {
        crate::note!("{}", effect.describe());
    }
    if let Some(pages) = outcome.end.working_set_pages {
        crate::note!(
            "working set: {pages} distinct pages dirtied over the whole measurement (the model's \
             dirty-set curve saturates there)"
        );
    }
    report_end(outcome);
    if outcome.write_failure.is_some() {
        return Ok(ExitCode::from(EXIT_TRACE_IO));
    }
    Ok(exit_code(outcome.end.reason))
}

/// True when the --exec command ended on its own before its first epoch, not stopped by us
/// after a Ctrl-C or SIGTERM (false for every run that measured an epoch). A measuring error
/// can come from the command's own exit (its /proc entries vanish a moment before it is a
/// zombie), so it gets 200 ms to show as exited.
fn exited_by_itself(child: &mut Child, result: &Result<(MeasureOutcome, Summary)>) -> bool {
    if let Ok((outcome, _)) = result {
        let signalled = matches!(
            outcome.end.reason,
            EndReason::Interrupted | EndReason::Terminated
        );
        if signalled || outcome.end.epochs > 0 {
            return false;
        }
    }
    let deadline = Instant::now() + Duration::from_millis(200);
    loop {
        if matches!(child.try_wait(), Ok(Some(_))) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The one outcome of an `--exec` command that ends before its first epoch was measured
/// (`--exec -- true`): however far measuring got (no backend yet, or a trace of no epochs),
/// nothing was measured, so it says so, leaves no trace, and exits 3 like any target that
/// went away; `None` for every other run.
fn exited_before_measuring(
    child: &mut Child,
    command: &[String],
    result: &Result<(MeasureOutcome, Summary)>,
) -> Option<ExitCode> {
    let status = child.try_wait().ok()??;
    match result {
        Ok((outcome, _)) if outcome.end.epochs == 0 => {
            let _ = std::fs::remove_file(&outcome.trace);
        }
        Err(_) => {}
        Ok(_) => return None,
    }
    crate::error!(
        "`{}` exited ({status}) before its first epoch was measured: nothing was \
         measured and no trace was written. --exec needs a command that runs for at least one \
         --epoch; to measure a short job, make it last longer (or loop it)",
        command.join(" ")
    );
    Some(ExitCode::from(EXIT_TARGET_GONE))
}

fn observe_needs_xen(target: &str) -> String {
    format!(
        "--observe is for Xen domains (measure beside Remus); `{target}` was not found as one: \
         check `xl list`, or drop --observe"
    )
}

fn measure_launched(
    args: &MeasureArgs,
    timing: Timing,
    options: BuildOptions,
    stop: &StopSignal,
    child: Option<&mut Child>,
) -> Result<(MeasureOutcome, Summary)> {
    let (resolved, why) = match &child {
        Some(child) => {
            let target = ProcessTarget::launched(child.id() as i32, &args.command);
            let why = format!(
                "launched process {} ({}) and every process it starts",
                target.pid, target.name
            );
            (Resolved::Launched(target), why)
        }
        None => select::resolve(
            args.target.as_deref().unwrap_or_default(),
            args.target_flags.backend,
            args.target_flags.qmp.as_deref(),
        )?,
    };
    crate::note!("remus-tune measure: {why}; {}", timing.describe());
    let request = MeasureRequest {
        timing,
        output: args.output.clone(),
        overwrite: args.force,
        probe: probe_before(args, stop)?,
    };
    measure_resolved(resolved, options, args.warmup, request, stop, child)
}

/// `--probe`: its figure before measuring (run now, before anything is switched on, unless
/// the caller passed it).
fn probe_before(
    args: &MeasureArgs,
    stop: &StopSignal,
) -> Result<Option<crate::measure::ProbePlan>> {
    let Some(command) = args.probe.as_deref().and_then(crate::probe::split) else {
        return Ok(None);
    };
    let before = match args.probe_baseline {
        Some(value) => value,
        None => crate::probe::run_probe(&command, stop)
            .context("the probe before measuring")?
            .context("interrupted during the probe before measuring")?,
    };
    Ok(Some(crate::measure::ProbePlan { command, before }))
}

/// Says where the target runs, lets it settle for `warmup`, builds its backend and measures
/// it: the one way every command measures a resolved target.
pub fn measure_resolved(
    resolved: Resolved,
    options: BuildOptions,
    warmup: Duration,
    request: MeasureRequest,
    stop: &StopSignal,
    child: Option<&mut Child>,
) -> Result<(MeasureOutcome, Summary)> {
    for line in resolved.placement() {
        crate::note!("{line}");
    }
    let settle = |stop: &StopSignal| {
        let until = Instant::now() + warmup;
        while Instant::now() < until && stop.received().is_none() {
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    // A Xen domain's backend is opened first: it reads the guest's unmeasured CPU rate over
    // the warm-up, the baseline of the observer effect. A process is looked at only once it
    // has settled (its memory at start decides the method).
    let mut backend = if resolved.is_xen() {
        let backend = resolved.build(options)?;
        settle(stop);
        backend
    } else {
        settle(stop);
        resolved.build(options)?
    };
    measure_backend(backend.as_mut(), request, stop, child)
}

/// Says on stderr how an early end happened (the summary on stdout has the numbers).
pub fn report_end(outcome: &MeasureOutcome) {
    if let Some(failure) = &outcome.write_failure {
        crate::error!(
            "{} epoch(s) lost: the trace {} could not be written from epoch {} on ({}); \
             the summary above covers every epoch measured, and the file reads up to its last \
             whole epoch with `remus-tune show --partial`",
            failure.lost,
            outcome.trace.display(),
            failure.first_lost,
            failure.error
        );
        return;
    }
    if outcome.end.reason.is_early() && outcome.end.reason != EndReason::CommandExited {
        crate::note!(
            "measuring ended early after {} epochs: {}; the trace {} holds everything measured",
            outcome.end.epochs,
            outcome.end.message,
            outcome.trace.display()
        );
    } else {
        crate::note!("trace written to {}", outcome.trace.display());
    }
}

/// Runs `work` on the child we launched (if any), and stops that child whatever `work`
/// returned: a launched target never outlives the command.
pub fn with_child<T>(mut child: Option<Child>, work: impl FnOnce(Option<&mut Child>) -> T) -> T {
    let result = work(child.as_mut());
    if let Some(child) = child.as_mut() {
        terminate(child);
    }
    result
}

/// Stops a child we launched: SIGTERM, then SIGKILL if it does not go within 3 s.
pub fn terminate(child: &mut Child) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    let _ = crate::sys::kill::signal_child(child, libc::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_names_are_file_safe() {
        let name = default_output("my vm/1").display().to_string();
        assert!(
            name.starts_with("my_vm_1-") && name.ends_with(".trace.yaml"),
            "{name}"
        );
    }
}
