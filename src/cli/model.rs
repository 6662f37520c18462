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

    /// Chart images to write: svg, png, or both (the default), e.g. --image svg.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [ChartFormat::Svg, ChartFormat::Png])]
    pub image: Vec<ChartFormat>,

    /// How the list of written files is printed: text, json or yaml, as everywhere. (The
    /// old `--format svg|png|svg,png` still chooses the images, with a warning: use --image.)
    #[arg(long, value_name = "FORMAT", default_value = "text", value_parser = parse_chart_output)]
    pub format: ChartOutput,

    #[command(flatten)]
    pub profile: ProfileOptions,
}

/// `chart --format`: an output format, or the images in the spelling before `--image`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChartOutput {
    Listing(Format),
    /// Deprecated `--format svg,png`: the images to write.
    LegacyImages(Vec<ChartFormat>),
}

impl ChartArgs {
    /// The images to write: `--image`, or the deprecated `--format svg|png`.
    pub fn images(&self) -> &[ChartFormat] {
        match &self.format {
            ChartOutput::LegacyImages(images) => images,
            ChartOutput::Listing(_) => &self.image,
        }
    }

    /// How to print the list of written files.
    pub fn listing(&self) -> Format {
        match self.format {
            ChartOutput::Listing(format) => format,
            ChartOutput::LegacyImages(_) => Format::Text,
        }
    }

    /// The warning for the deprecated spelling, if it was used.
    pub fn deprecation(&self) -> Option<String> {
        match &self.format {
            ChartOutput::LegacyImages(images) => {
                let list: Vec<&str> = images.iter().map(|i| i.extension()).collect();
                Some(format!(
                    "`chart --format {0}` is deprecated: --format means text, json or yaml \
                     everywhere; write `--image {0}`",
                    list.join(",")
                ))
            }
            ChartOutput::Listing(_) => None,
        }
    }
}

fn parse_chart_output(text: &str) -> Result<ChartOutput, String> {
    use clap::ValueEnum;
    if let Ok(format) = Format::from_str(text, true) {
        return Ok(ChartOutput::Listing(format));
    }
    let images: Result<Vec<ChartFormat>, String> = text
        .split(',')
        .map(|item| ChartFormat::from_str(item.trim(), true))
        .collect();
    images.map(ChartOutput::LegacyImages).map_err(|_| {
        format!("{text:?} is not an output format: use text, json or yaml (images go to --image svg,png)")
    })
}
