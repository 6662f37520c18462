//! `remus-tune advise`: measure and report in one go. `--demo` runs it on the built-in
//! workload, whose true dirty counts are known, so the first run shows both what the tool
//! reports and that it is right.

use super::measure::{
    exit_code, measure_resolved, report_end, terminate, with_child, MeasureRequest, NO_XEN_HINT,
};
use super::no_xen::or_no_xen;
use crate::backend::process::sample::SampleSize;
use crate::backend::process::target::ProcessTarget;
use crate::backend::select::{self, BackendChoice, BuildOptions, Resolved};
use crate::backend::MethodChoice;
use crate::cli::AdviseArgs;
use crate::output::{emit, table, TextReport};
use crate::settings::Timing;
use crate::summary::Summary;
use crate::sys::signals::StopSignal;
use crate::trace::{read_trace, Trace};
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
const DEMO_EPOCH: Duration = Duration::from_millis(25);

/// The report: the measured summary and, for the demo, the known truth beside it.
#[derive(Serialize)]
pub struct AdviseReport {
    pub summary: Summary,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub known_truth: Option<Vec<TruthRow>>,
    /// The model of the trace, with its verdict (`remus-tune model`'s JSON).
    pub model: crate::model::ModelReport,
    /// The self-contained HTML report written next to the trace.
    pub report_path: std::path::PathBuf,
    /// The dry-run pin plan for this host (`remus-tune pin`), or why there is none.
    pub pin_plan: String,
}

/// Known against measured dirty pages for one interval of the demo.
#[derive(Serialize)]
pub struct TruthRow {
    pub interval_ms: u64,
    /// Mean real length of the interval's windows (epochs run long on a busy machine).
    pub real_window_ms: f64,
    /// The truth for those real lengths.
    pub expected_pages: f64,
    pub measured_mean: f64,
    pub error_percent: f64,
    /// The sample method's 95 % margin per checkpoint, when sampled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub margin_95_pages: Option<f64>,
}

impl TextReport for AdviseReport {
    fn render_text(&self) -> String {
        let mut out = self.summary.render_text();
        if let Some(rows) = &self.known_truth {
            out.push_str(
                "\nKnown truth of the demo workload, min(rate x T, sweep pages) + hot pages, for\nthe real length T of each window:\n",
            );
            let mut table_rows = vec![vec![
                "interval".to_string(),
                "real length".into(),
                "expected pages".into(),
                "measured mean".into(),
                "error".into(),
                "sample margin".into(),
            ]];
            for row in rows {
                table_rows.push(vec![
                    format!("{}ms", row.interval_ms),
                    format!("{:.1}ms", row.real_window_ms),
                    format!("{:.0}", row.expected_pages),
                    format!("{:.1}", row.measured_mean),
                    format!("{:+.1}%", row.error_percent),
                    row.margin_95_pages
                        .map_or("exact".to_string(), |m| format!("±{m:.0}")),
                ]);
            }
            out.push_str(&table(&table_rows));
        }
        out.push('\n');
        out.push_str(&super::model::interval_table_text(&self.model));
        out.push_str("\nPin plan for this host (dry run; `remus-tune pin --help` to apply):\n");
        out.push_str(&self.pin_plan);
        if !self.pin_plan.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(&format!(
            "\nVerdict: {}\nReport: {}\n",
            self.model.verdict,
            self.report_path.display()
        ));
        out
    }
}

/// Distinct pages the demo dirties in a window of `seconds`.
pub fn demo_truth(seconds: f64) -> f64 {
    (DEMO_RATE * seconds).min(DEMO_SWEEP_PAGES as f64) + DEMO_HOT_PAGES as f64
}

/// The demo's truth for every window of every interval, from the windows' real lengths.
fn truth_rows(trace: &Trace, summary: &Summary) -> Vec<TruthRow> {
    trace
        .header
        .intervals_ms
        .iter()
        .filter_map(|&interval_ms| {
            let span = (interval_ms as f64 / trace.header.base_epoch_ms).round() as usize;
            let (mut seconds, mut expected, mut measured, mut windows) = (0.0, 0.0, 0.0, 0);
            for (index, epoch) in trace.epochs.iter().enumerate() {
                for window in epoch
                    .windows
                    .iter()
                    .filter(|w| w.interval_ms == interval_ms)
                {
                    let length =
                        epoch.end_s - trace.epochs[index + 1 - span.min(index + 1)].start_s;
                    seconds += length;
                    expected += demo_truth(length);
                    measured += window.dirty_pages as f64;
                    windows += 1;
                }
            }
            (windows > 0).then(|| {
                let n = windows as f64;
                TruthRow {
                    interval_ms,
                    real_window_ms: seconds / n * 1e3,
                    expected_pages: expected / n,
                    measured_mean: measured / n,
                    error_percent: (measured - expected) / expected * 100.0,
                    margin_95_pages: summary
                        .intervals
                        .iter()
                        .find(|i| i.interval_ms == interval_ms)
                        .and_then(|i| i.margin_95_pages),
                }
            })
        })
        .collect()
}

pub fn run(args: &AdviseArgs) -> Result<ExitCode> {
    or_no_xen(advise_command(args), NO_XEN_HINT)
}

fn advise_command(args: &AdviseArgs) -> Result<ExitCode> {
    let intervals: Vec<Duration> = DEMO_INTERVALS_MS
        .iter()
        .map(|&ms| Duration::from_millis(ms))
        .collect();
    let timing = Timing::new(DEMO_EPOCH, &intervals, args.duration)?;
    let stop = StopSignal::install()?;
    let demo = if args.demo {
        Some(start_demo_workload()?)
    } else {
        None
    };
    let (outcome, summary) = with_child(demo, |demo| advise(args, timing, &stop, demo))?;
    let known_truth = if args.demo {
        Some(truth_rows(&read_trace(&outcome.trace)?, &summary))
    } else {
        None
    };
    // The trace's path first, so the output ends with the verdict and the report's path.
    report_end(&outcome);
    // A host whose topology cannot be read still gets its measurement and model.
    let (pin_plan, pin_html) = match (super::pin::host_plan_text(), super::pin::host_plan_html()) {
        (Ok(text), Ok(html)) => (text, html),
        (Err(err), _) | (_, Err(err)) => {
            let why = format!("no pin plan: {err:#}");
            let html = format!(
                "<h2>Pin plan</h2>\n<p>{}</p>\n",
                crate::report::escape(&why)
            );
            (why, html)
        }
    };
    // The host profile `trial --install` wrote for this target, when there is one.
    let request = args.profile.request().or_trial_host(args.target.as_deref());
    let advice = crate::report::bundle::advise_from_trace(&outcome.trace, &request, &pin_html)?;
    emit(
        &AdviseReport {
            summary,
            known_truth,
            model: advice.report,
            report_path: advice.html_path,
            pin_plan,
        },
        args.format,
    )?;
    Ok(exit_code(outcome.end.reason))
}

fn advise(
    args: &AdviseArgs,
    timing: Timing,
    stop: &StopSignal,
    demo: Option<&mut Child>,
) -> Result<(crate::measure::MeasureOutcome, Summary)> {
    let (resolved, why) = match &demo {
        Some(child) => {
            let target =
                ProcessTarget::launched(child.id() as i32, &["remus-tune-workload".into()]);
            (
                Resolved::Process(target),
                "the built-in workload".to_string(),
            )
        }
        None => select::resolve(
            args.target.as_deref().unwrap_or_default(),
            BackendChoice::Auto,
            None,
        )?,
    };
    crate::note!("remus-tune advise: {why}");
    let options = BuildOptions {
        method: MethodChoice::Auto,
        epoch: timing.epoch,
        sample: SampleSize::default(),
        observe: false,
    };
    let output = args.output.clone().or_else(|| {
        args.demo
            .then(|| super::measure::default_output("remus-tune-demo"))
    });
    let request = MeasureRequest {
        timing,
        output,
        overwrite: false,
        probe: None,
    };
    measure_resolved(resolved, options, Duration::ZERO, request, stop, demo)
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
            crate::note!(
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
