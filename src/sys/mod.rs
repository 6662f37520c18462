//! Thin, safe wrappers over the Linux calls the tool makes through libc: system constants
//! (`sysconf`), signals sent and received, CPU clocks, /proc/PID/pagemap and
//! process_vm_readv. Each `unsafe` block says why it is sound, and callers get safe functions.
//!
//! The other `unsafe` code sits with the one job that needs it, never spread through a
//! module: the libxenctrl and libxenstore FFI in `backend/xen/libxenctrl/` and
//! `backend/xen/xenstore.rs`, the AVX2 page hash in `backend/process/pagehash.rs`, the
//! scratch mapping of `backend/process/hash.rs` and the soft-dirty probe page, the QMP
//! socket's peer credentials (`backend/qemu/peer.rs`), thread affinity in
//! `pin/apply/affinity.rs`, and the workload's page buffer and statfs (`workload/`).

pub mod cpuclock;
pub mod kill;
pub mod pagemap;
pub mod signals;
pub mod vmread;

/// The system page size.
pub fn page_size() -> usize {
    sysconf(libc::_SC_PAGESIZE)
        .and_then(|size| usize::try_from(size).ok())
        .unwrap_or(4096)
}

/// Clock ticks per second (`USER_HZ`), the unit of CPU times and start times in
/// /proc/PID/stat.
pub fn clock_ticks_per_second() -> f64 {
    sysconf(libc::_SC_CLK_TCK).map_or(100.0, |ticks| ticks as f64)
}

/// `sysconf(name)` when the system has a positive value for it.
fn sysconf(name: libc::c_int) -> Option<libc::c_long> {
    // SAFETY: sysconf has no preconditions; it only reads a constant of the system.
    let value = unsafe { libc::sysconf(name) };
    (value > 0).then_some(value)
}

#[cfg(test)]
mod tests {
    #[test]
    fn system_constants_are_the_usual_ones() {
        let page = super::page_size();
        assert!(page >= 4096 && page.is_power_of_two(), "{page}");
        let ticks = super::clock_ticks_per_second();
        assert!((10.0..=10_000.0).contains(&ticks), "{ticks}");
    }
}
