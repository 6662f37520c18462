//! The writable-working-set curve D(t): mean distinct dirty pages against window length.
//!
//! Measured points come from the trace's intervals. Growth is sub-linear (model.md §2: doubling
//! 125→250 ms multiplied a memcached dirty set by ≈2.4, 1→2 s only by ≈1.42), so between two
//! measured points we interpolate in log-log space, which follows a power law exactly. Beyond
//! the longest measured interval we scale linearly, an upper bound for a sub-linear curve, and
//! never beyond the guest's memory. Every value says which of these it is.

use serde::Serialize;

/// Where a dirty count came from.
#[derive(Serialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Basis {
    /// Measured at exactly this interval.
    Measured,
    /// Between two measured intervals (log-log interpolation).
    Interpolated,
    /// Outside the measured range (linear scaling: an upper bound above it).
    Extrapolated,
    /// Beyond the longest measured window, on the curve saturating at the working set.
    Saturated,
}

/// Where the working set a curve saturates at came from.
#[derive(Serialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum WorkingSetSource {
    /// The trace's end record: distinct pages dirtied over the whole measurement.
    Trace,
    /// An older trace without it: the most pages any window of the longest interval dirtied
    /// (a lower bound of the working set, so the cap may be low).
    LongestWindowMax,
}

/// The working set a curve saturates at.
#[derive(Serialize, Clone, Copy, Debug, PartialEq)]
pub struct WorkingSet {
    pub pages: f64,
    pub source: WorkingSetSource,
}

impl WorkingSet {
    pub fn describe(&self) -> String {
        match self.source {
            WorkingSetSource::Trace => format!(
                "{:.0} pages, the distinct pages the trace saw dirtied over the whole measurement",
                self.pages
            ),
            WorkingSetSource::LongestWindowMax => format!(
                "{:.0} pages, the most any window of the longest interval dirtied (an older \
                 trace without the whole run's count: the cap may be low)",
                self.pages
            ),
        }
    }
}

/// Mean dirty pages at measured window lengths.
#[derive(Clone, Debug, PartialEq)]
pub struct DirtyCurve {
    /// (window length s, mean dirty pages), by increasing length, lengths > 0.
    points: Vec<(f64, f64)>,
    /// Pages of guest memory: no window dirties more.
    max_pages: f64,
    /// What the curve saturates at beyond the longest measured window, when known.
    working_set: Option<WorkingSet>,
    /// The abscissa is the guest's *running* time (a trace taken under log-dirty, whose
    /// guest was slowed by the same write faults as under Remus), not its work time.
    at_running_time: bool,
}

impl DirtyCurve {
    pub fn new(mut points: Vec<(f64, f64)>, max_pages: f64) -> Self {
        points.retain(|&(t, d)| t > 0.0 && t.is_finite() && d.is_finite() && d >= 0.0);
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        let max_pages = if max_pages > 0.0 {
            max_pages
        } else {
            f64::INFINITY
        };
        Self {
            points,
            max_pages,
            working_set: None,
            at_running_time: false,
        }
    }

    /// The same curve, its abscissa the guest's running time (see `at_running_time`).
    pub fn read_at_running_time(mut self, yes: bool) -> Self {
        self.at_running_time = yes;
        self
    }

    pub fn at_running_time(&self) -> bool {
        self.at_running_time
    }

    /// The same curve saturating at `working_set` beyond its longest point (ignored when not
    /// above that point's value: nothing to saturate towards).
    pub fn saturating(mut self, working_set: Option<WorkingSet>) -> Self {
        let last = self.points.last().map_or(0.0, |p| p.1);
        self.working_set = working_set.filter(|w| w.pages.is_finite() && w.pages > last);
        self
    }

    pub fn working_set(&self) -> Option<WorkingSet> {
        self.working_set
    }

    /// Mean dirty pages in a window of `t` seconds, and how it was obtained.
    pub fn at(&self, t: f64) -> (f64, Basis) {
        let Some(&(t0, d0)) = self.points.first() else {
            return (0.0, Basis::Extrapolated);
        };
        let &(tn, dn) = self.points.last().unwrap_or(&(t0, d0));
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(b.abs());
        let (value, basis) = if let Some(&(_, d)) = self.points.iter().find(|p| close(p.0, t)) {
            (d, Basis::Measured)
        } else if t < t0 {
            (d0 * t.max(0.0) / t0, Basis::Extrapolated)
        } else if t > tn {
            match self.working_set {
                Some(w) if dn > 0.0 => {
                    let room = w.pages - dn;
                    let slope = dn / tn;
                    (
                        w.pages - room * (-(t - tn) * slope / room).exp(),
                        Basis::Saturated,
                    )
                }
                _ => (dn * t / tn, Basis::Extrapolated),
            }
        } else {
            let i = self.points.partition_point(|p| p.0 < t);
            let (ta, da) = self.points[i - 1];
            let (tb, db) = self.points[i];
            let value = if da > 0.0 && db > 0.0 {
                let k = (db / da).ln() / (tb / ta).ln();
                da * (t / ta).powf(k)
            } else {
                da + (db - da) * (t - ta) / (tb - ta)
            };
            (value, Basis::Interpolated)
        };
        (value.min(self.max_pages), basis)
    }

    /// The shortest and longest measured window lengths.
    pub fn measured_range(&self) -> Option<(f64, f64)> {
        Some((self.points.first()?.0, self.points.last()?.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolates_a_power_law_exactly_and_marks_it() {
        // D = 1000 · t^0.5
        let curve = DirtyCurve::new(
            vec![(0.1, 1000.0 * 0.1f64.sqrt()), (0.4, 1000.0 * 0.4f64.sqrt())],
            1e9,
        );
        let (d, basis) = curve.at(0.2);
        assert!((d - 1000.0 * 0.2f64.sqrt()).abs() < 1e-6);
        assert_eq!(basis, Basis::Interpolated);
        assert_eq!(curve.at(0.1).1, Basis::Measured);
        let (d, basis) = curve.at(0.8);
        assert_eq!(basis, Basis::Extrapolated);
        assert!((d - 2.0 * 1000.0 * 0.4f64.sqrt()).abs() < 1e-6);
    }

    #[test]
    fn beyond_the_longest_window_it_saturates_at_the_working_set() {
        let points = vec![(0.0015, 334.0), (0.003, 572.0), (0.006, 939.0)];
        let linear = DirtyCurve::new(points.clone(), 65536.0);
        let w = WorkingSet {
            pages: 2386.0,
            source: WorkingSetSource::LongestWindowMax,
        };
        let curve = DirtyCurve::new(points, 65536.0).saturating(Some(w));
        // Inside the measured range nothing changes.
        assert_eq!(curve.at(0.004), linear.at(0.004));
        // Just beyond the last point it follows the linear slope...
        let (near, basis) = curve.at(0.0061);
        assert_eq!(basis, Basis::Saturated);
        assert!((near - linear.at(0.0061).0).abs() < 0.5, "{near}");
        // ... and far beyond it approaches the working set, never above it, rising all along.
        let mut previous = 939.0;
        for t in [0.01, 0.05, 0.2, 1.0, 10.0] {
            let (d, _) = curve.at(t);
            assert!(d >= previous && d <= 2386.0, "{t}: {d}");
            previous = d;
        }
        assert!(curve.at(10.0).0 > 2385.0);
        assert!(linear.at(0.2).0 > 30_000.0);
        // A working set below the last point is no cap.
        let low = DirtyCurve::new(vec![(0.1, 500.0)], 1e9).saturating(Some(WorkingSet {
            pages: 400.0,
            source: WorkingSetSource::Trace,
        }));
        assert_eq!(low.at(0.2), (1000.0, Basis::Extrapolated));
    }

    #[test]
    fn never_exceeds_memory() {
        let curve = DirtyCurve::new(vec![(0.1, 100.0)], 150.0);
        assert_eq!(curve.at(10.0).0, 150.0);
    }
}
