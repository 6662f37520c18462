use super::Format;
use std::path::PathBuf;

/// `remus-tune topology`.
#[derive(clap::Args, Debug)]
pub struct TopologyArgs {
    /// Read a saved `xl info -n` output or hwloc XML (`lstopo --of xml`) instead of this host.
    #[arg(long, value_name = "FILE")]
    pub topology: Option<PathBuf>,

    /// Where to ask on this host: `xen` runs `xl info -n` (the physical CPUs; Dom-0's Linux
    /// sees only its virtual ones), `sysfs` reads /sys, `hwloc` asks libhwloc (only in a
    /// build with the feature `hwloc`), `auto` uses xl when it answers, else hwloc if built
    /// in, else sysfs.
    #[arg(long, value_enum, default_value_t = TopologySource::Auto, conflicts_with = "topology")]
    pub source: TopologySource,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Which tool describes the live host.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TopologySource {
    /// `xl info -n` if `xl` answers, else hwloc if built in, else sysfs.
    Auto,
    /// `xl info -n` (Xen Dom-0).
    Xen,
    /// /sys/devices/system/{cpu,node} (bare metal, KVM hosts; no library needed).
    Sysfs,
    /// libhwloc (bare metal, KVM hosts; a build with the cargo feature `hwloc`).
    Hwloc,
}
