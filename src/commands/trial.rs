//! `remus-tune trial DOMAIN`: calibrate against real Remus. For each interval, run
//! `xl remus` in blackhole mode for a set time, measure the achieved checkpoint rate, the
//! checkpoints' size, Dom-0's and the save helper's CPU and the guest's slowdown (a
//! user-given probe), stop Remus cleanly, then fit this host's suspend and per-page costs
//! into a host profile. Nothing runs without `--yes`, and never on a domain nobody named.

use crate::backend::select;
use crate::backend::xen::calibrate::{self, StepResult};
use crate::backend::xen::dom0::{dom0_cpu_seconds, HelperCpu};
use crate::backend::xen::remus::{self, RemusRun};
use crate::backend::xen::savehelper::ProcWatch;
use crate::cli::TrialArgs;
use crate::commands::no_xen::or_no_xen;
use crate::host::UtcTime;
use crate::output::{emit, table, TextReport};
use crate::sys::signals::StopSignal;
use crate::xl::{parse_vcpu_list, Xl};
use anyhow::{bail, Context, Result};
use serde::Serialize;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

/// Exit status when the trial was not confirmed with --yes.
pub const EXIT_NOT_CONFIRMED: u8 = 2;
/// How long Remus gets to stop on SIGINT before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(15);

/// The results, as printed and as saved.
#[derive(Debug, Serialize)]
pub struct TrialReport {
    pub domain: String,
    pub baseline: Option<f64>,
    pub steps: Vec<StepResult>,
    pub suspend_ms: Option<f64>,
    pub per_page_us: Option<f64>,
    pub profile: Option<String>,
    pub interrupted: bool,
}

impl TextReport for TrialReport {
    fn render_text(&self) -> String {
        let mut rows = vec![vec![
            "interval".into(),
            "ckpts".into(),
            "rate/s".into(),
            "of".into(),
            "pages".into(),
            "period ms".into(),
            "Dom-0 CPU".into(),
            "helper CPU".into(),
            "probe".into(),
            "slowdown".into(),
        ]];
        let opt = |v: Option<f64>, f: &dyn Fn(f64) -> String| v.map(f).unwrap_or("-".into());
        for s in &self.steps {
            rows.push(vec![
                format!("{}ms", s.interval_ms),
                s.checkpoints.to_string(),
                format!("{:.1}", s.rate_per_s),
                format!("{:.1}", s.configured_rate_per_s),
                format!("{:.0}", s.mean_pages),
                format!("{:.1}", s.mean_period_ms),
                opt(s.dom0_cpu_per_s, &|x| format!("{:.0} %", x * 100.0)),
                opt(s.helper_cpu_per_s, &|x| format!("{:.0} %", x * 100.0)),
                opt(s.probe, &|x| format!("{x}")),
                opt(s.slowdown, &|x| format!("{:.1} %", x * 100.0)),
            ]);
        }
        let mut text = format!("trial of {} (real xl remus, blackhole)\n", self.domain);
        text += &table(&rows);
        if let Some(b) = self.baseline {
            text += &format!("probe baseline (mean of before and after): {b}\n");
        }
        match (self.suspend_ms, self.per_page_us) {
            (Some(s), Some(p)) => text += &format!("fitted: suspend {s:.3} ms, {p:.3} us per page\n"),
            (Some(s), None) => text += &format!("fitted: suspend {s:.3} ms; per-page cost not measurable (checkpoints of one size)\n"),
            _ => text += "too few checkpoints to fit costs\n",
        }
        if let Some(p) = &self.profile {
            text +=
                &format!("host profile written to {p} (use: remus-tune model TRACE --host {p})\n");
        }
        for s in &self.steps {
            if !s.note.is_empty() {
                text += &format!("{}ms: {}\n", s.interval_ms, s.note);
            }
        }
        text
    }
}

pub fn run(args: &TrialArgs) -> Result<ExitCode> {
    // xl remus -i takes whole milliseconds.
    let intervals_ms = crate::settings::whole_milliseconds(&args.intervals)?;
    let probe: Option<Vec<String>> = args
        .probe
        .as_deref()
        .map(|p| p.split_whitespace().map(str::to_string).collect())
        .filter(|w: &Vec<String>| !w.is_empty());
    let commands: Vec<String> = intervals_ms
        .iter()
        .map(|ms| format!("xl {}", remus::remus_args(*ms, &args.domain).join(" ")))
        .collect();
    eprintln!(
        "remus-tune trial {}: {} step(s) of {:?} (+{:?} settle) each running:",
        args.domain,
        commands.len(),
        args.step,
        args.settle
    );
    for c in &commands {
        eprintln!("  {c}");
    }
    if !args.yes {
        eprintln!(
            "error: not started. This runs real Remus in UNSAFE mode (-F) on {}: blackhole \
             (-b), so checkpoints go to /dev/null and the guest is NOT protected meanwhile, and \
             each checkpoint pauses it. Re-run with --yes to go ahead.",
            args.domain
        );
        return Ok(ExitCode::from(EXIT_NOT_CONFIRMED));
    }
    let xl = Xl::from_env();
    let (name, domid) = match select::xen_domid(&xl, &args.domain) {
        Ok(found) => found,
        Err(err) => {
            let hint = "`remus-tune trial` runs real `xl remus` in Dom-0 of a Xen host.";
            return or_no_xen(Err(err), hint);
        }
    };
    if domid == 0 {
        bail!("`{name}` is Dom-0: Remus protects guest domains; name one (see `xl list`)");
    }
    let mut watch = ProcWatch::from_env(domid);
    if let Some(h) = watch.find() {
        bail!(
            "{} is already running on {name} (libxl-save-helper pid {}): a trial would fight \
             it. Stop it first, or measure beside it with `remus-tune measure {name} --observe`",
            h.stream,
            h.pid
        );
    }
    let stop = StopSignal::install()?;
    let mut report = TrialReport {
        domain: name.clone(),
        baseline: None,
        steps: Vec::new(),
        suspend_ms: None,
        per_page_us: None,
        profile: None,
        interrupted: false,
    };
    let before = match &probe {
        Some(cmd) => run_probe(cmd, &stop).context("the probe before the trial")?,
        None => None,
    };
    let mut all_points = Vec::new();
    for &ms in &intervals_ms {
        if stop.received().is_some() {
            report.interrupted = true;
            break;
        }
        let (step, points) = run_step(&xl, &name, domid, ms, args, probe.as_deref(), &stop)?;
        all_points.extend(points);
        report.steps.push(step);
    }
    report.interrupted |= stop.received().is_some();
    let after = match (&probe, report.interrupted) {
        (Some(cmd), false) => run_probe(cmd, &stop).context("the probe after the trial")?,
        _ => None,
    };
    let baseline = match (before, after) {
        (Some(b), Some(a)) => Some((a + b) / 2.0),
        (b, a) => b.or(a),
    };
    report.baseline = baseline;
    for s in &mut report.steps {
        if let (Some(p), Some(b)) = (s.probe, baseline) {
            if b > 0.0 {
                s.slowdown = Some(1.0 - p / b);
            }
        }
    }
    if let Some(fit) = calibrate::fit(&all_points) {
        report.suspend_ms = Some(fit.suspend_s * 1e3);
        report.per_page_us = fit.per_page_s.map(|s| s * 1e6);
        let path = args
            .output
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("{name}-host.yaml")));
        if path.exists() && !args.force {
            eprintln!(
                "warning: {} exists: the profile was not written (use --force or -o)",
                path.display()
            );
        } else {
            let text =
                calibrate::render_profile(&fit, &name, &UtcTime::now().rfc3339(), &report.steps);
            std::fs::write(&path, text)
                .with_context(|| format!("cannot write the profile {}", path.display()))?;
            report.profile = Some(path.display().to_string());
        }
    }
    emit(&report, args.format)?;
    Ok(match stop.received() {
        Some(libc::SIGINT) => ExitCode::from(130),
        Some(_) => ExitCode::from(143),
        None => ExitCode::SUCCESS,
    })
}

/// Dom-0's CPU seconds now, from `xl vcpu-list`.
fn dom0_now(xl: &Xl) -> Option<f64> {
    dom0_cpu_seconds(&parse_vcpu_list(&xl.vcpu_list().ok()?).ok()?)
}

/// Sleeps up to `d`, waking for a stop signal or Remus ending; false if interrupted/ended.
fn wait(
    d: Duration,
    stop: &StopSignal,
    run: &mut RemusRun,
    watch: &mut ProcWatch,
    cpu: &mut HelperCpu,
) -> bool {
    let end = Instant::now() + d;
    while Instant::now() < end {
        if stop.received().is_some() || run.exited().is_some() {
            return false;
        }
        cpu.update(watch.find().map(|h| h.pid));
        std::thread::sleep(Duration::from_millis(100));
    }
    true
}

fn run_step(
    xl: &Xl,
    name: &str,
    domid: u32,
    ms: u64,
    args: &TrialArgs,
    probe: Option<&[String]>,
    stop: &StopSignal,
) -> Result<(StepResult, Vec<(f64, f64)>)> {
    let mut run = RemusRun::start(xl, &remus::remus_args(ms, name))?;
    eprintln!("step -i {ms}: started `{}`", run.command);
    let mut watch = ProcWatch::from_env(domid);
    let mut helper = HelperCpu::default();
    let mut ok = wait(args.settle, stop, &mut run, &mut watch, &mut helper);
    let counted_from = run.elapsed().as_secs_f64();
    let dom0_start = dom0_now(xl);
    let helper_start = helper.total();
    let mut probe_value = None;
    let window = Instant::now();
    if ok {
        if let Some(cmd) = probe {
            probe_value = run_probe(cmd, stop).context("the probe during the step")?;
        }
        let left = args.step.saturating_sub(window.elapsed());
        ok = wait(left, stop, &mut run, &mut watch, &mut helper);
    }
    let counted_s = window.elapsed().as_secs_f64();
    let counted_to = run.elapsed().as_secs_f64();
    helper.update(watch.find().map(|h| h.pid));
    let helper_used = helper.total() - helper_start;
    let dom0_end = dom0_now(xl);
    let ended_by_itself = run.exited();
    let status = run.stop(STOP_GRACE)?;
    let checkpoints = run.checkpoints();
    let mut note = String::new();
    if let Some(status) = ended_by_itself {
        note = format!(
            "xl remus ended by itself ({status}); its last words: {}",
            run.tail().join(" | ")
        );
    } else if !ok {
        note = format!("interrupted; xl remus stopped ({status})");
    }
    // The save helper should be gone with xl; one left behind would keep the domain's
    // log-dirty mode (and the next step would fight it).
    let mut leftover = watch.find();
    let deadline = Instant::now() + Duration::from_secs(5);
    while leftover.is_some() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        leftover = watch.find();
    }
    if let Some(h) = leftover {
        note = format!(
            "{note}{}libxl-save-helper (pid {}) still runs after xl stopped",
            if note.is_empty() { "" } else { "; " },
            h.pid
        );
        eprintln!("warning: step -i {ms}: {note}");
    }
    match remus::check_and_recover(xl, name, domid) {
        Ok(state) => {
            note = format!(
                "{note}{}guest state after: {state}",
                if note.is_empty() { "" } else { "; " }
            )
        }
        Err(err) => {
            eprintln!("error: {err:#}");
            note = format!("{note}; GUEST NOT RECOVERED: {err:#}");
        }
    }
    let (count, rate, mean_pages, period) =
        calibrate::summarize_step(&checkpoints, ms, counted_from, counted_to);
    let per_s = |x: f64| (counted_s > 0.0).then(|| x / counted_s);
    let step = StepResult {
        interval_ms: ms,
        counted_s,
        checkpoints: count,
        rate_per_s: rate,
        configured_rate_per_s: 1000.0 / ms as f64,
        mean_pages,
        mean_period_ms: period,
        dom0_cpu_per_s: dom0_start.zip(dom0_end).and_then(|(a, b)| per_s(b - a)),
        helper_cpu_per_s: helper.any().then(|| per_s(helper_used)).flatten(),
        probe: probe_value,
        slowdown: None,
        note,
    };
    let points = calibrate::points(&checkpoints, ms as f64 / 1e3, counted_from);
    if count == 0 {
        eprintln!(
            "warning: step -i {ms}: no checkpoint counted (xl printed no `Checkpointed save` \
             line after the first); xl said: {}",
            run.tail().join(" | ")
        );
    }
    Ok((step, points))
}

/// Runs the probe (no shell) and reads the last number it printed.
fn run_probe(cmd: &[String], stop: &StopSignal) -> Result<Option<f64>> {
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
            let _ = child.kill();
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
