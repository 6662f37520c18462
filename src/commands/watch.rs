//! `remus-tune watch`: validate, bind the metrics endpoint, build the backend exactly as
//! `measure` does, then run `measure`'s loop (no trace file) with the model and the HTTP
//! server on threads of their own, until a signal or the target's end.

use super::measure::{exit_code, NO_XEN_HINT};
use super::no_xen::or_no_xen;
use crate::backend::select::{self, BuildOptions};
use crate::backend::Backend;
use crate::cli::{WatchArgs, WATCH_FOREVER};
use crate::measure::{self, MeasurePlan};
use crate::profile::load;
use crate::settings::Timing;
use crate::sys::signals::StopSignal;
use crate::units::HumanDuration;
use crate::watch::metrics::Metrics;
use crate::watch::server::MetricsServer;
use crate::watch::tap::WatchTap;
use crate::watch::textfile::Textfile;
use crate::watch::updater::Updater;
use crate::watch::{listen, Shared};
use anyhow::{bail, Context, Result};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Longest --window. The window's memory no longer grows with its length (watch::window:
/// at most `MAX_BUCKETS` buckets of cells), so this only keeps a typo (`--window 5y`) from
/// passing (the duration parser stops at 30 days too): a month slides by about 3 hours.
const MAX_WINDOW: Duration = Duration::from_secs(30 * 24 * 3600);

/// Exit status for arguments that cannot work. // exit_codes.rs table
const EXIT_USAGE: u8 = 2;

pub fn run(args: &WatchArgs) -> Result<ExitCode> {
    or_no_xen(watch(args), NO_XEN_HINT)
}

fn watch(args: &WatchArgs) -> Result<ExitCode> {
    let intervals = watched_intervals(args);
    let checked = Timing::new(args.epochs.epoch, &intervals, WATCH_FOREVER)
        .map_err(anyhow::Error::from)
        .and_then(|timing| {
            check_timing(args, &intervals)?;
            let options = args.target_flags.build_options(args.epochs.epoch)?;
            Ok((
                timing,
                options,
                listen::check(args.listen, args.allow_remote)?,
            ))
        });
    let (timing, options, addr) = match checked {
        Ok(checked) => checked,
        Err(err) => {
            crate::error!("{err:#}");
            return Ok(ExitCode::from(EXIT_USAGE));
        }
    };
    let request = args.profile.request();
    let profile = load(&request).context("cannot load the profile to judge with")?;
    // Handlers before anything is switched on: a signal from here on ends the run cleanly.
    let stop = StopSignal::install_without_hangup()?;
    let hangup = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(&hangup))
        .context("cannot install the SIGHUP handler")?;
    // Bound before the backend starts, so a busy port fails before log-dirty is touched.
    let server = MetricsServer::bind(addr)?;

    let mut backend = open_backend(args, options)?;
    let name = backend.target().name;
    let textfile = match &args.textfile {
        Some(dir) => Some(Textfile::new(dir, &name)?),
        None => None,
    };
    let metrics = Metrics::new(&name, backend.kind() == "xen");
    let shared = Arc::new(Shared::new(
        metrics,
        args.window.as_secs_f64(),
        args.update.as_secs_f64(),
    ));
    crate::note!(
        "remus-tune watch: serving metrics on http://{}/metrics; model every {} over the last \
         {}, profile `{}`{}",
        server.addr(),
        HumanDuration(args.update),
        HumanDuration(args.window),
        profile.name,
        textfile
            .as_ref()
            .map(|t| format!(", textfile {}", t.path().display()))
            .unwrap_or_default()
    );
    let plan = MeasurePlan {
        epoch: args.epochs.epoch,
        intervals: timing.interval_pairs(),
        duration: WATCH_FOREVER,
        // No trace is written (the tap says so); the path is never created.
        output: PathBuf::new(),
        overwrite: false,
        probe: None,
    };
    let mut updater = Updater::new(
        Arc::clone(&shared),
        request,
        profile,
        args.update,
        args.remus_interval.map(|d| d.as_millis() as u64),
        textfile,
        hangup,
    );
    let done = AtomicBool::new(false);
    let stop_server = server.stopper();
    let outcome = std::thread::scope(|scope| {
        scope.spawn(|| server.serve(&shared.metrics, &done));
        scope.spawn(|| updater.run(&done));
        let mut tap = WatchTap::new(Arc::clone(&shared));
        let outcome = measure::run_tapped(backend.as_mut(), &plan, &stop, None, Some(&mut tap));
        done.store(true, Ordering::SeqCst);
        stop_server();
        outcome
    });
    // The loop switched the backend's modes off on its way out; dropping it closes the rest.
    drop(backend);
    if let Some(textfile) = &updater.textfile {
        textfile.remove();
    }
    let outcome = outcome?;
    crate::note!(
        "remus-tune watch: stopped after {} epochs: {}",
        outcome.end.epochs,
        outcome.end.message
    );
    Ok(exit_code(outcome.end.reason))
}

/// --intervals, with --remus-interval added when it is not among them.
fn watched_intervals(args: &WatchArgs) -> Vec<Duration> {
    let mut intervals = args.epochs.intervals.clone();
    if let Some(remus) = args.remus_interval {
        if !intervals.contains(&remus) {
            intervals.push(remus);
        }
    }
    intervals
}

/// --update and --window against the epoch and the intervals.
fn check_timing(args: &WatchArgs, intervals: &[Duration]) -> Result<()> {
    let longest = intervals.iter().max().copied().unwrap_or(args.epochs.epoch);
    if args.update < Duration::from_secs(1) {
        bail!(
            "--update {} is too short: the model re-reads the whole window each time; give 1s \
             or more",
            HumanDuration(args.update)
        );
    }
    if args.window > MAX_WINDOW {
        bail!(
            "--window {} is longer than 30 days; give 720h or less (for a longer picture, \
             `measure` to a trace and `show` it)",
            HumanDuration(args.window)
        );
    }
    if args.window < longest * 4 {
        bail!(
            "--window {} holds fewer than 4 windows of the longest interval {}: give at least {}",
            HumanDuration(args.window),
            HumanDuration(longest),
            HumanDuration(longest * 4)
        );
    }
    Ok(())
}

/// The backend `measure` would build for the same target, through the one backend factory
/// (a Xen domain in observe mode beside Remus, exclusive otherwise, as `measure` decides).
fn open_backend(args: &WatchArgs, options: BuildOptions) -> Result<Box<dyn Backend>> {
    let (resolved, why) = select::resolve(
        args.target.as_deref().unwrap_or_default(),
        args.target_flags.backend,
        args.target_flags.qmp.as_deref(),
    )?;
    crate::note!("remus-tune watch: {why}");
    resolved.build(options)
}
