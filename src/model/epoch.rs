//! The achieved epoch: a fixed point, because the epoch's length decides how many pages get
//! dirtied, and the dirty pages decide how long the checkpoint (and so the epoch) takes
//! (model.md §1). The Remus paper (NSDI 2008, §3.3) saw a web workload configured for
//! 40 checkpoints/s achieve little more than half of that; this is where such a gap comes from.

use super::checkpoint::{checkpoint, Checkpoint, Guest};
use super::curve::{Basis, DirtyCurve};
use super::params::{Costs, IntervalSemantics};

/// Iterations before giving up; the iteration rises monotonically to the least fixed point,
/// so it converges in a handful of steps when there is one.
const MAX_ITERATIONS: usize = 200;
/// An epoch longer than this has no fixed point worth the name: the link cannot carry the
/// dirty rate. An hour is far beyond any interval an admin would configure.
const MAX_EPOCH_S: f64 = 3600.0;

/// The steady state at one configured interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SteadyState {
    /// Achieved epoch, suspend to suspend, seconds.
    pub epoch_s: f64,
    /// Time the guest runs per epoch: `epoch − pause + handshake`, within `[0, epoch]`.
    pub running_s: f64,
    /// Of `running_s`, the time the guest does its own work: less log-dirty faults and its
    /// resume cost.
    pub work_s: f64,
    /// Mean dirty pages per epoch, for `work_s` of the guest's work.
    pub dirty_pages: f64,
    /// How `dirty_pages` was read off the curve.
    pub basis: Basis,
    /// Mean disk writes per epoch.
    pub write_bytes: f64,
    pub checkpoint: Checkpoint,
    /// False when there is no fixed point below `MAX_EPOCH_S`.
    pub converged: bool,
}

/// Epoch length for a checkpoint taking `ckpt_s`, under `semantics`.
pub fn epoch_length(semantics: IntervalSemantics, interval_s: f64, ckpt_s: f64) -> f64 {
    match semantics {
        IntervalSemantics::AfterCommit => interval_s + ckpt_s,
        IntervalSemantics::Max => interval_s.max(ckpt_s),
    }
}

/// Solves for the steady state at `interval_s`. `write_rate` is disk bytes per running second.
pub fn steady_state(
    costs: &Costs,
    guest: &Guest,
    curve: &DirtyCurve,
    write_rate: f64,
    interval_s: f64,
    shared: bool,
) -> SteadyState {
    let mut running = interval_s;
    let mut state = evaluate(costs, guest, curve, write_rate, interval_s, running, shared);
    for _ in 0..MAX_ITERATIONS {
        let next = state.running_s;
        if !next.is_finite() || state.epoch_s > MAX_EPOCH_S {
            state.converged = false;
            return state;
        }
        if (next - running).abs() <= 1e-9 * next.max(1e-9) {
            return state;
        }
        running = next;
        state = evaluate(costs, guest, curve, write_rate, interval_s, running, shared);
    }
    state.converged = false;
    state
}

/// Bisection steps for the work time: 2^-60 of the running time, far below a clock tick.
const WORK_BISECTIONS: usize = 60;

/// The guest's work in `running_s` of running, and the pages that work dirties: the curve is
/// read at *work* time, because a guest slowed by write faults or by its resume dirties the
/// pages of the work it does, not of the wall time that passes (model.md §10). Solves
/// `w + fault · (D(w) + suspend_pages) + resume = running` by bisection: the left side rises
/// with `w`, and with an expensive fault cost (emulated or shadow paging) a fixed-point
/// iteration would oscillate.
pub fn work_in(costs: &Costs, curve: &DirtyCurve, running_s: f64) -> (f64, f64, Basis) {
    let per_page = costs.fault_per_page_s();
    if curve.at_running_time() {
        // A trace taken under log-dirty: its windows are what a guest slowed by the same
        // faults dirties in that much running time, so the pages are read at the running
        // time, and the work is what the faults and the resume leave of it.
        let (dirty, basis) = curve.at(running_s);
        let work = running_s - per_page * (dirty + costs.suspend_pages) - costs.guest_resume_s;
        return (work.clamp(0.0, running_s.max(0.0)), dirty, basis);
    }
    let spent = |w: f64| {
        let (dirty, _) = curve.at(w);
        w + per_page * (dirty + costs.suspend_pages) + costs.guest_resume_s
    };
    let (mut low, mut high) = (0.0, running_s.max(0.0));
    if spent(0.0) >= running_s {
        high = 0.0;
    } else if spent(high) > running_s {
        for _ in 0..WORK_BISECTIONS {
            let mid = 0.5 * (low + high);
            if spent(mid) > running_s {
                high = mid;
            } else {
                low = mid;
            }
        }
        high = low;
    }
    let (dirty, basis) = curve.at(high);
    (high, dirty, basis)
}

fn evaluate(
    costs: &Costs,
    guest: &Guest,
    curve: &DirtyCurve,
    write_rate: f64,
    interval_s: f64,
    running_s: f64,
    shared: bool,
) -> SteadyState {
    let (work_s, dirty_pages, basis) = work_in(costs, curve, running_s);
    let write_bytes = write_rate * running_s;
    let ckpt = checkpoint(costs, guest, dirty_pages, write_bytes, interval_s, shared);
    let epoch_s = epoch_length(costs.interval_semantics, interval_s, ckpt.ckpt_s);
    // The guest also runs during part of the checkpoint (the suspend handshake), net of what
    // it loses at the resume: the signed `handshake`, never beyond the epoch (model.md §10).
    SteadyState {
        epoch_s,
        running_s: (epoch_s - ckpt.pause_s + costs.handshake_s).clamp(0.0, epoch_s),
        work_s,
        dirty_pages,
        basis,
        write_bytes,
        checkpoint: ckpt,
        converged: true,
    }
}
