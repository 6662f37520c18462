//! `remus-tune trial DOMAIN`: calibrate against real Remus, and prove the model on it. First
//! a trace of the guest (given, or an exclusive measure run here, with the probe around it
//! for the observer effect); then for each interval, run `xl remus` in blackhole mode for a
//! set time, measure the achieved checkpoint rate, the checkpoints' size, Dom-0's and the
//! save helper's CPU and the guest's slowdown (a user-given probe), stop Remus cleanly; then
//! fit this host's costs (`model::fit`), predict every step from the trace and compare
//! (`model::validate`), and write the host profile. Nothing runs without `--yes`, and never
//! on a domain nobody named.

use crate::backend::select;
use crate::backend::xen::calibrate::{self, StepResult};
use crate::backend::xen::dom0::{dom0_cpu_seconds, HelperCpu};
use crate::backend::xen::remus::{self, RemusRun};
use crate::backend::xen::savehelper::ProcWatch;
use crate::cli::TrialArgs;
use crate::commands::no_xen::{or_no_xen, EXIT_NO_XEN};
use crate::commands::trial_report::{step_line, validation_line, TrialReport};
use crate::host::UtcTime;
use crate::model::validate::{self, StepObservation};
use crate::output::emit;
use crate::probe::run_probe;
use crate::profile::{render_host_profile, site, HostProfileFacts, ProfileRequest};
use crate::sys::signals::StopSignal;
use crate::trace::{read_trace, Trace};
use crate::xl::{parse_vcpu_list, Xl};
use anyhow::{bail, Context, Result};
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

/// Exit status when the trial was not confirmed with --yes (exit_codes.rs table).
pub const EXIT_NOT_CONFIRMED: u8 = 5;
/// How long Remus gets to stop on SIGINT before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(15);

pub fn run(args: &TrialArgs) -> Result<ExitCode> {
    if let Some(path) = &args.replay {
        return super::trial_replay::run(args, path);
    }
    // clap requires the domain without --replay.
    let domain = args
        .domain
        .as_deref()
        .context("name the domain to run the trial on")?;
    // xl remus -i takes whole milliseconds.
    let intervals_ms = crate::settings::whole_milliseconds(&args.intervals)?;
    let probe: Option<Vec<String>> = args
        .probe
        .as_deref()
        .map(|p| p.split_whitespace().map(str::to_string).collect())
        .filter(|w: &Vec<String>| !w.is_empty());
    let commands: Vec<String> = intervals_ms
        .iter()
        .map(|ms| format!("xl {}", remus::remus_args(*ms, domain).join(" ")))
        .collect();
    crate::note!(
        "remus-tune trial {}: {} step(s) of {:?} (+{:?} settle) each running:",
        domain,
        commands.len(),
        args.step,
        args.settle
    );
    if args.trace.is_none() {
        crate::note!(
            "  (first: an exclusive measure of {:?} with log-dirty, to predict the steps from; \
             --trace TRACE to use one taken before)",
            args.measure_for
        );
    }
    for c in &commands {
        crate::note!("  {c}");
    }
    if !args.yes {
        crate::error!(
            "not started. This runs real Remus in UNSAFE mode (-F) on {}: blackhole \
             (-b), so checkpoints go to /dev/null and the guest is NOT protected meanwhile, and \
             each checkpoint pauses it. Re-run with --yes to go ahead.",
            domain
        );
        return Ok(ExitCode::from(EXIT_NOT_CONFIRMED));
    }
    let xl = Xl::from_env();
    let (name, domid) = match select::xen_domid(&xl, domain) {
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
    let mut report = TrialReport::new(name.clone());
    let before = match &probe {
        Some(cmd) => run_probe(cmd, &stop).context("the probe before the trial")?,
        None => None,
    };
    let trace_path = match &args.trace {
        Some(path) => path.clone(),
        None => {
            let path = PathBuf::from(format!("{}-trial.trace.yaml", site::file_name_for(&name)));
            let status = exclusive_measure(&name, &path, args, &intervals_ms, before, &stop)?;
            match status {
                Some(0) => {}
                Some(code) if code == i32::from(EXIT_NO_XEN) => {
                    return Ok(ExitCode::from(EXIT_NO_XEN))
                }
                _ if stop.received().is_some() => {
                    return Ok(ExitCode::from(130));
                }
                other => bail!(
                    "the exclusive measure before the Remus steps failed ({}): see its message \
                     above. If log-dirty is already on (Remus or a migration owns it), measure \
                     beforehand and pass --trace TRACE",
                    other.map_or("killed".to_string(), |c| format!("exit status {c}"))
                ),
            }
            path
        }
    };
    let trace = read_trace(&trace_path)
        .with_context(|| format!("cannot read the trace {}", trace_path.display()))?;
    report.trace = Some(trace_path.display().to_string());
    // The exclusive measure wrote the probe's observer effect into the trace's end record.
    report.observer_effect = trace.end.observer_effect.clone();
    for &ms in &intervals_ms {
        if stop.received().is_some() {
            report.interrupted = true;
            break;
        }
        let step = run_step(&xl, &name, domid, ms, args, probe.as_deref(), &stop)?;
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
    for s in report.steps.iter_mut() {
        if let (Some(p), Some(b)) = (s.probe, baseline) {
            if b > 0.0 {
                s.slowdown = Some(1.0 - p / b);
            }
        }
    }
    let observations: Vec<StepObservation> = report.steps.iter().map(observation).collect();
    finish(&mut report, args, &name, &trace, &observations, true)?;
    emit(&report, args.format)?;
    Ok(match stop.received() {
        Some(libc::SIGINT) => ExitCode::from(130),
        Some(_) => ExitCode::from(143),
        None => ExitCode::SUCCESS,
    })
}

/// What the fits see of one step: its checkpoints one by one when the report has them, else
/// (the JSON of an older trial) the step's means as its one point.
pub fn observation(step: &StepResult) -> StepObservation {
    let tau_s = step.interval_ms as f64 / 1e3;
    let mut points: Vec<(f64, f64)> = step
        .checkpoint_pages
        .iter()
        .zip(&step.checkpoint_period_ms)
        .map(|(&pages, &period_ms)| (pages as f64, period_ms / 1e3 - tau_s))
        .collect();
    if points.is_empty() && step.checkpoints > 0 && step.mean_period_ms.is_finite() {
        points.push((step.mean_pages, step.mean_period_ms / 1e3 - tau_s));
    }
    StepObservation {
        interval_ms: step.interval_ms,
        points,
        checkpoints_per_s: step.rate_per_s,
        mean_pages: step.mean_pages,
        period_s: step.mean_period_ms / 1e3,
        slowdown: step.slowdown,
    }
}

/// Fits, validates and writes the host profile (and installs it with --install). `write`
/// false (a replay without -o) only fits and validates.
pub fn finish(
    report: &mut TrialReport,
    args: &TrialArgs,
    name: &str,
    trace: &Trace,
    observations: &[StepObservation],
    write: bool,
) -> Result<()> {
    let observer = report.observer_effect.clone();
    let fit = match validate::fit_host(observations, Some(trace), observer.clone()) {
        Ok(fit) => fit,
        Err(why) => {
            report
                .validation_notes
                .push(format!("no costs fitted: {why}"));
            return Ok(());
        }
    };
    report.suspend_ms = Some(fit.period.suspend_s.value * 1e3);
    report.per_page_us = fit.period.per_page_s.map(|e| e.value * 1e6);
    let base = crate::profile::load(&ProfileRequest::default())?;
    match validate::compare(trace, &base, &fit, observations, observer.clone()) {
        Ok(rows) => report.validation = rows,
        Err(why) => report
            .validation_notes
            .push(format!("no prediction: {why}")),
    }
    match validate::leave_one_out(trace, &base, observations, observer) {
        Ok(rows) => report.cross_validation = rows,
        Err(why) => report.validation_notes.push(why),
    }
    report.fit = Some(fit);
    if !write {
        return Ok(());
    }
    let date = UtcTime::now().rfc3339();
    let validation = report.host_validation();
    let rows = if report.cross_validation.is_empty() {
        &report.validation
    } else {
        &report.cross_validation
    };
    let validation_lines = rows.iter().map(validation_line).collect();
    let step_lines = report.steps.iter().map(step_line).collect();
    let text = render_host_profile(&HostProfileFacts {
        domain: name,
        date: &date,
        fit: report.fit.as_ref().context("the fit")?,
        step_lines,
        validation: validation.as_ref(),
        validation_lines,
    });
    let path = args
        .output
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{}-host.yaml", site::file_name_for(name))));
    if path.exists() && !args.force {
        crate::warn!(
            "{} exists: the profile was not written (use --force or -o)",
            path.display()
        );
    } else {
        write_file(&path, &text)?;
        report.profile = Some(path.display().to_string());
    }
    if args.install {
        let installed = site::install_path(name);
        if let Some(dir) = installed.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        write_file(&installed, &text)?;
        report.installed = Some(installed.display().to_string());
    }
    Ok(())
}

/// Writes `text` to `path` through a temporary file beside it, so a reader never sees half
/// a profile.
fn write_file(path: &std::path::Path, text: &str) -> Result<()> {
    let tmp = path.with_extension("yaml.tmp");
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .with_context(|| format!("cannot write the profile {}", path.display()))
}

/// Runs `remus-tune measure NAME --backend xen` (exclusive: log-dirty switched on by the
/// measure, refused if it is already on) as a child, the same code path as the command. With
/// a probe, the measure runs it while measuring (`--probe`, with the trial's own figure from
/// before as its baseline) and writes the observer effect into the trace's end record.
/// Returns its exit status.
fn exclusive_measure(
    name: &str,
    output: &std::path::Path,
    args: &TrialArgs,
    intervals_ms: &[u64],
    probe_before: Option<f64>,
    stop: &StopSignal,
) -> Result<Option<i32>> {
    // The base epoch divides every interval, so the trace measures each one exactly.
    let epoch = intervals_ms.iter().copied().fold(0, gcd).max(1);
    let intervals: Vec<String> = intervals_ms.iter().map(|ms| format!("{ms}ms")).collect();
    let exe = std::env::current_exe().context("cannot find remus-tune's own executable")?;
    crate::note!(
        "exclusive measure: remus-tune measure {name} --backend xen --epoch {epoch}ms --intervals {} --duration {} -o {}",
        intervals.join(","),
        crate::units::HumanDuration(args.measure_for),
        output.display()
    );
    let mut child = Command::new(exe)
        // The warm-up, before log-dirty goes on, is the guest-CPU proxy's baseline.
        .args([
            "measure",
            name,
            "--backend",
            "xen",
            "--force",
            "--format",
            "json",
        ])
        .args(["--warmup", "1s"])
        .arg("--epoch")
        .arg(format!("{epoch}ms"))
        .arg("--intervals")
        .arg(intervals.join(","))
        .arg("--duration")
        .arg(crate::units::HumanDuration(args.measure_for).to_string())
        .arg("-o")
        .arg(output)
        .args(
            args.probe
                .as_deref()
                .zip(probe_before)
                .map(|(cmd, before)| {
                    vec![
                        "--probe".to_string(),
                        cmd.to_string(),
                        "--probe-baseline".to_string(),
                        before.to_string(),
                    ]
                })
                .unwrap_or_default(),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .context("cannot start the exclusive measure")?;
    let status = loop {
        if stop.received().is_some() {
            // SIGINT lets the measure switch log-dirty off and end its trace.
            crate::sys::kill::signal_child(&mut child, libc::SIGINT)?;
            break child.wait()?;
        }
        if let Some(status) = child.try_wait()? {
            break status;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Ok(status.code())
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
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
) -> Result<StepResult> {
    let mut run = RemusRun::start(xl, &remus::remus_args(ms, name))?;
    crate::note!("step -i {ms}: started `{}`", run.command);
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
        crate::warn!("step -i {ms}: {note}");
    }
    match remus::check_and_recover(xl, name, domid) {
        Ok(state) => {
            note = format!(
                "{note}{}guest state after: {state}",
                if note.is_empty() { "" } else { "; " }
            )
        }
        Err(err) => {
            crate::error!("{err:#}");
            note = format!("{note}; GUEST NOT RECOVERED: {err:#}");
        }
    }
    let (count, rate, mean_pages, period) =
        calibrate::summarize_step(&checkpoints, ms, counted_from, counted_to);
    let per_s = |x: f64| (counted_s > 0.0).then(|| x / counted_s);
    let mut step = StepResult {
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
        checkpoint_period_ms: Vec::new(),
        checkpoint_pages: Vec::new(),
    };
    let points = calibrate::points(&checkpoints, ms as f64 / 1e3, counted_from);
    for &(pages, beyond_s) in &points {
        // Microseconds are finer than xl's timestamps; the JSON stays short.
        step.checkpoint_period_ms
            .push(((beyond_s + ms as f64 / 1e3) * 1e6).round() / 1e3);
        step.checkpoint_pages.push(pages as u64);
    }
    if count == 0 {
        crate::warn!(
            "step -i {ms}: no checkpoint counted (xl printed no `Checkpointed save` \
             line after the first); xl said: {}",
            run.tail().join(" | ")
        );
    }
    Ok(step)
}
