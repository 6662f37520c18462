//! Every invariant the writer keeps, checked on reading, so a damaged or hand-made trace is
//! refused with the first violation named instead of modelled into nonsense (a latency of
//! 1.9e27 ms from a NaN, a verdict from duplicated epochs). Checked as the epochs stream by:
//! the state is one open window per interval, never the run.

use super::codec::Schedule;
use super::{End, EndReason, Epoch, TraceHeader, OLDEST_SCHEMA_VERSION, SCHEMA_VERSION};

/// Virtual page numbers of a 48-bit address space: no process has more pages than this.
const MAX_PROCESS_PAGES: u64 = 1 << 36;
/// Clocks are rounded to the microsecond; times within this of each other are equal.
const TIME_SLACK_S: f64 = 2e-6;

/// The header's checks; what the epochs are checked against.
pub struct Validator {
    schedule: Schedule,
    spans: Vec<(u64, u64)>,
    max_pages: u64,
    memory_note: String,
    next_n: u64,
    previous_end: f64,
    /// Per interval: (largest base-epoch count, sum of counts) of the open window.
    open: Vec<(u64, u64)>,
}

fn finite_non_negative(name: &str, value: f64) -> Result<(), String> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is {value}, not a finite non-negative number"
        ))
    }
}

/// Epochs are numbered from 0 without gaps: anything else was duplicated, reordered or lost.
pub fn check_number(n: u64, expected: u64) -> Result<(), String> {
    if n == expected {
        return Ok(());
    }
    let what = if n < expected {
        "duplicated or out of order"
    } else {
        "out of order, or epochs before it are missing"
    };
    Err(format!(
        "epoch {n} is {what}: epoch {expected} was expected here"
    ))
}

impl Validator {
    pub fn new(header: &TraceHeader) -> Result<Self, String> {
        if header.schema_version < OLDEST_SCHEMA_VERSION {
            return Err(format!(
                "`schema_version` is {}: versions start at {OLDEST_SCHEMA_VERSION}",
                header.schema_version
            ));
        }
        debug_assert!(header.schema_version <= SCHEMA_VERSION);
        if !(header.base_epoch_ms.is_finite() && header.base_epoch_ms > 0.0) {
            return Err(format!(
                "`base_epoch_ms` must be a positive number, found {}",
                header.base_epoch_ms
            ));
        }
        if header.page_size == 0 || !header.page_size.is_power_of_two() {
            return Err(format!(
                "`page_size` must be a power of two, found {}",
                header.page_size
            ));
        }
        if header.intervals_ms.is_empty() {
            return Err("`intervals_ms` is empty: a trace measures at least one interval".into());
        }
        for &ms in &header.intervals_ms {
            let span = ms as f64 / header.base_epoch_ms;
            if ms == 0 || span < 0.999 || (span - span.round()).abs() > 1e-6 * span.max(1.0) {
                return Err(format!(
                    "interval {ms} ms in `intervals_ms` is not a whole number (at least 1) of \
                     base epochs of {} ms",
                    header.base_epoch_ms
                ));
            }
        }
        // A VM's watched memory is its RAM, fixed for the run; a process may grow after the
        // header was written, so only the address space bounds it.
        let vm = header.target.kind != "process";
        let (max_pages, memory_note) = if vm {
            (
                header.memory_bytes / header.page_size,
                format!(
                    "the guest's memory ({} pages of {} B)",
                    header.memory_bytes / header.page_size,
                    header.page_size
                ),
            )
        } else {
            (MAX_PROCESS_PAGES, "a 48-bit address space".to_string())
        };
        let spans = header.interval_spans();
        Ok(Self {
            schedule: super::codec::Schedule::new(header),
            open: vec![(0, 0); spans.len()],
            spans,
            max_pages,
            memory_note,
            next_n: 0,
            previous_end: 0.0,
        })
    }

    /// Checks the next epoch of the stream.
    pub fn epoch(&mut self, epoch: &Epoch) -> Result<(), String> {
        check_number(epoch.n, self.next_n)?;
        finite_non_negative("start_s", epoch.start_s)?;
        finite_non_negative("end_s", epoch.end_s)?;
        finite_non_negative("cpu_s", epoch.cpu_s)?;
        finite_non_negative("scan_ms", epoch.scan_ms)?;
        if epoch.end_s < epoch.start_s {
            return Err(format!(
                "it ends ({} s) before it starts ({} s)",
                epoch.end_s, epoch.start_s
            ));
        }
        if epoch.start_s + TIME_SLACK_S < self.previous_end {
            return Err(format!(
                "it starts at {} s, before the previous epoch ended ({} s)",
                epoch.start_s, self.previous_end
            ));
        }
        if let Some(classes) = &epoch.cpu_classes {
            finite_non_negative("vcpu_s", classes.vcpu_s)?;
            finite_non_negative("iothread_s", classes.iothread_s)?;
            finite_non_negative("emulator_s", classes.emulator_s)?;
        }
        if let Some(dom0) = &epoch.dom0 {
            finite_non_negative("dom0 cpu_s", dom0.cpu_s)?;
            if let Some(helper) = dom0.save_helper_s {
                finite_non_negative("save_helper_s", helper)?;
            }
        }
        self.pages("dirty_pages", epoch.dirty_pages)?;
        self.windows(epoch)?;
        self.next_n += 1;
        self.previous_end = epoch.end_s;
        Ok(())
    }

    fn pages(&self, what: &str, pages: u64) -> Result<(), String> {
        if pages > self.max_pages {
            return Err(format!(
                "`{what}` is {pages}, more than {}",
                self.memory_note
            ));
        }
        Ok(())
    }

    /// A window's count is the size of a union of its base epochs' sets: at least the
    /// largest of them and at most their sum (plus one per epoch: sampled counts are each
    /// rounded after scaling).
    fn windows(&mut self, epoch: &Epoch) -> Result<(), String> {
        for (slot, open) in self.open.iter_mut().enumerate() {
            open.0 = open.0.max(epoch.dirty_pages);
            open.1 = open.1.saturating_add(epoch.dirty_pages);
            let _ = slot;
        }
        let mut given = epoch.windows.iter().peekable();
        for (interval_ms, span) in self.schedule.closing(epoch.n) {
            let slot = self
                .spans
                .iter()
                .position(|&(ms, _)| ms == interval_ms)
                .unwrap_or(0);
            let Some(window) = given.next_if(|w| w.interval_ms == interval_ms) else {
                if span == 1 {
                    self.open[slot] = (0, 0);
                    continue;
                }
                return Err(format!(
                    "the {interval_ms} ms window closes with it but its count is missing"
                ));
            };
            let (largest, sum) = self.open[slot];
            self.open[slot] = (0, 0);
            if window.dirty_pages < largest || window.dirty_pages > sum.saturating_add(span) {
                return Err(format!(
                    "its {interval_ms} ms window counts {} pages, but the union of its {span} \
                     base epochs holds between {largest} and {sum}",
                    window.dirty_pages
                ));
            }
        }
        if let Some(extra) = given.next() {
            return Err(format!(
                "it has a {} ms window, which does not close at epoch {} (or is not a measured \
                 interval, or is listed twice)",
                extra.interval_ms, epoch.n
            ));
        }
        Ok(())
    }

    /// Checks the `end` record against the epochs seen.
    pub fn end(&self, end: &End) -> Result<(), String> {
        if end.reason == EndReason::Truncated {
            return Err("`reason: truncated` is for readers only, never written".into());
        }
        if end.epochs != self.next_n {
            return Err(format!(
                "the end record says {} epochs, but the file holds {}",
                end.epochs, self.next_n
            ));
        }
        finite_non_negative("duration_s", end.duration_s)?;
        if end.late_epochs > end.epochs {
            return Err(format!(
                "the end record says {} late epochs, of {} epochs",
                end.late_epochs, end.epochs
            ));
        }
        Ok(())
    }

    pub fn epochs_seen(&self) -> u64 {
        self.next_n
    }
}
