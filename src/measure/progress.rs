//! A progress bar on a terminal, and nothing in pipes, CI logs or under `-q`.

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;

pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    pub fn new(epochs: u64) -> Self {
        // Not under -q: errors only.
        let wanted = crate::log::enabled(crate::log::Verbosity::Normal);
        let bar = (wanted && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new(epochs);
            if let Ok(style) = ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} epochs  {msg}",
            ) {
                bar.set_style(style);
            }
            bar
        });
        Self { bar }
    }

    /// No bar, wherever stderr goes.
    pub fn hidden() -> Self {
        Self { bar: None }
    }

    pub fn epoch(&self, done: u64, dirty_pages: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(done);
            bar.set_message(format!("{dirty_pages} dirty pages"));
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
