//! Re-runs the model over the sliding window every `--update`, publishes the predictions,
//! rewrites the textfile, and reloads the profile on SIGHUP.

use super::textfile::Textfile;
use super::Shared;
use crate::model::{predict_figures, ModelOptions};
use crate::profile::{load, Profile, ProfileRequest};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How often the thread looks for a stop, a SIGHUP or the next update.
const TICK: Duration = Duration::from_millis(50);

pub struct Updater {
    pub shared: Arc<Shared>,
    pub request: ProfileRequest,
    pub profile: Profile,
    pub every: Duration,
    pub remus_interval_ms: Option<u64>,
    pub textfile: Option<Textfile>,
    /// Set by SIGHUP.
    pub hangup: Arc<AtomicBool>,
    /// The key of what was last said on stderr, so a steady state is not repeated.
    last_said: String,
}

impl Updater {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        shared: Arc<Shared>,
        request: ProfileRequest,
        profile: Profile,
        every: Duration,
        remus_interval_ms: Option<u64>,
        textfile: Option<Textfile>,
        hangup: Arc<AtomicBool>,
    ) -> Self {
        shared.metrics.record_profile(&profile);
        Self {
            shared,
            request,
            profile,
            every,
            remus_interval_ms,
            textfile,
            hangup,
            last_said: String::new(),
        }
    }

    /// Updates every `every` until `done`.
    pub fn run(&mut self, done: &AtomicBool) {
        let mut next = Instant::now() + self.every;
        while !done.load(Ordering::SeqCst) {
            if self.hangup.swap(false, Ordering::SeqCst) {
                self.reload();
            }
            let now = Instant::now();
            if now >= next {
                self.update();
                // After a stall, start counting again rather than update in a burst.
                next = (next + self.every).max(now + TICK);
            }
            std::thread::sleep(TICK);
        }
    }

    /// One model run over the window as it is now.
    pub fn update(&mut self) {
        if let Some((figures, covered_s)) = self.shared.window_figures() {
            match predict_figures(&figures, &self.profile, &ModelOptions::default()) {
                Ok(report) => {
                    let now = SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .map_or(0.0, |d| d.as_secs_f64());
                    self.shared.metrics.record_report(
                        &report,
                        &self.profile,
                        self.remus_interval_ms,
                        covered_s,
                        now,
                    );
                    // Said when the recommendation changes, not at every update.
                    let key = format!("{:?}", report.recommended_interval_ms);
                    let line = format!("verdict ({}): {}", self.profile.name, report.verdict);
                    self.say(key, line);
                }
                Err(err) => {
                    self.shared.metrics.model_failed();
                    let line = format!("model: {err}");
                    self.say(line.clone(), line);
                }
            }
        }
        if let Some(textfile) = &self.textfile {
            if let Err(err) = textfile.write(&self.shared.metrics.encode()) {
                let line = format!("warning: {err:#}");
                self.say(line.clone(), line);
            }
        }
    }

    fn reload(&mut self) {
        match load(&self.request) {
            Ok(profile) => {
                crate::note!(
                    "SIGHUP: profile `{}` (host `{}`) reloaded",
                    profile.name,
                    profile.host
                );
                self.profile = profile;
                self.shared.metrics.record_profile(&self.profile);
                self.shared.metrics.profile_reloaded(true);
                self.last_said.clear();
                self.update();
            }
            Err(err) => {
                crate::note!(
                    "SIGHUP: cannot reload the profile, keeping `{}`: {err}",
                    self.profile.name
                );
                self.shared.metrics.profile_reloaded(false);
            }
        }
    }

    /// Says `line` on stderr unless the last thing said had the same `key`.
    fn say(&mut self, key: String, line: String) {
        if key != self.last_said {
            crate::note!("{line}");
            self.last_said = key;
        }
    }
}
