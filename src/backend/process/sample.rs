//! The `sample` method: hash a fixed random sample of pages and scale, as QEMU's
//! calc-dirty-rate page-sampling mode does (N pages per GiB).
//!
//! The sample is drawn once, at the baseline, from the pages resident then (one page at
//! random from each of n equal slices of them); each epoch reads only those pages. A count of k dirty sampled pages out of n estimates k·F/n dirty pages of
//! the F-page frame. Cheap, but statistical: `stats::margin_95` gives the 95 % confidence margin.

use super::pagehash::page_hash;
use super::scanner::DirtyScanner;
use crate::backend::regions::RegionSource;
use crate::pageset::PageSet;
use crate::sys::pagemap::{Pagemap, PRESENT};
use crate::sys::vmread;
use anyhow::{Context, Result};

/// How large a sample to take.
#[derive(Debug, Clone, Copy)]
pub struct SampleSize {
    pub per_gib: u64,
    pub min: u64,
    pub seed: u64,
}

/// A fixed seed: the same target sampled twice gets the same pages, so runs compare.
pub const DEFAULT_SEED: u64 = 0x5EED_2E30_5D1C;
/// Pages hashed per GiB by default: 8× QEMU calc-dirty-rate's 512, for a narrower margin.
pub const DEFAULT_PER_GIB: u64 = 4096;
/// The fewest pages sampled by default, so small targets still get usable counts.
pub const DEFAULT_MIN: u64 = 2048;

impl Default for SampleSize {
    fn default() -> Self {
        Self::new(DEFAULT_PER_GIB, DEFAULT_MIN)
    }
}

impl SampleSize {
    pub fn new(per_gib: u64, min: u64) -> Self {
        Self {
            per_gib,
            min,
            seed: DEFAULT_SEED,
        }
    }

    /// The size from `--sample-per-gib` and `--sample-min`, refused when it samples
    /// nothing: a sample of no pages reports 0 dirty pages ±0, a wrong answer that looks sure.
    pub fn from_options(per_gib: u64, min: u64) -> Result<Self, String> {
        if per_gib == 0 && min == 0 {
            return Err(
                "--sample-per-gib 0 with --sample-min 0 samples no pages at all, which would \
                 report 0 dirty pages ±0: give at least one of them a positive value (the \
                 defaults are 4096 and 2048)"
                    .into(),
            );
        }
        Ok(Self::new(per_gib, min))
    }
}

/// A fixed sample of pages and their last hashes.
pub struct SampleScanner {
    page_size: u64,
    size: SampleSize,
    addresses: Vec<u64>,
    page_numbers: Vec<u64>,
    hashes: Vec<u64>,
    frame_pages: u64,
    buf: Vec<u8>,
}

impl SampleScanner {
    pub fn new(page_size: u64, size: SampleSize) -> Self {
        Self {
            page_size,
            size,
            addresses: Vec::new(),
            page_numbers: Vec::new(),
            hashes: Vec::new(),
            frame_pages: 0,
            buf: Vec::new(),
        }
    }

    pub fn sampled_pages(&self) -> u64 {
        self.addresses.len() as u64
    }

    pub fn frame_pages(&self) -> u64 {
        self.frame_pages
    }

    /// Reads and hashes every sampled page; unreadable pages keep their old hash.
    fn hash_all(&mut self, pid: i32, mut dirty: Option<&mut PageSet>) -> Result<()> {
        let page = self.page_size as usize;
        self.buf.resize(self.addresses.len() * page, 0);
        let ok = vmread::read_pages(pid, &self.addresses, page, &mut self.buf)
            .with_context(|| format!("cannot read the memory of process {pid}"))?;
        for (i, read) in ok.into_iter().enumerate() {
            if !read {
                continue;
            }
            let hash = page_hash(&self.buf[i * page..(i + 1) * page]);
            if self.hashes[i] != hash {
                if let Some(set) = dirty.as_deref_mut() {
                    set.insert(self.page_numbers[i]);
                }
                self.hashes[i] = hash;
            }
        }
        Ok(())
    }
}

/// The sample size for a frame of `frame_pages` pages.
pub fn sample_count(size: SampleSize, frame_pages: u64, page_size: u64) -> u64 {
    let gib = (frame_pages * page_size) as f64 / (1u64 << 30) as f64;
    ((size.per_gib as f64 * gib).ceil() as u64)
        .max(size.min)
        .min(frame_pages)
}

/// splitmix64: a small, well-mixed generator; the sample needs spread, not cryptography.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

impl DirtyScanner for SampleScanner {
    fn baseline(&mut self, source: &mut dyn RegionSource) -> Result<()> {
        let pid = source.pid();
        let pagemap =
            Pagemap::open(pid).with_context(|| format!("cannot open /proc/{pid}/pagemap"))?;
        // The frame: every resident writable page, as (address, page number).
        let mut frame = Vec::new();
        let mut entries = Vec::new();
        for region in source.regions()? {
            pagemap
                .read(
                    region.start / self.page_size,
                    region.pages as usize,
                    &mut entries,
                )
                .with_context(|| format!("cannot read /proc/{pid}/pagemap"))?;
            for (i, entry) in entries.iter().enumerate() {
                if entry & PRESENT != 0 {
                    frame.push((
                        region.start + i as u64 * self.page_size,
                        region.first_page_number + i as u64,
                    ));
                }
            }
        }
        self.frame_pages = frame.len() as u64;
        let wanted = sample_count(self.size, self.frame_pages, self.page_size);
        // Stratified sampling: the frame (in address order) is cut into `wanted` equal strata
        // and one page is drawn at random from each. Memory is written in clusters (a hot
        // structure, a region being swept), and a plain random sample can over- or
        // under-represent a cluster by chance, which then biases every epoch the same way;
        // one page per stratum cannot, and the random pick within a stratum avoids the
        // aliasing of a fixed stride with periodic access patterns. The binomial margin
        // below is conservative for it.
        let mut rng = SplitMix(self.size.seed);
        self.addresses.clear();
        self.page_numbers.clear();
        for stratum in 0..wanted {
            let low = stratum * self.frame_pages / wanted;
            let high = (stratum + 1) * self.frame_pages / wanted;
            let pick = low + ((rng.unit() * (high - low) as f64) as u64).min(high - low - 1);
            let (address, number) = frame[pick as usize];
            self.addresses.push(address);
            self.page_numbers.push(number);
        }
        self.hashes = vec![0; self.addresses.len()];
        self.hash_all(pid, None)
    }

    fn scan(&mut self, source: &mut dyn RegionSource) -> Result<PageSet> {
        let mut dirty = PageSet::new();
        self.hash_all(source.pid(), Some(&mut dirty))?;
        Ok(dirty)
    }

    fn scale(&self) -> f64 {
        if self.addresses.is_empty() {
            1.0
        } else {
            self.frame_pages as f64 / self.addresses.len() as f64
        }
    }

    fn watched_bytes(&self) -> u64 {
        self.frame_pages * self.page_size
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_sizes() {
        let size = SampleSize {
            per_gib: 512,
            min: 100,
            seed: 1,
        };
        // 4 GiB of 4 KiB pages: 2048 samples; tiny frames: the minimum, capped at the frame.
        assert_eq!(sample_count(size, 1 << 20, 4096), 2048);
        assert_eq!(sample_count(size, 1000, 4096), 100);
        assert_eq!(sample_count(size, 50, 4096), 50);
    }

    #[test]
    fn generator_is_uniform_enough() {
        let mut rng = SplitMix(42);
        let mean: f64 = (0..10_000).map(|_| rng.unit()).sum::<f64>() / 10_000.0;
        assert!((mean - 0.5).abs() < 0.02, "{mean}");
    }
}
