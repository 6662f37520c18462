//! The writable memory of a process, from /proc/PID/maps: what a checkpoint would have to
//! copy. Read-only mappings (code, shared libraries' text) cannot be dirtied and are skipped.

use crate::backend::regions::{Region, RegionSource};
use anyhow::{Context, Result};

/// The writable mappings of one process, with virtual page numbers as page numbers.
pub struct ProcessMemory {
    pid: i32,
    page_size: u64,
}

impl ProcessMemory {
    pub fn new(pid: i32, page_size: u64) -> Self {
        Self { pid, page_size }
    }
}

impl RegionSource for ProcessMemory {
    fn pid(&self) -> i32 {
        self.pid
    }

    fn regions(&mut self) -> Result<Vec<Region>> {
        let maps = std::fs::read_to_string(format!("/proc/{}/maps", self.pid))
            .with_context(|| format!("cannot read /proc/{}/maps", self.pid))?;
        Ok(parse_writable(&maps, self.page_size))
    }
}

/// Writable regions of a maps file, in address order.
pub fn parse_writable(maps: &str, page_size: u64) -> Vec<Region> {
    maps.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let range = fields.next()?;
            let perms = fields.next()?;
            let path = fields.nth(3).unwrap_or("");
            if perms.as_bytes().get(1) != Some(&b'w') || path == "[vvar]" || path == "[vsyscall]" {
                return None;
            }
            let (start, end) = range.split_once('-')?;
            let start = u64::from_str_radix(start, 16).ok()?;
            let end = u64::from_str_radix(end, 16).ok()?;
            (end > start).then(|| Region {
                start,
                pages: (end - start) / page_size,
                first_page_number: start / page_size,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_writable() {
        let maps = "\
55d0c0000000-55d0c0002000 r-xp 00000000 fd:01 123  /usr/bin/x
55d0c0002000-55d0c0003000 rw-p 00002000 fd:01 123  /usr/bin/x
7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0    [stack]
7ffd00100000-7ffd00102000 r--p 00000000 00:00 0    [vvar]
ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0  [vsyscall]
7f0000000000-7f0000001000 rw-s 00000000 00:05 77   /dev/shm/x";
        let regions = parse_writable(maps, 4096);
        assert_eq!(regions.len(), 3);
        assert_eq!(regions[0].pages, 1);
        assert_eq!(regions[1].pages, 0x21);
        assert_eq!(regions[0].first_page_number, 0x55d0c0002);
    }

    #[test]
    fn own_process_has_writable_memory() {
        let mut memory = ProcessMemory::new(std::process::id() as i32, 4096);
        assert!(!memory.regions().unwrap().is_empty());
    }
}
