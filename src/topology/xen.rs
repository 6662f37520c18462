//! The physical topology of a Xen host, from `xl info -n` (cpu_topology and numa_info).
//!
//! hwloc inside Dom-0 would describe Dom-0's virtual CPUs, which is wrong for pinning
//! (interfaces.md §0 item 11), so on Xen this is the only source we trust.

use super::{Cpu, Topology, TopologyError};
use crate::xl::{parse_info, Xl, XlInfo};

/// Asks the live host: runs `xl info -n`.
pub fn from_host(xl: &Xl) -> Result<Topology, TopologyError> {
    let text = xl.info_numa()?;
    from_info_text(&text, "xl info -n")
}

/// Reads `xl info -n` output.
pub fn from_info_text(text: &str, source: &str) -> Result<Topology, TopologyError> {
    let info = parse_info(text)?;
    from_info(&info, source)
}

/// Turns parsed `xl info -n` into a topology.
pub fn from_info(info: &XlInfo, source: &str) -> Result<Topology, TopologyError> {
    if info.cpu_topology.is_empty() {
        return Err(TopologyError::Invalid(
            "`xl info` printed no cpu_topology: run `xl info -n` (with -n) to get the physical topology".into(),
        ));
    }
    let mut cpus = Vec::new();
    for row in &info.cpu_topology {
        let core = row.core.ok_or_else(|| {
            TopologyError::Invalid(format!(
                "CPU {} has no core id: is it offline? bring it online or leave it out",
                row.cpu
            ))
        })?;
        cpus.push(Cpu {
            id: row.cpu,
            core,
            // An unknown socket or node (-1) is taken as 0: the host then looks like one socket
            // or node, which is the safe reading for pinning.
            socket: row.socket.unwrap_or(0),
            node: row.node.unwrap_or(0),
            l3: None,
        });
    }
    let memory: Vec<(u32, u64)> = info
        .numa_info
        .iter()
        .map(|n| (n.node, n.memsize_mib))
        .collect();
    let mut topo = Topology::new(source, cpus, &memory)?;
    if let Some(max) = info.max_cpu_id() {
        if max < topo.max_cpu_id {
            return Err(TopologyError::Invalid(format!(
                "max_cpu_id is {max} but cpu_topology lists CPU {}: the output is inconsistent",
                topo.max_cpu_id
            )));
        }
        topo.max_cpu_id = max;
    }
    if let Some(nr) = info.nr_cpus() {
        if nr as usize != topo.cpus.len() {
            return Err(TopologyError::Invalid(format!(
                "nr_cpus says {nr} online CPUs but cpu_topology lists {}: the output is inconsistent",
                topo.cpus.len()
            )));
        }
    }
    Ok(topo)
}
