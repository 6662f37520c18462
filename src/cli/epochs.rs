//! `--epoch` and `--intervals`, declared once for the commands that measure a live target
//! (`measure`, `watch`): one base epoch, and the checkpoint intervals built from it.
//! `settings::Timing` checks them (every interval a whole multiple of the epoch).

use crate::units::parse_duration;
use std::time::Duration;

/// The base epoch and the checkpoint intervals made of it.
#[derive(clap::Args, Debug, Clone, PartialEq, Eq)]
pub struct EpochArgs {
    /// Base epoch: how often dirty pages are collected. Every interval is built from it.
    #[arg(long, default_value = "25ms", value_parser = parse_duration)]
    pub epoch: Duration,

    /// Checkpoint intervals to measure (and, in `watch`, predict), each a multiple of
    /// --epoch. One run gives all of them: an interval's dirty set is the union of
    /// consecutive base-epoch sets.
    #[arg(
        long,
        default_value = "25ms,50ms,100ms,200ms,400ms",
        value_delimiter = ',',
        value_parser = parse_duration
    )]
    pub intervals: Vec<Duration>,
}
