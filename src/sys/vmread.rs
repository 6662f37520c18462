//! Reading another process's memory with `process_vm_readv` (interfaces.md §5.4).
//!
//! The call copies straight from the target's pages without stopping it, so what we read can
//! race with the target's own writes; the hash method accepts that (a page written during the
//! scan shows up in this epoch or the next). Transfers can stop early at the first remote range
//! that is no longer mapped; callers learn how much was read and treat the rest as absent.

use std::io;

/// Most iovecs one call takes (IOV_MAX on Linux).
pub const MAX_IOVECS: usize = 1024;

/// Reads `buf.len()` bytes at `address` in process `pid`; returns how many were read, which
/// is less when part of the range is no longer mapped.
pub fn read_range(pid: i32, address: u64, buf: &mut [u8]) -> io::Result<usize> {
    let local = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let remote = libc::iovec {
        iov_base: address as *mut libc::c_void,
        iov_len: buf.len(),
    };
    // SAFETY: `local` describes `buf`, which is valid for writes of its length for the whole
    // call; `remote` is only an address in the other process, which the kernel checks.
    let read = unsafe { libc::process_vm_readv(pid, &local, 1, &remote, 1, 0) };
    if read < 0 {
        let err = io::Error::last_os_error();
        // EFAULT: the range was unmapped since we listed it; not an error for a scanner.
        return match err.raw_os_error() {
            Some(libc::EFAULT) => Ok(0),
            _ => Err(err),
        };
    }
    Ok(read as usize)
}

/// Reads one page per address into consecutive `page_size` slots of `buf`, skipping pages
/// that cannot be read. Returns, per address, whether its page was read.
pub fn read_pages(
    pid: i32,
    addresses: &[u64],
    page_size: usize,
    buf: &mut [u8],
) -> io::Result<Vec<bool>> {
    assert!(buf.len() >= addresses.len() * page_size, "buffer too small");
    let mut ok = vec![false; addresses.len()];
    let mut next = 0;
    while next < addresses.len() {
        let batch = &addresses[next..addresses.len().min(next + MAX_IOVECS)];
        let local: Vec<libc::iovec> = (0..batch.len())
            .map(|i| libc::iovec {
                // SAFETY: offset stays within `buf`, checked by the assert above.
                iov_base: unsafe { buf.as_mut_ptr().add((next + i) * page_size) }.cast(),
                iov_len: page_size,
            })
            .collect();
        let remote: Vec<libc::iovec> = batch
            .iter()
            .map(|&address| libc::iovec {
                iov_base: address as *mut libc::c_void,
                iov_len: page_size,
            })
            .collect();
        // SAFETY: every local iovec points into `buf` (length checked above) and stays valid
        // for the call; remote iovecs are addresses the kernel checks in the other process.
        let read = unsafe {
            libc::process_vm_readv(
                pid,
                local.as_ptr(),
                local.len() as libc::c_ulong,
                remote.as_ptr(),
                remote.len() as libc::c_ulong,
                0,
            )
        };
        let whole_pages = if read < 0 {
            let err = io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::EFAULT) {
                return Err(err);
            }
            0
        } else {
            read as usize / page_size
        };
        for flag in &mut ok[next..next + whole_pages] {
            *flag = true;
        }
        // The page after the last whole one failed (or the batch is done): skip past it.
        next += if whole_pages == batch.len() {
            whole_pages
        } else {
            whole_pages + 1
        };
    }
    Ok(ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_memory_and_skips_holes() {
        let pid = std::process::id() as i32;
        let source: Vec<u8> = (0..8192u32).map(|i| (i % 251) as u8).collect();
        let mut buf = vec![0u8; 8192];
        let read = read_range(pid, source.as_ptr() as u64, &mut buf).unwrap();
        assert_eq!(read, 8192);
        assert_eq!(buf, source);

        let page = 4096;
        let aligned = vec![7u8; 4 * page];
        let base = (aligned.as_ptr() as u64).div_ceil(page as u64) * page as u64;
        // Address 4096 is never mapped in a Linux process.
        let addresses = [base, 4096, base + page as u64];
        let mut out = vec![0u8; 3 * page];
        let ok = read_pages(pid, &addresses, page, &mut out).unwrap();
        assert_eq!(ok, vec![true, false, true]);
        assert!(out[..page].iter().all(|&b| b == 7));
    }

    #[test]
    fn missing_process_is_an_error() {
        let mut buf = vec![0u8; 16];
        let err = read_range(i32::MAX, 0x1000, &mut buf).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ESRCH));
    }
}
