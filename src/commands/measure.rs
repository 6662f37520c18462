//! `remus-tune measure`: validate the settings, find or launch the target (through the one
//! backend factory, `backend::select`), run the measuring loop, print the summary, and exit
//! with a code that says how the run ended.

use super::no_xen::or_no_xen;
use crate::backend::process::sample::SampleSize;
use crate::backend::process::target::ProcessTarget;
use crate::backend::select::{self, BackendChoice, BuildOptions, Resolved};
use crate::backend::Backend;
use crate::cli::MeasureArgs;
use crate::host::UtcTime;
use crate::measure::{self, MeasureOutcome, MeasurePlan};
use crate::output::{emit, Format};
use crate::settings::{check_new_file, Timing};
use crate::summary::{summarize, Summary};
use crate::sys::signals::StopSignal;
use crate::trace::{read_trace, EndReason};
use anyhow::{bail, Context, Result};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode};
use std::time::{Duration, Instant};

/// Exit code when the target went away before the run's end.
pub const EXIT_TARGET_GONE: u8 = 3;

/// The exit code for how a run ended.
pub fn exit_code(reason: EndReason) -> ExitCode {
    ExitCode::from(match reason {
        EndReason::Completed | EndReason::CommandExited => 0,
        EndReason::Interrupted => 130,
        EndReason::Terminated => 143,
        EndReason::TargetExited => EXIT_TARGET_GONE,
        EndReason::Error => 1,
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
    };
    let outcome = measure::run(backend, &plan, stop, command)?;
    let trace = read_trace(&outcome.trace)
        .with_context(|| "the trace just written cannot be read back".to_string())?;
    let summary = summarize(&trace, &outcome.trace.display().to_string());
    Ok((outcome, summary))
}

/// What `measure` and `advise` say after "no Xen here".
pub const NO_XEN_HINT: &str = "The Xen backend measures a domain from Dom-0 of a Xen host. On \
     this host, measure a Linux process with --backend process.";

pub fn run(args: &MeasureArgs) -> Result<ExitCode> {
    or_no_xen(measure_command(args), NO_XEN_HINT)
}

fn measure_command(args: &MeasureArgs) -> Result<ExitCode> {
    let timing = Timing::new(args.epoch, &args.intervals, args.duration)?;
    check_new_file(args.output.as_deref(), args.force)?;
    if args.exec && args.backend == BackendChoice::Xen {
        bail!(
            "--exec launches a process, not a Xen domain: drop --backend xen, or name the domain"
        );
    }
    if args.observe {
        // Observing is beside Remus, which only Xen runs: refuse before resolving anything.
        let target = args.target.as_deref().filter(|_| args.qmp.is_none());
        let xen = match args.backend {
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
    let child = if args.exec {
        Some(launch(&args.command)?)
    } else {
        None
    };
    let (outcome, summary) =
        with_child(child, |child| measure_launched(args, timing, &stop, child))?;
    finish(&outcome, &summary, args.format)
}

/// The end of every measuring command: the summary on stdout, how it ended on stderr, and
/// the exit code for that.
pub fn finish(outcome: &MeasureOutcome, summary: &Summary, format: Format) -> Result<ExitCode> {
    emit(summary, format)?;
    report_end(outcome);
    Ok(exit_code(outcome.end.reason))
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
    stop: &StopSignal,
    child: Option<&mut Child>,
) -> Result<(MeasureOutcome, Summary)> {
    let (resolved, why) = match &child {
        Some(child) => {
            let target = ProcessTarget::launched(child.id() as i32, &args.command);
            let why = format!("launched process {} ({})", target.pid, target.name);
            (Resolved::Process(target), why)
        }
        None => select::resolve(
            args.target.as_deref().unwrap_or_default(),
            args.backend,
            args.qmp.as_deref(),
        )?,
    };
    eprintln!("remus-tune measure: {why}; {}", timing.describe());
    let options = BuildOptions {
        method: args.method,
        epoch: args.epoch,
        sample: SampleSize::new(args.sample_per_gib, args.sample_min),
        observe: args.observe,
    };
    let request = MeasureRequest {
        timing,
        output: args.output.clone(),
        overwrite: args.force,
    };
    measure_resolved(resolved, options, args.warmup, request, stop, child)
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
        eprintln!("{line}");
    }
    let settle = Instant::now() + warmup;
    while Instant::now() < settle && stop.received().is_none() {
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut backend = resolved.build(options)?;
    measure_backend(backend.as_mut(), request, stop, child)
}

/// Says on stderr how an early end happened (the summary on stdout has the numbers).
pub fn report_end(outcome: &MeasureOutcome) {
    if outcome.end.reason.is_early() && outcome.end.reason != EndReason::CommandExited {
        eprintln!(
            "measuring ended early after {} epochs: {}; the trace {} holds everything measured",
            outcome.end.epochs,
            outcome.end.message,
            outcome.trace.display()
        );
    } else {
        eprintln!("trace written to {}", outcome.trace.display());
    }
}

/// Starts the --exec command directly (no shell). Its stdout goes to our stderr, so that
/// stdout carries only the summary (which scripts parse as JSON or YAML).
fn launch(command: &[String]) -> Result<Child> {
    let (program, rest) = command
        .split_first()
        .context("--exec needs a command after `--`")?;
    let stderr = std::io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .context("cannot pass stderr to the command")?;
    Command::new(program)
        .args(rest)
        .stdout(stderr)
        .spawn()
        .with_context(|| {
            format!("cannot run `{program}`: check the path and that it is executable")
        })
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
