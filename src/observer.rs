//! The observer effect: how much measuring a guest with log-dirty tracking slows it.
//!
//! With log-dirty on, every first write to a page in an epoch traps to the hypervisor
//! (model.md §5). On bare metal with PML that is nearly free; under shadow paging, nested
//! virtualisation or emulation it can cost the guest most of its speed (model.md §10: a
//! CPU-bound guest under QEMU/TCG kept ~4 % of its work rate). A trace taken that way
//! describes a slowed guest. This is the measured slowdown and where it came from, so the
//! trace can say so and the model can use it once.

use serde::{Deserialize, Serialize};

/// Above this the trace's dirty counts describe a visibly slowed guest: say so loudly.
pub const WARN_ABOVE: f64 = 0.05;

/// How the observer effect was measured.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ObserverSource {
    /// A user-given probe of the guest's throughput, run before, during and after.
    Probe,
    /// The guest's CPU time per wall second from the hypervisor, before and during: a proxy
    /// only, since Xen may charge the time it spends on the guest's faults to the guest.
    GuestCpuTime,
}

/// The guest's throughput lost while it was measured, as a fraction (0.2 = ran at 80 %).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ObserverEffect {
    pub fraction: f64,
    pub source: ObserverSource,
    /// The figures behind it, in words.
    pub note: String,
}

impl ObserverEffect {
    /// From the guest's throughput without measuring (`before`, and `after` when known) and
    /// `during`. `None` when there is no usable baseline.
    pub fn from_rates(
        before: f64,
        during: f64,
        after: Option<f64>,
        source: ObserverSource,
    ) -> Option<Self> {
        let baseline = match after {
            Some(a) if a.is_finite() && a > 0.0 => (before + a) / 2.0,
            _ => before,
        };
        if !(baseline.is_finite() && baseline > 0.0 && during.is_finite()) {
            return None;
        }
        let fraction = (1.0 - during / baseline).clamp(0.0, 1.0);
        let what = match source {
            ObserverSource::Probe => "probe",
            ObserverSource::GuestCpuTime => "guest CPU seconds per second (a proxy)",
        };
        let after_text = after.map(|a| format!(", after {a:.4}")).unwrap_or_default();
        Some(Self {
            fraction,
            source,
            note: format!("{what}: before {before:.4}, during {during:.4}{after_text}"),
        })
    }

    /// The sentence `show`, `measure` and `model` print.
    pub fn describe(&self) -> String {
        let warn = if self.fraction > WARN_ABOVE {
            "WARNING: the trace describes a guest slowed by its own measurement; "
        } else {
            ""
        };
        format!(
            "{warn}observer effect {:.1} % (log-dirty tracking slowed the guest; {})",
            self.fraction * 100.0,
            self.note
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_effect_is_the_share_lost_against_before_and_after() {
        let e = ObserverEffect::from_rates(100.0, 30.0, Some(80.0), ObserverSource::Probe).unwrap();
        assert!((e.fraction - (1.0 - 30.0 / 90.0)).abs() < 1e-12);
        assert!(e.describe().starts_with("WARNING"), "{}", e.describe());
        let small =
            ObserverEffect::from_rates(100.0, 98.0, None, ObserverSource::GuestCpuTime).unwrap();
        assert!(!small.describe().contains("WARNING"));
        assert!(small.describe().contains("proxy"));
        assert!(ObserverEffect::from_rates(0.0, 1.0, None, ObserverSource::Probe).is_none());
        // A guest faster while measured is no negative effect.
        let faster = ObserverEffect::from_rates(1.0, 1.2, None, ObserverSource::Probe).unwrap();
        assert_eq!(faster.fraction, 0.0);
    }
}
