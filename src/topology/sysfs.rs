//! The topology of a bare-metal or KVM host from Linux's sysfs, the files hwloc itself reads
//! on Linux: no library needed, so the default binary runs on a bare host.
//!
//! - `/sys/devices/system/cpu/online`: the online CPUs (`0-3,8-11`);
//! - `cpuN/topology/{core_id,physical_package_id,thread_siblings_list}`: core, socket, SMT;
//! - `cpuN/cache/indexI/{level,shared_cpu_list,id}`: which L3 a CPU shares;
//! - `/sys/devices/system/node/nodeM/{cpulist,meminfo}`: NUMA nodes and their memory
//!   (absent on kernels without CONFIG_NUMA: then everything is node 0).
//!
//! `core_id` is unique within a package only, which is what [`Cpu::core`] expects. Where
//! the kernel's core ids disagree with its sibling lists (some multi-die parts repeat core
//! ids across dies), the sibling lists win: each core is then named by its lowest CPU.

use super::{Cpu, Topology, TopologyError};
use crate::cpulist::CpuList;
use std::path::Path;

/// Reads this host's sysfs.
pub fn from_host() -> Result<Topology, TopologyError> {
    from_root(Path::new("/"), "sysfs (this host)")
}

/// Reads the sysfs tree under `root` (`/` on a live host, a fake tree in tests).
pub fn from_root(root: &Path, source: &str) -> Result<Topology, TopologyError> {
    let cpu_dir = root.join("sys/devices/system/cpu");
    let online = list(&cpu_dir.join("online"))?;
    let nodes = read_nodes(&root.join("sys/devices/system/node"))?;
    let mut cpus = Vec::new();
    let mut siblings = Vec::new();
    for id in online.iter() {
        let dir = cpu_dir.join(format!("cpu{id}"));
        let topo = dir.join("topology");
        let core = number(&topo.join("core_id"))?;
        // -1 (unknown package) reads as socket 0: one socket is the safe reading for pinning.
        let socket = u32::try_from(signed(&topo.join("physical_package_id"))?).unwrap_or(0);
        let node = nodes
            .iter()
            .find(|(_, cpus, _)| cpus.contains(id))
            .map(|(n, _, _)| *n)
            .unwrap_or(0);
        cpus.push(Cpu {
            id,
            core,
            socket,
            node,
            l3: l3_of(&dir)?,
        });
        siblings.push(list(&topo.join("thread_siblings_list"))?);
    }
    reconcile_cores(&mut cpus, &siblings, &online);
    number_l3s(&mut cpus, &cpu_dir)?;
    let memory: Vec<(u32, u64)> = nodes
        .iter()
        .filter_map(|(id, _, mib)| mib.map(|m| (*id, m)))
        .collect();
    Topology::new(source, cpus, &memory)
}

/// `(node id, its CPUs, its memory in MiB)` for every `nodeM` directory.
type NodeFacts = (u32, CpuList, Option<u64>);

fn read_nodes(dir: &Path) -> Result<Vec<NodeFacts>, TopologyError> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(Vec::new()); // no CONFIG_NUMA: one node, 0
    };
    let mut nodes = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(id) = name
            .to_str()
            .and_then(|n| n.strip_prefix("node"))
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let cpus = list(&entry.path().join("cpulist"))?;
        let mib = std::fs::read_to_string(entry.path().join("meminfo"))
            .ok()
            .and_then(|text| mem_total_mib(&text));
        nodes.push((id, cpus, mib));
    }
    nodes.sort_by_key(|(id, _, _)| *id);
    Ok(nodes)
}

/// `Node 0 MemTotal:       16315392 kB` → MiB.
fn mem_total_mib(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.contains("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().rev().nth(1)?.parse().ok()?;
    Some(kib >> 10)
}

/// The L3 cache a CPU shares, as (kernel's cache id or None, the CPUs sharing it).
type L3 = Option<(Option<u32>, CpuList)>;

/// Finds the level-3 cache among `cpuN/cache/index*`; `None` where there is none or the
/// kernel exposes no cache information (common in VMs).
fn l3_of(cpu: &Path) -> Result<Option<u32>, TopologyError> {
    Ok(find_l3(cpu)?.and_then(|(id, _)| id))
}

fn find_l3(cpu: &Path) -> Result<L3, TopologyError> {
    let Ok(entries) = std::fs::read_dir(cpu.join("cache")) else {
        return Ok(None);
    };
    for entry in entries.flatten() {
        let dir = entry.path();
        if !entry.file_name().to_string_lossy().starts_with("index") {
            continue;
        }
        if !std::fs::read_to_string(dir.join("level")).is_ok_and(|l| l.trim() == "3") {
            continue;
        }
        let shared = list(&dir.join("shared_cpu_list"))?;
        let id = std::fs::read_to_string(dir.join("id"))
            .ok()
            .and_then(|t| t.trim().parse().ok());
        return Ok(Some((id, shared)));
    }
    Ok(None)
}

/// Gives L3 groups without a kernel id (older kernels) a number: their rank by lowest CPU.
fn number_l3s(cpus: &mut [Cpu], cpu_dir: &Path) -> Result<(), TopologyError> {
    if cpus.iter().all(|c| c.l3.is_some()) {
        return Ok(());
    }
    let mut groups: Vec<CpuList> = Vec::new();
    for cpu in cpus.iter() {
        if let Some((_, shared)) = find_l3(&cpu_dir.join(format!("cpu{}", cpu.id)))? {
            if !groups.contains(&shared) {
                groups.push(shared);
            }
        }
    }
    groups.sort_by_key(|g| g.first());
    for cpu in cpus.iter_mut() {
        if cpu.l3.is_none() {
            cpu.l3 = groups
                .iter()
                .position(|g| g.contains(cpu.id))
                .map(|i| i as u32);
        }
    }
    Ok(())
}

/// Makes (socket, core) groups equal the kernel's sibling lists; where they differ, each
/// core is named by its lowest online sibling.
fn reconcile_cores(cpus: &mut [Cpu], siblings: &[CpuList], online: &CpuList) {
    let online_siblings =
        |s: &CpuList| -> CpuList { s.iter().filter(|c| online.contains(*c)).collect() };
    let consistent = cpus.iter().zip(siblings).all(|(cpu, sib)| {
        let same_core: CpuList = cpus
            .iter()
            .filter(|c| (c.socket, c.core) == (cpu.socket, cpu.core))
            .map(|c| c.id)
            .collect();
        same_core == online_siblings(sib)
    });
    if consistent {
        return;
    }
    for (cpu, sib) in cpus.iter_mut().zip(siblings) {
        cpu.core = online_siblings(sib).first().unwrap_or(cpu.id);
    }
}

fn read(path: &Path) -> Result<String, TopologyError> {
    std::fs::read_to_string(path).map_err(|source| TopologyError::Read {
        path: path.display().to_string(),
        source,
    })
}

fn signed(path: &Path) -> Result<i64, TopologyError> {
    let text = read(path)?;
    text.trim().parse().map_err(|_| {
        TopologyError::Invalid(format!(
            "{}: {:?} is not a number",
            path.display(),
            text.trim()
        ))
    })
}

fn number(path: &Path) -> Result<u32, TopologyError> {
    u32::try_from(signed(path)?).map_err(|_| {
        TopologyError::Invalid(format!(
            "{}: not a CPU, core or node number",
            path.display()
        ))
    })
}

fn list(path: &Path) -> Result<CpuList, TopologyError> {
    let text = read(path)?;
    CpuList::parse(text.trim())
        .map_err(|e| TopologyError::Invalid(format!("{}: {:?}: {e}", path.display(), text.trim())))
}

/// A fake sysfs tree for tests: `(cpu, core, package, siblings, l3 shared list)`.
#[cfg(test)]
pub(crate) fn fake_tree(
    root: &Path,
    cpus: &[(u32, u32, i32, &str, Option<&str>)],
    nodes: &[(u32, &str)],
) {
    let w = |p: std::path::PathBuf, text: &str| {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, format!("{text}\n")).unwrap();
    };
    let cpu_dir = root.join("sys/devices/system/cpu");
    let online: CpuList = cpus.iter().map(|c| c.0).collect();
    w(cpu_dir.join("online"), &online.to_string());
    for &(id, core, pkg, sib, l3) in cpus {
        let t = cpu_dir.join(format!("cpu{id}/topology"));
        w(t.join("core_id"), &core.to_string());
        w(t.join("physical_package_id"), &pkg.to_string());
        w(t.join("thread_siblings_list"), sib);
        let c = cpu_dir.join(format!("cpu{id}/cache"));
        w(c.join("index0/level"), "1");
        w(c.join("index0/shared_cpu_list"), sib);
        if let Some(l3) = l3 {
            w(c.join("index3/level"), "3");
            w(c.join("index3/shared_cpu_list"), l3);
        }
    }
    for &(id, list) in nodes {
        let n = root.join(format!("sys/devices/system/node/node{id}"));
        w(n.join("cpulist"), list);
        w(
            n.join("meminfo"),
            &format!("Node {id} MemTotal:       4194304 kB\nNode {id} MemFree:  1 kB"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_sockets_smt_two_nodes() {
        let dir = tempfile::tempdir().unwrap();
        // Siblings apart (0,4 on one core), as Intel numbers them.
        let cpus = [
            (0, 0, 0, "0,4", Some("0-1,4-5")),
            (1, 1, 0, "1,5", Some("0-1,4-5")),
            (2, 0, 1, "2,6", Some("2-3,6-7")),
            (3, 1, 1, "3,7", Some("2-3,6-7")),
            (4, 0, 0, "0,4", Some("0-1,4-5")),
            (5, 1, 0, "1,5", Some("0-1,4-5")),
            (6, 0, 1, "2,6", Some("2-3,6-7")),
            (7, 1, 1, "3,7", Some("2-3,6-7")),
        ];
        fake_tree(dir.path(), &cpus, &[(0, "0-1,4-5"), (1, "2-3,6-7")]);
        let topo = from_root(dir.path(), "fake").unwrap();
        assert_eq!(topo.cpus.len(), 8);
        assert_eq!(topo.cores().len(), 4);
        assert_eq!(topo.sockets(), 2);
        assert_eq!(topo.threads_per_core(), 2);
        assert_eq!(topo.nodes.len(), 2);
        assert_eq!(topo.nodes[1].memory_mib, Some(4096));
        assert_eq!(topo.nodes[1].cpus.to_string(), "2-3,6-7");
        let six = &topo.cpus[6];
        assert_eq!((six.core, six.socket, six.node, six.l3), (0, 1, 1, Some(1)));
        assert_eq!(topo.cores()[0].cpus.to_string(), "0,4");
    }

    #[test]
    fn no_numa_no_cache_a_small_vm() {
        let dir = tempfile::tempdir().unwrap();
        fake_tree(
            dir.path(),
            &[(0, 0, 0, "0", None), (1, 1, 0, "1", None)],
            &[],
        );
        std::fs::remove_dir_all(dir.path().join("sys/devices/system/cpu/cpu0/cache")).unwrap();
        let topo = from_root(dir.path(), "fake").unwrap();
        assert_eq!(topo.cores().len(), 2);
        assert_eq!(topo.nodes.len(), 1);
        assert_eq!(topo.nodes[0].id, 0);
        assert!(topo.cpus.iter().all(|c| c.l3.is_none()));
    }

    #[test]
    fn repeated_core_ids_across_dies_follow_the_sibling_lists() {
        let dir = tempfile::tempdir().unwrap();
        // Two dies in one package, both numbering their core 0: four cores, not two.
        fake_tree(
            dir.path(),
            &[
                (0, 0, 0, "0", None),
                (1, 1, 0, "1", None),
                (2, 0, 0, "2", None),
                (3, 1, 0, "3", None),
            ],
            &[],
        );
        let topo = from_root(dir.path(), "fake").unwrap();
        assert_eq!(topo.cores().len(), 4);
    }

    #[test]
    fn offline_cpus_are_left_out_and_missing_files_named() {
        let dir = tempfile::tempdir().unwrap();
        fake_tree(
            dir.path(),
            &[(0, 0, 0, "0-1", None), (1, 0, 0, "0-1", None)],
            &[],
        );
        std::fs::write(dir.path().join("sys/devices/system/cpu/online"), "0\n").unwrap();
        let topo = from_root(dir.path(), "fake").unwrap();
        assert_eq!(topo.cpus.len(), 1);
        assert_eq!(topo.cores()[0].cpus.to_string(), "0");
        let err = from_root(&dir.path().join("nothing"), "fake")
            .unwrap_err()
            .to_string();
        assert!(err.contains("sys/devices/system/cpu/online"), "{err}");
    }

    #[test]
    fn this_host_agrees_with_the_kernel_on_the_cpu_count() {
        let topo = from_host().unwrap();
        let n = std::thread::available_parallelism().unwrap().get();
        assert!(topo.cpus.len() >= n, "{} < {n}", topo.cpus.len());
    }
}
