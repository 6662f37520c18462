//! One view of the host's CPUs: which core, socket, NUMA node and L3 group each belongs to.
//!
//! The planner needs to know which CPUs are SMT siblings (they share a core) and which share a
//! NUMA node. Where that comes from depends on the host (interfaces.md §0 item 11):
//!
//! - on Xen, Dom-0's Linux sees only Dom-0's *virtual* CPUs, so the physical topology comes
//!   from `xl info -n` ([`xen`]);
//! - on bare metal and KVM hosts, from sysfs ([`sysfs`]), the files hwloc itself reads on
//!   Linux, or from libhwloc ([`hwloc`], only in a build with the cargo feature `hwloc`);
//! - saved `lstopo --of xml` files are read without libhwloc ([`hwloc_xml`]).
//!
//! Either way the result is a [`Topology`]; nothing above this module knows the source.

#[cfg(feature = "hwloc")]
pub mod hwloc;
pub mod hwloc_xml;
mod report;
pub mod sysfs;
pub mod xen;

use crate::cpulist::CpuList;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// One logical CPU (a pCPU on Xen, a PU in hwloc's words).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cpu {
    pub id: u32,
    /// The hardware core id. Not unique across sockets: a core is (socket, core).
    pub core: u32,
    pub socket: u32,
    pub node: u32,
    /// Which L3 cache the CPU shares, where known (hwloc); Xen does not say.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub l3: Option<u32>,
}

/// A NUMA node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    pub id: u32,
    pub cpus: CpuList,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_mib: Option<u64>,
}

/// A physical core: the CPUs that are SMT siblings of each other.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Core {
    pub socket: u32,
    pub core: u32,
    pub node: u32,
    pub l3: Option<u32>,
    pub cpus: CpuList,
}

/// The host as remus-tune sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Topology {
    /// Where the facts came from, e.g. `xl info -n` or `sysfs (this host)`.
    pub source: String,
    /// Online CPUs, by id.
    pub cpus: Vec<Cpu>,
    pub nodes: Vec<Node>,
    /// Affinity bitmaps and xl's `all` span 0..=max_cpu_id, offline CPUs included.
    pub max_cpu_id: u32,
}

/// Why the topology could not be had.
#[derive(Debug, thiserror::Error)]
pub enum TopologyError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is neither a saved `xl info -n` output nor hwloc XML (`lstopo --of xml`)")]
    UnknownFile { path: String },
    #[error(transparent)]
    Xl(#[from] crate::xl::ParseError),
    #[error(transparent)]
    XlRun(#[from] crate::xl::XlError),
    #[error("{0}")]
    Invalid(String),
    #[error("hwloc: {0}")]
    Hwloc(String),
    #[error(
        "this remus-tune was built without hwloc (cargo feature `hwloc`): use `--source sysfs` \
         (the same facts, read from /sys), or rebuild with `cargo build --features hwloc`"
    )]
    HwlocNotBuilt,
}

/// The live topology of a host that is not a Xen Dom-0: libhwloc in a build with the
/// feature `hwloc`, sysfs otherwise.
pub fn native_host() -> Result<Topology, TopologyError> {
    #[cfg(feature = "hwloc")]
    return hwloc::from_host();
    #[cfg(not(feature = "hwloc"))]
    return sysfs::from_host();
}

/// The live topology from libhwloc, or why this build cannot ask it.
pub fn hwloc_host() -> Result<Topology, TopologyError> {
    #[cfg(feature = "hwloc")]
    return hwloc::from_host();
    #[cfg(not(feature = "hwloc"))]
    return Err(TopologyError::HwlocNotBuilt);
}

impl Topology {
    /// Builds a topology from CPUs, checking that ids are unique, and deriving the nodes.
    pub fn new(
        source: impl Into<String>,
        mut cpus: Vec<Cpu>,
        memory: &[(u32, u64)],
    ) -> Result<Self, TopologyError> {
        if cpus.is_empty() {
            return Err(TopologyError::Invalid(
                "the topology lists no online CPU".into(),
            ));
        }
        cpus.sort_by_key(|c| c.id);
        if let Some(pair) = cpus.windows(2).find(|w| w[0].id == w[1].id) {
            return Err(TopologyError::Invalid(format!(
                "CPU {} is listed twice",
                pair[0].id
            )));
        }
        let mut nodes: Vec<Node> = Vec::new();
        for cpu in &cpus {
            match nodes.iter_mut().find(|n| n.id == cpu.node) {
                Some(node) => node.cpus.insert(cpu.id),
                None => nodes.push(Node {
                    id: cpu.node,
                    cpus: std::iter::once(cpu.id).collect(),
                    memory_mib: memory
                        .iter()
                        .find(|(id, _)| *id == cpu.node)
                        .map(|(_, m)| *m),
                }),
            }
        }
        nodes.sort_by_key(|n| n.id);
        let max_cpu_id = cpus.last().map(|c| c.id).unwrap_or(0);
        Ok(Self {
            source: source.into(),
            cpus,
            nodes,
            max_cpu_id,
        })
    }

    /// Every online CPU.
    pub fn all_cpus(&self) -> CpuList {
        self.cpus.iter().map(|c| c.id).collect()
    }

    /// The size of an affinity bitmap: what `all` means.
    pub fn bitmap_size(&self) -> u32 {
        self.max_cpu_id + 1
    }

    /// Physical cores, ordered by node, then by their lowest CPU number.
    pub fn cores(&self) -> Vec<Core> {
        let mut by_id: std::collections::BTreeMap<(u32, u32), Core> =
            std::collections::BTreeMap::new();
        for cpu in &self.cpus {
            by_id
                .entry((cpu.socket, cpu.core))
                .or_insert_with(|| Core {
                    socket: cpu.socket,
                    core: cpu.core,
                    node: cpu.node,
                    l3: cpu.l3,
                    cpus: CpuList::new(),
                })
                .cpus
                .insert(cpu.id);
        }
        let mut cores: Vec<Core> = by_id.into_values().collect();
        cores.sort_by_key(|c| (c.node, c.cpus.first()));
        cores
    }

    /// The largest number of SMT siblings on one core.
    pub fn threads_per_core(&self) -> u32 {
        self.cores()
            .iter()
            .map(|c| c.cpus.len() as u32)
            .max()
            .unwrap_or(1)
    }

    pub fn sockets(&self) -> usize {
        let mut s: Vec<u32> = self.cpus.iter().map(|c| c.socket).collect();
        s.sort_unstable();
        s.dedup();
        s.len()
    }

    /// Reads a saved `xl info -n` output or hwloc XML, telling them apart by content.
    pub fn from_file(path: &Path) -> Result<Self, TopologyError> {
        let text = crate::limits::read_text(path, crate::limits::FileKind::Topology).map_err(
            |source| TopologyError::Read {
                path: path.display().to_string(),
                source,
            },
        )?;
        let head = text.trim_start();
        if head.starts_with("<?xml") || head.starts_with("<topology") {
            hwloc_xml::from_xml(&text, &path.display().to_string())
        } else if text.contains("cpu_topology") {
            xen::from_info_text(&text, &format!("xl info -n (saved in {})", path.display()))
        } else {
            Err(TopologyError::UnknownFile {
                path: path.display().to_string(),
            })
        }
    }
}
