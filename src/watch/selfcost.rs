//! What `watch` itself costs the host: its CPU time (all threads) and resident memory, read
//! through the `sys` helpers the backends use.

/// CPU seconds this process has used, all threads.
pub fn cpu_seconds() -> Option<f64> {
    crate::sys::cpuclock::process_cpu_seconds(std::process::id() as i32).ok()
}

/// Resident memory of this process, bytes (/proc/self/statm's second field, in pages).
pub fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * crate::sys::page_size() as u64)
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_our_own_cost() {
        assert!(super::cpu_seconds().is_some_and(|s| s >= 0.0));
        assert!(super::resident_bytes().is_some_and(|b| b > 0));
    }
}
