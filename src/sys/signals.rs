//! Ctrl-C, SIGTERM and SIGHUP turn into a flag the measuring loop checks, so every exit goes
//! through the same clean-up path (switch modes off, finish the trace) instead of dying
//! mid-write. SIGHUP is what a dropped SSH session sends: a day-long `measure` started without
//! nohup must still leave its `end` record.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// The signal that asked us to stop, if any.
#[derive(Clone)]
pub struct StopSignal {
    received: Arc<AtomicUsize>,
    /// Set by [`StopSignal::request`]: a stop asked for by the program itself, for a
    /// [`StopSignal::linked`] copy only.
    requested: Arc<AtomicUsize>,
}

/// What [`StopSignal::received`] reports for a stop the program asked for: no signal.
pub const REQUESTED: i32 = 0;

impl StopSignal {
    /// Installs handlers for SIGINT, SIGTERM and SIGHUP.
    pub fn install() -> std::io::Result<Self> {
        Self::install_for(&[
            signal_hook::consts::SIGINT,
            signal_hook::consts::SIGTERM,
            signal_hook::consts::SIGHUP,
        ])
    }

    /// Installs handlers for SIGINT and SIGTERM only: for `watch`, a daemon whose SIGHUP
    /// means "reload the profile", as daemons do, not "stop".
    pub fn install_without_hangup() -> std::io::Result<Self> {
        Self::install_for(&[signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM])
    }

    fn install_for(signals: &[i32]) -> std::io::Result<Self> {
        let received = Arc::new(AtomicUsize::new(0));
        for &signal in signals {
            signal_hook::flag::register_usize(signal, Arc::clone(&received), signal as usize)?;
        }
        Ok(Self {
            received,
            requested: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// A stop that comes with this one's signals and also when [`StopSignal::request`] is
    /// called on it (or a clone): for work that must end with the measurement, not after it.
    pub fn linked(&self) -> Self {
        Self {
            received: Arc::clone(&self.received),
            requested: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Asks whoever checks this stop (a [`StopSignal::linked`] copy) to stop.
    pub fn request(&self) {
        self.requested.store(1, Ordering::SeqCst);
    }

    /// The signal number received, if one was ([`REQUESTED`] for [`StopSignal::request`]).
    pub fn received(&self) -> Option<i32> {
        match self.received.load(Ordering::SeqCst) {
            0 if self.requested.load(Ordering::SeqCst) != 0 => Some(REQUESTED),
            0 => None,
            signal => Some(signal as i32),
        }
    }
}
