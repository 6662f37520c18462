//! How much remus-tune says on stderr, set once by the global `-q` / `-v` flags.
//!
//! - `-q`: errors only (a script reads stdout and the exit code);
//! - default: errors, warnings and short notes on what is happening ("trace written to ...");
//! - `-v`: also the detail behind each choice (which topology source, which files).
//!
//! Results always go to stdout whatever the level; only the chatter on stderr changes.
//! Use the macros [`error!`](crate::error), [`warn!`](crate::warn), [`note!`](crate::note)
//! and [`detail!`](crate::detail) instead of `eprintln!`.
//!
//! No colour is printed anywhere. Should colour ever be added, it must be off when the
//! `NO_COLOR` environment variable is set to anything non-empty (no-color.org) and when
//! stderr is not a terminal.

use std::sync::atomic::{AtomicU8, Ordering};

/// How much to say, from least to most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Verbosity {
    /// `-q`: errors only.
    Quiet = 0,
    /// Errors, warnings and notes.
    Normal = 1,
    /// `-v`: and detail.
    Verbose = 2,
}

static LEVEL: AtomicU8 = AtomicU8::new(Verbosity::Normal as u8);

impl Verbosity {
    /// From the command line's `-q` and the number of `-v`s.
    pub fn from_flags(quiet: bool, verbose: u8) -> Self {
        match (quiet, verbose) {
            (true, _) => Self::Quiet,
            (false, 0) => Self::Normal,
            (false, _) => Self::Verbose,
        }
    }
}

/// Sets the level for the whole process (called once, by `main`).
pub fn set(level: Verbosity) {
    LEVEL.store(level as u8, Ordering::Relaxed);
}

/// The current level.
pub fn level() -> Verbosity {
    match LEVEL.load(Ordering::Relaxed) {
        0 => Verbosity::Quiet,
        1 => Verbosity::Normal,
        _ => Verbosity::Verbose,
    }
}

/// Whether a message of `at` is printed at the current level.
pub fn enabled(at: Verbosity) -> bool {
    level() >= at
}

/// An error: always printed, as `error: ...`.
#[macro_export]
macro_rules! error {
    ($($arg:tt)*) => {
        eprintln!("error: {}", format_args!($($arg)*))
    };
}

/// A warning (`warning: ...`): not under `-q`.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)*) => {
        if $crate::log::enabled($crate::log::Verbosity::Normal) {
            eprintln!("warning: {}", format_args!($($arg)*))
        }
    };
}

/// A note on what is happening, printed as given: not under `-q`.
#[macro_export]
macro_rules! note {
    ($($arg:tt)*) => {
        if $crate::log::enabled($crate::log::Verbosity::Normal) {
            eprintln!($($arg)*)
        }
    };
}

/// Detail behind a choice: only with `-v`.
#[macro_export]
macro_rules! detail {
    ($($arg:tt)*) => {
        if $crate::log::enabled($crate::log::Verbosity::Verbose) {
            eprintln!($($arg)*)
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_map_to_levels_in_order() {
        assert_eq!(Verbosity::from_flags(true, 3), Verbosity::Quiet);
        assert_eq!(Verbosity::from_flags(false, 0), Verbosity::Normal);
        assert_eq!(Verbosity::from_flags(false, 2), Verbosity::Verbose);
        assert!(Verbosity::Quiet < Verbosity::Normal && Verbosity::Normal < Verbosity::Verbose);
    }
}
