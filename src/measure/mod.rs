//! The measuring loop: one backend, one base epoch, every interval at once, into a trace.
//!
//! Each base epoch the backend reports the set of pages dirtied since the last one; the
//! interval windows turn consecutive sets into each interval's dirty count; the epoch and the
//! windows it closed are appended to the trace at once. Epochs are timed by the real clock:
//! when collecting takes longer than planned, the epoch runs long and the trace says so.
//!
//! Every exit path — the planned end, Ctrl-C, SIGTERM, SIGHUP, the target's death, an error, a
//! panic — goes through `BackendGuard`, which switches off what the backend switched on, and
//! through `TraceWriter::finish`, which writes the `end` record.
//!
//! Nothing per epoch stays in memory: each epoch goes to the trace and to the running
//! summary (`Summarizer`), whose size is the longest interval's epochs and bounded quantile
//! sketches. So a day-long run takes the memory of a minute-long one, and when the disk fills
//! the summary still covers every epoch measured (the writer stops and counts what it lost).

mod progress;

use crate::backend::{Backend, BackendError};
use crate::host::{describe, UtcTime};
use crate::summary::{Summarizer, Summary};
use crate::sys::signals::StopSignal;
use crate::trace::{
    round_us, Appended, CpuClasses, Dom0Cpu, End, EndReason, Epoch, Host, TraceHeader, TraceWriter,
    WindowCount, WriteFailure, SCHEMA, SCHEMA_VERSION,
};
use crate::windows::IntervalWindows;
use anyhow::Result;
use std::path::PathBuf;
use std::process::Child;
use std::time::{Duration, Instant};

/// A validated measuring plan.
#[derive(Debug, Clone)]
pub struct MeasurePlan {
    pub epoch: Duration,
    /// (interval in ms, base epochs per interval), ascending.
    pub intervals: Vec<(u64, u32)>,
    pub duration: Duration,
    pub output: PathBuf,
    pub overwrite: bool,
    /// The user's work probe, for the observer effect: run once while measuring.
    pub probe: Option<ProbePlan>,
}

/// `measure --probe`: the command, and its figure before measuring began.
#[derive(Debug, Clone)]
pub struct ProbePlan {
    pub command: Vec<String>,
    pub before: f64,
}

/// How long after measuring starts the probe runs: long enough for log-dirty to be on.
const PROBE_DELAY: Duration = Duration::from_secs(2);

/// How a run ended, where its trace is, and the summary of every epoch measured.
#[derive(Debug)]
pub struct MeasureOutcome {
    pub trace: PathBuf,
    pub end: End,
    pub summary: Summary,
    /// Epochs measured but not in the file (disk full, I/O error): the file then ends at its
    /// last whole epoch without an `end` record, and reads with `--partial`.
    pub write_failure: Option<WriteFailure>,
}

/// An epoch is "late" when it ran this much over plan.
const LATE_FACTOR: f64 = 1.2;
/// Longest sleep between checks for a signal or a finished --exec command.
const POLL: Duration = Duration::from_millis(20);

/// Calls `stop` on the backend however the run ends, panics included.
struct BackendGuard<'a> {
    backend: &'a mut dyn Backend,
}

impl Drop for BackendGuard<'_> {
    fn drop(&mut self) {
        if let Err(err) = self.backend.stop() {
            crate::warn!("could not switch measuring off cleanly: {err}");
        }
    }
}

/// Sees what the loop records as it records it: how `watch` feeds its metrics from this same
/// loop instead of a copy of it.
pub trait EpochTap {
    /// Once, when the header is known (the backend has started).
    fn begin(&mut self, header: &TraceHeader);
    /// Every epoch, right after it is recorded; `backend` for what only it knows.
    fn epoch(&mut self, epoch: &Epoch, backend: &dyn Backend);
    /// True for a run without end (`watch`): no trace file, which would grow without end
    /// (`plan.output` is then ignored), and no progress bar, which has no end to show.
    fn endless(&self) -> bool {
        false
    }
}

/// Runs the plan on `backend`. `command` is the --exec child, watched for exit.
pub fn run(
    backend: &mut dyn Backend,
    plan: &MeasurePlan,
    stop: &StopSignal,
    command: Option<&mut Child>,
) -> Result<MeasureOutcome> {
    run_tapped(backend, plan, stop, command, None)
}

/// `run`, with every epoch also handed to `tap`.
pub fn run_tapped(
    backend: &mut dyn Backend,
    plan: &MeasurePlan,
    stop: &StopSignal,
    mut command: Option<&mut Child>,
    mut tap: Option<&mut dyn EpochTap>,
) -> Result<MeasureOutcome> {
    let guard = BackendGuard { backend };
    let start_wall = UtcTime::now();
    let baseline = guard.backend.start().map_err(anyhow::Error::from)?;
    let origin = Instant::now();
    let probe_during = plan.probe.as_ref().map(|p| {
        crate::probe::ProbeDuring::spawn(
            p.command.clone(),
            PROBE_DELAY.min(plan.duration / 4),
            stop,
        )
    });
    let method = guard.backend.method();
    let method_name = method.name.clone();
    crate::note!(
        "measuring {} {} with method {}: {}",
        guard.backend.kind(),
        guard.backend.target().describe(),
        method.name,
        method.reason
    );
    // Counts cannot be unioned: with a count-only backend only the base epoch is measured.
    let intervals: Vec<(u64, u32)> = if guard.backend.counts_only() {
        let base = vec![((plan.epoch.as_secs_f64() * 1e3).round() as u64, 1)];
        if plan.intervals != base {
            crate::note!(
                "note: {method_name} gives a count per epoch, not a set of pages, so only the \
                 base-epoch interval is reported: longer intervals need a union of sets"
            );
        }
        base
    } else {
        plan.intervals.clone()
    };
    let header = TraceHeader {
        schema: SCHEMA.into(),
        schema_version: SCHEMA_VERSION,
        tool_version: env!("CARGO_PKG_VERSION").into(),
        target: guard.backend.target(),
        backend: guard.backend.kind().into(),
        method,
        host: Host {
            dom0_vcpus: guard.backend.dom0_vcpus(),
            ..describe()
        },
        page_size: guard.backend.page_size(),
        base_epoch_ms: plan.epoch.as_secs_f64() * 1e3,
        intervals_ms: intervals.iter().map(|&(ms, _)| ms).collect(),
        memory_bytes: guard.backend.memory_bytes(),
        start_time: start_wall.rfc3339(),
    };
    if let Some(tap) = tap.as_deref_mut() {
        tap.begin(&header);
    }
    // An endless run (`watch`) writes no trace: its tap keeps what it needs.
    let mut writer = match &tap {
        Some(tap) if tap.endless() => None,
        _ => Some(TraceWriter::create(&plan.output, &header, plan.overwrite)?),
    };
    let mut summarizer = Summarizer::new(&header);
    let mut windows = IntervalWindows::new(&intervals);
    let planned = (plan.duration.as_secs_f64() / plan.epoch.as_secs_f64()).round() as u64;
    let progress = if tap.as_ref().is_some_and(|tap| tap.endless()) {
        progress::Progress::hidden()
    } else {
        progress::Progress::new(planned)
    };

    // Every page dirtied over the run: the working set the model's curve saturates at. A
    // bitmap bounded by the target's memory; not for count-only methods (no set) nor for an
    // endless run (`watch`: no trace to record it in).
    let mut working_set = (!guard.backend.counts_only()
        && !tap.as_ref().is_some_and(|tap| tap.endless()))
    .then(crate::pageset::PageSet::new);
    let mut working_set_scale = 1.0;
    let mut previous = baseline;
    let mut previous_details = guard.backend.baseline_details();
    let mut boundary = origin;
    let mut n = 0u64;
    let mut late = 0u64;
    let (reason, message) = loop {
        if n >= planned {
            break (
                EndReason::Completed,
                "measured the whole duration".to_string(),
            );
        }
        let deadline = boundary + plan.epoch;
        if let Some(early) = wait_until(deadline, stop, command.as_deref_mut()) {
            break early;
        }
        let collect_start = Instant::now();
        let sample = match guard.backend.collect() {
            Ok(sample) => sample,
            Err(BackendError::TargetGone(why)) => {
                // The command we launched can end between the wait above and the scan: that
                // is its normal end, not a target dying under us.
                if let Some(exited) = command_exited(command.as_deref_mut()) {
                    break exited;
                }
                break (EndReason::TargetExited, why);
            }
            Err(BackendError::Other(err)) => break (EndReason::Error, format!("{err:#}")),
        };
        let scan = collect_start.elapsed();
        let counted = sample.dirty.len();
        let estimate = |pages: u64| (pages as f64 * sample.scale).round() as u64;
        let closed = windows.push(&sample.dirty);
        if let Some(set) = working_set.as_mut() {
            set.union_with(&sample.dirty);
            working_set_scale = sample.scale;
        }
        let length = collect_start.duration_since(boundary);
        if length.as_secs_f64() > plan.epoch.as_secs_f64() * LATE_FACTOR {
            late += 1;
        }
        let epoch = Epoch {
            n,
            start_s: round_us(boundary.duration_since(origin).as_secs_f64()),
            end_s: round_us(collect_start.duration_since(origin).as_secs_f64()),
            dirty_pages: estimate(counted),
            write_bytes: sample
                .counters
                .write_bytes
                .saturating_sub(previous.write_bytes),
            syscw: sample
                .counters
                .write_requests
                .saturating_sub(previous.write_requests),
            cpu_s: round_us((sample.counters.cpu_s - previous.cpu_s).max(0.0)),
            scan_ms: (scan.as_secs_f64() * 1e6).round() / 1e3,
            flushes: sample
                .details
                .flushes
                .map(|now| now.saturating_sub(previous_details.flushes.unwrap_or(0))),
            cpu_classes: sample.details.cpu_classes.map(|now| {
                let before = previous_details.cpu_classes.unwrap_or_default();
                CpuClasses {
                    vcpu_s: round_us((now.vcpu_s - before.vcpu_s).max(0.0)),
                    iothread_s: round_us((now.iothread_s - before.iothread_s).max(0.0)),
                    emulator_s: round_us((now.emulator_s - before.emulator_s).max(0.0)),
                }
            }),
            dom0: sample
                .details
                .dom0
                .map(|now| dom0_since(now, previous_details.dom0)),
            windows: closed
                .iter()
                .map(|w| WindowCount {
                    interval_ms: w.interval_ms,
                    dirty_pages: estimate(w.distinct_pages),
                })
                .collect(),
        };
        let appended = match writer.as_mut() {
            Some(writer) => writer.append(&epoch)?,
            None => Appended::Written,
        };
        if let (Appended::Lost { first: true }, Some(writer)) = (appended, writer.as_ref()) {
            progress.finish();
            if let Some(failure) = writer.failure() {
                crate::error!(
                    "cannot write the trace {} ({}): from epoch {} on, epochs are no \
                     longer written. Measuring goes on to the end and the summary covers every \
                     epoch; the file stays readable up to its last whole epoch with --partial.",
                    writer.path().display(),
                    failure.error,
                    failure.first_lost
                );
            }
        }
        summarizer.push(&epoch);
        if let Some(tap) = tap.as_deref_mut() {
            tap.epoch(&epoch, &*guard.backend);
        }
        progress.epoch(n + 1, epoch.dirty_pages);
        previous = sample.counters;
        previous_details = sample.details;
        boundary = collect_start;
        n += 1;
    };
    progress.finish();
    let cross_check = guard.backend.cross_check();
    // The probe's figure, if it finished while measuring; one still running is stopped now,
    // before log-dirty goes off: the measurement never runs longer for the probe's sake.
    let probed = plan
        .probe
        .as_ref()
        .zip(probe_during)
        .and_then(|(p, during)| probed_effect(p, during));
    let observer_effect = probed.or_else(|| guard.backend.observer_effect());
    drop(guard);
    let duration_s = round_us(boundary.duration_since(origin).as_secs_f64());
    if late > 0 {
        let advice = if method_name == "sample" {
            "a longer --epoch, or a less busy machine"
        } else {
            "a longer --epoch or --method sample"
        };
        crate::warn!(
            "measuring could not keep up: {late} of {n} epochs ran more than {}% over \
             the {:.0} ms plan; the trace records their real lengths. Consider {advice}.",
            ((LATE_FACTOR - 1.0) * 100.0).round(),
            plan.epoch.as_secs_f64() * 1e3
        );
    }
    let end = End {
        reason,
        message,
        epochs: n,
        duration_s,
        late_epochs: late,
        cross_check,
        observer_effect,
        working_set_pages: working_set
            .filter(|set| !set.is_empty())
            .map(|set| (set.len() as f64 * working_set_scale).round() as u64),
    };
    let (trace, write_failure) = match writer {
        Some(writer) => {
            let finished = writer.close(&end)?;
            (finished.path, finished.failure)
        }
        None => (PathBuf::new(), None),
    };
    Ok(MeasureOutcome {
        summary: summarizer.finish(&end, &trace.display().to_string()),
        trace,
        end,
        write_failure,
    })
}

/// The observer effect from the probe's figures before and during (the thread's result).
fn probed_effect(
    plan: &ProbePlan,
    during: crate::probe::ProbeDuring,
) -> Option<crate::observer::ObserverEffect> {
    match during.finish() {
        Some(Ok(Some(value))) => crate::observer::ObserverEffect::from_rates(
            plan.before,
            value,
            None,
            crate::observer::ObserverSource::Probe,
        ),
        Some(Ok(None)) => {
            crate::warn!(
                "the probe had not finished when measuring ended (it was stopped): no observer \
                 effect from it; give a probe that ends within the --duration"
            );
            None
        }
        Some(Err(err)) => {
            crate::warn!("the probe while measuring failed: {err:#}; no observer effect from it");
            None
        }
        None => {
            crate::warn!("the probe while measuring panicked; no observer effect from it");
            None
        }
    }
}

/// One epoch's Dom-0 CPU from two cumulative readings. A save helper first seen now has no
/// earlier reading: all its CPU so far is charged to this epoch, since the backend takes its
/// baseline at `start` and a helper seen later was started after that.
fn dom0_since(now: Dom0Cpu, before: Option<Dom0Cpu>) -> Dom0Cpu {
    let before = before.unwrap_or_default();
    Dom0Cpu {
        cpu_s: round_us((now.cpu_s - before.cpu_s).max(0.0)),
        save_helper_s: now
            .save_helper_s
            .map(|h| round_us((h - before.save_helper_s.unwrap_or(0.0)).max(0.0))),
    }
}

/// Sleeps until `deadline`, waking early for a stop signal or a finished --exec command.
fn wait_until(
    deadline: Instant,
    stop: &StopSignal,
    mut command: Option<&mut Child>,
) -> Option<(EndReason, String)> {
    loop {
        if let Some(signal) = stop.received() {
            return Some(match signal {
                libc::SIGINT => (
                    EndReason::Interrupted,
                    "interrupted by Ctrl-C (SIGINT)".into(),
                ),
                libc::SIGHUP => (
                    EndReason::HangUp,
                    "hung up (SIGHUP): the terminal or SSH session went away".into(),
                ),
                _ => (EndReason::Terminated, "terminated by SIGTERM".into()),
            });
        }
        if let Some(exited) = command_exited(command.as_deref_mut()) {
            return Some(exited);
        }
        let now = Instant::now();
        if now >= deadline {
            return None;
        }
        std::thread::sleep((deadline - now).min(POLL));
    }
}

/// The end of the run when the command launched by `--exec` has exited.
fn command_exited(command: Option<&mut Child>) -> Option<(EndReason, String)> {
    let status = command?.try_wait().ok()??;
    Some((
        EndReason::CommandExited,
        format!("the measured command exited ({status})"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dom0_per_epoch_is_the_difference_and_a_new_helper_counts_whole() {
        let before = Dom0Cpu {
            cpu_s: 100.0,
            save_helper_s: None,
        };
        let now = Dom0Cpu {
            cpu_s: 100.0125,
            save_helper_s: Some(0.004),
        };
        assert_eq!(
            dom0_since(now, Some(before)),
            Dom0Cpu {
                cpu_s: 0.0125,
                save_helper_s: Some(0.004),
            }
        );
        // A total that went down (a reused PID restarted its clock) gives 0, never less.
        let later = Dom0Cpu {
            cpu_s: 100.02,
            save_helper_s: Some(0.001),
        };
        assert_eq!(dom0_since(later, Some(now)).save_helper_s, Some(0.0));
    }
}
