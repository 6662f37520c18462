use super::Format;
use crate::chart::ChartFormat;
use crate::units::{parse_duration, parse_rate};
use std::path::PathBuf;
use std::time::Duration;

/// Which profile and costs the model runs with; shared by `model`, `chart` and `advise`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ProfileOptions {
    /// Acceptance limits: a built-in profile (web, database, batch; see `remus-tune
    /// profiles`) or a path to a YAML profile.
    #[arg(long, value_name = "NAME|PATH")]
    pub profile: Option<String>,

    /// Host cost set in place of the profile's own (xen-4.17, remus-2008, or a path).
    #[arg(long, value_name = "NAME|PATH")]
    pub host: Option<String>,

    /// Effective replication link rate, e.g. 1Gbit/s or 110MB/s (overrides `costs.link`).
    #[arg(long, value_name = "RATE", value_parser = parse_link)]
    pub link: Option<f64>,

    /// Override one profile value, e.g. --set max_slowdown=15% --set rtt=0.5ms (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
}

/// A link rate above zero: a link that carries nothing would make every send take forever.
fn parse_link(text: &str) -> Result<f64, String> {
    match parse_rate(text) {
        Ok(rate) if rate > 0.0 => Ok(rate),
        Ok(_) => Err(format!(
            "`{text}` is zero: a replication link must carry something (e.g. 1Gbit/s)"
        )),
        Err(err) => Err(err.to_string()),
    }
}

impl ProfileOptions {
    pub fn request(&self) -> crate::profile::ProfileRequest {
        crate::profile::ProfileRequest {
            profile: self.profile.clone(),
            host: self.host.clone(),
            sets: self.sets.clone(),
            link_bytes_per_s: self.link,
        }
    }
}

/// `remus-tune model TRACE`.
#[derive(clap::Args, Debug)]
#[command(after_long_help = MODEL_EXAMPLES)]
pub struct ModelArgs {
    /// A trace written by `remus-tune measure`.
    pub trace: PathBuf,

    #[command(flatten)]
    pub profile: ProfileOptions,

    /// Intervals to predict (default: every interval the trace measured), e.g. 50ms,100ms.
    #[arg(long, value_delimiter = ',', value_parser = parse_duration, value_name = "LIST")]
    pub intervals: Option<Vec<Duration>>,

    /// Allow intervals the trace did not measure, between two it did; marked as interpolated.
    #[arg(long)]
    pub interpolate: bool,

    /// Also write the charts (SVG and PNG) into this directory.
    #[arg(long, value_name = "DIR")]
    pub charts: Option<PathBuf>,

    /// Also write a self-contained HTML report (charts inline) to this file.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,

    /// Replace existing charts and report (never the trace itself).
    #[arg(long)]
    pub force: bool,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

const MODEL_EXAMPLES: &str = "\
Examples:
  remus-tune model vm.trace.yaml                          # profile web on xen-4.17 costs
  remus-tune model vm.trace.yaml --profile database --link 10Gbit/s
  remus-tune model vm.trace.yaml --host remus-2008        # the Remus paper's constants
  remus-tune model vm.trace.yaml --set max_slowdown=20% --charts out/ --html out/report.html
  remus-tune model vm.trace.yaml --format json | jq .recommended_interval_ms";

/// `remus-tune chart TRACE`.
#[derive(clap::Args, Debug)]
pub struct ChartArgs {
    /// A trace written by `remus-tune measure`.
    pub trace: PathBuf,

    /// Directory to write the charts into.
    #[arg(short, long, default_value = ".", value_name = "DIR")]
    pub output: PathBuf,

    /// Replace charts already in the directory.
    #[arg(long)]
    pub force: bool,

    /// Chart formats to write: svg, png, or both (the default), e.g. --format svg.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [ChartFormat::Svg, ChartFormat::Png])]
    pub format: Vec<ChartFormat>,

    #[command(flatten)]
    pub profile: ProfileOptions,
}
