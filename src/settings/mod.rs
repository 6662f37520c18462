//! Options validated once, into typed values: `cli/` declares the command line, the commands
//! hand its raw values to the constructors here, and everything past start-up works with
//! what these return (a base epoch with intervals that are whole multiples of it, intervals
//! in whole milliseconds), never with raw arguments; output paths are checked by `outfile`.
//!
//! Nothing here knows `clap` or the `cli` module: a setting is checked the same way whichever
//! command it came from, and its error message names the flag to fix.

pub mod intervals;
pub mod timing;

pub use intervals::whole_milliseconds;
pub use timing::{Interval, Timing};

/// A setting that cannot be used; the message names the flag and what to give instead.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct SettingsError(pub String);
