//! Linux thread affinity: the one place with `unsafe` in pinning. `sched_setaffinity` takes a
//! TID and affects only that thread; the result is read back from
//! /proc/PID/task/TID/status (`Cpus_allowed_list`), which shows what the kernel granted after
//! intersecting with the thread's cpuset cgroup.

use crate::cpulist::CpuList;
use std::io;

/// Setting and reading one thread's affinity; a trait so that tests can interpose (e.g. make
/// a thread vanish between two calls) while still calling the real kernel.
pub trait ThreadAffinity {
    fn set(&self, tid: u32, cpus: &CpuList) -> io::Result<()>;
    fn get(&self, pid: u32, tid: u32) -> io::Result<CpuList>;
}

/// The real thing: `sched_setaffinity(2)` and /proc.
#[derive(Debug, Default, Clone, Copy)]
pub struct Kernel;

/// The most CPUs a fixed `cpu_set_t` holds.
const MAX_CPUS: u32 = libc::CPU_SETSIZE as u32;

impl ThreadAffinity for Kernel {
    fn set(&self, tid: u32, cpus: &CpuList) -> io::Result<()> {
        if let Some(cpu) = cpus.iter().find(|&c| c >= MAX_CPUS) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("CPU {cpu} is beyond the {MAX_CPUS} CPUs this build supports"),
            ));
        }
        if cpus.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "an empty CPU set cannot be an affinity",
            ));
        }
        // SAFETY: cpu_set_t is a plain bitmap for which all-zero bytes are a valid (empty) value.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        for cpu in cpus.iter() {
            // SAFETY: `cpu` < CPU_SETSIZE was checked above, so CPU_SET stays inside `set`.
            unsafe { libc::CPU_SET(cpu as usize, &mut set) };
        }
        let tid = libc::pid_t::try_from(tid)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "thread id out of range"))?;
        // SAFETY: `set` is a valid, initialised cpu_set_t that lives across the call, and the
        // size passed is exactly its size; the kernel only reads it.
        let rc =
            unsafe { libc::sched_setaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), &set) };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    fn get(&self, pid: u32, tid: u32) -> io::Result<CpuList> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/status"))?;
        let line = status
            .lines()
            .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
            .ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidData, "no Cpus_allowed_list in status")
            })?;
        CpuList::parse(line.trim())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))
    }
}

/// The thread ids of a process, from /proc/PID/task.
pub fn threads(pid: u32) -> io::Result<Vec<u32>> {
    let mut tids: Vec<u32> = std::fs::read_dir(format!("/proc/{pid}/task"))?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    tids.sort_unstable();
    Ok(tids)
}

/// When a thread started, in clock ticks since boot: field 22 (`starttime`) of
/// /proc/PID/task/TID/stat. With the PID it names a thread for good: a PID or TID that is
/// reused after the thread exits gets a later start time.
pub fn start_time(pid: u32, tid: u32) -> io::Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/stat"))?;
    parse_start_time(&stat)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no starttime in stat"))
}

/// Field 22 of a `stat` line. The name (field 2) is in parentheses and may itself hold spaces
/// and `)`, so the fields are counted from the last `)`: field 3 is the first after it.
fn parse_start_time(stat: &str) -> Option<u64> {
    let (_, after_name) = stat.rsplit_once(')')?;
    after_name.split_whitespace().nth(22 - 3)?.parse().ok()
}

/// A thread's name (`comm`), or `?` if it is gone.
pub fn comm(pid: u32, tid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/comm"))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "?".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_sets_own_thread() {
        let pid = std::process::id();
        let tid = u32::try_from(unsafe_free_gettid()).unwrap();
        let before = Kernel.get(pid, tid).unwrap();
        assert!(!before.is_empty());
        let one: CpuList = std::iter::once(before.first().unwrap()).collect();
        Kernel.set(tid, &one).unwrap();
        assert_eq!(Kernel.get(pid, tid).unwrap(), one);
        Kernel.set(tid, &before).unwrap();
        assert_eq!(Kernel.get(pid, tid).unwrap(), before);
        assert!(Kernel.set(tid, &CpuList::new()).is_err());
    }

    #[test]
    fn start_time_is_field_22_even_with_odd_names() {
        let line =
            "4242 (a) b (c)) S 1 4242 4242 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 3 0 987654 1000 50";
        assert_eq!(parse_start_time(line), Some(987654));
        assert_eq!(parse_start_time("4242 (x) S 1"), None);
        let pid = std::process::id();
        let first = start_time(pid, pid).unwrap();
        assert!(first > 0);
        assert_eq!(
            start_time(pid, pid).unwrap(),
            first,
            "stable for a living thread"
        );
    }

    fn unsafe_free_gettid() -> i64 {
        // /proc/thread-self names the calling thread without a syscall wrapper.
        let link = std::fs::read_link("/proc/thread-self").unwrap();
        link.file_name().unwrap().to_str().unwrap().parse().unwrap()
    }
}
