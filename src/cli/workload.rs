use crate::units::{parse_duration, parse_rate};
use std::path::PathBuf;
use std::time::Duration;

/// `remus-tune workload`.
#[derive(clap::Args, Debug, Clone)]
#[command(after_long_help = WORKLOAD_TRUTH)]
pub struct WorkloadArgs {
    /// Walk a region of PAGES pages, writing a new value into each in turn, at --rate.
    #[arg(long, default_value_t = 0, value_name = "PAGES")]
    pub sweep: u64,

    /// Pages per second the sweep writes (each write goes to the next page).
    #[arg(long, default_value_t = 0.0, value_name = "PAGES_PER_S")]
    pub rate: f64,

    /// Rewrite the same PAGES pages over and over (all of them every --hot-period).
    #[arg(long, default_value_t = 0, value_name = "PAGES")]
    pub hot: u64,

    /// How often the whole hot set is rewritten; keep it well below the base epoch.
    #[arg(long, default_value = "5ms", value_parser = parse_duration)]
    pub hot_period: Duration,

    /// Write to a file at this rate, with fdatasync after each write (e.g. 4MB/s).
    #[arg(long, value_parser = parse_rate, value_name = "RATE")]
    pub disk_rate: Option<f64>,

    /// File for --disk-rate (default: a new file in $TMPDIR, removed at exit).
    #[arg(long)]
    pub disk_file: Option<PathBuf>,

    /// Stop after this long (default: run until SIGINT or SIGTERM).
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,

    /// Write as fast as possible over the sweep region and print writes/s and writes per
    /// CPU second at the end: the reference for measuring what measurement costs.
    #[arg(long)]
    pub throughput: bool,
}

const WORKLOAD_TRUTH: &str = "\
Known truth, for an interval T:
  sweep:  distinct pages dirtied = min(rate x T, PAGES)
  hot:    distinct pages dirtied = PAGES (for T longer than --hot-period)
  both:   the sum (the regions are separate)
Every write stores a new value, so content hashing sees it. The workload prints
`ready pid=N` on stdout once its memory is allocated and touched.

Examples:
  remus-tune workload --sweep 8192 --rate 4000
  remus-tune workload --hot 1000 --disk-rate 4MB/s --duration 60s";
