//! `remus-tune topology`: the host's CPUs as the planner sees them.

use crate::cli::{TopologyArgs, TopologySource};
use crate::topology::{self, sysfs, xen, Topology};
use crate::xl::Xl;
use anyhow::{Context, Result};
use std::path::Path;
use std::process::ExitCode;

/// Runs `remus-tune topology`.
pub fn run(args: &TopologyArgs) -> Result<ExitCode> {
    let topo = load(args.topology.as_deref(), args.source)?;
    crate::output::emit(&topo, args.format)?;
    Ok(ExitCode::SUCCESS)
}

/// The topology from a file, or from the live host by `source`.
pub fn load(file: Option<&Path>, source: TopologySource) -> Result<Topology> {
    if let Some(path) = file {
        return Topology::from_file(path)
            .with_context(|| format!("reading the topology from {}", path.display()));
    }
    let xl = Xl::from_env();
    let topo = match source {
        TopologySource::Xen => xen::from_host(&xl)?,
        TopologySource::Hwloc => topology::hwloc_host()?,
        TopologySource::Sysfs => sysfs::from_host()?,
        TopologySource::Auto => {
            if on_xen(&xl) {
                crate::detail!("topology: `xl info` answers: this is a Xen Dom-0, asking `xl info -n` for the physical CPUs");
                xen::from_host(&xl)?
            } else {
                crate::detail!(
                    "topology: not a Xen Dom-0 (no /proc/xen/capabilities, or `xl info` does not answer): reading {}",
                    if cfg!(feature = "hwloc") { "libhwloc" } else { "/sys/devices/system/{cpu,node}" }
                );
                topology::native_host()?
            }
        }
    };
    crate::detail!(
        "topology: {} online CPUs from {}, affinity bitmaps span CPUs 0-{}",
        topo.cpus.len(),
        topo.source,
        topo.max_cpu_id
    );
    Ok(topo)
}

/// True when `xl info` answers: then we are in Dom-0, whose sysfs (and hwloc) would show
/// only its virtual CPUs.
pub fn on_xen(xl: &Xl) -> bool {
    if std::env::var_os(crate::xl::XL_ENV).is_none()
        && !Path::new("/proc/xen/capabilities").exists()
    {
        return false;
    }
    xl.info().is_ok()
}
