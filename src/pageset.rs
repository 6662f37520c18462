//! A set of page numbers, stored as a sparse bitmap of fixed-size chunks.
//!
//! Backends report each base epoch's dirtied pages as a `PageSet`; the interval windows take
//! unions of consecutive sets and count them. Page numbers are whatever the backend counts in:
//! virtual page numbers of a Linux process (sparse, up to 2^36) or guest frame numbers of a VM
//! (dense from 0). Chunks of 32768 pages (a 4 KiB bitmap each) keep both cases small: a dense
//! 16 GiB guest is 128 chunks, a process with a few scattered mappings a handful.

use std::collections::BTreeMap;

/// Pages per chunk: 2^15, so a chunk's bitmap is 512 words (4 KiB).
const CHUNK_BITS: u32 = 15;
const CHUNK_PAGES: u64 = 1 << CHUNK_BITS;
const CHUNK_WORDS: usize = (CHUNK_PAGES / 64) as usize;

type Chunk = Box<[u64; CHUNK_WORDS]>;

/// A set of page numbers with fast union and count.
#[derive(Clone, Default, Debug, PartialEq, Eq)]
pub struct PageSet {
    chunks: BTreeMap<u64, Chunk>,
}

impl PageSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one page number to the set.
    pub fn insert(&mut self, page: u64) {
        let chunk = self
            .chunks
            .entry(page >> CHUNK_BITS)
            .or_insert_with(|| Box::new([0; CHUNK_WORDS]));
        let bit = page & (CHUNK_PAGES - 1);
        chunk[(bit / 64) as usize] |= 1 << (bit % 64);
    }

    pub fn contains(&self, page: u64) -> bool {
        let bit = page & (CHUNK_PAGES - 1);
        self.chunks
            .get(&(page >> CHUNK_BITS))
            .is_some_and(|chunk| chunk[(bit / 64) as usize] & (1 << (bit % 64)) != 0)
    }

    /// Adds every page of `other` to this set.
    pub fn union_with(&mut self, other: &PageSet) {
        for (index, theirs) in &other.chunks {
            match self.chunks.get_mut(index) {
                Some(ours) => {
                    for (word, their_word) in ours.iter_mut().zip(theirs.iter()) {
                        *word |= *their_word;
                    }
                }
                None => {
                    self.chunks.insert(*index, theirs.clone());
                }
            }
        }
    }

    /// The number of pages in the set.
    pub fn len(&self) -> u64 {
        self.chunks
            .values()
            .map(|chunk| chunk.iter().map(|w| u64::from(w.count_ones())).sum::<u64>())
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Empties the set but keeps its chunks allocated, so a window that is filled and
    /// cleared every few epochs does not allocate on the measuring path.
    pub fn clear(&mut self) {
        for chunk in self.chunks.values_mut() {
            chunk.fill(0);
        }
    }

    /// Bytes of bitmap held, for benchmarks and memory reports.
    pub fn bitmap_bytes(&self) -> usize {
        self.chunks.len() * CHUNK_WORDS * 8
    }

    /// The page numbers in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.chunks.iter().flat_map(|(index, chunk)| {
            chunk.iter().enumerate().flat_map(move |(w, &word)| {
                let base = (index << CHUNK_BITS) + (w as u64) * 64;
                BitIter(word).map(move |bit| base + u64::from(bit))
            })
        })
    }
}

impl FromIterator<u64> for PageSet {
    fn from_iter<I: IntoIterator<Item = u64>>(pages: I) -> Self {
        let mut set = PageSet::new();
        for page in pages {
            set.insert(page);
        }
        set
    }
}

struct BitIter(u64);

impl Iterator for BitIter {
    type Item = u32;
    fn next(&mut self) -> Option<u32> {
        if self.0 == 0 {
            return None;
        }
        let bit = self.0.trailing_zeros();
        self.0 &= self.0 - 1;
        Some(bit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_count_and_iterate() {
        let pages = [0, 1, 63, 64, 32767, 32768, 1 << 35];
        let set: PageSet = pages.iter().copied().collect();
        assert_eq!(set.len(), pages.len() as u64);
        assert_eq!(set.iter().collect::<Vec<_>>(), pages.to_vec());
        assert!(set.contains(32768));
        assert!(!set.contains(2));
    }

    #[test]
    fn union_counts_each_page_once() {
        let mut a: PageSet = (0..100).collect();
        let b: PageSet = (50..150).chain([1 << 30]).collect();
        a.union_with(&b);
        assert_eq!(a.len(), 151);
        a.clear();
        assert!(a.is_empty());
    }
}
