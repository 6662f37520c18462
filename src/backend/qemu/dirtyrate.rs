//! QEMU's own dirty-rate estimate (`calc-dirty-rate`), kept beside our exact sets as a
//! cross-check.
//!
//! Rules (qapi/migration.json, migration/dirtyrate.c; interfaces.md §0.13, §4.2):
//! - `calc-dirty-rate` exists since 5.2; `calc-time-unit: "millisecond"` since 8.2 (50 ms to
//!   60 s); before 8.2 only whole seconds (1 to 60 s), so the check covers a second, not an
//!   epoch, and reads lower than a per-epoch rate (a page written twice counts once).
//! - `dirty-bitmap` mode only when `query-kvm` says KVM is enabled: QEMU 7.2 crashes on it under
//!   TCG (seen here: the QMP connection reset and QEMU was gone). We also avoid it while a
//!   migration runs, as it switches on global dirty logging. Otherwise `page-sampling`, which
//!   hashes sampled pages and counts identical rewrites as clean.
//! - A freshly booted guest reads 0 for its first seconds: we start only once QEMU is
//!   `WARMUP_S` old.

use std::time::Instant;

use serde::Serialize;
use serde_json::{json, Value};

use super::qmp::{Execute, QmpError, Version};

/// QEMU must have run this long before the cross-check starts.
pub const WARMUP_S: f64 = 3.0;

/// How the cross-check will be asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub calc_time: u64,
    /// `second` or `millisecond`.
    pub unit: &'static str,
    /// `page-sampling` or `dirty-bitmap`.
    pub mode: &'static str,
    pub note: String,
}

/// Chooses the arguments; `None` when this QEMU has no `calc-dirty-rate`.
pub fn plan(version: Version, kvm_enabled: bool, migrating: bool, epoch_ms: u64) -> Option<Plan> {
    if !version.at_least(5, 2) {
        return None;
    }
    let (calc_time, unit, mut note) = if version.at_least(8, 2) {
        (
            epoch_ms.clamp(50, 60_000),
            "millisecond",
            format!("QEMU {version} measures in milliseconds: window = one base epoch"),
        )
    } else {
        (
            epoch_ms.div_ceil(1000).clamp(1, 60),
            "second",
            format!(
                "QEMU {version} < 8.2 measures whole seconds only: window {} s, so its rate reads \
                 lower than a per-epoch rate",
                epoch_ms.div_ceil(1000).clamp(1, 60)
            ),
        )
    };
    let mode = if kvm_enabled && !migrating && version.at_least(6, 2) {
        "dirty-bitmap"
    } else {
        if !kvm_enabled {
            note.push_str("; page-sampling because KVM is off (dirty-bitmap crashes TCG QEMU 7.2)");
        } else if migrating {
            note.push_str("; page-sampling because a migration is running");
        }
        "page-sampling"
    };
    Some(Plan {
        calc_time,
        unit,
        mode,
        note,
    })
}

/// QEMU's answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Measured {
    pub dirty_rate_mib_s: u64,
    pub calc_time: u64,
    pub unit: String,
    pub mode: String,
    pub sample_pages: u64,
}

impl Measured {
    /// The rate in pages per second for a page size.
    pub fn pages_per_s(&self, page_size: u64) -> f64 {
        self.dirty_rate_mib_s as f64 * (1u64 << 20) as f64 / page_size as f64
    }
}

/// Where the cross-check stands.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum State {
    Waiting,
    Measuring,
    Done(Measured),
    Skipped(String),
}

/// One cross-check run over a session.
pub struct CrossCheck {
    plan: Option<Plan>,
    qemu_age_s: f64,
    started: Option<Instant>,
    state: State,
}

impl CrossCheck {
    pub fn new(plan: Option<Plan>, qemu_age_s: f64) -> CrossCheck {
        let state = if plan.is_some() {
            State::Waiting
        } else {
            State::Skipped("this QEMU has no calc-dirty-rate (needs 5.2)".into())
        };
        CrossCheck {
            plan,
            qemu_age_s,
            started: Some(Instant::now()),
            state,
        }
    }

    pub fn plan(&self) -> Option<&Plan> {
        self.plan.as_ref()
    }

    pub fn state(&self) -> &State {
        &self.state
    }

    /// Advances: starts once QEMU is old enough, then polls until measured. Errors other than
    /// QEMU's death only skip the check, they never stop a measurement.
    pub fn poll(&mut self, qmp: &mut dyn Execute) -> Result<(), QmpError> {
        let Some(plan) = self.plan.clone() else {
            return Ok(());
        };
        match self.state {
            State::Waiting => {
                let age = self.qemu_age_s + self.started.map_or(0.0, |s| s.elapsed().as_secs_f64());
                if age < WARMUP_S {
                    return Ok(());
                }
                let mut args = json!({"calc-time": plan.calc_time, "mode": plan.mode});
                if plan.unit == "millisecond" {
                    args["calc-time-unit"] = json!("millisecond");
                }
                match qmp.execute("calc-dirty-rate", Some(args)) {
                    Ok(_) => self.state = State::Measuring,
                    Err(e) if e.is_gone() => return Err(e),
                    Err(e) => self.state = State::Skipped(e.to_string()),
                }
            }
            State::Measuring => {
                let args =
                    (plan.unit == "millisecond").then(|| json!({"calc-time-unit": "millisecond"}));
                match qmp.execute("query-dirty-rate", args) {
                    Ok(v) => {
                        if let Some(m) = parse_measured(&v) {
                            self.state = State::Done(m);
                        }
                    }
                    Err(e) if e.is_gone() => return Err(e),
                    Err(e) => self.state = State::Skipped(e.to_string()),
                }
            }
            State::Done(_) | State::Skipped(_) => {}
        }
        Ok(())
    }
}

/// A `query-dirty-rate` answer with status `measured`.
pub fn parse_measured(v: &Value) -> Option<Measured> {
    if v["status"].as_str()? != "measured" {
        return None;
    }
    Some(Measured {
        dirty_rate_mib_s: v["dirty-rate"].as_u64()?,
        calc_time: v["calc-time"].as_u64().unwrap_or(0),
        unit: v["calc-time-unit"].as_str().unwrap_or("second").to_string(),
        mode: v["mode"].as_str().unwrap_or("page-sampling").to_string(),
        sample_pages: v["sample-pages"].as_u64().unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(major: u32, minor: u32) -> Version {
        Version {
            major,
            minor,
            micro: 0,
        }
    }

    #[test]
    fn version_rules() {
        assert_eq!(plan(v(5, 1), false, false, 100), None);
        let p = plan(v(7, 2), false, false, 100).unwrap();
        assert_eq!(
            (p.calc_time, p.unit, p.mode),
            (1, "second", "page-sampling")
        );
        assert!(p.note.contains("whole seconds"));
        let p = plan(v(8, 2), true, false, 25).unwrap();
        assert_eq!(
            (p.calc_time, p.unit, p.mode),
            (50, "millisecond", "dirty-bitmap")
        );
        let p = plan(v(9, 0), true, true, 200).unwrap();
        assert_eq!((p.calc_time, p.mode), (200, "page-sampling"));
    }

    #[test]
    fn only_measured_answers_count() {
        let m = parse_measured(
            &json!({"status":"measured","sample-pages":512,"dirty-rate":6,
            "mode":"page-sampling","start-time":589,"calc-time":1}),
        )
        .unwrap();
        assert_eq!(m.dirty_rate_mib_s, 6);
        assert_eq!(m.pages_per_s(4096), 1536.0);
        assert_eq!(parse_measured(&json!({"status":"measuring"})), None);
    }
}
