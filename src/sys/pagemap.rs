//! `/proc/PID/pagemap`: one 64-bit entry per virtual page (interfaces.md §5.1).

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

/// Bit 55: the PTE is soft-dirty.
pub const SOFT_DIRTY: u64 = 1 << 55;
/// Bit 62: the page is swapped out.
pub const SWAPPED: u64 = 1 << 62;
/// Bit 63: the page is present in RAM.
pub const PRESENT: u64 = 1 << 63;

/// An open pagemap of one process.
pub struct Pagemap {
    file: File,
}

impl Pagemap {
    pub fn open(pid: i32) -> io::Result<Self> {
        Ok(Self {
            file: File::open(format!("/proc/{pid}/pagemap"))?,
        })
    }

    /// Reads the entries of `count` pages from virtual page number `first_vpn` into `out`
    /// (cleared first). Pages past the end of a mapping read as 0.
    pub fn read(&self, first_vpn: u64, count: usize, out: &mut Vec<u64>) -> io::Result<()> {
        out.clear();
        out.resize(count, 0);
        // SAFETY: a u64 slice viewed as bytes: same memory, alignment 1 <= 8, length × 8.
        let bytes =
            unsafe { std::slice::from_raw_parts_mut(out.as_mut_ptr().cast::<u8>(), count * 8) };
        let mut done = 0;
        while done < bytes.len() {
            let read = self
                .file
                .read_at(&mut bytes[done..], first_vpn * 8 + done as u64)?;
            if read == 0 {
                break;
            }
            done += read;
        }
        Ok(())
    }
}
