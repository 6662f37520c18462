//! The dirty-page scanners behind one trait, and `auto`'s choice among them.

use super::hash::HashScanner;
use super::sample::{SampleScanner, SampleSize};
use super::softdirty::{self, SoftDirtyScanner};
use super::target::criu_running;
use crate::backend::regions::RegionSource;
use crate::backend::MethodChoice;
use crate::pageset::PageSet;
use crate::trace::{MethodInfo, SampleInfo};
use anyhow::{bail, Result};
use std::path::Path;
use std::time::{Duration, Instant};

/// Finds the pages of a process that changed since the previous call.
pub trait DirtyScanner {
    /// Takes the reference state; nothing before it counts as dirty.
    fn baseline(&mut self, source: &mut dyn RegionSource) -> Result<()>;
    /// Pages dirtied since the previous `baseline` or `scan`.
    fn scan(&mut self, source: &mut dyn RegionSource) -> Result<PageSet>;
    /// Estimated pages per counted page (1 for exact methods).
    fn scale(&self) -> f64;
    /// Bytes of memory the scanner watches.
    fn watched_bytes(&self) -> u64;
}

/// A hash scan may take at most this share of the epoch for `auto` to pick it: the rest is
/// headroom for the target's own growth and for the machine being busy.
const HASH_BUDGET_SHARE: f64 = 0.25;

/// What `choose` settled on.
pub struct Chosen {
    pub scanner: Box<dyn DirtyScanner>,
    pub info: MethodInfo,
}

/// Builds the scanner for `choice` and takes its baseline (auto times a real hash scan to
/// decide, so the baseline is where the decision is made).
pub fn choose(
    choice: MethodChoice,
    source: &mut dyn RegionSource,
    page_size: u64,
    epoch: Duration,
    sample: SampleSize,
) -> Result<Chosen> {
    let pid = source.pid();
    match choice {
        MethodChoice::SoftDirty => {
            if let Err(why) = softdirty::probe() {
                bail!("--method soft-dirty cannot work here: {why}; use --method hash or sample");
            }
            if let Some(huge) = huge_page_memory(pid) {
                bail!("--method soft-dirty would overcount: {huge}; use --method hash or sample");
            }
            if softdirty::in_xen_pv_domain(Path::new("/sys/hypervisor")) {
                crate::warn!("{}", softdirty::XEN_PV_UNDERCOUNT);
            }
            if let Some(criu) = criu_running() {
                bail!(
                    "CRIU is running (PID {criu}): soft-dirty would reset the bits its incremental \
                     dumps rely on; use --method hash or sample"
                );
            }
            soft_dirty(pid, page_size, source, "requested".into())
        }
        MethodChoice::Hash => {
            let mut scanner = HashScanner::new(pid, page_size)?;
            scanner.baseline(source)?;
            Ok(exact(Box::new(scanner), "hash", "requested".into()))
        }
        MethodChoice::Sample => sampled(page_size, source, sample, "requested".into()),
        MethodChoice::Auto => {
            let no_soft_dirty = match (softdirty::probe(), criu_running()) {
                (Ok(()), None) => {
                    let in_xen_pv = softdirty::in_xen_pv_domain(Path::new("/sys/hypervisor"));
                    match (in_xen_pv, huge_page_memory(pid)) {
                        (true, _) => softdirty::XEN_PV_UNDERCOUNT.to_string(),
                        (false, Some(huge)) => format!("soft-dirty would overcount: {huge}"),
                        (false, None) => {
                            return soft_dirty(
                                pid,
                                page_size,
                                source,
                                "the kernel tracks soft-dirty pages (probed): exact and cheap"
                                    .into(),
                            )
                        }
                    }
                }
                (Ok(()), Some(criu)) => {
                    format!("CRIU is running (PID {criu}), so soft-dirty is left alone")
                }
                (Err(why), _) => format!("no soft-dirty: {why}"),
            };
            let mut scanner = HashScanner::new(pid, page_size)?;
            let started = Instant::now();
            scanner.baseline(source)?;
            let took = started.elapsed();
            let budget = epoch.mul_f64(HASH_BUDGET_SHARE);
            let scanned = format!(
                "one hash scan of {:.1} MiB took {:.1} ms",
                crate::units::mib(scanner.watched_bytes() as f64),
                took.as_secs_f64() * 1e3
            );
            if took <= budget {
                let reason = format!(
                    "{no_soft_dirty}; {scanned}, within a quarter of the {:.0} ms epoch: exact hashing",
                    epoch.as_secs_f64() * 1e3
                );
                Ok(exact(Box::new(scanner), "hash", reason))
            } else {
                let reason = format!(
                    "{no_soft_dirty}; {scanned}, more than a quarter of the {:.0} ms epoch: sampling instead",
                    epoch.as_secs_f64() * 1e3
                );
                sampled(page_size, source, sample, reason)
            }
        }
    }
}

/// Why soft-dirty cannot count this process exactly, if it cannot: a write to a transparent
/// huge page marks all 512 of its 4 KiB pages soft-dirty.
fn huge_page_memory(pid: i32) -> Option<String> {
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    let huge_kib: u64 = rollup
        .lines()
        .filter(|line| {
            ["AnonHugePages:", "ShmemPmdMapped:", "FilePmdMapped:"]
                .iter()
                .any(|key| line.starts_with(key))
        })
        .filter_map(|line| line.split_whitespace().nth(1)?.parse::<u64>().ok())
        .sum();
    (huge_kib > 0).then(|| {
        format!(
            "{} MiB of the process is in transparent huge pages, where one write marks 2 MiB \
             soft-dirty",
            huge_kib / 1024
        )
    })
}

fn exact(scanner: Box<dyn DirtyScanner>, name: &str, reason: String) -> Chosen {
    Chosen {
        scanner,
        info: MethodInfo {
            name: name.into(),
            reason,
            exact: true,
            sample: None,
        },
    }
}

fn soft_dirty(
    pid: i32,
    page_size: u64,
    source: &mut dyn RegionSource,
    reason: String,
) -> Result<Chosen> {
    let mut scanner = SoftDirtyScanner::new(pid, page_size)?;
    scanner.baseline(source)?;
    Ok(exact(Box::new(scanner), "soft-dirty", reason))
}

fn sampled(
    page_size: u64,
    source: &mut dyn RegionSource,
    size: SampleSize,
    reason: String,
) -> Result<Chosen> {
    let mut scanner = SampleScanner::new(page_size, size);
    scanner.baseline(source)?;
    let info = MethodInfo {
        name: "sample".into(),
        reason,
        exact: false,
        sample: Some(SampleInfo {
            sampled_pages: scanner.sampled_pages(),
            frame_pages: scanner.frame_pages(),
            per_gib: size.per_gib,
            seed: size.seed,
        }),
    };
    Ok(Chosen {
        scanner: Box::new(scanner),
        info,
    })
}
