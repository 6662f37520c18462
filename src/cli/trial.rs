use super::Format;
use crate::units::parse_duration;
use std::path::PathBuf;
use std::time::Duration;

/// `remus-tune trial DOMAIN`.
#[derive(clap::Args, Debug)]
#[command(after_long_help = TRIAL_HELP)]
pub struct TrialArgs {
    /// The Xen domain to run real Remus on, by name or domid. Always required (except with
    /// --replay): a trial is never started on a domain nobody named.
    #[arg(required_unless_present = "replay")]
    pub domain: Option<String>,

    /// Refit and re-validate offline from a trial's JSON report (`--format json`), no Xen
    /// needed: with the trace named there (relative to the report) or --trace. Writes a host
    /// profile only with -o.
    #[arg(long, value_name = "TRIAL.json", conflicts_with_all = ["yes", "install", "probe"])]
    pub replay: Option<PathBuf>,

    /// Checkpoint intervals to try, one Remus run each (`xl remus -i`, whole milliseconds).
    #[arg(
        long,
        default_value = "50ms,100ms,200ms",
        value_delimiter = ',',
        value_parser = parse_duration
    )]
    pub intervals: Vec<Duration>,

    /// How long each interval's Remus run lasts (after --settle).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub step: Duration,

    /// Time left for Remus's first checkpoint (a full live migration of the guest's memory)
    /// before anything is counted.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub settle: Duration,

    /// A command that prints one throughput number (higher is better) for the guest's
    /// service, e.g. "ssh vm /root/bench-10s". Run before, during each interval, and after.
    /// Split at spaces and run directly, never through a shell (use a script for pipes).
    #[arg(long, value_name = "CMD")]
    pub probe: Option<String>,

    /// A trace of the same guest (`remus-tune measure`) to predict the steps from. Without
    /// it, the trial first measures the guest exclusively for --measure-for (log-dirty,
    /// refused if log-dirty is already on) before any Remus runs.
    #[arg(long, value_name = "TRACE")]
    pub trace: Option<PathBuf>,

    /// How long the exclusive measure before the Remus steps lasts (without --trace).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub measure_for: Duration,

    /// Also install the fitted host profile in the site profile directory
    /// ($XDG_CONFIG_HOME/remus-tune/profiles, see `remus-tune profiles`), named after the
    /// domain, where `model --host DOMAIN` and `advise DOMAIN` find it.
    #[arg(long)]
    pub install: bool,

    /// Really run Remus. Without it, the trial prints what it would run and stops.
    #[arg(long)]
    pub yes: bool,

    /// Host profile to write with the fitted costs (default `<domain>-host.yaml`).
    #[arg(short, long)]
    pub output: Option<PathBuf>,

    /// Replace the profile file if it exists.
    #[arg(long)]
    pub force: bool,

    /// Output format of the results table.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

const TRIAL_HELP: &str = "\
What runs: for each interval τ,
  xl remus -F -b -n -d -i τ DOMAIN localhost
-b (blackhole) sends every checkpoint to /dev/null: nothing leaves this host, there is no
backup, and the guest is NOT protected during the trial. -F allows this unsafe setup, -n
and -d switch off network buffering and disk replication. `localhost` is only there because
xl's usage wants a host; blackhole mode never contacts it. Remus is stopped (SIGINT) at the
end of each step and on Ctrl-C, and the guest is checked (and resumed if it was left
suspended) before the next step.

Measured per step: checkpoints achieved and their size (from xl's `Checkpointed save: N/N`
progress lines), Dom-0 CPU (xl vcpu-list) and the save helper's CPU, and the probe's
throughput against the mean of before and after. The suspend and per-page costs are fitted
over all checkpoints (period − τ = suspend + pages × per-page); with a probe, the guest's loss
beyond the pauses (a per-page fault cost and/or a per-checkpoint resume cost); with a trace,
the pages each checkpoint carries beyond the trace's dirty count. All go into a host profile
for `remus-tune model --host FILE`.

Validation: every step is predicted by the model from the trace (--trace, or the exclusive
measure the trial runs first) with the fitted costs, and measured against predicted is printed
with the relative error of each figure (JSON: validation[]). With three or more intervals,
each is also predicted from costs fitted on the others only (leave-one-out): the out-of-sample
error, whose worst case the host profile carries in its `validation:` block.

Replay: `trial --replay TRIAL.json [--trace TRACE]` refits and re-validates from what a trial
recorded (its steps, each checkpoint's period and pages, the probe's figures), with this
build's model: to iterate on the model, or to re-evaluate an old trial with a newer
remus-tune. A report from before per-checkpoint data fits the period from step means, and
says so.

Exit status: 0 done, 5 not confirmed (no --yes), 69 no Xen here, 130/143 interrupted.";
