//! A zeroed, page-aligned block of memory that the workload dirties page by page.

use std::alloc::{alloc_zeroed, dealloc, Layout};

/// Page-aligned memory of a whole number of pages, every page touched at creation so that
/// later writes dirty resident pages instead of faulting new ones in.
pub struct PageBuffer {
    ptr: *mut u8,
    layout: Option<Layout>,
    pages: usize,
    page_size: usize,
}

impl PageBuffer {
    pub fn new(pages: usize, page_size: usize) -> anyhow::Result<Self> {
        if pages == 0 {
            return Ok(Self {
                ptr: std::ptr::null_mut(),
                layout: None,
                pages,
                page_size,
            });
        }
        let size = pages
            .checked_mul(page_size)
            .ok_or_else(|| anyhow::anyhow!("{pages} pages do not fit in memory"))?;
        let layout = Layout::from_size_align(size, page_size)?;
        // SAFETY: the layout has a non-zero size (pages > 0).
        let ptr = unsafe { alloc_zeroed(layout) };
        if ptr.is_null() {
            anyhow::bail!("cannot allocate {} MiB for the workload", size >> 20);
        }
        let mut buffer = Self {
            ptr,
            layout: Some(layout),
            pages,
            page_size,
        };
        for page in 0..pages {
            buffer.write(page, 1);
        }
        Ok(buffer)
    }

    pub fn pages(&self) -> usize {
        self.pages
    }

    /// Stores `value` at the start of page `page` (wrapping around the buffer).
    #[inline]
    pub fn write(&mut self, page: usize, value: u64) {
        let offset = (page % self.pages) * self.page_size;
        // SAFETY: offset is the start of a page inside the allocation, aligned for u64;
        // a volatile write so the compiler keeps every store the truth depends on.
        unsafe { std::ptr::write_volatile(self.ptr.add(offset).cast::<u64>(), value) };
    }
}

impl Drop for PageBuffer {
    fn drop(&mut self) {
        if let Some(layout) = self.layout {
            // SAFETY: `ptr` came from `alloc_zeroed` with this same layout.
            unsafe { dealloc(self.ptr, layout) };
        }
    }
}
