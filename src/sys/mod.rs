//! Thin, safe wrappers over the Linux interfaces the process backend needs. Every `unsafe`
//! block of the measuring side lives here, each with the reason it is sound.

pub mod cpuclock;
pub mod pagemap;
pub mod signals;
pub mod vmread;

/// The system page size.
pub fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if size > 0 {
        size as usize
    } else {
        4096
    }
}
