use super::{EpochArgs, ProfileOptions, TargetArgs};
use crate::units::parse_duration;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// `remus-tune watch TARGET`.
#[derive(clap::Args, Debug)]
#[command(after_long_help = WATCH_HELP)]
pub struct WatchArgs {
    /// What to watch: a PID or process name, a QEMU PID or QMP socket, a libvirt domain, or
    /// a Xen domain (name or domid); found as `measure` finds it (see `measure --help`).
    #[arg(required_unless_present = "qmp")]
    pub target: Option<String>,

    /// The base epoch and the checkpoint intervals built from it.
    #[command(flatten)]
    pub epochs: EpochArgs,

    /// How often the model is re-run over the sliding window.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub update: Duration,

    /// The sliding window the model sees: the last this-long of epochs (up to 30 days; kept
    /// as at most 256 buckets of summarised windows, so memory does not grow with it).
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub window: Duration,

    /// Address the Prometheus metrics are served on (`/metrics`). Port 0 picks a free port,
    /// printed on stderr.
    #[arg(long, default_value = "127.0.0.1:9477")]
    pub listen: SocketAddr,

    /// Allow a --listen address that is not loopback: the metrics name the host's VMs and
    /// their load, and the endpoint has no authentication. Prefer a reverse proxy.
    #[arg(long)]
    pub allow_remote: bool,

    /// Also write the metrics into DIR for node_exporter's textfile collector
    /// (`remus-tune-<target>.prom`, replaced atomically at every update, removed at exit).
    #[arg(long, value_name = "DIR")]
    pub textfile: Option<PathBuf>,

    /// The checkpoint interval Remus runs at (`xl remus -i`): the alerts compare Remus's
    /// real checkpoint period with it, and the verdict is judged at it. Must be one of
    /// --intervals (added to them if missing).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub remus_interval: Option<Duration>,

    /// Limits and costs the model judges with; SIGHUP reloads them (see `model --help`).
    #[command(flatten)]
    pub profile: ProfileOptions,

    /// How the target is found and measured, exactly as `measure` does.
    #[command(flatten)]
    pub target_flags: TargetArgs,
}

/// The duration `watch` asks of the measuring loop: ten years, i.e. until stopped.
pub const WATCH_FOREVER: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

const WATCH_HELP: &str = "\
Runs until stopped. Measures exactly as `measure` does (exclusive log-dirty on a Xen domain
nobody else tracks; observe mode beside a running Remus or COLO), re-runs the model every
--update over the last --window, and serves everything at http://LISTEN/metrics in the
Prometheus text format. No trace file is written.

Examples:
  remus-tune watch meine-vm                          # Xen domain, metrics on 127.0.0.1:9477
  remus-tune watch meine-vm --remus-interval 200ms   # beside `xl remus -i 200`
  remus-tune watch 4242 --profile database --update 30s --window 15m
  remus-tune watch meine-vm --textfile /var/lib/prometheus/node-exporter
  curl -s 127.0.0.1:9477/metrics | grep remus_tune_verdict

Metrics (all `remus_tune_…`, labelled target=NAME; base units):
  interval_dirty_pages{interval_seconds}   histogram of dirty pages per interval window
  dirty_pages_total                        distinct pages per base epoch, summed: rate() is
                                           the dirty rate in pages/s
  window_dirty_pages_per_second{…}         the same over the sliding window, per interval
  disk_write_bytes_total, disk_write_requests_total, target_cpu_seconds_total
  dom0_cpu_seconds_total, save_helper_cpu_seconds_total        (Xen)
  remus_checkpoints_total, remus_checkpoint_pages{stat}        (Xen observe mode)
  predicted_slowdown_ratio{interval_seconds,placement}, predicted_pause_seconds{…,stat},
  predicted_added_latency_seconds{…,stat}, predicted_bandwidth_bytes_per_second{…},
  predicted_epoch_seconds{…}, predicted_meets_limits{…}
  recommended_interval_seconds (absent when none), verdict_acceptable (1/0),
  operating_interval_seconds, operating_predicted_slowdown_ratio, profile_max_*
  measure_seconds_total, self_cpu_seconds_total, self_resident_bytes,
  epochs_total, late_epochs_total        what measuring itself costs
Alert rules and a Grafana dashboard: contrib/prometheus/.

Signals: SIGHUP reloads the profile (a bad profile keeps the old one and says why);
SIGINT/SIGTERM stop cleanly: log-dirty and every other mode switched on is switched off,
the textfile is removed, and the exit status is 130/143.";
