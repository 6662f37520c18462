//! Memory regions of a process that the dirty-page scanners walk.
//!
//! The scanners (soft-dirty, hash, sample) work on a process's address space but report page
//! numbers in the target's own numbering: virtual page numbers for a plain process, guest
//! frame numbers for the RAM of a QEMU guest. A region says where it lives in the process and
//! which page number its first page has, so one scanner serves both.

use anyhow::Result;

/// A range of a process's virtual memory, and the page number of its first page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    /// Start address in the process (page aligned).
    pub start: u64,
    /// Length in pages.
    pub pages: u64,
    /// Page number reported for the region's first page.
    pub first_page_number: u64,
}

impl Region {
    /// The address just past the region, for a page size.
    pub fn end(&self, page_size: u64) -> u64 {
        self.start + self.pages * page_size
    }
}

/// Gives the regions to scan, re-read at every epoch (a process maps and unmaps memory).
pub trait RegionSource {
    /// The process whose memory the regions belong to.
    fn pid(&self) -> i32;
    /// The regions as they are now, sorted by start address, not overlapping.
    fn regions(&mut self) -> Result<Vec<Region>>;
}
