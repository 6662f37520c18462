//! `remus-tune topology`: the host's CPUs as the planner sees them.

use crate::cli::{TopologyArgs, TopologySource};
use crate::topology::{hwloc, xen, Topology};
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
    match source {
        TopologySource::Xen => Ok(xen::from_host(&xl)?),
        TopologySource::Hwloc => Ok(hwloc::from_host()?),
        TopologySource::Auto => {
            if on_xen(&xl) {
                Ok(xen::from_host(&xl)?)
            } else {
                Ok(hwloc::from_host()?)
            }
        }
    }
}

/// True when `xl info` answers: then we are in Dom-0 and hwloc would see only virtual CPUs.
pub fn on_xen(xl: &Xl) -> bool {
    if std::env::var_os(crate::xl::XL_ENV).is_none()
        && !Path::new("/proc/xen/capabilities").exists()
    {
        return false;
    }
    xl.info().is_ok()
}
