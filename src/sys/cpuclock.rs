//! CPU time of another process, all threads, with nanosecond resolution.
//!
//! /proc/PID/stat counts in clock ticks (10 ms at 100 Hz), as coarse as a whole epoch.
//! The process CPU-time clock from `clock_getcpuclockid` covers every thread, dead ones
//! included, to the nanosecond.

use std::io;

/// Seconds of CPU time process `pid` has used so far.
pub fn process_cpu_seconds(pid: i32) -> io::Result<f64> {
    let mut clock: libc::clockid_t = 0;
    // SAFETY: `clock` is a valid place for the call to write the clock id into.
    let rc = unsafe { libc::clock_getcpuclockid(pid, &mut clock) };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid timespec for the call to fill.
    if unsafe { libc::clock_gettime(clock, &mut now) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(now.tv_sec as f64 + now.tv_nsec as f64 * 1e-9)
}

#[cfg(test)]
mod tests {
    #[test]
    fn own_cpu_time_grows() {
        let pid = std::process::id() as i32;
        let before = super::process_cpu_seconds(pid).unwrap();
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        assert!(super::process_cpu_seconds(pid).unwrap() > before);
    }
}
