//! How the model uses the observer effect without counting the fault cost twice.
//!
//! Under Remus the guest runs `R` seconds per epoch but works only `R − faults − resume` of
//! them (`epoch::work_in`). A trace taken under log-dirty (Xen's exclusive measure) watched a
//! guest slowed by the same write faults, so its windows are what such a guest dirties in that
//! much *running* time: the model reads the curve at the Remus epoch's running time and
//! charges Remus's faults once, on the guest's work. (Reading it at work time, the window
//! scaled by `1 − observer effect`, put the Xen lab's 97 %-slowed heavy writer at a few
//! milliseconds of work per window and overshot its pages by 100–140 %.) A trace taken without
//! log-dirty (a process's hash or soft-dirty scan, QEMU's counts) watched an unslowed guest:
//! its windows are all work. Either way the effect itself is reported, not applied.

use crate::observer::ObserverEffect;
use crate::trace::{End, TraceHeader};
use serde::Serialize;

/// Methods that measure with Xen's log-dirty mode switched on by the measurement itself.
const LOG_DIRTY_METHODS: &[&str] = &["xen-logdirty"];

/// The observer effect as the model used it.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct ObserverBasis {
    /// True when the trace was taken with log-dirty tracking on (its counts include the
    /// faults' slowdown).
    pub under_log_dirty: bool,
    pub effect: Option<ObserverEffect>,
    /// The dirty-set curve is read at the guest's running time (a trace under log-dirty).
    pub at_running_time: bool,
    pub note: String,
}

impl ObserverBasis {
    /// The basis for the trace of `header` and `end`, with `effect` in place of the trace's
    /// own when given.
    pub fn new(header: &TraceHeader, end: &End, effect: Option<ObserverEffect>) -> Self {
        let under_log_dirty = LOG_DIRTY_METHODS.contains(&header.method.name.as_str());
        let effect = effect.or_else(|| end.observer_effect.clone());
        let note = match (under_log_dirty, &effect) {
            (true, Some(e)) => format!(
                "the trace was taken under log-dirty ({}): its windows are what a guest \
                 slowed by the same write faults dirties in that much running time, so the \
                 model reads them at the Remus epoch's running time (not at work time: the \
                 Xen lab's heavy writer, 97 % slowed, would otherwise be read at a few \
                 milliseconds of work per window) and charges Remus's faults once, on the \
                 guest's work",
                e.describe()
            ),
            (true, None) => {
                "the trace was taken under log-dirty (its observer effect was not measured): \
             its windows are read at the Remus epoch's running time, a guest slowed by the \
             same faults"
                    .to_string()
            }
            (false, _) => format!(
                "the trace was taken without log-dirty (`{}`): no fault cost in its counts; \
                 the model charges Remus's faults once",
                header.method.name
            ),
        };
        Self {
            under_log_dirty,
            effect,
            at_running_time: under_log_dirty,
            note,
        }
    }
}
