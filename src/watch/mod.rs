//! `remus-tune watch`: measuring without end, the model re-run over a sliding window, and
//! both served as Prometheus metrics.
//!
//! The measuring loop is `measure`'s own (`measure::run_tapped`), on the backend `measure`
//! would build; `tap` hands each epoch to the [`metrics`] and the [`window`]; the [`updater`]
//! re-runs the model over the window every `--update` on a thread of its own (so a model run
//! never delays an epoch); the [`server`] answers scrapes on another. Memory is bounded by the
//! window's buckets of cells and fixed-size histograms (see `window`), never by how long it
//! runs nor by the epoch rate.

pub mod cells;
pub mod listen;
pub mod metrics;
pub mod selfcost;
pub mod server;
pub mod tap;
pub mod textfile;
pub mod updater;
pub mod window;

use crate::model::TraceFigures;
use crate::trace::{Epoch, TraceHeader};
use metrics::Metrics;
use std::sync::{Mutex, MutexGuard};
use window::SlidingWindow;

/// What the measuring thread writes and the model and HTTP threads read.
pub struct Shared {
    pub metrics: Metrics,
    window_s: f64,
    update_s: f64,
    /// Made when the measuring loop says what it measures (its header).
    window: Mutex<Option<SlidingWindow>>,
}

/// A poisoned lock only means another thread panicked mid-update; the data is still
/// whole records, so carry on with it rather than stop measuring.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Shared {
    /// A window of `window_s` seconds, modelled every `update_s`.
    pub fn new(metrics: Metrics, window_s: f64, update_s: f64) -> Self {
        Self {
            metrics,
            window_s,
            update_s,
            window: Mutex::new(None),
        }
    }

    fn set_header(&self, header: &TraceHeader) {
        *lock(&self.window) = Some(SlidingWindow::new(header, self.window_s, self.update_s));
    }

    fn push(&self, epoch: &Epoch) {
        if let Some(window) = lock(&self.window).as_mut() {
            window.push(epoch);
        }
    }

    /// The window as the figures the model reads, with the seconds it covers; `None` before
    /// the first epoch. Merging the buckets holds the lock for a few thousand cells at most.
    pub fn window_figures(&self) -> Option<(TraceFigures, f64)> {
        let window = lock(&self.window);
        let window = window.as_ref().filter(|w| !w.is_empty())?;
        Some((window.figures(), window.covered_s()))
    }
}
