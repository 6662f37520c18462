//! The built-in workload: dirties memory and disk at rates set on the command line, so the
//! true dirty count of any interval is known (see `remus-tune workload --help`).
//!
//! It is both the test target of remus-tune's own tests and a way for an admin to check that
//! measuring works on a host before trusting it on a VM.

mod buffer;
mod disk;

use crate::sys::signals::StopSignal;
use anyhow::{bail, Result};
use buffer::PageBuffer;
use disk::DiskWriter;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// What the workload writes, and for how long (`remus-tune workload --help` has the truth
/// each setting gives).
#[derive(Debug, Clone)]
pub struct WorkloadSpec {
    /// Pages of the region walked at `rate`, a new value into each in turn.
    pub sweep: u64,
    /// Pages per second the sweep writes.
    pub rate: f64,
    /// Pages rewritten, all of them, every `hot_period`.
    pub hot: u64,
    pub hot_period: Duration,
    /// Bytes per second written to a file, with fdatasync after each write.
    pub disk_rate: Option<f64>,
    /// File for `disk_rate` (default: a new file in $TMPDIR, removed at exit).
    pub disk_file: Option<PathBuf>,
    /// Stop after this long (default: run until SIGINT or SIGTERM).
    pub duration: Option<Duration>,
    /// Write as fast as possible and report writes/s instead of keeping to a rate.
    pub throughput: bool,
}

/// How often the paced loop wakes up.
const TICK: Duration = Duration::from_millis(1);
/// Hot-set gaps longer than this are reported (the consumer decides what its windows bear).
const STALL_GRACE: Duration = Duration::from_millis(10);

/// Runs the workload until its duration ends or a signal arrives.
pub fn run(args: &WorkloadSpec) -> Result<()> {
    validate(args)?;
    let stop = StopSignal::install()?;
    let page_size = crate::sys::page_size();
    let mut sweep = PageBuffer::new(args.sweep as usize, page_size)?;
    let mut hot = PageBuffer::new(args.hot as usize, page_size)?;
    let mut disk = match args.disk_rate {
        Some(_) => Some(DiskWriter::open(args.disk_file.as_deref())?),
        None => None,
    };
    println!(
        "ready pid={} sweep={} rate={} hot={} disk_rate={}",
        std::process::id(),
        args.sweep,
        args.rate,
        args.hot,
        args.disk_rate.unwrap_or(0.0)
    );
    std::io::stdout().flush()?;

    let start = Instant::now();
    let end = args.duration.map(|d| start + d);
    let running = || stop.received().is_none() && end.is_none_or(|end| Instant::now() < end);
    let mut value = 1u64;
    if args.throughput {
        let own_cpu = || crate::sys::cpuclock::process_cpu_seconds(std::process::id() as i32);
        let cpu_at_start = own_cpu()?;
        let mut writes = 0u64;
        while running() {
            for _ in 0..4096 {
                value += 1;
                sweep.write(writes as usize, value);
                writes += 1;
            }
        }
        let seconds = start.elapsed().as_secs_f64();
        println!("writes/s: {:.0}", writes as f64 / seconds);
        // Per CPU second as well: a measurer can cost the program time on its own core
        // (cache, memory bandwidth, locks, faults), which this shows apart from time lost
        // to sharing a core with whatever else runs on the host.
        let cpu_s = own_cpu()? - cpu_at_start;
        println!("writes/cpu-s: {:.0}", writes as f64 / cpu_s.max(1e-9));
        return Ok(());
    }

    // How far the workload fell behind its own schedule: when the machine starves it, the
    // truth it promises does not hold, and it says so at the end.
    let mut swept = 0u64;
    let mut next_hot = start;
    let mut last_hot = start;
    let mut max_hot_gap = std::time::Duration::ZERO;
    // Gaps between hot-set rewrites longer than STALL_GRACE: a window shorter than such a gap
    // can fall inside it and then sees fewer hot pages than promised.
    let mut hot_gaps: Vec<f64> = Vec::new();
    let mut max_sweep_lag = 0u64;
    while running() {
        let elapsed = start.elapsed().as_secs_f64();
        let due = (args.rate * elapsed) as u64;
        max_sweep_lag = max_sweep_lag.max(due.saturating_sub(swept));
        while swept < due && sweep.pages() > 0 {
            value += 1;
            sweep.write(swept as usize, value);
            swept += 1;
        }
        let now = Instant::now();
        if hot.pages() > 0 && now >= next_hot {
            for page in 0..hot.pages() {
                value += 1;
                hot.write(page, value);
            }
            max_hot_gap = max_hot_gap.max(now - last_hot);
            if now - last_hot > STALL_GRACE {
                hot_gaps.push((now - last_hot).as_secs_f64() * 1e3);
            }
            last_hot = now;
            next_hot = (next_hot + args.hot_period).max(now);
        }
        if let (Some(writer), Some(rate)) = (disk.as_mut(), args.disk_rate) {
            writer.catch_up((rate * elapsed) as u64)?;
        }
        std::thread::sleep(TICK);
    }
    // Whoever started us may have stopped reading: a closed pipe is no error here.
    let _ = writeln!(
        std::io::stdout(),
        "kept-up max_hot_gap_ms={:.1} run_ms={:.1} max_sweep_lag_pages={max_sweep_lag} hot_gaps_ms={}",
        max_hot_gap.as_secs_f64() * 1e3,
        start.elapsed().as_secs_f64() * 1e3,
        hot_gaps
            .iter()
            .map(|g| format!("{g:.1}"))
            .collect::<Vec<_>>()
            .join(",")
    );
    crate::note!(
        "workload: {swept} sweep writes, {} disk bytes in {:.1} s; longest gap between hot-set \
         rewrites {:.1} ms, sweep at most {max_sweep_lag} pages behind",
        disk.as_ref().map_or(0, |d| d.written()),
        start.elapsed().as_secs_f64(),
        max_hot_gap.as_secs_f64() * 1e3
    );
    Ok(())
}

fn validate(args: &WorkloadSpec) -> Result<()> {
    if args.sweep == 0 && args.hot == 0 && args.disk_rate.is_none() {
        bail!("nothing to do: give --sweep PAGES --rate N, --hot PAGES and/or --disk-rate RATE");
    }
    if args.throughput {
        if args.sweep == 0 {
            bail!("--throughput writes over the sweep region: give --sweep PAGES");
        }
    } else if args.sweep > 0 && !(args.rate > 0.0 && args.rate.is_finite()) {
        bail!("--sweep needs a positive --rate (pages per second)");
    }
    if args.hot > 0 && args.hot_period.is_zero() {
        bail!("--hot-period must be longer than 0");
    }
    Ok(())
}
