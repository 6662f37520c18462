//! The command line, declared and nothing more: each subcommand's arguments live in their own
//! file, and `commands` turns them into work. Quantities are parsed here once, by `units`,
//! so nothing past start-up handles raw strings.

mod epochs;
mod measure;
mod model;
mod pin;
mod profiles;
mod show;
mod target;
mod topology;
mod trial;
mod watch;
mod workload;

pub use epochs::EpochArgs;
pub use measure::MeasureArgs;
pub use model::{ChartArgs, ChartOutput, ModelArgs, ProfileOptions};
pub use pin::PinArgs;
pub use profiles::ProfilesArgs;
pub use show::ShowArgs;
pub use target::{BackendChoice, MethodChoice, TargetArgs};
pub use topology::{TopologyArgs, TopologySource};
pub use trial::TrialArgs;
pub use watch::{WatchArgs, WATCH_FOREVER};
pub use workload::WorkloadArgs;

use clap::{Parser, Subcommand};

/// Measure, model and pin VMs for Remus-style checkpoint replication.
///
/// remus-tune tells you how much memory and disk a VM (or any Linux process) changes per
/// checkpoint epoch, what continuous replication would cost at each checkpoint interval,
/// and how to pin Dom-0 and the protected VMs onto cores of their own.
#[derive(Parser, Debug)]
#[command(
    name = "remus-tune",
    version,
    propagate_version = true,
    // Our own `help`, which also knows `help exit-codes`.
    disable_help_subcommand = true,
    after_help = "Exit codes: `remus-tune help exit-codes`."
)]
pub struct Cli {
    /// Print errors only: no warnings, notes or progress on stderr (results still go to
    /// stdout).
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Say more on stderr: the detail behind each choice (which topology source, which
    /// files).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Measure a running target's dirty pages and disk writes per epoch, into a trace.
    Measure(MeasureArgs),
    /// Print the summary of a saved trace, as `measure` does at its end.
    Show(ShowArgs),
    /// Dirty memory and disk at a known rate: a target whose true numbers are known.
    Workload(WorkloadArgs),
    /// Predict the Remus slowdown at each checkpoint interval of a trace, and recommend one.
    Model(ModelArgs),
    /// Write the charts of a trace and its model (SVG and PNG).
    Chart(ChartArgs),
    /// List the built-in profiles (acceptance limits and host cost sets).
    Profiles(ProfilesArgs),
    /// Everything in one report: measure, then summarise (the model and pin plan follow).
    Advise(AdviseArgs),
    /// Plan, apply, check or revert the pinning of Dom-0 and the protected VMs apart.
    Pin(PinArgs),
    /// The host's CPUs as remus-tune sees them: cores, SMT siblings, sockets, NUMA nodes.
    Topology(TopologyArgs),
    /// Run real `xl remus` (blackhole, --yes) on a named domain per interval and fit this
    /// host's checkpoint costs into a host profile.
    Trial(TrialArgs),
    /// Measure without end and serve the model's live predictions as Prometheus metrics.
    Watch(WatchArgs),
    /// Print the help of a command, or a topic: `help exit-codes` lists every exit code.
    Help(HelpArgs),
    /// Write man pages or shell completions (for packagers; scripts/build-deb runs it).
    #[command(hide = true)]
    Generate(GenerateArgs),
}

/// `remus-tune help [COMMAND | exit-codes]`.
#[derive(clap::Args, Debug)]
pub struct HelpArgs {
    /// A command (`measure`, `pin`, ...) or `exit-codes`; none for the overview.
    pub topic: Option<String>,
}

/// `remus-tune generate`.
#[derive(clap::Args, Debug)]
pub struct GenerateArgs {
    #[command(subcommand)]
    pub what: GenerateWhat,
}

/// What `generate` writes.
#[derive(Subcommand, Debug)]
pub enum GenerateWhat {
    /// One roff man page per command into DIR (remus-tune.1, remus-tune-measure.1, ...).
    Man {
        #[arg(value_name = "DIR")]
        dir: std::path::PathBuf,
    },
    /// The completion script for SHELL on stdout.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// `--format`: declared by its owner, the output layer.
pub use crate::output::Format;

/// `remus-tune advise`.
#[derive(clap::Args, Debug)]
pub struct AdviseArgs {
    /// Run on the built-in workload instead of a target: launches `remus-tune workload`,
    /// measures it for 10 s and reports. Needs nothing but this binary.
    #[arg(long, conflicts_with = "target")]
    pub demo: bool,

    /// The target to advise on (PID or process name); see `measure --help`.
    #[arg(required_unless_present = "demo")]
    pub target: Option<String>,

    /// How long to measure.
    #[arg(long, default_value = "10s", value_parser = crate::units::parse_duration)]
    pub duration: std::time::Duration,

    /// Where to write the trace (default: `<name>-<timestamp>.trace.yaml` in the current
    /// directory).
    #[arg(short, long)]
    pub output: Option<std::path::PathBuf>,

    /// Limits and costs the model judges the measurement with (see `model --help`).
    #[command(flatten)]
    pub profile: ProfileOptions,

    /// Output format of the report.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}
