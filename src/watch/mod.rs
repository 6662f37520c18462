//! `remus-tune watch`: measuring without end, the model re-run over a sliding window, and
//! both served as Prometheus metrics.
//!
//! The measuring loop is `measure`'s own (`measure::run_tapped`), on the backend `measure`
//! would build; `tap` hands each epoch to the [`metrics`] and the [`window`]; the [`updater`]
//! re-runs the model over the window every `--update` on a thread of its own (so a model run
//! never delays an epoch); the [`server`] answers scrapes on another. Memory is bounded by the
//! window and fixed-size histograms (see `window`), never by how long it runs.

pub mod listen;
pub mod metrics;
pub mod selfcost;
pub mod server;
pub mod tap;
pub mod textfile;
pub mod updater;
pub mod window;

use crate::trace::{Epoch, Trace, TraceHeader};
use metrics::Metrics;
use std::sync::{Mutex, MutexGuard};
use window::SlidingWindow;

/// What the measuring thread writes and the model and HTTP threads read.
pub struct Shared {
    pub metrics: Metrics,
    header: Mutex<Option<TraceHeader>>,
    window: Mutex<SlidingWindow>,
}

/// A poisoned lock only means another thread panicked mid-update; the data is still
/// whole records, so carry on with it rather than stop measuring.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Shared {
    pub fn new(metrics: Metrics, window_s: f64) -> Self {
        Self {
            metrics,
            header: Mutex::new(None),
            window: Mutex::new(SlidingWindow::new(window_s)),
        }
    }

    fn set_header(&self, header: TraceHeader) {
        *lock(&self.header) = Some(header);
    }

    fn push(&self, epoch: Epoch) {
        lock(&self.window).push(epoch);
    }

    /// The window as a trace for the model, with the seconds it covers; `None` before the
    /// first epoch.
    pub fn window_trace(&self) -> Option<(Trace, f64)> {
        let header = lock(&self.header).clone()?;
        let window = lock(&self.window);
        if window.is_empty() {
            return None;
        }
        Some((window.trace(&header), window.covered_s()))
    }
}
