//! Feeds the measuring loop's epochs into the metrics and the sliding window: the one hook
//! `watch` has into `measure`'s loop (`measure::EpochTap`).

use super::Shared;
use crate::backend::Backend;
use crate::measure::EpochTap;
use crate::trace::{Epoch, TraceHeader};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often observe mode's checkpoint count is read from the backend: its median sorts the
/// distinct sizes seen (up to a few thousand), more than is worth doing at every base epoch.
const CHECKPOINT_READ_EVERY: Duration = Duration::from_secs(1);

pub struct WatchTap {
    shared: Arc<Shared>,
    base_epoch_s: f64,
    checkpoints_read: Option<Instant>,
}

impl WatchTap {
    pub fn new(shared: Arc<Shared>) -> Self {
        Self {
            shared,
            base_epoch_s: 0.0,
            checkpoints_read: None,
        }
    }
}

impl EpochTap for WatchTap {
    fn begin(&mut self, header: &TraceHeader) {
        self.base_epoch_s = header.base_epoch_ms / 1e3;
        let mode = if header.method.name == "xen-peek-stats" {
            "observe"
        } else {
            "exclusive"
        };
        self.shared
            .metrics
            .set_measure_info(&header.backend, &header.method.name, mode);
        self.shared.set_header(header);
    }

    fn epoch(&mut self, epoch: &Epoch, backend: &dyn Backend) {
        self.shared.metrics.record_epoch(epoch, self.base_epoch_s);
        self.shared.push(epoch);
        let due = self
            .checkpoints_read
            .is_none_or(|at| at.elapsed() >= CHECKPOINT_READ_EVERY);
        if due && backend.counts_only() {
            self.checkpoints_read = Some(Instant::now());
            if let Some(seen) = backend.remus_progress() {
                self.shared.metrics.record_checkpoints(&seen);
            }
        }
    }

    fn endless(&self) -> bool {
        true
    }
}
