//! Where a QEMU guest's RAM lives in the QEMU process, and which guest frames it holds.
//!
//! QMP says how much RAM there is and which memory backends hold it (`query-memdev`,
//! `qom-get /machine memory-backend`, `query-memory-devices` for DIMMs); `qom-get` on each
//! backend says its type and, for `memory-backend-file`, its `mem-path`. /proc/PID/maps then
//! says where each backend is mapped: by path for file backends (or `DIR/qemu_back_mem.*` when
//! mem-path is a directory), `/memfd:memory-backend-memfd` for memfd ones, and for anonymous
//! RAM the one private writable mapping of exactly the backend's size (QEMU puts a guard page
//! after each RAM block, so the kernel never merges it with a neighbour).
//!
//! The /proc/PID/maps side lives in `maps`.
//!
//! Guest frame numbers follow the x86 PC layouts of QEMU's hw/i386/pc_piix.c and pc_q35.c:
//! RAM below the PCI hole starts at frame 0, the rest continues at 4 GiB. For other machines
//! the page numbers are offsets into the RAM backend, which changes no count.

use std::fs;
use std::path::PathBuf;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};

use super::maps::{find_mapping, parse_maps};
use super::qmp::Execute;
use crate::backend::regions::{Region, RegionSource};

const GIB: u64 = 1 << 30;

/// How a RAM backend is backed on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backing {
    /// memory-backend-file: its mem-path (a file, or a directory QEMU makes a file in).
    File(PathBuf),
    /// memory-backend-memfd.
    Memfd,
    /// memory-backend-ram, or the RAM QEMU makes itself from `-m`.
    Anonymous,
}

/// A contiguous piece of a backend that the guest sees at `gpa`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuestRange {
    /// Offset into the backend.
    pub offset: u64,
    /// Guest-physical address (or backend offset when the layout is unknown).
    pub gpa: u64,
    pub len: u64,
}

/// One RAM backend of the guest, located in the QEMU process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RamBlock {
    pub id: String,
    pub size: u64,
    pub backing: Backing,
    /// Where offset 0 of the backend is mapped in QEMU.
    pub host_addr: u64,
    pub ranges: Vec<GuestRange>,
}

/// The guest's RAM as the scanners see it.
#[derive(Debug, Clone)]
pub struct GuestRam {
    pub pid: i32,
    pub page_size: u64,
    pub blocks: Vec<RamBlock>,
    /// How page numbers were assigned, for the trace's method reason.
    pub layout: String,
}

impl GuestRam {
    /// Finds the guest's RAM in QEMU process `pid` through the QMP session `qmp`.
    pub fn locate(qmp: &mut dyn Execute, pid: i32) -> Result<GuestRam> {
        let summary = qmp.execute("query-memory-size-summary", None)?;
        let base = summary["base-memory"]
            .as_u64()
            .ok_or_else(|| anyhow!("query-memory-size-summary gave no base-memory: {summary}"))?;
        let memdevs = qmp.execute("query-memdev", None)?;
        let main_id = match qmp.execute(
            "qom-get",
            Some(json!({"path": "/machine", "property": "memory-backend"})),
        ) {
            Ok(v) => v
                .as_str()
                .map(|p| p.trim_start_matches("/objects/").to_string()),
            Err(_) => None, // QEMU < 5.0 has no such property
        };
        let main_id = main_id
            .filter(|s| !s.is_empty())
            .ok_or_else(|| anyhow!("QEMU names no main memory backend (qom-get /machine memory-backend); QEMU 5.0 or later is needed"))?;
        let machine = qom_str(qmp, "/machine", "type").unwrap_or_default();
        let max_below_4g = qom_u64(qmp, "/machine", "max-ram-below-4g");
        let page_size = page_size();
        let maps_text = fs::read_to_string(format!("/proc/{pid}/maps")).with_context(|| {
            format!("cannot read /proc/{pid}/maps: run as root or as QEMU's user")
        })?;
        let maps = parse_maps(&maps_text);

        let mut blocks = Vec::new();
        let mut claimed: Vec<u64> = Vec::new();
        let (ranges, layout) = main_layout(&machine, base, max_below_4g);
        let mut push = |qmp: &mut dyn Execute, id: &str, ranges: Vec<GuestRange>| -> Result<()> {
            let size = memdev_size(&memdevs, id)?;
            let backing = backing_of(qmp, id)?;
            let host_addr = find_mapping(&maps, id, size, &backing, &claimed)?;
            claimed.push(host_addr);
            blocks.push(RamBlock {
                id: id.to_string(),
                size,
                backing,
                host_addr,
                ranges,
            });
            Ok(())
        };
        push(qmp, &main_id, ranges)?;
        for (id, gpa, size) in memory_devices(qmp)? {
            push(
                qmp,
                &id,
                vec![GuestRange {
                    offset: 0,
                    gpa,
                    len: size,
                }],
            )?;
        }
        Ok(GuestRam {
            pid,
            page_size,
            blocks,
            layout,
        })
    }

    /// Guest RAM in bytes, all blocks.
    pub fn bytes(&self) -> u64 {
        self.blocks
            .iter()
            .flat_map(|b| b.ranges.iter())
            .map(|r| r.len)
            .sum()
    }

    /// The scan regions, sorted by host address, page numbers = guest frame numbers.
    pub fn regions(&self) -> Vec<Region> {
        let mut regions: Vec<Region> = self
            .blocks
            .iter()
            .flat_map(|b| {
                b.ranges.iter().map(move |r| Region {
                    start: b.host_addr + r.offset,
                    pages: r.len / self.page_size,
                    first_page_number: r.gpa / self.page_size,
                })
            })
            .collect();
        regions.sort_by_key(|r| r.start);
        regions
    }

    /// The host address holding guest frame `gfn`, if it is RAM.
    pub fn host_address(&self, gfn: u64) -> Option<u64> {
        self.regions().into_iter().find_map(|r| {
            (gfn >= r.first_page_number && gfn < r.first_page_number + r.pages)
                .then(|| r.start + (gfn - r.first_page_number) * self.page_size)
        })
    }
}

/// Gives the guest's RAM to the dirty-page scanners.
pub struct GuestRamSource {
    ram: GuestRam,
}

impl GuestRamSource {
    pub fn new(ram: GuestRam) -> Self {
        GuestRamSource { ram }
    }
    pub fn ram(&self) -> &GuestRam {
        &self.ram
    }
}

impl RegionSource for GuestRamSource {
    fn pid(&self) -> i32 {
        self.ram.pid
    }
    /// Guest RAM does not move while QEMU runs (memory hot-plug aside), so the regions found
    /// at the start stay valid; a QEMU that exited is reported here.
    fn regions(&mut self) -> Result<Vec<Region>> {
        if crate::backend::process::target::is_gone(self.ram.pid) {
            bail!("QEMU process {} has exited", self.ram.pid);
        }
        Ok(self.ram.regions())
    }
}

pub fn page_size() -> u64 {
    crate::sys::page_size() as u64
}

fn qom_str(qmp: &mut dyn Execute, path: &str, property: &str) -> Option<String> {
    qmp.execute("qom-get", Some(json!({"path": path, "property": property})))
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
}

fn qom_u64(qmp: &mut dyn Execute, path: &str, property: &str) -> Option<u64> {
    qmp.execute("qom-get", Some(json!({"path": path, "property": property})))
        .ok()
        .and_then(|v| v.as_u64())
}

fn memdev_size(memdevs: &Value, id: &str) -> Result<u64> {
    memdevs
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| m["id"].as_str() == Some(id))
        .and_then(|m| m["size"].as_u64())
        .ok_or_else(|| anyhow!("query-memdev does not list memory backend `{id}`"))
}

fn backing_of(qmp: &mut dyn Execute, id: &str) -> Result<Backing> {
    let path = format!("/objects/{id}");
    let kind = qom_str(qmp, &path, "type").unwrap_or_default();
    Ok(match kind.as_str() {
        "memory-backend-file" => Backing::File(PathBuf::from(
            qom_str(qmp, &path, "mem-path")
                .ok_or_else(|| anyhow!("memory backend `{id}` has no mem-path"))?,
        )),
        "memory-backend-memfd" => Backing::Memfd,
        _ => Backing::Anonymous,
    })
}

/// DIMMs and virtio-mem devices: (backend id, guest address, size).
fn memory_devices(qmp: &mut dyn Execute) -> Result<Vec<(String, u64, u64)>> {
    let devices = qmp.execute("query-memory-devices", None)?;
    let mut out = Vec::new();
    for d in devices.as_array().into_iter().flatten() {
        let data = &d["data"];
        let addr = data["addr"].as_u64().or_else(|| data["memaddr"].as_u64());
        let memdev = data["memdev"].as_str();
        if let (Some(addr), Some(size), Some(memdev)) = (addr, data["size"].as_u64(), memdev) {
            out.push((
                memdev.trim_start_matches("/objects/").to_string(),
                addr,
                size,
            ));
        }
    }
    Ok(out)
}

/// How the main RAM backend appears in guest-physical space.
pub fn main_layout(
    machine: &str,
    ram: u64,
    max_below_4g: Option<u64>,
) -> (Vec<GuestRange>, String) {
    let lowmem = if machine.contains("q35") {
        let mut low = if ram >= 0xb000_0000 {
            0x8000_0000
        } else {
            0xb000_0000
        };
        let max = max_below_4g.filter(|m| *m != 0).unwrap_or(4 * GIB);
        if low > max {
            low = max;
        }
        Some(low)
    } else if machine.starts_with("pc-i440fx") || machine == "pc" || machine.starts_with("pc-1.") {
        let max = max_below_4g.filter(|m| *m != 0).unwrap_or(0xe000_0000);
        let mut low = max;
        if ram >= max {
            low = low.min(0xc000_0000);
        }
        Some(low)
    } else {
        None
    };
    match lowmem {
        Some(low) if ram > low => (
            vec![
                GuestRange {
                    offset: 0,
                    gpa: 0,
                    len: low,
                },
                GuestRange {
                    offset: low,
                    gpa: 4 * GIB,
                    len: ram - low,
                },
            ],
            format!("guest frames of {machine}: {} MiB below 4 GiB, the rest from 4 GiB", low >> 20),
        ),
        Some(_) => (
            vec![GuestRange {
                offset: 0,
                gpa: 0,
                len: ram,
            }],
            format!("guest frames of {machine}: all RAM below 4 GiB"),
        ),
        None => (
            vec![GuestRange {
                offset: 0,
                gpa: 0,
                len: ram,
            }],
            format!("page numbers are offsets into guest RAM (layout of machine `{machine}` not modelled)"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pc_and_q35_layouts_split_at_the_pci_hole() {
        let (r, _) = main_layout("pc-i440fx-7.2-machine", 256 << 20, Some(0xe000_0000));
        assert_eq!(
            r,
            vec![GuestRange {
                offset: 0,
                gpa: 0,
                len: 256 << 20
            }]
        );
        let (r, _) = main_layout("pc-i440fx-7.2-machine", 4 * GIB, Some(0xe000_0000));
        assert_eq!(r[0].len, 3 * GIB);
        assert_eq!(
            r[1],
            GuestRange {
                offset: 3 * GIB,
                gpa: 4 * GIB,
                len: GIB
            }
        );
        let (r, _) = main_layout("pc-q35-7.2-machine", 4 * GIB, Some(0));
        assert_eq!(r[0].len, 2 * GIB);
        assert_eq!(r[1].gpa, 4 * GIB);
        let (r, _) = main_layout("pc-q35-7.2-machine", 2815 << 20, None);
        assert_eq!(
            r.len(),
            1,
            "just under 2.75 GiB stays below the hole on q35"
        );
        let (r, note) = main_layout("virt-7.2", 4 * GIB, None);
        assert_eq!(r.len(), 1);
        assert!(note.contains("offsets"));
    }
}
