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
//! Guest frame numbers follow the x86 PC layouts of QEMU's hw/i386/pc_piix.c and pc_q35.c:
//! RAM below the PCI hole starts at frame 0, the rest continues at 4 GiB. For other machines
//! the page numbers are offsets into the RAM backend, which changes no count.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};

use super::qmp::Execute;
use crate::backend::regions::{Region, RegionSource};

const GIB: u64 = 1 << 30;

/// One line of /proc/PID/maps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    pub start: u64,
    pub end: u64,
    pub perms: String,
    pub offset: u64,
    /// The path column, if any (`/dev/shm/vm (deleted)`, `[heap]`, …).
    pub path: Option<String>,
}

impl Mapping {
    fn len(&self) -> u64 {
        self.end - self.start
    }
    fn writable(&self) -> bool {
        self.perms.as_bytes().get(1) == Some(&b'w')
    }
}

/// Parses the text of /proc/PID/maps.
pub fn parse_maps(text: &str) -> Vec<Mapping> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.splitn(6, ' ');
            let range = fields.next()?;
            let perms = fields.next()?.to_string();
            let offset = u64::from_str_radix(fields.next()?, 16).ok()?;
            let _dev = fields.next()?;
            let _inode = fields.next()?;
            let path = fields.next().map(str::trim).filter(|p| !p.is_empty());
            let (start, end) = range.split_once('-')?;
            Some(Mapping {
                start: u64::from_str_radix(start, 16).ok()?,
                end: u64::from_str_radix(end, 16).ok()?,
                perms,
                offset,
                path: path.map(str::to_string),
            })
        })
        .collect()
}

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

/// Bytes of guest RAM that the kernel maps, or may map at any time, with pages larger than the
/// base page: transparent huge pages (QEMU asks for them with MADV_HUGEPAGE on its RAM) or
/// hugetlbfs. Soft-dirty tracks such a page as a whole, so one 4 KiB write marks 2 MiB dirty.
pub fn huge_page_bytes(pid: i32, regions: &[Region], page_size: u64) -> Result<u64> {
    let text = fs::read_to_string(format!("/proc/{pid}/smaps"))
        .with_context(|| format!("cannot read /proc/{pid}/smaps"))?;
    Ok(huge_bytes_in_smaps(&text, regions, page_size))
}

/// Over the smaps entries inside `regions`: the whole size of those that are THP-eligible
/// (`THPeligible: 1`) or hugetlbfs (large `KernelPageSize`), else what is huge now
/// (AnonHugePages, ShmemPmdMapped, FilePmdMapped).
pub fn huge_bytes_in_smaps(text: &str, regions: &[Region], page_size: u64) -> u64 {
    // Per mapping inside RAM: (size, huge now, whole mapping counts).
    let mut entries: Vec<(u64, u64, bool)> = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let Some(first) = fields.next() else { continue };
        if let Some((a, b)) = first.split_once('-') {
            if let (Ok(start), Ok(end)) = (u64::from_str_radix(a, 16), u64::from_str_radix(b, 16)) {
                inside = regions
                    .iter()
                    .any(|r| start < r.end(page_size) && end > r.start);
                if inside {
                    entries.push((end - start, 0, false));
                }
                continue;
            }
        }
        let Some(entry) = entries.last_mut().filter(|_| inside) else {
            continue;
        };
        let value = fields
            .next()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        match first {
            "AnonHugePages:" | "ShmemPmdMapped:" | "FilePmdMapped:" => entry.1 += value * 1024,
            "KernelPageSize:" if value * 1024 > page_size => entry.2 = true,
            "THPeligible:" if value == 1 => entry.2 = true,
            _ => {}
        }
    }
    entries
        .iter()
        .map(|&(size, huge, whole)| if whole { size } else { huge })
        .sum()
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
        if !Path::new(&format!("/proc/{}", self.ram.pid)).exists() {
            bail!("QEMU process {} has exited", self.ram.pid);
        }
        Ok(self.ram.regions())
    }
}

pub fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions and only reads a constant of the system.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if size > 0 {
        size as u64
    } else {
        4096
    }
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

/// Where backend `id` (of `size` bytes) is mapped: the address of its offset 0.
pub fn find_mapping(
    maps: &[Mapping],
    id: &str,
    size: u64,
    backing: &Backing,
    claimed: &[u64],
) -> Result<u64> {
    let runs = merged_runs(maps);
    let fits = |m: &Mapping| {
        m.writable() && m.offset == 0 && m.len() >= size && !claimed.contains(&m.start)
    };
    let candidates: Vec<&Mapping> = match backing {
        Backing::File(mem_path) => {
            let canonical = fs::canonicalize(mem_path).unwrap_or_else(|_| mem_path.clone());
            let dir_prefix = format!("{}/qemu_back_mem.", canonical.display());
            runs.iter()
                .filter(|m| {
                    m.path.as_deref().is_some_and(|p| {
                        let p = p.strip_suffix(" (deleted)").unwrap_or(p);
                        Path::new(p) == canonical
                            || Path::new(p) == mem_path
                            || p.starts_with(&dir_prefix)
                    }) && fits(m)
                })
                .collect()
        }
        Backing::Memfd => runs
            .iter()
            .filter(|m| {
                m.path.as_deref().is_some_and(|p| p.starts_with("/memfd:"))
                    && m.len() == size
                    && fits(m)
            })
            .collect(),
        Backing::Anonymous => {
            let single: Vec<&Mapping> = maps
                .iter()
                .filter(|m| m.path.is_none() && m.len() == size && fits(m))
                .collect();
            if single.is_empty() {
                runs.iter()
                    .filter(|m| m.path.is_none() && m.len() == size && fits(m))
                    .collect()
            } else {
                single
            }
        }
    };
    match candidates.as_slice() {
        [one] => Ok(one.start),
        [] => bail!(
            "cannot find memory backend `{id}` ({} MiB, {backing:?}) in QEMU's address space \
             (/proc/PID/maps)",
            size >> 20
        ),
        many => bail!(
            "memory backend `{id}` is ambiguous: {} mappings of {} MiB fit; back guest RAM with \
             -object memory-backend-file,id=ram,mem-path=…,share=on -machine memory-backend=ram \
             so it can be found by path",
            many.len(),
            size >> 20
        ),
    }
}

/// Adjacent mappings of the same file (or adjacent anonymous ones) joined, as the kernel may
/// split one mapping into several VMAs (madvise, mlock).
fn merged_runs(maps: &[Mapping]) -> Vec<Mapping> {
    let mut runs: Vec<Mapping> = Vec::new();
    for m in maps {
        if let Some(last) = runs.last_mut() {
            let contiguous = last.end == m.start && last.path == m.path && last.perms == m.perms;
            let offset_ok = last.path.is_none() || last.offset + last.len() == m.offset;
            if contiguous && offset_ok {
                last.end = m.end;
                continue;
            }
        }
        runs.push(m.clone());
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAPS: &str = "\
556f8b7f8000-556f8c8f6000 rw-p 00000000 00:00 0                          [heap]
7f580ec00000-7f580fc00000 rw-p 00000000 00:00 0 
7f580fe00000-7f581fe00000 rw-p 00000000 00:00 0 
7f581fe00000-7f581fe01000 ---p 00000000 00:00 0 
7f25e3fff000-7f25ebfff000 rw-s 00000000 00:1b 3                          /dev/shm/vm-a
7f25ebfff000-7f25f3fff000 rw-s 08000000 00:1b 3                          /dev/shm/vm-a
7f3000000000-7f3010000000 rw-s 00000000 00:01 77                         /memfd:memory-backend-memfd (deleted)
";

    #[test]
    fn anonymous_ram_is_the_one_mapping_of_its_size() {
        let maps = parse_maps(MAPS);
        let addr = find_mapping(&maps, "pc.ram", 256 << 20, &Backing::Anonymous, &[]).unwrap();
        assert_eq!(addr, 0x7f580fe00000);
        let err = find_mapping(&maps, "pc.ram", 512 << 20, &Backing::Anonymous, &[]).unwrap_err();
        assert!(err.to_string().contains("cannot find"), "{err}");
    }

    #[test]
    fn file_ram_is_found_by_path_even_when_split() {
        let maps = parse_maps(MAPS);
        let addr = find_mapping(
            &maps,
            "ram",
            256 << 20,
            &Backing::File("/dev/shm/vm-a".into()),
            &[],
        )
        .unwrap();
        assert_eq!(addr, 0x7f25e3fff000);
        let addr = find_mapping(&maps, "m", 256 << 20, &Backing::Memfd, &[]).unwrap();
        assert_eq!(addr, 0x7f3000000000);
    }

    #[test]
    fn huge_pages_inside_guest_ram_are_counted() {
        let smaps = "\
7f580fe00000-7f581fe00000 rw-p 00000000 00:00 0 
Size:             262144 kB
KernelPageSize:        4 kB
AnonHugePages:    129024 kB
ShmemPmdMapped:        0 kB
THPeligible:    0
7f581fe00000-7f581fe01000 ---p 00000000 00:00 0 
AnonHugePages:      2048 kB
7f6000000000-7f6040000000 rw-s 00000000 00:2e 5                          /dev/hugepages/vm
KernelPageSize:     2048 kB
";
        let ram = [Region {
            start: 0x7f580fe00000,
            pages: 65536,
            first_page_number: 0,
        }];
        assert_eq!(huge_bytes_in_smaps(smaps, &ram, 4096), 129024 * 1024);
        let hugetlb = [Region {
            start: 0x7f6000000000,
            pages: 262144,
            first_page_number: 0,
        }];
        assert_eq!(huge_bytes_in_smaps(smaps, &hugetlb, 4096), 1 << 30);
        let eligible = smaps.replace("THPeligible:    0", "THPeligible:    1");
        assert_eq!(huge_bytes_in_smaps(&eligible, &ram, 4096), 256 << 20);
    }

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
