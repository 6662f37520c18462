use super::Format;
use crate::backend::process::sample;
pub use crate::backend::select::BackendChoice;
pub use crate::backend::MethodChoice;
use crate::units::parse_duration;
use std::path::PathBuf;
use std::time::Duration;

/// `remus-tune measure TARGET`.
#[derive(clap::Args, Debug)]
#[command(after_long_help = MEASURE_EXAMPLES)]
pub struct MeasureArgs {
    /// What to measure: a PID or process name (its comm or the file name of its argv[0]; an
    /// ambiguous name lists the candidates), a QEMU PID or QMP socket (its guest is
    /// measured), or a libvirt domain name. --backend auto says which it picked.
    #[arg(required_unless_present_any = ["exec", "qmp"], conflicts_with = "exec")]
    pub target: Option<String>,

    /// Measure the QEMU guest behind this QMP socket (its QEMU process is the socket's peer).
    #[arg(long, value_name = "SOCKET", conflicts_with_all = ["exec", "target"])]
    pub qmp: Option<PathBuf>,

    /// Launch the command given after `--` and measure it with every process it starts
    /// (its whole tree, looked for again every epoch); all of it is stopped (SIGTERM, then
    /// SIGKILL after 3 s) when measuring ends, and measuring ends when the command exits. A
    /// command that exits before the first epoch is measured ends with exit 3 and no trace.
    /// Its stdout goes to stderr, so stdout carries only the summary.
    #[arg(long, requires = "command")]
    pub exec: bool,

    /// The command for --exec, after `--`. It is run directly, never through a shell.
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,

    /// Base epoch: how often dirty pages are collected. Every interval is built from it.
    #[arg(long, default_value = "25ms", value_parser = parse_duration)]
    pub epoch: Duration,

    /// Checkpoint intervals to report, each a multiple of --epoch. One run gives all of
    /// them: an interval's dirty set is the union of consecutive base-epoch sets.
    #[arg(
        long,
        default_value = "25ms,50ms,100ms,200ms,400ms",
        value_delimiter = ',',
        value_parser = parse_duration
    )]
    pub intervals: Vec<Duration>,

    /// How long to measure; Ctrl-C ends earlier and still leaves a valid trace.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub duration: Duration,

    /// Time to let the target settle before the first epoch (e.g. while --exec starts up).
    #[arg(long, default_value = "0s", value_parser = parse_duration)]
    pub warmup: Duration,

    /// A command that prints one throughput number for the target's service (the same
    /// contract as `trial --probe`), run before measuring and once while measuring: how much
    /// the measurement itself slowed the target (the observer effect), written into the
    /// trace's end record with source `probe`. Split at spaces, never run through a shell.
    #[arg(long, value_name = "CMD")]
    pub probe: Option<String>,

    /// The probe's figure before measuring, when the caller already has it (`trial` passes
    /// its own): the probe is then run only while measuring.
    #[arg(long, value_name = "N", requires = "probe", hide = true)]
    pub probe_baseline: Option<f64>,

    /// Trace file to write (default: `<name>-<timestamp>.trace.yaml` here).
    #[arg(short, long)]
    pub output: Option<PathBuf>,

    /// Replace the trace file if it exists.
    #[arg(long)]
    pub force: bool,

    /// How dirty pages are found; `auto` says which it picked and why.
    #[arg(long, value_enum, default_value_t = MethodChoice::Auto)]
    pub method: MethodChoice,

    /// Pages hashed per GiB of memory by the `sample` method (QEMU's calc-dirty-rate uses
    /// 512; more pages, narrower confidence interval).
    #[arg(long, default_value_t = sample::DEFAULT_PER_GIB, value_name = "N")]
    pub sample_per_gib: u64,

    /// Fewest pages the `sample` method hashes, so small targets still get usable counts.
    #[arg(long, default_value_t = sample::DEFAULT_MIN, value_name = "N")]
    pub sample_min: u64,

    /// Which kind of target TARGET names.
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    pub backend: BackendChoice,

    /// Xen: never switch log-dirty on or clean it; read only the stats-only PEEK count
    /// (safe beside Remus; chosen by itself when Remus or COLO already runs on the domain).
    #[arg(long)]
    pub observe: bool,

    /// Output format of the summary printed at the end.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

const MEASURE_EXAMPLES: &str = "\
Examples:
  remus-tune measure 4242                       # a PID, 30 s at a 25 ms base epoch
  remus-tune measure postgres --duration 2m     # by name (error if several match)
  remus-tune measure --exec -- ./server --port 8080
  remus-tune measure memcached --intervals 50ms,100ms,200ms --format json

Methods:
  soft-dirty  clear_refs + pagemap bit 55: exact and cheap; needs CONFIG_MEM_SOFT_DIRTY
              (probed at run time). Resets soft-dirty bits, so not beside a CRIU pre-dump.
  hash        reads resident writable memory with process_vm_readv and compares xxh3
              hashes per page: exact for content changes; costs one pass over resident
              memory per epoch.
  sample      hashes a fixed random sample of pages and scales: cheap, statistical; the
              summary gives the 95 % confidence margin.

Needs root, or the target's owner with ptrace allowed (kernel.yama.ptrace_scope).";
