//! `remus-tune measure` on a Xen domain: picks the Xen backend (asked for, or `auto` when
//! `xl` runs here and knows the name), resolves the domain through `xl`, and runs the same
//! measuring loop as every backend. A host without Xen gets a sentence and exit status 69.

use crate::backend::xen::domain::{self, XenDomain};
use crate::backend::xen::libxenctrl::{privcmd_present, XenCtrlError};
use crate::backend::xen::{XenBackend, XenOptions};
use crate::cli::{BackendChoice, MeasureArgs};
use crate::commands::measure::{default_output, exit_code, report_end};
use crate::measure::{self, MeasurePlan};
use crate::output::emit;
use crate::summary::summarize;
use crate::sys::signals::StopSignal;
use crate::trace::read_trace;
use crate::xl::{Xl, XlError};
use anyhow::{bail, Context, Result};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Exit status when the Xen backend is asked for on a host without Xen (sysexits
/// EX_UNAVAILABLE).
pub const EXIT_NO_XEN: u8 = 69;

/// Measures a Xen domain if the arguments ask for one; `None` leaves it to the process
/// backend.
pub fn dispatch(
    args: &MeasureArgs,
    intervals: &[(u64, u32)],
    stop: &StopSignal,
) -> Result<Option<ExitCode>> {
    let xl = Xl::from_env();
    let target = args.target.as_deref();
    let use_xen = match args.backend {
        BackendChoice::Xen => true,
        BackendChoice::Process | BackendChoice::Qemu => false,
        BackendChoice::Auto => {
            !args.exec && args.qmp.is_none() && target.is_some_and(|t| domain::is_domain(&xl, t))
        }
    };
    if !use_xen {
        if args.observe {
            bail!("--observe is for Xen domains (measure beside Remus); `{}` was not found as one: check `xl list`, or drop --observe", target.unwrap_or("--exec"));
        }
        return Ok(None);
    }
    if args.exec {
        bail!(
            "--exec launches a process, not a Xen domain: drop --backend xen, or name the domain"
        );
    }
    let Some(name) = target else {
        bail!("name the Xen domain to measure (see `xl list`)");
    };
    if args.backend == BackendChoice::Auto {
        eprintln!("backend auto: `{name}` is a Xen domain here: using the Xen backend");
    }
    Ok(Some(run(args, name, intervals, stop, &xl)?))
}

/// Says that there is no Xen here, and how to go on.
fn no_xen(what: &str) -> ExitCode {
    eprintln!(
        "error: no Xen here: {what}\n  The Xen backend measures a domain from Dom-0 of a Xen \
         host. On this host, measure a Linux process with --backend process."
    );
    ExitCode::from(EXIT_NO_XEN)
}

fn run(
    args: &MeasureArgs,
    name: &str,
    intervals: &[(u64, u32)],
    stop: &StopSignal,
    xl: &Xl,
) -> Result<ExitCode> {
    let domain: XenDomain = match domain::resolve(xl, name) {
        Ok(d) => d,
        Err(err) => {
            if let Some(XlError::NotFound { .. }) = err.downcast_ref::<XlError>() {
                return Ok(no_xen(&format!("{err}")));
            }
            return Err(err.context(format!("cannot find Xen domain `{name}`")));
        }
    };
    if let Some((major, minor)) = domain.xen_version.as_deref().and_then(domain::major_minor) {
        if (major, minor) < (4, 16) {
            bail!(
                "this host runs Xen {major}.{minor}: remus-tune needs Xen 4.16 or later (its \
                 log-dirty call has a different signature before 4.16)"
            );
        }
    }
    eprintln!(
        "remus-tune measure: Xen domain {} (domid {}, {}, {} vCPU{}); {}",
        domain.name,
        domain.domid,
        domain.guest_type.as_deref().unwrap_or("type unknown"),
        domain.vcpus,
        if domain.vcpus == 1 { "" } else { "s" },
        args.describe_timing()
    );
    // Live placement (the stored config's affinity is the creation one): vCPUs of the
    // guest and of Dom-0, from `xl vcpu-list`.
    for row in domain
        .vcpu_list
        .rows
        .iter()
        .filter(|r| r.domid == domain.domid || r.domid == 0)
    {
        eprintln!(
            "  {} vCPU {}: on pCPU {}, affinity {} / {}",
            row.name,
            row.vcpu,
            row.cpu.map_or("-".to_string(), |c| c.to_string()),
            row.hard,
            row.soft
                .as_ref()
                .map_or("(no soft affinity before Xen 4.5)".to_string(), |s| s
                    .to_string())
        );
    }
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| default_output(&domain.name));
    let defaults = XenOptions::default();
    let from_env = |var: &str, default: std::path::PathBuf| {
        std::env::var_os(var)
            .filter(|v| !v.is_empty())
            .map(std::path::PathBuf::from)
            .unwrap_or(default)
    };
    let options = XenOptions {
        observe: args.observe,
        // Test hooks, like REMUS_TUNE_XL: a directory standing in for /sys or /var/run/xen.
        sysfs: from_env("REMUS_TUNE_SYSFS", defaults.sysfs.clone()),
        run_dir: from_env("REMUS_TUNE_XEN_RUN", defaults.run_dir.clone()),
    };
    let mut backend = match XenBackend::new(domain, options) {
        Ok(b) => b,
        Err(err) => {
            match err.downcast_ref::<XenCtrlError>() {
                Some(XenCtrlError::NotInstalled { .. }) => return Ok(no_xen(&format!("{err}"))),
                // The library is installed but there is no hypervisor interface at all.
                Some(XenCtrlError::Open(_)) if !privcmd_present() => {
                    return Ok(no_xen(&format!("{err}")))
                }
                _ => {}
            }
            return Err(err);
        }
    };
    let settle = Instant::now() + args.warmup;
    while Instant::now() < settle && stop.received().is_none() {
        std::thread::sleep(Duration::from_millis(10));
    }
    let plan = MeasurePlan {
        epoch: args.epoch,
        intervals: intervals.to_vec(),
        duration: args.duration,
        output: output.clone(),
        overwrite: args.force,
    };
    let outcome = measure::run(&mut backend, &plan, stop, None)?;
    drop(backend);
    let trace = read_trace(&outcome.trace)
        .with_context(|| "the trace just written cannot be read back".to_string())?;
    let summary = summarize(&trace, &outcome.trace.display().to_string());
    emit(&summary, args.format)?;
    if let Some(effect) = &trace.end.observer_effect {
        eprintln!("{}", effect.describe());
    }
    report_end(&outcome);
    Ok(exit_code(outcome.end.reason))
}
