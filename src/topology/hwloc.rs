//! The live topology of a bare-metal or KVM host from libhwloc (the `hwlocality` binding),
//! built only with the cargo feature `hwloc`: linking libhwloc would stop the default binary
//! from starting on a host without libhwloc.so.15. Saved `lstopo --of xml` files are read by
//! [`super::hwloc_xml`] in every build.
//!
//! CPU numbers are hwloc's OS indexes (what Linux, taskset and sched_setaffinity use), never
//! its logical indexes. In hwloc 2.x NUMA nodes are memory children, not ancestors of the
//! PUs, so a PU's node is the node whose cpuset contains it.

use super::{Cpu, Topology, TopologyError};
use hwlocality::object::types::ObjectType;
use hwlocality::Topology as Hwloc;

/// Asks hwloc about the machine we run on.
pub fn from_host() -> Result<Topology, TopologyError> {
    let hw = Hwloc::new()
        .map_err(|e| TopologyError::Hwloc(format!("cannot discover this host: {e}")))?;
    convert(&hw, "hwloc (this host)")
}

fn convert(hw: &Hwloc, source: &str) -> Result<Topology, TopologyError> {
    let sets = |ty: ObjectType| -> Vec<(u32, Vec<u32>)> {
        hw.objects_with_type(ty)
            .map(|obj| {
                let id = obj.os_index().unwrap_or(obj.logical_index()) as u32;
                let cpus = obj
                    .cpuset()
                    .map(|set| set.iter_set().map(|i| usize::from(i) as u32).collect())
                    .unwrap_or_default();
                (id, cpus)
            })
            .collect()
    };
    let nodes = sets(ObjectType::NUMANode);
    let l3s: Vec<(u32, Vec<u32>)> = hw
        .objects_with_type(ObjectType::L3Cache)
        .map(|obj| {
            let cpus = obj
                .cpuset()
                .map(|set| set.iter_set().map(|i| usize::from(i) as u32).collect())
                .unwrap_or_default();
            (obj.logical_index() as u32, cpus)
        })
        .collect();
    let memory: Vec<(u32, u64)> = hw
        .objects_with_type(ObjectType::NUMANode)
        .map(|obj| {
            (
                obj.os_index().unwrap_or(obj.logical_index()) as u32,
                obj.total_memory() >> 20,
            )
        })
        .collect();
    let find = |table: &[(u32, Vec<u32>)], cpu: u32| {
        table
            .iter()
            .find(|(_, cpus)| cpus.contains(&cpu))
            .map(|(id, _)| *id)
    };
    let mut cpus = Vec::new();
    for pu in hw.objects_with_type(ObjectType::PU) {
        let Some(id) = pu.os_index() else {
            return Err(TopologyError::Hwloc(
                "a PU has no OS index: the XML is incomplete".into(),
            ));
        };
        let id = id as u32;
        let core = pu
            .first_ancestor_with_type(ObjectType::Core)
            .map(|c| c.os_index().unwrap_or(c.logical_index()) as u32)
            // Without Core objects each PU is its own core (no SMT information).
            .unwrap_or(id);
        let socket = pu
            .first_ancestor_with_type(ObjectType::Package)
            .map(|p| p.os_index().unwrap_or(p.logical_index()) as u32)
            .unwrap_or(0);
        cpus.push(Cpu {
            id,
            core,
            socket,
            node: find(&nodes, id).unwrap_or(0),
            l3: find(&l3s, id),
        });
    }
    Topology::new(source, cpus, &memory)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The XML reader of every build must agree with libhwloc's own reading of the same file.
    #[test]
    fn libhwloc_and_the_xml_reader_agree_on_every_fixture() {
        for entry in std::fs::read_dir("tests/fixtures/topologies").unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "xml") {
                continue;
            }
            let xml = std::fs::read_to_string(&path).unwrap();
            let hw = Hwloc::builder()
                .from_xml(xml.as_str())
                .unwrap()
                .build()
                .unwrap();
            let mut by_libhwloc = convert(&hw, "x").unwrap();
            let mut by_reader = super::super::hwloc_xml::from_xml(&xml, "x").unwrap();
            by_libhwloc.source.clear();
            by_reader.source.clear();
            assert_eq!(by_libhwloc, by_reader, "{}", path.display());
        }
    }
}
