//! `remus-tune advise`: measure and report in one go. `--demo` runs it on the built-in
//! workload, whose true dirty counts are known, so the first run shows both what the tool
//! reports and that it is right.

use super::measure::{exit_code, measure_target, report_end, terminate, MeasureRequest};
use crate::backend::process::sample::SampleSize;
use crate::backend::process::target::{resolve, ProcessTarget};
use crate::cli::{AdviseArgs, MethodChoice};
use crate::output::{emit, table, TextReport};
use crate::summary::Summary;
use crate::sys::signals::StopSignal;
use anyhow::{bail, Context, Result};
use serde::Serialize;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The demo workload: a 32 MiB sweep at 4000 pages/s, a 256-page hot set, 1 MB/s to disk.
pub const DEMO_SWEEP_PAGES: u64 = 8192;
pub const DEMO_RATE: f64 = 4000.0;
pub const DEMO_HOT_PAGES: u64 = 256;
pub const DEMO_DISK_RATE: &str = "1MB/s";
const DEMO_INTERVALS_MS: [u64; 5] = [25, 50, 100, 200, 400];

/// The report: the measured summary and, for the demo, the known truth beside it.
#[derive(Serialize)]
pub struct AdviseReport {
    pub summary: Summary,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub known_truth: Option<Vec<TruthRow>>,
}

/// Known against measured dirty pages for one interval of the demo.
#[derive(Serialize)]
pub struct TruthRow {
    pub interval_ms: u64,
    pub expected_pages: f64,
    pub measured_mean: f64,
    pub error_percent: f64,
}

impl TextReport for AdviseReport {
    fn render_text(&self) -> String {
        let mut out = self.summary.render_text();
        if let Some(rows) = &self.known_truth {
            out.push_str(
                "\nKnown truth of the demo workload (sweep min(rate x T, pages) + hot pages):\n",
            );
            let mut table_rows = vec![vec![
                "interval".to_string(),
                "expected pages".into(),
                "measured mean".into(),
                "error".into(),
            ]];
            for row in rows {
                table_rows.push(vec![
                    format!("{}ms", row.interval_ms),
                    format!("{:.0}", row.expected_pages),
                    format!("{:.1}", row.measured_mean),
                    format!("{:+.1}%", row.error_percent),
                ]);
            }
            out.push_str(&table(&table_rows));
        }
        out
    }
}

/// Distinct pages the demo dirties in an interval of `interval_ms`.
pub fn demo_truth(interval_ms: u64) -> f64 {
    (DEMO_RATE * interval_ms as f64 / 1000.0).min(DEMO_SWEEP_PAGES as f64) + DEMO_HOT_PAGES as f64
}

pub fn run(args: &AdviseArgs) -> Result<ExitCode> {
    let stop = StopSignal::install()?;
    let mut demo = if args.demo {
        Some(start_demo_workload()?)
    } else {
        None
    };
    let result = advise(args, &stop, demo.as_mut());
    if let Some(child) = demo.as_mut() {
        terminate(child);
    }
    let (outcome, summary) = result?;
    let known_truth = args.demo.then(|| {
        summary
            .intervals
            .iter()
            .map(|i| {
                let expected = demo_truth(i.interval_ms);
                TruthRow {
                    interval_ms: i.interval_ms,
                    expected_pages: expected,
                    measured_mean: i.dirty_pages.mean,
                    error_percent: (i.dirty_pages.mean - expected) / expected * 100.0,
                }
            })
            .collect()
    });
    emit(
        &AdviseReport {
            summary,
            known_truth,
        },
        args.format,
    )?;
    report_end(&outcome);
    Ok(exit_code(outcome.end.reason))
}

fn advise(
    args: &AdviseArgs,
    stop: &StopSignal,
    demo: Option<&mut Child>,
) -> Result<(crate::measure::MeasureOutcome, Summary)> {
    let target = match &demo {
        Some(child) => ProcessTarget::launched(child.id() as i32, &["remus-tune-workload".into()]),
        None => resolve(args.target.as_deref().unwrap_or_default())?,
    };
    let output = args.output.clone().or_else(|| {
        args.demo
            .then(|| super::measure::default_output("remus-tune-demo"))
    });
    let request = MeasureRequest {
        target,
        method: MethodChoice::Auto,
        epoch: Duration::from_millis(25),
        intervals: DEMO_INTERVALS_MS
            .iter()
            .map(|&ms| (ms, (ms / 25) as u32))
            .collect(),
        duration: args.duration,
        output,
        overwrite: false,
        sample: SampleSize::new(4096, 2048),
    };
    measure_target(request, stop, demo)
}

/// Launches this binary's own `workload` with the demo settings and waits for it to be ready.
fn start_demo_workload() -> Result<Child> {
    let exe = std::env::current_exe().context("cannot find the remus-tune binary to launch")?;
    let mut child = Command::new(exe)
        .args([
            "workload",
            "--sweep",
            &DEMO_SWEEP_PAGES.to_string(),
            "--rate",
            &DEMO_RATE.to_string(),
            "--hot",
            &DEMO_HOT_PAGES.to_string(),
            "--disk-rate",
            DEMO_DISK_RATE,
        ])
        .stdout(Stdio::piped())
        .spawn()
        .context("cannot start the built-in workload")?;
    let stdout = child.stdout.take().context("no stdout from the workload")?;
    let (ready_tx, ready_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next();
        let _ = ready_tx.send(first);
        // Keep draining so the workload never blocks on a full pipe.
        for _ in lines {}
    });
    match ready_rx.recv_timeout(Duration::from_secs(10)) {
        Ok(Some(Ok(line))) if line.starts_with("ready") => {
            eprintln!(
                "demo: built-in workload started (PID {}): sweep {DEMO_SWEEP_PAGES} pages at \
                 {DEMO_RATE} pages/s, hot set {DEMO_HOT_PAGES} pages, disk {DEMO_DISK_RATE}",
                child.id()
            );
            Ok(child)
        }
        other => {
            terminate(&mut child);
            bail!("the built-in workload did not start: {other:?}")
        }
    }
}
