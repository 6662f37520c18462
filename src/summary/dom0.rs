//! Dom-0's CPU in the summary: how many cores Xen's control domain kept busy while the
//! domain was measured, and the save helper's share when Remus (or a save) ran. Checkpoints
//! are Dom-0 work (model.md §7), so this is the load a pinned Dom-0 must already carry.

use super::round3;
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
pub fn summarize(epochs: &[Epoch]) -> Option<Dom0Summary> {
    let measured: Vec<(f64, f64)> = epochs
        .iter()
        .filter_map(|e| e.dom0.map(|d| (e.end_s - e.start_s, d.cpu_s)))
        .collect();
    if measured.is_empty() {
        return None;
    }
    let helper: Vec<(f64, f64)> = epochs
        .iter()
        .filter_map(|e| Some((e.end_s - e.start_s, e.dom0?.save_helper_s?)))
        .collect();
    Some(Dom0Summary {
        cores: load(&measured),
        save_helper_cores: (!helper.is_empty()).then(|| load(&helper)),
    })
}

/// (length, CPU seconds) per epoch → cores busy.
fn load(epochs: &[(f64, f64)]) -> CoreLoad {
    let seconds: f64 = epochs.iter().map(|(len, _)| len).sum();
    let cpu: f64 = epochs.iter().map(|(_, cpu)| cpu).sum();
    let per_epoch: Vec<f64> = epochs
        .iter()
        .filter(|(len, _)| *len > 0.0)
        .map(|(len, cpu)| cpu / len)
        .collect();
    let stats = super::Stats::of(&per_epoch);
    CoreLoad {
        mean: round3(if seconds > 0.0 { cpu / seconds } else { 0.0 }),
        p95: round3(stats.p95),
        max: round3(stats.max),
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
