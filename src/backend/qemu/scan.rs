//! Finding the guest pages that changed between two epochs.
//!
//! The process backend's scanners (soft-dirty, hash, sample) will serve here through
//! `RegionSource`; until they land this module has the two the QEMU backend needs, behind one
//! small trait: an exact content hash of every guest page (read through /proc/PID/mem, xxh3
//! per page: a page rewritten with its old content counts as clean, as for QEMU's own
//! page-sampling), and Linux soft-dirty bits (/proc/PID/clear_refs + /proc/PID/pagemap, which
//! count every write fault, content or not). Both report guest frame numbers.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;

use anyhow::{Context, Result};

use crate::backend::regions::{Region, RegionSource};
use crate::pageset::PageSet;

/// Bytes read from /proc/PID/mem at a time.
const CHUNK: u64 = 1 << 20;
/// Soft-dirty bit of a pagemap entry (Documentation/admin-guide/mm/soft-dirty.rst).
const PM_SOFT_DIRTY: u64 = 1 << 55;

/// A way to find pages dirtied since the previous call.
pub trait RamScanner {
    /// `hash` or `soft-dirty`.
    fn name(&self) -> &'static str;
    /// Why this method finds every dirtied page (or what it misses).
    fn reason(&self) -> &'static str;
    /// Takes the baseline.
    fn baseline(&mut self, source: &mut dyn RegionSource) -> Result<()>;
    /// Pages dirtied since the previous call.
    fn scan(&mut self, source: &mut dyn RegionSource) -> Result<PageSet>;
}

/// Exact content hashes of every page.
pub struct HashScanner {
    page_size: u64,
    mem: Option<File>,
    previous: Vec<(Region, Vec<u64>)>,
}

impl HashScanner {
    pub fn new(page_size: u64) -> Self {
        HashScanner {
            page_size,
            mem: None,
            previous: Vec::new(),
        }
    }

    fn hashes(&mut self, pid: i32, region: &Region) -> Result<Vec<u64>> {
        if self.mem.is_none() {
            self.mem = Some(
                File::open(format!("/proc/{pid}/mem"))
                    .with_context(|| format!("cannot open /proc/{pid}/mem: run as root"))?,
            );
        }
        let mem = self.mem.as_ref().expect("opened above");
        let mut out = Vec::with_capacity(region.pages as usize);
        let mut buf = vec![0u8; CHUNK as usize];
        let total = region.pages * self.page_size;
        let mut done = 0;
        while done < total {
            let n = CHUNK.min(total - done) as usize;
            mem.read_exact_at(&mut buf[..n], region.start + done)
                .with_context(|| {
                    format!(
                        "cannot read guest RAM of QEMU {pid} at {:#x}",
                        region.start + done
                    )
                })?;
            out.extend(
                buf[..n]
                    .chunks_exact(self.page_size as usize)
                    .map(xxhash_rust::xxh3::xxh3_64),
            );
            done += n as u64;
        }
        Ok(out)
    }
}

impl RamScanner for HashScanner {
    fn name(&self) -> &'static str {
        "hash"
    }
    fn reason(&self) -> &'static str {
        "every guest page hashed each epoch: exact for content changes"
    }
    fn baseline(&mut self, source: &mut dyn RegionSource) -> Result<()> {
        let pid = source.pid();
        self.previous.clear();
        for region in source.regions()? {
            let h = self.hashes(pid, &region)?;
            self.previous.push((region, h));
        }
        Ok(())
    }
    fn scan(&mut self, source: &mut dyn RegionSource) -> Result<PageSet> {
        let pid = source.pid();
        let mut dirty = PageSet::new();
        let regions = source.regions()?;
        let mut next = Vec::with_capacity(regions.len());
        for region in regions {
            let now = self.hashes(pid, &region)?;
            match self.previous.iter().find(|(r, _)| *r == region) {
                Some((_, before)) => {
                    for (i, (a, b)) in before.iter().zip(&now).enumerate() {
                        if a != b {
                            dirty.insert(region.first_page_number + i as u64);
                        }
                    }
                }
                None => (0..region.pages).for_each(|i| dirty.insert(region.first_page_number + i)),
            }
            next.push((region, now));
        }
        self.previous = next;
        Ok(dirty)
    }
}

/// Linux soft-dirty bits: clear, let the guest run, read which pages were written.
pub struct SoftDirtyScanner {
    page_size: u64,
    pagemap: Option<File>,
}

impl SoftDirtyScanner {
    pub fn new(page_size: u64) -> Self {
        SoftDirtyScanner {
            page_size,
            pagemap: None,
        }
    }

    fn clear(pid: i32) -> Result<()> {
        let mut f = OpenOptions::new()
            .write(true)
            .open(format!("/proc/{pid}/clear_refs"))
            .with_context(|| format!("cannot open /proc/{pid}/clear_refs: run as root"))?;
        f.write_all(b"4")
            .with_context(|| format!("cannot clear soft-dirty bits of QEMU {pid} (kernel without CONFIG_MEM_SOFT_DIRTY?)"))
    }
}

impl RamScanner for SoftDirtyScanner {
    fn name(&self) -> &'static str {
        "soft-dirty"
    }
    fn reason(&self) -> &'static str {
        "kernel soft-dirty bits over the guest's RAM mapping: exact for every write"
    }
    fn baseline(&mut self, source: &mut dyn RegionSource) -> Result<()> {
        Self::clear(source.pid())
    }
    fn scan(&mut self, source: &mut dyn RegionSource) -> Result<PageSet> {
        let pid = source.pid();
        if self.pagemap.is_none() {
            self.pagemap = Some(
                File::open(format!("/proc/{pid}/pagemap"))
                    .with_context(|| format!("cannot open /proc/{pid}/pagemap: run as root"))?,
            );
        }
        let pagemap = self.pagemap.as_ref().expect("opened above");
        let mut dirty = PageSet::new();
        let mut buf = vec![0u8; 8 * 32768];
        for region in source.regions()? {
            let mut done = 0;
            while done < region.pages {
                let n = (region.pages - done).min(32768);
                let offset = (region.start / self.page_size + done) * 8;
                pagemap
                    .read_exact_at(&mut buf[..n as usize * 8], offset)
                    .with_context(|| format!("cannot read /proc/{pid}/pagemap"))?;
                for (i, e) in buf[..n as usize * 8].chunks_exact(8).enumerate() {
                    let entry = u64::from_le_bytes(e.try_into().expect("8 bytes"));
                    if entry & PM_SOFT_DIRTY != 0 {
                        dirty.insert(region.first_page_number + done + i as u64);
                    }
                }
                done += n;
            }
        }
        Self::clear(pid)?;
        Ok(dirty)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Our own heap as a region source.
    struct Own {
        region: Region,
    }
    impl RegionSource for Own {
        fn pid(&self) -> i32 {
            std::process::id() as i32
        }
        fn regions(&mut self) -> Result<Vec<Region>> {
            Ok(vec![self.region])
        }
    }

    fn own_buffer(pages: usize) -> (Vec<u8>, Own) {
        let ps = crate::backend::qemu::ram::page_size() as usize;
        let mut v = vec![1u8; (pages + 1) * ps];
        let start = (v.as_mut_ptr() as usize).div_ceil(ps) * ps;
        let own = Own {
            region: Region {
                start: start as u64,
                pages: pages as u64,
                first_page_number: 1000,
            },
        };
        (v, own)
    }

    #[test]
    fn hash_scanner_sees_exactly_the_changed_pages() {
        let ps = crate::backend::qemu::ram::page_size() as usize;
        let (mut v, mut own) = own_buffer(16);
        let base = own.region.start as usize - v.as_ptr() as usize;
        let mut s = HashScanner::new(ps as u64);
        s.baseline(&mut own).unwrap();
        v[base + 3 * ps + 7] = 9;
        v[base + 11 * ps] = 9;
        let d = s.scan(&mut own).unwrap();
        assert_eq!(d.len(), 2);
        assert!(d.contains(1003) && d.contains(1011));
        assert!(s.scan(&mut own).unwrap().is_empty());
        std::hint::black_box(&v);
    }
}
