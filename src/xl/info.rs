//! `xl info` and `xl info -n` (tools/xl/xl_info.c): one `key<pad>: value` line per item,
//! and with `-n` the cpu_topology, device topology and numa_info tables.
//!
//! Offline CPUs are skipped by xl (their core id is invalid), so CPU numbers may have gaps;
//! an invalid socket or node prints as -1 and is kept as `None` here.

use super::table::rows;
use super::ParseError;
use std::collections::BTreeMap;

/// One row of `cpu_topology`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuTopologyRow {
    pub cpu: u32,
    pub core: Option<u32>,
    pub socket: Option<u32>,
    pub node: Option<u32>,
}

/// One row of `numa_info`: sizes in MiB and the SLIT distance row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumaRow {
    pub node: u32,
    pub memsize_mib: u64,
    pub memfree_mib: u64,
    pub distances: Vec<u32>,
}

/// What `xl info [-n]` says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct XlInfo {
    /// Every `key : value` line, as printed.
    pub fields: BTreeMap<String, String>,
    /// Present only with `-n`.
    pub cpu_topology: Vec<CpuTopologyRow>,
    pub numa_info: Vec<NumaRow>,
}

impl XlInfo {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields.get(key).map(String::as_str)
    }

    fn number(&self, key: &str) -> Option<u32> {
        self.get(key).and_then(|v| v.parse().ok())
    }

    /// Online physical CPUs.
    pub fn nr_cpus(&self) -> Option<u32> {
        self.number("nr_cpus")
    }

    /// Affinity bitmaps (and `all`) span 0..=max_cpu_id, offline CPUs included.
    pub fn max_cpu_id(&self) -> Option<u32> {
        self.number("max_cpu_id")
    }

    pub fn threads_per_core(&self) -> Option<u32> {
        self.number("threads_per_core")
    }

    pub fn xen_version(&self) -> Option<&str> {
        self.get("xen_version")
    }

    pub fn xen_commandline(&self) -> Option<&str> {
        self.get("xen_commandline")
    }

    pub fn scheduler(&self) -> Option<&str> {
        self.get("xen_scheduler")
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Section {
    Fields,
    CpuTopology,
    DeviceTopology,
    NumaInfo,
}

/// Parses `xl info` or `xl info -n`.
pub fn parse_info(text: &str) -> Result<XlInfo, ParseError> {
    const CMD: &str = "info";
    let mut info = XlInfo::default();
    let mut section = Section::Fields;
    for row in rows(CMD, text) {
        let line = row.text.trim_end();
        // A `key<pad>: value` line starts at column 0 with a lowercase identifier.
        if let Some((key, value)) = field(line) {
            section = match key {
                "cpu_topology" => Section::CpuTopology,
                "device topology" => Section::DeviceTopology,
                "numa_info" => Section::NumaInfo,
                _ => Section::Fields,
            };
            if section == Section::Fields {
                info.fields.insert(key.to_string(), value.to_string());
            }
            continue;
        }
        match section {
            Section::Fields => return Err(row.error("expected `key : value`")),
            Section::CpuTopology => {
                if line.trim_start().starts_with("cpu:") {
                    continue; // the header
                }
                let (cpu, cols) = row.keyed(3, "core socket node")?;
                let id = |s: &str| id(s).map_err(|p| row.error(p));
                info.cpu_topology.push(CpuTopologyRow {
                    cpu,
                    core: id(cols[0])?,
                    socket: id(cols[1])?,
                    node: id(cols[2])?,
                });
            }
            Section::DeviceTopology => {} // PCI device → node; not needed for pinning
            Section::NumaInfo => {
                if line.trim_start().starts_with("node:") {
                    continue;
                }
                let (node, cols) = row.keyed(3, "memsize memfree distances")?;
                let distances = cols[2]
                    .split(',')
                    .map(|d| row.number(d, "distance"))
                    .collect::<Result<_, _>>()?;
                info.numa_info.push(NumaRow {
                    node,
                    memsize_mib: row.number(cols[0], "size in MiB")?,
                    memfree_mib: row.number(cols[1], "size in MiB")?,
                    distances,
                });
            }
        }
    }
    if info.fields.is_empty() && info.cpu_topology.is_empty() {
        return Err(ParseError::new(
            CMD,
            1,
            text.lines().next().unwrap_or(""),
            "no `key : value` lines: is this `xl info` output?",
        ));
    }
    Ok(info)
}

/// `nr_cpus                : 2` → ("nr_cpus", "2"). Rows of the tables start with spaces
/// or digits, so they never match.
fn field(line: &str) -> Option<(&str, &str)> {
    if !line.starts_with(|c: char| c.is_ascii_lowercase()) {
        return None;
    }
    let (key, value) = line.split_once(':')?;
    let key = key.trim();
    if key.is_empty()
        || !key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ' ')
    {
        return None;
    }
    // "cpu:    core    socket     node" is the table header, not a field.
    if key == "cpu" || key == "node" {
        return None;
    }
    Some((key, value.trim()))
}

/// A topology id; -1 (XEN_INVALID_*_ID printed as signed) means unknown.
fn id(text: &str) -> Result<Option<u32>, String> {
    if text == "-1" {
        return Ok(None);
    }
    text.parse()
        .map(Some)
        .map_err(|_| format!("`{text}` is not a topology id"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FOUR_CPU_TWO_NODES: &str = "\
nr_cpus                : 4
max_cpu_id             : 3
threads_per_core       : 2
cpu_topology           :
cpu:    core    socket     node
  0:       0        0        0
  1:       0        0        0
  2:       1        0        1
  3:       1        0        1
device topology        :
device           node
0000:00:1f.2      0
numa_info              :
node:    memsize    memfree    distances
   0:     65419       1024      10,21
   1:     65536      40000      21,10
xen_version            : 4.17.7
";

    #[test]
    fn reads_the_interfaces_md_example() {
        let info = parse_info(FOUR_CPU_TWO_NODES).unwrap();
        assert_eq!(info.nr_cpus(), Some(4));
        assert_eq!(info.max_cpu_id(), Some(3));
        assert_eq!(info.cpu_topology.len(), 4);
        assert_eq!(
            info.cpu_topology[2],
            CpuTopologyRow {
                cpu: 2,
                core: Some(1),
                socket: Some(0),
                node: Some(1)
            }
        );
        assert_eq!(info.numa_info[1].distances, vec![21, 10]);
        assert_eq!(info.numa_info[0].memfree_mib, 1024);
        assert_eq!(info.xen_version(), Some("4.17.7"));
    }

    #[test]
    fn invalid_ids_are_none() {
        let info = parse_info("cpu_topology           :\ncpu:    core    socket     node\n  5:       2       -1       -1\n").unwrap();
        assert_eq!(info.cpu_topology[0].socket, None);
        assert_eq!(info.cpu_topology[0].node, None);
    }

    #[test]
    fn garbage_names_the_line() {
        let err = parse_info("nr_cpus : 2\ncpu_topology :\n  0: zero 0 0\n").unwrap_err();
        assert_eq!(err.line, 3);
        assert!(err.to_string().contains("not a topology id"), "{err}");
        assert!(parse_info("").is_err());
    }
}
