use super::{EpochArgs, Format, TargetArgs};
use crate::units::parse_duration;
use std::path::PathBuf;
use std::time::Duration;

/// `remus-tune measure TARGET`.
#[derive(clap::Args, Debug)]
#[command(after_long_help = MEASURE_EXAMPLES)]
pub struct MeasureArgs {
    /// What to measure: a PID or process name (its comm or the file name of its argv[0]; an
    /// ambiguous name lists the candidates), a QEMU PID or QMP socket (its guest is
    /// measured), a Xen domain (name or domid), or a libvirt domain name. --backend auto says
    /// which it picked.
    #[arg(required_unless_present_any = ["exec", "qmp"], conflicts_with = "exec")]
    pub target: Option<String>,

    /// Launch the command given after `--` and measure it with every process it starts
    /// (its whole tree, looked for again every epoch); all of it is stopped (SIGTERM, then
    /// SIGKILL after 3 s) when measuring ends, and measuring ends when the command exits. A
    /// command that exits before the first epoch is measured ends with exit 3 and no trace.
    /// Its stdout goes to stderr, so stdout carries only the summary.
    #[arg(long, requires = "command", conflicts_with = "qmp")]
    pub exec: bool,

    /// The command for --exec, after `--`. It is run directly, never through a shell.
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,

    /// The base epoch and the checkpoint intervals built from it.
    #[command(flatten)]
    pub epochs: EpochArgs,

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

    /// Output format of the summary printed at the end.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// How the target is found and measured, as `watch` does.
    #[command(flatten)]
    pub target_flags: TargetArgs,
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
