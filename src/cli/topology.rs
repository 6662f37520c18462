use super::Format;
use std::path::PathBuf;

/// `remus-tune topology`.
#[derive(clap::Args, Debug)]
pub struct TopologyArgs {
    /// Read a saved `xl info -n` output or hwloc XML (`lstopo --of xml`) instead of this host.
    #[arg(long, value_name = "FILE")]
    pub topology: Option<PathBuf>,

    /// Where to ask on this host: `xen` runs `xl info -n` (the physical CPUs; Dom-0's Linux
    /// sees only its virtual ones), `hwloc` asks hwloc, `auto` uses xl when it answers.
    #[arg(long, value_enum, default_value_t = TopologySource::Auto, conflicts_with = "topology")]
    pub source: TopologySource,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Which tool describes the live host.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TopologySource {
    /// `xl info -n` if `xl` answers, else hwloc.
    Auto,
    /// `xl info -n` (Xen Dom-0).
    Xen,
    /// hwloc (bare metal, KVM hosts).
    Hwloc,
}
