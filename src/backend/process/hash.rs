//! The `hash` method: hash every resident writable page each epoch and compare.
//!
//! Exact for content changes (a write of the same value is invisible, as it is to a
//! checkpoint that compares content), needs nothing from the kernel but process_vm_readv and
//! pagemap, and costs one pass over resident memory per epoch. Pages that are not resident
//! are not read (reading would fault them in). A page that is not resident reads as zeros,
//! so it is recorded with the hash of a zero page: a page that becomes resident counts as
//! dirty only when it holds something else (a read fault that maps the shared zero page, as
//! QEMU's own calc-dirty-rate sampling causes, is not a write), and one that goes away does
//! not count.

use super::pagehash::page_hash;
use super::scanner::DirtyScanner;
use crate::backend::regions::{Region, RegionSource};
use crate::pageset::PageSet;
use crate::sys::pagemap::{Pagemap, PRESENT};
use crate::sys::vmread;
use anyhow::{Context, Result};
use std::collections::BTreeMap;

/// Pages read per process_vm_readv call: 256 KiB, so the copy is still in L2 when hashed.
const READ_PAGES: usize = 64;
/// Pagemap entries read per call.
const PAGEMAP_BATCH: usize = 16_384;

/// Per-page hashes of every writable region, keyed by region start address.
pub struct HashScanner {
    page_size: u64,
    hashes: BTreeMap<u64, Vec<u64>>,
    pagemap: Pagemap,
    entries: Vec<u64>,
    buf: Vec<u8>,
    resident_pages: u64,
    scanned_bytes: u64,
    /// The hash of a page of zeros: what a page that is not resident reads as.
    absent: u64,
}

impl HashScanner {
    pub fn new(pid: i32, page_size: u64) -> Result<Self> {
        Ok(Self {
            page_size,
            hashes: BTreeMap::new(),
            pagemap: Pagemap::open(pid)
                .with_context(|| format!("cannot open /proc/{pid}/pagemap"))?,
            entries: Vec::new(),
            buf: vec![0; READ_PAGES * page_size as usize],
            resident_pages: 0,
            scanned_bytes: 0,
            absent: page_hash(&vec![0u8; page_size as usize]),
        })
    }

    /// One pass over all regions; `dirty` receives changed pages unless this is the baseline.
    fn pass(
        &mut self,
        source: &mut dyn RegionSource,
        mut dirty: Option<&mut PageSet>,
    ) -> Result<()> {
        let pid = source.pid();
        let regions = source.regions()?;
        let mut previous = std::mem::take(&mut self.hashes);
        self.resident_pages = 0;
        self.scanned_bytes = 0;
        for region in &regions {
            let mut hashes = previous.remove(&region.start).unwrap_or_default();
            // A region that grew (the heap) gains absent pages; one that shrank loses its tail.
            hashes.resize(region.pages as usize, self.absent);
            self.scan_region(pid, region, &mut hashes, dirty.as_deref_mut())?;
            self.hashes.insert(region.start, hashes);
        }
        Ok(())
    }

    fn scan_region(
        &mut self,
        pid: i32,
        region: &Region,
        hashes: &mut [u64],
        mut dirty: Option<&mut PageSet>,
    ) -> Result<()> {
        let page = self.page_size as usize;
        let first_vpn = region.start / self.page_size;
        let mut offset = 0usize;
        while offset < hashes.len() {
            let count = PAGEMAP_BATCH.min(hashes.len() - offset);
            self.pagemap
                .read(first_vpn + offset as u64, count, &mut self.entries)
                .with_context(|| format!("cannot read /proc/{pid}/pagemap"))?;
            let mut i = 0;
            while i < count {
                if self.entries[i] & PRESENT == 0 {
                    // Swapped or never touched: keep a swapped page's hash, it did not change.
                    if self.entries[i] & crate::sys::pagemap::SWAPPED == 0 {
                        hashes[offset + i] = self.absent;
                    }
                    i += 1;
                    continue;
                }
                // A run of resident pages, read in one call.
                let mut run = 1;
                while i + run < count && run < READ_PAGES && self.entries[i + run] & PRESENT != 0 {
                    run += 1;
                }
                let address = region.start + ((offset + i) * page) as u64;
                let read = vmread::read_range(pid, address, &mut self.buf[..run * page])
                    .with_context(|| format!("cannot read the memory of process {pid}"))?;
                self.scanned_bytes += read as u64;
                for p in 0..run {
                    let slot = offset + i + p;
                    if (p + 1) * page > read {
                        hashes[slot] = self.absent; // unmapped while we read
                        continue;
                    }
                    let hash = page_hash(&self.buf[p * page..(p + 1) * page]);
                    if hashes[slot] != hash {
                        if let Some(set) = dirty.as_deref_mut() {
                            set.insert(region.first_page_number + slot as u64);
                        }
                        hashes[slot] = hash;
                    }
                    self.resident_pages += 1;
                }
                i += run;
            }
            offset += count;
        }
        Ok(())
    }
}

impl DirtyScanner for HashScanner {
    fn baseline(&mut self, source: &mut dyn RegionSource) -> Result<()> {
        self.pass(source, None)
    }

    fn scan(&mut self, source: &mut dyn RegionSource) -> Result<PageSet> {
        let mut dirty = PageSet::new();
        self.pass(source, Some(&mut dirty))?;
        Ok(dirty)
    }

    fn scale(&self) -> f64 {
        1.0
    }

    fn watched_bytes(&self) -> u64 {
        self.resident_pages * self.page_size
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::process::memory::ProcessMemory;

    /// Scans a buffer of this test process: writes to 3 of its pages must be found.
    #[test]
    fn finds_written_pages_of_own_buffer() {
        let page = 4096usize;
        let mut buffer = vec![1u8; 64 * page];
        let pid = std::process::id() as i32;
        let base = (buffer.as_ptr() as u64).div_ceil(page as u64) * page as u64;
        struct One(i32, Region);
        impl RegionSource for One {
            fn pid(&self) -> i32 {
                self.0
            }
            fn regions(&mut self) -> Result<Vec<Region>> {
                Ok(vec![self.1])
            }
        }
        let mut source = One(
            pid,
            Region {
                start: base,
                pages: 60,
                first_page_number: 1000,
            },
        );
        let mut scanner = HashScanner::new(pid, page as u64).unwrap();
        scanner.baseline(&mut source).unwrap();
        assert_eq!(scanner.watched_bytes(), 60 * page as u64);
        let start = (base - buffer.as_ptr() as u64) as usize;
        for p in [0usize, 5, 59] {
            buffer[start + p * page + 17] = 9;
        }
        std::hint::black_box(&buffer);
        let dirty = scanner.scan(&mut source).unwrap();
        assert_eq!(dirty.iter().collect::<Vec<_>>(), vec![1000, 1005, 1059]);
        assert!(scanner.scan(&mut source).unwrap().is_empty());
        // The whole process's memory scans too.
        let mut whole = ProcessMemory::new(pid, page as u64);
        scanner.baseline(&mut whole).unwrap();
        assert!(scanner.watched_bytes() > 0);
    }

    /// Pages that become resident by a read (the zero page) are not dirty; pages that
    /// become resident by a write of something else are.
    #[test]
    fn first_touch_counts_only_real_writes() {
        let page = 4096usize;
        let pages = 8;
        // SAFETY: a fresh private anonymous mapping, unmapped at the end of the test.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                pages * page,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(base, libc::MAP_FAILED);
        let base = base as *mut u8;
        struct One(Region);
        impl RegionSource for One {
            fn pid(&self) -> i32 {
                std::process::id() as i32
            }
            fn regions(&mut self) -> Result<Vec<Region>> {
                Ok(vec![self.0])
            }
        }
        let mut source = One(Region {
            start: base as u64,
            pages: pages as u64,
            first_page_number: 0,
        });
        let mut scanner = HashScanner::new(std::process::id() as i32, page as u64).unwrap();
        scanner.baseline(&mut source).unwrap();
        // SAFETY: every offset is inside the mapping.
        unsafe {
            for p in 0..4 {
                std::ptr::read_volatile(base.add(p * page)); // read faults: zero page
            }
            std::ptr::write_volatile(base.add(5 * page), 0); // a write of zeros
            std::ptr::write_volatile(base.add(6 * page + 9), 42); // a real change
        }
        let dirty = scanner.scan(&mut source).unwrap();
        assert_eq!(dirty.iter().collect::<Vec<_>>(), vec![6]);
        // SAFETY: unmapping what we mapped above.
        unsafe { libc::munmap(base.cast(), pages * page) };
    }
}
