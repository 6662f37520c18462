//! Reading a QEMU process's memory map: the mapping that holds a RAM backend, and whether
//! guest RAM sits in huge pages (/proc/PID/maps and /proc/PID/smaps, proc(5)).

use std::fs;
use std::path::Path;

use anyhow::{bail, Context, Result};

use super::ram::Backing;
use crate::backend::regions::Region;

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
}
