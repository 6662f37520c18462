//! hwloc XML (`lstopo --of xml`, hwloc 1.x and 2.x) read without libhwloc, so a saved
//! topology can be planned for by every build, including the static one.
//!
//! The XML nests `<object type=".." os_index=".." cpuset="..">` elements as hwloc's tree does.
//! CPU numbers are the PUs' OS indexes (what Linux, taskset and sched_setaffinity use), never
//! hwloc's logical indexes. In hwloc 2.x NUMA nodes are memory children, not ancestors of the
//! PUs, so a PU's node is the node whose cpuset contains it (this also holds for 1.x, where
//! nodes are ancestors). Where an object has no OS index (caches, sometimes cores), its
//! logical index stands in: its rank among the objects of its type in document order, which
//! is hwloc's left-to-right order.

use super::{Cpu, Topology, TopologyError};
use roxmltree::Node as XmlNode;

/// One `<object>` of interest, flattened.
struct Object {
    id: u32,
    cpus: Vec<u32>,
}

/// Reads hwloc XML (`lstopo --of xml`); `origin` names the file in messages and the source.
pub fn from_xml(xml: &str, origin: &str) -> Result<Topology, TopologyError> {
    let bad = |what: String| TopologyError::Hwloc(format!("{origin}: {what}"));
    let doc = roxmltree::Document::parse_with_options(
        xml,
        roxmltree::ParsingOptions {
            allow_dtd: true,
            ..Default::default()
        },
    )
    .map_err(|e| bad(format!("not well-formed XML: {e}")))?;
    if doc.root_element().tag_name().name() != "topology" {
        return Err(bad(
            "the root element is not <topology>: not hwloc XML".into()
        ));
    }
    let objects: Vec<XmlNode> = doc
        .descendants()
        .filter(|n| n.has_tag_name("object"))
        .collect();
    let of_type = |ty: &str| -> Result<Vec<Object>, TopologyError> {
        objects
            .iter()
            .filter(|n| n.attribute("type") == Some(ty))
            .enumerate()
            .map(|(logical, n)| {
                Ok(Object {
                    id: index(n, logical).map_err(&bad)?,
                    cpus: match n.attribute("cpuset") {
                        Some(set) => parse_cpuset(set).map_err(&bad)?,
                        None => Vec::new(),
                    },
                })
            })
            .collect()
    };
    let nodes = of_type("NUMANode")?;
    let l3s = of_type("L3Cache")?;
    // L3's id is its logical index, as hwloc numbers caches (they have no OS index).
    let l3s: Vec<Object> = l3s
        .into_iter()
        .enumerate()
        .map(|(i, o)| Object {
            id: i as u32,
            cpus: o.cpus,
        })
        .collect();
    let memory: Vec<(u32, u64)> = objects
        .iter()
        .filter(|n| n.attribute("type") == Some("NUMANode"))
        .zip(&nodes)
        // No local_memory (synthetic topologies) reads as 0, as libhwloc reports it.
        .map(|(n, node)| {
            let bytes: u64 = n
                .attribute("local_memory")
                .and_then(|m| m.parse().ok())
                .unwrap_or(0);
            (node.id, bytes >> 20)
        })
        .collect();
    let find =
        |table: &[Object], cpu: u32| table.iter().find(|o| o.cpus.contains(&cpu)).map(|o| o.id);
    let logical_of = |ty: &str, target: XmlNode| {
        objects
            .iter()
            .filter(|n| n.attribute("type") == Some(ty))
            .position(|n| *n == target)
            .unwrap_or(0)
    };
    let mut cpus = Vec::new();
    for pu in objects.iter().filter(|n| n.attribute("type") == Some("PU")) {
        let id: u32 = pu
            .attribute("os_index")
            .ok_or_else(|| bad("a PU has no os_index: the XML is incomplete".into()))?
            .parse()
            .map_err(|_| bad("a PU's os_index is not a number".into()))?;
        let ancestor = |ty: &str| {
            pu.ancestors()
                .skip(1)
                .find(|a| a.has_tag_name("object") && a.attribute("type") == Some(ty))
        };
        let core = match ancestor("Core") {
            Some(c) => index(&c, logical_of("Core", c)).map_err(&bad)?,
            // Without Core objects each PU is its own core (no SMT information).
            None => id,
        };
        let socket = match ancestor("Package").or_else(|| ancestor("Socket")) {
            Some(p) => index(&p, logical_of("Package", p)).map_err(&bad)?,
            None => 0,
        };
        cpus.push(Cpu {
            id,
            core,
            socket,
            node: find(&nodes, id).unwrap_or(0),
            l3: find(&l3s, id),
        });
    }
    if cpus.is_empty() {
        return Err(bad("no PU objects: the XML describes no CPU".into()));
    }
    Topology::new(format!("hwloc XML ({origin})"), cpus, &memory)
}

/// An object's OS index, or its logical index where it has none.
fn index(node: &XmlNode, logical: usize) -> Result<u32, String> {
    match node.attribute("os_index") {
        Some(text) => text
            .parse()
            .map_err(|_| format!("os_index {text:?} is not a number")),
        None => Ok(logical as u32),
    }
}

/// An hwloc bitmap as written in XML: comma-separated 32-bit hex words, most significant
/// first, e.g. `0x000000ff` or `0x0000000f,0xffffffff`; hwloc leaves zero words empty
/// (`0xffffffff,,0x0` is bits 64-95). A leading `0xf...f` word means
/// "and every higher bit" (an unbounded set): it adds no CPU we could list, so it is skipped.
fn parse_cpuset(text: &str) -> Result<Vec<u32>, String> {
    let words: Vec<&str> = text.split(',').collect();
    let mut cpus = Vec::new();
    for (rank, word) in words.iter().rev().enumerate() {
        if *word == "0xf...f" || word.is_empty() {
            continue;
        }
        let hex = word
            .strip_prefix("0x")
            .ok_or_else(|| format!("cpuset {text:?} is not an hwloc bitmap (0x... words)"))?;
        let bits = u32::from_str_radix(hex, 16)
            .map_err(|_| format!("cpuset {text:?} is not an hwloc bitmap (0x... words)"))?;
        for bit in 0..32 {
            if bits & (1 << bit) != 0 {
                cpus.push(rank as u32 * 32 + bit);
            }
        }
    }
    Ok(cpus)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpusets_of_several_words() {
        assert_eq!(parse_cpuset("0x00000005").unwrap(), vec![0, 2]);
        assert_eq!(parse_cpuset("0x00000001,0x80000000").unwrap(), vec![31, 32]);
        assert_eq!(parse_cpuset("0xf...f,0x00000002").unwrap(), vec![1]);
        assert_eq!(
            parse_cpuset("0xffffffff,0xffffffff,,0x0").unwrap(),
            (64..128).collect::<Vec<u32>>()
        );
        assert!(parse_cpuset("ff").is_err());
    }

    #[test]
    fn two_packages_smt_and_numa_from_the_fixture() {
        let xml =
            std::fs::read_to_string("tests/fixtures/topologies/hwloc-2pkg-2numa-smt.xml").unwrap();
        let topo = from_xml(&xml, "fixture").unwrap();
        assert_eq!(topo.cpus.len(), 16);
        assert_eq!(topo.cores().len(), 8);
        assert_eq!(topo.sockets(), 2);
        assert_eq!(topo.nodes.len(), 2);
        assert_eq!(topo.threads_per_core(), 2);
        let cpu9 = topo.cpus.iter().find(|c| c.id == 9).unwrap();
        assert_eq!((cpu9.socket, cpu9.node, cpu9.l3), (1, 1, Some(1)));
    }

    #[test]
    fn hwloc_1x_nodes_as_ancestors() {
        let xml = r#"<?xml version="1.0"?>
<topology>
  <object type="Machine" os_index="0" cpuset="0x0000000f">
    <object type="NUMANode" os_index="3" cpuset="0x0000000f" local_memory="2147483648">
      <object type="Socket" os_index="0" cpuset="0x0000000f">
        <object type="Core" os_index="0" cpuset="0x00000003">
          <object type="PU" os_index="0" cpuset="0x00000001"/>
          <object type="PU" os_index="1" cpuset="0x00000002"/>
        </object>
        <object type="Core" os_index="1" cpuset="0x0000000c">
          <object type="PU" os_index="2" cpuset="0x00000004"/>
          <object type="PU" os_index="3" cpuset="0x00000008"/>
        </object>
      </object>
    </object>
  </object>
</topology>"#;
        let topo = from_xml(xml, "inline").unwrap();
        assert_eq!(topo.cores().len(), 2);
        assert_eq!(topo.nodes[0].id, 3);
        assert_eq!(topo.nodes[0].memory_mib, Some(2048));
    }

    #[test]
    fn not_hwloc_xml_is_refused_with_the_file_named() {
        let err = from_xml("<html/>", "page.html").unwrap_err().to_string();
        assert!(
            err.contains("page.html") && err.contains("not hwloc XML"),
            "{err}"
        );
        let err = from_xml("<topology><object", "cut.xml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("cut.xml") && err.contains("XML"), "{err}");
    }
}
