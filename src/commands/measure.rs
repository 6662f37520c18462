//! `remus-tune measure`: validate the timing, find or launch the target, run the measuring
//! loop, print the summary, and exit with a code that says how the run ended.

use super::target::{self, BackendSettings, Resolved};
use crate::backend::process::exec;
use crate::backend::process::sample::SampleSize;
use crate::backend::process::target::ProcessTarget;
use crate::backend::process::tree::TreeBackend;
use crate::backend::process::ProcessOptions;
use crate::backend::Backend;
use crate::cli::MeasureArgs;
use crate::host::UtcTime;
use crate::measure::{self, MeasureOutcome, MeasurePlan};
use crate::output::emit;
use crate::summary::{summarize, Summary};
use crate::sys::signals::StopSignal;
use crate::trace::{read_trace, EndReason};
use crate::units::HumanDuration;
use anyhow::{bail, Context, Result};
use std::path::PathBuf;
use std::process::{Child, ExitCode};
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
    let trace = read_trace(&outcome.trace)
        .with_context(|| "the trace just written cannot be read back".to_string())?;
    let summary = summarize(&trace, &outcome.trace.display().to_string());
    Ok((outcome, summary))
}

pub fn run(args: &MeasureArgs) -> Result<ExitCode> {
    let intervals = plan_intervals(args.epoch, &args.intervals)?;
    let sample = SampleSize::from_options(args.sample_per_gib, args.sample_min)
        .map_err(anyhow::Error::msg)?;
    if args.duration < args.epoch {
        bail!(
            "--duration {} is shorter than one --epoch {}",
            HumanDuration(args.duration),
            HumanDuration(args.epoch)
        );
    }
    if let Some(output) = &args.output {
        // Checked before anything is launched or scanned; the writer checks again atomically.
        let program = args.command.first().map(std::path::Path::new);
        let mut inputs = vec![];
        inputs.extend(args.qmp.as_deref().map(|q| ("the QMP socket", q)));
        inputs.extend(program.map(|p| ("the command to run", p)));
        crate::outfile::check_output(output, args.force, &inputs)
            .context("-o/--output is refused")?;
    }
    // Handlers first: a Ctrl-C from here on ends the run cleanly instead of killing us.
    let stop = StopSignal::install()?;
    if let Some(code) = super::measure_xen::dispatch(args, &intervals, &stop)? {
        return Ok(code);
    }
    let mut child = if args.exec {
        Some(exec::launch(&args.command)?)
    } else {
        None
    };
    let result = measure_launched(args, intervals, sample, &stop, child.as_mut());
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
    emit(&summary, args.format)?;
    report_end(&outcome);
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
    eprintln!(
        "error: `{}` exited ({status}) before its first epoch was measured: nothing was \
         measured and no trace was written. --exec needs a command that runs for at least one \
         --epoch; to measure a short job, make it last longer (or loop it)",
        command.join(" ")
    );
    Some(ExitCode::from(EXIT_TARGET_GONE))
}

fn measure_launched(
    args: &MeasureArgs,
    intervals: Vec<(u64, u32)>,
    sample: SampleSize,
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
    let settings = BackendSettings {
        method: args.method,
        epoch: args.epoch,
        sample,
    };
    // A launched command is measured with everything it starts (see backend/process/tree.rs).
    let mut backend: Box<dyn Backend> = match (resolved, child.is_some()) {
        (Resolved::Process(target), true) => Box::new(TreeBackend::new(
            target,
            ProcessOptions {
                method: settings.method,
                epoch: settings.epoch,
                sample: settings.sample,
            },
        )?),
        (resolved, _) => resolved.build(settings)?,
    };
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
