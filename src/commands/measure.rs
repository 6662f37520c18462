//! `remus-tune measure`: validate the timing, find or launch the target, run the measuring
//! loop, print the summary, and exit with a code that says how the run ended.

use super::target::{self, BackendSettings, Resolved};
use crate::backend::process::sample::SampleSize;
use crate::backend::process::target::ProcessTarget;
use crate::backend::Backend;
use crate::cli::MeasureArgs;
use crate::host::UtcTime;
use crate::measure::{self, MeasureOutcome, MeasurePlan};
use crate::output::emit;
use crate::summary::Summary;
use crate::sys::signals::StopSignal;
use crate::trace::EndReason;
use crate::units::HumanDuration;
use anyhow::{bail, Context, Result};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode};
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

/// Checks that every interval is a whole number of base epochs; returns (ms, epochs) pairs.
pub fn plan_intervals(epoch: Duration, intervals: &[Duration]) -> Result<Vec<(u64, u32)>> {
    if epoch < Duration::from_millis(1) {
        bail!(
            "--epoch must be at least 1ms (got {})",
            HumanDuration(epoch)
        );
    }
    if intervals.is_empty() {
        bail!("--intervals is empty: give at least one interval, e.g. 25ms,100ms");
    }
    let epoch_us = epoch.as_micros();
    let mut planned = Vec::new();
    for interval in intervals {
        let us = interval.as_micros();
        if us == 0 || us % epoch_us != 0 || us % 1000 != 0 {
            bail!(
                "interval {} is not a multiple of the base epoch {}: every interval is built \
                 from whole epochs; use multiples such as {}, {}, {}",
                HumanDuration(*interval),
                HumanDuration(epoch),
                HumanDuration(epoch),
                HumanDuration(epoch * 2),
                HumanDuration(epoch * 4)
            );
        }
        planned.push(((us / 1000) as u64, (us / epoch_us) as u32));
    }
    planned.sort_unstable();
    planned.dedup();
    Ok(planned)
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
    pub epoch: Duration,
    pub intervals: Vec<(u64, u32)>,
    pub duration: Duration,
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
        epoch: request.epoch,
        intervals: request.intervals,
        duration: request.duration,
        output,
        overwrite: request.overwrite,
    };
    let outcome = measure::run(backend, &plan, stop, command)?;
    let summary = outcome.summary.clone();
    Ok((outcome, summary))
}

pub fn run(args: &MeasureArgs) -> Result<ExitCode> {
    let intervals = plan_intervals(args.epoch, &args.intervals)?;
    if args.duration < args.epoch {
        bail!(
            "--duration {} is shorter than one --epoch {}",
            HumanDuration(args.duration),
            HumanDuration(args.epoch)
        );
    }
    if let Some(output) = args
        .output
        .as_ref()
        .filter(|path| !args.force && path.exists())
    {
        // Checked before anything is launched or scanned; the writer checks again atomically.
        bail!(
            "{} already exists: choose another -o/--output, or pass --force to replace it",
            output.display()
        );
    }
    // Handlers first: a Ctrl-C from here on ends the run cleanly instead of killing us.
    let stop = StopSignal::install()?;
    if let Some(code) = super::measure_xen::dispatch(args, &intervals, &stop)? {
        return Ok(code);
    }
    let mut child = if args.exec {
        Some(launch(&args.command)?)
    } else {
        None
    };
    let result = measure_launched(args, intervals, &stop, child.as_mut());
    if let Some(child) = child.as_mut() {
        terminate(child);
    }
    let (outcome, summary) = result?;
    emit(&summary, args.format)?;
    report_end(&outcome);
    if outcome.write_failure.is_some() {
        return Ok(ExitCode::from(EXIT_TRACE_IO));
    }
    Ok(exit_code(outcome.end.reason))
}

fn measure_launched(
    args: &MeasureArgs,
    intervals: Vec<(u64, u32)>,
    stop: &StopSignal,
    child: Option<&mut Child>,
) -> Result<(MeasureOutcome, Summary)> {
    let (resolved, why) = match &child {
        Some(child) => {
            let target = ProcessTarget::launched(child.id() as i32, &args.command);
            let why = format!("launched process {} ({})", target.pid, target.name);
            (Resolved::Process(target), why)
        }
        None => target::resolve(
            args.target.as_deref().unwrap_or_default(),
            args.backend,
            args.qmp.as_deref(),
        )?,
    };
    eprintln!("remus-tune measure: {why}; {}", args.describe_timing());
    let settle = Instant::now() + args.warmup;
    while Instant::now() < settle && stop.received().is_none() {
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut backend = resolved.build(BackendSettings {
        method: args.method,
        epoch: args.epoch,
        sample: SampleSize::new(args.sample_per_gib, args.sample_min),
    })?;
    let request = MeasureRequest {
        epoch: args.epoch,
        intervals,
        duration: args.duration,
        output: args.output.clone(),
        overwrite: args.force,
    };
    measure_backend(backend.as_mut(), request, stop, child)
}

/// Says on stderr how an early end happened (the summary on stdout has the numbers).
pub fn report_end(outcome: &MeasureOutcome) {
    if let Some(failure) = &outcome.write_failure {
        eprintln!(
            "error: {} epoch(s) lost: the trace {} could not be written from epoch {} on ({}); \
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

/// Stops a child we launched: SIGTERM, then SIGKILL if it does not go within 3 s.
pub fn terminate(child: &mut Child) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    // SAFETY: kill has no memory-safety preconditions; the PID is our own child, not reaped.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
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
    fn intervals_must_be_multiples() {
        let ms = Duration::from_millis;
        assert_eq!(
            plan_intervals(ms(25), &[ms(100), ms(25), ms(50)]).unwrap(),
            vec![(25, 1), (50, 2), (100, 4)]
        );
        let err = plan_intervals(ms(25), &[ms(60)]).unwrap_err().to_string();
        assert!(
            err.contains("not a multiple") && err.contains("60ms"),
            "{err}"
        );
        assert!(plan_intervals(ms(25), &[]).is_err());
        assert!(plan_intervals(Duration::from_micros(10), &[ms(1)]).is_err());
    }

    #[test]
    fn default_names_are_file_safe() {
        let name = default_output("my vm/1").display().to_string();
        assert!(
            name.starts_with("my_vm_1-") && name.ends_with(".trace.yaml"),
            "{name}"
        );
    }
}
