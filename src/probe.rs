//! A user's work probe: a command that prints one throughput number for the guest's service
//! (higher is better), run directly, never through a shell. `trial` runs it before, during
//! each Remus step and after; `measure --probe` before and during its measurement, for the
//! observer effect.

use crate::sys::signals::StopSignal;
use anyhow::{bail, Context, Result};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Splits `--probe "CMD ARGS"` at spaces; `None` when it names nothing.
pub fn split(text: &str) -> Option<Vec<String>> {
    let words: Vec<String> = text.split_whitespace().map(str::to_string).collect();
    (!words.is_empty()).then_some(words)
}

/// The probe running beside a measurement, for the figure *during* it. It never outlives the
/// measurement: [`ProbeDuring::finish`] (or dropping it, on an error path) stops a probe still
/// running, kills its command and waits for the thread, so log-dirty is never held on for the
/// probe's sake and no probe process is left behind.
pub struct ProbeDuring {
    stop: StopSignal,
    thread: Option<JoinHandle<Result<Option<f64>>>>,
}

impl ProbeDuring {
    /// Runs the probe in a thread once `delay` has passed (so log-dirty is on by then). It
    /// ends early, with `Ok(None)`, on a stop signal.
    pub fn spawn(cmd: Vec<String>, delay: Duration, stop: &StopSignal) -> Self {
        let stop = stop.linked();
        let thread_stop = stop.clone();
        let thread = std::thread::spawn(move || {
            let start = Instant::now();
            while start.elapsed() < delay {
                if thread_stop.received().is_some() {
                    return Ok(None);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            run_probe(&cmd, &thread_stop)
        });
        Self {
            stop,
            thread: Some(thread),
        }
    }

    /// The probe's figure if it finished while measuring; a probe still running is stopped
    /// (`Ok(None)`). `None` when the thread panicked.
    pub fn finish(mut self) -> Option<Result<Option<f64>>> {
        self.stop.request();
        self.thread.take().and_then(|thread| thread.join().ok())
    }
}

impl Drop for ProbeDuring {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            self.stop.request();
            let _ = thread.join();
        }
    }
}

/// Runs the probe (no shell) and reads the last number it printed.
pub fn run_probe(cmd: &[String], stop: &StopSignal) -> Result<Option<f64>> {
    let (program, rest) = cmd.split_first().context("empty --probe")?;
    let mut child = Command::new(program)
        .args(rest)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .process_group(0)
        .spawn()
        .with_context(|| format!("cannot run the probe `{}`", cmd.join(" ")))?;
    let stdout = child.stdout.take();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut s) = stdout {
            let _ = std::io::Read::read_to_string(&mut s, &mut text);
        }
        text
    });
    let status = loop {
        if stop.received().is_some() {
            // The whole group: a probe script's own children (its benchmark) go with it.
            let _ = crate::sys::kill::signal_group(&mut child, libc::SIGKILL);
            let _ = child.wait();
            return Ok(None);
        }
        if let Some(status) = child.try_wait()? {
            break status;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let text = reader.join().unwrap_or_default();
    if !status.success() {
        bail!("the probe `{}` failed ({status})", cmd.join(" "));
    }
    let value = text
        .split_whitespace()
        .rev()
        .find_map(|w| w.parse::<f64>().ok())
        .with_context(|| format!("the probe `{}` printed no number: {text:?}", cmd.join(" ")))?;
    Ok(Some(value))
}
