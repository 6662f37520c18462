//! Dom-0's CPU in the summary: how many cores Xen's control domain kept busy while the
//! domain was measured, and the save helper's share when Remus (or a save) ran. Checkpoints
//! are Dom-0 work (model.md §7), so this is the load a pinned Dom-0 must already carry.

use super::{round3, Quantiles};
use crate::trace::Epoch;
use serde::Serialize;

/// CPU seconds per second of a quantity measured per base epoch.
#[derive(Serialize, Debug, Clone, Copy, PartialEq)]
pub struct CoreLoad {
    /// Over the whole run (CPU seconds over seconds), like `cpu_cores`.
    pub mean: f64,
    /// 95th percentile and maximum of the base epochs, each its CPU over its own length.
    pub p95: f64,
    pub max: f64,
}

/// Dom-0's share of the host, from the trace's `dom0` epochs.
#[derive(Serialize, Debug, Clone, Copy, PartialEq)]
pub struct Dom0Summary {
    /// All of Dom-0's vCPUs (the save helper and remus-tune included).
    pub cores: CoreLoad,
    /// The domain's save helper, when one was seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub save_helper_cores: Option<CoreLoad>,
}

/// `None` for a trace without Dom-0 figures (not Xen, or written before they existed).
#[cfg(test)]
pub fn summarize(epochs: &[Epoch]) -> Option<Dom0Summary> {
    let mut accumulator = Dom0Accumulator::default();
    for epoch in epochs {
        accumulator.push(epoch);
    }
    accumulator.summary()
}

/// CPU seconds over seconds, and the per-epoch cores' distribution, as epochs stream by.
#[derive(Default)]
struct LoadAccumulator {
    seconds: f64,
    cpu: f64,
    per_epoch: Quantiles,
}

impl LoadAccumulator {
    fn push(&mut self, length: f64, cpu: f64) {
        self.seconds += length;
        self.cpu += cpu;
        if length > 0.0 {
            self.per_epoch.push(cpu / length);
        }
    }

    fn load(&self) -> CoreLoad {
        CoreLoad {
            mean: round3(if self.seconds > 0.0 {
                self.cpu / self.seconds
            } else {
                0.0
            }),
            p95: round3(self.per_epoch.quantile(0.95)),
            max: round3(self.per_epoch.max()),
        }
    }
}

/// Dom-0's figures of a trace being read or measured.
#[derive(Default)]
pub struct Dom0Accumulator {
    dom0: Option<LoadAccumulator>,
    helper: Option<LoadAccumulator>,
}

impl Dom0Accumulator {
    pub fn push(&mut self, epoch: &Epoch) {
        let Some(dom0) = epoch.dom0 else { return };
        let length = epoch.end_s - epoch.start_s;
        self.dom0
            .get_or_insert_with(Default::default)
            .push(length, dom0.cpu_s);
        if let Some(helper) = dom0.save_helper_s {
            self.helper
                .get_or_insert_with(Default::default)
                .push(length, helper);
        }
    }

    pub fn summary(&self) -> Option<Dom0Summary> {
        Some(Dom0Summary {
            cores: self.dom0.as_ref()?.load(),
            save_helper_cores: self.helper.as_ref().map(LoadAccumulator::load),
        })
    }
}

/// The summary's `dom0` line.
pub fn render(dom0: &Dom0Summary) -> String {
    let mut line = format!(
        "dom0     CPU {:.2} cores mean, {:.2} p95, {:.2} max (per base epoch)",
        dom0.cores.mean, dom0.cores.p95, dom0.cores.max
    );
    if let Some(helper) = &dom0.save_helper_cores {
        line += &format!(
            "; save helper {:.2} cores mean, {:.2} p95",
            helper.mean, helper.p95
        );
    }
    line.push('\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::Dom0Cpu;

    fn epoch(n: u64, length: f64, dom0: Option<Dom0Cpu>) -> Epoch {
        Epoch {
            n,
            start_s: n as f64,
            end_s: n as f64 + length,
            dirty_pages: 0,
            write_bytes: 0,
            syscw: 0,
            cpu_s: 0.0,
            scan_ms: 0.0,
            windows: vec![],
            flushes: None,
            cpu_classes: None,
            dom0,
        }
    }

    #[test]
    fn cores_are_cpu_over_time_and_per_epoch_percentiles() {
        // 19 epochs of 25 ms at 0.2 cores, one at 1.0: mean (19·0.005 + 0.025) / 0.5 = 0.24.
        let mut epochs: Vec<Epoch> = (0..19)
            .map(|n| {
                epoch(
                    n,
                    0.025,
                    Some(Dom0Cpu {
                        cpu_s: 0.005,
                        save_helper_s: None,
                    }),
                )
            })
            .collect();
        epochs.push(epoch(
            19,
            0.025,
            Some(Dom0Cpu {
                cpu_s: 0.025,
                save_helper_s: Some(0.01),
            }),
        ));
        let s = summarize(&epochs).unwrap();
        assert_eq!(s.cores.mean, 0.24);
        assert_eq!(s.cores.p95, 0.2);
        assert_eq!(s.cores.max, 1.0);
        // The helper was seen in one epoch only: its load is over that epoch.
        let helper = s.save_helper_cores.unwrap();
        assert_eq!((helper.mean, helper.p95), (0.4, 0.4));
        let text = render(&s);
        assert!(
            text.contains("0.24 cores mean, 0.20 p95, 1.00 max"),
            "{text}"
        );
        assert!(text.contains("save helper 0.40 cores mean"), "{text}");
    }

    #[test]
    fn no_dom0_figures_no_summary() {
        assert_eq!(summarize(&[epoch(0, 0.025, None)]), None);
        assert_eq!(summarize(&[]), None);
    }
}
