//! The `soft-dirty` method: `echo 4 > /proc/PID/clear_refs`, then pagemap bit 55
//! (interfaces.md §5.1–5.2).
//!
//! Exact and cheap, but only on kernels built with CONFIG_MEM_SOFT_DIRTY. Without it,
//! writing 4 succeeds and does nothing and bit 55 stays 0, so support must be probed by
//! experiment, not by whether the write worked. Clearing resets state that CRIU's
//! incremental dumps rely on, so the method is refused while CRIU runs.

use super::scanner::DirtyScanner;
use crate::backend::regions::RegionSource;
use crate::pageset::PageSet;
use crate::sys::pagemap::{Pagemap, PRESENT, SOFT_DIRTY, SWAPPED};
use anyhow::{Context, Result};
use std::io::Write;

/// Why `auto` does not use soft-dirty in a Xen PV domain such as Dom-0.
pub const XEN_PV_UNDERCOUNT: &str = "soft-dirty is not trusted in a Xen PV domain (this is \
    one, e.g. Dom-0): in the Xen lab it counted 14-35 % fewer pages than a known workload wrote, \
    while hashing was within 4 %";

/// True inside a Xen PV domain, where Xen owns the page tables and soft-dirty under-counts
/// (seen in the Xen lab, tests/xen-lab/README.md). `hypervisor` is normally /sys/hypervisor.
pub fn in_xen_pv_domain(hypervisor: &std::path::Path) -> bool {
    let read = |name: &str| {
        std::fs::read_to_string(hypervisor.join(name))
            .map(|s| s.trim().to_ascii_lowercase())
            .unwrap_or_default()
    };
    read("type") == "xen" && matches!(read("guest_type").as_str(), "pv" | "")
}

/// Checks, on a page of our own, that clearing and then writing really sets bit 55.
/// Returns why not when it does not.
pub fn probe() -> Result<(), String> {
    let page_size = crate::sys::page_size();
    let mut page = vec![0u8; 2 * page_size];
    let offset = page.as_ptr().align_offset(page_size);
    let address = page[offset..].as_ptr() as u64;
    page[offset] = 1;
    let pagemap = Pagemap::open(std::process::id() as i32)
        .map_err(|err| format!("cannot open /proc/self/pagemap: {err}"))?;
    clear_refs(std::process::id() as i32)
        .map_err(|err| format!("cannot write /proc/self/clear_refs: {err}"))?;
    let mut entry = Vec::new();
    let vpn = address / page_size as u64;
    let read_bit = |entry: &mut Vec<u64>| -> Result<bool, String> {
        pagemap
            .read(vpn, 1, entry)
            .map_err(|err| format!("cannot read /proc/self/pagemap: {err}"))?;
        Ok(entry[0] & SOFT_DIRTY != 0)
    };
    let after_clear = read_bit(&mut entry)?;
    // A volatile write, so the compiler cannot drop it.
    // SAFETY: `offset` is inside `page`, which we own mutably.
    unsafe { std::ptr::write_volatile(page.as_mut_ptr().add(offset), 2) };
    let after_write = read_bit(&mut entry)?;
    std::hint::black_box(&page);
    match (after_clear, after_write) {
        (false, true) => Ok(()),
        (_, false) => Err(
            "the kernel has no soft-dirty tracking (CONFIG_MEM_SOFT_DIRTY is off: \
             clear_refs accepts 4 but pagemap bit 55 never sets)"
                .into(),
        ),
        (true, true) => Err("clear_refs 4 did not clear pagemap bit 55".into()),
    }
}

fn clear_refs(pid: i32) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .open(format!("/proc/{pid}/clear_refs"))?;
    file.write_all(b"4")
}

/// Reads bit 55 of every writable page, then clears the bits for the next epoch.
pub struct SoftDirtyScanner {
    page_size: u64,
    pagemap: Pagemap,
    entries: Vec<u64>,
    mapped_pages: u64,
}

impl SoftDirtyScanner {
    pub fn new(pid: i32, page_size: u64) -> Result<Self> {
        Ok(Self {
            page_size,
            pagemap: Pagemap::open(pid)
                .with_context(|| format!("cannot open /proc/{pid}/pagemap"))?,
            entries: Vec::new(),
            mapped_pages: 0,
        })
    }
}

impl DirtyScanner for SoftDirtyScanner {
    fn baseline(&mut self, source: &mut dyn RegionSource) -> Result<()> {
        let pid = source.pid();
        clear_refs(pid).with_context(|| format!("cannot write /proc/{pid}/clear_refs"))?;
        self.mapped_pages = source.regions()?.iter().map(|r| r.pages).sum();
        Ok(())
    }

    fn scan(&mut self, source: &mut dyn RegionSource) -> Result<PageSet> {
        let pid = source.pid();
        let mut dirty = PageSet::new();
        let regions = source.regions()?;
        self.mapped_pages = 0;
        for region in &regions {
            self.pagemap
                .read(
                    region.start / self.page_size,
                    region.pages as usize,
                    &mut self.entries,
                )
                .with_context(|| format!("cannot read /proc/{pid}/pagemap"))?;
            for (i, entry) in self.entries.iter().enumerate() {
                // New mappings report soft-dirty before they are touched: count only pages
                // that really exist.
                if entry & SOFT_DIRTY != 0 && entry & (PRESENT | SWAPPED) != 0 {
                    dirty.insert(region.first_page_number + i as u64);
                }
            }
            self.mapped_pages += region.pages;
        }
        clear_refs(pid).with_context(|| format!("cannot write /proc/{pid}/clear_refs"))?;
        Ok(dirty)
    }

    fn scale(&self) -> f64 {
        1.0
    }

    fn watched_bytes(&self) -> u64 {
        self.mapped_pages * self.page_size
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn xen_pv_domains_are_recognised() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!super::in_xen_pv_domain(dir.path()), "no hypervisor");
        std::fs::write(dir.path().join("type"), "xen\n").unwrap();
        assert!(
            super::in_xen_pv_domain(dir.path()),
            "old kernels have no guest_type"
        );
        std::fs::write(dir.path().join("guest_type"), "PV\n").unwrap();
        assert!(super::in_xen_pv_domain(dir.path()));
        std::fs::write(dir.path().join("guest_type"), "PVH\n").unwrap();
        assert!(!super::in_xen_pv_domain(dir.path()));
    }

    /// The probe must give a definite answer; on these machines (no CONFIG_MEM_SOFT_DIRTY)
    /// it must say so rather than claim support.
    #[test]
    fn probe_agrees_with_the_kernel_config() {
        let result = super::probe();
        let config = std::fs::read_to_string(format!(
            "/boot/config-{}",
            std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .unwrap()
                .trim()
        ))
        .ok();
        if let Some(config) = config {
            let enabled = config.contains("CONFIG_MEM_SOFT_DIRTY=y");
            assert_eq!(result.is_ok(), enabled, "{result:?}");
        } else if let Err(why) = result {
            assert!(
                why.contains("soft-dirty") || why.contains("bit 55"),
                "{why}"
            );
        }
    }
}
