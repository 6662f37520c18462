//! Where the model's Dom-0 term comes from: the profile's per-page costs, or what a Xen trace
//! measured in Dom-0 (model.md §7).
//!
//! A checkpoint costs Dom-0 `D · c_dom0_page + W · c_disk` CPU seconds. The trace can improve
//! two things, and only these two:
//!
//! - **`c_dom0_page`, calibrated from the save helper.** When libxl's save helper ran during
//!   the trace (observe mode beside Remus), its CPU is the checkpoint copy itself, and the
//!   trace's dirty counts are the frames those checkpoints took. Their ratio replaces the
//!   profile's `c_page + c_send_cpu` in the Dom-0 term, and so in the shared-cores throughput.
//!   It charges every CPU second of the helper to pages, so at small D, where the per-
//!   checkpoint work (suspend, the CLEAN walk) dominates, it is an upper bound; ssh's
//!   encryption runs in its own process and is not in it. Pause and send *times* keep the
//!   profile's costs: the helper's CPU time is not the guest's pause.
//! - **A baseline: Dom-0's measured load outside the save helper** (backends, device model,
//!   remus-tune's own measuring; under Remus also netbuf and ssh). It is reported, added to
//!   the checkpoint cost, as `dom0_cpu_total`: what Dom-0's cores must carry under Remus, the
//!   figure to size a pinned Dom-0 by. It is *not* taken off the guest's relative throughput:
//!   the unprotected guest shares its cores with the same load, so it cancels out of
//!   "throughput relative to unprotected".

use super::params::Costs;
use crate::trace::Trace;
use serde::Serialize;

/// Fewer checkpoint pages than one batch of the migration stream (xg_sr_save.c writes up to
/// 1024 pages per batch) say more about the per-batch and per-checkpoint work than about a
/// page: below this the profile's per-page cost is kept.
pub const MIN_CALIBRATION_PAGES: u64 = 1024;

/// Where the per-page Dom-0 CPU of a checkpoint came from.
#[derive(Serialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Dom0Source {
    /// The profile's `page_copy + page_send_cpu`.
    Profile,
    /// Measured: the save helper's CPU over the dirty pages of the trace.
    SaveHelper,
}

/// The Dom-0 inputs the model used, and where each came from.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct Dom0Basis {
    pub source: Dom0Source,
    /// Dom-0 CPU seconds per dirty page of a checkpoint, as used.
    pub cpu_per_page_s: f64,
    /// Dom-0's measured load outside the save helper, in cores; `None` when the trace has no
    /// Dom-0 figures (not Xen, or an older trace).
    pub baseline_cores: Option<f64>,
    /// The same in words, with the figures behind it.
    pub note: String,
}

impl Dom0Basis {
    /// Reads the Dom-0 figures of `trace`, falling back to the profile's `costs`.
    pub fn from_trace(trace: &Trace, costs: &Costs) -> Self {
        let mut sums = Dom0Sums::default();
        for epoch in &trace.epochs {
            sums.push(epoch);
        }
        Self::from_sums(&sums, costs)
    }

    /// The same from sums gathered as the epochs streamed by.
    pub fn from_sums(sums: &Dom0Sums, costs: &Costs) -> Self {
        let Dom0Sums {
            measured,
            seconds,
            dom0_s,
            helper_s,
            helper_pages,
        } = *sums;
        // The helper is part of Dom-0: what is left is load Remus's copy does not cause.
        let baseline_cores =
            (measured && seconds > 0.0).then(|| ((dom0_s - helper_s) / seconds).max(0.0));
        let profile_per_page = costs.page_copy_s + costs.page_send_cpu_s;
        let baseline_text = match baseline_cores {
            Some(cores) => format!(
                "baseline {cores:.2} cores measured (Dom-0 outside the save helper, over \
                 {seconds:.1} s), added in dom0 total"
            ),
            None => "no Dom-0 CPU in the trace, no baseline".into(),
        };
        if helper_pages >= MIN_CALIBRATION_PAGES && helper_s > 0.0 {
            let per_page = helper_s / helper_pages as f64;
            return Self {
                source: Dom0Source::SaveHelper,
                cpu_per_page_s: per_page,
                baseline_cores,
                note: format!(
                    "checkpoint CPU {:.2} µs/page measured from the save helper ({helper_s:.3} s \
                     over {helper_pages} pages; the profile says {:.2}); {baseline_text}",
                    per_page * 1e6,
                    profile_per_page * 1e6
                ),
            };
        }
        let why = if helper_s > 0.0 {
            format!(
                " (the save helper ran over {helper_pages} pages only, fewer than \
                 {MIN_CALIBRATION_PAGES} to calibrate on)"
            )
        } else {
            String::new()
        };
        Self {
            source: Dom0Source::Profile,
            cpu_per_page_s: profile_per_page,
            baseline_cores,
            note: format!(
                "checkpoint CPU {:.2} µs/page from the profile (page_copy + page_send_cpu){why}; \
                 {baseline_text}",
                profile_per_page * 1e6
            ),
        }
    }

    /// Dom-0 CPU seconds of one checkpoint of `dirty_pages` and `write_bytes`.
    pub fn checkpoint_cpu_s(&self, costs: &Costs, dirty_pages: f64, write_bytes: f64) -> f64 {
        checkpoint_cpu_s(self.cpu_per_page_s, costs, dirty_pages, write_bytes)
    }
}

/// A trace's Dom-0 figures, summed over its epochs.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Dom0Sums {
    measured: bool,
    seconds: f64,
    dom0_s: f64,
    helper_s: f64,
    helper_pages: u64,
}

impl Dom0Sums {
    pub fn push(&mut self, epoch: &crate::trace::Epoch) {
        let Some(dom0) = epoch.dom0 else { return };
        self.measured = true;
        self.seconds += (epoch.end_s - epoch.start_s).max(0.0);
        self.dom0_s += dom0.cpu_s;
        if let Some(helper) = dom0.save_helper_s {
            self.helper_s += helper;
            self.helper_pages += epoch.dirty_pages;
        }
    }
}

/// `D · c_dom0_page + W · c_disk` (model.md §7), for any per-page cost.
pub fn checkpoint_cpu_s(per_page_s: f64, costs: &Costs, dirty_pages: f64, write_bytes: f64) -> f64 {
    dirty_pages * per_page_s + write_bytes * costs.disk_cpu_per_byte_s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tests::synthetic_trace;
    use crate::model::{predict, ModelOptions};
    use crate::profile::{load, Profile, ProfileRequest};
    use crate::trace::Dom0Cpu;

    fn profile() -> Profile {
        load(&ProfileRequest {
            profile: Some("web".into()),
            host: Some("xen-4.17".into()),
            ..Default::default()
        })
        .unwrap()
    }

    /// 800 epochs of 25 ms, 100 pages each at the base epoch.
    fn trace() -> Trace {
        synthetic_trace(
            25,
            &[25, 50, 100],
            800,
            |ms| 100.0 * (ms / 25.0).powf(0.7),
            0,
        )
    }

    /// Every epoch: Dom-0 at `dom0_cores`, of which the save helper `helper_cores`.
    fn with_dom0(mut trace: Trace, dom0_cores: f64, helper_cores: Option<f64>) -> Trace {
        for e in &mut trace.epochs {
            let length = e.end_s - e.start_s;
            e.dom0 = Some(Dom0Cpu {
                cpu_s: dom0_cores * length,
                save_helper_s: helper_cores.map(|h| h * length),
            });
        }
        trace
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1e-12)
    }

    #[test]
    fn without_dom0_figures_the_profile_is_used() {
        let p = profile();
        let basis = Dom0Basis::from_trace(&trace(), &p.costs);
        assert_eq!(basis.source, Dom0Source::Profile);
        assert_eq!(
            basis.cpu_per_page_s,
            p.costs.page_copy_s + p.costs.page_send_cpu_s
        );
        assert_eq!(basis.baseline_cores, None);
        let report = predict(&trace(), &p, &ModelOptions::default()).unwrap();
        assert_eq!(report.dom0.source, Dom0Source::Profile);
        for i in &report.intervals {
            assert_eq!(i.dom0_cpu_total, None);
            assert!(i.dom0_cpu > 0.0);
        }
    }

    #[test]
    fn a_dom0_baseline_is_added_to_the_total_not_to_the_slowdown() {
        let p = profile();
        let plain = predict(&trace(), &p, &ModelOptions::default()).unwrap();
        let measured = with_dom0(trace(), 0.3, None);
        let report = predict(&measured, &p, &ModelOptions::default()).unwrap();
        assert_eq!(report.dom0.source, Dom0Source::Profile);
        assert!(close(report.dom0.baseline_cores.unwrap(), 0.3));
        assert!(
            report.dom0.note.contains("from the profile"),
            "{}",
            report.dom0.note
        );
        for (with, without) in report.intervals.iter().zip(&plain.intervals) {
            assert!(close(with.dom0_cpu_total.unwrap(), 0.3 + with.dom0_cpu));
            // The unprotected guest shares its cores with the same baseline: it cancels out.
            assert_eq!(with.throughput_shared, without.throughput_shared);
            assert_eq!(with.dom0_cpu, without.dom0_cpu);
        }
    }

    #[test]
    fn a_dom0_short_of_vcpus_is_warned_about() {
        let p = profile();
        let dom0_warning = |vcpus: Option<u32>| {
            let mut measured = with_dom0(trace(), 1.5, None);
            measured.header.host.dom0_vcpus = vcpus;
            let report = predict(&measured, &p, &ModelOptions::default()).unwrap();
            report
                .warnings
                .into_iter()
                .find(|w| w.starts_with("Dom-0 has"))
        };
        let warning = dom0_warning(Some(1)).expect("1.5 cores of load on 1 vCPU");
        assert!(warning.contains("Dom-0 has 1 vCPU(s)"), "{warning}");
        assert_eq!(dom0_warning(Some(4)), None);
        // Unknown vCPU count (older trace): nothing to compare with.
        assert_eq!(dom0_warning(None), None);
    }

    #[test]
    fn the_save_helper_calibrates_the_per_page_cost() {
        let p = profile();
        let profile_per_page = p.costs.page_copy_s + p.costs.page_send_cpu_s;
        // 100 pages per 25 ms epoch at 20× the profile's per-page cost.
        let helper_cores = 100.0 * 20.0 * profile_per_page / 0.025;
        let measured = with_dom0(trace(), 0.5 + helper_cores, Some(helper_cores));
        let basis = Dom0Basis::from_trace(&measured, &p.costs);
        assert_eq!(basis.source, Dom0Source::SaveHelper);
        assert!(close(basis.cpu_per_page_s, 20.0 * profile_per_page));
        // The helper is part of Dom-0: the baseline is what is left.
        assert!(close(basis.baseline_cores.unwrap(), 0.5));
        assert!(
            basis.note.contains("measured from the save helper"),
            "{}",
            basis.note
        );

        let plain = predict(&trace(), &p, &ModelOptions::default()).unwrap();
        let report = predict(&measured, &p, &ModelOptions::default()).unwrap();
        for (with, without) in report.intervals.iter().zip(&plain.intervals) {
            assert!(close(with.dom0_cpu, 20.0 * without.dom0_cpu), "{with:?}");
            assert!(with.throughput_shared < without.throughput_shared);
            // Pinned, Dom-0's CPU is not the guest's, and pause times keep the profile's.
            assert_eq!(with.throughput_pinned, without.throughput_pinned);
            assert_eq!(with.pause_ms, without.pause_ms);
        }
    }

    #[test]
    fn too_few_helper_pages_keep_the_profile() {
        let p = profile();
        let mut measured = with_dom0(trace(), 0.5, Some(0.1));
        // The helper only in the first 10 epochs: 1000 pages, under one stream batch.
        for e in measured.epochs.iter_mut().skip(10) {
            e.dom0 = Some(Dom0Cpu {
                cpu_s: 0.5 * (e.end_s - e.start_s),
                save_helper_s: None,
            });
        }
        let basis = Dom0Basis::from_trace(&measured, &p.costs);
        assert_eq!(basis.source, Dom0Source::Profile);
        assert!(basis.note.contains("fewer than 1024"), "{}", basis.note);
    }
}
